//! Incidents: ingest and the documented read routes.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use palisade_domain::incident::{incident_id, normalize};
use palisade_domain::validate::parse_list;
use palisade_domain::{Error, Result, Validator};
use palisade_store::{
    AcrossFilter, Applied, Cursor, IncidentKey, IncidentRow, IngestIncident, Store, WorkspaceId,
};
use palisade_types::incidents::{
    AcrossWorkspacesPage, AcrossWorkspacesRequest, EntityKind, Evidence, IncidentComment,
    IncidentDetail, IncidentInput, IncidentSource, IncidentStatus, IngestBatchResult,
    IngestOneResult, IngestOutcome, IngestResult, InvestigationDetails, RelatedIncident,
    RelatedIncidents, Severity, SourcePageTokens, TimeFilteringType,
};
use sha2::Digest;
use uuid::Uuid;

use super::incident_wire as wire;
use crate::access::{OrgCtx, WorkspaceCtx};
use crate::paging::{PageSealer, PageState};
use crate::service::cache::{Cached, IncidentCache};
use crate::service::datasources::ingest_volume;
use palisade_types::datasources::ConnectorType;
use serde_json::value::RawValue;

pub const MAX_BATCH: usize = 1000;

/// The batch body as received: items stay unparsed JSON until each is validated on its own
/// (the documented shape is `IngestBatchRequest`).
#[derive(Debug, Default, serde::Deserialize)]
pub struct RawBatch {
    pub incidents: Option<Vec<Box<RawValue>>>,
    /// `?format=native` also takes the vendor's own list answer (`{value: [...]}`).
    #[serde(default)]
    pub value: Option<Vec<Box<RawValue>>>,
}
const BY_ENTITY_LIMIT: i64 = 100;

pub struct IncidentService {
    store: Store,
    sealer: PageSealer,
    page_size: usize,
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
        let org = key.workspace.org();
        let row = self
            .store
            .tenant(&org)
            .get_incident(key)
            .await?
            .ok_or_else(|| Error::not_found_target("Incident", &key.id, "incidentId"))?;
        let entry = Cached::new(row);
        self.cache.put(&org, entry.clone());
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
        let mut indices: Vec<usize> = Vec::new();
        let mut items: Vec<IngestIncident> = Vec::new();
        if raw.is_empty() || raw.len() > MAX_BATCH {
            return Err(Error::field(
                "incidents",
                format!("Give between 1 and {MAX_BATCH} incidents."),
            ));
        }
        let mut results: Vec<IngestResult> = Vec::with_capacity(raw.len());
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
            let mut id_out = None;
            if let Some(item) = item {
                let id = incident_id(&mut v, &format!("{prefix}id"), item.id.as_deref());
                id_out = id.clone();
                let normalized = normalize(&mut v, &prefix, &item);
                if let (Some(id), Some(incident), true) = (id, normalized, v.is_empty()) {
                    indices.push(i);
                    items.push(IngestIncident { id, incident });
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
        let bytes = indices.iter().map(|&i| raw[i].get().len()).sum();
        self.store_batch(ctx, source, results, indices, items, bytes)
            .await
    }

    /// Stores a batch's valid items (in one transaction) and completes the per-item results.
    pub(crate) async fn store_batch(
        &self,
        ctx: &WorkspaceCtx,
        source: IncidentSource,
        mut results: Vec<IngestResult>,
        indices: Vec<usize>,
        items: Vec<IngestIncident>,
        bytes: usize,
    ) -> Result<IngestBatchResult> {
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

    /// `POST /incidents/across-workspaces` (DESIGN §5): newest first across the workspaces the
    /// caller holds a role on, each match exactly once, with sealed per-stream tokens.
    pub async fn across_workspaces(
        &self,
        ctx: &OrgCtx,
        req: AcrossWorkspacesRequest,
    ) -> Result<AcrossWorkspacesPage> {
        let tenant = self.store.tenant(&ctx.org);
        let mut v = Validator::new();
        let mut sources: Vec<IncidentSource> = parse_list(
            &mut v,
            "sources",
            &req.sources,
            IncidentSource::parse,
            IncidentSource::allowed(),
        );
        if sources.is_empty() {
            sources = IncidentSource::ALL.to_vec();
        }
        sources.sort();
        let mut severities: Vec<Severity> = parse_list(
            &mut v,
            "severities",
            &req.severities,
            Severity::parse,
            Severity::allowed(),
        );
        severities.sort();
        let mut statuses: Vec<IncidentStatus> = parse_list(
            &mut v,
            "statuses",
            &req.statuses,
            IncidentStatus::parse,
            IncidentStatus::allowed(),
        );
        statuses.sort();
        let query = v
            .optional_str("query", req.query.as_deref(), 200)
            .map(|q| q.to_lowercase());
        let mut assignees: Vec<String> = Vec::new();
        for (i, e) in req.assignee_emails.iter().flatten().enumerate() {
            if let Some(e) = v.optional_str(&format!("assigneeEmails[{i}]"), Some(e), 320) {
                let e = e.to_lowercase();
                if !assignees.contains(&e) {
                    assignees.push(e);
                }
            }
        }
        assignees.sort();
        if assignees.len() > 100 {
            v.add("assigneeEmails", "At most 100 emails.");
        }
        let include_unassigned = req.include_unassigned.unwrap_or(false);
        let window = req
            .time_filter_selection
            .as_ref()
            .and_then(|t| t.type_.as_deref())
            .map(|t| t.trim().to_string());
        let (mut custom_start, mut custom_end) = (None, None);
        match window.as_deref() {
            None | Some("TwentyFourHours") | Some("SevenDays") | Some("ThirtyDays") => {}
            Some("Custom") => {
                let t = req.time_filter_selection.as_ref().unwrap();
                for (field, value, slot) in [
                    (
                        "timeFilterSelection.customStartUtc",
                        &t.custom_start_utc,
                        &mut custom_start,
                    ),
                    (
                        "timeFilterSelection.customEndUtc",
                        &t.custom_end_utc,
                        &mut custom_end,
                    ),
                ] {
                    match value
                        .as_deref()
                        .map(|s| DateTime::parse_from_rfc3339(s.trim()))
                    {
                        None => v.add(
                            field,
                            format!("'{field}' is required when the type is Custom."),
                        ),
                        Some(Err(_)) => v.add(
                            field,
                            format!("'{field}' must be an ISO-8601 date-time with an offset."),
                        ),
                        Some(Ok(t)) => *slot = Some(t.with_timezone(&Utc)),
                    }
                }
                if let (Some(s), Some(e)) = (custom_start, custom_end) {
                    if e < s {
                        v.add(
                            "timeFilterSelection.customEndUtc",
                            "The end must not be before the start.",
                        );
                    }
                }
            }
            Some(other) => {
                let shown: String = other.chars().take(64).collect();
                v.add(
                    "timeFilterSelection.type",
                    format!("'{shown}' is not allowed. Allowed: TwentyFourHours, SevenDays, ThirtyDays, Custom."),
                )
            }
        }
        v.finish()?;

        // The filter fingerprint binds tokens to the filters they were issued for.
        let canonical = serde_json::json!({
            "sources": sources, "severities": severities, "statuses": statuses, "query": query,
            "assignees": assignees, "includeUnassigned": include_unassigned, "window": window,
            "customStart": custom_start, "customEnd": custom_end,
        });
        let digest = sha2::Sha256::digest(canonical.to_string().as_bytes());
        let mut fingerprint = [0u8; 16];
        fingerprint.copy_from_slice(&digest[..16]);

        let all = tenant.workspace_names().await?;
        let org_workspaces = all.len();
        let visible: HashMap<Uuid, (WorkspaceId, String)> = all
            .into_iter()
            .filter_map(|(id, name)| Some((id, (ctx.principal.workspace(&id)?.0, name))))
            .collect();
        let tokens = req.workspace_page_tokens.unwrap_or_default();
        let first = req.is_first_call.unwrap_or(tokens.is_empty());
        let invalid = || {
            Error::ValidationDetail {
            detail: "One or more pagination tokens are invalid. Use the tokens from the previous response unmodified."
                .into(),
            errors: [(
                "workspacePageTokens".to_string(),
                vec!["One or more pagination tokens are invalid. Restart from the first call with an empty workspacePageTokens array.".to_string()],
            )]
            .into(),
        }
        };
        let (state, live): (PageState, Vec<(Uuid, IncidentSource)>) = if first {
            let now = Utc::now();
            let (since, until) = match window.as_deref() {
                Some("TwentyFourHours") => (Some(now - Duration::hours(24)), None),
                Some("SevenDays") => (Some(now - Duration::days(7)), None),
                Some("ThirtyDays") => (Some(now - Duration::days(30)), None),
                Some("Custom") => (custom_start, custom_end),
                _ => (None, None),
            };
            let mut live: Vec<(Uuid, IncidentSource)> = Vec::new();
            for ws in visible.keys() {
                for s in &sources {
                    live.push((*ws, *s));
                }
            }
            (
                PageState {
                    fingerprint,
                    since: since.map(palisade_domain::time::to_micros),
                    until: until.map(palisade_domain::time::to_micros),
                    cursor: None,
                },
                live,
            )
        } else {
            let mut state: Option<PageState> = None;
            let mut live = Vec::new();
            let mut opener = self.sealer.opener(&ctx.org);
            let mut listed = std::collections::HashSet::new();
            for entry in &tokens {
                let ws = entry
                    .workspace_id
                    .as_deref()
                    .and_then(|w| Uuid::parse_str(w).ok())
                    .ok_or_else(invalid)?;
                for (name, token) in entry.source_tokens.iter().flatten() {
                    let source = IncidentSource::parse(name).ok_or_else(invalid)?;
                    let opened = opener.open(ws, source, token).ok_or_else(invalid)?;
                    if opened.fingerprint != fingerprint || !sources.contains(&source) {
                        return Err(invalid());
                    }
                    match &state {
                        None => state = Some(opened),
                        Some(s) if *s == opened => {}
                        Some(_) => return Err(invalid()),
                    }
                    // A token never widens what the caller may see.
                    if visible.contains_key(&ws) && listed.insert((ws, source)) {
                        live.push((ws, source));
                    }
                }
            }
            match state {
                Some(s) => (s, live),
                None => {
                    return Ok(AcrossWorkspacesPage {
                        incidents: Vec::new(),
                        source_page_tokens: Vec::new(),
                        more_incidents_available: false,
                    })
                }
            }
        };
        let mut workspaces: Vec<Uuid> = live.iter().map(|(w, _)| *w).collect();
        workspaces.sort();
        workspaces.dedup();
        // When every workspace of the organization is in play, the listing needs no
        // workspace list at all (the common case for MSSP administrators).
        let workspaces = (workspaces.len() < org_workspaces).then(|| {
            workspaces
                .iter()
                .filter_map(|w| visible.get(w).map(|(id, _)| *id))
                .collect()
        });
        let filter = AcrossFilter {
            workspaces,
            sources: sources.clone(),
            severities,
            statuses,
            since: state.since,
            until: state.until,
            query,
            assignees,
            include_unassigned,
        };
        let mut rows = tenant
            .list_across(&filter, state.cursor.as_ref(), self.page_size as i64 + 1)
            .await?;
        let more = rows.len() > self.page_size;
        rows.truncate(self.page_size);
        let cursor = rows
            .last()
            .map(|r| Cursor {
                created_at: palisade_domain::time::to_micros(r.created_at),
                workspace_id: r.workspace_id,
                source: r.source,
                id: r.id.clone(),
            })
            .or(state.cursor.clone());
        let mut source_page_tokens = Vec::new();
        if more {
            let floors = tenant.stream_floors().await?;
            let next = self.sealer.seal_page(
                &ctx.org,
                &PageState {
                    cursor: cursor.clone(),
                    ..state
                },
            );
            let mut by_ws: std::collections::BTreeMap<
                Uuid,
                std::collections::BTreeMap<String, String>,
            > = Default::default();
            for (ws, source) in &live {
                // A stream whose oldest incident is newer than the cursor is exhausted.
                let Some(floor) = floors.get(&(*ws, *source)) else {
                    continue;
                };
                if let Some(c) = &cursor {
                    if *floor > c.created_at {
                        continue;
                    }
                }
                by_ws
                    .entry(*ws)
                    .or_default()
                    .insert(source.as_str().to_string(), next.token(*ws, *source));
            }
            source_page_tokens = by_ws
                .into_iter()
                .map(|(workspace_id, source_tokens)| SourcePageTokens {
                    workspace_id,
                    source_tokens,
                })
                .collect();
        }
        Ok(AcrossWorkspacesPage {
            incidents: rows
                .into_iter()
                .map(|r| {
                    let name = visible
                        .get(&r.workspace_id)
                        .map(|(_, name)| name.clone())
                        .unwrap_or_default();
                    wire::list_item(r, name)
                })
                .collect(),
            more_incidents_available: more && !source_page_tokens.is_empty(),
            source_page_tokens,
        })
    }
}
