//! Shared setup of the connector tests: the fake vendors on loopback, connectors pointed at
//! them, a resolver the tests control (no name query leaves the process), and a log capture.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use palisade_connectors::Credentials;
use palisade_connectors::{
    Change, Connector, ConnectorConfig, ConnectorKind, ConnectorOptions, Cursor, Page, SourceError,
    WriteBack,
};
use palisade_fakes::{
    FakeCrowdStrike, FakeEntra, FakeGraph, FakeQRadar, FakeSentinel, FakeSentinelOne, FakeSplunk,
    SentinelWorkspace,
};
use palisade_net::ssrf::Guard;
use palisade_types::incidents::{Classification, ClassificationReason, IncidentStatus};
use serde_json::{json, Value};

pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const CLIENT_ID: &str = "3f1c2a9e-5b7d-4e8f-9a0b-1c2d3e4f5a6b";
pub const SECRET: &str = "Zq8~connector.CLIENT-secret_value-do-not-leak";

/// A resolver with a fixed table.
pub use palisade_net::ssrf::FixedResolver as Fixed;

/// The guard of the tests: loopback and plain http allowed (the fakes), names from `names`.
pub fn guard(allow_private: bool, names: &[(&str, &str)]) -> Guard {
    let table = names
        .iter()
        .map(|(n, ip)| (n.to_string(), vec![ip.parse().unwrap()]))
        .collect();
    Guard::with_resolver(allow_private, true, Arc::new(Fixed(table))).for_section("connectors")
}

pub fn options(guard: Guard) -> ConnectorOptions {
    let mut o = ConnectorOptions::new(guard);
    o.timeout = Duration::from_secs(5);
    o
}

pub struct Sentinel {
    pub entra: FakeEntra,
    pub fake: FakeSentinel,
}

pub async fn sentinel() -> Sentinel {
    let entra = FakeEntra::start(TENANT, CLIENT_ID, SECRET).await;
    let fake = FakeSentinel::start(&entra, SentinelWorkspace::default()).await;
    Sentinel { entra, fake }
}

impl Sentinel {
    pub fn settings(&self) -> Value {
        let w = self.fake.workspace();
        json!({
            "tenantId": TENANT, "clientId": CLIENT_ID,
            "subscriptionId": w.subscription_id, "resourceGroup": w.resource_group,
            "workspaceName": w.workspace_name,
            "baseUrl": self.fake.base(), "authorityUrl": self.entra.authority(),
        })
    }

    pub fn config(&self, patch: Value) -> ConnectorConfig {
        config(
            ConnectorKind::MicrosoftSentinel,
            self.settings(),
            patch,
            SECRET,
        )
    }

    pub fn connector(&self, patch: Value) -> Connector {
        Connector::new(&self.config(patch), &options(guard(true, &[]))).unwrap()
    }
}

pub struct Graph {
    pub entra: FakeEntra,
    pub fake: FakeGraph,
}

pub async fn graph() -> Graph {
    let entra = FakeEntra::start(TENANT, CLIENT_ID, SECRET).await;
    let fake = FakeGraph::start(&entra, TENANT).await;
    Graph { entra, fake }
}

impl Graph {
    pub fn settings(&self) -> Value {
        json!({"tenantId": TENANT, "clientId": CLIENT_ID,
               "baseUrl": self.fake.base(), "authorityUrl": self.entra.authority()})
    }

    pub fn connector(&self, patch: Value) -> Connector {
        let c = config(
            ConnectorKind::MicrosoftDefenderXdr,
            self.settings(),
            patch,
            SECRET,
        );
        Connector::new(&c, &options(guard(true, &[]))).unwrap()
    }
}

/// A config from `settings` with `patch`'s keys replacing (null removes).
pub fn config(
    kind: ConnectorKind,
    mut settings: Value,
    patch: Value,
    secret: &str,
) -> ConnectorConfig {
    for (k, v) in patch.as_object().cloned().unwrap_or_default() {
        if v.is_null() {
            settings.as_object_mut().unwrap().remove(&k);
        } else {
            settings[&k] = v;
        }
    }
    ConnectorConfig::parse(
        kind,
        Some(&settings),
        Some(&json!({"clientSecret": secret})),
    )
    .unwrap()
}

/// Pulls every page of one poll, as the poll job does; returns the pages.
pub async fn poll(c: &Connector, cursor: &mut Cursor) -> Result<Vec<Page>, SourceError> {
    let mut pages = Vec::new();
    let mut cont = None;
    loop {
        let page = c.pull(cursor, cont.as_ref()).await?;
        *cursor = page.high_water.clone();
        cont = page.continuation.clone();
        pages.push(page);
        if cont.is_none() {
            return Ok(pages);
        }
    }
}

pub fn ids(pages: &[Page]) -> Vec<String> {
    pages
        .iter()
        .flat_map(|p| p.items.iter().map(|i| i.external_id.clone()))
        .collect()
}

/// A connector of `kind` from `settings` (with `patch`) and `credentials`.
pub fn vendor_connector(
    kind: ConnectorKind,
    mut settings: Value,
    patch: Value,
    credentials: Value,
) -> Connector {
    for (k, v) in patch.as_object().cloned().unwrap_or_default() {
        if v.is_null() {
            settings.as_object_mut().unwrap().remove(&k);
        } else {
            settings[&k] = v;
        }
    }
    let c = ConnectorConfig::parse(kind, Some(&settings), Some(&credentials)).unwrap();
    assert!(matches!(
        c.credentials,
        Credentials::ApiToken(_) | Credentials::ClientSecret(_)
    ));
    Connector::new(&c, &options(guard(true, &[]))).unwrap()
}

/// Polls until a poll fails, returning the pages before the failure and the error.
pub async fn poll_until_error(
    c: &Connector,
    cursor: &mut Cursor,
    cont: &mut Option<palisade_connectors::Continuation>,
) -> (Vec<Page>, Option<SourceError>) {
    let mut pages = Vec::new();
    loop {
        match c.pull(cursor, cont.as_ref()).await {
            Ok(page) => {
                *cursor = page.high_water.clone();
                *cont = page.continuation.clone();
                pages.push(page);
                if cont.is_none() {
                    return (pages, None);
                }
            }
            Err(e) => return (pages, Some(e)),
        }
    }
}

/// Every id appears once.
pub fn assert_unique(ids: &[String]) {
    let mut seen = std::collections::HashSet::new();
    for i in ids {
        assert!(seen.insert(i.clone()), "{i} pulled twice");
    }
}

/// A connector of `kind` at `base` holding `token` as its `apiToken`, settings patched by `patch`.
pub fn token_connector(kind: ConnectorKind, base: String, patch: Value, token: &str) -> Connector {
    vendor_connector(
        kind,
        json!({"baseUrl": base}),
        patch,
        json!({"apiToken": token}),
    )
}

/// `bad` (wrong credentials) fails its check as `Auth`; the error is returned.
pub async fn assert_auth_error(bad: &Connector) -> SourceError {
    let e = bad.check().await.unwrap_err();
    assert!(matches!(e, SourceError::Auth { .. }), "{e:?}");
    e
}

/// Neither `c`, `e` nor `e`'s message shows `secret`, and `c` still passes its check.
pub async fn assert_hidden_and_checks(c: &Connector, e: &SourceError, secret: &str) {
    for shown in [format!("{c:?}"), format!("{e:?}"), e.to_string()] {
        assert!(!shown.contains(secret), "{shown}");
    }
    c.check().await.unwrap();
}

/// Writing back to an incident the source does not have fails as `NotFound`.
pub async fn assert_not_found(c: &Connector, gone: &palisade_connectors::WriteBack) {
    assert!(matches!(
        c.write_back(gone).await,
        Err(SourceError::NotFound { .. })
    ));
}

/// `r` is `RateLimited` by `service`, to be retried after `secs` seconds.
pub fn assert_rate_limited<T: std::fmt::Debug>(
    r: Result<T, SourceError>,
    service: &str,
    secs: u64,
) {
    match r {
        Err(SourceError::RateLimited {
            service: s,
            retry_after,
            ..
        }) => {
            assert_eq!((s, retry_after), (service, Duration::from_secs(secs)))
        }
        other => panic!("rate limited, got {other:?}"),
    }
}

/// A vendor fake as the poll tests use it.
pub trait VendorFake {
    /// Adds a realistic item (the same for the same seed); returns its id at the source.
    fn simulated(&self, seed: u64) -> String;
    /// Adds an item with a title and the fake's defaults.
    fn titled(&self, title: &str);
}

macro_rules! vendor_fakes {
    ($($fake:ty),*) => {$(
        impl VendorFake for $fake {
            fn simulated(&self, seed: u64) -> String {
                self.add_simulated(seed).to_string()
            }

            fn titled(&self, title: &str) {
                self.add(title, json!({}));
            }
        }
    )*};
}

vendor_fakes!(FakeCrowdStrike, FakeSentinelOne, FakeSplunk);

impl VendorFake for FakeQRadar {
    fn simulated(&self, seed: u64) -> String {
        self.add_simulated(seed).to_string()
    }

    fn titled(&self, title: &str) {
        self.add(title, &[], &[], json!({}));
    }
}

/// An item added before a start instant (a second earlier), then `n` simulated ones: the
/// start and the ids of the `n`.
pub async fn simulated_since_start(fake: &impl VendorFake, n: u64) -> (DateTime<Utc>, Vec<String>) {
    fake.titled("before the start");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let start = Utc::now();
    (start, (0..n).map(|i| fake.simulated(i)).collect())
}

/// Every page of a connector's first poll from `start`, and the cursor it leaves.
pub async fn first_poll(c: &Connector, start: DateTime<Utc>) -> (Cursor, Vec<Page>) {
    let mut cursor = Cursor::start(start);
    let pages = poll(c, &mut cursor).await.unwrap();
    (cursor, pages)
}

/// A change to `id` as the write-back job sends it on attempt `attempt`.
pub fn write(id: &str, change: Change, attempt: u32) -> WriteBack {
    WriteBack {
        external_id: id.to_string(),
        change,
        attempt,
        made_at: Utc::now(),
    }
}

/// Closing with a verdict.
pub fn closing(c: Classification, r: ClassificationReason, comment: Option<&str>) -> Change {
    Change::Status {
        status: IncidentStatus::Closed,
        classification: Some(c),
        reason: Some(r),
        classification_comment: comment.map(str::to_string),
    }
}

/// A status change that carries no verdict (reopening, or any status but closed).
pub fn status(status: IncidentStatus) -> Change {
    Change::Status {
        status,
        classification: None,
        reason: None,
        classification_comment: None,
    }
}

/// Adds `n` simulated items to `fake` and pulls them all with `c` (asserting the count), then
/// prints the throughput as "`{vendor}` backfill: n `{noun}`, pages `{unit}`, calls, seconds,
/// incidents/s".
pub async fn backfill_report(
    fake: &impl VendorFake,
    c: &Connector,
    n: u64,
    (vendor, noun, unit): (&str, &str, &str),
) {
    let start = Utc::now() - chrono::Duration::seconds(1);
    for i in 0..n {
        fake.simulated(i);
    }
    let mut cursor = Cursor::start(start);
    let t = std::time::Instant::now();
    let pages = poll(c, &mut cursor).await.unwrap();
    let pulled: usize = pages.iter().map(|p| p.items.len()).sum();
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(pulled as u64, n);
    println!(
        "{vendor} backfill: {pulled} {noun}, {} {unit}, {} calls, {secs:.2} s, {:.0} incidents/s",
        pages.len(),
        c.calls().unwrap(),
        pulled as f64 / secs
    );
}
