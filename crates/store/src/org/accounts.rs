//! Organizations and their customer accounts.

use chrono::{DateTime, Utc};
use palisade_domain::{Error, Result};
use uuid::Uuid;

use crate::db::{now_micros, sql};
use crate::{OrgId, System, Tenant};

/// An organization; its id verified by having been read.
#[derive(Debug, Clone)]
pub struct OrganizationRow {
    pub id: OrgId,
    pub name: String,
    /// The organization's own (service provider) account.
    pub own_account_id: Uuid,
}

/// An organization's row as stored. Not public: deriving `FromRow` on a public type would
/// let any row make an [`OrgId`].
#[derive(sqlx::FromRow)]
struct OrganizationRecord {
    #[sqlx(try_from = "String")]
    id: Uuid,
    name: String,
    #[sqlx(try_from = "String")]
    own_account_id: Uuid,
}

impl From<OrganizationRecord> for OrganizationRow {
    fn from(r: OrganizationRecord) -> Self {
        OrganizationRow {
            id: OrgId::verified(r.id),
            name: r.name,
            own_account_id: r.own_account_id,
        }
    }
}

/// A customer account (or the organization's own, `is_service_provider`).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct AccountRow {
    #[sqlx(try_from = "String")]
    pub id: Uuid,
    pub name: String,
    #[sqlx(try_from = "crate::db::row::Flag")]
    pub is_service_provider: bool,
    pub workspace_count: i64,
    #[sqlx(try_from = "crate::db::row::Micros")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "crate::db::row::Micros")]
    pub last_modified_at: DateTime<Utc>,
}

const ACCOUNT_SELECT: &str =
    "SELECT a.id, a.name, a.is_service_provider, a.created_at, a.last_modified_at, \
     (SELECT COUNT(*) FROM workspaces w WHERE w.account_id = a.id) AS workspace_count \
     FROM accounts a WHERE a.organization_id = $1";

impl System<'_> {
    /// Creates an organization and its own (service provider) account.
    pub async fn create_organization(&self, name: &str) -> Result<OrganizationRow> {
        let (org, account) = (Uuid::new_v4(), Uuid::new_v4());
        let t = now_micros();
        let mut tx = self.store.begin_write().await?;
        sql(
            "INSERT INTO organizations (id, name, own_account_id, created_at) VALUES ($1, $2, $3, $4)",
            (org, name, account, t),
        )
        .execute(&mut *tx)
        .await?;
        sql(
            "INSERT INTO accounts (id, organization_id, name, is_service_provider, created_at, last_modified_at) \
             VALUES ($1, $2, $3, 1, $4, $4)",
            (account, org, name, t),
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(OrganizationRow {
            id: OrgId::verified(org),
            name: name.to_string(),
            own_account_id: account,
        })
    }

    /// Every organization's id, oldest first (admin CLI: is the database empty, is it the
    /// demo's).
    pub async fn organization_ids(&self) -> Result<Vec<Uuid>> {
        let rows: Vec<(String,)> = sql("SELECT id FROM organizations ORDER BY created_at, id", ())
            .fetch_all(self.store.read())
            .await?;
        rows.into_iter()
            .map(|(id,)| id.parse().map_err(Error::internal))
            .collect()
    }

    /// Looks an organization up by id (the admin CLI's and tests' way to an [`OrgId`]).
    pub async fn organization(&self, id: Uuid) -> Result<Option<OrganizationRow>> {
        let row: Option<OrganizationRecord> = sql(
            "SELECT id, name, own_account_id FROM organizations WHERE id = $1",
            (id,),
        )
        .fetch_optional(self.store.read())
        .await?;
        Ok(row.map(Into::into))
    }
}

impl Tenant<'_> {
    /// The organization's own (service provider) account.
    pub async fn own_account_id(&self) -> Result<Uuid> {
        let (id,): (String,) = sql(
            "SELECT own_account_id FROM organizations WHERE id = $1",
            (self.org,),
        )
        .fetch_one(self.store.read())
        .await?;
        id.parse().map_err(Error::internal)
    }

    pub async fn list_accounts(&self) -> Result<Vec<AccountRow>> {
        sql(
            &format!("{ACCOUNT_SELECT} ORDER BY a.created_at, a.id"),
            (self.org,),
        )
        .fetch_all(self.store.read())
        .await
    }

    pub async fn get_account(&self, id: Uuid) -> Result<Option<AccountRow>> {
        sql(&format!("{ACCOUNT_SELECT} AND a.id = $2"), (self.org, id))
            .fetch_optional(self.store.read())
            .await
    }

    pub async fn create_account(&self, name: &str) -> Result<AccountRow> {
        let id = Uuid::new_v4();
        sql(
            "INSERT INTO accounts (id, organization_id, name, is_service_provider, created_at, last_modified_at) \
             VALUES ($1, $2, $3, 0, $4, $4)",
            (id, self.org, name, now_micros()),
        )
        .execute(self.store.writer())
        .await?;
        self.get_account(id)
            .await?
            .ok_or_else(|| Error::internal("account vanished after insert"))
    }
}
