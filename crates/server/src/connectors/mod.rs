//! The engine side of connectors (docs/connectors.md): a polled data source's connector,
//! built once per settings version and kept for the process (its access token lives in it),
//! and the two job kinds on the job runtime (`crates/jobs`, docs/jobs.md) that do the work:
//! [`palisade_store::POLL_KIND`] ([`poll`], one job per connector, keyed by it) and
//! [`palisade_store::WRITEBACK_KIND`] ([`writeback`], one job per write-back, keyed by the
//! incident). [`register`] puts them on the runtime; every replica runs them and they
//! coordinate only through the database.

pub mod poll;
pub mod writeback;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use palisade_connectors::{
    Connector, ConnectorConfig, ConnectorKind, ConnectorOptions, Credentials, Settings, SourceError,
};
use palisade_jobs::{Backoff, Jobs, Kind};
use palisade_store::{ConnectorEngineRow, Store, WorkspaceId, POLL_KIND, WRITEBACK_KIND};
use uuid::Uuid;

use crate::config::ConnectorsConfig;
use crate::crypto::SealingKey;
use crate::service::cache::IncidentCache;
use crate::webhooks::ssrf::Guard;

/// How a poll or write-back went, before it is told to the job runtime.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Finished; a poll is next due after the connector's interval.
    Done,
    /// More to do: due again at once (a poll that reached its page budget).
    Again,
    /// Try again after the delay (throttled, unavailable, a transient failure).
    RetryAfter(Duration, String),
    /// Given up (the source refuses the settings or credentials, or the change).
    Fail(String),
    /// The job's lease was taken over by another replica: nothing to record.
    Lost,
}

/// Registers connector polls and write-backs on `jobs` (the engine's own runtime).
pub fn register(jobs: &Jobs, engine: &Connectors) {
    let c = engine.config();
    let lease = Duration::from_secs(c.lease_secs);
    let poll = Duration::from_millis(c.tick_ms);
    let backoff = Backoff::Exponential {
        first: Duration::from_secs(1),
        max: Duration::from_secs(c.max_backoff_secs),
    };
    jobs.register(
        Kind {
            name: POLL_KIND,
            concurrency: c.max_concurrent_polls,
            // One poll of a connector at a time: there is one job per connector, and its
            // lease keeps other replicas off it.
            per_key: 1,
            // A poll job lives as long as its connector: failures are retried after the
            // backoff (or `Retry-After`) for good, and shown in `status`.
            max_attempts: u32::MAX,
            backoff: backoff.clone(),
            lease,
            poll,
        },
        poll::Polls::new(engine.clone()),
    );
    jobs.register(
        Kind {
            name: WRITEBACK_KIND,
            concurrency: c.max_concurrent_writebacks,
            per_key: 1,
            max_attempts: c.writeback_max_attempts,
            backoff,
            lease,
            poll,
        },
        writeback::WriteBacks::new(engine.clone()),
    );
    // Every change that queues a write-back emits an event: look for the job at once.
    let (store, handle) = (engine.store().clone(), jobs.clone());
    jobs.register_loop(
        "connectors.writeback.wake",
        poll,
        move || {
            let s = store.clone();
            Box::pin(async move { s.writeback_events_committed().await })
        },
        move || {
            handle.wake(WRITEBACK_KIND);
            async { Ok(false) }
        },
    );
}

/// At most this many `(connector, field, value)` unmapped values are remembered as logged.
const MAX_LOGGED_UNMAPPED: usize = 10_000;

/// The connector engine of this process (cheap to clone).
#[derive(Clone)]
pub struct Connectors(Arc<Inner>);

struct Inner {
    store: Store,
    config: ConnectorsConfig,
    options: ConnectorOptions,
    sealer: SealingKey,
    incidents: Arc<IncidentCache>,
    /// One connector per data source and settings version.
    built: Mutex<HashMap<Uuid, (i64, Arc<Connector>)>>,
    logged: Mutex<HashSet<(Uuid, String, String)>>,
    jobs: Jobs,
}

impl Connectors {
    /// The engine of `jobs`' replica (register its kinds with [`register`]).
    pub fn new(
        jobs: Jobs,
        config: ConnectorsConfig,
        server_secret: &str,
        incidents: Arc<IncidentCache>,
    ) -> Connectors {
        let guard = Guard::new(config.allow_private_targets, config.allow_http);
        Self::with_guard(jobs, config, server_secret, incidents, guard)
    }

    /// The engine with a given SSRF guard (a test's resolver).
    pub fn with_guard(
        jobs: Jobs,
        config: ConnectorsConfig,
        server_secret: &str,
        incidents: Arc<IncidentCache>,
        guard: Guard,
    ) -> Connectors {
        let mut options = ConnectorOptions::new(guard.for_section("connectors"));
        options.timeout = Duration::from_secs(config.timeout_secs);
        Connectors(Arc::new(Inner {
            store: jobs.store().clone(),
            config,
            options,
            sealer: SealingKey::derive(server_secret, "palisade connector credentials v1"),
            incidents,
            built: Mutex::new(HashMap::new()),
            logged: Mutex::new(HashSet::new()),
            jobs,
        }))
    }

    pub fn options(&self) -> &ConnectorOptions {
        &self.0.options
    }

    pub fn config(&self) -> &ConnectorsConfig {
        &self.0.config
    }

    pub(crate) fn store(&self) -> &Store {
        &self.0.store
    }

    pub(crate) fn incidents(&self) -> &IncidentCache {
        &self.0.incidents
    }

    /// This replica's lease owner name (the job runtime's).
    pub(crate) fn owner(&self) -> &str {
        self.0.jobs.owner()
    }

    /// Polls became due (a `sync`, a resume, a new connector): the runtime looks at once.
    pub fn wake(&self) {
        self.0.jobs.wake(POLL_KIND);
    }

    pub(crate) fn jobs(&self) -> &Jobs {
        &self.0.jobs
    }

    /// Seals credentials for storage, bound to the workspace and kind.
    pub fn seal(&self, ws: &WorkspaceId, kind: ConnectorKind, c: &Credentials) -> String {
        let plain = c.to_sealable_json().to_string();
        self.0
            .sealer
            .seal_bytes(aad(ws.uuid(), kind).as_bytes(), plain.as_bytes())
    }

    fn open(
        &self,
        workspace: Uuid,
        kind: ConnectorKind,
        sealed: &str,
    ) -> Option<serde_json::Value> {
        let plain = self
            .0
            .sealer
            .open_bytes(aad(workspace, kind).as_bytes(), sealed)?;
        serde_json::from_slice(&plain).ok()
    }

    /// The stored connector's configuration (settings and opened credentials).
    pub fn config_of(&self, row: &ConnectorEngineRow) -> Result<ConnectorConfig, SourceError> {
        let kind =
            ConnectorKind::parse(&row.kind).ok_or_else(|| settings_error("connectorType"))?;
        let settings: serde_json::Value =
            serde_json::from_str(&row.settings).map_err(|_| settings_error("settings"))?;
        let credentials = self
            .open(row.workspace_id, kind, &row.credentials)
            .ok_or_else(|| settings_error("credentials"))?;
        ConnectorConfig::parse(kind, Some(&settings), Some(&credentials))
            .map_err(|_| settings_error("settings"))
    }

    /// The stored settings alone.
    pub fn settings_of(row: &ConnectorEngineRow) -> Option<Settings> {
        let kind = ConnectorKind::parse(&row.kind)?;
        let settings: serde_json::Value = serde_json::from_str(&row.settings).ok()?;
        Settings::parse(kind, Some(&settings)).ok()
    }

    /// The connector of a stored row, built once per settings version.
    pub fn connector(&self, row: &ConnectorEngineRow) -> Result<Arc<Connector>, SourceError> {
        let id = row.datasource_id;
        if let Some((v, c)) = self.0.built.lock().expect("lock").get(&id) {
            if *v == row.settings_version {
                return Ok(c.clone());
            }
        }
        let connector = Arc::new(Connector::new(&self.config_of(row)?, &self.0.options)?);
        self.0
            .built
            .lock()
            .expect("lock")
            .insert(id, (row.settings_version, connector.clone()));
        Ok(connector)
    }

    /// Drops a deleted connector.
    pub fn forget(&self, id: Uuid) {
        self.0.built.lock().expect("lock").remove(&id);
    }

    /// Whether `(connector, field, value)` is logged for the first time.
    pub(crate) fn first_unmapped(&self, connector: Uuid, field: &str, value: &str) -> bool {
        let mut logged = self.0.logged.lock().expect("lock");
        if logged.len() >= MAX_LOGGED_UNMAPPED {
            logged.clear();
        }
        logged.insert((connector, field.to_string(), value.to_string()))
    }

    /// The delay before retrying after `failures` consecutive failures (1, 2, 4, … seconds
    /// up to `max_backoff_secs`), or the source's `Retry-After` (within the same bound).
    pub fn backoff(&self, failures: u32, retry_after: Option<Duration>) -> Duration {
        backoff(self.0.config.max_backoff_secs, failures, retry_after)
    }
}

fn backoff(max_secs: u64, failures: u32, retry_after: Option<Duration>) -> Duration {
    let max = Duration::from_secs(max_secs);
    match retry_after {
        Some(d) => d.min(max),
        None => Duration::from_secs(1u64 << failures.saturating_sub(1).min(20)).min(max),
    }
}

fn aad(workspace: Uuid, kind: ConnectorKind) -> String {
    format!("{workspace}/{}", kind.as_str())
}

fn settings_error(field: &str) -> SourceError {
    SourceError::Settings {
        field: field.into(),
        detail: format!("the stored {field} cannot be read; set them again"),
    }
}

/// What a failed call means for a job: retry (after the source's `Retry-After` or a backoff)
/// or give up.
pub(crate) fn outcome_of(engine: &Connectors, e: &SourceError, failures: u32) -> Outcome {
    if e.is_retryable() {
        Outcome::RetryAfter(engine.backoff(failures, e.retry_after()), e.to_string())
    } else {
        Outcome::Fail(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_bound_and_honours_retry_after_within_it() {
        let b = |n, ra| backoff(60, n, ra);
        assert_eq!(b(1, None), Duration::from_secs(1));
        assert_eq!(b(2, None), Duration::from_secs(2));
        assert_eq!(b(5, None), Duration::from_secs(16));
        assert_eq!(b(40, None), Duration::from_secs(60));
        assert_eq!(b(1, Some(Duration::from_secs(7))), Duration::from_secs(7));
        assert_eq!(
            b(1, Some(Duration::from_secs(700))),
            Duration::from_secs(60)
        );
    }
}
