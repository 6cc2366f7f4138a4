//! A bounded, short-lived cache of incidents read by id.
//!
//! Every write through this process (ingest, status, assignment, comments, workspace
//! deletion) invalidates what it touches at once. On PostgreSQL the invalidation is also
//! broadcast to every replica (`NOTIFY palisade_incident_cache`, see [`IncidentCache::sync`]),
//! so another replica's write is seen at once too; a replica that loses its listening
//! connection clears its cache, and `incidents.cache_ttl_ms` bounds staleness only if a
//! replica dies between committing a write and broadcasting it. A TTL of 0 turns the cache off.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use palisade_store::{IncidentKey, IncidentRow, OrgId};
use palisade_types::incidents::IncidentSource;
use serde_json::value::RawValue;
use uuid::Uuid;

type Key = (Uuid, Uuid, IncidentSource, String);

/// A cached incident and its rendered detail documents (made on first use).
pub struct Cached {
    pub row: IncidentRow,
    pub basic: OnceLock<Arc<RawValue>>,
    pub full: OnceLock<Arc<RawValue>>,
}

impl Cached {
    pub fn new(row: IncidentRow) -> Arc<Self> {
        Arc::new(Cached {
            row,
            basic: OnceLock::new(),
            full: OnceLock::new(),
        })
    }
}

pub struct IncidentCache {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<Key, (Instant, Arc<Cached>)>>,
    /// Invalidations to broadcast to the other replicas (set by [`IncidentCache::sync`]).
    outbox: OnceLock<tokio::sync::mpsc::UnboundedSender<String>>,
}

const CHANNEL: &str = "palisade_incident_cache";
/// PostgreSQL's notification payload limit is 8,000 bytes.
const MAX_PAYLOAD: usize = 7_000;

fn encode(key: &Key) -> String {
    format!("{}|{}|{}|{}", key.0, key.1, key.2.as_str(), key.3)
}

fn decode(line: &str) -> Option<Key> {
    let mut parts = line.splitn(4, '|');
    let org = parts.next()?.parse().ok()?;
    let ws = parts.next()?.parse().ok()?;
    let source = IncidentSource::parse(parts.next()?)?;
    Some((org, ws, source, parts.next()?.to_string()))
}

impl IncidentCache {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        IncidentCache {
            ttl,
            capacity,
            entries: Mutex::new(HashMap::new()),
            outbox: OnceLock::new(),
        }
    }

    /// Keeps the caches of every replica on one PostgreSQL database coherent: local
    /// invalidations are broadcast, and broadcasts from the others are applied. Does nothing
    /// on SQLite. Runs until the process ends.
    pub fn sync(self: &Arc<Self>, store: palisade_store::Store) {
        if store.backend() != palisade_store::Backend::Postgres || self.ttl.is_zero() {
            return;
        }
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        if self.outbox.set(tx).is_err() {
            return;
        }
        let publisher = store.clone();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut payload = first;
                while payload.len() < MAX_PAYLOAD {
                    match rx.try_recv() {
                        Ok(line) if payload.len() + line.len() + 1 < MAX_PAYLOAD => {
                            payload.push('\n');
                            payload.push_str(&line);
                        }
                        Ok(line) => {
                            let _ = publisher.notify(CHANNEL, &payload).await;
                            payload = line;
                        }
                        Err(_) => break,
                    }
                }
                if let Err(e) = publisher.notify(CHANNEL, &payload).await {
                    tracing::warn!(error = %e, "could not broadcast an incident cache invalidation");
                }
            }
        });
        let cache = self.clone();
        tokio::spawn(async move {
            loop {
                match store.listen(CHANNEL).await {
                    Ok(Some(mut listener)) => {
                        // Whatever was missed while not listening is unknown: start afresh.
                        cache.clear_local();
                        loop {
                            match listener.try_recv().await {
                                Ok(Some(n)) => cache.apply(n.payload()),
                                // The connection was lost (it reconnects); notifications may
                                // have been missed meanwhile.
                                Ok(None) => cache.clear_local(),
                                Err(e) => {
                                    tracing::warn!(error = %e, "incident cache listener failed");
                                    break;
                                }
                            }
                        }
                    }
                    Ok(None) => return,
                    Err(e) => tracing::warn!(error = %e, "incident cache listener cannot connect"),
                }
                cache.clear_local();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    fn apply(&self, payload: &str) {
        let mut entries = self.entries.lock().unwrap();
        for line in payload.lines() {
            if line == "*" {
                entries.clear();
            } else if let Some(key) = decode(line) {
                entries.remove(&key);
            }
        }
    }

    fn clear_local(&self) {
        self.entries.lock().unwrap().clear();
    }

    fn broadcast(&self, line: String) {
        if let Some(tx) = self.outbox.get() {
            let _ = tx.send(line);
        }
    }

    fn key(key: &IncidentKey) -> Key {
        let ws = key.workspace;
        (ws.org().uuid(), ws.uuid(), key.source, key.id.clone())
    }

    pub fn get(&self, key: &IncidentKey) -> Option<Arc<Cached>> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.lock().unwrap();
        let (at, row) = entries.get(&Self::key(key))?;
        (at.elapsed() < self.ttl).then(|| row.clone())
    }

    pub fn put(&self, org: &OrgId, entry: Arc<Cached>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap();
        if entries.len() >= self.capacity {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        let row = &entry.row;
        entries.insert(
            (org.uuid(), row.workspace_id, row.source, row.id.clone()),
            (Instant::now(), entry.clone()),
        );
    }

    pub fn forget(&self, key: &IncidentKey) {
        let key = Self::key(key);
        self.entries.lock().unwrap().remove(&key);
        self.broadcast(encode(&key));
    }

    pub fn clear(&self) {
        self.clear_local();
        self.broadcast("*".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_store::WorkspaceId;

    fn row(ws: &WorkspaceId, id: &str) -> Arc<Cached> {
        let input: palisade_types::incidents::IncidentInput =
            serde_json::from_value(serde_json::json!({"title": "t", "severity": "Low"})).unwrap();
        let mut v = palisade_domain::Validator::new();
        let doc = palisade_domain::incident::normalize(&mut v, "", &input)
            .unwrap()
            .doc;
        Cached::new(IncidentRow {
            workspace_id: ws.uuid(),
            source: IncidentSource::Splunk,
            id: id.into(),
            number: 1,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            doc,
        })
    }

    #[tokio::test]
    async fn invalidation_lines_round_trip() {
        let key: Key = (
            Uuid::new_v4(),
            Uuid::new_v4(),
            IncidentSource::DefenderXDR,
            "INC|1".into(),
        );
        assert_eq!(decode(&encode(&key)), Some(key));
        assert_eq!(decode("garbage"), None);
        let orgs = crate::test_support::orgs(1).await;
        let (org, ws) = (orgs.ids[0], orgs.workspaces[0]);
        let c = IncidentCache::new(Duration::from_secs(60), 10);
        c.put(&org, row(&ws, "a"));
        let key = IncidentKey::new(ws, IncidentSource::Splunk, "a");
        assert!(c.get(&key).is_some());
        c.apply(&format!(
            "nonsense\n{}",
            encode(&(org.uuid(), ws.uuid(), IncidentSource::Splunk, "a".into()))
        ));
        assert!(c.get(&key).is_none());
    }

    #[tokio::test]
    async fn expires_forgets_and_stays_bounded() {
        let orgs = crate::test_support::orgs(2).await;
        let (org, ws, other_ws) = (orgs.ids[0], orgs.workspaces[0], orgs.workspaces[1]);
        let key = |ws: WorkspaceId, id: &str| IncidentKey::new(ws, IncidentSource::Splunk, id);
        let c = IncidentCache::new(Duration::from_millis(50), 2);
        c.put(&org, row(&ws, "a"));
        assert!(c.get(&key(ws, "a")).is_some());
        // Another organization's key with the same incident id.
        assert!(c.get(&key(other_ws, "a")).is_none());
        c.forget(&key(ws, "a"));
        assert!(c.get(&key(ws, "a")).is_none());
        c.put(&org, row(&ws, "a"));
        c.put(&org, row(&ws, "b"));
        c.put(&org, row(&ws, "c"));
        assert!(c.entries.lock().unwrap().len() <= 2);
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(c.get(&key(ws, "c")).is_none());
        let off = IncidentCache::new(Duration::ZERO, 10);
        off.put(&org, row(&ws, "a"));
        assert!(off.get(&key(ws, "a")).is_none());
    }
}
