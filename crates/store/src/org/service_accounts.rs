//! Service accounts, their credentials, and the credential lookup that authenticates a
//! request.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use palisade_domain::vocab::{OrgRole, WorkspaceRole};
use palisade_domain::{Error, Result, Scope};
use uuid::Uuid;

use super::{insert_role, PrincipalKind, RoleGrant};
use crate::db::{now_micros, sql, Tx};
use crate::{OrgId, System, Tenant, WorkspaceId};

/// A service account to create, under the organization's own account.
pub struct NewServiceAccount {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub org_role: OrgRole,
    pub assignments: Vec<(WorkspaceId, WorkspaceRole)>,
}

/// A credential to store. Only the keyed hash of the secret is ever persisted.
pub struct NewCredential {
    pub id: Uuid,
    pub secret_hash: String,
    pub scopes: Vec<Scope>,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for NewCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewCredential")
            .field("id", &self.id)
            .field("secret_hash", &"<redacted>")
            .field("scopes", &self.scopes)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[derive(Default)]
pub struct ServiceAccountChanges {
    pub name: Option<String>,
    /// `Some(None)` clears the description.
    pub description: Option<Option<String>>,
    pub org_role: Option<OrgRole>,
    pub assignments: Option<Vec<(WorkspaceId, WorkspaceRole)>>,
}

/// A stored credential (never its secret or hash).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct CredentialRow {
    #[sqlx(try_from = "String")]
    pub id: Uuid,
    #[sqlx(try_from = "String")]
    pub service_account_id: Uuid,
    #[sqlx(try_from = "crate::db::row::JsonText")]
    pub scopes: Vec<Scope>,
    #[sqlx(try_from = "crate::db::row::Micros")]
    pub expires_at: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::row::NullMicros")]
    pub revoked_at: Option<DateTime<Utc>>,
    #[sqlx(try_from = "crate::db::row::NullMicros")]
    pub last_used_at: Option<DateTime<Utc>>,
    #[sqlx(try_from = "crate::db::row::Micros")]
    pub created_at: DateTime<Utc>,
}

/// A service account with its direct workspace roles and its credentials (oldest first).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ServiceAccountRow {
    #[sqlx(try_from = "String")]
    pub id: Uuid,
    #[sqlx(try_from = "String")]
    pub account_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    #[sqlx(try_from = "crate::db::row::Flag")]
    pub is_active: bool,
    #[sqlx(try_from = "crate::db::row::Vocab")]
    pub organizational_role: OrgRole,
    #[sqlx(try_from = "crate::db::row::NullMicros")]
    pub last_used_at: Option<DateTime<Utc>>,
    #[sqlx(try_from = "crate::db::row::Micros")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::row::Micros")]
    pub last_modified_at: DateTime<Utc>,
    #[sqlx(skip)]
    pub roles: Vec<RoleGrant>,
    #[sqlx(skip)]
    pub credentials: Vec<CredentialRow>,
}

/// What authentication needs to know about a credential, found by its secret hash. `Debug`
/// leaves the hash out.
#[derive(Clone)]
pub struct AuthRecord {
    pub org: OrgId,
    pub service_account_id: Uuid,
    pub credential_id: Uuid,
    pub secret_hash: String,
    pub scopes: Vec<Scope>,
    pub expires_at: DateTime<Utc>,
    pub revoked: bool,
    pub active: bool,
    pub org_role: OrgRole,
    pub name: String,
    pub description: Option<String>,
    pub account_id: Uuid,
    pub created_at: DateTime<Utc>,
    /// Direct workspace roles: (workspace, workspace name, role).
    pub workspace_roles: Vec<(WorkspaceId, String, WorkspaceRole)>,
    /// Every workspace of the organization, when the organizational role implies a role on
    /// all of them (empty otherwise).
    pub org_workspaces: Vec<WorkspaceId>,
}

impl std::fmt::Debug for AuthRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthRecord")
            .field("org", &self.org)
            .field("service_account_id", &self.service_account_id)
            .field("credential_id", &self.credential_id)
            .field("secret_hash", &"<redacted>")
            .field("scopes", &self.scopes)
            .field("expires_at", &self.expires_at)
            .field("revoked", &self.revoked)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

/// A credential row joined with its service account, as the lookup reads it.
#[derive(sqlx::FromRow)]
struct CredentialLookup {
    #[sqlx(try_from = "String")]
    id: Uuid,
    #[sqlx(try_from = "String")]
    organization_id: Uuid,
    #[sqlx(try_from = "String")]
    service_account_id: Uuid,
    secret_hash: String,
    #[sqlx(try_from = "crate::db::row::JsonText")]
    scopes: Vec<Scope>,
    #[sqlx(try_from = "crate::db::row::Micros")]
    expires_at: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::row::NullMicros")]
    revoked_at: Option<DateTime<Utc>>,
    #[sqlx(try_from = "crate::db::row::Flag")]
    is_active: bool,
    #[sqlx(try_from = "crate::db::row::Vocab")]
    organizational_role: OrgRole,
    name: String,
    description: Option<String>,
    #[sqlx(try_from = "String")]
    account_id: Uuid,
    #[sqlx(try_from = "crate::db::row::Micros")]
    account_created_at: DateTime<Utc>,
}

const SA_COLS: &str = "id, account_id, name, description, is_active, organizational_role, \
                       last_used_at, created_at, last_modified_at";
const CRED_COLS: &str =
    "id, service_account_id, scopes, expires_at, revoked_at, last_used_at, created_at";

fn scopes_json(scopes: &[Scope]) -> String {
    serde_json::to_string(&scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>())
        .expect("a list of strings serializes")
}

async fn insert_credential(
    tx: &mut Tx,
    org: &OrgId,
    account: Uuid,
    c: &NewCredential,
    t: i64,
) -> Result<()> {
    sql(
        "INSERT INTO credentials (id, organization_id, service_account_id, secret_hash, scopes, \
         expires_at, revoked_at, last_used_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL, $7)",
        (c.id, org, account, &c.secret_hash, scopes_json(&c.scopes), c.expires_at, t),
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Assigns workspace roles to a service account, each workspace the organization's own.
async fn assign(
    tenant: &Tenant<'_>,
    tx: &mut Tx,
    sa: Uuid,
    assignments: &[(WorkspaceId, WorkspaceRole)],
    t: i64,
) -> Result<()> {
    for (ws, role) in assignments {
        let ws = tenant.own(ws)?;
        insert_role(
            tx,
            &tenant.org,
            ws,
            PrincipalKind::ServiceAccount,
            sa,
            *role,
            t,
        )
        .await?;
    }
    Ok(())
}

impl Tenant<'_> {
    /// Credentials of one service account, or of all, by service account.
    async fn credentials_of(
        &self,
        account: Option<Uuid>,
    ) -> Result<HashMap<Uuid, Vec<CredentialRow>>> {
        let rows: Vec<CredentialRow> = match account {
            Some(id) => {
                sql(
                    &format!(
                        "SELECT {CRED_COLS} FROM credentials WHERE organization_id = $1 \
                     AND service_account_id = $2 ORDER BY created_at, id"
                    ),
                    (self.org, id),
                )
                .fetch_all(self.store.read())
                .await?
            }
            None => {
                sql(
                    &format!(
                        "SELECT {CRED_COLS} FROM credentials WHERE organization_id = $1 \
                     ORDER BY created_at, id"
                    ),
                    (self.org,),
                )
                .fetch_all(self.store.read())
                .await?
            }
        };
        let mut out: HashMap<Uuid, Vec<CredentialRow>> = HashMap::new();
        for c in rows {
            out.entry(c.service_account_id).or_default().push(c);
        }
        Ok(out)
    }

    pub async fn list_service_accounts(&self) -> Result<Vec<ServiceAccountRow>> {
        let mut rows: Vec<ServiceAccountRow> = sql(
            &format!(
                "SELECT {SA_COLS} FROM service_accounts WHERE organization_id = $1 ORDER BY created_at, id"
            ),
            (self.org,),
        )
        .fetch_all(self.store.read())
        .await?;
        let mut roles = self.all_roles(PrincipalKind::ServiceAccount).await?;
        let mut creds = self.credentials_of(None).await?;
        for r in &mut rows {
            r.roles = roles.remove(&r.id).unwrap_or_default();
            r.credentials = creds.remove(&r.id).unwrap_or_default();
        }
        Ok(rows)
    }

    pub async fn get_service_account(&self, id: Uuid) -> Result<Option<ServiceAccountRow>> {
        let row: Option<ServiceAccountRow> = sql(
            &format!(
                "SELECT {SA_COLS} FROM service_accounts WHERE organization_id = $1 AND id = $2"
            ),
            (self.org, id),
        )
        .fetch_optional(self.store.read())
        .await?;
        let Some(mut row) = row else { return Ok(None) };
        row.roles = self.principal_roles(id).await?;
        row.credentials = self
            .credentials_of(Some(id))
            .await?
            .remove(&id)
            .unwrap_or_default();
        Ok(Some(row))
    }

    /// Creates a service account with its workspace roles and its first credential, in one
    /// transaction.
    pub async fn create_service_account(
        &self,
        sa: NewServiceAccount,
        credential: NewCredential,
    ) -> Result<ServiceAccountRow> {
        let t = now_micros();
        let mut tx = self.store.begin_write().await?;
        sql(
            "INSERT INTO service_accounts (id, organization_id, account_id, name, description, \
             is_active, organizational_role, last_used_at, created_at, last_modified_at) \
             SELECT $1, $2, o.own_account_id, $3, $4, 1, $5, NULL, $6, $6 FROM organizations o WHERE o.id = $2",
            (sa.id, self.org, &sa.name, &sa.description, sa.org_role, t),
        )
        .execute(&mut *tx)
        .await?;
        assign(self, &mut tx, sa.id, &sa.assignments, t).await?;
        insert_credential(&mut tx, &self.org, sa.id, &credential, t).await?;
        tx.commit().await?;
        self.get_service_account(sa.id)
            .await?
            .ok_or_else(|| Error::internal("service account vanished after insert"))
    }

    pub async fn update_service_account(
        &self,
        id: Uuid,
        changes: ServiceAccountChanges,
    ) -> Result<Option<ServiceAccountRow>> {
        let t = now_micros();
        let key = (self.org, id);
        let mut tx = self.store.begin_write().await?;
        let guard = self.admin_guard(&mut tx).await?;
        let exists = sql(
            "UPDATE service_accounts SET last_modified_at = $3 WHERE organization_id = $1 AND id = $2",
            (self.org, id, t),
        )
        .execute(&mut *tx)
        .await?;
        if exists == 0 {
            return Ok(None);
        }
        if let Some(name) = &changes.name {
            sql(
                "UPDATE service_accounts SET name = $3 WHERE organization_id = $1 AND id = $2",
                (key.0, key.1, name),
            )
            .execute(&mut *tx)
            .await?;
        }
        if let Some(description) = &changes.description {
            sql(
                "UPDATE service_accounts SET description = $3 WHERE organization_id = $1 AND id = $2",
                (key.0, key.1, description),
            )
            .execute(&mut *tx)
            .await?;
        }
        if let Some(role) = changes.org_role {
            sql(
                "UPDATE service_accounts SET organizational_role = $3 WHERE organization_id = $1 AND id = $2",
                (key.0, key.1, role),
            )
            .execute(&mut *tx)
            .await?;
        }
        if let Some(assignments) = &changes.assignments {
            sql(
                "DELETE FROM workspace_roles WHERE organization_id = $1 AND principal_id = $2",
                key,
            )
            .execute(&mut *tx)
            .await?;
            assign(self, &mut tx, id, assignments, t).await?;
        }
        guard.check(&mut tx, &self.org).await?;
        tx.commit().await?;
        self.get_service_account(id).await
    }

    pub async fn set_service_account_active(
        &self,
        id: Uuid,
        active: bool,
    ) -> Result<Option<ServiceAccountRow>> {
        let mut tx = self.store.begin_write().await?;
        let guard = self.admin_guard(&mut tx).await?;
        let updated = sql(
            "UPDATE service_accounts SET is_active = $3, last_modified_at = $4 \
             WHERE organization_id = $1 AND id = $2",
            (self.org, id, active, now_micros()),
        )
        .execute(&mut *tx)
        .await?;
        if updated == 0 {
            return Ok(None);
        }
        guard.check(&mut tx, &self.org).await?;
        tx.commit().await?;
        self.get_service_account(id).await
    }

    /// Deletes a service account, its credentials and its roles; false if there is no such
    /// account. `Conflict` when it is the organization's last active Admin.
    pub async fn delete_service_account(&self, id: Uuid) -> Result<bool> {
        let mut tx = self.store.begin_write().await?;
        let guard = self.admin_guard(&mut tx).await?;
        let mut removed = 0;
        for text in [
            "DELETE FROM workspace_roles WHERE organization_id = $1 AND principal_id = $2",
            "DELETE FROM credentials WHERE organization_id = $1 AND service_account_id = $2",
            "DELETE FROM service_accounts WHERE organization_id = $1 AND id = $2",
        ] {
            removed = sql(text, (self.org, id)).execute(&mut *tx).await?;
        }
        guard.check(&mut tx, &self.org).await?;
        tx.commit().await?;
        Ok(removed > 0)
    }

    /// Adds a credential to a service account; `None` when there is no such account.
    pub async fn create_credential(
        &self,
        account: Uuid,
        credential: NewCredential,
    ) -> Result<Option<CredentialRow>> {
        let t = now_micros();
        let mut tx = self.store.begin_write().await?;
        let exists = sql(
            "UPDATE service_accounts SET last_modified_at = $3 WHERE organization_id = $1 AND id = $2",
            (self.org, account, t),
        )
        .execute(&mut *tx)
        .await?;
        if exists == 0 {
            return Ok(None);
        }
        insert_credential(&mut tx, &self.org, account, &credential, t).await?;
        tx.commit().await?;
        self.credential(account, credential.id).await
    }

    pub async fn credential(&self, account: Uuid, id: Uuid) -> Result<Option<CredentialRow>> {
        sql(
            &format!(
                "SELECT {CRED_COLS} FROM credentials WHERE organization_id = $1 \
                 AND service_account_id = $2 AND id = $3"
            ),
            (self.org, account, id),
        )
        .fetch_optional(self.store.read())
        .await
    }

    /// Revokes a credential (idempotent).
    pub async fn revoke_credential(
        &self,
        account: Uuid,
        id: Uuid,
    ) -> Result<Option<CredentialRow>> {
        let mut tx = self.store.begin_write().await?;
        let guard = self.admin_guard(&mut tx).await?;
        sql(
            "UPDATE credentials SET revoked_at = $4 WHERE organization_id = $1 \
             AND service_account_id = $2 AND id = $3 AND revoked_at IS NULL",
            (self.org, account, id, now_micros()),
        )
        .execute(&mut *tx)
        .await?;
        guard.check(&mut tx, &self.org).await?;
        tx.commit().await?;
        self.credential(account, id).await
    }
}

impl System<'_> {
    /// The authentication entry point: finds a credential by the keyed hash of its secret.
    /// Not scoped by organization, because it is how the organization of a request is
    /// learned.
    pub async fn find_credential(&self, secret_hash: &str) -> Result<Option<AuthRecord>> {
        let row: Option<CredentialLookup> = sql(
            "SELECT c.id, c.organization_id, c.service_account_id, c.secret_hash, c.scopes, \
             c.expires_at, c.revoked_at, s.is_active, s.organizational_role, s.name, \
             s.description, s.account_id, s.created_at AS account_created_at \
             FROM credentials c JOIN service_accounts s ON s.id = c.service_account_id \
             WHERE c.secret_hash = $1",
            (secret_hash,),
        )
        .fetch_optional(self.store.read())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let org = OrgId::verified(row.organization_id);
        let tenant = self.store.tenant(&org);
        let workspace_roles = tenant
            .principal_roles(row.service_account_id)
            .await?
            .into_iter()
            .map(|r| {
                (
                    WorkspaceId::verified(org, r.workspace_id),
                    r.workspace_name,
                    r.role,
                )
            })
            .collect();
        let org_workspaces = if row.organizational_role.implied_workspace_role().is_some() {
            tenant
                .workspace_names()
                .await?
                .into_keys()
                .map(|ws| WorkspaceId::verified(org, ws))
                .collect()
        } else {
            Vec::new()
        };
        Ok(Some(AuthRecord {
            org,
            service_account_id: row.service_account_id,
            credential_id: row.id,
            secret_hash: row.secret_hash,
            scopes: row.scopes,
            expires_at: row.expires_at,
            revoked: row.revoked_at.is_some(),
            active: row.is_active,
            org_role: row.organizational_role,
            name: row.name,
            description: row.description,
            account_id: row.account_id,
            created_at: row.account_created_at,
            workspace_roles,
            org_workspaces,
        }))
    }

    /// Writes batched `lastUsedAt` values: (organization, account, credential, instant).
    pub async fn record_last_used(
        &self,
        entries: &[(OrgId, Uuid, Uuid, DateTime<Utc>)],
    ) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut tx = self.store.begin_write().await?;
        for (org, sa, cred, at) in entries {
            sql(
                "UPDATE credentials SET last_used_at = $4 WHERE organization_id = $1 \
                 AND service_account_id = $2 AND id = $3 AND (last_used_at IS NULL OR last_used_at < $4)",
                (org, *sa, *cred, *at),
            )
            .execute(&mut *tx)
            .await?;
            sql(
                "UPDATE service_accounts SET last_used_at = $3 WHERE organization_id = $1 \
                 AND id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
                (org, *sa, *at),
            )
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }
}
