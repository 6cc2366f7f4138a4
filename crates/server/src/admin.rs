//! Administrative operations used by the CLI (`admin bootstrap`, `admin workspace create`,
//! `demo`) and the test suite: they act for an organization without an HTTP principal. (Demo
//! data itself lives in the `palisade-demo` crate.)

use palisade_domain::time::now;
use palisade_domain::{Error, OrgRole, Result};
use palisade_store::{NewCredential, NewServiceAccount, OrgId, WorkspaceId, WorkspaceRow};
use serde::Serialize;
use uuid::Uuid;

use crate::service::OrgService;
use crate::AppState;

/// What `palisade admin bootstrap` prints.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bootstrapped {
    pub organization_id: Uuid,
    pub account_id: Uuid,
    pub client_id: Uuid,
    pub client_secret: String,
}

impl std::fmt::Debug for Bootstrapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bootstrapped")
            .field("organization_id", &self.organization_id)
            .field("account_id", &self.account_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

/// Creates an organization and an `Admin` service account holding every scope.
pub async fn bootstrap(state: &AppState, org_name: &str) -> Result<Bootstrapped> {
    let name = org_name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::field("orgName", "must be 1 to 200 characters"));
    }
    let org = state.store().system().create_organization(name).await?;
    let (client_id, client_secret) = create_service_account(
        state,
        &org.id,
        "Bootstrap administrator",
        OrgRole::Admin,
        &OrgService::all_scopes(),
        &[],
    )
    .await?;
    Ok(Bootstrapped {
        organization_id: org.id.uuid(),
        account_id: org.own_account_id,
        client_id,
        client_secret,
    })
}

/// Creates a service account with one credential; returns (client id, secret).
pub async fn create_service_account(
    state: &AppState,
    org: &OrgId,
    name: &str,
    role: OrgRole,
    scopes: &[palisade_domain::Scope],
    assignments: &[(WorkspaceId, palisade_domain::WorkspaceRole)],
) -> Result<(Uuid, String)> {
    let id = Uuid::new_v4();
    let secret = state.auth().new_secret();
    state
        .store()
        .tenant(org)
        .create_service_account(
            NewServiceAccount {
                id,
                name: name.into(),
                description: None,
                org_role: role,
                assignments: assignments.to_vec(),
            },
            NewCredential {
                id: Uuid::new_v4(),
                secret_hash: secret.hash,
                scopes: scopes.to_vec(),
                expires_at: now()
                    + chrono::Duration::days(state.config().auth.default_credential_days),
            },
        )
        .await?;
    state.auth().invalidate();
    Ok((id, secret.secret))
}

/// Creates a workspace in an organization (under its own account unless one is given).
pub async fn create_workspace(
    state: &AppState,
    org_id: Uuid,
    name: &str,
    account: Option<Uuid>,
) -> Result<WorkspaceRow> {
    let store = state.store();
    let Some(org) = store.system().organization(org_id).await? else {
        return Err(Error::not_found("Organization", org_id));
    };
    let tenant = store.tenant(&org.id);
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::field("name", "must be 1 to 200 characters"));
    }
    let account = account.unwrap_or(org.own_account_id);
    if tenant.get_account(account).await?.is_none() {
        return Err(Error::not_found("Account", account));
    }
    let ws = tenant.create_workspace(account, name, None).await?;
    state.auth().invalidate();
    Ok(ws)
}

/// A user to create when `set_user_password` finds none with the email.
#[derive(Debug, Clone)]
pub struct NewConsoleUser {
    pub display_name: String,
    pub org_role: OrgRole,
}

/// `palisade admin user set-password`: sets the console password (argon2id) of the
/// organization's user with `email`, creating the user first when `create` is given and there
/// is none; ends the user's sessions. Returns the user's id.
pub async fn set_user_password(
    state: &AppState,
    org_id: Uuid,
    email: &str,
    password: &str,
    create: Option<NewConsoleUser>,
) -> Result<Uuid> {
    let store = state.store();
    let Some(org) = store.system().organization(org_id).await? else {
        return Err(Error::not_found("Organization", org_id));
    };
    let tenant = store.tenant(&org.id);
    let hash = crate::auth::user::hash_password(password)?;
    let id = match (tenant.user_by_email(email).await?, create) {
        (Some(id), _) => id,
        (None, Some(new)) => {
            let id = Uuid::new_v4();
            let name = new.display_name.trim();
            if name.is_empty() || name.chars().count() > 200 {
                return Err(Error::field("name", "must be 1 to 200 characters"));
            }
            if !email.contains('@') || email.chars().count() > 320 {
                return Err(Error::field("email", "must be an email address"));
            }
            tenant
                .add_users(
                    &[palisade_store::NewUser {
                        id,
                        display_name: name.to_string(),
                        email: Some(email.trim().to_string()),
                        tenant_id: None,
                        org_role: new.org_role,
                        is_owner: false,
                    }],
                    None,
                )
                .await?;
            id
        }
        (None, None) => {
            return Err(Error::field(
                "email",
                "no user of the organization has this email (add one with --create)",
            ))
        }
    };
    tenant.set_user_password(id, Some(&hash)).await?;
    Ok(id)
}
