//! Webhooks: configuration routes, the SSRF guard at creation, and real deliveries to a
//! receiver on loopback — signatures checked by an independent computation, retries with
//! the same event id on the configured schedule, Retry-After, auto-disable and enable, 410,
//! pause and resume, redelivery, test events, delivery-log paging, and two replicas sharing
//! one database delivering each event exactly once.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use base64::Engine;
use hmac::{Hmac, Mac};
use palisade_server::config::Config;
use palisade_test_utils::{Cred, Receiver, Reply, TestApp, TestOrg};
use serde_json::{json, Value};
use sha2::Sha256;
use uuid::Uuid;

fn deliveries(c: &mut Config) {
    c.webhooks.allow_private_targets = true;
    c.webhooks.allow_http = true;
    c.webhooks.retry_schedule_secs = vec![1, 1];
    c.webhooks.poll_interval_ms = 50;
    c.webhooks.timeout_secs = 2;
    c.webhooks.lease_secs = 10;
}

async fn app() -> TestApp {
    TestApp::spawn_with(deliveries).await
}

async fn create(app: &TestApp, cred: &Cred, body: Value) -> Value {
    let r = app.post("/api/v2/webhooks", Some(cred), &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.data().clone()
}

/// A webhook named "r" sending `incident.created` to the receiver.
async fn subscribe(app: &TestApp, cred: &Cred, rx: &Receiver) -> Value {
    create(
        app,
        cred,
        json!({"name": "r", "url": rx.url("/"), "eventTypes": ["incident.created"]}),
    )
    .await
}

async fn ingest(app: &TestApp, cred: &Cred, ws: Uuid, id: &str, title: &str) {
    let r = app
        .put(
            &format!("/api/v2/workspaces/{ws}/incidents/Sentinel/{id}"),
            Some(cred),
            &json!({"title": title, "severity": "High", "entities": [{"id": "e1", "kind": "Host", "displayName": "web-01"}]}),
        )
        .await;
    assert!(r.status == 200 || r.status == 201, "{}", r.text);
}

fn hmac_hex(key: &[u8], msg: &[u8]) -> String {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    m.update(msg);
    m.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn hmac_b64(key: &[u8], msg: &[u8]) -> String {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    m.update(msg);
    base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
}

async fn logs(app: &TestApp, cred: &Cred, hook: &str) -> Vec<Value> {
    let r = app
        .get(
            &format!("/api/v2/webhooks/{hook}/delivery-logs?pageSize=100"),
            Some(cred),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.data()["items"].as_array().unwrap().clone()
}

async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls until `get` yields something.
async fn wait_for<T, F, Fut>(what: &str, mut get: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = get().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn configuration_routes_shapes_and_validation() {
    let app = app().await;
    let org = app.org("Hooks").await;
    let other = app.org("Other").await;
    let a = &org.admin;

    let r = app.get("/api/v2/webhooks/event-types", Some(a)).await;
    assert_eq!(r.status, 200);
    let names: Vec<&str> = r.items("name");
    assert_eq!(
        names,
        [
            "incident.created",
            "incident.updated",
            "gamebook.completed",
            "ticket.linked"
        ]
    );
    assert_eq!(r.data()[0]["schema"], "incident.created.v1");

    let created = create(
        &app,
        a,
        json!({"name": "SIEM", "url": "http://127.0.0.1:9/hook", "eventTypes": ["incident.created.v1", "incident.updated"],
               "authenticationType": "BearerToken", "token": "tok-secret-123"}),
    )
    .await;
    let secret = created["signingSecret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_eq!(created["status"], "Active");
    assert_eq!(created["authenticationType"], "Bearer");
    assert_eq!(created["hasSigningToken"], true);
    assert_eq!(
        created["eventTypes"],
        json!(["incident.created", "incident.updated"])
    );
    assert_eq!(created["serviceProviderId"], org.id.to_string());
    assert_eq!(created["targetAccountId"], org.account_id.to_string());
    assert!(created["targetAccountName"].as_str().is_some());
    assert_eq!(created["workspaceId"], Value::Null);
    assert_eq!(created["disableReason"], Value::Null);
    let id = created["id"].as_str().unwrap().to_string();

    let got = app.get(&format!("/api/v2/webhooks/{id}"), Some(a)).await;
    assert_eq!(got.status, 200);
    assert!(
        got.data().get("signingSecret").is_none(),
        "the secret is shown once"
    );
    assert!(!got.text.contains("tok-secret-123") && !got.text.contains(secret));
    let list = app.get("/api/v2/webhooks", Some(a)).await;
    assert_eq!(list.data().as_array().unwrap().len(), 1);

    let upd = app
        .put(
            &format!("/api/v2/webhooks/{id}"),
            Some(a),
            &json!({"name": "SIEM 2", "eventTypes": ["incident.updated"]}),
        )
        .await;
    assert_eq!(upd.status, 200, "{}", upd.text);
    assert_eq!(upd.data()["name"], "SIEM 2");
    assert_eq!(upd.data()["url"], "http://127.0.0.1:9/hook");
    assert_eq!(upd.data()["eventTypes"], json!(["incident.updated"]));

    let c = app
        .post(
            &format!("/api/v2/webhooks/{id}/credentials"),
            Some(a),
            &json!({"authenticationType": "ApiKey", "token": "k-1", "apiKeyHeader": "X-Hook-Key"}),
        )
        .await;
    assert_eq!(c.status, 200, "{}", c.text);
    assert_eq!(
        c.data(),
        &json!({"id": id, "authenticationType": "ApiKey", "hasSigningToken": true})
    );

    // Validation: every bad field named.
    let bad = app
        .post("/api/v2/webhooks", Some(a),
              &json!({"url": "ftp://x", "eventTypes": ["incident.deleted"], "authenticationType": "Basic",
                      "monitoredAccountIds": ["not-a-uuid", Uuid::new_v4().to_string()], "signingToken": "short"}))
        .await;
    bad.assert_problem(400, "VALIDATION_ERROR");
    let errors = bad.json["errors"].as_object().unwrap();
    for key in [
        "name",
        "url",
        "eventTypes[0]",
        "username",
        "password",
        "monitoredAccountIds[0]",
        "monitoredAccountIds[1]",
        "signingToken",
    ] {
        assert!(errors.contains_key(key), "{key} missing in {errors:?}");
    }
    app.post(
        &format!("/api/v2/webhooks/{id}/credentials"),
        Some(a),
        &json!({"authenticationType": "Bearer"}),
    )
    .await
    .assert_problem(400, "VALIDATION_ERROR");
    app.post(
        &format!("/api/v2/webhooks/{id}/credentials"),
        Some(a),
        &json!({"authenticationType": "ApiKey", "token": "x", "apiKeyHeader": "X-CF-Signature"}),
    )
    .await
    .assert_problem(400, "VALIDATION_ERROR");

    // State changes: 409 where they do not apply.
    app.post(
        &format!("/api/v2/webhooks/{id}/resume"),
        Some(a),
        &json!({}),
    )
    .await
    .assert_problem(409, "CONFLICT");
    app.post(
        &format!("/api/v2/webhooks/{id}/enable"),
        Some(a),
        &json!({}),
    )
    .await
    .assert_problem(409, "CONFLICT");
    let p = app
        .post(&format!("/api/v2/webhooks/{id}/pause"), Some(a), &json!({}))
        .await;
    assert_eq!(p.data()["status"], "Paused");
    app.post(&format!("/api/v2/webhooks/{id}/pause"), Some(a), &json!({}))
        .await
        .assert_problem(409, "CONFLICT");

    // Another organization sees nothing.
    let o = &other.admin;
    for path in [
        format!("/api/v2/webhooks/{id}"),
        format!("/api/v2/webhooks/{id}/delivery-logs?pageSize=5"),
    ] {
        app.get(&path, Some(o))
            .await
            .assert_problem(404, "NOT_FOUND");
    }
    app.post(&format!("/api/v2/webhooks/{id}/test"), Some(o), &json!({}))
        .await
        .assert_problem(404, "NOT_FOUND");
    app.delete(&format!("/api/v2/webhooks/{id}"), Some(o))
        .await
        .assert_problem(404, "NOT_FOUND");
    assert_eq!(
        app.get("/api/v2/webhooks", Some(o)).await.data(),
        &json!([])
    );

    // Read scope cannot manage.
    let (reader, _) = app
        .service_account(
            a,
            &json!({"name": "r", "scopes": ["webhooks:read"], "organizationalRole": "Admin"}),
        )
        .await;
    assert_eq!(app.get("/api/v2/webhooks", Some(&reader)).await.status, 200);
    app.post(
        &format!("/api/v2/webhooks/{id}/pause"),
        Some(&reader),
        &json!({}),
    )
    .await
    .assert_problem(403, "INSUFFICIENT_SCOPE");

    let d = app.delete(&format!("/api/v2/webhooks/{id}"), Some(a)).await;
    assert_eq!(d.status, 200);
    app.get(&format!("/api/v2/webhooks/{id}"), Some(a))
        .await
        .assert_problem(404, "NOT_FOUND");
}

#[tokio::test]
async fn ssrf_guard_refuses_private_targets_by_default() {
    // Default configuration: https only, no private targets. Nothing is sent anywhere: the
    // guard refuses at creation, before any connection.
    let app = TestApp::spawn().await;
    let org = app.org("Guarded").await;
    for url in [
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://172.16.0.1/hook",
        "https://192.168.1.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hook",
        "https://[fe80::1]/hook",
        "https://localhost/hook",
        "http://93.184.216.34/hook",
    ] {
        let r = app
            .post(
                "/api/v2/webhooks",
                Some(&org.admin),
                &json!({"name": "x", "url": url, "eventTypes": ["incident.created"]}),
            )
            .await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert!(r.json["errors"]["url"].is_array(), "{url}: {}", r.text);
    }
}

#[tokio::test]
async fn a_workspace_scoped_caller_cannot_make_an_organization_wide_webhook() {
    let app = app().await;
    let org = app.org("Scoped").await;
    let ws = app.workspace(&org, "one").await;
    let (member, _) = app
        .service_account(&org.admin, &json!({"name": "m", "scopes": ["webhooks:manage"], "organizationalRole": "Member",
                                              "workspaceAssignments": [{"workspaceId": ws, "role": "WorkspaceReader"}]}))
        .await;
    let r = app
        .post(
            "/api/v2/webhooks",
            Some(&member),
            &json!({"name": "x", "url": "http://127.0.0.1:9/", "eventTypes": ["incident.created"]}),
        )
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    assert!(r.json["errors"]["workspaceId"].is_array());
    let ok = app
        .post("/api/v2/webhooks", Some(&member), &json!({"name": "x", "url": "http://127.0.0.1:9/", "eventTypes": ["incident.created"], "workspaceId": ws}))
        .await;
    assert_eq!(ok.status, 201, "{}", ok.text);
}

#[tokio::test]
async fn deliveries_are_signed_shaped_and_logged() {
    let app = app().await;
    let rx = Receiver::start().await;
    let org = app.org("Signed").await;
    let ws = app.workspace(&org, "prod").await;
    let hook = create(
        &app,
        &org.admin,
        json!({"name": "r", "url": rx.url("/hook"), "eventTypes": ["incident.created", "incident.updated"],
               "authenticationType": "Bearer", "token": "bearer-token-xyz"}),
    )
    .await;
    let secret = hook["signingSecret"].as_str().unwrap().to_string();
    let id = hook["id"].as_str().unwrap().to_string();

    ingest(&app, &org.admin, ws, "INC-1", "Suspicious sign-in").await;
    let hits = rx.wait_for(1, Duration::from_secs(10)).await;
    let h = &hits[0];
    assert_eq!(h.header("content-type"), Some("application/json"));
    assert_eq!(h.header("x-cf-schema"), Some("incident.created.v1"));
    assert_eq!(h.header("authorization"), Some("Bearer bearer-token-xyz"));
    assert!(h.header("x-cf-test").is_none());
    let event_id: Uuid = h.event_id().parse().expect("X-CF-Event-Id is a UUID");
    let ts = h.header("x-cf-timestamp").unwrap();
    let ts_n: i64 = ts.parse().expect("Unix seconds");
    assert!((chrono::Utc::now().timestamp() - ts_n).abs() < 60);
    // X-CF-Signature, computed independently.
    let expected = format!(
        "sha256={}",
        hmac_hex(secret.as_bytes(), format!("{ts}.{}", h.body).as_bytes())
    );
    assert_eq!(h.header("x-cf-signature"), Some(expected.as_str()));
    // Standard Webhooks, computed independently.
    assert_eq!(h.header("webhook-id"), Some(event_id.to_string().as_str()));
    assert_eq!(h.header("webhook-timestamp"), Some(ts));
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let std_sig = format!(
        "v1,{}",
        hmac_b64(&key, format!("{event_id}.{ts}.{}", h.body).as_bytes())
    );
    assert_eq!(h.header("webhook-signature"), Some(std_sig.as_str()));
    // Body.
    let b = h.json();
    assert_eq!(b["type"], "incident.created.v1");
    assert_eq!(b["isTest"], false);
    assert!(b["timestamp"].is_string() && b["occurredAt"].is_string());
    assert_eq!(b["data"]["incidentId"], "INC-1");
    assert_eq!(b["data"]["source"], "sentinel");
    assert_eq!(b["data"]["title"], "Suspicious sign-in");
    assert!(b["data"]["incidentNumber"].as_i64().is_some());

    // A real change: incident.updated with its changes; an identical re-send: nothing.
    let confirmed = || {
        ingest(
            &app,
            &org.admin,
            ws,
            "INC-1",
            "Suspicious sign-in (confirmed)",
        )
    };
    confirmed().await;
    let hits = rx.wait_for(2, Duration::from_secs(10)).await;
    let u = hits[1].json();
    assert_eq!(hits[1].header("x-cf-schema"), Some("incident.updated.v1"));
    assert_eq!(u["type"], "incident.updated.v1");
    assert!(u["data"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["field"] == "title"));
    assert_ne!(hits[1].event_id(), hits[0].event_id());
    confirmed().await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(rx.hits().len(), 2, "an identical re-send emits nothing");

    // Logs: one per attempt, secrets masked, union of both documented shapes.
    let items = wait_for("two logs", || async {
        let items = logs(&app, &org.admin, &id).await;
        (items.len() == 2).then_some(items)
    })
    .await;
    let first = items
        .iter()
        .find(|l| l["eventType"] == "incident.created")
        .unwrap();
    assert_eq!(first["success"], true);
    assert_eq!(first["status"], "Succeeded");
    assert_eq!(first["httpStatusCode"], 200);
    assert_eq!(first["attemptNumber"], 1);
    assert_eq!(first["eventId"], event_id.to_string());
    assert_eq!(first["webhookConfigurationId"], id);
    assert_eq!(first["requestUrl"], rx.url("/hook"));
    assert_eq!(first["requestHeaders"]["Authorization"], "Bearer ****");
    assert_eq!(first["responseSnippet"], "received");
    assert_eq!(first["eventSubjectId"], "Sentinel/INC-1");
    assert_eq!(first["eventSourceAccountId"], org.account_id.to_string());
    assert_eq!(first["requestBody"], first["eventPayload"]);
    assert!(first["latencyMs"].as_u64().is_some() && first["durationMs"] == first["latencyMs"]);
    let all = app
        .get(
            &format!("/api/v2/webhooks/{id}/delivery-logs?pageSize=10"),
            Some(&org.admin),
        )
        .await;
    assert!(!all.text.contains("bearer-token-xyz") && !all.text.contains(&secret));

    // Single log: createdAt is required and must fall on the log's day.
    let log_id = first["id"].as_str().unwrap();
    let created_at = first["createdAt"].as_str().unwrap();
    let one = app
        .get(
            &format!(
                "/api/v2/webhooks/{id}/delivery-logs/{log_id}?createdAt={}",
                urlencode(created_at)
            ),
            Some(&org.admin),
        )
        .await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.data()["id"], log_id);
    app.get(
        &format!("/api/v2/webhooks/{id}/delivery-logs/{log_id}"),
        Some(&org.admin),
    )
    .await
    .assert_problem(400, "VALIDATION_ERROR");
    app.get(
        &format!("/api/v2/webhooks/{id}/delivery-logs/{log_id}?createdAt=2001-01-01T00:00:00Z"),
        Some(&org.admin),
    )
    .await
    .assert_problem(404, "NOT_FOUND");
    app.get(
        &format!(
            "/api/v2/webhooks/{id}/delivery-logs/{}?createdAt={}",
            Uuid::new_v4(),
            urlencode(created_at)
        ),
        Some(&org.admin),
    )
    .await
    .assert_problem(404, "NOT_FOUND");
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn retries_reuse_the_event_id_and_follow_the_schedule() {
    let app = app().await;
    // Fail twice, then succeed.
    let rx = Receiver::with_plan(|n, _| {
        if n < 2 {
            Reply::status(500)
        } else {
            Reply::ok()
        }
    })
    .await;
    let org = app.org("Retry").await;
    let ws = app.workspace(&org, "w").await;
    let hook = subscribe(&app, &org.admin, &rx).await;
    ingest(&app, &org.admin, ws, "R-1", "retry me").await;
    let hits = rx.wait_for(3, Duration::from_secs(15)).await;
    assert_eq!(hits.len(), 3);
    let ids: HashSet<String> = hits.iter().map(|h| h.event_id()).collect();
    assert_eq!(ids.len(), 1, "every retry carries the same X-CF-Event-Id");
    for pair in hits.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap >= Duration::from_millis(900),
            "retried after {gap:?}, schedule says 1 s"
        );
    }
    let id = hook["id"].as_str().unwrap();
    let items = wait_for("three logs", || async {
        let items = logs(&app, &org.admin, id).await;
        (items.len() == 3).then_some(items)
    })
    .await;
    let mut attempts: Vec<(i64, bool)> = items
        .iter()
        .map(|l| {
            (
                l["attemptNumber"].as_i64().unwrap(),
                l["success"].as_bool().unwrap(),
            )
        })
        .collect();
    attempts.sort();
    assert_eq!(attempts, [(1, false), (2, false), (3, true)]);
    let failed = items.iter().find(|l| l["attemptNumber"] == 1).unwrap();
    assert_eq!(failed["httpStatusCode"], 500);
    assert!(failed["errorMessage"].as_str().unwrap().contains("500"));
    assert_eq!(
        app.state.store().system().queued_jobs(None).await.unwrap(),
        0
    );
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let app = TestApp::spawn_with(|c| {
        deliveries(c);
        c.webhooks.retry_schedule_secs = vec![0];
    })
    .await;
    let rx = Receiver::with_plan(|n, _| {
        if n == 0 {
            Reply::status(429).with_header("Retry-After", "2")
        } else {
            Reply::ok()
        }
    })
    .await;
    let org = app.org("Later").await;
    let ws = app.workspace(&org, "w").await;
    subscribe(&app, &org.admin, &rx).await;
    ingest(&app, &org.admin, ws, "L-1", "later").await;
    let hits = rx.wait_for(2, Duration::from_secs(15)).await;
    let gap = hits[1].at - hits[0].at;
    assert!(
        gap >= Duration::from_millis(1900),
        "Retry-After: 2 honoured, got {gap:?}"
    );
}

/// A webhook of a new organization whose receiver answers 503 to everything, on an app that
/// retries once at once and disables a webhook after two events failed in a row; two events
/// (incidents `{prefix}-1` and `{prefix}-2`) are on their way. Returns the app, the receiver,
/// the organization, the workspace and the webhook's id.
async fn failing_webhook(
    org_name: &str,
    prefix: &str,
) -> (TestApp, Receiver, TestOrg, Uuid, String) {
    let app = TestApp::spawn_with(|c| {
        deliveries(c);
        c.webhooks.retry_schedule_secs = vec![0];
        c.webhooks.disable_after_consecutive_failures = 2;
    })
    .await;
    let rx = Receiver::with_plan(|_, _| Reply::status(503)).await;
    let org = app.org(org_name).await;
    let ws = app.workspace(&org, "w").await;
    let hook = subscribe(&app, &org.admin, &rx).await;
    let id = hook["id"].as_str().unwrap().to_string();
    for (n, title) in [(1, "one"), (2, "two")] {
        ingest(&app, &org.admin, ws, &format!("{prefix}-{n}"), title).await;
    }
    (app, rx, org, ws, id)
}

#[tokio::test]
async fn repeated_failures_disable_and_enable_restores() {
    let (app, rx, org, ws, id) = failing_webhook("Flaky", "F").await;
    // Two events, two attempts each, all failing: the run of two failed events disables it.
    let w = wait_for("auto-disable", || async {
        let w = app
            .get(&format!("/api/v2/webhooks/{id}"), Some(&org.admin))
            .await
            .data()
            .clone();
        (w["status"] == "Disabled").then_some(w)
    })
    .await;
    assert!(w["disableReason"]
        .as_str()
        .unwrap()
        .contains("2 consecutive"));
    assert!(w["disabledAt"].is_string());
    assert_eq!(rx.hits().len(), 4);

    // While disabled nothing is sent and new events are not queued.
    ingest(&app, &org.admin, ws, "F-3", "three").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.hits().len(), 4);

    rx.set_plan(|_, _| Reply::ok());
    let e = app
        .post(
            &format!("/api/v2/webhooks/{id}/enable"),
            Some(&org.admin),
            &json!({}),
        )
        .await;
    assert_eq!(e.status, 200, "{}", e.text);
    assert_eq!(e.data()["status"], "Active");
    assert_eq!(e.data()["disableReason"], Value::Null);
    ingest(&app, &org.admin, ws, "F-4", "four").await;
    let hits = rx.wait_for(5, Duration::from_secs(10)).await;
    assert_eq!(hits[4].json()["data"]["incidentId"], "F-4");
}

#[tokio::test]
async fn gone_disables_at_once() {
    let app = app().await;
    let rx = Receiver::with_plan(|_, _| Reply::status(410)).await;
    let org = app.org("Gone").await;
    let ws = app.workspace(&org, "w").await;
    let hook = subscribe(&app, &org.admin, &rx).await;
    let id = hook["id"].as_str().unwrap().to_string();
    ingest(&app, &org.admin, ws, "G-1", "gone").await;
    wait_until("disabled by 410", || async {
        let w = app
            .get(&format!("/api/v2/webhooks/{id}"), Some(&org.admin))
            .await;
        w.data()["status"] == "Disabled"
            && w.data()["disableReason"]
                .as_str()
                .unwrap_or("")
                .contains("410")
    })
    .await;
    assert_eq!(rx.hits().len(), 1, "no retry after 410");
}

#[tokio::test]
async fn pause_holds_deliveries_and_resume_sends_them() {
    let app = app().await;
    let rx = Receiver::start().await;
    let org = app.org("Paused").await;
    let ws = app.workspace(&org, "w").await;
    let hook = subscribe(&app, &org.admin, &rx).await;
    let id = hook["id"].as_str().unwrap().to_string();
    let p = app
        .post(
            &format!("/api/v2/webhooks/{id}/pause"),
            Some(&org.admin),
            &json!({}),
        )
        .await;
    assert_eq!(p.data()["status"], "Paused");
    for i in 0..3 {
        ingest(&app, &org.admin, ws, &format!("P-{i}"), "held").await;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(rx.hits().is_empty(), "paused: nothing sent");
    assert_eq!(
        app.state.store().system().queued_jobs(None).await.unwrap(),
        3,
        "but queued"
    );
    let r = app
        .post(
            &format!("/api/v2/webhooks/{id}/resume"),
            Some(&org.admin),
            &json!({}),
        )
        .await;
    assert_eq!(r.data()["status"], "Active");
    let hits = rx.wait_for(3, Duration::from_secs(10)).await;
    let ids: HashSet<String> = hits
        .iter()
        .map(|h| h.json()["data"]["incidentId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        ids,
        HashSet::from(["P-0".into(), "P-1".into(), "P-2".into()])
    );
}

#[tokio::test]
async fn workspace_and_account_filters_narrow_deliveries() {
    let app = app().await;
    let rx = Receiver::start().await;
    let org = app.org("Filters").await;
    let ws1 = app.workspace(&org, "one").await;
    let ws2 = app.workspace(&org, "two").await;
    create(&app, &org.admin, json!({"name": "ws1", "url": rx.url("/ws1"), "eventTypes": ["incident.created"], "workspaceId": ws1})).await;
    let other_account = Uuid::new_v4();
    let acct = app
        .post(
            "/api/v2/accounts",
            Some(&org.admin),
            &json!({"name": "Customer"}),
        )
        .await;
    let customer = acct.data()["id"].as_str().unwrap().to_string();
    let _ = other_account;
    create(&app, &org.admin, json!({"name": "acct", "url": rx.url("/acct"), "eventTypes": ["incident.created"], "monitoredAccountIds": [customer]})).await;
    create(
        &app,
        &org.admin,
        json!({"name": "updates", "url": rx.url("/upd"), "eventTypes": ["incident.updated"]}),
    )
    .await;
    ingest(&app, &org.admin, ws2, "X-2", "two").await;
    ingest(&app, &org.admin, ws1, "X-1", "one").await;
    let hits = rx.wait_for(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let hits_now = rx.hits();
    assert_eq!(hits_now.len(), 1, "only the ws1 webhook matches: {hits:?}");
    assert_eq!(hits_now[0].json()["data"]["incidentId"], "X-1");
}

#[tokio::test]
async fn test_events_and_redelivery() {
    let app = app().await;
    let rx = Receiver::start().await;
    let org = app.org("Test").await;
    let ws = app.workspace(&org, "w").await;
    let hook = create(&app, &org.admin, json!({"name": "r", "url": rx.url("/"), "eventTypes": ["incident.created"],
                                               "authenticationType": "Basic", "username": "u", "password": "p@ss"}))
        .await;
    let id = hook["id"].as_str().unwrap().to_string();
    let t = app
        .post(
            &format!("/api/v2/webhooks/{id}/test"),
            Some(&org.admin),
            &json!({}),
        )
        .await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert_eq!(t.data()["isTest"], true);
    assert_eq!(t.data()["success"], true);
    assert_eq!(t.data()["requestHeaders"]["Authorization"], "Basic ****");
    let h = &rx.hits()[0];
    assert_eq!(h.header("x-cf-test"), Some("true"));
    assert_eq!(h.json()["isTest"], true);
    assert_eq!(
        h.header("authorization"),
        Some(
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("u:p@ss")
            )
            .as_str()
        )
    );
    assert!(!t.text.contains("p@ss"));

    // Redeliver a real event: same event id and body, new log linked to the original.
    ingest(&app, &org.admin, ws, "D-1", "again").await;
    rx.wait_for(2, Duration::from_secs(10)).await;
    let original = wait_for("the event's log", || async {
        logs(&app, &org.admin, &id)
            .await
            .into_iter()
            .find(|l| l["isTest"] == false)
    })
    .await;
    let log_id = original["id"].as_str().unwrap();
    let created = urlencode(original["createdAt"].as_str().unwrap());
    let r = app
        .post(
            &format!("/api/v2/webhooks/{id}/delivery-logs/{log_id}/redeliver?createdAt={created}"),
            Some(&org.admin),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.data()["status"], "Pending");
    assert_eq!(r.data()["originalDeliveryId"], log_id);
    assert!(r.data()["redeliveryRequestedAt"].is_string());
    let new_id = r.data()["id"].as_str().unwrap().to_string();
    let new_created = urlencode(r.data()["createdAt"].as_str().unwrap());
    let hits = rx.wait_for(3, Duration::from_secs(10)).await;
    assert_eq!(hits[2].event_id(), hits[1].event_id());
    assert_eq!(hits[2].body, hits[1].body);
    wait_until("the redelivery completes its log", || async {
        let l = app
            .get(
                &format!("/api/v2/webhooks/{id}/delivery-logs/{new_id}?createdAt={new_created}"),
                Some(&org.admin),
            )
            .await;
        l.data()["status"] == "Succeeded"
    })
    .await;
    let orig = app
        .get(
            &format!("/api/v2/webhooks/{id}/delivery-logs/{log_id}?createdAt={created}"),
            Some(&org.admin),
        )
        .await;
    assert_eq!(orig.data()["redelivered"], true);
    app.post(
        &format!(
            "/api/v2/webhooks/{id}/delivery-logs/{}/redeliver?createdAt={created}",
            Uuid::new_v4()
        ),
        Some(&org.admin),
        &json!({}),
    )
    .await
    .assert_problem(404, "NOT_FOUND");
}

#[tokio::test]
async fn delivery_logs_page_with_sealed_tokens() {
    let app = app().await;
    let rx = Receiver::start().await;
    let org = app.org("Pages").await;
    let hook = subscribe(&app, &org.admin, &rx).await;
    let id = hook["id"].as_str().unwrap().to_string();
    for _ in 0..23 {
        assert_eq!(
            app.post(
                &format!("/api/v2/webhooks/{id}/test"),
                Some(&org.admin),
                &json!({})
            )
            .await
            .status,
            200
        );
    }
    let base = format!("/api/v2/webhooks/{id}/delivery-logs?pageSize=10");
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &token {
            None => base.clone(),
            Some(t) => format!("{base}&continuationToken={t}"),
        };
        let r = app.get(&path, Some(&org.admin)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        pages += 1;
        for item in r.data()["items"].as_array().unwrap() {
            seen.push((
                item["createdAt"].as_str().unwrap().to_string(),
                item["id"].as_str().unwrap().to_string(),
            ));
        }
        if r.data()["hasMore"] == false {
            assert_eq!(r.data()["continuationToken"], Value::Null);
            break;
        }
        token = Some(r.data()["continuationToken"].as_str().unwrap().to_string());
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 23);
    assert_eq!(
        seen.iter().map(|s| &s.1).collect::<HashSet<_>>().len(),
        23,
        "no duplicates"
    );
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(
        seen.iter().map(|s| &s.0).collect::<Vec<_>>(),
        sorted.iter().map(|s| &s.0).collect::<Vec<_>>(),
        "newest first"
    );

    let first = app.get(&base, Some(&org.admin)).await;
    let t = first.data()["continuationToken"]
        .as_str()
        .unwrap()
        .to_string();
    let mut tampered = t.clone().into_bytes();
    tampered[5] = if tampered[5] == b'A' { b'B' } else { b'A' };
    for bad in [
        String::from_utf8(tampered).unwrap(),
        t[..t.len() - 3].to_string(),
        format!("{t}x"),
    ] {
        app.get(&format!("{base}&continuationToken={bad}"), Some(&org.admin))
            .await
            .assert_problem(400, "VALIDATION_ERROR");
    }
    // The same token with other filters is refused.
    app.get(
        &format!("{base}&from=2020-01-01T00:00:00Z&continuationToken={t}"),
        Some(&org.admin),
    )
    .await
    .assert_problem(400, "VALIDATION_ERROR");
    // pageSize is required and bounded; from/to validated.
    for q in [
        "",
        "?pageSize=0",
        "?pageSize=101",
        "?pageSize=x",
        "?pageSize=5&from=yesterday",
    ] {
        app.get(
            &format!("/api/v2/webhooks/{id}/delivery-logs{q}"),
            Some(&org.admin),
        )
        .await
        .assert_problem(400, "VALIDATION_ERROR");
    }
    // A window in the past is empty.
    let r = app
        .get(&format!("{base}&to=2020-01-01T00:00:00Z"), Some(&org.admin))
        .await;
    assert_eq!(r.data()["items"], json!([]));
}

#[tokio::test]
async fn two_replicas_deliver_each_event_exactly_once() {
    let app = TestApp::spawn_with(|c| {
        deliveries(c);
        c.database_max_connections = 8;
    })
    .await;
    let replica = app.replica().await;
    let rx = Receiver::start().await;
    let org = app.org("Replicas").await;
    let ws = app.workspace(&org, "w").await;
    subscribe(&app, &org.admin, &rx).await;
    // 1,000 events, written through both replicas.
    for batch in 0..10 {
        let incidents: Vec<Value> = (0..100)
            .map(|i| json!({"id": format!("T-{batch}-{i}"), "title": "t", "severity": "Low"}))
            .collect();
        let base = if batch % 2 == 0 {
            app.addr
        } else {
            replica.addr
        };
        let r = reqwest::Client::new()
            .post(format!(
                "http://{base}/api/v2/workspaces/{ws}/incidents/QRadar/ingest"
            ))
            .header("authorization", org.admin.header())
            .json(&json!({"incidents": incidents}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let hits = rx.wait_for(1000, Duration::from_secs(60)).await;
    // Let any duplicate arrive.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let hits_after = rx.hits();
    assert_eq!(
        hits_after.len(),
        1000,
        "exactly once: {} deliveries",
        hits_after.len()
    );
    let mut per_event: HashMap<String, usize> = HashMap::new();
    for h in &hits {
        *per_event.entry(h.event_id()).or_default() += 1;
    }
    assert_eq!(per_event.len(), 1000);
    assert!(per_event.values().all(|n| *n == 1));
    assert_eq!(
        app.state.store().system().queued_jobs(None).await.unwrap(),
        0
    );
    assert_eq!(
        app.state
            .store()
            .system()
            .undispatched_events()
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn deleting_a_webhook_mid_delivery_loses_nothing_else() {
    let app = app().await;
    let slow = Receiver::with_plan(|_, _| Reply::ok().after(Duration::from_millis(400))).await;
    // Both answer after the same delay, so both outcomes are recorded in one batch.
    let fast = Receiver::with_plan(|_, _| Reply::ok().after(Duration::from_millis(400))).await;
    let org = app.org("Deleted").await;
    let ws = app.workspace(&org, "w").await;
    let hook = create(
        &app,
        &org.admin,
        json!({"name": "slow", "url": slow.url("/"), "eventTypes": ["incident.created"]}),
    )
    .await;
    let kept = create(
        &app,
        &org.admin,
        json!({"name": "fast", "url": fast.url("/"), "eventTypes": ["incident.created"]}),
    )
    .await;
    let kept = kept["id"].as_str().unwrap().to_string();
    ingest(&app, &org.admin, ws, "Z-1", "in flight").await;
    slow.wait_for(1, Duration::from_secs(10)).await;
    // Deleted while its delivery is in flight; the other webhook's delivery is recorded in
    // the same batch and must not be lost with it.
    let id = hook["id"].as_str().unwrap();
    assert_eq!(
        app.delete(&format!("/api/v2/webhooks/{id}"), Some(&org.admin))
            .await
            .status,
        200
    );
    fast.wait_for(1, Duration::from_secs(10)).await;
    // The kept webhook's delivery is recorded promptly, not dropped with the deleted one's.
    let started = Instant::now();
    wait_for("the kept webhook's log", || async {
        let items = logs(&app, &org.admin, &kept).await;
        (!items.is_empty()).then_some(())
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "recorded after {:?}",
        started.elapsed()
    );
    ingest(&app, &org.admin, ws, "Z-2", "after").await;
    let hits = fast.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(hits[1].json()["data"]["incidentId"], "Z-2");
    wait_until("the queue to drain", || async {
        app.state.store().system().queued_jobs(None).await.unwrap() == 0
    })
    .await;
    assert_eq!(slow.hits().len(), 1, "a deleted webhook gets nothing more");
    assert_eq!(fast.hits().len(), 2, "no redelivery of a recorded delivery");
}

#[tokio::test]
async fn a_slow_receiver_does_not_starve_the_others() {
    let app = TestApp::spawn_with(|c| {
        deliveries(c);
        c.webhooks.timeout_secs = 5;
        c.webhooks.lease_secs = 30;
        c.webhooks.max_in_flight = 8;
        c.webhooks.max_in_flight_per_webhook = 4;
    })
    .await;
    let slow = Receiver::with_plan(|_, _| Reply::ok().after(Duration::from_secs(2))).await;
    let fast = Receiver::start().await;
    let org = app.org("Fair").await;
    let ws_slow = app.workspace(&org, "slow").await;
    let ws_fast = app.workspace(&org, "fast").await;
    create(&app, &org.admin, json!({"name": "slow", "url": slow.url("/"), "eventTypes": ["incident.created"], "workspaceId": ws_slow})).await;
    create(&app, &org.admin, json!({"name": "fast", "url": fast.url("/"), "eventTypes": ["incident.created"], "workspaceId": ws_fast})).await;
    // A backlog for the slow receiver first (older jobs are claimed first), then the fast one's.
    let batch = |prefix: &str| -> Value {
        json!({"incidents": (0..40).map(|i| json!({"id": format!("{prefix}-{i}"), "title": "t", "severity": "Low"})).collect::<Vec<_>>()})
    };
    assert_eq!(
        app.post(
            &format!("/api/v2/workspaces/{ws_slow}/incidents/Splunk/ingest"),
            Some(&org.admin),
            &batch("S")
        )
        .await
        .status,
        200
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t0 = Instant::now();
    assert_eq!(
        app.post(
            &format!("/api/v2/workspaces/{ws_fast}/incidents/Splunk/ingest"),
            Some(&org.admin),
            &batch("F")
        )
        .await
        .status,
        200
    );
    fast.wait_for(40, Duration::from_secs(5)).await;
    let took = t0.elapsed();
    // The slow receiver holds at most its 4 slots; at 2 s per delivery its 40 take 20 s.
    assert!(
        took < Duration::from_secs(3),
        "the fast receiver waited {took:?} behind the slow one"
    );
    assert!(
        slow.hits().len() <= 8,
        "the slow receiver got {} at once",
        slow.hits().len()
    );
}

#[tokio::test]
async fn retention_purges_old_logs_only() {
    let app = app().await;
    let rx = Receiver::start().await;
    let org = app.org("Retention").await;
    let hook = subscribe(&app, &org.admin, &rx).await;
    let id = hook["id"].as_str().unwrap().to_string();
    app.post(
        &format!("/api/v2/webhooks/{id}/test"),
        Some(&org.admin),
        &json!({}),
    )
    .await;
    let store = app.state.store();
    let now = palisade_domain::time::to_micros(chrono::Utc::now());
    // A cutoff a day ago keeps today's log; a cutoff after it removes it.
    assert_eq!(
        store
            .system()
            .purge_webhook_history(now - 86_400_000_000)
            .await
            .unwrap(),
        0
    );
    assert_eq!(logs(&app, &org.admin, &id).await.len(), 1);
    assert_eq!(
        store
            .system()
            .purge_webhook_history(now + 1_000_000)
            .await
            .unwrap(),
        1
    );
    assert!(logs(&app, &org.admin, &id).await.is_empty());
}

#[tokio::test]
async fn timeouts_fail_and_redirects_are_not_followed() {
    let app = TestApp::spawn_with(|c| {
        deliveries(c);
        c.webhooks.timeout_secs = 1;
        c.webhooks.lease_secs = 6;
        c.webhooks.retry_schedule_secs = vec![0, 0];
    })
    .await;
    let elsewhere = Receiver::start().await;
    let target = elsewhere.url("/moved");
    // First too slow, then a redirect, then a success.
    let rx = Receiver::with_plan(move |n, _| match n {
        0 => Reply::ok().after(Duration::from_secs(3)),
        1 => Reply::status(302).with_header("Location", &target),
        _ => Reply::ok(),
    })
    .await;
    let org = app.org("Slow").await;
    let ws = app.workspace(&org, "w").await;
    let hook = subscribe(&app, &org.admin, &rx).await;
    ingest(&app, &org.admin, ws, "T-1", "slow").await;
    rx.wait_for(3, Duration::from_secs(15)).await;
    let id = hook["id"].as_str().unwrap();
    let mut items = wait_for("three logs", || async {
        let items = logs(&app, &org.admin, id).await;
        (items.len() == 3).then_some(items)
    })
    .await;
    items.sort_by_key(|l| l["attemptNumber"].as_i64());
    assert_eq!(items[0]["httpStatusCode"], Value::Null);
    assert!(
        items[0]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("timeout"),
        "{}",
        items[0]
    );
    assert!(items[0]["latencyMs"].as_u64().unwrap() < 2500);
    assert_eq!(items[1]["httpStatusCode"], 302);
    assert_eq!(items[1]["success"], false);
    assert_eq!(items[2]["success"], true);
    assert!(elsewhere.hits().is_empty(), "the redirect was not followed");
}

/// What the server logs while a test runs on this thread (the current-thread runtime polls the
/// app, its workers and the receiver here).
#[derive(Clone, Default)]
struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn capture(&self) -> tracing::subscriber::DefaultGuard {
        let logs = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || logs.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::WARN)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Issue 16, item 15: a failed delivery, an abandoned event and a disabled webhook each log a
/// warning naming their ids; `/metrics` counts deliveries by outcome and the delivery jobs.
#[tokio::test]
async fn delivery_outcomes_are_logged_and_counted() {
    let logs = Logs::default();
    let _guard = logs.capture();
    let (app, rx, org, ws, id) = failing_webhook("Counted", "C").await;
    wait_until("auto-disable", || async {
        let w = app
            .get(&format!("/api/v2/webhooks/{id}"), Some(&org.admin))
            .await;
        w.data()["status"] == "Disabled"
    })
    .await;
    let metric = |text: &str, name: &str| -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    };
    let kind = "kind=\"webhook.delivery\"";
    let text = app.get("/metrics", None).await.text;
    let outcome = |o: &str| format!("palisade_job_outcomes_total{{{kind},outcome=\"{o}\"}}");
    assert_eq!(metric(&text, &outcome("failed")), Some(2.0), "{text}");
    assert_eq!(metric(&text, &outcome("abandoned")), Some(2.0), "{text}");
    let jobs = |o: &str| format!("palisade_jobs_total{{{kind},outcome=\"{o}\"}}");
    assert_eq!(metric(&text, &jobs("dead")), Some(2.0), "{text}");
    assert_eq!(metric(&text, &jobs("retried")), Some(2.0), "{text}");
    let dead = format!("palisade_jobs_dead{{{kind}}}");
    assert_eq!(metric(&text, &dead), Some(2.0), "{text}");
    assert!(metric(
        &text,
        &format!("palisade_jobs_oldest_age_seconds{{{kind}}}")
    )
    .is_some());

    let log = logs.text();
    let lines = |what: &str| log.lines().filter(|l| l.contains(what)).count();
    assert_eq!(lines("webhook delivery failed"), 4, "{log}");
    assert_eq!(lines("webhook event abandoned"), 2, "{log}");
    assert!(log
        .lines()
        .any(|l| l.contains("webhook disabled") && l.contains(&id)));
    assert!(log
        .lines()
        .filter(|l| l.contains("abandoned"))
        .all(|l| l.contains(&id) && l.contains("event=") && l.contains("delivery=")));

    // Delivered once the receiver recovers.
    rx.set_plan(|_, _| Reply::ok());
    let path = format!("/api/v2/webhooks/{id}/enable");
    assert_eq!(
        app.post(&path, Some(&org.admin), &json!({})).await.status,
        200
    );
    ingest(&app, &org.admin, ws, "C-3", "three").await;
    rx.wait_for(5, Duration::from_secs(10)).await;
    wait_until("the delivery to be counted", || async {
        let text = app.get("/metrics", None).await.text;
        metric(&text, &outcome("delivered")) == Some(1.0)
    })
    .await;
}
