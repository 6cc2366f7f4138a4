//! Data connectors per workspace and their hourly ingestion volume.
//!
//! Volume rows are additive: recording `(connector, hour, events, bytes)` adds to what the
//! hour already holds (`INSERT … ON CONFLICT … DO UPDATE SET events = events + excluded.events`
//! on both engines).

use std::collections::{BTreeMap, HashMap};

use palisade_domain::{Error, Result};
use uuid::Uuid;

use crate::db::{now_micros, placeholders, sql, Params, Tx, MAX_PARAMS};
use crate::{OrgId, Tenant, WorkspaceId};

/// A stored data connector.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConnectorRow {
    #[sqlx(try_from = "String")]
    pub id: Uuid,
    #[sqlx(try_from = "String")]
    pub workspace_id: Uuid,
    pub connector_type: String,
    pub name: String,
    pub provider: String,
    pub description: Option<String>,
    pub icon: Option<String>,
    #[sqlx(try_from = "crate::db::row::Flag")]
    pub connected: bool,
    /// JSON array of `{propertyName, propertyValue}`.
    pub parameters: String,
    #[sqlx(try_from = "crate::db::row::Flag")]
    pub auto_created: bool,
    pub created_at: i64,
    pub modified_at: i64,
}

/// The editable part of a connector.
#[derive(Debug, Clone)]
pub struct ConnectorFields {
    pub connector_type: String,
    /// `Some(connector_type)` for the kinds Palisade's ingest feeds (one per workspace).
    pub ingest_kind: Option<String>,
    pub name: String,
    pub provider: String,
    pub description: Option<String>,
    pub icon: Option<String>,
    pub connected: bool,
    pub parameters: String,
}

impl ConnectorFields {
    /// The fields as bound by `create_connector` and `update_connector` (`$4`…`$11`).
    fn params(&self) -> impl Params<'_> {
        (
            &self.connector_type,
            &self.ingest_kind,
            &self.name,
            &self.provider,
            &self.description,
            &self.icon,
            self.connected,
            &self.parameters,
        )
    }
}

/// Data an ingest counts toward a connector: `events` items of `bytes` in the hour starting
/// at `hour_start`.
#[derive(Debug, Clone)]
pub struct IngestVolume {
    pub defaults: ConnectorFields,
    pub hour_start: i64,
    pub events: i64,
    pub bytes: i64,
}

/// One hour of one connector's volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct VolumeRow {
    #[sqlx(try_from = "String")]
    pub connector_id: Uuid,
    pub hour_start: i64,
    pub events: i64,
    pub bytes: i64,
}

#[derive(sqlx::FromRow)]
struct FirstHour {
    #[sqlx(try_from = "String")]
    connector_id: Uuid,
    first_hour: i64,
}

const COLS: &str = "id, workspace_id, connector_type, name, provider, description, icon, \
                    connected, parameters, auto_created, created_at, modified_at";

/// [`Tenant::count_ingest`] inside the caller's transaction; `ws` is the tenant's own.
pub(crate) async fn count_volume(
    tx: &mut Tx,
    org: &OrgId,
    ws: Uuid,
    v: &IngestVolume,
) -> Result<()> {
    let d = &v.defaults;
    let kind = d.connector_type.as_str();
    sql(
        "INSERT INTO datasources (id, organization_id, workspace_id, connector_type, ingest_kind, \
         name, provider, description, icon, connected, parameters, auto_created, created_at, modified_at) \
         VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8, 1, '[]', 1, $9, $9) \
         ON CONFLICT (workspace_id, ingest_kind) DO NOTHING",
        (Uuid::new_v4(), org, ws, kind, &d.name, &d.provider, &d.description, &d.icon, now_micros()),
    )
    .execute(&mut **tx)
    .await?;
    sql(
        "INSERT INTO datasource_volume (connector_id, hour_start, organization_id, workspace_id, events, bytes) \
         SELECT id, $3, organization_id, workspace_id, $4, $5 FROM datasources \
         WHERE organization_id = $1 AND workspace_id = $2 AND ingest_kind = $6 \
         ON CONFLICT (connector_id, hour_start) DO UPDATE SET \
         events = datasource_volume.events + excluded.events, \
         bytes = datasource_volume.bytes + excluded.bytes",
        (org, ws, v.hour_start, v.events, v.bytes, kind),
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Tenant<'_> {
    /// The connectors of a workspace, oldest first.
    pub async fn list_connectors(&self, ws: &WorkspaceId) -> Result<Vec<ConnectorRow>> {
        let ws = self.own(ws)?;
        sql(
            &format!(
                "SELECT {COLS} FROM datasources WHERE organization_id = $1 AND workspace_id = $2 \
                 ORDER BY created_at, id"
            ),
            (self.org, ws),
        )
        .fetch_all(self.store.read())
        .await
    }

    pub async fn get_connector(&self, ws: &WorkspaceId, id: Uuid) -> Result<Option<ConnectorRow>> {
        let ws = self.own(ws)?;
        sql(
            &format!(
                "SELECT {COLS} FROM datasources WHERE organization_id = $1 AND workspace_id = $2 \
                 AND id = $3"
            ),
            (self.org, ws, id),
        )
        .fetch_optional(self.store.read())
        .await
    }

    /// Creates a connector; a second connector of an ingest-fed kind in the same workspace is
    /// a `Conflict`.
    pub async fn create_connector(
        &self,
        ws: &WorkspaceId,
        f: &ConnectorFields,
    ) -> Result<ConnectorRow> {
        let id = Uuid::new_v4();
        sql(
            "INSERT INTO datasources (id, organization_id, workspace_id, connector_type, ingest_kind, \
             name, provider, description, icon, connected, parameters, auto_created, created_at, modified_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12, $12)",
            (id, self.org, self.own(ws)?),
        )
        .params(f.params())
        .bind(now_micros())
        .execute(self.store.writer())
        .await?;
        self.get_connector(ws, id)
            .await?
            .ok_or_else(|| Error::internal("created connector vanished"))
    }

    pub async fn update_connector(
        &self,
        ws: &WorkspaceId,
        id: Uuid,
        f: &ConnectorFields,
    ) -> Result<Option<ConnectorRow>> {
        let updated = sql(
            "UPDATE datasources SET connector_type = $4, ingest_kind = $5, name = $6, provider = $7, \
             description = $8, icon = $9, connected = $10, parameters = $11, modified_at = $12 \
             WHERE organization_id = $1 AND workspace_id = $2 AND id = $3",
            (self.org, self.own(ws)?, id),
        )
        .params(f.params())
        .bind(now_micros())
        .execute(self.store.writer())
        .await?;
        if updated == 0 {
            return Ok(None);
        }
        self.get_connector(ws, id).await
    }

    /// Deletes a connector and its volume history.
    pub async fn delete_connector(&self, ws: &WorkspaceId, id: Uuid) -> Result<bool> {
        let key = (self.org, self.own(ws)?, id);
        let mut tx = self.store.begin_write().await?;
        sql(
            "DELETE FROM datasource_volume WHERE organization_id = $1 AND workspace_id = $2 \
             AND connector_id = $3",
            key,
        )
        .execute(&mut *tx)
        .await?;
        let deleted = sql(
            "DELETE FROM datasources WHERE organization_id = $1 AND workspace_id = $2 AND id = $3",
            key,
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(deleted > 0)
    }

    /// Adds `(hour_start, events, bytes)` entries to a connector's volume; `false` (nothing
    /// recorded) when the workspace has no such connector. Entries of the same hour are
    /// summed first (one statement may not touch a row twice on PostgreSQL).
    pub async fn record_volume(
        &self,
        ws: &WorkspaceId,
        connector: Uuid,
        entries: &[(i64, i64, i64)],
    ) -> Result<bool> {
        let ws = self.own(ws)?;
        let mut merged: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
        for (hour, events, bytes) in entries {
            let e = merged.entry(*hour).or_default();
            e.0 = e.0.saturating_add(*events);
            e.1 = e.1.saturating_add(*bytes);
        }
        let mut tx = self.store.begin_write().await?;
        // The volume rows are keyed by connector alone: only this workspace's connector may
        // be added to.
        let exists: Option<(String,)> = sql(
            "SELECT id FROM datasources WHERE organization_id = $1 AND workspace_id = $2 AND id = $3",
            (self.org, ws, connector),
        )
        .fetch_optional(&mut *tx)
        .await?;
        if exists.is_none() {
            return Ok(false);
        }
        let rows: Vec<(i64, i64, i64)> = merged.into_iter().map(|(h, (e, b))| (h, e, b)).collect();
        for chunk in rows.chunks(MAX_PARAMS / 6) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| format!("({})", placeholders(1 + i * 6, 6)))
                .collect();
            let text = format!(
                "INSERT INTO datasource_volume (connector_id, hour_start, organization_id, workspace_id, events, bytes) \
                 VALUES {} ON CONFLICT (connector_id, hour_start) DO UPDATE SET \
                 events = datasource_volume.events + excluded.events, \
                 bytes = datasource_volume.bytes + excluded.bytes",
                values.join(", ")
            );
            let mut q = sql(&text, ());
            for (hour, events, bytes) in chunk {
                q = q
                    .bind(connector)
                    .bind(*hour)
                    .bind(self.org)
                    .bind(ws)
                    .bind(*events)
                    .bind(*bytes);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Counts ingested data toward the workspace's connector of `v.defaults.connector_type`
    /// (an ingest-fed kind), creating it from the defaults (connected, `auto_created`) if the
    /// workspace has none.
    pub async fn count_ingest(&self, ws: &WorkspaceId, v: &IngestVolume) -> Result<()> {
        let ws = self.own(ws)?;
        let mut tx = self.store.begin_write().await?;
        count_volume(&mut tx, &self.org, ws, v).await?;
        tx.commit().await
    }

    /// Volume rows of a workspace's connectors (or of one connector) with
    /// `since <= hour_start < until`, ordered by connector and hour.
    pub async fn volume(
        &self,
        ws: &WorkspaceId,
        connector: Option<Uuid>,
        since: i64,
        until: i64,
    ) -> Result<Vec<VolumeRow>> {
        sql(
            "SELECT connector_id, hour_start, events, bytes FROM datasource_volume \
             WHERE organization_id = $1 AND workspace_id = $2 AND hour_start >= $3 AND hour_start < $4 \
             AND ($5 = '' OR connector_id = $5) ORDER BY connector_id, hour_start",
            (
                self.org,
                self.own(ws)?,
                since,
                until,
                connector.map(|c| c.to_string()).unwrap_or_default(),
            ),
        )
        .fetch_all(self.store.read())
        .await
    }

    /// The first hour each connector of a workspace recorded any volume.
    pub async fn first_volume_hours(&self, ws: &WorkspaceId) -> Result<HashMap<Uuid, i64>> {
        let rows: Vec<FirstHour> = sql(
            "SELECT connector_id, MIN(hour_start) AS first_hour FROM datasource_volume \
             WHERE organization_id = $1 AND workspace_id = $2 GROUP BY connector_id",
            (self.org, self.own(ws)?),
        )
        .fetch_all(self.store.read())
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.connector_id, r.first_hour))
            .collect())
    }
}
