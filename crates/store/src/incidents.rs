//! Incidents: ingest (upsert with change detection, numbering, entity index and outbox events
//! in one transaction) and reads.

use std::collections::HashMap;
use std::fmt::Write;

use crate::OrgId;
use chrono::{DateTime, Utc};
use palisade_domain::incident::{diff, entity_keys, event_data, IncidentDoc, NormalizedIncident};
use palisade_domain::time::{now, to_micros};
use palisade_domain::{Error, Result};
use palisade_types::incidents::{
    FieldChange, Incident, IncidentComment, IncidentListItem, IncidentSource, IncidentStatus,
    Severity,
};
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::datasources::{count_volume, IngestVolume};
use crate::db::{
    db_err, get_bool, get_i64, get_opt_str, get_str, get_time, get_uuid, json_rows,
    push_placeholders, Backend,
};
use crate::Store;

/// A stored incident.
#[derive(Debug, Clone)]
pub struct IncidentRow {
    pub workspace_id: Uuid,
    pub source: IncidentSource,
    pub id: String,
    pub number: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub doc: IncidentDoc,
}

impl IncidentRow {
    /// The incident's own fields, as the detail response shows them.
    pub fn incident(&self) -> Incident {
        let d = &self.doc;
        Incident {
            id: self.id.clone(),
            number: self.number,
            title: d.title.clone(),
            description: d.description.clone(),
            severity: d.severity,
            status: d.status,
            classification: d.classification,
            classification_reason: d.classification_reason,
            classification_comment: d.classification_comment.clone(),
            owner: d.owner.clone(),
            labels: d.labels.clone(),
            tactics: d.tactics.clone(),
            alert_product_names: d.alert_product_names.clone(),
            workspace_id: self.workspace_id,
            source: self.source,
            created_at: self.created_at,
            updated_at: self.updated_at,
            first_activity_at: d.first_activity_at,
            last_activity_at: d.last_activity_at,
            provider_url: d.provider_url.clone(),
            alerts_count: d.alerts.len(),
            entities_count: d.entities.len(),
        }
    }
}

/// One incident to ingest.
#[derive(Debug, Clone)]
pub struct IngestIncident {
    pub id: String,
    pub incident: NormalizedIncident,
}

/// What ingest did with one incident.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    Created {
        number: i64,
    },
    Updated {
        number: i64,
        changes: Vec<FieldChange>,
    },
    Unchanged {
        number: i64,
    },
}

/// A position in the cross-workspace order: `(createdAt, workspaceId, source, id)`, newest
/// first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: i64,
    pub workspace_id: Uuid,
    pub source: IncidentSource,
    pub id: String,
}

/// Filters of the cross-workspace listing.
#[derive(Debug, Clone, Default)]
pub struct AcrossFilter {
    /// `None`: every workspace of the organization.
    pub workspaces: Option<Vec<Uuid>>,
    pub sources: Vec<IncidentSource>,
    pub severities: Vec<Severity>,
    pub statuses: Vec<IncidentStatus>,
    /// Inclusive bounds on `createdAt` (microseconds).
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Lowercased text matched against id (exact), number, title and description.
    pub query: Option<String>,
    /// Lowercased owner emails; `include_unassigned` adds incidents without an owner.
    pub assignees: Vec<String>,
    pub include_unassigned: bool,
}

/// An outbox event.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub id: Uuid,
    pub event_type: String,
    pub workspace_id: Option<Uuid>,
    pub subject_id: String,
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// Bind parameters per multi-row statement: see `db::MAX_PARAMS`. Fewer statements save round
/// trips (and on SQLite thread hops).
const PARAMS_PER_STATEMENT: usize = crate::db::MAX_PARAMS;

enum Bind {
    S(String),
    I(i64),
}

/// The listing fields of an incident that are not columns of their own.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListSummary {
    classification: Option<palisade_types::incidents::Classification>,
    owner: Option<palisade_types::incidents::Owner>,
    last_activity_at: Option<DateTime<Utc>>,
    alerts_count: usize,
    alert_product_names: Vec<String>,
    labels: Vec<String>,
}

fn list_summary(doc: &IncidentDoc) -> Result<String> {
    serde_json::to_string(&ListSummary {
        classification: doc.classification,
        owner: doc.owner.clone(),
        last_activity_at: doc.last_activity_at,
        alerts_count: doc.alerts.len(),
        alert_product_names: doc.alert_product_names.clone(),
        labels: doc.labels.clone(),
    })
    .map_err(Error::internal)
}

const LIST_COLS: &str =
    "workspace_id, source, id, number, title, description, severity, status, created_at, updated_at, summary";

fn row_to_list_item(r: &AnyRow) -> Result<IncidentListItem> {
    let source = get_str(r, "source")?;
    let summary: ListSummary = serde_json::from_str(&get_str(r, "summary")?)
        .map_err(|e| Error::Internal(format!("corrupt incident summary: {e}")))?;
    let severity = get_str(r, "severity")?;
    let status = get_str(r, "status")?;
    Ok(IncidentListItem {
        id: get_str(r, "id")?,
        number: get_i64(r, "number")?,
        title: get_str(r, "title")?,
        description: get_opt_str(r, "description")?,
        severity: Severity::parse(&severity)
            .ok_or_else(|| Error::Internal(format!("unknown stored severity {severity}")))?,
        status: IncidentStatus::parse(&status)
            .ok_or_else(|| Error::Internal(format!("unknown stored status {status}")))?,
        classification: summary.classification,
        source: IncidentSource::parse(&source)
            .ok_or_else(|| Error::Internal(format!("unknown stored source {source}")))?,
        workspace_id: get_uuid(r, "workspace_id")?,
        workspace_name: String::new(),
        owner: summary.owner,
        created_at: get_time(r, "created_at")?,
        updated_at: get_time(r, "updated_at")?,
        last_activity_at: summary.last_activity_at,
        alerts_count: summary.alerts_count,
        alert_product_names: summary.alert_product_names,
        labels: summary.labels,
    })
}

pub(crate) const INCIDENT_COLS: &str =
    "workspace_id, source, id, number, created_at, updated_at, doc";

pub(crate) fn row_to_incident(r: &AnyRow) -> Result<IncidentRow> {
    let source = get_str(r, "source")?;
    let doc: IncidentDoc = serde_json::from_str(&get_str(r, "doc")?)
        .map_err(|e| Error::Internal(format!("corrupt incident document: {e}")))?;
    Ok(IncidentRow {
        workspace_id: get_uuid(r, "workspace_id")?,
        source: IncidentSource::parse(&source)
            .ok_or_else(|| Error::Internal(format!("unknown stored source {source}")))?,
        id: get_str(r, "id")?,
        number: get_i64(r, "number")?,
        created_at: get_time(r, "created_at")?,
        updated_at: get_time(r, "updated_at")?,
        doc,
    })
}

fn severity_str(s: Severity) -> &'static str {
    s.as_str()
}

fn status_str(s: IncidentStatus) -> &'static str {
    s.as_str()
}

impl Store {
    pub async fn get_incident(
        &self,
        org: &OrgId,
        workspace: Uuid,
        source: IncidentSource,
        id: &str,
    ) -> Result<Option<IncidentRow>> {
        let sql = format!(
            "SELECT {INCIDENT_COLS} FROM incidents WHERE organization_id = $1 \
             AND workspace_id = $2 AND source = $3 AND id = $4"
        );
        let row = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(workspace.to_string())
            .bind(source.as_str())
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(row_to_incident).transpose()
    }

    /// Ingests incidents of one workspace and source in one transaction. Creation emits
    /// `incident.created`, a real change `incident.updated` with its changes, an identical
    /// re-send nothing; each event row commits with its change (outbox).
    pub async fn ingest_incidents(
        &self,
        org: &OrgId,
        workspace: Uuid,
        source: IncidentSource,
        items: &[IngestIncident],
        volume: Option<&IngestVolume>,
    ) -> Result<Vec<Applied>> {
        let prepared = items
            .iter()
            .map(|i| Prepared::of(&i.incident.doc))
            .collect::<Result<Vec<_>>>()?;
        let mut tx = self.begin_write().await?;
        let account = workspace_account(&mut tx, org, workspace).await?;
        // The workspace's number counter, locked for this transaction (a row lock on
        // PostgreSQL; SQLite's write lock is already held).
        let counter = sqlx::query(
            "INSERT INTO workspace_counters (workspace_id, last_number) VALUES ($1, 0) \
             ON CONFLICT (workspace_id) DO UPDATE SET last_number = workspace_counters.last_number \
             RETURNING last_number",
        )
        .bind(workspace.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        // Stored incidents of the batch, in one query per 500 ids.
        let mut stored = HashMap::new();
        let mut ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        for chunk in ids.chunks(PARAMS_PER_STATEMENT) {
            let placeholders: Vec<String> =
                (0..chunk.len()).map(|i| format!("${}", i + 3)).collect();
            let sql = format!(
                "SELECT {INCIDENT_COLS} FROM incidents WHERE workspace_id = $1 AND source = $2 AND id IN ({})",
                placeholders.join(", ")
            );
            let mut q = sqlx::query(&sql)
                .bind(workspace.to_string())
                .bind(source.as_str());
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&mut *tx).await.map_err(db_err)? {
                let row = row_to_incident(&r)?;
                stored.insert(row.id.clone(), row);
            }
        }
        let mut batch = Batch {
            org,
            workspace,
            source,
            account: (account.0, &account.1),
            stored: &stored,
            seen: HashMap::new(),
            last_number: get_i64(&counter, "last_number")?,
            oldest: None,
            events: Vec::new(),
            now: now(),
            rows: HashMap::new(),
            order: Vec::new(),
            params: self.params(),
            backend: self.backend(),
        };
        let mut out = Vec::with_capacity(items.len());
        for (item, prepared) in items.iter().zip(&prepared) {
            out.push(batch.ingest_one(item, prepared)?);
        }
        batch.finish(&mut tx).await?;
        if let Some(v) = volume {
            // Volume is accounting, not the data: counted in the same transaction (one commit
            // per batch, not two) behind a savepoint, so a failure to count is logged and the
            // ingest still commits.
            sqlx::query("SAVEPOINT ingest_volume")
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            let undo = match count_volume(&mut tx, org, workspace, v).await {
                Ok(()) => "RELEASE SAVEPOINT ingest_volume",
                Err(e) => {
                    tracing::warn!(error = %e, workspace = %workspace, "could not count ingest volume");
                    "ROLLBACK TO SAVEPOINT ingest_volume"
                }
            };
            sqlx::query(undo).execute(&mut *tx).await.map_err(db_err)?;
        }
        tx.commit().await?;
        // The batch's memory is freed after the commit, outside the write lock.
        drop(batch);
        self.events_written();
        Ok(out)
    }

    pub async fn incident_comments(
        &self,
        org: &OrgId,
        workspace: Uuid,
        source: IncidentSource,
        id: &str,
    ) -> Result<Vec<IncidentComment>> {
        let rows = sqlx::query(
            "SELECT id, message, author_email, author_name, is_activity, is_agent, agent_name, \
             is_closing, ticket_note_id, ticket_id, created_at FROM incident_comments \
             WHERE organization_id = $1 AND workspace_id = $2 AND source = $3 AND incident_id = $4 \
             ORDER BY created_at, id",
        )
        .bind(org.to_string())
        .bind(workspace.to_string())
        .bind(source.as_str())
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(IncidentComment {
                    id: get_str(r, "id")?,
                    message: get_str(r, "message")?,
                    created_time: get_time(r, "created_at")?,
                    author_email: get_opt_str(r, "author_email")?,
                    author_name: get_opt_str(r, "author_name")?,
                    is_activity_comment: get_bool(r, "is_activity")?,
                    is_agent_comment: get_bool(r, "is_agent")?,
                    agent_name: get_opt_str(r, "agent_name")?,
                    is_closing_comment: get_bool(r, "is_closing")?,
                    ticket_note_id: get_opt_str(r, "ticket_note_id")?,
                    ticket_id: get_opt_str(r, "ticket_id")?,
                })
            })
            .collect()
    }

    /// Incidents of one workspace and source with an entity of `kind` matching `key`, created
    /// in `[since, until]`, newest first.
    #[allow(clippy::too_many_arguments)]
    pub async fn incidents_by_entity(
        &self,
        org: &OrgId,
        workspace: Uuid,
        source: IncidentSource,
        kind: &str,
        key: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        exclude: Option<&str>,
        limit: i64,
    ) -> Result<Vec<IncidentRow>> {
        let sql = format!(
            "SELECT {} FROM incidents i WHERE i.organization_id = $1 AND i.workspace_id = $2 \
             AND i.source = $3 AND i.created_at >= $6 AND i.created_at <= $7 AND i.id <> $8 \
             AND EXISTS (SELECT 1 FROM incident_entity_index k WHERE k.workspace_id = $2 \
             AND k.source = $3 AND k.kind = $4 AND k.entity_key = $5 AND k.incident_id = i.id) \
             ORDER BY i.created_at DESC, i.id DESC LIMIT $9",
            INCIDENT_COLS
                .split(", ")
                .map(|c| format!("i.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let rows = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(workspace.to_string())
            .bind(source.as_str())
            .bind(kind)
            .bind(key.to_lowercase())
            .bind(to_micros(since))
            .bind(to_micros(until))
            .bind(exclude.unwrap_or(""))
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(row_to_incident).collect()
    }

    /// One page of the cross-workspace listing: up to `limit` incidents after `after`, newest
    /// first by `(createdAt, workspaceId, source, id)`.
    pub async fn list_across(
        &self,
        org: &OrgId,
        f: &AcrossFilter,
        after: Option<&Cursor>,
        limit: i64,
    ) -> Result<Vec<IncidentListItem>> {
        if f.workspaces.as_ref().is_some_and(|w| w.is_empty()) || f.sources.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = format!("SELECT {LIST_COLS} FROM incidents WHERE organization_id = $1");
        let mut binds: Vec<Bind> = vec![Bind::S(org.to_string())];
        let mut push = |sql: &mut String, binds: &mut Vec<Bind>, b: Bind| {
            binds.push(b);
            sql.push_str(&format!("${}", binds.len()));
        };
        let list = |sql: &mut String,
                    binds: &mut Vec<Bind>,
                    col: &str,
                    values: Vec<String>,
                    push: &mut dyn FnMut(&mut String, &mut Vec<Bind>, Bind)| {
            sql.push_str(&format!(" AND {col} IN ("));
            for (i, v) in values.into_iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                push(sql, binds, Bind::S(v));
            }
            sql.push(')');
        };
        if let Some(workspaces) = &f.workspaces {
            list(
                &mut sql,
                &mut binds,
                "workspace_id",
                workspaces.iter().map(|w| w.to_string()).collect(),
                &mut push,
            );
        }
        if f.sources.len() < IncidentSource::ALL.len() {
            list(
                &mut sql,
                &mut binds,
                "source",
                f.sources.iter().map(|s| s.as_str().to_string()).collect(),
                &mut push,
            );
        }
        if !f.severities.is_empty() {
            list(
                &mut sql,
                &mut binds,
                "severity",
                f.severities
                    .iter()
                    .map(|s| s.as_str().to_string())
                    .collect(),
                &mut push,
            );
        }
        if !f.statuses.is_empty() {
            list(
                &mut sql,
                &mut binds,
                "status",
                f.statuses.iter().map(|s| s.as_str().to_string()).collect(),
                &mut push,
            );
        }
        if let Some(t) = f.since {
            sql.push_str(" AND created_at >= ");
            push(&mut sql, &mut binds, Bind::I(t));
        }
        if let Some(t) = f.until {
            sql.push_str(" AND created_at <= ");
            push(&mut sql, &mut binds, Bind::I(t));
        }
        if let Some(q) = &f.query {
            let escaped = q
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            let like = format!("%{escaped}%");
            sql.push_str(" AND (LOWER(title) LIKE ");
            push(&mut sql, &mut binds, Bind::S(like.clone()));
            sql.push_str(" ESCAPE '\\' OR LOWER(COALESCE(description, '')) LIKE ");
            push(&mut sql, &mut binds, Bind::S(like));
            sql.push_str(" ESCAPE '\\' OR LOWER(id) = ");
            push(&mut sql, &mut binds, Bind::S(q.clone()));
            if let Ok(n) = q.trim_start_matches('#').parse::<i64>() {
                sql.push_str(" OR number = ");
                push(&mut sql, &mut binds, Bind::I(n));
            }
            sql.push(')');
        }
        if !f.assignees.is_empty() {
            sql.push_str(" AND (owner_email IN (");
            for (i, a) in f.assignees.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                push(&mut sql, &mut binds, Bind::S(a.clone()));
            }
            sql.push(')');
            if f.include_unassigned {
                sql.push_str(" OR owner_email IS NULL");
            }
            sql.push(')');
        }
        if let Some(c) = after {
            sql.push_str(" AND (created_at, workspace_id, source, id) < (");
            push(&mut sql, &mut binds, Bind::I(c.created_at));
            sql.push_str(", ");
            push(&mut sql, &mut binds, Bind::S(c.workspace_id.to_string()));
            sql.push_str(", ");
            push(&mut sql, &mut binds, Bind::S(c.source.as_str().to_string()));
            sql.push_str(", ");
            push(&mut sql, &mut binds, Bind::S(c.id.clone()));
            sql.push(')');
        }
        sql.push_str(" ORDER BY created_at DESC, workspace_id DESC, source DESC, id DESC LIMIT ");
        push(&mut sql, &mut binds, Bind::I(limit));
        let mut q = sqlx::query(&sql);
        for b in binds {
            q = match b {
                Bind::S(s) => q.bind(s),
                Bind::I(i) => q.bind(i),
            };
        }
        let rows = q.fetch_all(&self.pool).await.map_err(db_err)?;
        rows.iter().map(row_to_list_item).collect()
    }

    /// The oldest `createdAt` of every workspace × source stream of the organization.
    pub async fn stream_floors(&self, org: &OrgId) -> Result<HashMap<(Uuid, IncidentSource), i64>> {
        // Six per workspace: thousands for a large MSSP, read on every page with more.
        let floors: Vec<(Uuid, String, i64)> = self
            .org_rows_aggregated(
                org,
                "incident_streams",
                "workspace_id, source, oldest_created_at",
            )
            .await?;
        Ok(floors
            .into_iter()
            .filter_map(|(ws, source, oldest)| {
                Some(((ws, IncidentSource::parse(&source)?), oldest))
            })
            .collect())
    }

    /// The outbox of an organization, oldest first.
    pub async fn events(&self, org: &OrgId) -> Result<Vec<StoredEvent>> {
        let rows = sqlx::query(
            "SELECT id, event_type, workspace_id, subject_id, payload, created_at FROM events \
             WHERE organization_id = $1 ORDER BY created_at, id",
        )
        .bind(org.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(StoredEvent {
                    id: get_uuid(r, "id")?,
                    event_type: get_str(r, "event_type")?,
                    workspace_id: get_opt_str(r, "workspace_id")?.and_then(|s| s.parse().ok()),
                    subject_id: get_str(r, "subject_id")?,
                    payload: serde_json::from_str(&get_str(r, "payload")?)
                        .map_err(|e| Error::Internal(format!("corrupt event payload: {e}")))?,
                    created_at: get_time(r, "created_at")?,
                })
            })
            .collect()
    }
}

/// The customer account (id, name) a workspace belongs to, which events name.
pub(crate) async fn workspace_account(
    tx: &mut crate::db::Tx,
    org: &OrgId,
    workspace: Uuid,
) -> Result<(Uuid, String)> {
    let row = sqlx::query(
        "SELECT a.id, a.name FROM workspaces w JOIN accounts a ON a.id = w.account_id \
         WHERE w.organization_id = $1 AND w.id = $2",
    )
    .bind(org.to_string())
    .bind(workspace.to_string())
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_err)?
    .ok_or_else(|| Error::not_found_target("Workspace", workspace, "workspaceId"))?;
    Ok((get_uuid(&row, "id")?, get_str(&row, "name")?))
}

/// What an item's write needs that does not depend on the stored state, computed before the
/// write lock is taken so that concurrent ingests overlap this work instead of queueing it.
struct Prepared {
    doc: String,
    summary: String,
    owner_email: Option<String>,
    /// The entity index entries `(kind, key)`, sorted.
    keys: Vec<(&'static str, String)>,
}

impl Prepared {
    fn of(doc: &IncidentDoc) -> Result<Prepared> {
        Ok(Prepared {
            doc: serde_json::to_string(doc).map_err(Error::internal)?,
            summary: list_summary(doc)?,
            owner_email: doc
                .owner
                .as_ref()
                .and_then(|o| o.email.as_ref())
                .map(|e| e.to_lowercase()),
            keys: doc_keys(doc),
        })
    }
}

/// An incident's state before the item being applied: stored, or written by an earlier item
/// of the same batch.
#[derive(Clone, Copy)]
struct Previous<'a> {
    number: i64,
    created_at: DateTime<Utc>,
    doc: &'a IncidentDoc,
}

/// One ingest transaction: prefetched existing incidents, numbering, and the events and
/// stream bound written once at the end.
struct Batch<'a> {
    org: &'a OrgId,
    workspace: Uuid,
    source: IncidentSource,
    account: (Uuid, &'a str),
    /// The stored incidents among the batch's ids.
    stored: &'a HashMap<String, IncidentRow>,
    /// Incidents written by earlier items of this batch.
    seen: HashMap<&'a str, Previous<'a>>,
    last_number: i64,
    oldest: Option<i64>,
    /// `(event type, subject, data as JSON text)`.
    events: Vec<(&'static str, String, String)>,
    now: DateTime<Utc>,
    /// Rows to write, by incident id (the last state of an id repeated in the batch wins).
    rows: HashMap<&'a str, PendingRow<'a>>,
    order: Vec<&'a str>,
    /// Bind parameters per multi-row statement on this engine.
    params: usize,
    backend: Backend,
}

/// The values of one incident row and its entity keys, written at the end of the batch.
struct PendingRow<'a> {
    number: i64,
    created_at: i64,
    updated_at: i64,
    doc: &'a IncidentDoc,
    prepared: &'a Prepared,
    /// The entity index entries of the stored state before this batch (empty for a new
    /// incident), sorted.
    stored_keys: Vec<(&'static str, String)>,
}

/// The `(kind, lowercased identifier)` entries under which `by-entity` finds an incident,
/// sorted and without duplicates.
fn doc_keys(doc: &IncidentDoc) -> Vec<(&'static str, String)> {
    let mut keys: Vec<(&'static str, String)> = doc
        .entities
        .iter()
        .flat_map(|e| entity_keys(e).into_iter().map(|k| (e.kind.as_str(), k)))
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

impl<'a> Batch<'a> {
    fn ingest_one(&mut self, item: &'a IngestIncident, prepared: &'a Prepared) -> Result<Applied> {
        let n = &item.incident;
        let t = self.now;
        let previous = self.seen.get(item.id.as_str()).copied().or_else(|| {
            self.stored.get(&item.id).map(|r| Previous {
                number: r.number,
                created_at: r.created_at,
                doc: &r.doc,
            })
        });
        let (applied, number, created_at, event) = match previous {
            None => {
                let number = match n.number {
                    Some(num) => num,
                    None => self.last_number + 1,
                };
                self.last_number = self.last_number.max(number);
                let created_at = n.created_at.unwrap_or(t);
                (
                    Applied::Created { number },
                    number,
                    created_at,
                    Some(("incident.created", None)),
                )
            }
            Some(old) => {
                let mut changes = diff(old.doc, &n.doc);
                let number = n.number.unwrap_or(old.number);
                if number != old.number {
                    self.last_number = self.last_number.max(number);
                    changes.push(FieldChange {
                        field: "number".into(),
                        from: old.number.into(),
                        to: number.into(),
                    });
                }
                let created_at = n.created_at.unwrap_or(old.created_at);
                if created_at != old.created_at {
                    changes.push(FieldChange {
                        field: "createdAt".into(),
                        from: serde_json::to_value(old.created_at).unwrap_or_default(),
                        to: serde_json::to_value(created_at).unwrap_or_default(),
                    });
                }
                if changes.is_empty() {
                    return Ok(Applied::Unchanged { number: old.number });
                }
                (
                    Applied::Updated {
                        number,
                        changes: changes.clone(),
                    },
                    number,
                    created_at,
                    Some(("incident.updated", Some(changes))),
                )
            }
        };
        let (workspace, source) = (self.workspace, self.source);
        let updated_at = n.updated_at.unwrap_or(t);
        // The entity index as stored before this batch (an id repeated in the batch keeps
        // the first occurrence's), so the write touches only the keys that changed.
        let stored_keys = match self.rows.remove(item.id.as_str()) {
            Some(pending) => pending.stored_keys,
            None => {
                self.order.push(&item.id);
                match self.stored.get(&item.id) {
                    Some(old) => doc_keys(&old.doc),
                    None => Vec::new(),
                }
            }
        };
        self.rows.insert(
            &item.id,
            PendingRow {
                number,
                created_at: to_micros(created_at),
                updated_at: to_micros(updated_at),
                doc: &n.doc,
                prepared,
                stored_keys,
            },
        );
        let created_micros = to_micros(created_at);
        self.oldest = Some(
            self.oldest
                .map_or(created_micros, |o| o.min(created_micros)),
        );
        if let Some((event_type, changes)) = event {
            let data = event_data(
                self.account,
                workspace,
                source,
                &item.id,
                number,
                created_at,
                &n.doc,
                changes.as_deref(),
            );
            self.events.push((
                event_type,
                format!("{}/{}", source.as_str(), item.id),
                data.to_string(),
            ));
        }
        // Later items of the same batch see this one.
        self.seen.insert(
            &item.id,
            Previous {
                number,
                created_at,
                doc: &n.doc,
            },
        );
        Ok(applied)
    }

    /// Writes the rows (multi-row statements: a statement costs a round trip, or on SQLite a
    /// thread hop), the entity index, the counter, the stream's oldest instant and the outbox
    /// events.
    async fn finish(&self, tx: &mut crate::db::Tx) -> Result<()> {
        let (ws, src, org) = (
            self.workspace.to_string(),
            self.source.as_str(),
            self.org.to_string(),
        );
        for chunk in self.order.chunks(self.params / 11) {
            let mut sql = String::from(
                "INSERT INTO incidents (workspace_id, source, organization_id, id, number, title, description, \
                 severity, status, owner_email, created_at, updated_at, summary, doc) VALUES ",
            );
            for i in 0..chunk.len() {
                sql.push_str(if i > 0 {
                    ", ($1, $2, $3, "
                } else {
                    "($1, $2, $3, "
                });
                push_placeholders(&mut sql, 4 + i * 11, 11);
                sql.push(')');
            }
            sql.push_str(
                " ON CONFLICT (workspace_id, source, id) DO UPDATE SET number = excluded.number, \
                 title = excluded.title, description = excluded.description, severity = excluded.severity, \
                 status = excluded.status, owner_email = excluded.owner_email, created_at = excluded.created_at, \
                 updated_at = excluded.updated_at, summary = excluded.summary, doc = excluded.doc",
            );
            let mut q = sqlx::query(&sql).bind(&ws).bind(src).bind(&org);
            for id in chunk {
                let r = &self.rows[id];
                q = q
                    .bind(*id)
                    .bind(r.number)
                    .bind(r.doc.title.as_str())
                    .bind(r.doc.description.as_deref())
                    .bind(severity_str(r.doc.severity))
                    .bind(status_str(r.doc.status))
                    .bind(r.prepared.owner_email.as_deref())
                    .bind(r.created_at)
                    .bind(r.updated_at)
                    .bind(r.prepared.summary.as_str())
                    .bind(r.prepared.doc.as_str());
            }
            q.execute(&mut **tx).await.map_err(db_err)?;
        }
        // The entity index: only the entries that changed.
        let mut removed: Vec<(&str, &str, &str)> = Vec::new();
        let mut added: Vec<(&str, &str, &str)> = Vec::new();
        for id in &self.order {
            let r = &self.rows[id];
            let has = |set: &[(&str, String)], k: &str, v: &str| {
                set.binary_search_by(|(a, b)| (*a, b.as_str()).cmp(&(k, v)))
                    .is_ok()
            };
            for (k, v) in &r.stored_keys {
                if !has(&r.prepared.keys, k, v) {
                    removed.push((k, v, id));
                }
            }
            for (k, v) in &r.prepared.keys {
                if !has(&r.stored_keys, k, v) {
                    added.push((k, v, id));
                }
            }
        }
        // In index order: consecutive inserts land on the same pages.
        added.sort_unstable();
        if !removed.is_empty() {
            sqlx::query(&format!(
                "DELETE FROM incident_entity_index WHERE workspace_id = $1 AND source = $2 \
                 AND (kind, entity_key, incident_id) IN (SELECT value ->> 0, value ->> 1, value ->> 2 FROM {})",
                json_rows(self.backend, 3)
            ))
            .bind(&ws)
            .bind(src)
            .bind(serde_json::to_string(&removed).map_err(Error::internal)?)
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
        }
        if !added.is_empty() {
            sqlx::query(&format!(
                "INSERT INTO incident_entity_index (workspace_id, source, kind, entity_key, incident_id) \
                 SELECT $1, $2, value ->> 0, value ->> 1, value ->> 2 FROM {} WHERE true ON CONFLICT DO NOTHING",
                json_rows(self.backend, 3)
            ))
            .bind(&ws)
            .bind(src)
            .bind(serde_json::to_string(&added).map_err(Error::internal)?)
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
        }
        sqlx::query("UPDATE workspace_counters SET last_number = $2 WHERE workspace_id = $1 AND last_number < $2")
            .bind(self.workspace.to_string())
            .bind(self.last_number)
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
        if let Some(oldest) = self.oldest {
            sqlx::query(
                "INSERT INTO incident_streams (workspace_id, source, organization_id, oldest_created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (workspace_id, source) DO UPDATE SET oldest_created_at = \
                 CASE WHEN incident_streams.oldest_created_at > $4 THEN $4 ELSE incident_streams.oldest_created_at END",
            )
            .bind(self.workspace.to_string())
            .bind(self.source.as_str())
            .bind(self.org.to_string())
            .bind(oldest)
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
        }
        let t = to_micros(self.now);
        // One microsecond apart, so the outbox keeps the batch's order.
        for (c, chunk) in self.events.chunks(self.params / 5).enumerate() {
            let mut sql = String::from(
                "INSERT INTO events (id, organization_id, workspace_id, account_id, event_type, subject_id, \
                 payload, occurred_at, created_at) VALUES ",
            );
            for i in 0..chunk.len() {
                let b = 5 + i * 5;
                if i > 0 {
                    sql.push_str(", ");
                }
                let _ = write!(
                    sql,
                    "(${b}, $1, $2, $3, ${}, ${}, ${}, $4, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4
                );
            }
            let mut q = sqlx::query(&sql)
                .bind(self.org.to_string())
                .bind(self.workspace.to_string())
                .bind(self.account.0.to_string())
                .bind(t);
            for (i, (event_type, subject, data)) in chunk.iter().enumerate() {
                q = q
                    .bind(crate::db::new_event_id())
                    .bind(*event_type)
                    .bind(subject.as_str())
                    .bind(data.as_str())
                    .bind(t + (c * (self.params / 5) + i) as i64);
            }
            q.execute(&mut **tx).await.map_err(db_err)?;
        }
        Ok(())
    }
}

/// A comment to add to an incident.
#[derive(Debug, Clone)]
pub struct NewComment {
    pub message: String,
    pub author_name: Option<String>,
    pub author_email: Option<String>,
    pub is_activity: bool,
    pub is_closing: bool,
    pub ticket_id: Option<String>,
}

async fn insert_comment(
    tx: &mut crate::db::Tx,
    org: &OrgId,
    workspace: Uuid,
    source: IncidentSource,
    incident: &str,
    c: &NewComment,
    at: i64,
) -> Result<IncidentComment> {
    let id = Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO incident_comments (id, workspace_id, source, incident_id, organization_id, message, \
         author_email, author_name, is_activity, is_agent, agent_name, is_closing, ticket_note_id, \
         ticket_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, NULL, $10, NULL, $11, $12)",
    )
    .bind(&id)
    .bind(workspace.to_string())
    .bind(source.as_str())
    .bind(incident)
    .bind(org.to_string())
    .bind(&c.message)
    .bind(c.author_email.as_deref())
    .bind(c.author_name.as_deref())
    .bind(c.is_activity as i64)
    .bind(c.is_closing as i64)
    .bind(c.ticket_id.as_deref())
    .bind(at)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(IncidentComment {
        id,
        message: c.message.clone(),
        created_time: palisade_domain::time::from_micros(at),
        author_email: c.author_email.clone(),
        author_name: c.author_name.clone(),
        is_activity_comment: c.is_activity,
        is_agent_comment: false,
        agent_name: None,
        is_closing_comment: c.is_closing,
        ticket_note_id: None,
        ticket_id: c.ticket_id.clone(),
    })
}

impl Store {
    /// Changes an incident under a row lock: `change` gets the current document and returns
    /// the new one plus the comments to add. A real change updates the incident and emits
    /// `incident.updated` with its changes, all in one transaction. Returns the incident after
    /// the change and the changes (empty when nothing changed; comments are added either way).
    pub async fn modify_incident<F>(
        &self,
        org: &OrgId,
        workspace: Uuid,
        source: IncidentSource,
        id: &str,
        change: F,
    ) -> Result<Option<(IncidentRow, Vec<FieldChange>, Vec<IncidentComment>)>>
    where
        F: FnOnce(&IncidentRow) -> Result<(IncidentDoc, Vec<NewComment>)>,
    {
        let mut tx = self.begin_write().await?;
        let out = self
            .modify_incident_in(&mut tx, org, workspace, source, id, change)
            .await?;
        tx.commit().await?;
        if out
            .as_ref()
            .is_some_and(|(_, changes, _)| !changes.is_empty())
        {
            self.events_written();
        }
        Ok(out)
    }

    /// [`Store::modify_incident`] inside a caller's write transaction (the caller commits and
    /// calls `events_written` when changes were made).
    pub(crate) async fn modify_incident_in<F>(
        &self,
        tx: &mut crate::db::Tx,
        org: &OrgId,
        workspace: Uuid,
        source: IncidentSource,
        id: &str,
        change: F,
    ) -> Result<Option<(IncidentRow, Vec<FieldChange>, Vec<IncidentComment>)>>
    where
        F: FnOnce(&IncidentRow) -> Result<(IncidentDoc, Vec<NewComment>)>,
    {
        let lock = if self.backend() == crate::Backend::Postgres {
            " FOR UPDATE"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {INCIDENT_COLS} FROM incidents WHERE organization_id = $1 AND workspace_id = $2 \
             AND source = $3 AND id = $4{lock}"
        );
        let Some(row) = sqlx::query(&sql)
            .bind(org.to_string())
            .bind(workspace.to_string())
            .bind(source.as_str())
            .bind(id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_err)?
        else {
            return Ok(None);
        };
        let mut row = row_to_incident(&row)?;
        let (doc, comments) = change(&row)?;
        let changes = diff(&row.doc, &doc);
        let t = to_micros(now());
        if !changes.is_empty() {
            sqlx::query(
                "UPDATE incidents SET status = $5, severity = $6, owner_email = $7, updated_at = $8, doc = $9, \
                 summary = $10 WHERE organization_id = $1 AND workspace_id = $2 AND source = $3 AND id = $4",
            )
            .bind(org.to_string())
            .bind(workspace.to_string())
            .bind(source.as_str())
            .bind(id)
            .bind(doc.status.as_str())
            .bind(doc.severity.as_str())
            .bind(doc.owner.as_ref().and_then(|o| o.email.as_ref()).map(|e| e.to_lowercase()))
            .bind(t)
            .bind(serde_json::to_string(&doc).map_err(Error::internal)?)
            .bind(list_summary(&doc)?)
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
            let account = workspace_account(tx, org, workspace).await?;
            let data = event_data(
                (account.0, &account.1),
                workspace,
                source,
                id,
                row.number,
                row.created_at,
                &doc,
                Some(&changes),
            );
            sqlx::query(
                "INSERT INTO events (id, organization_id, workspace_id, account_id, event_type, subject_id, \
                 payload, occurred_at, created_at) VALUES ($1, $2, $3, $4, 'incident.updated', $5, $6, $7, $7)",
            )
            .bind(crate::db::new_event_id())
            .bind(org.to_string())
            .bind(workspace.to_string())
            .bind(account.0.to_string())
            .bind(format!("{}/{}", source.as_str(), id))
            .bind(data.to_string())
            .bind(t)
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
            row.doc = doc;
            row.updated_at = palisade_domain::time::from_micros(t);
        }
        let mut added = Vec::new();
        // One microsecond apart, so comments added together keep their order.
        for (i, c) in comments.iter().enumerate() {
            added.push(insert_comment(tx, org, workspace, source, id, c, t + i as i64).await?);
        }
        Ok(Some((row, changes, added)))
    }

    /// Adds a comment to an existing incident; `None` when there is no such incident.
    pub async fn add_comment(
        &self,
        org: &OrgId,
        workspace: Uuid,
        source: IncidentSource,
        id: &str,
        comment: &NewComment,
    ) -> Result<Option<IncidentComment>> {
        Ok(self
            .modify_incident(org, workspace, source, id, |row| {
                Ok((row.doc.clone(), vec![comment.clone()]))
            })
            .await?
            .and_then(|(_, _, mut added)| added.pop()))
    }

    /// Edits a comment's text. Activity comments are the incident's history and cannot be
    /// edited (`Conflict`). `None` when there is no such comment on the incident.
    pub async fn update_comment(
        &self,
        org: &OrgId,
        workspace: Uuid,
        source: IncidentSource,
        incident: &str,
        comment: &str,
        message: &str,
    ) -> Result<Option<IncidentComment>> {
        let row = sqlx::query(
            "SELECT is_activity FROM incident_comments WHERE organization_id = $1 AND workspace_id = $2 \
             AND source = $3 AND incident_id = $4 AND id = $5",
        )
        .bind(org.to_string())
        .bind(workspace.to_string())
        .bind(source.as_str())
        .bind(incident)
        .bind(comment)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        if get_bool(&row, "is_activity")? {
            return Err(Error::Conflict(
                "Activity comments record the incident's history and cannot be edited.".into(),
            ));
        }
        sqlx::query(
            "UPDATE incident_comments SET message = $6 WHERE organization_id = $1 AND workspace_id = $2 \
             AND source = $3 AND incident_id = $4 AND id = $5",
        )
        .bind(org.to_string())
        .bind(workspace.to_string())
        .bind(source.as_str())
        .bind(incident)
        .bind(comment)
        .bind(message)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(self
            .incident_comments(org, workspace, source, incident)
            .await?
            .into_iter()
            .find(|c| c.id == comment))
    }
}
