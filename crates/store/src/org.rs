//! Organizations, accounts, workspaces, service accounts, credentials, users and workspace
//! roles.

use std::collections::HashMap;

use crate::{OrgId, WorkspaceId};
use chrono::{DateTime, Utc};
use palisade_domain::time::{now, to_micros};
use palisade_domain::{Error, OrgRole, Result, Scope, WorkspaceRole};
use palisade_types::org::{
    Account, Credential, CredentialStatus, RoleAssignment, ServiceAccount, User, Workspace,
    WorkspaceAssignment, WorkspaceUser,
};
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::db::{
    db_err, get_bool, get_i64, get_opt_str, get_opt_time, get_str, get_time, get_uuid,
};
use crate::Store;

/// Prefix every client secret carries (shown as `clientSecretPrefix`).
pub const SECRET_PREFIX: &str = "cf_sa_";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    ServiceAccount,
    User,
}

impl PrincipalKind {
    fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::ServiceAccount => "sa",
            PrincipalKind::User => "user",
        }
    }
}

pub struct NewServiceAccount {
    pub id: Uuid,
    pub account_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub org_role: OrgRole,
    pub assignments: Vec<(Uuid, WorkspaceRole)>,
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
    pub assignments: Option<Vec<(Uuid, WorkspaceRole)>>,
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

pub struct NewUser {
    pub id: Uuid,
    pub display_name: String,
    pub email: Option<String>,
    pub tenant_id: Option<String>,
    pub org_role: OrgRole,
    pub is_owner: bool,
}

#[derive(Default)]
pub struct UserChanges {
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub tenant_id: Option<String>,
    pub org_role: Option<OrgRole>,
    pub is_owner: Option<bool>,
}

fn parse_scopes(json: &str) -> Vec<Scope> {
    serde_json::from_str::<Vec<String>>(json)
        .unwrap_or_default()
        .iter()
        .filter_map(|s| Scope::parse(s))
        .collect()
}

fn scopes_json(scopes: &[Scope]) -> String {
    serde_json::to_string(&scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>())
        .expect("string list serializes")
}

fn org_role(s: &str) -> OrgRole {
    OrgRole::parse(s).unwrap_or(OrgRole::Member)
}

fn ws_role(s: &str) -> WorkspaceRole {
    WorkspaceRole::parse(s).unwrap_or(WorkspaceRole::WorkspaceReader)
}

fn b(v: bool) -> i64 {
    v as i64
}

fn credential_from_row(row: &AnyRow, at: DateTime<Utc>) -> Result<(Uuid, Credential)> {
    let expires = get_time(row, "expires_at")?;
    let revoked = get_opt_time(row, "revoked_at")?;
    let status = if revoked.is_some() {
        CredentialStatus::Revoked
    } else if expires <= at {
        CredentialStatus::Expired
    } else {
        CredentialStatus::Active
    };
    Ok((
        get_uuid(row, "service_account_id")?,
        Credential {
            id: get_uuid(row, "id")?,
            client_secret_prefix: SECRET_PREFIX.into(),
            scopes: parse_scopes(&get_str(row, "scopes")?)
                .iter()
                .map(|s| s.as_str().to_string())
                .collect(),
            status,
            expires_at: expires,
            expiration_date: expires,
            last_used_at: get_opt_time(row, "last_used_at")?,
            created_at: get_time(row, "created_at")?,
            revoked_at: revoked,
        },
    ))
}

const SA_COLS: &str = "id, account_id, name, description, is_active, organizational_role, \
                       last_used_at, created_at, last_modified_at";
const CRED_COLS: &str =
    "id, service_account_id, scopes, expires_at, revoked_at, last_used_at, created_at";
const USER_COLS: &str = "id, display_name, email, tenant_id, organizational_role, is_owner, \
                         is_active, added_on, last_modified_at";

impl Store {
    // ------------------------------------------------------------ organizations

    /// Creates an organization and its own (service provider) account.
    pub async fn create_organization(&self, name: &str) -> Result<(OrgId, Uuid)> {
        let org = Uuid::new_v4();
        let account = Uuid::new_v4();
        let t = to_micros(now());
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO organizations (id, name, own_account_id, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(org.to_string())
        .bind(name)
        .bind(account.to_string())
        .bind(t)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx::query(
            "INSERT INTO accounts (id, organization_id, name, is_service_provider, created_at, last_modified_at) \
             VALUES ($1, $2, $3, 1, $4, $4)",
        )
        .bind(account.to_string())
        .bind(org.to_string())
        .bind(name)
        .bind(t)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await?;
        Ok((OrgId::verified(org), account))
    }

    /// Looks an organization up by id (admin CLI entry point).
    pub async fn organization(&self, id: Uuid) -> Result<Option<(OrgId, String, Uuid)>> {
        let row = sqlx::query("SELECT id, name, own_account_id FROM organizations WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| {
            Ok((
                OrgId::verified(get_uuid(&r, "id")?),
                get_str(&r, "name")?,
                get_uuid(&r, "own_account_id")?,
            ))
        })
        .transpose()
    }

    pub async fn own_account_id(&self, org: &OrgId) -> Result<Uuid> {
        let row = sqlx::query("SELECT own_account_id FROM organizations WHERE id = $1")
            .bind(org.to_string())
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        get_uuid(&row, "own_account_id")
    }

    // ------------------------------------------------------------ accounts

    fn account_from_row(row: &AnyRow) -> Result<Account> {
        Ok(Account {
            id: get_uuid(row, "id")?,
            name: get_str(row, "name")?,
            is_service_provider: get_bool(row, "is_service_provider")?,
            workspace_count: get_i64(row, "workspace_count")?,
            created_at: get_time(row, "created_at")?,
            last_modified_at: get_time(row, "last_modified_at")?,
        })
    }

    const ACCOUNT_SELECT: &'static str =
        "SELECT a.id, a.name, a.is_service_provider, a.created_at, a.last_modified_at, \
         (SELECT COUNT(*) FROM workspaces w WHERE w.account_id = a.id) AS workspace_count \
         FROM accounts a WHERE a.organization_id = $1";

    pub async fn list_accounts(&self, org: &OrgId) -> Result<Vec<Account>> {
        let sql = format!("{} ORDER BY a.created_at, a.id", Self::ACCOUNT_SELECT);
        let rows = sqlx::query(&sql)
            .bind(org.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(Self::account_from_row).collect()
    }

    pub async fn get_account(&self, org: &OrgId, id: Uuid) -> Result<Option<Account>> {
        let sql = format!("{} AND a.id = $2", Self::ACCOUNT_SELECT);
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(Self::account_from_row).transpose()
    }

    pub async fn create_account(&self, org: &OrgId, name: &str) -> Result<Account> {
        let id = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO accounts (id, organization_id, name, is_service_provider, created_at, last_modified_at) \
             VALUES ($1, $2, $3, 0, $4, $4)",
        )
        .bind(id.to_string())
        .bind(org.to_string())
        .bind(name)
        .bind(to_micros(now()))
        .execute(self.writer())
        .await
        .map_err(db_err)?;
        self.get_account(org, id)
            .await?
            .ok_or_else(|| Error::internal("account vanished after insert"))
    }

    // ------------------------------------------------------------ workspaces

    fn workspace_from_row(row: &AnyRow) -> Result<Workspace> {
        Ok(Workspace {
            id: get_uuid(row, "id")?,
            name: get_str(row, "name")?,
            account_id: get_uuid(row, "account_id")?,
            account_name: get_str(row, "account_name")?,
            created_at: get_time(row, "created_at")?,
            last_modified_at: get_time(row, "last_modified_at")?,
        })
    }

    const WORKSPACE_SELECT: &'static str =
        "SELECT w.id, w.name, w.account_id, a.name AS account_name, w.created_at, w.last_modified_at \
         FROM workspaces w JOIN accounts a ON a.id = w.account_id WHERE w.organization_id = $1";

    /// Every workspace of the organization, oldest first.
    pub async fn list_workspaces(&self, org: &OrgId) -> Result<Vec<Workspace>> {
        let sql = format!("{} ORDER BY w.created_at, w.id", Self::WORKSPACE_SELECT);
        let rows = sqlx::query(&sql)
            .bind(org.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(Self::workspace_from_row).collect()
    }

    pub async fn get_workspace(&self, org: &OrgId, id: Uuid) -> Result<Option<Workspace>> {
        let sql = format!("{} AND w.id = $2", Self::WORKSPACE_SELECT);
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(Self::workspace_from_row).transpose()
    }

    /// The id of a workspace of this organization, verified; `None` for another
    /// organization's workspace or none at all.
    pub async fn workspace_id(&self, org: &OrgId, id: Uuid) -> Result<Option<WorkspaceId>> {
        Ok(self
            .get_workspace(org, id)
            .await?
            .map(|w| WorkspaceId::verified(*org, w.id)))
    }

    /// Names of every workspace of this organization, by id.
    pub async fn workspace_names(&self, org: &OrgId) -> Result<HashMap<Uuid, String>> {
        // Read on every cross-workspace page: one row however many workspaces.
        let names: Vec<(Uuid, String)> = self
            .org_rows_aggregated(org, "workspaces", "id, name")
            .await?;
        Ok(names.into_iter().collect())
    }

    /// Creates a workspace; `owner` (if given) receives the `Owner` role on it in the same
    /// transaction.
    pub async fn create_workspace(
        &self,
        org: &OrgId,
        account_id: Uuid,
        name: &str,
        owner: Option<(PrincipalKind, Uuid)>,
    ) -> Result<Workspace> {
        let id = Uuid::new_v4();
        let t = to_micros(now());
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO workspaces (id, organization_id, account_id, name, created_at, last_modified_at) \
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(id.to_string())
        .bind(org.to_string())
        .bind(account_id.to_string())
        .bind(name)
        .bind(t)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if let Some((kind, principal)) = owner {
            insert_role(&mut tx, org, id, kind, principal, WorkspaceRole::Owner, t).await?;
        }
        tx.commit().await?;
        self.get_workspace(org, id)
            .await?
            .ok_or_else(|| Error::internal("workspace vanished after insert"))
    }

    pub async fn update_workspace(
        &self,
        org: &OrgId,
        id: Uuid,
        name: &str,
        account_id: Uuid,
    ) -> Result<Option<Workspace>> {
        let done = sqlx::query(
            "UPDATE workspaces SET name = $3, account_id = $4, last_modified_at = $5 \
             WHERE organization_id = $1 AND id = $2",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(name)
        .bind(account_id.to_string())
        .bind(to_micros(now()))
        .execute(self.writer())
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.get_workspace(org, id).await
    }

    pub async fn delete_workspace(&self, org: &OrgId, id: Uuid) -> Result<bool> {
        self.delete_owned(
            org,
            id,
            &[
                "DELETE FROM workspace_roles WHERE organization_id = $1 AND workspace_id = $2",
                // The entity index has no foreign key to cascade from.
                "DELETE FROM incident_entity_index WHERE workspace_id IN \
                 (SELECT id FROM workspaces WHERE organization_id = $1 AND id = $2)",
                "DELETE FROM workspaces WHERE organization_id = $1 AND id = $2",
            ],
        )
        .await
    }

    /// Runs `statements` (each bound to the organization and `id`) in one transaction; true
    /// when the last one removed a row.
    pub(crate) async fn delete_owned(
        &self,
        org: &OrgId,
        id: Uuid,
        statements: &[&str],
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let mut removed = 0;
        for sql in statements {
            removed = sqlx::query(sql)
                .bind(org.to_string())
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(removed > 0)
    }

    // ------------------------------------------------------------ workspace roles

    /// Direct workspace roles of one principal, with workspace names.
    pub async fn principal_roles(
        &self,
        org: &OrgId,
        principal: Uuid,
    ) -> Result<Vec<(Uuid, String, WorkspaceRole)>> {
        let rows = sqlx::query(
            "SELECT r.workspace_id, w.name, r.role FROM workspace_roles r \
             JOIN workspaces w ON w.id = r.workspace_id \
             WHERE r.organization_id = $1 AND r.principal_id = $2 ORDER BY w.created_at, w.id",
        )
        .bind(org.to_string())
        .bind(principal.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok((
                    get_uuid(r, "workspace_id")?,
                    get_str(r, "name")?,
                    ws_role(&get_str(r, "role")?),
                ))
            })
            .collect()
    }

    /// All direct roles of one kind of principal in the organization:
    /// principal → [(workspace, workspace name, role)].
    async fn all_roles(
        &self,
        org: &OrgId,
        kind: PrincipalKind,
    ) -> Result<HashMap<Uuid, Vec<(Uuid, String, WorkspaceRole)>>> {
        let rows = sqlx::query(
            "SELECT r.principal_id, r.workspace_id, w.name, r.role FROM workspace_roles r \
             JOIN workspaces w ON w.id = r.workspace_id \
             WHERE r.organization_id = $1 AND r.principal_kind = $2 ORDER BY w.created_at, w.id",
        )
        .bind(org.to_string())
        .bind(kind.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let mut out: HashMap<Uuid, Vec<_>> = HashMap::new();
        for r in &rows {
            out.entry(get_uuid(r, "principal_id")?).or_default().push((
                get_uuid(r, "workspace_id")?,
                get_str(r, "name")?,
                ws_role(&get_str(r, "role")?),
            ));
        }
        Ok(out)
    }

    /// Grants (or changes) a role on a workspace for several principals at once.
    pub async fn grant_roles(
        &self,
        org: &OrgId,
        workspace: Uuid,
        kind: PrincipalKind,
        principals: &[Uuid],
        role: WorkspaceRole,
    ) -> Result<()> {
        let t = to_micros(now());
        let mut tx = self.begin_write().await?;
        for p in principals {
            insert_role(&mut tx, org, workspace, kind, *p, role, t).await?;
        }
        tx.commit().await
    }

    // ------------------------------------------------------------ service accounts

    async fn credentials_of(
        &self,
        org: &OrgId,
        account: Option<Uuid>,
    ) -> Result<HashMap<Uuid, Vec<Credential>>> {
        let at = now();
        let rows = match account {
            Some(id) => {
                let sql = format!(
                    "SELECT {CRED_COLS} FROM credentials WHERE organization_id = $1 \
                     AND service_account_id = $2 ORDER BY created_at, id"
                );
                sqlx::query(&sql)
                    .bind(org.to_string())
                    .bind(id.to_string())
                    .fetch_all(&self.pool)
                    .await
            }
            None => {
                let sql = format!(
                    "SELECT {CRED_COLS} FROM credentials WHERE organization_id = $1 \
                     ORDER BY created_at, id"
                );
                sqlx::query(&sql)
                    .bind(org.to_string())
                    .fetch_all(&self.pool)
                    .await
            }
        }
        .map_err(db_err)?;
        let mut out: HashMap<Uuid, Vec<Credential>> = HashMap::new();
        for r in &rows {
            let (sa, c) = credential_from_row(r, at)?;
            out.entry(sa).or_default().push(c);
        }
        Ok(out)
    }

    fn service_account_from_row(
        row: &AnyRow,
        roles: Vec<(Uuid, String, WorkspaceRole)>,
        credentials: Vec<Credential>,
    ) -> Result<ServiceAccount> {
        let credential_expiration_date = credentials
            .iter()
            .filter(|c| c.status == CredentialStatus::Active)
            .map(|c| c.expires_at)
            .max();
        Ok(ServiceAccount {
            id: get_uuid(row, "id")?,
            account_id: get_uuid(row, "account_id")?,
            name: get_str(row, "name")?,
            description: get_opt_str(row, "description")?,
            is_active: get_bool(row, "is_active")?,
            organizational_role: org_role(&get_str(row, "organizational_role")?),
            client_secret_prefix: SECRET_PREFIX.into(),
            credential_expiration_date,
            workspace_assignments: roles
                .into_iter()
                .map(|(workspace_id, workspace_name, role)| WorkspaceAssignment {
                    workspace_id,
                    workspace_name,
                    role,
                })
                .collect(),
            credentials,
            last_used_at: get_opt_time(row, "last_used_at")?,
            created_at: get_time(row, "created_at")?,
            last_modified_at: get_time(row, "last_modified_at")?,
        })
    }

    pub async fn list_service_accounts(&self, org: &OrgId) -> Result<Vec<ServiceAccount>> {
        let sql = format!(
            "SELECT {SA_COLS} FROM service_accounts WHERE organization_id = $1 ORDER BY created_at, id"
        );
        let rows = sqlx::query(&sql)
            .bind(org.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let mut roles = self.all_roles(org, PrincipalKind::ServiceAccount).await?;
        let mut creds = self.credentials_of(org, None).await?;
        rows.iter()
            .map(|r| {
                let id = get_uuid(r, "id")?;
                Self::service_account_from_row(
                    r,
                    roles.remove(&id).unwrap_or_default(),
                    creds.remove(&id).unwrap_or_default(),
                )
            })
            .collect()
    }

    pub async fn get_service_account(
        &self,
        org: &OrgId,
        id: Uuid,
    ) -> Result<Option<ServiceAccount>> {
        let sql = format!(
            "SELECT {SA_COLS} FROM service_accounts WHERE organization_id = $1 AND id = $2"
        );
        let Some(row) = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
        else {
            return Ok(None);
        };
        let roles = self.principal_roles(org, id).await?;
        let creds = self
            .credentials_of(org, Some(id))
            .await?
            .remove(&id)
            .unwrap_or_default();
        Self::service_account_from_row(&row, roles, creds).map(Some)
    }

    /// Creates a service account with its workspace roles and its first credential, in one
    /// transaction.
    pub async fn create_service_account(
        &self,
        org: &OrgId,
        sa: NewServiceAccount,
        credential: NewCredential,
    ) -> Result<ServiceAccount> {
        let t = to_micros(now());
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO service_accounts (id, organization_id, account_id, name, description, \
             is_active, organizational_role, last_used_at, created_at, last_modified_at) \
             VALUES ($1, $2, $3, $4, $5, 1, $6, NULL, $7, $7)",
        )
        .bind(sa.id.to_string())
        .bind(org.to_string())
        .bind(sa.account_id.to_string())
        .bind(&sa.name)
        .bind(sa.description.as_deref())
        .bind(sa.org_role.as_str())
        .bind(t)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        for (ws, role) in &sa.assignments {
            insert_role(
                &mut tx,
                org,
                *ws,
                PrincipalKind::ServiceAccount,
                sa.id,
                *role,
                t,
            )
            .await?;
        }
        insert_credential(&mut tx, org, sa.id, &credential, t).await?;
        tx.commit().await?;
        self.get_service_account(org, sa.id)
            .await?
            .ok_or_else(|| Error::internal("service account vanished after insert"))
    }

    pub async fn update_service_account(
        &self,
        org: &OrgId,
        id: Uuid,
        changes: ServiceAccountChanges,
    ) -> Result<Option<ServiceAccount>> {
        let t = to_micros(now());
        let mut tx = self.begin_write().await?;
        let exists = sqlx::query(
            "UPDATE service_accounts SET last_modified_at = $3 WHERE organization_id = $1 AND id = $2",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(t)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if exists.rows_affected() == 0 {
            return Ok(None);
        }
        if let Some(name) = &changes.name {
            sqlx::query(
                "UPDATE service_accounts SET name = $3 WHERE organization_id = $1 AND id = $2",
            )
            .bind(org.to_string())
            .bind(id.to_string())
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        if let Some(description) = &changes.description {
            sqlx::query(
                "UPDATE service_accounts SET description = $3 WHERE organization_id = $1 AND id = $2",
            )
            .bind(org.to_string())
            .bind(id.to_string())
            .bind(description.as_deref())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        if let Some(role) = changes.org_role {
            sqlx::query(
                "UPDATE service_accounts SET organizational_role = $3 WHERE organization_id = $1 AND id = $2",
            )
            .bind(org.to_string())
            .bind(id.to_string())
            .bind(role.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        if let Some(assignments) = &changes.assignments {
            sqlx::query(
                "DELETE FROM workspace_roles WHERE organization_id = $1 AND principal_id = $2",
            )
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            for (ws, role) in assignments {
                insert_role(
                    &mut tx,
                    org,
                    *ws,
                    PrincipalKind::ServiceAccount,
                    id,
                    *role,
                    t,
                )
                .await?;
            }
        }
        tx.commit().await?;
        self.get_service_account(org, id).await
    }

    pub async fn set_service_account_active(
        &self,
        org: &OrgId,
        id: Uuid,
        active: bool,
    ) -> Result<Option<ServiceAccount>> {
        let done = sqlx::query(
            "UPDATE service_accounts SET is_active = $3, last_modified_at = $4 \
             WHERE organization_id = $1 AND id = $2",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(b(active))
        .bind(to_micros(now()))
        .execute(self.writer())
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.get_service_account(org, id).await
    }

    /// Deletes a service account, its credentials and its roles; false if there is no such
    /// account.
    pub async fn delete_service_account(&self, org: &OrgId, id: Uuid) -> Result<bool> {
        self.delete_owned(
            org,
            id,
            &[
                "DELETE FROM workspace_roles WHERE organization_id = $1 AND principal_id = $2",
                "DELETE FROM credentials WHERE organization_id = $1 AND service_account_id = $2",
                "DELETE FROM service_accounts WHERE organization_id = $1 AND id = $2",
            ],
        )
        .await
    }

    pub async fn create_credential(
        &self,
        org: &OrgId,
        account: Uuid,
        credential: NewCredential,
    ) -> Result<Option<Credential>> {
        let t = to_micros(now());
        let mut tx = self.begin_write().await?;
        let exists = sqlx::query(
            "UPDATE service_accounts SET last_modified_at = $3 WHERE organization_id = $1 AND id = $2",
        )
        .bind(org.to_string())
        .bind(account.to_string())
        .bind(t)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if exists.rows_affected() == 0 {
            return Ok(None);
        }
        insert_credential(&mut tx, org, account, &credential, t).await?;
        tx.commit().await?;
        self.credential(org, account, credential.id).await
    }

    pub async fn credential(
        &self,
        org: &OrgId,
        account: Uuid,
        id: Uuid,
    ) -> Result<Option<Credential>> {
        let sql = format!(
            "SELECT {CRED_COLS} FROM credentials WHERE organization_id = $1 \
             AND service_account_id = $2 AND id = $3"
        );
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(account.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| credential_from_row(&r, now()).map(|(_, c)| c))
            .transpose()
    }

    /// Revokes a credential (idempotent).
    pub async fn revoke_credential(
        &self,
        org: &OrgId,
        account: Uuid,
        id: Uuid,
    ) -> Result<Option<Credential>> {
        sqlx::query(
            "UPDATE credentials SET revoked_at = $4 WHERE organization_id = $1 \
             AND service_account_id = $2 AND id = $3 AND revoked_at IS NULL",
        )
        .bind(org.to_string())
        .bind(account.to_string())
        .bind(id.to_string())
        .bind(to_micros(now()))
        .execute(self.writer())
        .await
        .map_err(db_err)?;
        self.credential(org, account, id).await
    }

    /// The authentication entry point: finds a credential by the keyed hash of its secret.
    /// This is the one query not scoped by organization, because it is how the organization
    /// of a request is learned.
    pub async fn find_credential(&self, secret_hash: &str) -> Result<Option<AuthRecord>> {
        let Some(row) = sqlx::query(
            "SELECT c.id, c.organization_id, c.service_account_id, c.secret_hash, c.scopes, \
             c.expires_at, c.revoked_at, s.is_active, s.organizational_role, s.name, \
             s.description, s.account_id, s.created_at AS account_created_at \
             FROM credentials c JOIN service_accounts s ON s.id = c.service_account_id \
             WHERE c.secret_hash = $1",
        )
        .bind(secret_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        else {
            return Ok(None);
        };
        let org = OrgId::verified(get_uuid(&row, "organization_id")?);
        let sa = get_uuid(&row, "service_account_id")?;
        let roles = self
            .principal_roles(&org, sa)
            .await?
            .into_iter()
            .map(|(ws, name, role)| (WorkspaceId::verified(org, ws), name, role))
            .collect();
        let role = org_role(&get_str(&row, "organizational_role")?);
        let org_workspaces = if role.implied_workspace_role().is_some() {
            self.workspace_names(&org)
                .await?
                .into_keys()
                .map(|ws| WorkspaceId::verified(org, ws))
                .collect()
        } else {
            Vec::new()
        };
        Ok(Some(AuthRecord {
            org,
            service_account_id: sa,
            credential_id: get_uuid(&row, "id")?,
            secret_hash: get_str(&row, "secret_hash")?,
            scopes: parse_scopes(&get_str(&row, "scopes")?),
            expires_at: get_time(&row, "expires_at")?,
            revoked: get_opt_time(&row, "revoked_at")?.is_some(),
            active: get_bool(&row, "is_active")?,
            org_role: role,
            name: get_str(&row, "name")?,
            description: get_opt_str(&row, "description")?,
            account_id: get_uuid(&row, "account_id")?,
            created_at: get_time(&row, "account_created_at")?,
            workspace_roles: roles,
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
        let mut tx = self.begin_write().await?;
        for (org, sa, cred, at) in entries {
            let t = to_micros(*at);
            sqlx::query(
                "UPDATE credentials SET last_used_at = $4 WHERE organization_id = $1 \
                 AND service_account_id = $2 AND id = $3 AND (last_used_at IS NULL OR last_used_at < $4)",
            )
            .bind(org.to_string())
            .bind(sa.to_string())
            .bind(cred.to_string())
            .bind(t)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            sqlx::query(
                "UPDATE service_accounts SET last_used_at = $3 WHERE organization_id = $1 \
                 AND id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
            )
            .bind(org.to_string())
            .bind(sa.to_string())
            .bind(t)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        tx.commit().await
    }

    // ------------------------------------------------------------ users

    fn user_from_row(row: &AnyRow, roles: Vec<(Uuid, String, WorkspaceRole)>) -> Result<User> {
        let id = get_uuid(row, "id")?;
        let role = org_role(&get_str(row, "organizational_role")?);
        let display_name = get_str(row, "display_name")?;
        let mut parts = display_name.splitn(2, ' ');
        let first = parts.next().map(str::to_string);
        let last = parts.next().map(str::to_string);
        let email = get_opt_str(row, "email")?;
        let workspace_role = roles
            .iter()
            .map(|r| r.2)
            .chain(role.implied_workspace_role())
            .max();
        Ok(User {
            id,
            display_name,
            first_name: first,
            last_name: last,
            profile_picture_url: None,
            username: email.clone(),
            email,
            tenant_id: get_opt_str(row, "tenant_id")?,
            app_role: "DefaultAccess".into(),
            added_on: get_time(row, "added_on")?,
            has_logged_in: false,
            is_service_account: false,
            is_agent_user: false,
            is_owner: get_bool(row, "is_owner")?,
            is_active: get_bool(row, "is_active")?,
            organization_role: role,
            organizational_role: role,
            workspace_role,
            groups: Vec::new(),
            role_assignments: roles
                .into_iter()
                .map(|(workspace_id, workspace_name, role)| RoleAssignment {
                    user_id: id,
                    workspace_id,
                    workspace_name,
                    assignment_type: "Direct".into(),
                    role,
                })
                .collect(),
        })
    }

    pub async fn list_users(&self, org: &OrgId) -> Result<Vec<User>> {
        let sql = format!(
            "SELECT {USER_COLS} FROM users WHERE organization_id = $1 ORDER BY added_on, id"
        );
        let rows = sqlx::query(&sql)
            .bind(org.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let mut roles = self.all_roles(org, PrincipalKind::User).await?;
        rows.iter()
            .map(|r| {
                let id = get_uuid(r, "id")?;
                Self::user_from_row(r, roles.remove(&id).unwrap_or_default())
            })
            .collect()
    }

    pub async fn get_user(&self, org: &OrgId, id: Uuid) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLS} FROM users WHERE organization_id = $1 AND id = $2");
        let Some(row) = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
        else {
            return Ok(None);
        };
        let roles = self.principal_roles(org, id).await?;
        Self::user_from_row(&row, roles).map(Some)
    }

    /// Ids of those of `ids` that are users of this organization.
    pub async fn existing_users(&self, org: &OrgId, ids: &[Uuid]) -> Result<Vec<Uuid>> {
        let rows = sqlx::query("SELECT id FROM users WHERE organization_id = $1")
            .bind(org.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let known = rows
            .iter()
            .map(|r| get_uuid(r, "id"))
            .collect::<Result<std::collections::HashSet<Uuid>>>()?;
        Ok(ids
            .iter()
            .copied()
            .filter(|id| known.contains(id))
            .collect())
    }

    /// Adds users (all or none) and optionally grants them a role on a workspace.
    pub async fn add_users(
        &self,
        org: &OrgId,
        users: &[NewUser],
        grant: Option<(Uuid, WorkspaceRole)>,
    ) -> Result<()> {
        let t = to_micros(now());
        let mut tx = self.begin_write().await?;
        for u in users {
            sqlx::query(
                "INSERT INTO users (id, organization_id, display_name, email, email_key, tenant_id, \
                 organizational_role, is_owner, is_active, added_on, last_modified_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9)",
            )
            .bind(u.id.to_string())
            .bind(org.to_string())
            .bind(&u.display_name)
            .bind(u.email.as_deref())
            .bind(u.email.as_ref().map(|e| e.to_lowercase()))
            .bind(u.tenant_id.as_deref())
            .bind(u.org_role.as_str())
            .bind(b(u.is_owner))
            .bind(t)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            if let Some((ws, role)) = grant {
                insert_role(&mut tx, org, ws, PrincipalKind::User, u.id, role, t).await?;
            }
        }
        tx.commit().await
    }

    pub async fn update_user(&self, org: &OrgId, id: Uuid, c: UserChanges) -> Result<bool> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLS} FROM users WHERE organization_id = $1 AND id = $2"
        ))
        .bind(org.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        let Some(row) = row else { return Ok(false) };
        let display_name = match c.display_name {
            Some(v) => v,
            None => get_str(&row, "display_name")?,
        };
        let email = match c.email {
            Some(v) => Some(v),
            None => get_opt_str(&row, "email")?,
        };
        let tenant = match c.tenant_id {
            Some(v) => Some(v),
            None => get_opt_str(&row, "tenant_id")?,
        };
        let role = match c.org_role {
            Some(r) => r,
            None => org_role(&get_str(&row, "organizational_role")?),
        };
        let owner = match c.is_owner {
            Some(v) => v,
            None => get_bool(&row, "is_owner")?,
        };
        sqlx::query(
            "UPDATE users SET display_name = $3, email = $4, email_key = $5, tenant_id = $6, \
             organizational_role = $7, is_owner = $8, last_modified_at = $9 \
             WHERE organization_id = $1 AND id = $2",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(&display_name)
        .bind(email.as_deref())
        .bind(email.as_ref().map(|e| e.to_lowercase()))
        .bind(tenant.as_deref())
        .bind(role.as_str())
        .bind(b(owner))
        .bind(to_micros(now()))
        .execute(self.writer())
        .await
        .map_err(db_err)?;
        Ok(true)
    }

    pub async fn delete_user(&self, org: &OrgId, id: Uuid) -> Result<bool> {
        self.delete_owned(
            org,
            id,
            &[
                "DELETE FROM workspace_roles WHERE organization_id = $1 AND principal_id = $2",
                "DELETE FROM users WHERE organization_id = $1 AND id = $2",
            ],
        )
        .await
    }

    /// Users holding a role on the given workspaces, optionally filtered by a
    /// case-insensitive name/email query and a role.
    pub async fn workspace_users(
        &self,
        org: &OrgId,
        workspaces: &[Uuid],
        query: Option<&str>,
        role: Option<WorkspaceRole>,
    ) -> Result<Vec<WorkspaceUser>> {
        let rows = sqlx::query(
            "SELECT r.workspace_id, r.role, u.id, u.display_name, u.email FROM workspace_roles r \
             JOIN users u ON u.id = r.principal_id \
             WHERE r.organization_id = $1 AND r.principal_kind = 'user' ORDER BY u.added_on, u.id",
        )
        .bind(org.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let needle = query.map(str::to_lowercase);
        let mut out = Vec::new();
        for r in &rows {
            let ws = get_uuid(r, "workspace_id")?;
            if !workspaces.contains(&ws) {
                continue;
            }
            let user_role = ws_role(&get_str(r, "role")?);
            if role.is_some_and(|want| want != user_role) {
                continue;
            }
            let name = get_str(r, "display_name")?;
            let email = get_opt_str(r, "email")?;
            if let Some(n) = &needle {
                let hit = name.to_lowercase().contains(n)
                    || email
                        .as_deref()
                        .is_some_and(|e| e.to_lowercase().contains(n));
                if !hit {
                    continue;
                }
            }
            let user_id = get_uuid(r, "id")?;
            out.push(WorkspaceUser {
                id: format!("{ws}:{user_id}"),
                display_name: name,
                email,
                workspace_id: ws,
                role: user_role,
                user_id,
            });
        }
        Ok(out)
    }
}

async fn insert_role(
    tx: &mut crate::db::Tx,
    org: &OrgId,
    workspace: Uuid,
    kind: PrincipalKind,
    principal: Uuid,
    role: WorkspaceRole,
    t: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO workspace_roles (workspace_id, principal_id, organization_id, principal_kind, role, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (workspace_id, principal_id) DO UPDATE SET role = $5",
    )
    .bind(workspace.to_string())
    .bind(principal.to_string())
    .bind(org.to_string())
    .bind(kind.as_str())
    .bind(role.as_str())
    .bind(t)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

async fn insert_credential(
    tx: &mut crate::db::Tx,
    org: &OrgId,
    account: Uuid,
    c: &NewCredential,
    t: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO credentials (id, organization_id, service_account_id, secret_hash, scopes, \
         expires_at, revoked_at, last_used_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL, $7)",
    )
    .bind(c.id.to_string())
    .bind(org.to_string())
    .bind(account.to_string())
    .bind(&c.secret_hash)
    .bind(scopes_json(&c.scopes))
    .bind(to_micros(c.expires_at))
    .bind(t)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}
