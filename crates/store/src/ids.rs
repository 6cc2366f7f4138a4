//! Typed ids of tenant data. Their constructors are private to this crate: an [`OrgId`] or a
//! [`WorkspaceId`] exists only because the store read it from an organization or workspace
//! row, or from the credential that authenticated a request. Callers (the server's
//! authorization layer, workers, the admin CLI, tests) obtain them from verifying store calls
//! and cannot make one up.

use std::fmt;

use palisade_domain::vocab::IncidentSource;
use uuid::Uuid;

/// The organization (service provider) a request acts for. Tenant data is reached only
/// through [`crate::Store::tenant`], which takes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OrgId(Uuid);

impl OrgId {
    /// An organization id the store has verified (read from its row or a credential's).
    pub(crate) fn verified(id: Uuid) -> Self {
        OrgId(id)
    }

    pub fn uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A workspace of one organization. It carries its organization, so a tenant handle refuses a
/// workspace of another organization before any SQL runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WorkspaceId {
    org: OrgId,
    id: Uuid,
}

impl WorkspaceId {
    /// A workspace id the store has verified to belong to `org`.
    pub(crate) fn verified(org: OrgId, id: Uuid) -> Self {
        WorkspaceId { org, id }
    }

    pub fn uuid(&self) -> Uuid {
        self.id
    }

    pub fn org(&self) -> OrgId {
        self.org
    }
}

impl fmt::Display for WorkspaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.id.fmt(f)
    }
}

/// An incident's key: its workspace, its source and its id at the source.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IncidentKey {
    pub workspace: WorkspaceId,
    pub source: IncidentSource,
    pub id: String,
}

impl IncidentKey {
    pub fn new(workspace: WorkspaceId, source: IncidentSource, id: impl Into<String>) -> Self {
        IncidentKey {
            workspace,
            source,
            id: id.into(),
        }
    }
}
