//! `palisadectl incidents ingest`: batches, the summary of rejected items, and a run
//! interrupted by the server becoming unavailable, then resumed where it stopped.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use common::{client, Ctl};
use futures_util::TryStreamExt;
use palisade_client::types::incidents::AcrossWorkspacesRequest;
use palisade_test_utils::TestApp;
use serde_json::json;

/// 2,503 lines: 2,498 good incidents, two lines that are not JSON (1,200 and 2,301), three the
/// server rejects (no severity: 10, 1,500 and 2,400), and a blank line (700).
fn ndjson() -> (String, usize) {
    let mut out = String::new();
    let mut good = 0;
    for line in 1..=2503 {
        let text = match line {
            700 => String::new(),
            1200 | 2301 => "{not json".to_string(),
            10 | 1500 | 2400 => {
                json!({"id": format!("BAD-{line}"), "title": "No severity"}).to_string()
            }
            _ => {
                good += 1;
                json!({"id": format!("NDJ-{line}"), "title": format!("Bulk {line}"), "severity": "Medium",
                       "labels": ["bulk"]})
                .to_string()
            }
        };
        out.push_str(&text);
        out.push('\n');
    }
    (out, good)
}

/// A loopback proxy to the app that answers the third and later ingest requests with 503.
#[derive(Clone)]
struct Proxy {
    upstream: String,
    ingests: Arc<AtomicUsize>,
    http: reqwest::Client,
}

async fn forward(
    State(p): State<Proxy>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if uri.path().ends_with("/ingest") && p.ingests.fetch_add(1, Ordering::SeqCst) >= 2 {
        let problem = json!({"type": "about:blank", "title": "Service unavailable", "status": 503,
            "detail": "The database is unreachable.", "instance": uri.path(), "code": "SERVICE_UNAVAILABLE",
            "requestId": "proxy-1", "timestamp": "2026-01-01T00:00:00Z"});
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [
                ("retry-after", "0"),
                ("content-type", "application/problem+json"),
            ],
            problem.to_string(),
        )
            .into_response();
    }
    let mut req = p.http.request(method, format!("{}{}", p.upstream, uri));
    for (k, v) in &headers {
        if k != "host" && k != "content-length" {
            req = req.header(k, v);
        }
    }
    let resp = req.body(body).send().await.unwrap();
    let status = resp.status();
    let ct = resp.headers().get("content-type").cloned();
    let bytes = resp.bytes().await.unwrap();
    let mut r = (status, bytes).into_response();
    if let Some(ct) = ct {
        r.headers_mut().insert("content-type", ct);
    }
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_ingest_resumes_where_it_stopped() {
    let app = TestApp::spawn().await;
    let org = app.org("Bulk").await;
    let ws = app.workspace(&org, "W").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("incidents.ndjson");
    let (text, good) = ndjson();
    std::fs::write(&file, text).unwrap();
    let f = file.to_str().unwrap();
    let w = ws.to_string();

    let proxy = Proxy {
        upstream: format!("http://{}", app.addr),
        ingests: Arc::new(AtomicUsize::new(0)),
        http: reqwest::Client::new(),
    };
    let ingests = proxy.ingests.clone();
    let router = axum::Router::new().fallback(forward).with_state(proxy);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    // Through the proxy: two batches of 1,000 pass, the third meets 503 (retried once), so
    // the run stops with exit 1 and its progress saved.
    let ctl = Ctl::for_org(dir.path(), &app, &org);
    let r = ctl
        .clone()
        .with("PALISADE_URL", &proxy_url)
        .run(&[
            "--retries",
            "1",
            "incidents",
            "ingest",
            &w,
            "Sentinel",
            f,
            "--concurrency",
            "1",
        ])
        .await;
    assert_eq!(r.code, 1, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("SERVICE_UNAVAILABLE") && r.stderr.contains("request id: proxy-1"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("stopped at line"), "{}", r.stderr);
    assert_eq!(
        ingests.load(Ordering::SeqCst),
        4,
        "two batches, then one try and one retry"
    );
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("incidents.ndjson.progress.json")).unwrap(),
    )
    .unwrap();
    // 2,000 items plus the blank and the unparsable line among them.
    assert_eq!(state["linesDone"], 2002, "{state}");
    assert_eq!(state["complete"], false);
    let c = client(&app, &org);
    let count = |c: palisade_client::Client| async move {
        c.incidents()
            .across(AcrossWorkspacesRequest::default())
            .stream()
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
    };
    assert_eq!(count(c.clone()).await.len(), 2000 - 2);

    // Resumed against the server itself: it starts at line 2,003 and ends with the summary.
    let r = ctl
        .run(&["incidents", "ingest", &w, "Sentinel", f, "-o", "json"])
        .await
        .ok();
    assert!(r.stderr.contains("resuming at line 2003"), "{}", r.stderr);
    let summary = r.json();
    assert_eq!(summary["lines"], 2503);
    assert_eq!(summary["sent"], 2500);
    assert_eq!(summary["created"], good as u64);
    assert_eq!(summary["unchanged"], 0);
    let rejected = summary["rejectedItems"].as_array().unwrap();
    let lines: Vec<u64> = rejected
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, vec![10, 1200, 1500, 2301, 2400]);
    assert_eq!(rejected[0]["id"], "BAD-10");
    assert!(
        rejected[0]["reasons"][0]
            .as_str()
            .unwrap()
            .contains("severity"),
        "{rejected:?}"
    );
    assert!(rejected[1]["reasons"][0]
        .as_str()
        .unwrap()
        .contains("not JSON"));
    let all = count(c).await;
    assert_eq!(all.len(), good);
    assert_eq!(
        all.iter().map(|i| &i.id).collect::<HashSet<_>>().len(),
        good
    );

    // A finished file is not sent again without --restart; with it, everything is unchanged.
    let r = ctl
        .run(&["incidents", "ingest", &w, "Sentinel", f])
        .await
        .ok();
    assert!(r.stdout.contains("completely already"), "{}", r.stdout);
    let r = ctl
        .run(&[
            "incidents",
            "ingest",
            &w,
            "Sentinel",
            f,
            "--restart",
            "--batch-size",
            "700",
            "-o",
            "json",
        ])
        .await
        .ok();
    assert_eq!(r.json()["unchanged"], good as u64);
    assert_eq!(r.json()["created"], 0);
    // Another workspace's state is not resumed by mistake; a bad batch size is a usage error.
    let other = app.workspace(&org, "Other").await.to_string();
    assert_eq!(
        ctl.run(&["incidents", "ingest", &other, "Sentinel", f])
            .await
            .code,
        2
    );
    assert_eq!(
        ctl.run(&[
            "incidents",
            "ingest",
            &w,
            "Sentinel",
            f,
            "--batch-size",
            "1001"
        ])
        .await
        .code,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_table_summary_names_rejected_items() {
    let app = TestApp::spawn().await;
    let org = app.org("Summary").await;
    let ws = app.workspace(&org, "W").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("few.ndjson");
    std::fs::write(
        &file,
        "{\"id\":\"A\",\"title\":\"ok\",\"severity\":\"Low\"}\n{\"id\":\"B\",\"title\":\"bad\",\"severity\":\"Huge\"}\n[1]\n",
    )
    .unwrap();
    let ctl = Ctl::for_org(dir.path(), &app, &org);
    let r = ctl
        .run(&[
            "incidents",
            "ingest",
            &ws.to_string(),
            "CrowdStrike",
            file.to_str().unwrap(),
        ])
        .await
        .ok();
    assert!(
        r.stdout
            .contains("3 lines, 2 sent: 1 created, 0 updated, 0 unchanged, 2 rejected"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("LINE")
            && r.stdout.contains("severity")
            && r.stdout.contains("not a JSON object"),
        "{}",
        r.stdout
    );
}
