//! Organization users and who holds a role on which workspace.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use palisade_domain::vocab::{OrgRole, WorkspaceRole};
use palisade_domain::Result;
use uuid::Uuid;

use super::{insert_role, PrincipalKind, RoleGrant};
use crate::db::{now_micros, sql};
use crate::{Tenant, WorkspaceId};

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

/// A user with its direct workspace roles.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct UserRow {
    #[sqlx(try_from = "String")]
    pub id: Uuid,
    pub display_name: String,
    pub email: Option<String>,
    pub tenant_id: Option<String>,
    #[sqlx(try_from = "crate::db::row::Vocab")]
    pub organizational_role: OrgRole,
    #[sqlx(try_from = "crate::db::row::Flag")]
    pub is_owner: bool,
    #[sqlx(try_from = "crate::db::row::Flag")]
    pub is_active: bool,
    #[sqlx(try_from = "crate::db::row::Micros")]
    pub added_on: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::row::Micros")]
    pub last_modified_at: DateTime<Utc>,
    #[sqlx(skip)]
    pub roles: Vec<RoleGrant>,
}

/// A user's role on one workspace.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct WorkspaceUserRow {
    #[sqlx(try_from = "String")]
    pub workspace_id: Uuid,
    #[sqlx(try_from = "crate::db::row::Vocab")]
    pub role: WorkspaceRole,
    #[sqlx(rename = "id", try_from = "String")]
    pub user_id: Uuid,
    pub display_name: String,
    pub email: Option<String>,
}

const USER_COLS: &str = "id, display_name, email, tenant_id, organizational_role, is_owner, \
                         is_active, added_on, last_modified_at";

impl Tenant<'_> {
    pub async fn list_users(&self) -> Result<Vec<UserRow>> {
        let mut rows: Vec<UserRow> = sql(
            &format!(
                "SELECT {USER_COLS} FROM users WHERE organization_id = $1 ORDER BY added_on, id"
            ),
            (self.org,),
        )
        .fetch_all(self.store.read())
        .await?;
        let mut roles = self.all_roles(PrincipalKind::User).await?;
        for r in &mut rows {
            r.roles = roles.remove(&r.id).unwrap_or_default();
        }
        Ok(rows)
    }

    pub async fn get_user(&self, id: Uuid) -> Result<Option<UserRow>> {
        let Some(mut row) = self.user_row(id).await? else {
            return Ok(None);
        };
        row.roles = self.principal_roles(id).await?;
        Ok(Some(row))
    }

    async fn user_row(&self, id: Uuid) -> Result<Option<UserRow>> {
        sql(
            &format!("SELECT {USER_COLS} FROM users WHERE organization_id = $1 AND id = $2"),
            (self.org, id),
        )
        .fetch_optional(self.store.read())
        .await
    }

    /// Those of `ids` that are users of this organization.
    pub async fn existing_users(&self, ids: &[Uuid]) -> Result<Vec<Uuid>> {
        let rows: Vec<(String,)> = sql(
            "SELECT id FROM users WHERE organization_id = $1",
            (self.org,),
        )
        .fetch_all(self.store.read())
        .await?;
        let known: HashSet<Uuid> = rows.iter().filter_map(|(id,)| id.parse().ok()).collect();
        Ok(ids
            .iter()
            .copied()
            .filter(|id| known.contains(id))
            .collect())
    }

    /// Adds users (all or none) and optionally grants them a role on a workspace.
    pub async fn add_users(
        &self,
        users: &[NewUser],
        grant: Option<(&WorkspaceId, WorkspaceRole)>,
    ) -> Result<()> {
        let grant = match grant {
            Some((ws, role)) => Some((self.own(ws)?, role)),
            None => None,
        };
        let t = now_micros();
        let mut tx = self.store.begin_write().await?;
        for u in users {
            sql(
                "INSERT INTO users (id, organization_id, display_name, email, email_key, tenant_id, \
                 organizational_role, is_owner, is_active, added_on, last_modified_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9)",
                (
                    u.id,
                    self.org,
                    &u.display_name,
                    &u.email,
                    u.email.as_ref().map(|e| e.to_lowercase()),
                    &u.tenant_id,
                    u.org_role,
                    u.is_owner,
                    t,
                ),
            )
            .execute(&mut *tx)
            .await?;
            if let Some((ws, role)) = grant {
                insert_role(&mut tx, &self.org, ws, PrincipalKind::User, u.id, role, t).await?;
            }
        }
        tx.commit().await
    }

    /// Changes a user's fields (absent ones are kept); false when there is no such user.
    pub async fn update_user(&self, id: Uuid, c: UserChanges) -> Result<bool> {
        let Some(row) = self.user_row(id).await? else {
            return Ok(false);
        };
        let email = c.email.or(row.email);
        let email_key = email.as_ref().map(|e| e.to_lowercase());
        sql(
            "UPDATE users SET display_name = $3, email = $4, email_key = $5, tenant_id = $6, \
             organizational_role = $7, is_owner = $8, last_modified_at = $9 \
             WHERE organization_id = $1 AND id = $2",
            (
                self.org,
                id,
                c.display_name.unwrap_or(row.display_name),
                email,
                email_key,
                c.tenant_id.or(row.tenant_id),
                c.org_role.unwrap_or(row.organizational_role),
                c.is_owner.unwrap_or(row.is_owner),
                now_micros(),
            ),
        )
        .execute(self.store.writer())
        .await?;
        Ok(true)
    }

    pub async fn delete_user(&self, id: Uuid) -> Result<bool> {
        self.delete_owned(
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
        workspaces: &[WorkspaceId],
        query: Option<&str>,
        role: Option<WorkspaceRole>,
    ) -> Result<Vec<WorkspaceUserRow>> {
        let workspaces = workspaces
            .iter()
            .map(|w| self.own(w))
            .collect::<Result<HashSet<Uuid>>>()?;
        let rows: Vec<WorkspaceUserRow> = sql(
            "SELECT r.workspace_id, r.role, u.id, u.display_name, u.email FROM workspace_roles r \
             JOIN users u ON u.id = r.principal_id AND u.organization_id = r.organization_id \
             WHERE r.organization_id = $1 AND r.principal_kind = 'user' ORDER BY u.added_on, u.id",
            (self.org,),
        )
        .fetch_all(self.store.read())
        .await?;
        let needle = query.map(str::to_lowercase);
        Ok(rows
            .into_iter()
            .filter(|r| workspaces.contains(&r.workspace_id))
            .filter(|r| role.is_none_or(|want| want == r.role))
            .filter(|r| match &needle {
                None => true,
                Some(n) => {
                    r.display_name.to_lowercase().contains(n)
                        || r.email
                            .as_deref()
                            .is_some_and(|e| e.to_lowercase().contains(n))
                }
            })
            .collect())
    }
}
