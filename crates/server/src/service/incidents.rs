//! Incidents: ingest and the documented read routes.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use palisade_domain::incident::{incident_id, normalize};
use palisade_domain::{Error, Result, Validator};
use palisade_store::{Applied, IncidentKey, IncidentRow, IngestIncident, Store};
use palisade_types::incidents::{
    EntityKind, Evidence, IncidentComment, IncidentDetail, IncidentInput, IncidentSource,
    IngestBatchResult, IngestOneResult, IngestOutcome, IngestResult, InvestigationDetails,
    RelatedIncident, RelatedIncidents, TimeFilteringType,
};

use super::incident_wire as wire;
use crate::access::WorkspaceCtx;
use crate::paging::PageSealer;
use crate::service::cache::{Cached, IncidentCache};
use crate::service::datasources::ingest_volume;
use palisade_types::datasources::ConnectorType;
use serde_json::value::RawValue;

pub const MAX_BATCH: usize = 1000;

/// A batch checked item by item: a result for every item (`Rejected` until it is stored) and
/// the accepted items with their places in the batch.
pub(crate) struct CheckedBatch {
    results: Vec<IngestResult>,
    indices: Vec<usize>,
    items: Vec<IngestIncident>,
}

impl CheckedBatch {
    pub(crate) fn new(len: usize) -> Self {
        CheckedBatch {
            results: Vec::with_capacity(len),
            indices: Vec::new(),
            items: Vec::new(),
        }
    }

    /// Item `i` (its id, if one could be read) after its checks in `v`: accepted when it made
    /// an `item` and `v` found nothing, else rejected with `v`'s field errors.
    pub(crate) fn push(
        &mut self,
        i: usize,
        id: Option<String>,
        item: Option<IngestIncident>,
        v: Validator,
    ) -> Result<()> {
        if let (Some(item), true) = (item, v.is_empty()) {
            self.indices.push(i);
            self.items.push(item);
        }
        let errors = match v.finish() {
            Ok(()) => None,
            Err(Error::Validation(m)) => Some(m),
            Err(e) => return Err(e),
        };
        self.results.push(IngestResult {
            index: i,
            id,
            result: IngestOutcome::Rejected,
            number: None,
            changes: Vec::new(),
            errors,
        });
        Ok(())
    }
}

/// The batch body as received: items stay unparsed JSON until each is validated on its own
/// (the documented shape is `IngestBatchRequest`; `Deserialize` is in `incident_native`).
#[derive(Debug, Default)]
pub struct RawBatch {
    pub incidents: Option<Vec<Box<RawValue>>>,
    /// `?format=native` also takes the vendor's own list answer: `(key, items)` of its list
    /// (`value`, `resources`, `data`, `results`; `""` for a bare array).
    pub native: Option<(&'static str, Vec<Box<RawValue>>)>,
}
const BY_ENTITY_LIMIT: i64 = 100;

pub struct IncidentService {
    pub(super) store: Store,
    pub(super) sealer: PageSealer,
    pub(super) page_size: usize,
    cache: Arc<IncidentCache>,
}

pub use palisade_domain::incident::parse_source;

fn detail(row: &IncidentRow, with_details: bool) -> IncidentDetail {
    let mut entities = row.doc.entities.clone();
    let mut alerts = row.doc.alerts.clone();
    if !with_details {
        entities.iter_mut().for_each(|e| e.properties = None);
        alerts.iter_mut().for_each(|a| a.entity_ids = None);
    }
    IncidentDetail {
        source: row.source,
        incident: wire::incident(row),
        investigation_details: InvestigationDetails { entities, alerts },
        evidence: row.doc.evidence.clone(),
        gamebook_catalog: serde_json::json!({"playbooks": []}),
        sync: wire::sync(row),
    }
}

impl IncidentService {
    pub fn new(
        store: Store,
        sealer: PageSealer,
        page_size: usize,
        cache: Arc<IncidentCache>,
    ) -> Self {
        IncidentService {
            store,
            sealer,
            page_size,
            cache,
        }
    }

    /// The incident read cache (the application keeps replicas' caches in sync).
    pub fn cache(&self) -> &Arc<IncidentCache> {
        &self.cache
    }

    /// Drops cached copies of incidents a write touched.
    pub(crate) fn forget(&self, key: &IncidentKey) {
        self.cache.forget(key);
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) async fn row_of(&self, key: &IncidentKey) -> Result<IncidentRow> {
        Ok(self.entry(key).await?.row.clone())
    }

    /// An incident by id, from the cache when fresh (shared: reading it copies nothing).
    pub(crate) async fn entry(&self, key: &IncidentKey) -> Result<Arc<Cached>> {
        if let Some(entry) = self.cache.get(key) {
            return Ok(entry);
        }
        // Before the read: a write that invalidates meanwhile keeps what it read uncached.
        let ticket = self.cache.ticket();
        let org = key.workspace.org();
        let row = self
            .store
            .tenant(&org)
            .get_incident(key)
            .await?
            .ok_or_else(|| Error::not_found_target("Incident", &key.id, "incidentId"))?;
        let entry = Cached::new(row);
        self.cache.put(&org, entry.clone(), ticket);
        Ok(entry)
    }

    /// `PUT …/incidents/{source}/{incidentId}`.
    pub async fn ingest_one(
        &self,
        ctx: &WorkspaceCtx,
        source: IncidentSource,
        id: &str,
        input: IncidentInput,
    ) -> Result<IngestOneResult> {
        let mut v = Validator::new();
        let id = incident_id(&mut v, "incidentId", Some(id));
        if input
            .id
            .as_ref()
            .is_some_and(|body| Some(body) != id.as_ref())
        {
            v.add(
                "id",
                "The body's 'id' differs from the incident id in the path.",
            );
        }
        let normalized = normalize(&mut v, "", &input);
        v.finish()?;
        let (id, incident) = (id.unwrap(), normalized.unwrap());
        // datasources (issue #5): the incident counts toward the source's connector.
        let bytes = serde_json::to_vec(&input).map_or(0, |b| b.len());
        let volume = ingest_volume(ConnectorType::of_source(source), 1, bytes);
        let applied = self
            .store
            .tenant(&ctx.org)
            .ingest_incidents(
                &ctx.workspace,
                source,
                &[IngestIncident {
                    id: id.clone(),
                    incident,
                }],
                Some(&volume),
            )
            .await?;
        let key = ctx.incident(source, &id);
        self.forget(&key);
        let row = self.row_of(&key).await?;
        let (result, changes) = match applied.into_iter().next() {
            Some(Applied::Created { .. }) => (IngestOutcome::Created, Vec::new()),
            Some(Applied::Updated { changes, .. }) => (IngestOutcome::Updated, changes),
            _ => (IngestOutcome::Unchanged, Vec::new()),
        };
        Ok(IngestOneResult {
            result,
            changes,
            incident: detail(&row, true),
        })
    }

    /// `POST …/incidents/{source}/ingest`: good items are stored (in one transaction), bad ones
    /// reported per item.
    pub async fn ingest_batch(
        &self,
        ctx: &WorkspaceCtx,
        source: IncidentSource,
        req: RawBatch,
    ) -> Result<IngestBatchResult> {
        let raw = req.incidents.unwrap_or_default();
        if raw.is_empty() || raw.len() > MAX_BATCH {
            return Err(Error::field(
                "incidents",
                format!("Give between 1 and {MAX_BATCH} incidents."),
            ));
        }
        let mut batch = CheckedBatch::new(raw.len());
        for (i, value) in raw.iter().enumerate() {
            let prefix = format!("incidents[{i}].");
            let mut v = Validator::new();
            let item =
                match crate::http::extract::parse_json::<IncidentInput>(value.get().as_bytes()) {
                    Ok(item) => Some(item),
                    Err(Error::Validation(m)) => {
                        for (k, msgs) in m {
                            for msg in msgs {
                                v.add(
                                    format!("{prefix}{k}").trim_end_matches('.').to_string(),
                                    msg,
                                );
                            }
                        }
                        None
                    }
                    Err(e) => return Err(e),
                };
            let (mut id_out, mut accepted) = (None, None);
            if let Some(item) = item {
                let id = incident_id(&mut v, &format!("{prefix}id"), item.id.as_deref());
                id_out = id.clone();
                let normalized = normalize(&mut v, &prefix, &item);
                if let (Some(id), Some(incident)) = (id, normalized) {
                    accepted = Some(IngestIncident { id, incident });
                }
            }
            batch.push(i, id_out, accepted, v)?;
        }
        self.store_batch(ctx, source, batch, &raw).await
    }

    /// Stores a batch's valid items (in one transaction) and completes the per-item results;
    /// `raw` is the batch as sent (what the accepted items count toward the volume).
    pub(crate) async fn store_batch(
        &self,
        ctx: &WorkspaceCtx,
        source: IncidentSource,
        batch: CheckedBatch,
        raw: &[Box<RawValue>],
    ) -> Result<IngestBatchResult> {
        let CheckedBatch {
            mut results,
            indices,
            items,
        } = batch;
        let bytes = indices.iter().map(|&i| raw[i].get().len()).sum();
        let applied = if items.is_empty() {
            Vec::new()
        } else {
            // datasources (issue #5): accepted incidents count toward the source's connector.
            let volume = ingest_volume(ConnectorType::of_source(source), items.len(), bytes);
            let applied = self
                .store
                .tenant(&ctx.org)
                .ingest_incidents(&ctx.workspace, source, &items, Some(&volume))
                .await?;
            for it in &items {
                self.forget(&ctx.incident(source, &it.id));
            }
            applied
        };
        for (i, a) in indices.iter().zip(applied) {
            let r = &mut results[*i];
            match a {
                Applied::Created { number } => {
                    r.result = IngestOutcome::Created;
                    r.number = Some(number);
                }
                Applied::Updated { number, changes } => {
                    r.result = IngestOutcome::Updated;
                    r.number = Some(number);
                    r.changes = changes;
                }
                Applied::Unchanged { number } => {
                    r.result = IngestOutcome::Unchanged;
                    r.number = Some(number);
                }
            }
        }
        let count = |o: IngestOutcome| results.iter().filter(|r| r.result == o).count();
        Ok(IngestBatchResult {
            created: count(IngestOutcome::Created),
            updated: count(IngestOutcome::Updated),
            unchanged: count(IngestOutcome::Unchanged),
            rejected: count(IngestOutcome::Rejected),
            items: results,
        })
    }

    /// The detail document of an incident read by [`IncidentService::entry`], rendered once
    /// per cached incident.
    pub fn detail(&self, entry: &Cached, with_details: bool) -> Result<Arc<RawValue>> {
        let slot = if with_details {
            &entry.full
        } else {
            &entry.basic
        };
        if let Some(raw) = slot.get() {
            return Ok(raw.clone());
        }
        let raw: Arc<RawValue> = serde_json::value::to_raw_value(&detail(&entry.row, with_details))
            .map_err(Error::internal)?
            .into();
        if slot.set(raw.clone()).is_ok() {
            self.cache.grow(entry, raw.get().len());
        }
        Ok(raw)
    }

    pub async fn evidence(&self, key: &IncidentKey) -> Result<Evidence> {
        Ok(self.entry(key).await?.row.doc.evidence.clone())
    }

    pub async fn comments(&self, key: &IncidentKey) -> Result<Vec<IncidentComment>> {
        self.entry(key).await?;
        let rows = self
            .store
            .tenant(&key.workspace.org())
            .incident_comments(key)
            .await?;
        Ok(rows.into_iter().map(wire::comment).collect())
    }

    /// `GET …/incidents/{source}/by-entity` with the documented PascalCase parameters (any
    /// letter case accepted).
    pub async fn by_entity(
        &self,
        ctx: &WorkspaceCtx,
        source: IncidentSource,
        params: HashMap<String, String>,
    ) -> Result<RelatedIncidents> {
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let mut v = Validator::new();
        let kind = match get("EntityKind") {
            None => {
                v.add(
                    "EntityKind",
                    format!(
                        "'EntityKind' is required. Allowed: {}.",
                        EntityKind::allowed()
                    ),
                );
                None
            }
            Some(k) => {
                let kind = EntityKind::parse(k);
                if kind.is_none() {
                    v.add("EntityKind", format!("Allowed: {}.", EntityKind::allowed()));
                }
                kind
            }
        };
        let filter = v.required_str(
            "EntityFilter",
            get("EntityFilter").or(get("EntityName")),
            512,
        );
        let window = match get("TimeFilteringType") {
            None => Some(TimeFilteringType::TwentyFourHours),
            Some(t) => {
                let w = TimeFilteringType::parse(t);
                if w.is_none() {
                    v.add(
                        "TimeFilteringType",
                        format!("Allowed: {}.", TimeFilteringType::allowed()),
                    );
                }
                w
            }
        };
        let mut instant = |name: &str| -> Option<DateTime<Utc>> {
            let s = get(name)?;
            match DateTime::parse_from_rfc3339(s.trim()) {
                Ok(t) => Some(t.with_timezone(&Utc)),
                Err(_) => {
                    v.add(
                        name,
                        format!("'{name}' must be an ISO-8601 date-time with an offset."),
                    );
                    None
                }
            }
        };
        let start = instant("StartDate");
        let end = instant("EndDate");
        let now = Utc::now();
        let range = match window {
            Some(TimeFilteringType::Custom) => match (start, end) {
                (Some(s), Some(e)) if s <= e => Some((s, e)),
                (Some(_), Some(_)) => {
                    v.add("EndDate", "'EndDate' must not be before 'StartDate'.");
                    None
                }
                _ => {
                    if get("StartDate").is_none() {
                        v.add(
                            "StartDate",
                            "'StartDate' is required when TimeFilteringType is Custom.",
                        );
                    }
                    if get("EndDate").is_none() {
                        v.add(
                            "EndDate",
                            "'EndDate' is required when TimeFilteringType is Custom.",
                        );
                    }
                    None
                }
            },
            Some(w) => palisade_domain::time::relative_window(w, now),
            None => None,
        };
        v.finish()?;
        let (kind, filter, (since, until)) = (kind.unwrap(), filter.unwrap(), range.unwrap());
        let rows = self
            .store
            .tenant(&ctx.org)
            .incidents_by_entity(
                &ctx.workspace,
                source,
                kind.as_str(),
                &filter,
                since,
                until,
                get("IncidentId"),
                BY_ENTITY_LIMIT,
            )
            .await?;
        Ok(RelatedIncidents {
            incidents: rows
                .iter()
                .map(|r| RelatedIncident {
                    id: r.id.clone(),
                    number: r.number,
                    title: r.doc.title.clone(),
                    description: r.doc.description.clone(),
                    severity: r.doc.severity,
                    status: r.doc.status,
                    source: r.source,
                    workspace_id: r.workspace_id,
                    creation_time: r.created_at,
                    classification: r.doc.classification,
                    classification_comment: r.doc.classification_comment.clone(),
                })
                .collect(),
        })
    }
}
