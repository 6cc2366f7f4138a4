//! Retries and timeouts against a loopback stand-in that answers 429/503 with `Retry-After`
//! (in the server's problem format) as scripted.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use palisade_client::{Client, RetryPolicy};
use serde_json::json;

#[derive(Default)]
struct Counts {
    ping: AtomicUsize,
    test: AtomicUsize,
    long: AtomicUsize,
}

fn problem(status: u16, code: &str, retry_after: &str) -> axum::response::Response {
    let body = json!({
        "type": "about:blank", "title": "Busy", "status": status, "detail": "try later",
        "instance": "/", "code": code, "requestId": "req-1", "timestamp": "2026-01-01T00:00:00Z"
    });
    let mut h = HeaderMap::new();
    h.insert("retry-after", retry_after.parse().unwrap());
    h.insert("content-type", "application/problem+json".parse().unwrap());
    (StatusCode::from_u16(status).unwrap(), h, body.to_string()).into_response()
}

async fn stand_in() -> (String, Arc<Counts>) {
    let counts = Arc::new(Counts::default());
    let (a, b, c) = (counts.clone(), counts.clone(), counts.clone());
    let app = axum::Router::new()
        .route(
            "/api/v2/ping",
            get(move |headers: HeaderMap| {
                let a = a.clone();
                async move {
                    assert!(headers["authorization"].to_str().unwrap().starts_with("Basic "));
                    match a.ping.fetch_add(1, Ordering::SeqCst) {
                        0 => problem(503, "SERVICE_UNAVAILABLE", "1"),
                        1 => problem(429, "RATE_LIMITED", "0"),
                        _ => axum::Json(json!({"data": {"pong": true}, "meta": {"requestId": "r", "timestamp": "t"}}))
                            .into_response(),
                    }
                }
            }),
        )
        .route(
            "/api/v2/webhooks/{id}/test",
            post(move || {
                let b = b.clone();
                async move {
                    b.test.fetch_add(1, Ordering::SeqCst);
                    problem(503, "SERVICE_UNAVAILABLE", "0")
                }
            }),
        )
        .route(
            "/api/v2/users",
            get(move || {
                let c = c.clone();
                async move {
                    c.long.fetch_add(1, Ordering::SeqCst);
                    problem(429, "RATE_LIMITED", "3600")
                }
            }),
        )
        .route(
            "/api/v2/users/profile",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), counts)
}

fn client(base: &str) -> Client {
    Client::builder(base)
        .credentials("id", "cf_sa_secret")
        .timeout(Duration::from_millis(800))
        .retry(RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(10),
        })
        .build()
        .unwrap()
}

#[tokio::test]
async fn idempotent_calls_are_retried_after_retry_after() {
    let (base, counts) = stand_in().await;
    let started = Instant::now();
    let pong = client(&base)
        .system()
        .ping()
        .await
        .expect("ping after retries");
    assert!(pong.pong);
    assert_eq!(counts.ping.load(Ordering::SeqCst), 3);
    // The first answer asked for one second.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_post_that_changes_something_is_not_retried() {
    let (base, counts) = stand_in().await;
    let err = client(&base)
        .webhooks()
        .test(uuid::Uuid::nil())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("SERVICE_UNAVAILABLE"));
    assert_eq!(counts.test.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_retry_after_beyond_the_cap_is_returned_at_once() {
    let (base, counts) = stand_in().await;
    let started = Instant::now();
    let err = client(&base).users().list().await.unwrap_err();
    assert_eq!(err.code(), Some("RATE_LIMITED"));
    assert_eq!(counts.long.load(Ordering::SeqCst), 1);
    assert!(started.elapsed() < Duration::from_secs(2));
    match err {
        palisade_client::Error::Api(e) => {
            assert_eq!(e.retry_after, Some(Duration::from_secs(3600)))
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_timeout_ends_a_slow_call() {
    let (base, _) = stand_in().await;
    let err = client(&base).users().profile().await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
}
