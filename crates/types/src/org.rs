//! Organization-scoped objects: service accounts, credentials, users, accounts, workspaces.
//!
//! Request types keep enum-valued and date fields as strings so that an unknown value is
//! reported as a `VALIDATION_ERROR` naming the field rather than a generic parse failure.

use crate::examples::example;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::enums::{OrgRole, WorkspaceRole};
use crate::spelling::{ScopeName, Spelled};

// ---------------------------------------------------------------- service accounts

/// A workspace role held by a service account.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceAssignment {
    pub workspace_id: Uuid,
    pub workspace_name: String,
    pub role: WorkspaceRole,
}

/// Credential status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum CredentialStatus {
    Active,
    Revoked,
    Expired,
}

/// A service-account credential. Carries the union of the documented shapes
/// (`expiresAt` and `expirationDate` hold the same instant).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Credential {
    pub id: Uuid,
    pub client_secret_prefix: String,
    pub scopes: Vec<String>,
    pub status: CredentialStatus,
    pub expires_at: DateTime<Utc>,
    pub expiration_date: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A newly issued credential; `clientSecret` is shown only in this response.
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("IssuedCredential"))]
pub struct IssuedCredential {
    pub client_id: Uuid,
    pub client_secret: String,
    #[serde(flatten)]
    pub credential: Credential,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("ServiceAccount"))]
pub struct ServiceAccount {
    pub id: Uuid,
    pub account_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub is_active: bool,
    pub organizational_role: OrgRole,
    pub client_secret_prefix: String,
    /// Expiry of the newest active credential, if any.
    pub credential_expiration_date: Option<DateTime<Utc>>,
    pub workspace_assignments: Vec<WorkspaceAssignment>,
    pub credentials: Vec<Credential>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub last_modified_at: DateTime<Utc>,
}

/// Response of `POST /service-accounts`: the account plus its initial credential.
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("CreatedServiceAccount"))]
pub struct CreatedServiceAccount {
    #[serde(flatten)]
    pub service_account: ServiceAccount,
    pub client_id: Uuid,
    pub client_secret: String,
}

impl std::fmt::Debug for IssuedCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCredential")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("credential", &self.credential)
            .finish()
    }
}

impl std::fmt::Debug for CreatedServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedServiceAccount")
            .field("service_account", &self.service_account)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceAssignmentInput {
    #[schemars(with = "Uuid")]
    pub workspace_id: Option<String>,
    #[schemars(with = "Spelled<WorkspaceRole>")]
    pub role: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("CreateServiceAccountRequest"))]
pub struct CreateServiceAccountRequest {
    /// Required, at most 200 characters.
    #[schemars(required)]
    pub name: Option<String>,
    /// At most 1000 characters.
    pub description: Option<String>,
    /// Defaults to `Member`.
    #[schemars(with = "Option<Spelled<OrgRole>>")]
    pub organizational_role: Option<String>,
    pub workspace_assignments: Option<Vec<WorkspaceAssignmentInput>>,
    /// Scopes of the initial credential (at least one).
    #[schemars(with = "Vec<Spelled<ScopeName>>")]
    pub scopes: Option<Vec<String>>,
    /// Expiry of the initial credential; defaults to 365 days, at most 730 days ahead.
    #[schemars(with = "Option<DateTime<Utc>>")]
    pub expiration_date: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("UpdateServiceAccountRequest"))]
pub struct UpdateServiceAccountRequest {
    pub name: Option<String>,
    pub description: Option<String>,
    #[schemars(with = "Option<Spelled<OrgRole>>")]
    pub organizational_role: Option<String>,
    /// When present, replaces every workspace assignment.
    pub workspace_assignments: Option<Vec<WorkspaceAssignmentInput>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("CreateCredentialRequest"))]
pub struct CreateCredentialRequest {
    #[schemars(with = "Option<DateTime<Utc>>")]
    pub expiration_date: Option<String>,
    #[schemars(with = "Option<Vec<Spelled<ScopeName>>>")]
    pub scopes: Option<Vec<String>>,
}

// ---------------------------------------------------------------- users

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignment {
    pub user_id: Uuid,
    pub workspace_id: Uuid,
    pub workspace_name: String,
    /// `Direct` for an explicit assignment, `OrganizationRole` when implied by the org role.
    pub assignment_type: String,
    pub role: WorkspaceRole,
}

/// An organization user (union of the documented list and detail shapes).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("User"))]
pub struct User {
    pub id: Uuid,
    pub display_name: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub profile_picture_url: Option<String>,
    pub email: Option<String>,
    pub username: Option<String>,
    pub tenant_id: Option<String>,
    pub app_role: String,
    pub added_on: DateTime<Utc>,
    pub has_logged_in: bool,
    pub is_service_account: bool,
    pub is_agent_user: bool,
    pub is_owner: bool,
    pub is_active: bool,
    pub organization_role: OrgRole,
    pub organizational_role: OrgRole,
    /// The highest workspace role the user holds, if any.
    pub workspace_role: Option<WorkspaceRole>,
    pub groups: Vec<serde_json::Value>,
    pub role_assignments: Vec<RoleAssignment>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("UserInput"))]
pub struct UserInput {
    pub display_name: Option<String>,
    pub tenant_id: Option<String>,
    /// Required on update; optional on add (generated when absent).
    #[schemars(with = "Option<Uuid>")]
    pub user_id: Option<String>,
    #[schemars(with = "Option<Spelled<OrgRole>>")]
    pub organizational_role: Option<String>,
    pub email: Option<String>,
    pub is_owner: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("AddUsersRequest"))]
pub struct AddUsersRequest {
    #[schemars(required)]
    pub users: Option<Vec<UserInput>>,
    /// Ignored unless `workspaceId` is given: assign the added users to that workspace.
    pub assign_to_workspace: Option<bool>,
    #[schemars(with = "Option<Uuid>")]
    pub workspace_id: Option<String>,
    #[schemars(with = "Option<Spelled<WorkspaceRole>>")]
    pub role: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("UpdateOrgRoleRequest"))]
pub struct UpdateOrgRoleRequest {
    #[schemars(with = "Uuid")]
    pub user_id: Option<String>,
    #[schemars(with = "Spelled<OrgRole>")]
    pub organizational_role: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("WorkspaceUsersRequest"))]
pub struct WorkspaceUsersRequest {
    /// An account id (all its workspaces) or a workspace id.
    #[schemars(with = "Uuid")]
    pub account_id: Option<String>,
    pub query: Option<String>,
    #[schemars(with = "Option<Spelled<WorkspaceRole>>")]
    pub role: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceUser {
    pub id: String,
    pub display_name: String,
    pub email: Option<String>,
    pub workspace_id: Uuid,
    pub role: WorkspaceRole,
    pub user_id: Uuid,
}

/// Body of `POST /users/workspace`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("AssignUsersToWorkspaceRequest"))]
pub struct AssignUsersToWorkspaceRequest {
    #[schemars(with = "Uuid")]
    pub workspace_id: Option<String>,
    #[schemars(with = "Spelled<WorkspaceRole>")]
    pub role: Option<String>,
    #[schemars(with = "Vec<Uuid>")]
    pub user_ids: Option<Vec<String>>,
}

/// Body of `PUT /users/profile`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("UpdateProfileRequest"))]
pub struct UpdateProfileRequest {
    pub display_name: Option<String>,
    pub description: Option<String>,
}

// ---------------------------------------------------------------- accounts and workspaces

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("Account"))]
pub struct Account {
    pub id: Uuid,
    pub name: String,
    /// True for the organization's own (service provider) account.
    pub is_service_provider: bool,
    pub workspace_count: i64,
    pub created_at: DateTime<Utc>,
    pub last_modified_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("CreateAccountRequest"))]
pub struct CreateAccountRequest {
    #[schemars(required)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("Workspace"))]
pub struct Workspace {
    pub id: Uuid,
    pub name: String,
    pub account_id: Uuid,
    pub account_name: String,
    pub created_at: DateTime<Utc>,
    pub last_modified_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("WorkspaceRequest"))]
pub struct WorkspaceRequest {
    #[schemars(required)]
    pub name: Option<String>,
    /// Defaults to the organization's own account.
    #[schemars(with = "Option<Uuid>")]
    pub account_id: Option<String>,
}

/// `GET /api/v2/ping`: the unauthenticated liveness answer used as the benchmark baseline.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Pong {
    pub pong: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug() {
        let now = chrono::Utc::now();
        let credential = Credential {
            id: Uuid::nil(),
            client_secret_prefix: "cf_sa_".into(),
            scopes: vec![],
            status: CredentialStatus::Active,
            expires_at: now,
            expiration_date: now,
            last_used_at: None,
            created_at: now,
            revoked_at: None,
        };
        let issued = IssuedCredential {
            client_id: Uuid::nil(),
            client_secret: "cf_sa_TOPSECRET".into(),
            credential,
        };
        let dbg = format!("{issued:?}");
        assert!(!dbg.contains("TOPSECRET"), "{dbg}");
        assert!(dbg.contains("<redacted>"));
    }
}
