//! A bounded, short-lived cache of incidents read by id.
//!
//! Every write through this process (ingest, status, assignment, comments, workspace
//! deletion) invalidates what it touches at once. On PostgreSQL the invalidation is also
//! broadcast to every replica (`NOTIFY palisade_incident_cache`, see [`IncidentCache::sync`]),
//! so another replica's write is seen at once too; a replica that loses its listening
//! connection clears its cache, and `incidents.cache_ttl_ms` bounds staleness only if a
//! replica dies between committing a write and broadcasting it. A TTL of 0 turns the cache off.
//!
//! The cache is bounded by bytes (`incidents.cache_bytes`) and by entries
//! (`incidents.cache_entries`); over either bound the oldest entries go first. An entry counts
//! as an estimate of its incident in memory, then the exact length of each detail document
//! rendered from it. Size, hits, misses and evictions are reported in `/metrics`.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
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
    /// The bytes this entry is counted as: the incident, then each rendered document.
    bytes: AtomicUsize,
    /// Whether the cache holds this entry (its bytes are in the cache's total).
    resident: AtomicBool,
}

/// In memory, an incident takes about three times the length of its JSON (measured on the
/// demo's incidents of every source: 2.0–2.8 times), plus the key, the map slot and the queue.
const MEMORY_PER_JSON_BYTE: usize = 3;
const OVERHEAD_BYTES: usize = 256;

/// Counts what is written, keeping nothing.
struct Counter(usize);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Cached {
    pub fn new(row: IncidentRow) -> Arc<Self> {
        let mut json = Counter(0);
        let _ = serde_json::to_writer(&mut json, &row.doc);
        let bytes = json.0 * MEMORY_PER_JSON_BYTE + row.id.len() * 2 + OVERHEAD_BYTES;
        Arc::new(Cached {
            row,
            basic: OnceLock::new(),
            full: OnceLock::new(),
            bytes: AtomicUsize::new(bytes),
            resident: AtomicBool::new(false),
        })
    }

    /// The bytes this entry is counted as.
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }
}

struct Slot {
    at: Instant,
    entry: Arc<Cached>,
    /// Its place in [`Entries::order`].
    seq: u64,
}

#[derive(Default)]
struct Entries {
    map: HashMap<Key, Slot>,
    /// Keys oldest first, with the `seq` of the slot they were queued for (a key removed or
    /// replaced since leaves a stale item, skipped when met and swept when they pile up).
    order: VecDeque<(Key, u64)>,
    next_seq: u64,
    bytes: usize,
}

impl Entries {
    fn remove(&mut self, key: &Key) -> bool {
        match self.map.remove(key) {
            Some(slot) => {
                self.bytes -= slot.entry.bytes();
                slot.entry.resident.store(false, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    fn clear(&mut self) {
        for slot in self.map.values() {
            slot.entry.resident.store(false, Ordering::Relaxed);
        }
        *self = Entries {
            next_seq: self.next_seq,
            ..Entries::default()
        };
    }

    /// Drops queue items at the front that no longer name their slot.
    fn skip_stale(&mut self) {
        while let Some((key, seq)) = self.order.front() {
            if self.map.get(key).is_some_and(|s| s.seq == *seq) {
                return;
            }
            self.order.pop_front();
        }
    }
}

/// What `/metrics` reports of the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    pub entries: usize,
    pub bytes: usize,
    pub capacity_bytes: usize,
    pub capacity_entries: usize,
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
}

pub struct IncidentCache {
    ttl: Duration,
    capacity: usize,
    capacity_bytes: usize,
    entries: Mutex<Entries>,
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
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
    pub fn new(ttl: Duration, capacity: usize, capacity_bytes: usize) -> Self {
        IncidentCache {
            ttl,
            capacity,
            capacity_bytes,
            entries: Mutex::new(Entries::default()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
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
        let found = entries
            .map
            .get(&Self::key(key))
            .filter(|slot| slot.at.elapsed() < self.ttl)
            .map(|slot| slot.entry.clone());
        drop(entries);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    pub fn put(&self, org: &OrgId, entry: Arc<Cached>) {
        if self.ttl.is_zero() {
            return;
        }
        let row = &entry.row;
        let key: Key = (org.uuid(), row.workspace_id, row.source, row.id.clone());
        let mut entries = self.entries.lock().unwrap();
        entries.remove(&key);
        let seq = entries.next_seq;
        entries.next_seq += 1;
        entries.bytes += entry.bytes();
        entry.resident.store(true, Ordering::Relaxed);
        entries.order.push_back((key.clone(), seq));
        entries.map.insert(
            key,
            Slot {
                at: Instant::now(),
                entry,
                seq,
            },
        );
        self.evict(&mut entries);
    }

    /// Counts `bytes` more for a cached entry (a detail document rendered from it), if the
    /// cache still holds it.
    pub fn grow(&self, entry: &Cached, bytes: usize) {
        let mut entries = self.entries.lock().unwrap();
        if entry.resident.load(Ordering::Relaxed) {
            entry.bytes.fetch_add(bytes, Ordering::Relaxed);
            entries.bytes += bytes;
            self.evict(&mut entries);
        }
    }

    /// Drops the oldest entries while over a bound, and expired ones at the front.
    fn evict(&self, entries: &mut Entries) {
        loop {
            entries.skip_stale();
            let Some((key, _)) = entries.order.front() else {
                break;
            };
            let over = entries.bytes > self.capacity_bytes || entries.map.len() > self.capacity;
            let expired = entries.map[key].at.elapsed() >= self.ttl;
            if !over && !expired {
                break;
            }
            let (key, _) = entries.order.pop_front().expect("a front item");
            entries.remove(&key);
            if over {
                self.evictions.fetch_add(1, Ordering::Relaxed);
            }
        }
        // Stale queue items (of keys removed or replaced) are swept once they outnumber the
        // entries.
        if entries.order.len() > 2 * entries.map.len() + 1024 {
            let mut live: Vec<(Key, u64)> = entries
                .map
                .iter()
                .map(|(k, slot)| (k.clone(), slot.seq))
                .collect();
            live.sort_by_key(|(_, seq)| *seq);
            entries.order = live.into();
        }
    }

    pub fn forget(&self, key: &IncidentKey) {
        let key = Self::key(key);
        self.entries.lock().unwrap().remove(&key);
        self.broadcast(encode(&key));
    }

    /// Size, bounds and counters (`/metrics`).
    pub fn stats(&self) -> CacheStats {
        let entries = self.entries.lock().unwrap();
        CacheStats {
            entries: entries.map.len(),
            bytes: entries.bytes,
            capacity_bytes: self.capacity_bytes,
            capacity_entries: self.capacity,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
        }
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
        row_of(ws, id, serde_json::json!({"title": "t", "severity": "Low"}))
    }

    fn row_of(ws: &WorkspaceId, id: &str, input: serde_json::Value) -> Arc<Cached> {
        let input: palisade_types::incidents::IncidentInput =
            serde_json::from_value(input).unwrap();
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
            connector_id: None,
            sync: None,
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
        let c = IncidentCache::new(Duration::from_secs(60), 10, 1 << 20);
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
        let c = IncidentCache::new(Duration::from_millis(50), 2, 1 << 20);
        c.put(&org, row(&ws, "a"));
        assert!(c.get(&key(ws, "a")).is_some());
        // Another organization's key with the same incident id.
        assert!(c.get(&key(other_ws, "a")).is_none());
        c.forget(&key(ws, "a"));
        assert!(c.get(&key(ws, "a")).is_none());
        c.put(&org, row(&ws, "a"));
        c.put(&org, row(&ws, "b"));
        c.put(&org, row(&ws, "c"));
        assert!(c.entries.lock().unwrap().map.len() <= 2);
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(c.get(&key(ws, "c")).is_none());
        let off = IncidentCache::new(Duration::ZERO, 10, 1 << 20);
        off.put(&org, row(&ws, "a"));
        assert!(off.get(&key(ws, "a")).is_none());
    }

    #[tokio::test]
    async fn bounded_by_bytes_oldest_first_counting_rendered_documents() {
        let orgs = crate::test_support::orgs(1).await;
        let (org, ws) = (orgs.ids[0], orgs.workspaces[0]);
        let one = row(&ws, "x").bytes();
        // Room for three incidents.
        let c = IncidentCache::new(Duration::from_secs(60), 1000, one * 3 + one / 2);
        let get = |id: &str| c.get(&IncidentKey::new(ws, IncidentSource::Splunk, id));
        for id in ["a", "b", "c", "d"] {
            c.put(&org, row(&ws, id));
        }
        assert!(get("a").is_none(), "the oldest went first");
        assert!(get("b").is_some() && get("d").is_some());
        let stats = c.stats();
        assert_eq!(stats.entries, 3);
        assert!(stats.bytes <= stats.capacity_bytes, "{stats:?}");
        assert_eq!(stats.evictions, 1);
        // A rendered document of an entry counts too: growing "b" past the budget evicts the
        // oldest entries ("b" itself is the oldest).
        let b = get("b").unwrap();
        c.grow(&b, one);
        assert!(get("b").is_none());
        assert!(get("c").is_some() && get("d").is_some());
        // An entry no longer cached grows nothing.
        c.grow(&b, 10 * one);
        let stats = c.stats();
        assert_eq!(stats.entries, 2);
        assert!(stats.bytes <= stats.capacity_bytes, "{stats:?}");
        assert_eq!(stats.bytes, 2 * one);
        // Replacing, forgetting and clearing keep the count exact.
        c.put(&org, row(&ws, "c"));
        assert_eq!(c.stats().bytes, 2 * one);
        c.forget(&IncidentKey::new(ws, IncidentSource::Splunk, "c"));
        assert_eq!(c.stats().bytes, one);
        c.clear();
        assert_eq!((c.stats().entries, c.stats().bytes), (0, 0));
        // Hits and misses: "a" and then "b" (both evicted) missed; the other five reads hit.
        let stats = c.stats();
        assert_eq!((stats.hits, stats.misses), (5, 2), "{stats:?}");
    }

    #[tokio::test]
    async fn an_entry_is_counted_by_the_size_of_its_incident() {
        let orgs = crate::test_support::orgs(1).await;
        let ws = orgs.workspaces[0];
        let small = row(&ws, "s").bytes();
        let big = row_of(
            &ws,
            "b",
            serde_json::json!({"title": "t", "severity": "Low", "description": "x".repeat(10_000)}),
        );
        assert!(
            big.bytes() >= 3 * 10_000 && small < 2000,
            "{} vs {small}",
            big.bytes()
        );
    }

    #[tokio::test]
    async fn stale_queue_items_are_swept() {
        let orgs = crate::test_support::orgs(1).await;
        let (org, ws) = (orgs.ids[0], orgs.workspaces[0]);
        let c = IncidentCache::new(Duration::from_secs(60), 10, 1 << 30);
        for _ in 0..5000 {
            c.put(&org, row(&ws, "same"));
        }
        let entries = c.entries.lock().unwrap();
        assert_eq!(entries.map.len(), 1);
        assert!(
            entries.order.len() <= 2 + 1024 + 1,
            "{}",
            entries.order.len()
        );
    }
}
