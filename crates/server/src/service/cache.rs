//! A bounded, short-lived cache of incidents read by id.
//!
//! Every write through this process (ingest, status, assignment, comments, workspace
//! deletion) invalidates what it touches at once. On PostgreSQL the invalidation is also
//! broadcast to every replica (`NOTIFY palisade_incident_cache`, see [`IncidentCache::sync`]),
//! so another replica's write is seen at once too; a replica that loses its listening
//! connection clears its cache, and `incidents.cache_ttl_ms` bounds staleness only if a
//! replica dies between committing a write and broadcasting it. A TTL of 0 turns the cache off.
//!
//! A read that misses takes a [`Ticket`] before it reads the database, and what it read is
//! cached only if nothing invalidated that incident (or the whole cache) after the ticket: a
//! read that started before a write (a connector poll's commit, a gamebook step, another
//! replica's broadcast) and finishes after the write's invalidation would otherwise put the
//! older row back until the TTL ran out. Each invalidation counts a generation and remembers
//! it for its key (up to [`MAX_INVALIDATIONS`] keys; past that they are dropped and every
//! older ticket is refused instead).
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

/// Taken by a read before it reads an incident from the database: the generation of
/// invalidations then. See [`IncidentCache::put`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

/// How many invalidated keys are remembered for the reads still in flight.
const MAX_INVALIDATIONS: usize = 4096;

#[derive(Default)]
struct Entries {
    map: HashMap<Key, Slot>,
    /// Keys oldest first, with the `seq` of the slot they were queued for (a key removed or
    /// replaced since leaves a stale item, skipped when met and swept when they pile up).
    order: VecDeque<(Key, u64)>,
    next_seq: u64,
    bytes: usize,
    /// Invalidations so far (a [`Ticket`] is the count when it was taken).
    generation: u64,
    /// The generation of each remembered key's latest invalidation.
    invalidated: HashMap<Key, u64>,
    /// Tickets older than this are refused: the cache was cleared, or invalidations were
    /// dropped from `invalidated`, since.
    floor: u64,
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
        let generation = self.generation + 1;
        *self = Entries {
            next_seq: self.next_seq,
            generation,
            floor: generation,
            ..Entries::default()
        };
    }

    /// Drops a key a write touched, and refuses what reads that started before put back.
    fn invalidate(&mut self, key: Key) {
        self.remove(&key);
        self.generation += 1;
        if self.invalidated.len() >= MAX_INVALIDATIONS {
            self.invalidated.clear();
            self.floor = self.generation;
        }
        self.invalidated.insert(key, self.generation);
    }

    /// Whether a read that took `ticket` may cache what it read of `key`.
    fn admits(&self, key: &Key, ticket: Ticket) -> bool {
        ticket.0 >= self.floor && self.invalidated.get(key).is_none_or(|&g| g <= ticket.0)
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
                entries.invalidate(key);
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

    /// To take before reading an incident from the database, for [`IncidentCache::put`].
    pub fn ticket(&self) -> Ticket {
        Ticket(self.entries.lock().unwrap().generation)
    }

    /// Caches an incident read from the database by a read that took `ticket` first, unless
    /// the incident (or the whole cache) was invalidated since: the read may then hold an
    /// older row than the database's.
    pub fn put(&self, org: &OrgId, entry: Arc<Cached>, ticket: Ticket) {
        if self.ttl.is_zero() {
            return;
        }
        let row = &entry.row;
        let key: Key = (org.uuid(), row.workspace_id, row.source, row.id.clone());
        let mut entries = self.entries.lock().unwrap();
        if !entries.admits(&key, ticket) {
            return;
        }
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
        let line = encode(&key);
        self.entries.lock().unwrap().invalidate(key);
        self.broadcast(line);
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
        c.put(&org, row(&ws, "a"), c.ticket());
        let key = IncidentKey::new(ws, IncidentSource::Splunk, "a");
        assert!(c.get(&key).is_some());
        c.apply(&format!(
            "nonsense\n{}",
            encode(&(org.uuid(), ws.uuid(), IncidentSource::Splunk, "a".into()))
        ));
        assert!(c.get(&key).is_none());
    }

    /// The race of a read against a background write (a connector poll's commit, a gamebook
    /// step): the read misses, reads the row, the write commits and invalidates, and only then
    /// does the read put what it read. The older row must not be cached.
    #[tokio::test]
    async fn a_read_older_than_an_invalidation_is_not_cached() {
        let orgs = crate::test_support::orgs(1).await;
        let (org, ws) = (orgs.ids[0], orgs.workspaces[0]);
        let key = |id: &str| IncidentKey::new(ws, IncidentSource::Splunk, id);
        let c = IncidentCache::new(Duration::from_secs(60), 100, 1 << 20);
        // Another key's invalidation is no reason to refuse.
        let read = c.ticket();
        c.forget(&key("other"));
        c.put(&org, row(&ws, "a"), read);
        assert!(c.get(&key("a")).is_some());

        // The read started before the write (ticket, row), the write invalidated, then the
        // read finished: nothing is cached, and the next read goes to the database.
        let read = c.ticket();
        let before_write = row(&ws, "a");
        c.forget(&key("a"));
        c.put(&org, before_write, read);
        assert!(c.get(&key("a")).is_none(), "the older row was cached again");
        // A read that started after the write caches what it read.
        let after = c.ticket();
        c.put(&org, row(&ws, "a"), after);
        assert!(c.get(&key("a")).is_some());
        // A replica's broadcast invalidation and a clear refuse older reads alike.
        let read = c.ticket();
        c.apply(&encode(&(
            org.uuid(),
            ws.uuid(),
            IncidentSource::Splunk,
            "b".into(),
        )));
        c.put(&org, row(&ws, "b"), read);
        assert!(c.get(&key("b")).is_none());
        let read = c.ticket();
        c.clear();
        c.put(&org, row(&ws, "c"), read);
        assert!(c.get(&key("c")).is_none());
        // Past the invalidations it remembers, every read older than the last is refused.
        let read = c.ticket();
        for n in 0..=MAX_INVALIDATIONS {
            c.forget(&key(&format!("w{n}")));
        }
        assert!(c.entries.lock().unwrap().invalidated.len() <= MAX_INVALIDATIONS);
        c.put(&org, row(&ws, "d"), read);
        assert!(c.get(&key("d")).is_none());
        let fresh = c.ticket();
        c.put(&org, row(&ws, "d"), fresh);
        assert!(c.get(&key("d")).is_some());
    }

    #[tokio::test]
    async fn expires_forgets_and_stays_bounded() {
        let orgs = crate::test_support::orgs(2).await;
        let (org, ws, other_ws) = (orgs.ids[0], orgs.workspaces[0], orgs.workspaces[1]);
        let key = |ws: WorkspaceId, id: &str| IncidentKey::new(ws, IncidentSource::Splunk, id);
        let c = IncidentCache::new(Duration::from_millis(50), 2, 1 << 20);
        c.put(&org, row(&ws, "a"), c.ticket());
        assert!(c.get(&key(ws, "a")).is_some());
        // Another organization's key with the same incident id.
        assert!(c.get(&key(other_ws, "a")).is_none());
        c.forget(&key(ws, "a"));
        assert!(c.get(&key(ws, "a")).is_none());
        c.put(&org, row(&ws, "a"), c.ticket());
        c.put(&org, row(&ws, "b"), c.ticket());
        c.put(&org, row(&ws, "c"), c.ticket());
        assert!(c.entries.lock().unwrap().map.len() <= 2);
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(c.get(&key(ws, "c")).is_none());
        let off = IncidentCache::new(Duration::ZERO, 10, 1 << 20);
        off.put(&org, row(&ws, "a"), off.ticket());
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
            c.put(&org, row(&ws, id), c.ticket());
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
        c.put(&org, row(&ws, "c"), c.ticket());
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
            c.put(&org, row(&ws, "same"), c.ticket());
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
