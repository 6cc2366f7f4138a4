//! Workspaces and workspace roles.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use palisade_domain::vocab::WorkspaceRole;
use palisade_domain::{Error, Result};
use uuid::Uuid;

use super::{insert_role, PrincipalKind};
use crate::db::{now_micros, sql};
use crate::{OrgId, Tenant, WorkspaceId};

/// A workspace, with its account's name.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkspaceRow {
    pub id: WorkspaceId,
    pub name: String,
    pub account_id: Uuid,
    pub account_name: String,
    pub created_at: DateTime<Utc>,
    pub last_modified_at: DateTime<Utc>,
}

/// A workspace's row as stored (see `OrganizationRecord` for why it is not public).
#[derive(sqlx::FromRow)]
struct WorkspaceRecord {
    #[sqlx(try_from = "String")]
    id: Uuid,
    name: String,
    #[sqlx(try_from = "String")]
    account_id: Uuid,
    account_name: String,
    #[sqlx(try_from = "crate::db::row::Micros")]
    created_at: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::row::Micros")]
    last_modified_at: DateTime<Utc>,
}

impl WorkspaceRecord {
    /// Read with the organization filter: the workspace is `org`'s.
    fn of(self, org: OrgId) -> WorkspaceRow {
        WorkspaceRow {
            id: WorkspaceId::verified(org, self.id),
            name: self.name,
            account_id: self.account_id,
            account_name: self.account_name,
            created_at: self.created_at,
            last_modified_at: self.last_modified_at,
        }
    }
}

const WORKSPACE_SELECT: &str =
    "SELECT w.id, w.name, w.account_id, a.name AS account_name, w.created_at, w.last_modified_at \
     FROM workspaces w JOIN accounts a ON a.id = w.account_id WHERE w.organization_id = $1";

fn no_such_account(id: Uuid) -> Error {
    Error::field(
        "accountId",
        format!("Account '{id}' does not exist in this organization."),
    )
}

impl Tenant<'_> {
    /// Every workspace of the organization, oldest first.
    pub async fn list_workspaces(&self) -> Result<Vec<WorkspaceRow>> {
        let rows: Vec<WorkspaceRecord> = sql(
            &format!("{WORKSPACE_SELECT} ORDER BY w.created_at, w.id"),
            (self.org,),
        )
        .fetch_all(self.store.read())
        .await?;
        Ok(rows.into_iter().map(|r| r.of(self.org)).collect())
    }

    /// A workspace of this organization: how a workspace id from a request becomes a
    /// [`WorkspaceId`]. `None` for another organization's workspace or none at all.
    pub async fn workspace(&self, id: Uuid) -> Result<Option<WorkspaceRow>> {
        let row: Option<WorkspaceRecord> =
            sql(&format!("{WORKSPACE_SELECT} AND w.id = $2"), (self.org, id))
                .fetch_optional(self.store.read())
                .await?;
        Ok(row.map(|r| r.of(self.org)))
    }

    /// Names of every workspace of this organization, by id.
    pub async fn workspace_names(&self) -> Result<HashMap<Uuid, String>> {
        // Read on every cross-workspace page: one row however many workspaces.
        let names: Vec<(Uuid, String)> = self
            .store
            .org_rows_aggregated(&self.org, "workspaces", "id, name")
            .await?;
        Ok(names.into_iter().collect())
    }

    /// Creates a workspace under one of the organization's accounts; `owner` (if given, a
    /// principal of the organization) receives the `Owner` role on it in the same
    /// transaction.
    pub async fn create_workspace(
        &self,
        account_id: Uuid,
        name: &str,
        owner: Option<(PrincipalKind, Uuid)>,
    ) -> Result<WorkspaceRow> {
        let id = Uuid::new_v4();
        let t = now_micros();
        let mut tx = self.store.begin_write().await?;
        let created = sql(
            "INSERT INTO workspaces (id, organization_id, account_id, name, created_at, last_modified_at) \
             SELECT $1, $2, a.id, $4, $5, $5 FROM accounts a WHERE a.organization_id = $2 AND a.id = $3",
            (id, self.org, account_id, name, t),
        )
        .execute(&mut *tx)
        .await?;
        if created == 0 {
            return Err(no_such_account(account_id));
        }
        if let Some((kind, principal)) = owner {
            insert_role(
                &mut tx,
                &self.org,
                id,
                kind,
                principal,
                WorkspaceRole::Owner,
                t,
            )
            .await?;
        }
        tx.commit().await?;
        self.workspace(id)
            .await?
            .ok_or_else(|| Error::internal("workspace vanished after insert"))
    }

    /// Renames a workspace and moves it to another of the organization's accounts.
    pub async fn update_workspace(
        &self,
        ws: &WorkspaceId,
        name: &str,
        account_id: Uuid,
    ) -> Result<Option<WorkspaceRow>> {
        let id = self.own(ws)?;
        if self.get_account(account_id).await?.is_none() {
            return Err(no_such_account(account_id));
        }
        let updated = sql(
            "UPDATE workspaces SET name = $3, account_id = $4, last_modified_at = $5 \
             WHERE organization_id = $1 AND id = $2",
            (self.org, id, name, account_id, now_micros()),
        )
        .execute(self.store.writer())
        .await?;
        if updated == 0 {
            return Ok(None);
        }
        self.workspace(id).await
    }

    pub async fn delete_workspace(&self, ws: &WorkspaceId) -> Result<bool> {
        self.delete_owned(
            self.own(ws)?,
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

    /// Grants (or changes) a role on a workspace for several principals of the organization
    /// at once (others are left out).
    pub async fn grant_roles(
        &self,
        ws: &WorkspaceId,
        kind: PrincipalKind,
        principals: &[Uuid],
        role: WorkspaceRole,
    ) -> Result<()> {
        let ws = self.own(ws)?;
        let t = now_micros();
        let mut tx = self.store.begin_write().await?;
        for p in principals {
            insert_role(&mut tx, &self.org, ws, kind, *p, role, t).await?;
        }
        tx.commit().await
    }
}
