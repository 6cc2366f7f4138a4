//! A bounded, short-lived cache of incidents read by id.
//!
//! Every write through this process (ingest, status, assignment, comments, workspace
//! deletion) invalidates what it touches at once; a write made by another replica is seen
//! within `incidents.cache_ttl_ms` (default 1 s on PostgreSQL; 60 s on SQLite, where one
//! process owns the database and every write invalidates). A TTL of 0 turns the cache off.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use palisade_domain::OrgId;
use palisade_store::IncidentRow;
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
}

impl IncidentCache {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        IncidentCache {
            ttl,
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn key(org: &OrgId, ws: Uuid, source: IncidentSource, id: &str) -> Key {
        (org.uuid(), ws, source, id.to_string())
    }

    pub fn get(
        &self,
        org: &OrgId,
        ws: Uuid,
        source: IncidentSource,
        id: &str,
    ) -> Option<Arc<Cached>> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.lock().unwrap();
        let (at, row) = entries.get(&Self::key(org, ws, source, id))?;
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
            Self::key(org, row.workspace_id, row.source, &row.id),
            (Instant::now(), entry.clone()),
        );
    }

    pub fn forget(&self, org: &OrgId, ws: Uuid, source: IncidentSource, id: &str) {
        self.entries
            .lock()
            .unwrap()
            .remove(&Self::key(org, ws, source, id));
    }

    pub fn clear(&self) {
        self.entries.lock().unwrap().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str) -> Arc<Cached> {
        let input: palisade_types::incidents::IncidentInput =
            serde_json::from_value(serde_json::json!({"title": "t", "severity": "Low"})).unwrap();
        let mut v = palisade_domain::Validator::new();
        let doc = palisade_domain::incident::normalize(&mut v, "", &input)
            .unwrap()
            .doc;
        Cached::new(IncidentRow {
            workspace_id: Uuid::nil(),
            source: IncidentSource::Splunk,
            id: id.into(),
            number: 1,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            doc,
        })
    }

    #[test]
    fn expires_forgets_and_stays_bounded() {
        let org = OrgId::new(Uuid::new_v4());
        let c = IncidentCache::new(Duration::from_millis(50), 2);
        c.put(&org, row("a"));
        assert!(c
            .get(&org, Uuid::nil(), IncidentSource::Splunk, "a")
            .is_some());
        assert!(c
            .get(
                &OrgId::new(Uuid::new_v4()),
                Uuid::nil(),
                IncidentSource::Splunk,
                "a"
            )
            .is_none());
        c.forget(&org, Uuid::nil(), IncidentSource::Splunk, "a");
        assert!(c
            .get(&org, Uuid::nil(), IncidentSource::Splunk, "a")
            .is_none());
        c.put(&org, row("a"));
        c.put(&org, row("b"));
        c.put(&org, row("c"));
        assert!(c.entries.lock().unwrap().len() <= 2);
        std::thread::sleep(Duration::from_millis(60));
        assert!(c
            .get(&org, Uuid::nil(), IncidentSource::Splunk, "c")
            .is_none());
        let off = IncidentCache::new(Duration::ZERO, 10);
        off.put(&org, row("a"));
        assert!(off
            .get(&org, Uuid::nil(), IncidentSource::Splunk, "a")
            .is_none());
    }
}
