use std::fmt;

use uuid::Uuid;

/// The organization (service provider) a request acts for. Every store call takes one, so a
/// row of another organization cannot be reached by construction.
///
/// An `OrgId` is only ever made from an authenticated principal or by the admin CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OrgId(Uuid);

impl OrgId {
    pub fn new(id: Uuid) -> Self {
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
