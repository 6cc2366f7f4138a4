//! The organization's rows as the API shows them.

use chrono::{DateTime, Utc};
use palisade_store::{
    AccountRow, CredentialRow, RoleGrant, ServiceAccountRow, UserRow, WorkspaceRow,
    WorkspaceUserRow,
};
use palisade_types::org::{
    Account, Credential, CredentialStatus, RoleAssignment, ServiceAccount, User, Workspace,
    WorkspaceAssignment, WorkspaceUser,
};
use uuid::Uuid;

use crate::auth::SECRET_PREFIX;

pub fn account(r: AccountRow) -> Account {
    Account {
        id: r.id,
        name: r.name,
        is_service_provider: r.is_service_provider,
        workspace_count: r.workspace_count,
        created_at: r.created_at,
        last_modified_at: r.last_modified_at,
    }
}

pub fn workspace(r: WorkspaceRow) -> Workspace {
    Workspace {
        id: r.id.uuid(),
        name: r.name,
        account_id: r.account_id,
        account_name: r.account_name,
        created_at: r.created_at,
        last_modified_at: r.last_modified_at,
    }
}

/// A credential as of `at` (which decides whether it has expired).
pub fn credential(c: CredentialRow, at: DateTime<Utc>) -> Credential {
    let status = if c.revoked_at.is_some() {
        CredentialStatus::Revoked
    } else if c.expires_at <= at {
        CredentialStatus::Expired
    } else {
        CredentialStatus::Active
    };
    Credential {
        id: c.id,
        client_secret_prefix: SECRET_PREFIX.into(),
        scopes: c.scopes.iter().map(|s| s.as_str().to_string()).collect(),
        status,
        expires_at: c.expires_at,
        expiration_date: c.expires_at,
        last_used_at: c.last_used_at,
        created_at: c.created_at,
        revoked_at: c.revoked_at,
    }
}

/// A service account as of `at`.
pub fn service_account(r: ServiceAccountRow, at: DateTime<Utc>) -> ServiceAccount {
    let credentials: Vec<Credential> = r
        .credentials
        .into_iter()
        .map(|c| credential(c, at))
        .collect();
    let credential_expiration_date = credentials
        .iter()
        .filter(|c| c.status == CredentialStatus::Active)
        .map(|c| c.expires_at)
        .max();
    ServiceAccount {
        id: r.id,
        account_id: r.account_id,
        name: r.name,
        description: r.description,
        is_active: r.is_active,
        organizational_role: r.organizational_role,
        client_secret_prefix: SECRET_PREFIX.into(),
        credential_expiration_date,
        workspace_assignments: r
            .roles
            .into_iter()
            .map(|g| WorkspaceAssignment {
                workspace_id: g.workspace_id,
                workspace_name: g.workspace_name,
                role: g.role,
            })
            .collect(),
        credentials,
        last_used_at: r.last_used_at,
        created_at: r.created_at,
        last_modified_at: r.last_modified_at,
    }
}

/// The role assignments of a user or service account.
pub fn role_assignments(principal: Uuid, roles: Vec<RoleGrant>) -> Vec<RoleAssignment> {
    roles
        .into_iter()
        .map(|g| RoleAssignment {
            user_id: principal,
            workspace_id: g.workspace_id,
            workspace_name: g.workspace_name,
            assignment_type: "Direct".into(),
            role: g.role,
        })
        .collect()
}

pub fn user(r: UserRow) -> User {
    let role = r.organizational_role;
    let mut parts = r.display_name.splitn(2, ' ');
    let first_name = parts.next().map(str::to_string);
    let last_name = parts.next().map(str::to_string);
    let workspace_role = r
        .roles
        .iter()
        .map(|g| g.role)
        .chain(role.implied_workspace_role())
        .max();
    User {
        id: r.id,
        display_name: r.display_name,
        first_name,
        last_name,
        profile_picture_url: None,
        username: r.email.clone(),
        email: r.email,
        tenant_id: r.tenant_id,
        app_role: "DefaultAccess".into(),
        added_on: r.added_on,
        has_logged_in: false,
        is_service_account: false,
        is_agent_user: false,
        is_owner: r.is_owner,
        is_active: r.is_active,
        organization_role: role,
        organizational_role: role,
        workspace_role,
        groups: Vec::new(),
        role_assignments: role_assignments(r.id, r.roles),
    }
}

pub fn workspace_user(r: WorkspaceUserRow) -> WorkspaceUser {
    WorkspaceUser {
        id: format!("{}:{}", r.workspace_id, r.user_id),
        display_name: r.display_name,
        email: r.email,
        workspace_id: r.workspace_id,
        role: r.role,
        user_id: r.user_id,
    }
}
