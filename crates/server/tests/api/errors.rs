//! Every error code of DESIGN §3 this server can produce, with its status, content type and
//! fields.

use palisade_test_utils::{Cred, TestApp};
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn validation_error_carries_the_errors_map() {
    let app = TestApp::spawn().await;
    let org = app.org("Errors").await;
    let r = app
        .post(
            "/api/v2/service-accounts",
            Some(&org.admin),
            &json!({"name": "", "description": "x".repeat(1001), "scopes": ["nope:read"]}),
        )
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    let errors = r.json["errors"].as_object().expect("errors map");
    assert!(errors.contains_key("name"), "{}", r.text);
    assert!(errors.contains_key("description"));
    assert!(errors.contains_key("scopes[0]"));
    assert!(errors["scopes[0]"][0]
        .as_str()
        .unwrap()
        .contains("nope:read"));
    assert_eq!(r.json["title"], "Validation failed");

    // A wrong JSON type is a validation error at its path, not a 5xx.
    let r = app
        .post(
            "/api/v2/service-accounts",
            Some(&org.admin),
            &json!({"name": 5}),
        )
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    assert!(r.json["errors"]["name"].is_array(), "{}", r.text);
}

#[tokio::test]
async fn bad_request_unsupported_media_type_and_payload_too_large() {
    let app = TestApp::spawn_with(|c| c.max_body_bytes = 4096).await;
    let org = app.org("Errors").await;
    let post = |content_type: Option<&'static str>, body: Vec<u8>| {
        app.send_raw(
            Method::POST,
            "/api/v2/accounts",
            Some(&org.admin),
            content_type,
            body,
        )
    };
    let json = Some("application/json");
    post(json, b"{\"name\":".to_vec())
        .await
        .assert_problem(400, "BAD_REQUEST");
    post(Some("text/plain"), b"{}".to_vec())
        .await
        .assert_problem(415, "UNSUPPORTED_MEDIA_TYPE");
    post(None, b"{}".to_vec())
        .await
        .assert_problem(415, "UNSUPPORTED_MEDIA_TYPE");
    let big = format!("{{\"name\":\"{}\"}}", "a".repeat(5000));
    let r = post(json, big.into_bytes()).await;
    r.assert_problem(413, "PAYLOAD_TOO_LARGE");
    // Nothing was created by the rejected requests.
    let r = app.get("/api/v2/accounts", Some(&org.admin)).await;
    assert_eq!(r.data().as_array().unwrap().len(), 1, "{}", r.text);
}

#[tokio::test]
async fn unauthorized_has_www_authenticate() {
    let app = TestApp::spawn().await;
    let r = app.get("/api/v2/service-accounts", None).await;
    r.assert_problem(401, "UNAUTHORIZED");
    assert!(r.header("www-authenticate").unwrap().starts_with("Basic"));
    let bogus = Cred {
        client_id: Uuid::new_v4(),
        secret: "cf_sa_nope".into(),
    };
    let r = app.get("/api/v2/service-accounts", Some(&bogus)).await;
    r.assert_problem(401, "UNAUTHORIZED");
    assert!(r.header("www-authenticate").is_some());
    let r = app
        .send_raw(Method::GET, "/api/v2/service-accounts", None, None, vec![])
        .await;
    r.assert_problem(401, "UNAUTHORIZED");
}

#[tokio::test]
async fn forbidden_codes_name_the_scope_and_the_workspace() {
    let app = TestApp::spawn().await;
    let org = app.org("Errors").await;
    let ws = app.workspace(&org, "W").await;
    let (reader, _) = app
        .service_account(
            &org.admin,
            &json!({"name": "reader", "scopes": ["org:users:read", "org:workspaces:read"]}),
        )
        .await;
    let r = app.get("/api/v2/service-accounts", Some(&reader)).await;
    r.assert_problem(403, "INSUFFICIENT_SCOPE");
    assert_eq!(r.json["target"], "org:service-accounts:read");
    assert!(r.json["detail"]
        .as_str()
        .unwrap()
        .contains("org:service-accounts:read"));

    let r = app
        .get(&format!("/api/v2/workspaces/{ws}"), Some(&reader))
        .await;
    r.assert_problem(403, "INSUFFICIENT_WORKSPACE_ROLE");
    assert_eq!(r.json["target"], ws.to_string());
}

#[tokio::test]
async fn not_found_method_not_allowed_and_conflict() {
    let app = TestApp::spawn().await;
    let org = app.org("Errors").await;
    let r = app
        .get(
            &format!("/api/v2/service-accounts/{}", Uuid::new_v4()),
            Some(&org.admin),
        )
        .await;
    r.assert_problem(404, "NOT_FOUND");
    let r = app
        .get("/api/v2/service-accounts/not-a-guid", Some(&org.admin))
        .await;
    r.assert_problem(404, "NOT_FOUND");
    let r = app.get("/api/v2/no/such/route", None).await;
    r.assert_problem(404, "NOT_FOUND");
    assert_eq!(r.json["instance"], "/api/v2/no/such/route");

    let r = app
        .send(Method::PATCH, "/api/v2/users", Some(&org.admin), None)
        .await;
    r.assert_problem(405, "METHOD_NOT_ALLOWED");
    assert!(r.header("allow").unwrap().contains("GET"));

    let body = json!({"users": [{"displayName": "A", "email": "dup@example.com"}]});
    assert_eq!(
        app.post("/api/v2/users", Some(&org.admin), &body)
            .await
            .status,
        201
    );
    let r = app.post("/api/v2/users", Some(&org.admin), &body).await;
    r.assert_problem(409, "CONFLICT");
}

#[tokio::test]
async fn rate_limited_has_retry_after() {
    let app = TestApp::spawn_with(|c| c.auth.max_failures_per_client = 2).await;
    let org = app.org("Errors").await;
    let wrong = Cred {
        client_id: org.admin.client_id,
        secret: "cf_sa_wrong".into(),
    };
    for _ in 0..2 {
        app.get("/api/v2/users", Some(&wrong))
            .await
            .assert_problem(401, "UNAUTHORIZED");
    }
    let r = app.get("/api/v2/users", Some(&wrong)).await;
    r.assert_problem(429, "RATE_LIMITED");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=61).contains(&retry), "{retry}");
    // While limited, even the right secret is refused for that client id from this address...
    app.get("/api/v2/users", Some(&org.admin))
        .await
        .assert_problem(429, "RATE_LIMITED");
    // ...but other clients are unaffected.
    let other = app.org("Other").await;
    assert_eq!(
        app.get("/api/v2/users", Some(&other.admin)).await.status,
        200
    );
}

#[tokio::test]
async fn rate_limited_per_peer_address() {
    let app = TestApp::spawn_with(|c| c.auth.max_failures_per_address = 3).await;
    let org = app.org("Errors").await;
    for _ in 0..3 {
        let random = Cred {
            client_id: Uuid::new_v4(),
            secret: "cf_sa_guess".into(),
        };
        app.get("/api/v2/users", Some(&random))
            .await
            .assert_problem(401, "UNAUTHORIZED");
    }
    let r = app.get("/api/v2/users", Some(&org.admin)).await;
    r.assert_problem(429, "RATE_LIMITED");
    assert!(r.header("retry-after").is_some());
}

#[tokio::test]
async fn service_unavailable_when_the_database_is_unreachable() {
    let app = TestApp::spawn().await;
    let org = app.org("Errors").await;
    app.state.store().close().await;
    let r = app.get("/readyz", None).await;
    r.assert_problem(503, "SERVICE_UNAVAILABLE");
    assert!(r.header("retry-after").is_some());
    let r = app.get("/api/v2/users", Some(&org.admin)).await;
    assert!(
        r.status == 503 && r.code() == "SERVICE_UNAVAILABLE",
        "{}",
        r.text
    );
}

#[tokio::test]
async fn internal_error_hides_its_cause() {
    let app = TestApp::spawn().await;
    let org = app.org("Errors").await;
    // Break the schema underneath the running server: the failure is unexpected, so it is a
    // 500 whose body says nothing about the cause.
    app.db.execute("DROP TABLE users").await;
    let r = app.get("/api/v2/users", Some(&org.admin)).await;
    r.assert_problem(500, "INTERNAL_ERROR");
    let detail = r.json["detail"].as_str().unwrap();
    assert!(
        detail.contains(r.header("x-request-id").unwrap()),
        "{detail}"
    );
    for field in ["detail", "title"] {
        let v = r.json[field].as_str().unwrap().to_lowercase();
        assert!(
            !v.contains("table") && !v.contains("sql") && !v.contains("users"),
            "{}",
            r.text
        );
    }
    assert!(r.json.get("errors").is_none());
}

/// `GET path` with `cred`, sent from the loopback address `from` (127.0.0.0/8 is all loopback).
async fn get_from(app: &TestApp, from: &str, path: &str, cred: &Cred) -> palisade_test_utils::Resp {
    let client = reqwest::Client::builder()
        .local_address(from.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let r = client
        .get(app.url(path))
        .header("authorization", cred.header())
        .send()
        .await
        .expect("request sent");
    TestApp::read(r).await
}

/// The value of an unlabelled metric line `name value` (0 when absent).
fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0)
}

/// Client ids are not secret: wrong secrets from one address throttle that address (and that
/// client id from that address), never the integration holding the right secret elsewhere.
#[tokio::test]
async fn a_known_client_id_cannot_lock_its_integration_out() {
    let app = TestApp::spawn_with(|c| {
        c.auth.max_failures_per_client = 3;
        c.auth.max_failures_per_address = 6;
    })
    .await;
    let org = app.org("Lockout").await;
    let wrong = Cred {
        client_id: org.admin.client_id,
        secret: "cf_sa_wrong".into(),
    };
    let (attacker, integration, other) = ("127.0.0.2", "127.0.0.1", "127.0.0.3");
    for _ in 0..3 {
        get_from(&app, attacker, "/api/v2/users", &wrong)
            .await
            .assert_problem(401, "UNAUTHORIZED");
    }
    let r = get_from(&app, attacker, "/api/v2/users", &wrong).await;
    r.assert_problem(429, "RATE_LIMITED");
    assert!(r.header("retry-after").is_some());
    // From the throttled address, the client id is refused before any secret is checked,
    // the right one included.
    get_from(&app, attacker, "/api/v2/users", &org.admin)
        .await
        .assert_problem(429, "RATE_LIMITED");
    // The integration's own address is unaffected, many times over.
    for _ in 0..5 {
        let r = get_from(&app, integration, "/api/v2/users", &org.admin).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    // A wrong secret from a third address is an ordinary 401 (its own count).
    get_from(&app, other, "/api/v2/users", &wrong)
        .await
        .assert_problem(401, "UNAUTHORIZED");

    // Per address: guesses at many client ids from one address throttle that address for
    // every client id, and no other address. With the wrong secret above, three guesses make
    // this address's 4th failure (the limit is 6; the attacker's address holds its own 3).
    let guess = || Cred {
        client_id: Uuid::new_v4(),
        secret: "cf_sa_guess".into(),
    };
    for _ in 0..3 {
        get_from(&app, other, "/api/v2/users", &guess())
            .await
            .assert_problem(401, "UNAUTHORIZED");
    }
    // Two more reach the limit.
    for _ in 0..2 {
        get_from(&app, other, "/api/v2/users", &guess()).await;
    }
    get_from(&app, other, "/api/v2/users", &org.admin)
        .await
        .assert_problem(429, "RATE_LIMITED");
    let r = get_from(&app, integration, "/api/v2/users", &org.admin).await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Failures and throttles are counted.
    let text = app.get("/metrics", None).await.text;
    assert_eq!(
        metric(&text, "palisade_auth_failures_total"),
        3 + 6,
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "palisade_auth_throttles_total{limit=\"client_address\"}"
        ),
        1,
        "{text}"
    );
    assert_eq!(
        metric(&text, "palisade_auth_throttles_total{limit=\"address\"}"),
        1,
        "{text}"
    );
    assert_eq!(
        metric(&text, "palisade_auth_rate_limited_total"),
        3,
        "{text}"
    );
}
