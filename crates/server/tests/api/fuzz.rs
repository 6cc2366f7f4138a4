//! No malformed body yields a 5xx: wrong types, huge strings, unknown enum values, invalid
//! UTF-8, deep nesting, nulls and odd shapes, against every route that takes a body.

use palisade_server::http::registry::{Access, RouteInfo};
use palisade_test_utils::{Resp, TestApp, TestOrg};
use serde_json::json;
use uuid::Uuid;

fn bodies() -> Vec<(&'static str, Vec<u8>)> {
    let deep_array = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let deep_object = format!("{}1{}", "{\"a\":".repeat(3000), "}".repeat(3000));
    let huge = "x".repeat(200_000);
    let mut cases: Vec<(&'static str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("null", b"null".to_vec()),
        ("number", b"42".to_vec()),
        ("string", b"\"hello\"".to_vec()),
        ("array", b"[1,2,3]".to_vec()),
        ("truncated", b"{\"name\": \"a".to_vec()),
        (
            "invalid utf-8",
            vec![b'{', b'"', b'n', b'"', b':', b'"', 0xff, 0xfe, b'"', b'}'],
        ),
        ("lone surrogate", br#"{"name":"\ud800"}"#.to_vec()),
        ("deep array", deep_array.into_bytes()),
        ("deep object", deep_object.into_bytes()),
        ("nul bytes", b"{\"name\":\"a\\u0000b\"}".to_vec()),
        ("huge number", b"{\"name\": 1e999999}".to_vec()),
        ("duplicate keys", br#"{"name":"a","name":"b"}"#.to_vec()),
    ];
    let shaped = [
        json!({"name": 1, "description": [], "scopes": "incidents:read", "workspaceAssignments": {}}),
        json!({"name": "ok", "scopes": [1, null, {}], "expirationDate": 12}),
        json!({"name": "ok", "scopes": ["incidents:read"], "organizationalRole": "Emperor", "expirationDate": "not a date"}),
        json!({"name": "ok", "scopes": ["incidents:read"], "workspaceAssignments": [{"workspaceId": "x", "role": "God"}]}),
        json!({"name": "ok", "scopes": ["incidents:read"], "workspaceAssignments": [null, 5, {"workspaceId": Uuid::nil()}]}),
        json!({"name": huge, "description": huge, "displayName": huge, "email": huge}),
        json!({"users": [{"displayName": null, "email": "not-an-email", "organizationalRole": 7}], "assignToWorkspace": "yes"}),
        json!({"users": "everyone", "workspaceId": [], "role": {}}),
        json!({"userId": "x", "organizationalRole": "Root", "userIds": [1, 2], "accountId": -1, "role": "X"}),
        json!({"userId": Uuid::new_v4(), "organizationalRole": null, "accountId": Uuid::new_v4(), "query": null}),
        json!({"accountId": Uuid::nil(), "query": "a".repeat(10_000), "role": "Analyst"}),
        json!({"scopes": [], "expirationDate": "2999-01-01T00:00:00Z"}),
        json!({"expirationDate": "1999-01-01T00:00:00Z"}),
        json!({"name": "\u{202e}\u{0007}bell", "accountId": "00000000-0000-0000-0000-000000000000"}),
        json!({"name": " ", "accountId": null}),
    ];
    for v in shaped {
        cases.push(("shaped", serde_json::to_vec(&v).unwrap()));
    }
    cases
}

/// A path of a route that takes a body: the test's workspace, its admin service account for
/// `{id}`, and well-formed values elsewhere.
fn body_route_path(path: &str, ws: Uuid, sa: Uuid) -> String {
    path.replace("{workspaceId}", &ws.to_string())
        .replace("{id}", &sa.to_string())
        .replace("{credentialId}", &Uuid::new_v4().to_string())
        .replace("{source}", "Sentinel")
        .replace("{incidentId}", "INC-BODY-1")
}

/// The app with an organization and a workspace, whose admin sends raw requests.
struct Fuzzed {
    app: TestApp,
    org: TestOrg,
    ws: Uuid,
}

impl Fuzzed {
    async fn new() -> Fuzzed {
        let app = TestApp::spawn().await;
        let org = app.org("Fuzz").await;
        let ws = app.workspace(&org, "Fuzzed").await;
        Fuzzed { app, org, ws }
    }

    /// Every route that needs a credential (and, with `with_body`, takes a request body).
    fn routes(with_body: bool) -> Vec<RouteInfo> {
        let (_, table) = palisade_server::routes::api().into_parts();
        table
            .into_iter()
            .filter(|r| r.access != Access::Public && (!with_body || r.doc.request.is_some()))
            .collect()
    }

    /// A route's path with the workspace, the admin's service account and fresh ids.
    fn body_path(&self, route: &RouteInfo) -> String {
        body_route_path(route.path, self.ws, self.org.admin.client_id)
    }

    /// `route`'s method to `path` as the admin, with this content type and body.
    async fn send(&self, route: &RouteInfo, path: &str, content_type: &str, body: &[u8]) -> Resp {
        self.app
            .send_raw(
                route.method.clone(),
                path,
                Some(&self.org.admin),
                Some(content_type),
                body.to_vec(),
            )
            .await
    }
}

#[tokio::test]
async fn malformed_bodies_never_yield_a_5xx() {
    let f = Fuzzed::new().await;
    let (app, org) = (&f.app, &f.org);
    let mut sent = 0;
    for route in &Fuzzed::routes(true) {
        let path = f.body_path(route);
        for (name, body) in bodies() {
            for ct in ["application/json", "application/json; charset=utf-8"] {
                let r = f.send(route, &path, ct, &body).await;
                assert!(
                    r.status < 500,
                    "{} {} with {name} body gave {}: {}",
                    route.method,
                    route.path,
                    r.status,
                    r.text
                );
                if r.status >= 400 {
                    assert!(
                        r.content_type().starts_with("application/problem+json"),
                        "{} {} {name}: {}",
                        route.method,
                        route.path,
                        r.text
                    );
                    crate::openapi::assert_documented(route, r.status, &r.text);
                }
                sent += 1;
            }
        }
    }
    assert!(sent > 200, "{sent}");
    // The server is still healthy and the admin still works.
    assert_eq!(app.get("/readyz", None).await.status, 200);
    assert_eq!(
        app.get("/api/v2/users/profile", Some(&org.admin))
            .await
            .status,
        200
    );
}

/// Every route that takes a JSON object answers 400 `BAD_REQUEST` (DESIGN §3: "wrong shape
/// before validation") to a body of another JSON type or with data after the JSON value, and
/// changes nothing.
#[tokio::test]
async fn bodies_of_the_wrong_shape_are_bad_requests() {
    let f = Fuzzed::new().await;
    let (app, org, sa) = (&f.app, &f.org, f.org.admin.client_id);
    let wrong: [&[u8]; 8] = [
        b"\"a string\"",
        b"42",
        b"true",
        b"null",
        b"[null, null]",
        b"[]",
        b"{} xx",
        b"{\"name\":\"x\"} {}",
    ];
    let mut checked = 0;
    for route in &Fuzzed::routes(true) {
        let path = f.body_path(route);
        for body in wrong {
            let r = f.send(route, &path, "application/json", body).await;
            crate::openapi::assert_documented(route, r.status, &r.text);
            assert_eq!(
                (r.status, r.code()),
                (400, "BAD_REQUEST"),
                "{} {} with {}: {}",
                route.method,
                route.path,
                String::from_utf8_lossy(body),
                r.text
            );
            checked += 1;
        }
    }
    assert!(checked > 300, "{checked}");
    // Nothing was created: no second credential, no workspace named "x".
    let account = app
        .get(&format!("/api/v2/service-accounts/{sa}"), Some(&org.admin))
        .await;
    let creds = account.data()["credentials"].as_array().unwrap();
    assert_eq!(creds.len(), 1, "{}", account.text);
    let list = app.get("/api/v2/workspaces", Some(&org.admin)).await;
    assert_eq!(list.data().as_array().unwrap().len(), 1, "{}", list.text);
}

/// An array where a nested object is expected is refused at its path too (serde would read
/// the array's items as the object's fields in order).
#[tokio::test]
async fn nested_arrays_are_not_read_as_objects() {
    let app = TestApp::spawn().await;
    let org = app.org("Nested").await;
    let ws = app.workspace(&org, "N").await;
    let r = app
        .put(
            &format!("/api/v2/workspaces/{ws}/incidents/Sentinel/INC-1"),
            Some(&org.admin),
            &json!({"title": "t", "severity": "Low",
                    "owner": ["u-1", "someone@example.com", "Some One"]}),
        )
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    assert!(r.json["errors"]["owner"].is_array(), "{}", r.text);
    let r = app
        .put(
            &format!("/api/v2/workspaces/{ws}/incidents/Sentinel/INC-1"),
            Some(&org.admin),
            &json!({"title": "t", "severity": "Low",
                    "entities": [["h", "Host", "web-01"]]}),
        )
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    assert!(r.json["errors"]["entities[0]"].is_array(), "{}", r.text);
    // A batch item of the wrong shape is that item's failure, not the batch's.
    let r = app
        .post(
            &format!("/api/v2/workspaces/{ws}/incidents/Sentinel/ingest"),
            Some(&org.admin),
            &json!({"incidents": [["x"], "y", {"id": "OK-1", "title": "t", "severity": "Low"}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["rejected"], 2, "{}", r.text);
    assert_eq!(r.data()["created"], 1, "{}", r.text);
}

/// A value for a path parameter that the route accepts (an existing workspace, a valid
/// source, well-formed ids elsewhere).
fn path_value(param: &str, ws: Uuid) -> String {
    match param {
        "workspaceId" => ws.to_string(),
        "source" => "Sentinel".into(),
        "incidentId" | "incidentTitle" | "ruleName" | "workspaceName" | "resourceGroup"
        | "subscriptionId" => "x".into(),
        _ => Uuid::new_v4().to_string(),
    }
}

/// Every path segment of every route, percent-encoded as invalid UTF-8 (`%FF%FE`): answered
/// 400 as ProblemDetails, never a 5xx (issue 16: workspace routes answered 500).
#[tokio::test]
async fn invalid_utf8_in_any_path_segment_is_a_bad_request() {
    let f = Fuzzed::new().await;
    let mut sent = 0;
    for route in &Fuzzed::routes(false) {
        let params: Vec<&str> = route
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for bad in &params {
            let mut path = route.path.to_string();
            for p in &params {
                let value = if p == bad {
                    "%FF%FE".to_string()
                } else {
                    path_value(p, f.ws)
                };
                path = path.replace(&format!("{{{p}}}"), &value);
            }
            let r = f.send(route, &path, "application/json", b"{}").await;
            crate::openapi::assert_documented(route, r.status, &r.text);
            assert_eq!(
                r.status, 400,
                "{} {} with {{{bad}}} = %FF%FE gave {}: {}",
                route.method, route.path, r.status, r.text
            );
            assert!(
                r.content_type().starts_with("application/problem+json"),
                "{} {}: {}",
                route.method,
                route.path,
                r.text
            );
            sent += 1;
        }
    }
    assert!(sent > 100, "{sent}");
}
