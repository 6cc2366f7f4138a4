use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Role on one workspace, least to most privileged.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum WorkspaceRole {
    WorkspaceReader,
    IncidentAnalyst,
    IncidentResponder,
    ContentAdmin,
    Owner,
}

impl WorkspaceRole {
    pub const ALL: [WorkspaceRole; 5] = [
        WorkspaceRole::WorkspaceReader,
        WorkspaceRole::IncidentAnalyst,
        WorkspaceRole::IncidentResponder,
        WorkspaceRole::ContentAdmin,
        WorkspaceRole::Owner,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WorkspaceRole::WorkspaceReader => "WorkspaceReader",
            WorkspaceRole::IncidentAnalyst => "IncidentAnalyst",
            WorkspaceRole::IncidentResponder => "IncidentResponder",
            WorkspaceRole::ContentAdmin => "ContentAdmin",
            WorkspaceRole::Owner => "Owner",
        }
    }

    /// Parses a role name in any letter case, accepting the documented alias `Analyst`.
    pub fn parse(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("Analyst") {
            return Some(WorkspaceRole::IncidentAnalyst);
        }
        Self::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s))
    }
}

/// Organizational role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum OrgRole {
    Admin,
    UserAdmin,
    WorkspaceAdmin,
    AgentAdmin,
    Member,
}

impl OrgRole {
    pub const ALL: [OrgRole; 5] = [
        OrgRole::Admin,
        OrgRole::UserAdmin,
        OrgRole::WorkspaceAdmin,
        OrgRole::AgentAdmin,
        OrgRole::Member,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrgRole::Admin => "Admin",
            OrgRole::UserAdmin => "UserAdmin",
            OrgRole::WorkspaceAdmin => "WorkspaceAdmin",
            OrgRole::AgentAdmin => "AgentAdmin",
            OrgRole::Member => "Member",
        }
    }

    /// Parses a role name in any letter case (`OrganizationAdmin` is accepted for `Admin`).
    pub fn parse(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("OrganizationAdmin") {
            return Some(OrgRole::Admin);
        }
        Self::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s))
    }

    /// The workspace role this organizational role implies on every workspace of the
    /// organization (organization administrators administer every customer workspace).
    pub fn implied_workspace_role(self) -> Option<WorkspaceRole> {
        match self {
            OrgRole::Admin | OrgRole::WorkspaceAdmin => Some(WorkspaceRole::Owner),
            _ => None,
        }
    }
}
