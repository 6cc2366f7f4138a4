//! The outbox: every state change that others hear about writes an `events` row in the same
//! transaction as the change. The webhook dispatcher and the gamebook trigger consume it
//! (`webhooks/deliveries.rs`, `gamebooks/runs/trigger.rs`), each through a cursor of its own
//! ([`OutboxCursor`], the `outbox_consumers` table).

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
    /// Outbox events consumer `name` has not consumed yet (tests, metrics; events of
    /// transactions still below the horizon count too).
    pub async fn outbox_lag(&self, name: &str) -> Result<i64> {
        let (n,): (i64,) = sql(
            "SELECT COUNT(*) AS n FROM events e JOIN outbox_consumers c ON c.name = $1 \
             WHERE (e.txid, e.seq) > (c.txid, c.seq)",
            (name,),
        )
        .fetch_one(self.store.read())
        .await?;
        Ok(n)
    }

    /// Outbox events the webhook dispatcher has not fanned out yet (tests, metrics).
    pub async fn undispatched_events(&self) -> Result<i64> {
        self.outbox_lag(WEBHOOKS).await
    }

    /// Outbox events the gamebook trigger has not looked at yet.
    pub async fn gamebook_pending_events(&self) -> Result<i64> {
        self.outbox_lag(GAMEBOOKS).await
    }

    /// Registers an outbox consumer (idempotent): a new one starts after the newest event
    /// written so far, or before the oldest still kept when `from_start`.
    pub async fn register_consumer(&self, name: &str, from_start: bool) -> Result<()> {
        let (txid, seq): (i64, i64) = if from_start {
            (0, 0)
        } else {
            sql(
                "SELECT txid, seq FROM events ORDER BY txid DESC, seq DESC LIMIT 1",
                (),
            )
            .fetch_optional(self.store.read())
            .await?
            .unwrap_or((0, 0))
        };
        sql(
            "INSERT INTO outbox_consumers (name, txid, seq, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO NOTHING",
            (name, txid, seq, crate::db::now_micros()),
        )
        .execute(self.store.writer())
        .await?;
        Ok(())
    }

    /// Deletes outbox events created before `before` that every consumer has consumed.
    pub async fn purge_events(&self, before: i64) -> Result<u64> {
        sql(
            "DELETE FROM events WHERE created_at < $1 AND NOT EXISTS (SELECT 1 FROM outbox_consumers c \
             WHERE (events.txid, events.seq) > (c.txid, c.seq))",
            (before,),
        )
        .execute(self.store.writer())
        .await
    }
}

/// The webhook dispatcher's consumer name.
pub(crate) const WEBHOOKS: &str = "webhooks";
/// The gamebook trigger's consumer name.
pub(crate) const GAMEBOOKS: &str = "gamebooks";

/// An outbox event's position: consumers read events in `(txid, seq)` order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, sqlx::FromRow)]
pub struct Position {
    pub txid: i64,
    pub seq: i64,
}

/// The horizon on PostgreSQL: the oldest transaction still running **in this database**, or
/// the next transaction id when none is. From one snapshot: its running transactions (`xip`)
/// that `pg_stat_activity`, read just after, shows as this database's; a transaction that ended
/// in between has committed (visible to the next statement) or rolled back, and one that
/// started in between has an id above the snapshot's `xmax`. Other databases' transactions
/// (transaction ids are cluster-wide) do not hold it back. When `pg_stat_activity` hides other
/// roles' sessions from this one (`<insufficient privilege>`), the cluster-wide `xmin` is used.
/// Prepared (two-phase) transactions are not in `pg_stat_activity`; Palisade does not use them.
const HORIZON: &str = "WITH s AS (SELECT pg_current_snapshot() AS snap) SELECT CASE \
     WHEN EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() \
       AND query = '<insufficient privilege>') \
     THEN CAST(CAST(pg_snapshot_xmin(s.snap) AS TEXT) AS BIGINT) \
     ELSE COALESCE((SELECT MIN(CAST(CAST(x AS TEXT) AS BIGINT)) FROM pg_snapshot_xip(s.snap) AS x \
       WHERE CAST(CAST(x AS TEXT) AS BIGINT) % 4294967296 IN (SELECT CAST(CAST(backend_xid AS TEXT) AS BIGINT) \
       FROM pg_stat_activity WHERE datname = current_database() AND backend_xid IS NOT NULL)), \
       CAST(CAST(pg_snapshot_xmax(s.snap) AS TEXT) AS BIGINT)) END FROM s";

/// One consumer's cursor, locked for one transaction (see docs/jobs.md, "The outbox
/// cursor").
///
/// On PostgreSQL, `seq` comes from a sequence and is taken at insert, while events become
/// visible at commit: a transaction that took seq 7 can commit after one that took seq 8, so
/// a cursor on `seq` alone would pass 7 before it is visible and skip it for good. Each event
/// therefore records the id of its transaction (`txid`), and a consumer reads only events of
/// transactions older than the oldest one of this database still running when it looked
/// ([`HORIZON`]): no event below that horizon can appear later. Within the horizon, `(txid, seq)`
/// is a total order that never gains rows behind the cursor. On SQLite the single writer
/// commits in `seq` order and `txid` is 0: the horizon is unbounded.
pub(crate) struct OutboxCursor {
    name: &'static str,
    pub(crate) at: Position,
    horizon: i64,
}

impl OutboxCursor {
    /// Reads the horizon, then locks consumer `name`'s cursor in `tx`, which must not have
    /// written yet. `None` when another replica's transaction holds the cursor (PostgreSQL);
    /// on SQLite the write lock `tx` holds already serializes the consumers.
    pub(crate) async fn open(
        tx: &mut Tx,
        backend: crate::Backend,
        name: &'static str,
    ) -> Result<Option<OutboxCursor>> {
        let (horizon, lock) = match backend {
            crate::Backend::Postgres => {
                // First, before the lock gives this transaction an id of its own.
                let (h,): (i64,) = sql(HORIZON, ()).fetch_one(&mut **tx).await?;
                (h, " FOR UPDATE SKIP LOCKED")
            }
            crate::Backend::Sqlite => (i64::MAX, ""),
        };
        let at: Option<(i64, i64)> = sql(
            &format!("SELECT txid, seq FROM outbox_consumers WHERE name = $1{lock}"),
            (name,),
        )
        .fetch_optional(&mut **tx)
        .await?;
        Ok(at.map(|(txid, seq)| OutboxCursor {
            name,
            at: Position { txid, seq },
            horizon,
        }))
    }

    /// The condition selecting the events after the cursor and below the horizon, with its
    /// three parameters from `$first` on; order by `txid, seq`.
    pub(crate) fn after(&self, first: usize) -> String {
        format!(
            "(txid, seq) > (${}, ${}) AND txid < ${}",
            first,
            first + 1,
            first + 2
        )
    }

    /// The parameters of [`OutboxCursor::after`].
    pub(crate) fn params(&self) -> (i64, i64, i64) {
        (self.at.txid, self.at.seq, self.horizon)
    }

    /// Moves the cursor to `to` (the last event consumed) in `tx`.
    pub(crate) async fn advance(&self, tx: &mut Tx, to: Position) -> Result<()> {
        sql(
            "UPDATE outbox_consumers SET txid = $2, seq = $3, updated_at = $4 WHERE name = $1",
            (self.name, to.txid, to.seq, crate::db::now_micros()),
        )
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

/// Is there an event past consumer `name`'s cursor? A read, so an idle consumer does not take
/// the write lock.
pub(crate) async fn any_after(store: &crate::Store, name: &str) -> Result<bool> {
    let row: Option<(i64,)> = sql(
        "SELECT e.seq FROM events e JOIN outbox_consumers c ON c.name = $1 \
         WHERE (e.txid, e.seq) > (c.txid, c.seq) LIMIT 1",
        (name,),
    )
    .fetch_optional(store.read())
    .await?;
    Ok(row.is_some())
}
