//! `palisade-bench connectors`: the load side of `bench/connectors.sh`. Serves one fake
//! source (`palisade-fakes`, in this process, on 127.0.0.1) holding `incidents` generated
//! incidents, points a connector of the server at it, and measures:
//!
//! 1. Backfill: from the connector's creation (its first poll is due at once) until every
//!    incident is in Palisade's store (`pulledTotal` reached, then the workspace's incidents
//!    counted through the listing): incidents per second end to end, and the calls the fake
//!    answered (the vendor's call budget at that page size).
//! 2. With `--samples` (MicrosoftSentinel only): a change at the source, then `sync`, until a
//!    local webhook receiver holds the `incident.updated` (p50/p99); and an analyst's change
//!    through the API until the fake source receives the write-back (p50/p99).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use palisade_fakes::demo::{DEMO_CLIENT_ID, DEMO_FALCON_CID, DEMO_FALCON_CLIENT_ID, DEMO_TENANT};
use palisade_fakes::{
    FakeCrowdStrike, FakeEntra, FakeGraph, FakeQRadar, FakeSentinel, FakeSentinelOne, FakeSplunk,
    SentinelWorkspace,
};
use serde_json::{json, Value};

use crate::webhooks::Received;
use crate::{full_scan, pct, Client};

const SECRET: &str = "bench-source-secret-value-0001";

/// The fake a connector reads, held for as long as it serves.
enum Fake {
    Sentinel(FakeEntra, FakeSentinel),
    Defender(FakeEntra, FakeGraph),
    CrowdStrike(FakeCrowdStrike),
    QRadar(FakeQRadar),
    Splunk(FakeSplunk),
    SentinelOne(FakeSentinelOne),
}

impl Fake {
    /// Starts the fake of `kind` with `n` generated incidents.
    async fn start(kind: &str, n: usize) -> Fake {
        let n = n as u64;
        match kind {
            "MicrosoftSentinel" | "MicrosoftDefenderXdr" => {
                let entra = FakeEntra::start(DEMO_TENANT, DEMO_CLIENT_ID, SECRET).await;
                if kind == "MicrosoftSentinel" {
                    let s = FakeSentinel::start(&entra, SentinelWorkspace::default()).await;
                    for i in 0..n {
                        s.add_simulated(i);
                    }
                    Fake::Sentinel(entra, s)
                } else {
                    let g = FakeGraph::start(&entra, DEMO_TENANT).await;
                    for i in 0..n {
                        g.add_simulated(i);
                    }
                    Fake::Defender(entra, g)
                }
            }
            "CrowdStrikeFalcon" => {
                let f =
                    FakeCrowdStrike::start(DEMO_FALCON_CLIENT_ID, SECRET, DEMO_FALCON_CID).await;
                for i in 0..n {
                    f.add_simulated(i);
                }
                Fake::CrowdStrike(f)
            }
            "IbmQRadar" => {
                let f = FakeQRadar::start(SECRET).await;
                for i in 0..n {
                    f.add_simulated(i);
                }
                Fake::QRadar(f)
            }
            "SplunkEnterpriseSecurity" => {
                let f = FakeSplunk::start(SECRET).await;
                for i in 0..n {
                    f.add_simulated(i);
                }
                Fake::Splunk(f)
            }
            "SentinelOne" => {
                let f = FakeSentinelOne::start(SECRET).await;
                for i in 0..n {
                    f.add_simulated(i);
                }
                Fake::SentinelOne(f)
            }
            other => panic!("unknown connector kind {other}"),
        }
    }

    /// The connector's `settings` (with `pageSize`) and `credentials`.
    fn settings(&self, page_size: usize) -> (Value, Value) {
        let token = json!({"apiToken": SECRET});
        let (mut s, c) = match self {
            Fake::Sentinel(e, f) => {
                let w = f.workspace();
                (
                    json!({"tenantId": DEMO_TENANT, "clientId": DEMO_CLIENT_ID,
                       "subscriptionId": w.subscription_id, "resourceGroup": w.resource_group,
                       "workspaceName": w.workspace_name, "baseUrl": f.base(),
                       "authorityUrl": e.authority()}),
                    json!({"clientSecret": SECRET}),
                )
            }
            Fake::Defender(e, f) => (
                json!({"tenantId": DEMO_TENANT, "clientId": DEMO_CLIENT_ID,
                       "baseUrl": f.base(), "authorityUrl": e.authority()}),
                json!({"clientSecret": SECRET}),
            ),
            Fake::CrowdStrike(f) => (
                json!({"clientId": DEMO_FALCON_CLIENT_ID, "baseUrl": f.base()}),
                json!({"clientSecret": SECRET}),
            ),
            Fake::QRadar(f) => (json!({"baseUrl": f.base()}), token),
            Fake::Splunk(f) => (json!({"baseUrl": f.base()}), token),
            Fake::SentinelOne(f) => (json!({"baseUrl": f.base()}), token),
        };
        s["pageSize"] = json!(page_size);
        (s, c)
    }

    /// Requests the source answered (token requests included).
    fn calls(&self) -> usize {
        match self {
            Fake::Sentinel(e, f) => e.token_requests() + f.requests().len(),
            Fake::Defender(e, f) => e.token_requests() + f.requests().len(),
            Fake::CrowdStrike(f) => f.requests().len(),
            Fake::QRadar(f) => f.requests().len(),
            Fake::Splunk(f) => f.requests().len(),
            Fake::SentinelOne(f) => f.requests().len(),
        }
    }
}

async fn status(client: &Client, ws: &str, id: &str) -> Value {
    client
        .get(&format!("/api/v2/workspaces/{ws}/datasources/{id}/status"))
        .await["data"]
        .clone()
}

async fn sync(client: &Client, ws: &str, id: &str) {
    client
        .post(
            &format!("/api/v2/workspaces/{ws}/datasources/{id}/sync"),
            &json!({}),
        )
        .await;
}

pub async fn run(
    client: Arc<Client>,
    kind: &str,
    incidents: usize,
    page_size: usize,
    samples: usize,
) {
    let made = Instant::now();
    let fake = Fake::start(kind, incidents).await;
    println!(
        "{kind}: fake source with {incidents} incidents ready in {:.1} s",
        made.elapsed().as_secs_f64()
    );
    let ws = client
        .post(
            "/api/v2/workspaces",
            &json!({"name": format!("Connector bench {kind} {page_size}")}),
        )
        .await["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (settings, credentials) = fake.settings(page_size);

    // ---- backfill
    let t0 = Instant::now();
    let created = client
        .post(
            &format!("/api/v2/workspaces/{ws}/datasources"),
            &json!({"connectorType": kind, "name": format!("{kind} bench"), "pollIntervalSecs": 3600,
                    "startFrom": "2020-01-01T00:00:00Z", "settings": settings,
                    "credentials": credentials}),
        )
        .await;
    let id = created["data"]["dataConnectorId"]
        .as_str()
        .unwrap()
        .to_string();
    let filters = json!({"workspaceIds": [ws]});
    let mut last = Value::Null;
    let stored = loop {
        let s = status(&client, &ws, &id).await;
        // `pulledTotal` counts items read again inside the overlap too, so it can reach N
        // before the store holds N: then the listing counts them. A short count waits as long
        // as the scan took, so the scans (which share the server's cores with the backfill)
        // take at most half of its time.
        if s["pulledTotal"].as_u64().unwrap_or(0) >= incidents as u64 {
            let scan = Instant::now();
            let (_, items, _, _) = full_scan(&client, &filters).await;
            if items >= incidents {
                break items;
            }
            tokio::time::sleep(scan.elapsed()).await;
        }
        if s["state"] != last["state"] && s["state"] != "Healthy" {
            println!("  connector {}: {}", s["state"], s["lastError"]);
        }
        last = s;
        assert!(
            t0.elapsed() < Duration::from_secs(3600),
            "the backfill did not finish within an hour: {last}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let secs = t0.elapsed().as_secs_f64();
    let rate = incidents as f64 / secs;
    let calls = fake.calls();
    println!(
        "{kind}: backfill of {incidents} incidents (pageSize {page_size}) in {secs:.2} s: {rate:.0} incidents/s, {calls} source calls; {stored} in the store"
    );
    println!("BACKFILL {kind} {page_size} {incidents} {secs:.3} {rate:.0} {calls}");

    if samples == 0 {
        return;
    }
    let Fake::Sentinel(_, sentinel) = &fake else {
        println!("latency phases run against MicrosoftSentinel only");
        return;
    };
    latency(&client, sentinel, &ws, &id, samples).await;
}

/// Change at the source → webhook receipt, and analyst change → write-back receipt.
async fn latency(client: &Client, sentinel: &FakeSentinel, ws: &str, id: &str, samples: usize) {
    let received = Arc::new(Received::default());
    let addr = crate::webhooks::serve_receiver(received.clone()).await;
    let hook = client
        .post(
            "/api/v2/webhooks",
            &json!({"name": "connector bench receiver", "url": format!("http://{addr}/hook"),
                    "eventTypes": ["incident.updated"], "workspaceId": ws}),
        )
        .await;
    received.secrets.lock().unwrap().insert(
        "/hook".into(),
        hook["data"]["signingSecret"].as_str().unwrap().to_string(),
    );
    let names: Vec<String> = (0..samples * 2)
        .map(|i| sentinel.add_simulated(1_000_000 + i as u64))
        .collect();
    // Pull the new incidents first (not measured).
    let before = status(client, ws, id).await["pulledTotal"]
        .as_u64()
        .unwrap_or(0);
    sync(client, ws, id).await;
    let started = Instant::now();
    while status(client, ws, id).await["pulledTotal"]
        .as_u64()
        .unwrap_or(0)
        < before + names.len() as u64
    {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "new incidents not pulled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The latencies are those of a settled server: the backfill's events (one per incident)
    // are first fanned out by the outbox consumers, which otherwise queue each change's
    // event behind 100,000 others.
    let drain = Instant::now();
    loop {
        let pending = crate::webhooks::metric(client, "palisade_outbox_events_pending").await
            + crate::webhooks::metric(client, "palisade_gamebook_events_pending").await;
        if pending == 0 {
            break;
        }
        assert!(
            drain.elapsed() < Duration::from_secs(1800),
            "the outbox did not drain: {pending} pending"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "outbox drained {:.1} s after the new incidents were pulled",
        drain.elapsed().as_secs_f64()
    );

    // ---- change at the source → webhook receipt
    let mut times = Vec::with_capacity(samples);
    for name in &names[..samples] {
        // A change the incident cannot already have (a simulated severity may be "Low").
        sentinel.modify(name, |p| {
            p.insert(
                "description".into(),
                json!(format!("Changed at the source for sample {name}")),
            );
        });
        let t = Instant::now();
        sync(client, ws, id).await;
        loop {
            if let Some(at) = received.at.lock().unwrap().get(name) {
                times.push(at.duration_since(t));
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(120),
                "no webhook for {name}"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    times.sort();
    let (p50, p99) = (pct(&times, 0.5), pct(&times, 0.99));
    println!("change at the source → webhook receipt (sync, then the poll): p50 {p50:.1} ms, p99 {p99:.1} ms over {samples} changes");
    println!("SOURCE_TO_WEBHOOK_P99_MS {p99:.1}");
    let bad = received.bad_signatures.load(Ordering::Relaxed);
    assert_eq!(bad, 0, "deliveries with a bad signature");

    // ---- analyst change → the source receives the write-back
    let mut times = Vec::with_capacity(samples);
    for name in &names[samples..] {
        let path = format!("/api/v2/workspaces/{ws}/incidents/Sentinel/{name}/status");
        let t = Instant::now();
        let url = format!("{}{path}", client.base);
        let (status, v) = client
            .send(client.http.put(url).json(&json!({"status": "Active"})))
            .await;
        assert!(status.is_success(), "{path}: {status} {v}");
        loop {
            let landed = sentinel
                .writes()
                .into_iter()
                .filter(|w| w.method == "PUT" && w.path.ends_with(name.as_str()))
                .map(|w| w.at)
                .find(|at| *at >= t);
            if let Some(at) = landed {
                times.push(at.duration_since(t));
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(120),
                "no write-back for {name}"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    times.sort();
    let (p50, p99) = (pct(&times, 0.5), pct(&times, 0.99));
    println!("analyst change → write-back received by the source: p50 {p50:.1} ms, p99 {p99:.1} ms over {samples} changes");
    println!("WRITEBACK_P99_MS {p99:.1}");
}
