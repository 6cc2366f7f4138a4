//! Ingest: a batch of incidents of one workspace and source, upserted with change detection,
//! numbering, the entity index, the stream's oldest instant and outbox events, in one
//! transaction. The hot write path (docs/benchmarks.md): multi-row statements, the entity
//! index touched only where it changed, the events of the batch written together.

use std::collections::HashMap;
use std::fmt::Write;

use chrono::{DateTime, Utc};
use palisade_domain::incident::{diff, entity_keys, event_data, IncidentDoc, NormalizedIncident};
use palisade_domain::time::{now, to_micros};
use palisade_domain::vocab::{FieldChange, IncidentSource};
use palisade_domain::{Error, Result};
use uuid::Uuid;

use super::{list_summary, owner_email, IncidentRow, INCIDENT_COLS};
use crate::datasources::{count_volume, IngestVolume};
use crate::db::{json_rows, push_placeholders, sql, Backend, Tx, MAX_PARAMS};
use crate::outbox::{new_event_id, workspace_account};
use crate::{OrgId, Tenant, WorkspaceId};

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

impl Tenant<'_> {
    /// Ingests incidents of one workspace and source in one transaction. Creation emits
    /// `incident.created`, a real change `incident.updated` with its changes, an identical
    /// re-send nothing; each event row commits with its change (outbox).
    pub async fn ingest_incidents(
        &self,
        ws: &WorkspaceId,
        source: IncidentSource,
        items: &[IngestIncident],
        volume: Option<&IngestVolume>,
    ) -> Result<Vec<Applied>> {
        let prepared = prepare(items)?;
        let mut tx = self.store.begin_write().await?;
        let out = self
            .ingest_in(&mut tx, ws, source, items, &prepared, volume, None)
            .await?;
        tx.commit().await?;
        // The batch's memory is freed after the commit, outside the write lock.
        drop(prepared);
        self.store.events_written();
        Ok(out)
    }

    /// [`Tenant::ingest_incidents`] inside the caller's write transaction (the caller commits
    /// and calls `events_written`); `connector`: the connector the items were pulled from,
    /// recorded on each incident (a pushed incident keeps `None`, and an incident once pulled
    /// keeps its connector).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn ingest_in(
        &self,
        tx: &mut Tx,
        ws: &WorkspaceId,
        source: IncidentSource,
        items: &[IngestIncident],
        prepared: &[Prepared],
        volume: Option<&IngestVolume>,
        connector: Option<Uuid>,
    ) -> Result<Vec<Applied>> {
        let workspace = self.own(ws)?;
        let store = self.store;
        let tx = &mut *tx;
        let account = workspace_account(tx, &self.org, workspace).await?;
        // The workspace's number counter, locked for this transaction (a row lock on
        // PostgreSQL; SQLite's write lock is already held).
        let (last_number,): (i64,) = sql(
            "INSERT INTO workspace_counters (workspace_id, last_number) VALUES ($1, 0) \
             ON CONFLICT (workspace_id) DO UPDATE SET last_number = workspace_counters.last_number \
             RETURNING last_number",
            (workspace,),
        )
        .fetch_one(&mut **tx)
        .await?;
        // Stored incidents of the batch, in one query per `MAX_PARAMS` ids (the workspace is
        // the organization's: `workspace_account` found it).
        let mut stored = HashMap::new();
        let mut ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        for chunk in ids.chunks(MAX_PARAMS) {
            let mut text = format!(
                "SELECT {INCIDENT_COLS} FROM incidents WHERE workspace_id = $1 AND source = $2 AND id IN ("
            );
            push_placeholders(&mut text, 3, chunk.len());
            text.push(')');
            let mut q = sql(&text, (workspace, source));
            for id in chunk {
                q = q.bind(*id);
            }
            let rows: Vec<IncidentRow> = q.fetch_all(&mut **tx).await?;
            for row in rows {
                stored.insert(row.id.clone(), row);
            }
        }
        let mut batch = Batch {
            org: &self.org,
            workspace,
            source,
            account: (account.0, &account.1),
            stored: &stored,
            seen: HashMap::new(),
            last_number,
            oldest: None,
            events: Vec::new(),
            now: now(),
            rows: HashMap::new(),
            order: Vec::new(),
            params: store.params(),
            backend: store.backend(),
            connector,
        };
        let mut out = Vec::with_capacity(items.len());
        for (item, prepared) in items.iter().zip(prepared) {
            out.push(batch.ingest_one(item, prepared)?);
        }
        batch.finish(tx).await?;
        if let Some(v) = volume {
            // Volume is accounting, not the data: counted in the same transaction (one commit
            // per batch, not two) behind a savepoint, so a failure to count is logged and the
            // ingest still commits.
            sql("SAVEPOINT ingest_volume", ())
                .execute(&mut **tx)
                .await?;
            let undo = match count_volume(tx, &self.org, workspace, v).await {
                Ok(()) => "RELEASE SAVEPOINT ingest_volume",
                Err(e) => {
                    tracing::warn!(error = %e, workspace = %workspace, "could not count ingest volume");
                    "ROLLBACK TO SAVEPOINT ingest_volume"
                }
            };
            sql(undo, ()).execute(&mut **tx).await?;
        }
        Ok(out)
    }
}

/// What each item's write needs, computed before the write lock is taken.
pub(crate) fn prepare(items: &[IngestIncident]) -> Result<Vec<Prepared>> {
    items
        .iter()
        .map(|i| Prepared::of(&i.incident.doc))
        .collect()
}

/// What an item's write needs that does not depend on the stored state, computed before the
/// write lock is taken so that concurrent ingests overlap this work instead of queueing it.
pub(crate) struct Prepared {
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
            owner_email: owner_email(doc),
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
    /// The connector of a poll's batch.
    connector: Option<Uuid>,
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
    async fn finish(&self, tx: &mut Tx) -> Result<()> {
        let (ws, src, org) = (self.workspace, self.source, self.org);
        let connector = self.connector.map(|c| c.to_string());
        for chunk in self.order.chunks((self.params - 4) / 11) {
            let mut text = String::from(
                "INSERT INTO incidents (workspace_id, source, organization_id, connector_id, id, number, title, \
                 description, severity, status, owner_email, created_at, updated_at, summary, doc) VALUES ",
            );
            for i in 0..chunk.len() {
                text.push_str(if i > 0 {
                    ", ($1, $2, $3, $4, "
                } else {
                    "($1, $2, $3, $4, "
                });
                push_placeholders(&mut text, 5 + i * 11, 11);
                text.push(')');
            }
            text.push_str(
                " ON CONFLICT (workspace_id, source, id) DO UPDATE SET number = excluded.number, \
                 title = excluded.title, description = excluded.description, severity = excluded.severity, \
                 status = excluded.status, owner_email = excluded.owner_email, created_at = excluded.created_at, \
                 updated_at = excluded.updated_at, summary = excluded.summary, doc = excluded.doc, \
                 acknowledged_at = COALESCE(incidents.acknowledged_at, CASE WHEN excluded.status <> 'New' \
                 OR excluded.owner_email IS NOT NULL THEN excluded.updated_at END), \
                 closed_at = CASE WHEN excluded.status = 'Closed' THEN \
                 COALESCE(incidents.closed_at, excluded.updated_at) END, \
                 connector_id = COALESCE(excluded.connector_id, incidents.connector_id)",
            );
            let mut q = sql(&text, (ws, src, org, connector.as_deref()));
            for id in chunk {
                let r = &self.rows[id];
                q = q
                    .bind(*id)
                    .bind(r.number)
                    .bind(r.doc.title.as_str())
                    .bind(r.doc.description.as_deref())
                    .bind(r.doc.severity)
                    .bind(r.doc.status)
                    .bind(r.prepared.owner_email.as_deref())
                    .bind(r.created_at)
                    .bind(r.updated_at)
                    .bind(r.prepared.summary.as_str())
                    .bind(r.prepared.doc.as_str());
            }
            q.execute(&mut **tx).await?;
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
            sql(
                &format!(
                    "DELETE FROM incident_entity_index WHERE workspace_id = $1 AND source = $2 \
                     AND (kind, entity_key, incident_id) IN (SELECT value ->> 0, value ->> 1, value ->> 2 FROM {})",
                    json_rows(self.backend, 3)
                ),
                (ws, src, serde_json::to_string(&removed).map_err(Error::internal)?),
            )
            .execute(&mut **tx)
            .await?;
        }
        if !added.is_empty() {
            sql(
                &format!(
                    "INSERT INTO incident_entity_index (workspace_id, source, kind, entity_key, incident_id) \
                     SELECT $1, $2, value ->> 0, value ->> 1, value ->> 2 FROM {} WHERE true ON CONFLICT DO NOTHING",
                    json_rows(self.backend, 3)
                ),
                (ws, src, serde_json::to_string(&added).map_err(Error::internal)?),
            )
            .execute(&mut **tx)
            .await?;
        }
        sql(
            "UPDATE workspace_counters SET last_number = $2 WHERE workspace_id = $1 AND last_number < $2",
            (ws, self.last_number),
        )
        .execute(&mut **tx)
        .await?;
        if let Some(oldest) = self.oldest {
            sql(
                "INSERT INTO incident_streams (workspace_id, source, organization_id, oldest_created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (workspace_id, source) DO UPDATE SET oldest_created_at = \
                 CASE WHEN incident_streams.oldest_created_at > $4 THEN $4 ELSE incident_streams.oldest_created_at END",
                (ws, src, org, oldest),
            )
            .execute(&mut **tx)
            .await?;
        }
        let t = to_micros(self.now);
        // One microsecond apart, so the outbox keeps the batch's order.
        for (c, chunk) in self.events.chunks(self.params / 5).enumerate() {
            let mut text = String::from(
                "INSERT INTO events (id, organization_id, workspace_id, account_id, event_type, subject_id, \
                 payload, occurred_at, created_at) VALUES ",
            );
            for i in 0..chunk.len() {
                let b = 5 + i * 5;
                if i > 0 {
                    text.push_str(", ");
                }
                let _ = write!(
                    text,
                    "(${b}, $1, $2, $3, ${}, ${}, ${}, $4, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4
                );
            }
            let mut q = sql(&text, (org, ws, self.account.0, t));
            for (i, (event_type, subject, data)) in chunk.iter().enumerate() {
                q = q
                    .bind(new_event_id())
                    .bind(*event_type)
                    .bind(subject.as_str())
                    .bind(data.as_str())
                    .bind(t + (c * (self.params / 5) + i) as i64);
            }
            q.execute(&mut **tx).await?;
        }
        Ok(())
    }
}
