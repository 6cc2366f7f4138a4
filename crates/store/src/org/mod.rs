//! Organizations and what they own besides incident data: accounts, workspaces, service
//! accounts with their credentials, users, and workspace roles.

mod accounts;
mod admins;
mod service_accounts;
mod users;
mod workspaces;

pub use accounts::{AccountRow, OrganizationRow};
pub use service_accounts::{
    AuthRecord, CredentialRow, NewCredential, NewServiceAccount, ServiceAccountChanges,
    ServiceAccountRow,
};
pub use users::{NewUser, UserChanges, UserRow, WorkspaceUserRow};
pub use workspaces::WorkspaceRow;

use palisade_domain::vocab::WorkspaceRole;
use palisade_domain::Result;
use uuid::Uuid;

use crate::db::{sql, Tx};
use crate::{OrgId, Tenant};

/// Who holds a workspace role.
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

    fn table(self) -> &'static str {
        match self {
            PrincipalKind::ServiceAccount => "service_accounts",
            PrincipalKind::User => "users",
        }
    }
}

/// A direct role on a workspace, with the workspace's name.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RoleGrant {
    #[sqlx(try_from = "String")]
    pub workspace_id: Uuid,
    #[sqlx(rename = "name")]
    pub workspace_name: String,
    #[sqlx(try_from = "crate::db::row::Vocab")]
    pub role: WorkspaceRole,
}

/// Grants `role` on `workspace` (the organization's own) to a principal of the organization;
/// a principal of another organization gets nothing.
async fn insert_role(
    tx: &mut Tx,
    org: &OrgId,
    workspace: Uuid,
    kind: PrincipalKind,
    principal: Uuid,
    role: WorkspaceRole,
    t: i64,
) -> Result<()> {
    sql(
        &format!(
            "INSERT INTO workspace_roles (workspace_id, principal_id, organization_id, principal_kind, role, created_at) \
             SELECT $1, p.id, $3, $4, $5, $6 FROM {} p WHERE p.organization_id = $3 AND p.id = $2 \
             ON CONFLICT (workspace_id, principal_id) DO UPDATE SET role = $5",
            kind.table()
        ),
        (workspace, principal, org, kind.as_str(), role, t),
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Tenant<'_> {
    /// Runs `statements` (each bound to the organization and `id`) in one transaction; true
    /// when the last one removed a row.
    pub(crate) async fn delete_owned(&self, id: Uuid, statements: &[&str]) -> Result<bool> {
        let mut tx = self.store.begin_write().await?;
        let mut removed = 0;
        for text in statements {
            removed = sql(text, (self.org, id)).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(removed > 0)
    }

    /// Direct workspace roles of one principal of the organization, with workspace names.
    pub async fn principal_roles(&self, principal: Uuid) -> Result<Vec<RoleGrant>> {
        sql(
            "SELECT r.workspace_id, w.name, r.role FROM workspace_roles r \
             JOIN workspaces w ON w.id = r.workspace_id \
             WHERE r.organization_id = $1 AND r.principal_id = $2 ORDER BY w.created_at, w.id",
            (self.org, principal),
        )
        .fetch_all(self.store.read())
        .await
    }
}

/// A role row with its principal (see [`Tenant::all_roles`]).
#[derive(sqlx::FromRow)]
struct PrincipalRole {
    #[sqlx(try_from = "String")]
    principal_id: Uuid,
    #[sqlx(flatten)]
    grant: RoleGrant,
}

impl Tenant<'_> {
    /// All direct roles of one kind of principal in the organization, by principal.
    async fn all_roles(
        &self,
        kind: PrincipalKind,
    ) -> Result<std::collections::HashMap<Uuid, Vec<RoleGrant>>> {
        let rows: Vec<PrincipalRole> = sql(
            "SELECT r.principal_id, r.workspace_id, w.name, r.role FROM workspace_roles r \
             JOIN workspaces w ON w.id = r.workspace_id \
             WHERE r.organization_id = $1 AND r.principal_kind = $2 ORDER BY w.created_at, w.id",
            (self.org, kind.as_str()),
        )
        .fetch_all(self.store.read())
        .await?;
        let mut out: std::collections::HashMap<Uuid, Vec<RoleGrant>> = Default::default();
        for r in rows {
            out.entry(r.principal_id).or_default().push(r.grant);
        }
        Ok(out)
    }
}
