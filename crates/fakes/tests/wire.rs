//! The fakes refuse what the real services refuse, so that a client bug shows in tests.

use palisade_fakes::{
    FakeEntra, FakeGraph, FakeSentinel, GraphSeed, SentinelSeed, SentinelWorkspace,
};
use serde_json::{json, Value};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT: &str = "3f1c2a9e-5b7d-4e8f-9a0b-1c2d3e4f5a6b";

async fn token(entra: &FakeEntra, resource: &str, secret: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/{TENANT}/oauth2/v2.0/token", entra.authority()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT),
            ("client_secret", secret),
            ("scope", &format!("{resource}/.default")),
        ])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn call(
    method: reqwest::Method,
    url: &str,
    bearer: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(bearer);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn sentinel_enforces_its_contract() {
    let entra = FakeEntra::start(TENANT, CLIENT, "s3cret").await;
    let fake = FakeSentinel::start(&entra, SentinelWorkspace::default()).await;
    let (status, body) = token(&entra, &fake.base(), "wrong").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, body) = token(&entra, "http://elsewhere", "s3cret").await;
    assert_eq!(status, 200);
    let other_audience = body["access_token"].as_str().unwrap().to_string();
    let (_, body) = token(&entra, &fake.base(), "s3cret").await;
    let t = body["access_token"].as_str().unwrap().to_string();
    assert_eq!(body["token_type"], "Bearer");
    let name = fake.add(SentinelSeed::new("x", "Low"));
    let w = fake.workspace();
    let base = format!("{}/subscriptions/{}/resourceGroups/{}/providers/Microsoft.OperationalInsights/workspaces/{}/providers/Microsoft.SecurityInsights/incidents", fake.base(), w.subscription_id, w.resource_group, w.workspace_name);
    let v = "?api-version=2024-03-01";
    use reqwest::Method as M;
    assert_eq!(
        call(M::GET, &format!("{base}{v}"), &other_audience, None)
            .await
            .0,
        401
    );
    assert_eq!(
        call(M::GET, &base, &t, None).await.1["error"]["code"],
        "MissingApiVersionParameter"
    );
    let bad_filter =
        format!("{base}{v}&$filter=properties/lastModifiedTimeUtc ge '2024-01-01T00:00:00Z'");
    assert_eq!(call(M::GET, &bad_filter, &t, None).await.0, 400);
    assert_eq!(
        call(M::GET, &format!("{base}{v}&$top=1001"), &t, None)
            .await
            .0,
        400
    );
    let (_, inc) = call(M::GET, &format!("{base}/{name}{v}"), &t, None).await;
    let props = inc["properties"].clone();
    let one = format!("{base}/{name}{v}");
    let put = |body: Value| call(M::PUT, &one, &t, Some(body));
    // No etag: ARM's "newer version exists"; a stale one: 412.
    assert_eq!(put(json!({"properties": props})).await.0, 409);
    assert_eq!(
        put(json!({"etag": "\"stale\"", "properties": props}))
            .await
            .0,
        412
    );
    let mut closing = props.clone();
    closing["status"] = json!("Closed");
    assert_eq!(
        put(json!({"etag": inc["etag"], "properties": closing}))
            .await
            .0,
        400,
        "closing needs a classification"
    );
    closing["classification"] = json!("Undetermined");
    closing["classificationReason"] = json!("InaccurateData");
    assert_eq!(
        put(json!({"etag": inc["etag"], "properties": closing}))
            .await
            .0,
        400,
        "Undetermined takes no reason"
    );
    closing["classificationReason"] = Value::Null;
    let (status, done) = put(json!({"etag": inc["etag"], "properties": closing})).await;
    assert_eq!(status, 200);
    assert_ne!(done["etag"], inc["etag"]);
    assert!(
        done["properties"]["lastModifiedTimeUtc"].as_str()
            > inc["properties"]["lastModifiedTimeUtc"].as_str()
    );
    let comment = format!("{base}/{name}/comments/4bb36b7b-26ff-4d1c-9cbe-0d8ab3da0014{v}");
    assert_eq!(
        call(M::PUT, &comment, &t, Some(json!({"message": "flat"})))
            .await
            .0,
        400
    );
    assert_eq!(
        call(
            M::PUT,
            &comment,
            &t,
            Some(json!({"properties": {"message": "ok"}}))
        )
        .await
        .0,
        201
    );
    assert_eq!(
        call(M::POST, &format!("{base}/nope/entities{v}"), &t, None)
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn graph_enforces_its_contract() {
    let entra = FakeEntra::start(TENANT, CLIENT, "s3cret").await;
    let fake = FakeGraph::start(&entra, TENANT).await;
    let (_, body) = token(&entra, &fake.base(), "s3cret").await;
    let t = body["access_token"].as_str().unwrap().to_string();
    let id = fake.add(GraphSeed::new("x", "low"));
    let base = format!("{}/v1.0/security/incidents", fake.base());
    use reqwest::Method as M;
    assert_eq!(
        call(M::GET, &format!("{base}?$top=51"), &t, None).await.0,
        400
    );
    assert_eq!(
        call(M::GET, &format!("{base}?$expand=comments"), &t, None)
            .await
            .0,
        400
    );
    let one = format!("{base}/{id}");
    let patch = |b: Value| call(M::PATCH, &one, &t, Some(b));
    assert_eq!(
        patch(json!({"severity": "high"})).await.0,
        400,
        "severity is not writable"
    );
    assert_eq!(patch(json!({"status": "closed"})).await.0, 400);
    assert_eq!(patch(json!({"status": "resolved", "classification": "truePositive", "determination": "malware"})).await.0, 200);
    let comments = format!("{base}/{id}/comments");
    assert_eq!(
        call(
            M::POST,
            &comments,
            &t,
            Some(json!({"@odata.type": "microsoft.graph.security.incident", "comment": "x"}))
        )
        .await
        .0,
        400
    );
    let (status, list) = call(
        M::POST,
        &comments,
        &t,
        Some(json!({"@odata.type": "microsoft.graph.security.alertComment", "comment": "x"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(list["value"][0]["comment"], "x");
}
