//! What the connector tests share (`connectors.rs`, the Microsoft pair; `connectors_sources.rs`,
//! the four others): the app with loopback targets allowed, waiting, and the connector routes.

use std::future::Future;
use std::time::{Duration, Instant};

use palisade_test_utils::{Cred, Resp, TestApp};
use serde_json::{json, Value};
use uuid::Uuid;

/// The app with loopback connector targets allowed and a quick scheduler. The incident read
/// cache stays on: these tests read while jobs write, which is what its invalidation
/// generations (`service/cache.rs`) are for.
pub async fn app() -> TestApp {
    TestApp::spawn_with(quick).await
}

pub fn quick(c: &mut palisade_server::Config) {
    c.connectors.allow_private_targets = true;
    c.connectors.allow_http = true;
    c.connectors.tick_ms = 50;
    c.connectors.timeout_secs = 5;
    c.connectors.lease_secs = 10;
}

pub fn base(ws: Uuid) -> String {
    format!("/api/v2/workspaces/{ws}/datasources")
}

/// Waits until `f` returns `Some`, up to 15 s.
pub async fn until<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn status(app: &TestApp, cred: &Cred, ws: Uuid, id: &str) -> Value {
    let r = app
        .get(&format!("{}/{id}/status", base(ws)), Some(cred))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.data().clone()
}

pub async fn sync(app: &TestApp, cred: &Cred, ws: Uuid, id: &str) {
    let r = app
        .post(&format!("{}/{id}/sync", base(ws)), Some(cred), &json!({}))
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
}

/// Syncs and waits until the connector has pulled `total` items in all.
pub async fn pulled(app: &TestApp, cred: &Cred, ws: Uuid, id: &str, total: i64) -> Value {
    sync(app, cred, ws, id).await;
    until("the poll", || async {
        let s = status(app, cred, ws, id).await;
        (s["pulledTotal"].as_i64() >= Some(total) && s["lastSuccessAt"].is_string()).then_some(s)
    })
    .await
}

/// Syncs again and again (a sync may be refused while a poll is due) until the connector is
/// `Failing`; its status then.
pub async fn sync_until_failing(app: &TestApp, cred: &Cred, ws: Uuid, id: &str) -> Value {
    until("Failing", || async {
        let _ = app
            .post(&format!("{}/{id}/sync", base(ws)), Some(cred), &json!({}))
            .await;
        let s = status(app, cred, ws, id).await;
        (s["state"] == "Failing").then_some(s)
    })
    .await
}

pub async fn incident(app: &TestApp, cred: &Cred, ws: Uuid, source: &str, id: &str) -> Resp {
    app.get(
        &format!("/api/v2/workspaces/{ws}/incidents/{source}/{id}"),
        Some(cred),
    )
    .await
}

pub fn count_events(events: &[palisade_store::StoredEvent], kind: &str) -> usize {
    events.iter().filter(|e| e.event_type == kind).count()
}
