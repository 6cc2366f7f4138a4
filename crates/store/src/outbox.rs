//! The outbox: every state change that others hear about writes an `events` row in the same
//! transaction as the change. The webhook dispatcher and the gamebook trigger consume it
//! (`webhooks/deliveries.rs`, `gamebooks/runs/trigger.rs`).

use chrono::{DateTime, Utc};
use palisade_domain::{Error, Result};
use serde_json::Value;
use uuid::Uuid;

use crate::db::{sql, Tx};
use crate::{OrgId, System, Tenant};

/// A new outbox event id: a time-ordered UUID (version 7), so the events' primary-key index
/// grows at its end instead of taking every insert at a random page.
pub(crate) fn new_event_id() -> String {
    Uuid::now_v7().to_string()
}

/// An outbox event.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredEvent {
    #[sqlx(try_from = "String")]
    pub id: Uuid,
    pub event_type: String,
    #[sqlx(try_from = "crate::db::row::NullText")]
    pub workspace_id: Option<Uuid>,
    pub subject_id: String,
    #[sqlx(try_from = "crate::db::row::JsonText")]
    pub payload: Value,
    #[sqlx(try_from = "crate::db::row::Micros")]
    pub created_at: DateTime<Utc>,
}

/// The customer account (id, name) a workspace of `org` belongs to, which events name; not
/// found for another organization's workspace.
pub(crate) async fn workspace_account(
    tx: &mut Tx,
    org: &OrgId,
    workspace: Uuid,
) -> Result<(Uuid, String)> {
    let row: Option<(String, String)> = sql(
        "SELECT a.id, a.name FROM workspaces w JOIN accounts a ON a.id = w.account_id \
         WHERE w.organization_id = $1 AND w.id = $2",
        (org, workspace),
    )
    .fetch_optional(&mut **tx)
    .await?;
    let (id, name) =
        row.ok_or_else(|| Error::not_found_target("Workspace", workspace, "workspaceId"))?;
    Ok((id.parse().map_err(Error::internal)?, name))
}

/// Writes one outbox row in `tx`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_event(
    tx: &mut Tx,
    org: &OrgId,
    workspace: Uuid,
    account: Uuid,
    event_type: &str,
    subject: &str,
    data: &Value,
    at: i64,
) -> Result<()> {
    sql(
        "INSERT INTO events (id, organization_id, workspace_id, account_id, event_type, subject_id, \
         payload, occurred_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        (new_event_id(), org, workspace, account, event_type, subject, data.to_string(), at),
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Tenant<'_> {
    /// The organization's outbox, oldest first.
    pub async fn events(&self) -> Result<Vec<StoredEvent>> {
        sql(
            "SELECT id, event_type, workspace_id, subject_id, payload, created_at FROM events \
             WHERE organization_id = $1 ORDER BY created_at, id",
            (self.org,),
        )
        .fetch_all(self.store.read())
        .await
    }
}

impl System<'_> {
    /// Outbox events the webhook dispatcher has not fanned out yet (tests, metrics).
    pub async fn undispatched_events(&self) -> Result<i64> {
        let (n,): (i64,) = sql("SELECT COUNT(*) AS n FROM events WHERE dispatched = 0", ())
            .fetch_one(self.store.read())
            .await?;
        Ok(n)
    }

    /// Outbox events the gamebook trigger has not looked at yet.
    pub async fn gamebook_pending_events(&self) -> Result<i64> {
        let (n,): (i64,) = sql(
            "SELECT COUNT(*) AS n FROM events WHERE gamebooks_seen = 0",
            (),
        )
        .fetch_one(self.store.read())
        .await?;
        Ok(n)
    }
}
