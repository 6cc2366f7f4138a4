//! What a request may act on, as types. The authorization layer
//! (`http::registry::authorize`) builds these after the scope and role checks and hands them
//! to handlers as extractors; services take them instead of a principal and raw ids, so a
//! service cannot be called for an organization or workspace nobody checked.

use std::sync::Arc;

use palisade_domain::vocab::IncidentSource;
use palisade_domain::WorkspaceRole;
use palisade_store::{IncidentKey, OrgId, WorkspaceId};

use crate::auth::Principal;

/// An authenticated caller acting for its organization (every non-public route).
#[derive(Debug, Clone)]
pub struct OrgCtx {
    pub principal: Arc<Principal>,
    pub org: OrgId,
}

impl OrgCtx {
    pub(crate) fn new(principal: Arc<Principal>) -> Self {
        OrgCtx {
            org: principal.org,
            principal,
        }
    }
}

/// A caller acting on one workspace of its organization, holding at least the route's role
/// there (routes under `/workspaces/{workspaceId}/…`).
#[derive(Debug, Clone)]
pub struct WorkspaceCtx {
    pub org: OrgId,
    pub workspace: WorkspaceId,
    /// The caller's effective role on the workspace.
    pub role: WorkspaceRole,
    pub principal: Arc<Principal>,
}

impl WorkspaceCtx {
    /// The key of an incident of this workspace.
    pub fn incident(&self, source: IncidentSource, id: &str) -> IncidentKey {
        IncidentKey::new(self.workspace, source, id)
    }
}
