//! The connector engine's state (docs/connectors.md): a data source that Palisade polls
//! (`connectors`, one row per polled data source: canonical settings, sealed credentials,
//! cursor, health and when its next poll is due), the write-backs of analysts' changes to
//! pulled incidents (`connector_writebacks`, see [`writebacks`]), and on each pulled incident
//! its connector and write-back state (`incidents.connector_id`, `incidents.sync`).
//!
//! The work itself runs on the job queue (`crate::jobs`, docs/jobs.md): one [`POLL_KIND`] job
//! per connector that is not paused (keyed by the connector, re-scheduled after each poll),
//! and one [`WRITEBACK_KIND`] job per write-back (keyed by the incident). Every change that
//! touches a connector's poll job first writes the connector's row, so on PostgreSQL such
//! changes are serialized per connector by its row lock (connector row before job row).
//!
//! The store keeps what it is given: settings and the cursor are JSON text the server's
//! connector code made, the credentials are sealed by the server before they arrive here.

mod poll;
mod writebacks;

pub use poll::{ClaimedPoll, PollEnd, PollResult, PulledPage};
pub(crate) use writebacks::{changes_of, enqueue};
pub use writebacks::{ClaimedWriteBack, WriteBackChange, WriteBackEnd};

use chrono::{DateTime, Utc};
use palisade_domain::vocab::IncidentSource;
use palisade_domain::{Error, Result};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::datasources::ConnectorFields;
use crate::db::{now_micros, sql, Tx};
use crate::jobs::{enqueue_in, JobSpec};
use crate::{Tenant, WorkspaceId};

/// The job kind of connector polls: one job per connector that is not paused, keyed by the
/// connector's id (its payload too), re-scheduled after each poll.
pub const POLL_KIND: &str = "connector.poll";
/// The job kind of write-backs: one job per write-back, keyed by the incident, the
/// write-back's id as payload.
pub const WRITEBACK_KIND: &str = "connector.writeback";

/// Makes the connector's poll job due at `at` (sooner only; a leased job keeps its lease),
/// queueing one when it has none. Call it after writing the connector's row in `tx`.
pub(crate) async fn schedule_poll(tx: &mut Tx, org: Uuid, id: Uuid, at: i64) -> Result<()> {
    let key = id.to_string();
    sql(
        "UPDATE jobs SET run_at = $3 WHERE kind = $1 AND job_key = $2 AND state = 'queued' \
         AND lease_owner IS NULL AND run_at > $3",
        (POLL_KIND, key.as_str(), at),
    )
    .execute(&mut **tx)
    .await?;
    let queued: Option<(String,)> = sql(
        "SELECT id FROM jobs WHERE kind = $1 AND job_key = $2 AND state = 'queued' LIMIT 1",
        (POLL_KIND, key.as_str()),
    )
    .fetch_optional(&mut **tx)
    .await?;
    if queued.is_none() {
        let spec = JobSpec {
            kind: POLL_KIND.into(),
            key: key.clone(),
            org: Some(org),
            payload: key,
            run_at: at,
        };
        enqueue_in(tx, &[spec], crate::db::MAX_PARAMS).await?;
    }
    Ok(())
}

/// Removes the connector's poll job unless a replica holds it now (its end removes it then).
pub(crate) async fn unschedule_poll(tx: &mut Tx, id: Uuid, now: i64) -> Result<()> {
    sql(
        "DELETE FROM jobs WHERE kind = $1 AND job_key = $2 AND state = 'queued' \
         AND (lease_until IS NULL OR lease_until < $3)",
        (POLL_KIND, id.to_string(), now),
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// An incident's write-back state: `Pending`, `Synced` or `Failed`, the last error, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncRow {
    pub state: String,
    pub last_error: Option<String>,
    pub at: DateTime<Utc>,
}

/// A sync column that does not parse reads as absent (it is status, not data).
impl From<crate::db::row::NullText> for Option<SyncRow> {
    fn from(v: crate::db::row::NullText) -> Self {
        v.0.and_then(|s| serde_json::from_str(&s).ok())
    }
}

pub(crate) fn sync_json(state: &str, error: Option<&str>) -> String {
    serde_json::to_string(&SyncRow {
        state: state.into(),
        last_error: error.map(str::to_string),
        at: palisade_domain::time::from_micros(now_micros()),
    })
    .unwrap_or_default()
}

/// What makes a data source a polled connector.
#[derive(Clone)]
pub struct ConnectorSetup {
    /// The connector kind (`MicrosoftSentinel`, …).
    pub kind: String,
    pub source: IncidentSource,
    /// Canonical settings JSON.
    pub settings: String,
    /// `None` on an update keeps the sealed credentials.
    pub sealed_credentials: Option<String>,
    pub start_from: DateTime<Utc>,
    pub poll_interval_secs: i64,
    /// Start from `start_from` again (new connector, or settings or `startFrom` changed).
    pub reset_cursor: bool,
}

impl std::fmt::Debug for ConnectorSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorSetup")
            .field("kind", &self.kind)
            .field("settings", &self.settings)
            .field("start_from", &self.start_from)
            .finish_non_exhaustive()
    }
}

/// A polled connector's stored state.
#[derive(Clone, sqlx::FromRow)]
pub struct ConnectorEngineRow {
    #[sqlx(try_from = "String")]
    pub datasource_id: Uuid,
    #[sqlx(try_from = "String")]
    pub workspace_id: Uuid,
    pub kind: String,
    #[sqlx(try_from = "crate::db::row::Vocab")]
    pub source: IncidentSource,
    pub settings: String,
    /// Sealed.
    pub credentials: String,
    pub settings_version: i64,
    #[sqlx(try_from = "crate::db::row::Micros")]
    pub start_from: DateTime<Utc>,
    pub poll_interval_secs: i64,
    pub cursor: Option<String>,
    #[sqlx(try_from = "crate::db::row::Flag")]
    pub paused: bool,
    pub state: String,
    #[sqlx(try_from = "crate::db::row::NullMicros")]
    pub last_poll_at: Option<DateTime<Utc>>,
    #[sqlx(try_from = "crate::db::row::NullMicros")]
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub pulled_total: i64,
    pub consecutive_failures: i64,
    #[sqlx(try_from = "crate::db::row::Micros")]
    pub next_poll_at: DateTime<Utc>,
    /// Write-backs waiting or failed (filled by the status read).
    #[sqlx(default)]
    pub writebacks_pending: i64,
    #[sqlx(default)]
    pub writebacks_failed: i64,
}

impl std::fmt::Debug for ConnectorEngineRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorEngineRow")
            .field("datasource_id", &self.datasource_id)
            .field("kind", &self.kind)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

pub(crate) const ENGINE_COLS: &str =
    "c.datasource_id, c.workspace_id, c.kind, c.source, c.settings, c.credentials, \
     c.settings_version, c.start_from, c.poll_interval_secs, c.cursor, c.paused, c.state, \
     c.last_poll_at, c.last_success_at, c.last_error, c.pulled_total, c.consecutive_failures, \
     c.next_poll_at";

const COUNTS: &str =
    "(SELECT COUNT(*) FROM connector_writebacks w WHERE w.connector_id = c.datasource_id \
     AND w.state = 'pending') AS writebacks_pending, \
     (SELECT COUNT(*) FROM connector_writebacks w WHERE w.connector_id = c.datasource_id \
     AND w.state = 'failed') AS writebacks_failed";

impl Tenant<'_> {
    /// The polled connectors of a workspace (with their write-back counts).
    pub async fn connector_engines(&self, ws: &WorkspaceId) -> Result<Vec<ConnectorEngineRow>> {
        sql(
            &format!(
                "SELECT {ENGINE_COLS}, {COUNTS} FROM connectors c WHERE c.organization_id = $1 \
                 AND c.workspace_id = $2"
            ),
            (self.org, self.own(ws)?),
        )
        .fetch_all(self.store.read())
        .await
    }

    /// A polled connector's state (with its write-back counts); `None` for a data source that
    /// is not polled, or not the workspace's.
    pub async fn connector_engine(
        &self,
        ws: &WorkspaceId,
        id: Uuid,
    ) -> Result<Option<ConnectorEngineRow>> {
        sql(
            &format!(
                "SELECT {ENGINE_COLS}, {COUNTS} FROM connectors c WHERE c.organization_id = $1 \
                 AND c.workspace_id = $2 AND c.datasource_id = $3"
            ),
            (self.org, self.own(ws)?, id),
        )
        .fetch_optional(self.store.read())
        .await
    }

    /// Creates a polled connector: a new data source, or, when the workspace has an
    /// auto-created data source of the same ingest kind that is not polled yet, that one
    /// upgraded in place (same id and volume history). Another data source of the kind is a
    /// `Conflict`. Returns the data source's id.
    pub async fn create_polled_connector(
        &self,
        ws: &WorkspaceId,
        f: &ConnectorFields,
        setup: &ConnectorSetup,
    ) -> Result<Uuid> {
        let w = self.own(ws)?;
        let mut tx = self.store.begin_write().await?;
        let existing: Option<(String, i64)> = sql(
            "SELECT d.id, d.auto_created FROM datasources d WHERE d.organization_id = $1 \
             AND d.workspace_id = $2 AND d.ingest_kind = $3 \
             AND NOT EXISTS (SELECT 1 FROM connectors c WHERE c.datasource_id = d.id)",
            (self.org, w, &f.ingest_kind),
        )
        .fetch_optional(&mut *tx)
        .await?;
        let t = now_micros();
        let id = match existing {
            Some((id, 1)) => {
                let id: Uuid = id.parse().map_err(Error::internal)?;
                sql(
                    "UPDATE datasources SET name = $4, provider = $5, description = $6, icon = $7, \
                     connected = $8, parameters = $9, auto_created = 0, modified_at = $10 \
                     WHERE organization_id = $1 AND workspace_id = $2 AND id = $3",
                    (self.org, w, id, &f.name, &f.provider, &f.description, &f.icon),
                )
                .params((f.connected, &f.parameters, t))
                .execute(&mut *tx)
                .await?;
                id
            }
            _ => {
                let id = Uuid::new_v4();
                sql(
                    "INSERT INTO datasources (id, organization_id, workspace_id, connector_type, ingest_kind, \
                     name, provider, description, icon, connected, parameters, auto_created, created_at, modified_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12, $12)",
                    (id, self.org, w, &f.connector_type, &f.ingest_kind, &f.name, &f.provider),
                )
                .params((&f.description, &f.icon, f.connected, &f.parameters, t))
                .execute(&mut *tx)
                .await?;
                id
            }
        };
        let sealed = setup
            .sealed_credentials
            .as_deref()
            .ok_or_else(|| Error::internal("a new connector needs credentials"))?;
        sql(
            "INSERT INTO connectors (datasource_id, organization_id, workspace_id, kind, source, settings, \
             credentials, settings_version, start_from, poll_interval_secs, cursor, paused, state, \
             pulled_total, consecutive_failures, next_poll_at, created_at, modified_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, NULL, 0, 'Healthy', 0, 0, $10, $10, $10)",
            (id, self.org, w, setup.kind.as_str(), setup.source, setup.settings.as_str(), sealed),
        )
        .params((setup.start_from, setup.poll_interval_secs, t))
        .execute(&mut *tx)
        .await?;
        schedule_poll(&mut tx, self.org.uuid(), id, t).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Changes a polled connector's settings, credentials, start or interval (the data
    /// source's own fields are updated by `update_connector`). A reset starts the cursor
    /// again; new settings or credentials bump the settings version. `false` when there is no
    /// such polled connector.
    pub async fn update_polled_connector(
        &self,
        ws: &WorkspaceId,
        id: Uuid,
        setup: &ConnectorSetup,
    ) -> Result<bool> {
        let w = self.own(ws)?;
        let t = now_micros();
        let mut tx = self.store.begin_write().await?;
        let n = sql(
            "UPDATE connectors SET settings = $4, credentials = COALESCE($5, credentials), \
             settings_version = settings_version + 1, start_from = $6, poll_interval_secs = $7, \
             cursor = CASE WHEN $8 = 1 THEN NULL ELSE cursor END, modified_at = $9, next_poll_at = $9, \
             consecutive_failures = 0 \
             WHERE organization_id = $1 AND workspace_id = $2 AND datasource_id = $3",
            (self.org, w, id, setup.settings.as_str()),
        )
        .params((
            setup.sealed_credentials.as_deref(),
            setup.start_from,
            setup.poll_interval_secs,
            setup.reset_cursor as i64,
            t,
        ))
        .execute(&mut *tx)
        .await?;
        if n > 0 && !self.connector_paused_in(&mut tx, id).await? {
            schedule_poll(&mut tx, self.org.uuid(), id, t).await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Pauses or resumes polling: a paused connector has no poll job; resuming (and
    /// [`Tenant::request_poll`]) makes a poll due now. `false` when there is no such polled
    /// connector.
    pub async fn set_connector_paused(
        &self,
        ws: &WorkspaceId,
        id: Uuid,
        paused: bool,
    ) -> Result<bool> {
        let t = now_micros();
        let mut tx = self.store.begin_write().await?;
        let n = sql(
            "UPDATE connectors SET paused = $4, next_poll_at = $5, modified_at = $5 \
             WHERE organization_id = $1 AND workspace_id = $2 AND datasource_id = $3",
            (self.org, self.own(ws)?, id, paused, t),
        )
        .execute(&mut *tx)
        .await?;
        if n > 0 {
            if paused {
                unschedule_poll(&mut tx, id, t).await?;
            } else {
                schedule_poll(&mut tx, self.org.uuid(), id, t).await?;
            }
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Makes a poll due now (`sync`): the poll job's due time is moved to now, or, while a
    /// replica works it, the request is kept in `next_poll_at` for that poll's end. `false`
    /// when there is no such polled connector.
    pub async fn request_poll(&self, ws: &WorkspaceId, id: Uuid) -> Result<bool> {
        let t = now_micros();
        let mut tx = self.store.begin_write().await?;
        let n = sql(
            "UPDATE connectors SET next_poll_at = $4 \
             WHERE organization_id = $1 AND workspace_id = $2 AND datasource_id = $3",
            (self.org, self.own(ws)?, id, t),
        )
        .execute(&mut *tx)
        .await?;
        if n > 0 && !self.connector_paused_in(&mut tx, id).await? {
            schedule_poll(&mut tx, self.org.uuid(), id, t).await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    async fn connector_paused_in(&self, tx: &mut Tx, id: Uuid) -> Result<bool> {
        let row: Option<(i64,)> = sql(
            "SELECT paused FROM connectors WHERE organization_id = $1 AND datasource_id = $2",
            (self.org, id),
        )
        .fetch_optional(&mut **tx)
        .await?;
        Ok(row.is_some_and(|(p,)| p != 0))
    }
}

/// Marks incidents' write-back state inside a transaction.
pub(crate) async fn set_sync(
    tx: &mut Tx,
    workspace: Uuid,
    source: IncidentSource,
    id: &str,
    state: &str,
    error: Option<&str>,
) -> Result<()> {
    sql(
        "UPDATE incidents SET sync = $4 WHERE workspace_id = $1 AND source = $2 AND id = $3",
        (workspace, source, id, sync_json(state, error)),
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
