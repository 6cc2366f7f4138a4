//! Data connectors, their hourly volume, and anomaly detection over that volume
//! (docs/datasources.md).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use palisade_domain::anomaly::{detect, examined_window, hour_floor, BASELINE_DAYS, HOUR_US};
use palisade_domain::time::{from_micros, to_micros};
use palisade_domain::{Error, Result, Validator};
use palisade_store::{ConnectorFields, ConnectorRow, IngestVolume, Store, WorkspaceId};
use palisade_types::datasources::*;
use uuid::Uuid;

use crate::access::{OrgCtx, WorkspaceCtx};
use crate::auth::Principal;

const MAX_NAME: usize = 200;
const MAX_TEXT: usize = 2000;
const MAX_PARAMETERS: usize = 50;
const MAX_VOLUME_ENTRIES: usize = 1000;
/// How far back volume may be recorded.
const MAX_VOLUME_AGE_DAYS: i64 = 90;
/// The longest range `GET …/volume` may span (as a `Custom` anomaly window).
const MAX_RANGE_DAYS: i64 = palisade_domain::anomaly::MAX_RANGE_DAYS;

#[derive(Clone)]
pub struct DataSourceService {
    pub(super) store: Store,
    pub(super) connectors: crate::connectors::Connectors,
}

pub(super) fn not_found(id: impl std::fmt::Display) -> Error {
    Error::not_found_target("Data connector", id, "dataConnectorId")
}

fn to_wire(r: &ConnectorRow) -> DataSource {
    DataSource {
        name: r.name.clone(),
        icon: r.icon.clone(),
        data_connector_id: r.id,
        provider: r.provider.clone(),
        description: r.description.clone(),
        connector_type: ConnectorType::parse(&r.connector_type).unwrap_or(ConnectorType::Custom),
        connected: r.connected,
        modification_date_time: from_micros(r.modified_at),
        parameters_helper: serde_json::from_str(&r.parameters).unwrap_or_default(),
        workspace_id: r.workspace_id,
        created_date_time: from_micros(r.created_at),
        auto_created: r.auto_created,
        poll_interval_secs: None,
        start_from: None,
        status: None,
    }
}

fn parse_instant(v: &mut Validator, path: &str, raw: Option<&str>) -> Option<DateTime<Utc>> {
    v.query_instant(path, raw)
}

/// The connector Palisade's ingest of `kind` creates when the workspace has none yet: the
/// kind's default name, provider and description, connected.
pub fn ingest_connector(kind: ConnectorType) -> ConnectorFields {
    let (name, provider, description) = kind.defaults();
    ConnectorFields {
        connector_type: kind.as_str().into(),
        ingest_kind: Some(kind.as_str().into()),
        name: name.into(),
        provider: provider.into(),
        description: Some(description.into()),
        icon: None,
        connected: true,
        parameters: "[]".into(),
    }
}

/// What an ingest of `events` items (`bytes` of request JSON) counts toward the workspace's
/// connector of `kind`, created from [`ingest_connector`] if the workspace has none yet.
pub fn ingest_volume(kind: ConnectorType, events: usize, bytes: usize) -> IngestVolume {
    IngestVolume {
        defaults: ingest_connector(kind),
        hour_start: to_micros(hour_floor(Utc::now())),
        events: events as i64,
        bytes: bytes as i64,
    }
}

/// Counts data Palisade ingested toward the workspace's connector of `kind`, in a transaction
/// of its own. Volume is accounting, not the data itself: a failure is logged and never fails
/// the ingest that called it. (Incident ingest counts inside its own transaction instead.)
pub async fn count_ingest(
    store: &Store,
    ws: &WorkspaceId,
    kind: ConnectorType,
    events: usize,
    bytes: usize,
) {
    if events == 0 {
        return;
    }
    if let Err(e) = store
        .tenant(&ws.org())
        .count_ingest(ws, &ingest_volume(kind, events, bytes))
        .await
    {
        tracing::warn!(error = %e, workspace = %ws, kind = kind.as_str(), "could not count ingest volume");
    }
}

/// Parses `workspaceIds`; `None` means every visible workspace. Workspaces the caller holds
/// no role on (including other organizations') are dropped silently.
fn selected_workspaces(
    v: &mut Validator,
    p: &Principal,
    names: &HashMap<Uuid, String>,
    ids: Option<&[String]>,
) -> Vec<(WorkspaceId, String)> {
    let mut out: Vec<(WorkspaceId, String)> = Vec::new();
    let wanted: Option<Vec<Uuid>> = ids.filter(|l| !l.is_empty()).map(|list| {
        list.iter()
            .enumerate()
            .filter_map(|(i, raw)| v.uuid(&format!("workspaceIds[{i}]"), Some(raw)))
            .collect()
    });
    let mut seen = HashSet::new();
    match wanted {
        Some(list) => {
            for id in list {
                if let (Some(name), Some((ws, _))) = (names.get(&id), p.workspace(&id)) {
                    if seen.insert(id) {
                        out.push((ws, name.clone()));
                    }
                }
            }
        }
        None => {
            for (id, name) in names {
                if let Some((ws, _)) = p.workspace(id) {
                    out.push((ws, name.clone()));
                }
            }
            out.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.uuid().cmp(&b.0.uuid())));
        }
    }
    out
}

impl DataSourceService {
    pub fn new(store: Store, connectors: crate::connectors::Connectors) -> Self {
        DataSourceService { store, connectors }
    }

    pub(super) async fn row(&self, ws: &WorkspaceId, id: Uuid) -> Result<ConnectorRow> {
        self.store
            .tenant(&ws.org())
            .get_connector(ws, id)
            .await?
            .ok_or_else(|| not_found(id))
    }

    async fn connectors(&self, ws: &WorkspaceId) -> Result<Vec<DataSource>> {
        let tenant = self.store.tenant(&ws.org());
        let rows = tenant.list_connectors(ws).await?;
        let engines: HashMap<Uuid, _> = tenant
            .connector_engines(ws)
            .await?
            .into_iter()
            .map(|e| (e.datasource_id, e))
            .collect();
        Ok(rows
            .iter()
            .map(|r| match engines.get(&r.id) {
                Some(e) => super::connectors::with_engine(to_wire(r), e),
                None => to_wire(r),
            })
            .collect())
    }

    pub async fn list(&self, ctx: &WorkspaceCtx) -> Result<Vec<DataSource>> {
        self.connectors(&ctx.workspace).await
    }

    pub async fn get(&self, ctx: &WorkspaceCtx, id: Uuid) -> Result<DataSource> {
        let row = self.row(&ctx.workspace, id).await?;
        let tenant = self.store.tenant(&ctx.org);
        Ok(match tenant.connector_engine(&ctx.workspace, id).await? {
            Some(e) => super::connectors::with_engine(to_wire(&row), &e),
            None => to_wire(&row),
        })
    }

    pub(super) fn fields(
        v: &mut Validator,
        req: &DataSourceRequest,
        base: Option<&ConnectorRow>,
    ) -> Option<ConnectorFields> {
        let kind = match (&req.connector_type, base) {
            (None, Some(b)) => ConnectorType::parse(&b.connector_type),
            (None, None) => {
                v.add(
                    "connectorType",
                    format!(
                        "'connectorType' is required. Allowed: {}.",
                        ConnectorType::allowed()
                    ),
                );
                None
            }
            (Some(raw), _) => {
                let k = ConnectorType::parse(raw);
                if k.is_none() {
                    let shown: String = raw.chars().take(64).collect();
                    v.add(
                        "connectorType",
                        format!(
                            "'{shown}' is not a connector type. Allowed: {}.",
                            ConnectorType::allowed()
                        ),
                    );
                }
                k
            }
        };
        let text = |v: &mut Validator, path: &str, new: &Option<String>, old: Option<&String>| {
            match new {
                // A description may span lines; an icon (a URL or name) may not.
                Some(s) if path == "description" => v.optional_text(path, Some(s), MAX_TEXT),
                Some(s) => v.optional_str(path, Some(s), MAX_TEXT),
                None => old.cloned(),
            }
        };
        let name = match &req.name {
            Some(n) => v.required_str("name", Some(n), MAX_NAME),
            None => base
                .map(|b| b.name.clone())
                .or_else(|| kind.map(|k| k.defaults().0.to_string())),
        };
        let provider = match &req.provider {
            Some(n) => v.required_str("provider", Some(n), MAX_NAME),
            None => base
                .map(|b| b.provider.clone())
                .or_else(|| kind.map(|k| k.defaults().1.to_string())),
        };
        let description = text(
            v,
            "description",
            &req.description,
            base.and_then(|b| b.description.as_ref()),
        );
        let icon = text(v, "icon", &req.icon, base.and_then(|b| b.icon.as_ref()));
        let parameters = match &req.parameters_helper {
            None => Some(base.map(|b| b.parameters.clone()).unwrap_or("[]".into())),
            Some(list) if list.len() > MAX_PARAMETERS => {
                v.add(
                    "parametersHelper",
                    format!("At most {MAX_PARAMETERS} parameters."),
                );
                None
            }
            Some(list) => {
                let mut out = Vec::new();
                for (i, p) in list.iter().enumerate() {
                    let name = v.required_str(
                        &format!("parametersHelper[{i}].propertyName"),
                        p.property_name.as_deref(),
                        MAX_NAME,
                    );
                    let value = match &p.property_value {
                        Some(s) if s.chars().count() > MAX_TEXT => {
                            v.add(
                                format!("parametersHelper[{i}].propertyValue"),
                                format!("At most {MAX_TEXT} characters."),
                            );
                            None
                        }
                        other => Some(other.clone()),
                    };
                    if let (Some(n), Some(val)) = (name, value) {
                        out.push(ParameterHelper {
                            property_name: Some(n),
                            property_value: val,
                        });
                    }
                }
                Some(serde_json::to_string(&out).expect("serializable"))
            }
        };
        let connected = req
            .connected
            .unwrap_or_else(|| base.map(|b| b.connected).unwrap_or(true));
        let kind = kind?;
        Some(ConnectorFields {
            connector_type: kind.as_str().into(),
            ingest_kind: kind.is_ingest_fed().then(|| kind.as_str().into()),
            name: name?,
            provider: provider?,
            description,
            icon,
            connected,
            parameters: parameters?,
        })
    }

    pub(super) fn duplicate(kind: &str) -> Error {
        Error::Conflict(format!(
            "The workspace already has a {kind} connector; Palisade's ingest feeds one connector of each of these kinds per workspace."
        ))
    }

    pub async fn create(&self, ctx: &WorkspaceCtx, req: DataSourceRequest) -> Result<DataSource> {
        if super::connectors::is_polled(&req) {
            return self.create_polled(ctx, req).await;
        }
        let mut v = Validator::new();
        let fields = Self::fields(&mut v, &req, None);
        v.finish()?;
        let fields = fields.expect("validated");
        let tenant = self.store.tenant(&ctx.org);
        match tenant.create_connector(&ctx.workspace, &fields).await {
            Ok(row) => Ok(to_wire(&row)),
            Err(Error::Conflict(_)) => Err(Self::duplicate(&fields.connector_type)),
            Err(e) => Err(e),
        }
    }

    pub async fn update(
        &self,
        ctx: &WorkspaceCtx,
        id: Uuid,
        req: DataSourceRequest,
    ) -> Result<DataSource> {
        let base = self.row(&ctx.workspace, id).await?;
        let tenant = self.store.tenant(&ctx.org);
        if let Some(engine) = tenant.connector_engine(&ctx.workspace, id).await? {
            return self.update_polled(ctx, id, &base, &engine, req).await;
        }
        if super::connectors::is_polled(&req) {
            return Err(Error::field(
                "settings",
                "This data source is not polled: create a connector with POST …/datasources (connectorType, settings, credentials); an auto-created data source of its type is upgraded in place.",
            ));
        }
        let mut v = Validator::new();
        let fields = Self::fields(&mut v, &req, Some(&base));
        v.finish()?;
        let fields = fields.expect("validated");
        let tenant = self.store.tenant(&ctx.org);
        match tenant.update_connector(&ctx.workspace, id, &fields).await {
            Ok(Some(row)) => Ok(to_wire(&row)),
            Ok(None) => Err(not_found(id)),
            Err(Error::Conflict(_)) => Err(Self::duplicate(&fields.connector_type)),
            Err(e) => Err(e),
        }
    }

    pub async fn delete(&self, ctx: &WorkspaceCtx, id: Uuid) -> Result<bool> {
        let tenant = self.store.tenant(&ctx.org);
        if !tenant.delete_connector(&ctx.workspace, id).await? {
            return Err(not_found(id));
        }
        self.connectors.forget(id);
        Ok(true)
    }

    /// Adds volume to a connector's hours (past hours allowed, up to 90 days back).
    pub async fn record_volume(
        &self,
        ctx: &WorkspaceCtx,
        id: Uuid,
        req: RecordVolumeRequest,
    ) -> Result<RecordVolumeResult> {
        self.row(&ctx.workspace, id).await?;
        let entries = req.entries.unwrap_or_default();
        let mut v = Validator::new();
        if entries.is_empty() || entries.len() > MAX_VOLUME_ENTRIES {
            return Err(Error::field(
                "entries",
                format!("Give between 1 and {MAX_VOLUME_ENTRIES} entries."),
            ));
        }
        let now = Utc::now();
        let current = hour_floor(now);
        let oldest = current - Duration::days(MAX_VOLUME_AGE_DAYS);
        let mut rows = Vec::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            let path = format!("entries[{i}].hourStart");
            let hour = match &e.hour_start {
                None => {
                    v.add(&path, format!("'{path}' is required."));
                    None
                }
                raw => parse_instant(&mut v, &path, raw.as_deref()).map(hour_floor),
            };
            if let Some(h) = hour {
                if h > current {
                    v.add(&path, "Volume cannot be recorded for a future hour.");
                } else if h < oldest {
                    v.add(
                        &path,
                        format!("Volume can be recorded at most {MAX_VOLUME_AGE_DAYS} days back."),
                    );
                }
            }
            let events = match e.events {
                None => {
                    v.add(
                        format!("entries[{i}].events"),
                        "'events' is required (0 or more).",
                    );
                    None
                }
                Some(n) if !(0..=1_000_000_000_000).contains(&n) => {
                    v.add(
                        format!("entries[{i}].events"),
                        "'events' must be from 0 to 10^12.",
                    );
                    None
                }
                n => n,
            };
            let bytes = match e.bytes.unwrap_or(0) {
                n if (0..=1_000_000_000_000_000).contains(&n) => Some(n),
                _ => {
                    v.add(
                        format!("entries[{i}].bytes"),
                        "'bytes' must be from 0 to 10^15.",
                    );
                    None
                }
            };
            if let (Some(h), Some(ev), Some(b)) = (hour, events, bytes) {
                rows.push((to_micros(h), ev, b));
            }
        }
        v.finish()?;
        let tenant = self.store.tenant(&ctx.org);
        if !tenant.record_volume(&ctx.workspace, id, &rows).await? {
            return Err(not_found(id));
        }
        let hours: HashSet<i64> = rows.iter().map(|r| r.0).collect();
        Ok(RecordVolumeResult {
            data_connector_id: id,
            hours: hours.len(),
            events: rows.iter().map(|r| r.1).sum(),
            bytes: rows.iter().map(|r| r.2).sum(),
        })
    }

    /// A connector's hourly volume in `[from, to)` (default: the last 24 whole hours and the
    /// current one), oldest first; hours without data are omitted.
    pub async fn volume(
        &self,
        ctx: &WorkspaceCtx,
        id: Uuid,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<Vec<VolumeHour>> {
        self.row(&ctx.workspace, id).await?;
        let mut v = Validator::new();
        let now = Utc::now();
        let to = parse_instant(&mut v, "to", to).unwrap_or(hour_floor(now) + Duration::hours(1));
        let from = parse_instant(&mut v, "from", from).unwrap_or(to - Duration::hours(25));
        if from >= to {
            v.add("from", "'from' must be before 'to'.");
        } else if to - from > Duration::days(MAX_RANGE_DAYS) {
            v.add(
                "to",
                format!("The range may span at most {MAX_RANGE_DAYS} days."),
            );
        }
        v.finish()?;
        let rows = self
            .store
            .tenant(&ctx.org)
            .volume(
                &ctx.workspace,
                Some(id),
                to_micros(hour_floor(from)),
                to_micros(to),
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| VolumeHour {
                hour_start: from_micros(r.hour_start),
                events: r.events,
                bytes: r.bytes,
            })
            .collect())
    }

    /// `GET /datasources/across-workspaces`: `workspace_ids` as given (`None` when the
    /// parameter is absent; every given value must be a GUID).
    pub async fn across(
        &self,
        ctx: &OrgCtx,
        workspace_ids: Option<Vec<String>>,
    ) -> Result<Vec<WorkspaceDataSources>> {
        let names = self.store.tenant(&ctx.org).workspace_names().await?;
        let mut v = Validator::new();
        if let Some(ids) = &workspace_ids {
            for (i, raw) in ids.iter().enumerate() {
                if raw.is_empty() {
                    v.add(
                        format!("workspaceIds[{i}]"),
                        "An empty workspace id: give a workspace GUID, or leave 'workspaceIds' out for every workspace.",
                    );
                }
            }
        }
        let workspace_ids: Option<Vec<String>> =
            workspace_ids.map(|ids| ids.into_iter().filter(|s| !s.is_empty()).collect());
        let selected =
            selected_workspaces(&mut v, &ctx.principal, &names, workspace_ids.as_deref());
        v.finish()?;
        let mut out = Vec::with_capacity(selected.len());
        for (ws, name) in selected {
            out.push(WorkspaceDataSources {
                workspace_id: ws.uuid(),
                workspace_name: name,
                data_sources: self.connectors(&ws).await?,
            });
        }
        Ok(out)
    }

    /// `POST /datasources/across-workspaces/anomalies`.
    pub async fn anomalies(
        &self,
        ctx: &OrgCtx,
        req: AnomaliesRequest,
    ) -> Result<DataConnectorAnomalies> {
        let names = self.store.tenant(&ctx.org).workspace_names().await?;
        let tenant = self.store.tenant(&ctx.org);
        let mut v = Validator::new();
        let selected =
            selected_workspaces(&mut v, &ctx.principal, &names, req.workspace_ids.as_deref());
        let window = examined_window(&mut v, req.time_filter_selection.as_ref(), Utc::now());
        v.finish()?;
        let (from, until) = window.expect("validated");
        let (from_us, until_us) = (to_micros(from), to_micros(until));
        let baseline_from = from_us - BASELINE_DAYS * 24 * HOUR_US;
        let mut anomalies = Vec::new();
        let mut connectors_examined = 0;
        for (ws, ws_name) in &selected {
            let connectors: Vec<ConnectorRow> = tenant
                .list_connectors(ws)
                .await?
                .into_iter()
                .filter(|c| c.connected)
                .collect();
            if connectors.is_empty() {
                continue;
            }
            connectors_examined += connectors.len();
            let firsts = tenant.first_volume_hours(ws).await?;
            let mut series: HashMap<Uuid, HashMap<i64, i64>> = HashMap::new();
            for r in tenant.volume(ws, None, baseline_from, until_us).await? {
                series
                    .entry(r.connector_id)
                    .or_default()
                    .insert(r.hour_start, r.events);
            }
            let empty = HashMap::new();
            for c in &connectors {
                // A connector that never received data has no baseline to judge.
                let Some(first) = firsts.get(&c.id) else {
                    continue;
                };
                let s = series.get(&c.id).unwrap_or(&empty);
                for run in detect(s, *first, from_us, until_us) {
                    anomalies.push(DataConnectorAnomaly {
                        workspace_id: ws.uuid(),
                        workspace_name: ws_name.clone(),
                        data_connector_id: c.id,
                        connector_name: c.name.clone(),
                        connector_type: ConnectorType::parse(&c.connector_type)
                            .unwrap_or(ConnectorType::Custom),
                        anomaly_type: run.kind,
                        severity: run.severity,
                        start_time: from_micros(run.start),
                        end_time: from_micros(run.end()),
                        hours: run.hours,
                        expected_events: (run.expected * 100.0).round() / 100.0,
                        observed_events: run.observed,
                        ratio: run.ratio(),
                        baseline_days: run.baseline_days,
                    });
                }
            }
        }
        anomalies.sort_by(|a, b| {
            b.start_time
                .cmp(&a.start_time)
                .then(a.workspace_id.cmp(&b.workspace_id))
                .then(a.data_connector_id.cmp(&b.data_connector_id))
        });
        Ok(DataConnectorAnomalies {
            anomalies,
            examined_from: from,
            examined_until: until,
            workspaces_examined: selected.len(),
            connectors_examined,
        })
    }
}
