use palisade_test_utils::TestApp;

fn assert_envelope_timestamp(ts: &str) {
    // 2026-04-15T20:00:00.0000000+00:00
    let b = ts.as_bytes();
    assert_eq!(ts.len(), 33, "{ts}");
    assert!(ts.ends_with("+00:00"), "{ts}");
    assert_eq!(b[10], b'T', "{ts}");
    assert_eq!(b[19], b'.', "{ts}");
    assert!(ts[20..27].bytes().all(|c| c.is_ascii_digit()), "{ts}");
}

#[tokio::test]
async fn health_ready_and_request_ids() {
    let app = TestApp::spawn().await;
    let r = app.get("/healthz", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["status"], "ok");
    assert!(r.header("x-request-id").is_some());
    let r = app.get("/readyz", None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["status"], "ready");

    let r = app.get("/api/v2/ping", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.data()["pong"], true);
    let id = r.header("x-request-id").unwrap();
    assert_eq!(r.json["meta"]["requestId"], id);
    assert_envelope_timestamp(r.json["meta"]["timestamp"].as_str().unwrap());

    // Every response carries a request id, failures included; a sane client id is kept.
    let r = app
        .send_raw(reqwest::Method::GET, "/nope", None, None, vec![])
        .await;
    assert!(r.header("x-request-id").is_some());
    let client = reqwest::Client::new();
    let resp = client
        .get(app.url("/api/v2/ping"))
        .header("x-request-id", "trace-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "trace-abc-123");
    let resp = client
        .get(app.url("/api/v2/ping"))
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    assert_ne!(resp.headers()["x-request-id"], "bad id with spaces");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = TestApp::spawn().await;
    let org = app.org("Metrics").await;
    for _ in 0..3 {
        app.get("/api/v2/users/profile", Some(&org.admin)).await;
    }
    app.get("/api/v2/users/profile", None).await;
    let r = app.get("/metrics", None).await;
    assert_eq!(r.status, 200);
    assert!(r.content_type().starts_with("text/plain"));
    assert!(
        r.text.contains(
            "palisade_http_requests_total{route=\"/api/v2/users/profile\",method=\"GET\",status=\"200\"} 3"
        ),
        "{}",
        r.text
    );
    assert!(r.text.contains(
        "palisade_http_requests_total{route=\"/api/v2/users/profile\",method=\"GET\",status=\"401\"} 1"
    ));
    assert!(r
        .text
        .contains("palisade_http_request_duration_seconds_count{route=\"/api/v2/users/profile\",method=\"GET\"} 4"));
    for gauge in [
        "palisade_webhook_jobs_queued",
        "palisade_outbox_events_pending",
        "palisade_gamebook_events_pending",
        "palisade_auth_credential_lookups_total",
    ] {
        assert!(
            r.text.contains(&format!("\n{gauge} ")),
            "{gauge} missing: {}",
            r.text
        );
    }
}

#[tokio::test]
async fn docs_page_and_its_script_are_served_from_the_binary() {
    let app = TestApp::spawn().await;
    let r = app.get("/docs", None).await;
    assert_eq!(r.status, 200);
    assert!(r.content_type().starts_with("text/html"));
    assert!(r.text.contains("/docs/redoc.standalone.js"));
    assert!(r.text.contains("/api/v2/openapi.json"));
    assert!(!r.text.contains("https://cdn"), "no CDN references");
    let r = app.get("/docs/redoc.standalone.js", None).await;
    assert_eq!(r.status, 200);
    assert!(r.text.len() > 100_000);
}

/// The guides of `docs/` are served from the binary under `/docs/`, every guide the OpenAPI
/// document points to answers, and `/` leads to the API reference.
#[tokio::test]
async fn guides_are_served_and_every_link_of_the_document_resolves() {
    let app = TestApp::spawn().await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    let mut served = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if !name.ends_with(".md") {
            continue;
        }
        let r = app.get(&format!("/docs/{name}"), None).await;
        assert_eq!(r.status, 200, "/docs/{name}: {}", r.text);
        assert!(
            r.content_type().starts_with("text/plain"),
            "{}",
            r.content_type()
        );
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        let on_disk = std::fs::read_to_string(dir.join(&name)).unwrap();
        assert_eq!(r.text, on_disk, "/docs/{name} is the file as committed");
        served += 1;
    }
    assert!(served >= 10, "{served}");
    app.get("/docs/nope.md", None)
        .await
        .assert_problem(404, "NOT_FOUND");
    app.get("/docs/..%2FREADME.md", None)
        .await
        .assert_problem(404, "NOT_FOUND");

    // Every guide the OpenAPI document mentions is a link that resolves.
    let doc = app.get("/api/v2/openapi.json", None).await.text;
    let mut links = 0;
    for (i, _) in doc.match_indices("docs/") {
        let rest = &doc[i..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || "/._-".contains(c)))
            .unwrap_or(rest.len());
        let name = rest[..end].trim_end_matches('.');
        if !name.ends_with(".md") {
            continue;
        }
        assert_eq!(&doc[i - 1..i], "/", "a bare mention, not a link: {name}");
        let r = app.get(&format!("/{name}"), None).await;
        assert_eq!(r.status, 200, "/{name}");
        links += 1;
    }
    assert!(links >= 5, "{links}");

    // `/` leads to the console (enabled by default); with the console disabled, to the
    // reference.
    let r = app.get("/", None).await;
    assert_eq!(r.status, 307, "{}", r.text);
    assert_eq!(r.header("location"), Some("/console"));
    let off = TestApp::spawn_with(|c| c.console.enabled = false).await;
    let r = off.get("/", None).await;
    assert_eq!(r.status, 307, "{}", r.text);
    assert_eq!(r.header("location"), Some("/docs"));
}

#[tokio::test]
async fn graceful_shutdown_finishes_an_in_flight_request() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut app = TestApp::spawn().await;
    let org = app.org("Shutdown").await;
    let body = br#"{"name":"Finished after shutdown began"}"#;
    let head = format!(
        "POST /api/v2/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        org.admin.header(),
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..10]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // Begin shutdown while the request is in flight, then finish sending it.
    let stop = tokio::spawn(async move {
        app.stop().await;
        app
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    stream.write_all(&body[10..]).await.unwrap();
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 201"), "{text}");
    assert!(text.contains("Finished after shutdown began"));
    let app = stop.await.unwrap();
    // And new connections are refused once stopped.
    assert!(tokio::net::TcpStream::connect(app.addr).await.is_err());
}
