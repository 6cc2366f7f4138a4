//! `palisade-bench webhooks`: the load side of `bench/webhooks.sh`.
//!
//! 1. Throughput: `webhooks` workspaces, one webhook each (narrowed to its workspace), all
//!    paused; `events` incidents ingested (spread evenly); then every webhook is resumed and
//!    the time until the receiver holds every delivery gives signed deliveries per second.
//! 2. Latency: with the webhooks active, incidents are ingested at `rate` per second for
//!    `latency_secs` seconds; each delivery's latency is its receipt time minus the time its
//!    ingest request was sent.
//!
//! The receiver runs in this process on 127.0.0.1 (HTTP/1.1 keep-alive) and checks every
//! delivery's `X-CF-Signature`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::{pct, Client};

/// What the receiver got (shared with `connectors`).
#[derive(Default)]
pub(crate) struct Received {
    pub(crate) count: AtomicUsize,
    pub(crate) bad_signatures: AtomicUsize,
    /// incidentId → receipt instant (first receipt).
    pub(crate) at: Mutex<HashMap<String, Instant>>,
    /// Signing secret per webhook path.
    pub(crate) secrets: Mutex<HashMap<String, String>>,
}

/// Serves the receiver on 127.0.0.1; returns its address.
pub(crate) async fn serve_receiver(received: Arc<Received>) -> std::net::SocketAddr {
    let app = axum::Router::new().fallback(receive).with_state(received);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

async fn receive(
    State(r): State<Arc<Received>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> &'static str {
    let now = Instant::now();
    let secret = r.secrets.lock().unwrap().get(uri.path()).cloned();
    let ts = headers
        .get("x-cf-timestamp")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let sig = headers
        .get("x-cf-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let valid = secret.is_some_and(|s| {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(s.as_bytes()).unwrap();
        m.update(ts.as_bytes());
        m.update(b".");
        m.update(&body);
        let hex: String = m
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        sig.strip_prefix("sha256=") == Some(hex.as_str())
    });
    if !valid {
        r.bad_signatures.fetch_add(1, Ordering::Relaxed);
    }
    if let Ok(v) = serde_json::from_slice::<Value>(&body) {
        if let Some(id) = v["data"]["incidentId"].as_str() {
            r.at.lock().unwrap().entry(id.to_string()).or_insert(now);
        }
    }
    r.count.fetch_add(1, Ordering::Relaxed);
    "ok"
}

pub(crate) async fn metric(client: &Client, name: &str) -> i64 {
    let text = client
        .http
        .get(format!("{}/metrics", client.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.starts_with(name) && !l.starts_with('#'))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1)
}

async fn ingest(client: &Client, ws: &str, ids: &[String]) {
    let incidents: Vec<Value> = ids
        .iter()
        .map(|id| {
            json!({"id": id, "title": format!("Suspicious PowerShell on host {id}"), "severity": "Medium",
                   "entities": [{"id": "h", "kind": "Host", "displayName": "WS-0042"}],
                   "alerts": [{"id": "a", "title": "Encoded command", "severity": "Medium", "productName": "Microsoft Defender for Endpoint"}]})
        })
        .collect();
    client
        .post(
            &format!("/api/v2/workspaces/{ws}/incidents/DefenderXDR/ingest"),
            &json!({"incidents": incidents}),
        )
        .await;
}

pub async fn run(
    client: Arc<Client>,
    webhooks: usize,
    events: usize,
    rate: usize,
    latency_secs: u64,
) {
    let received = Arc::new(Received::default());
    let addr = serve_receiver(received.clone()).await;

    let mut workspaces = Vec::new();
    let mut hooks = Vec::new();
    for i in 0..webhooks {
        let ws = client
            .post(
                "/api/v2/workspaces",
                &json!({"name": format!("Hooked workspace {i:02}")}),
            )
            .await["data"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let path = format!("/hook/{i}");
        let hook = client
            .post(
                "/api/v2/webhooks",
                &json!({"name": format!("receiver {i}"), "url": format!("http://{addr}{path}"),
                        "eventTypes": ["incident.created"], "workspaceId": ws}),
            )
            .await;
        let id = hook["data"]["id"].as_str().unwrap().to_string();
        received.secrets.lock().unwrap().insert(
            path,
            hook["data"]["signingSecret"].as_str().unwrap().to_string(),
        );
        client
            .post(&format!("/api/v2/webhooks/{id}/pause"), &json!({}))
            .await;
        workspaces.push(ws);
        hooks.push(id);
    }

    // ---- throughput
    let per_ws = events / webhooks;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (w, ws) in workspaces.iter().enumerate() {
        let client = client.clone();
        let ws = ws.clone();
        tasks.spawn(async move {
            for chunk in (0..per_ws).collect::<Vec<_>>().chunks(500) {
                let ids: Vec<String> = chunk.iter().map(|i| format!("T{w}-{i}")).collect();
                ingest(&client, &ws, &ids).await;
            }
        });
        if tasks.len() >= 4 {
            tasks.join_next().await;
        }
    }
    while tasks.join_next().await.is_some() {}
    let total = per_ws * webhooks;
    println!(
        "ingested {total} incidents in {:.1} s; waiting for the fan-out",
        started.elapsed().as_secs_f64()
    );
    loop {
        let queued = metric(&client, "palisade_webhook_jobs_queued").await;
        let pending = metric(&client, "palisade_outbox_events_pending").await;
        if queued as usize >= total && pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let t0 = Instant::now();
    for id in &hooks {
        client
            .post(&format!("/api/v2/webhooks/{id}/resume"), &json!({}))
            .await;
    }
    while received.count.load(Ordering::Relaxed) < total {
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(
            t0.elapsed() < Duration::from_secs(600),
            "deliveries stalled at {}",
            received.count.load(Ordering::Relaxed)
        );
    }
    let secs = t0.elapsed().as_secs_f64();
    let tput = total as f64 / secs;
    println!(
        "THROUGHPUT {total} deliveries over {webhooks} webhooks in {secs:.2} s = {tput:.0} deliveries/s (bad signatures: {})",
        received.bad_signatures.load(Ordering::Relaxed)
    );
    println!("DELIVERIES_PER_SEC {tput:.0}");

    // ---- latency at `rate` events/s
    let ticks_per_sec = 100usize;
    let per_tick = (rate / ticks_per_sec).max(1);
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Default::default();
    let mut tick = tokio::time::interval(Duration::from_millis(1000 / ticks_per_sec as u64));
    let mut n = 0usize;
    let t_lat = Instant::now();
    let mut inflight = tokio::task::JoinSet::new();
    while t_lat.elapsed() < Duration::from_secs(latency_secs) {
        tick.tick().await;
        let ws = workspaces[n % workspaces.len()].clone();
        let ids: Vec<String> = (0..per_tick).map(|i| format!("L{n}-{i}")).collect();
        n += 1;
        let client = client.clone();
        let sent = sent.clone();
        inflight.spawn(async move {
            let at = Instant::now();
            {
                let mut s = sent.lock().unwrap();
                for id in &ids {
                    s.insert(id.clone(), at);
                }
            }
            ingest(&client, &ws, &ids).await;
        });
        while inflight.try_join_next().is_some() {}
    }
    while inflight.join_next().await.is_some() {}
    let expected = sent.lock().unwrap().len();
    let wait = Instant::now();
    loop {
        let got = {
            let at = received.at.lock().unwrap();
            sent.lock()
                .unwrap()
                .keys()
                .filter(|k| at.contains_key(*k))
                .count()
        };
        if got >= expected || wait.elapsed() > Duration::from_secs(60) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut lat: Vec<Duration> = {
        let at = received.at.lock().unwrap();
        sent.lock()
            .unwrap()
            .iter()
            .filter_map(|(k, s)| at.get(k).map(|r| r.saturating_duration_since(*s)))
            .collect()
    };
    lat.sort();
    let achieved = expected as f64 / latency_secs as f64;
    println!(
        "LATENCY {} of {expected} events at {achieved:.0} events/s: p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        lat.len(),
        pct(&lat, 0.50),
        pct(&lat, 0.99),
        lat.last().map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0)
    );
    println!("LATENCY_P50_MS {:.1}", pct(&lat, 0.50));
    println!("LATENCY_P99_MS {:.1}", pct(&lat, 0.99));
}
