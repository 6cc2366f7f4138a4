//! `webhooks listen --port N`: a local receiver for development. Every POST is checked
//! against the signing secret (Standard Webhooks or `X-CF-Signature`, within the timestamp
//! tolerance); a verified delivery is answered 204 and printed, a failing one 401 and
//! reported on standard error.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use palisade_client::verify::Verifier;
use tokio::sync::mpsc;

use crate::output::Output;
use crate::{CmdResult, Failure};

struct Shared {
    verifier: Verifier,
    json: bool,
    seen: mpsc::UnboundedSender<()>,
}

pub async fn run(
    bind: &str,
    port: u16,
    secret: String,
    tolerance: u64,
    count: Option<usize>,
    out: &Output,
) -> CmdResult {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        verifier: Verifier::new(secret).with_tolerance(Duration::from_secs(tolerance)),
        json: out.json(),
        seen: tx,
    });
    let app = axum::Router::new()
        .fallback(axum::routing::post(receive))
        .with_state(shared);
    let listener = tokio::net::TcpListener::bind((bind, port))
        .await
        .map_err(|e| Failure::Runtime(format!("listen on {bind}:{port}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    eprintln!("listening on http://{addr}/ (Ctrl-C to stop)");
    let stop = async move {
        match count {
            Some(n) => {
                for _ in 0..n {
                    if rx.recv().await.is_none() {
                        break;
                    }
                }
            }
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
        .map_err(|e| Failure::Runtime(e.to_string()))
}

async fn receive(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let event_id = header("x-cf-event-id")
        .or(header("webhook-id"))
        .unwrap_or("-");
    match s.verifier.verify(header, &body) {
        Ok(scheme) => {
            let doc: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let kind = doc["type"].as_str().unwrap_or("-");
            if s.json {
                let line = serde_json::json!({
                    "verified": true,
                    "scheme": format!("{scheme:?}"),
                    "eventId": event_id,
                    "type": kind,
                    "test": header("x-cf-test") == Some("true"),
                    "body": doc,
                });
                println!("{line}");
            } else {
                let subject = doc["data"]["incident"]["title"]
                    .as_str()
                    .or(doc["data"]["title"].as_str())
                    .unwrap_or("");
                println!(
                    "{}  verified ({scheme:?})  {kind}  {event_id}  {subject}",
                    chrono::Utc::now().format("%H:%M:%S")
                );
            }
            let _ = s.seen.send(());
            StatusCode::NO_CONTENT
        }
        Err(e) => {
            eprintln!("refused delivery {event_id}: {e}");
            StatusCode::UNAUTHORIZED
        }
    }
}
