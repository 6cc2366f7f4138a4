//! Data connectors per workspace and their hourly ingestion volume.
//!
//! Volume rows are additive: recording `(connector, hour, events, bytes)` adds to what the
//! hour already holds (`INSERT … ON CONFLICT … DO UPDATE SET events = events + excluded.events`
//! on both engines).

use std::collections::{BTreeMap, HashMap};

use crate::OrgId;
use palisade_domain::Result;
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use uuid::Uuid;

use crate::db::{
    db_err, get_bool, get_i64, get_opt_str, get_str, get_uuid, now_micros, MAX_PARAMS,
};
use crate::Store;

/// A stored data connector.
#[derive(Debug, Clone)]
pub struct ConnectorRow {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub connector_type: String,
    pub name: String,
    pub provider: String,
    pub description: Option<String>,
    pub icon: Option<String>,
    pub connected: bool,
    /// JSON array of `{propertyName, propertyValue}`.
    pub parameters: String,
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

/// Data an ingest counts toward a connector: `events` items of `bytes` in the hour starting
/// at `hour_start`.
#[derive(Debug, Clone)]
pub struct IngestVolume {
    pub defaults: ConnectorFields,
    pub hour_start: i64,
    pub events: i64,
    pub bytes: i64,
}

/// [`Store::count_ingest`] inside the caller's transaction.
pub(crate) async fn count_volume(
    tx: &mut Transaction<'_, Any>,
    org: &OrgId,
    ws: Uuid,
    v: &IngestVolume,
) -> Result<()> {
    let kind = v.defaults.connector_type.as_str();
    sqlx::query(
        "INSERT INTO datasources (id, organization_id, workspace_id, connector_type, ingest_kind, \
         name, provider, description, icon, connected, parameters, auto_created, created_at, modified_at) \
         VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8, 1, '[]', 1, $9, $9) \
         ON CONFLICT (workspace_id, ingest_kind) DO NOTHING",
    )
    .bind(Uuid::new_v4().to_string())
    .bind(org.to_string())
    .bind(ws.to_string())
    .bind(kind)
    .bind(&v.defaults.name)
    .bind(&v.defaults.provider)
    .bind(v.defaults.description.clone())
    .bind(v.defaults.icon.clone())
    .bind(now_micros())
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    sqlx::query(
        "INSERT INTO datasource_volume (connector_id, hour_start, organization_id, workspace_id, events, bytes) \
         SELECT id, $3, organization_id, workspace_id, $4, $5 FROM datasources \
         WHERE organization_id = $1 AND workspace_id = $2 AND ingest_kind = $6 \
         ON CONFLICT (connector_id, hour_start) DO UPDATE SET \
         events = datasource_volume.events + excluded.events, \
         bytes = datasource_volume.bytes + excluded.bytes",
    )
    .bind(org.to_string())
    .bind(ws.to_string())
    .bind(v.hour_start)
    .bind(v.events)
    .bind(v.bytes)
    .bind(kind)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// One hour of one connector's volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VolumeRow {
    pub connector_id: Uuid,
    pub hour_start: i64,
    pub events: i64,
    pub bytes: i64,
}

const COLS: &str =
    "id, workspace_id, connector_type, name, provider, description, icon, connected, \
                    parameters, auto_created, created_at, modified_at";

fn connector_from(r: &AnyRow) -> Result<ConnectorRow> {
    Ok(ConnectorRow {
        id: get_uuid(r, "id")?,
        workspace_id: get_uuid(r, "workspace_id")?,
        connector_type: get_str(r, "connector_type")?,
        name: get_str(r, "name")?,
        provider: get_str(r, "provider")?,
        description: get_opt_str(r, "description")?,
        icon: get_opt_str(r, "icon")?,
        connected: get_bool(r, "connected")?,
        parameters: get_str(r, "parameters")?,
        auto_created: get_bool(r, "auto_created")?,
        created_at: get_i64(r, "created_at")?,
        modified_at: get_i64(r, "modified_at")?,
    })
}

impl Store {
    /// The connectors of a workspace, oldest first.
    pub async fn list_connectors(&self, org: &OrgId, ws: Uuid) -> Result<Vec<ConnectorRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLS} FROM datasources WHERE organization_id = $1 AND workspace_id = $2 \
             ORDER BY created_at, id"
        ))
        .bind(org.to_string())
        .bind(ws.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(connector_from).collect()
    }

    pub async fn get_connector(
        &self,
        org: &OrgId,
        ws: Uuid,
        id: Uuid,
    ) -> Result<Option<ConnectorRow>> {
        let row = sqlx::query(&format!(
            "SELECT {COLS} FROM datasources WHERE organization_id = $1 AND workspace_id = $2 AND id = $3"
        ))
        .bind(org.to_string())
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.as_ref().map(connector_from).transpose()
    }

    /// Creates a connector; a second connector of an ingest-fed kind in the same workspace is
    /// a `Conflict`.
    pub async fn create_connector(
        &self,
        org: &OrgId,
        ws: Uuid,
        f: &ConnectorFields,
    ) -> Result<ConnectorRow> {
        let id = Uuid::new_v4();
        let now = now_micros();
        sqlx::query(
            "INSERT INTO datasources (id, organization_id, workspace_id, connector_type, ingest_kind, \
             name, provider, description, icon, connected, parameters, auto_created, created_at, modified_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12, $12)",
        )
        .bind(id.to_string())
        .bind(org.to_string())
        .bind(ws.to_string())
        .bind(&f.connector_type)
        .bind(f.ingest_kind.clone())
        .bind(&f.name)
        .bind(&f.provider)
        .bind(f.description.clone())
        .bind(f.icon.clone())
        .bind(f.connected as i64)
        .bind(&f.parameters)
        .bind(now)
        .execute(self.writer())
        .await
        .map_err(db_err)?;
        self.get_connector(org, ws, id)
            .await?
            .ok_or_else(|| palisade_domain::Error::internal("created connector vanished"))
    }

    pub async fn update_connector(
        &self,
        org: &OrgId,
        ws: Uuid,
        id: Uuid,
        f: &ConnectorFields,
    ) -> Result<Option<ConnectorRow>> {
        let done = sqlx::query(
            "UPDATE datasources SET connector_type = $4, ingest_kind = $5, name = $6, provider = $7, \
             description = $8, icon = $9, connected = $10, parameters = $11, modified_at = $12 \
             WHERE organization_id = $1 AND workspace_id = $2 AND id = $3",
        )
        .bind(org.to_string())
        .bind(ws.to_string())
        .bind(id.to_string())
        .bind(&f.connector_type)
        .bind(f.ingest_kind.clone())
        .bind(&f.name)
        .bind(&f.provider)
        .bind(f.description.clone())
        .bind(f.icon.clone())
        .bind(f.connected as i64)
        .bind(&f.parameters)
        .bind(now_micros())
        .execute(self.writer())
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.get_connector(org, ws, id).await
    }

    /// Deletes a connector and its volume history.
    pub async fn delete_connector(&self, org: &OrgId, ws: Uuid, id: Uuid) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "DELETE FROM datasource_volume WHERE organization_id = $1 AND workspace_id = $2 AND connector_id = $3",
        )
        .bind(org.to_string())
        .bind(ws.to_string())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let done = sqlx::query(
            "DELETE FROM datasources WHERE organization_id = $1 AND workspace_id = $2 AND id = $3",
        )
        .bind(org.to_string())
        .bind(ws.to_string())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(done.rows_affected() > 0)
    }

    /// Adds `(hour_start, events, bytes)` entries to a connector's volume. Entries of the same
    /// hour are summed first (one statement may not touch a row twice on PostgreSQL).
    pub async fn record_volume(
        &self,
        org: &OrgId,
        ws: Uuid,
        connector: Uuid,
        entries: &[(i64, i64, i64)],
    ) -> Result<()> {
        let mut merged: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
        for (hour, events, bytes) in entries {
            let e = merged.entry(*hour).or_default();
            e.0 = e.0.saturating_add(*events);
            e.1 = e.1.saturating_add(*bytes);
        }
        let rows: Vec<(i64, i64, i64)> = merged.into_iter().map(|(h, (e, b))| (h, e, b)).collect();
        let mut tx = self.begin_write().await?;
        for chunk in rows.chunks(MAX_PARAMS / 6) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let b = i * 6;
                    format!(
                        "(${}, ${}, ${}, ${}, ${}, ${})",
                        b + 1,
                        b + 2,
                        b + 3,
                        b + 4,
                        b + 5,
                        b + 6
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO datasource_volume (connector_id, hour_start, organization_id, workspace_id, events, bytes) \
                 VALUES {} ON CONFLICT (connector_id, hour_start) DO UPDATE SET \
                 events = datasource_volume.events + excluded.events, \
                 bytes = datasource_volume.bytes + excluded.bytes",
                values.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for (hour, events, bytes) in chunk {
                q = q
                    .bind(connector.to_string())
                    .bind(*hour)
                    .bind(org.to_string())
                    .bind(ws.to_string())
                    .bind(*events)
                    .bind(*bytes);
            }
            q.execute(&mut *tx).await.map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }

    /// Counts ingested data toward the workspace's connector of `v.defaults.connector_type`
    /// (an ingest-fed kind), creating it from the defaults (connected, `auto_created`) if the
    /// workspace has none.
    pub async fn count_ingest(&self, org: &OrgId, ws: Uuid, v: &IngestVolume) -> Result<()> {
        let mut tx = self.begin_write().await?;
        count_volume(&mut tx, org, ws, v).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }

    /// Volume rows of a workspace's connectors (or of one connector) with
    /// `since <= hour_start < until`, ordered by connector and hour.
    pub async fn volume(
        &self,
        org: &OrgId,
        ws: Uuid,
        connector: Option<Uuid>,
        since: i64,
        until: i64,
    ) -> Result<Vec<VolumeRow>> {
        let rows = sqlx::query(
            "SELECT connector_id, hour_start, events, bytes FROM datasource_volume \
             WHERE organization_id = $1 AND workspace_id = $2 AND hour_start >= $3 AND hour_start < $4 \
             AND ($5 = '' OR connector_id = $5) ORDER BY connector_id, hour_start",
        )
        .bind(org.to_string())
        .bind(ws.to_string())
        .bind(since)
        .bind(until)
        .bind(connector.map(|c| c.to_string()).unwrap_or_default())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(VolumeRow {
                    connector_id: get_uuid(r, "connector_id")?,
                    hour_start: get_i64(r, "hour_start")?,
                    events: get_i64(r, "events")?,
                    bytes: get_i64(r, "bytes")?,
                })
            })
            .collect()
    }

    /// The first hour each connector of a workspace recorded any volume.
    pub async fn first_volume_hours(&self, org: &OrgId, ws: Uuid) -> Result<HashMap<Uuid, i64>> {
        let rows = sqlx::query(
            "SELECT connector_id, MIN(hour_start) AS first_hour FROM datasource_volume \
             WHERE organization_id = $1 AND workspace_id = $2 GROUP BY connector_id",
        )
        .bind(org.to_string())
        .bind(ws.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| Ok((get_uuid(r, "connector_id")?, get_i64(r, "first_hour")?)))
            .collect()
    }
}
