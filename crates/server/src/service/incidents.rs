//! Incidents: ingest and the documented read routes.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use palisade_domain::incident::normalize;
use palisade_domain::{Error, Result, Validator};
use palisade_store::{Applied, IncidentRow, IngestIncident, Store};
use palisade_types::incidents::{
    EntityKind, Evidence, IncidentComment, IncidentDetail, IncidentInput, IncidentSource,
    IngestBatchRequest, IngestBatchResult, IngestItem, IngestOneResult, IngestOutcome,
    IngestResult, InvestigationDetails, RelatedIncident, RelatedIncidents, TimeFilteringType,
};
use uuid::Uuid;

use crate::auth::Principal;
use crate::http::extract::parse_json;

pub const MAX_BATCH: usize = 1000;
const MAX_INCIDENT_ID: usize = 200;
const BY_ENTITY_LIMIT: i64 = 100;

#[derive(Clone)]
pub struct IncidentService {
    store: Store,
}

/// Parses a `{source}` path segment in any letter case.
pub fn parse_source(raw: &str) -> Result<IncidentSource> {
    IncidentSource::parse(raw).ok_or_else(|| {
        let shown: String = raw.chars().take(64).collect();
        Error::field(
            "source",
            format!(
                "'{shown}' is not an incident source. Allowed: {}.",
                IncidentSource::allowed()
            ),
        )
    })
}

fn incident_id(v: &mut Validator, path: &str, raw: Option<&str>) -> Option<String> {
    let id = v.required_str(path, raw, MAX_INCIDENT_ID)?;
    if id.contains('/') {
        v.add(path, format!("'{path}' must not contain '/'."));
        return None;
    }
    Some(id)
}

fn detail(row: &IncidentRow, with_details: bool) -> IncidentDetail {
    let mut entities = row.doc.entities.clone();
    let mut alerts = row.doc.alerts.clone();
    if !with_details {
        entities.iter_mut().for_each(|e| e.properties = None);
        alerts.iter_mut().for_each(|a| a.entity_ids = None);
    }
    IncidentDetail {
        source: row.source,
        incident: row.incident(),
        investigation_details: InvestigationDetails { entities, alerts },
        evidence: row.doc.evidence.clone(),
        gamebook_catalog: serde_json::json!({"playbooks": []}),
    }
}

impl IncidentService {
    pub fn new(store: Store) -> Self {
        IncidentService { store }
    }

    async fn row(
        &self,
        p: &Principal,
        ws: Uuid,
        source: IncidentSource,
        id: &str,
    ) -> Result<IncidentRow> {
        self.store
            .get_incident(&p.org, ws, source, id)
            .await?
            .ok_or_else(|| Error::not_found_target("Incident", id, "incidentId"))
    }

    /// `PUT …/incidents/{source}/{incidentId}`.
    pub async fn ingest_one(
        &self,
        p: &Principal,
        ws: Uuid,
        source: IncidentSource,
        id: &str,
        input: IncidentInput,
    ) -> Result<IngestOneResult> {
        let mut v = Validator::new();
        let id = incident_id(&mut v, "incidentId", Some(id));
        let normalized = normalize(&mut v, "", &input);
        v.finish()?;
        let (id, incident) = (id.unwrap(), normalized.unwrap());
        let applied = self
            .store
            .ingest_incidents(
                &p.org,
                ws,
                source,
                &[IngestIncident {
                    id: id.clone(),
                    incident,
                }],
            )
            .await?;
        let row = self.row(p, ws, source, &id).await?;
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
        p: &Principal,
        ws: Uuid,
        source: IncidentSource,
        req: IngestBatchRequest,
    ) -> Result<IngestBatchResult> {
        let raw = req.incidents.unwrap_or_default();
        if raw.is_empty() || raw.len() > MAX_BATCH {
            return Err(Error::field(
                "incidents",
                format!("Give between 1 and {MAX_BATCH} incidents."),
            ));
        }
        let mut results: Vec<IngestResult> = Vec::with_capacity(raw.len());
        let mut good: Vec<(usize, IngestIncident)> = Vec::new();
        for (i, value) in raw.iter().enumerate() {
            let prefix = format!("incidents[{i}].");
            let mut v = Validator::new();
            let bytes = serde_json::to_vec(value).map_err(Error::internal)?;
            let item = match parse_json::<IngestItem>(&bytes) {
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
            let mut id_out = None;
            if let Some(item) = item {
                let id = incident_id(&mut v, &format!("{prefix}id"), item.id.as_deref());
                id_out = id.clone();
                let normalized = normalize(&mut v, &prefix, &item.incident);
                if let (Some(id), Some(incident), true) = (id, normalized, v.is_empty()) {
                    good.push((i, IngestIncident { id, incident }));
                }
            }
            let errors = match v.finish() {
                Ok(()) => None,
                Err(Error::Validation(m)) => Some(m),
                Err(e) => return Err(e),
            };
            results.push(IngestResult {
                index: i,
                id: id_out,
                result: IngestOutcome::Rejected,
                number: None,
                changes: Vec::new(),
                errors,
            });
        }
        let items: Vec<IngestIncident> = good.iter().map(|(_, it)| it.clone()).collect();
        let applied = if items.is_empty() {
            Vec::new()
        } else {
            self.store
                .ingest_incidents(&p.org, ws, source, &items)
                .await?
        };
        for ((i, _), a) in good.iter().zip(applied) {
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

    pub async fn detail(
        &self,
        p: &Principal,
        ws: Uuid,
        source: IncidentSource,
        id: &str,
        with_details: bool,
    ) -> Result<IncidentDetail> {
        Ok(detail(&self.row(p, ws, source, id).await?, with_details))
    }

    pub async fn evidence(
        &self,
        p: &Principal,
        ws: Uuid,
        source: IncidentSource,
        id: &str,
    ) -> Result<Evidence> {
        Ok(self.row(p, ws, source, id).await?.doc.evidence)
    }

    pub async fn comments(
        &self,
        p: &Principal,
        ws: Uuid,
        source: IncidentSource,
        id: &str,
    ) -> Result<Vec<IncidentComment>> {
        self.row(p, ws, source, id).await?;
        self.store.incident_comments(&p.org, ws, source, id).await
    }

    /// 404 `NOT_FOUND` while no gamebook has run for the incident (no gamebook engine exists
    /// yet, so none ever has).
    pub async fn last_gamebook(
        &self,
        p: &Principal,
        ws: Uuid,
        source: IncidentSource,
        id: &str,
    ) -> Result<serde_json::Value> {
        self.row(p, ws, source, id).await?;
        Err(Error::NotFound {
            detail: format!("No gamebook has run for incident '{id}'."),
            target: Some("incidentId".into()),
        })
    }

    /// `GET …/incidents/{source}/by-entity` with the documented PascalCase parameters (any
    /// letter case accepted).
    pub async fn by_entity(
        &self,
        p: &Principal,
        ws: Uuid,
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
            Some(w) => {
                let hours = match w {
                    TimeFilteringType::ThreeHours => 3,
                    TimeFilteringType::SixHours => 6,
                    TimeFilteringType::TwelveHours => 12,
                    TimeFilteringType::TwentyFourHours => 24,
                    _ => 48,
                };
                Some((now - Duration::hours(hours), now))
            }
            None => None,
        };
        v.finish()?;
        let (kind, filter, (since, until)) = (kind.unwrap(), filter.unwrap(), range.unwrap());
        let rows = self
            .store
            .incidents_by_entity(
                &p.org,
                ws,
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
