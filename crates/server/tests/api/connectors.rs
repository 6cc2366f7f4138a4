//! Polled connectors end to end (issue 13, docs/connectors.md): the data-source routes with
//! settings and sealed credentials, polls against the fake Sentinel and Graph on loopback
//! (paging, overlap, de-duplication, events, volume), failure states, the lease, write-back
//! of analysts' changes without echo, and native ingest.

use std::time::{Duration, Instant};

use crate::connectors_common::*;
use palisade_test_utils::fakes::{
    Call, FakeEntra, FakeGraph, FakeSentinel, Fault, GraphSeed, LogCapture, SentinelSeed,
    SentinelWorkspace,
};
use palisade_test_utils::{TestApp, TestOrg};
use serde_json::{json, Value};
use uuid::Uuid;

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT_ID: &str = "3f1c2a9e-5b7d-4e8f-9a0b-1c2d3e4f5a6b";
const SECRET: &str = "Zq8~engine.CLIENT-secret_value-never-shown";

struct Source {
    entra: FakeEntra,
    sentinel: FakeSentinel,
    graph: FakeGraph,
}

async fn source() -> Source {
    let entra = FakeEntra::start(TENANT, CLIENT_ID, SECRET).await;
    let sentinel = FakeSentinel::start(&entra, SentinelWorkspace::default()).await;
    let graph = FakeGraph::start(&entra, TENANT).await;
    Source {
        entra,
        sentinel,
        graph,
    }
}

impl Source {
    fn sentinel_settings(&self, extra: Value) -> Value {
        let w = self.sentinel.workspace();
        let mut s = json!({
            "tenantId": TENANT, "clientId": CLIENT_ID,
            "subscriptionId": w.subscription_id, "resourceGroup": w.resource_group,
            "workspaceName": w.workspace_name,
            "baseUrl": self.sentinel.base(), "authorityUrl": self.entra.authority(),
        });
        s.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        s
    }

    fn defender_settings(&self) -> Value {
        json!({"tenantId": TENANT, "clientId": CLIENT_ID,
               "baseUrl": self.graph.base(), "authorityUrl": self.entra.authority()})
    }
}

fn credentials() -> Value {
    json!({"clientSecret": SECRET})
}

async fn create_sentinel(
    app: &TestApp,
    org: &TestOrg,
    ws: Uuid,
    src: &Source,
    extra: Value,
) -> String {
    let r = app
        .post(
            &base(ws),
            Some(&org.admin),
            &json!({"connectorType": "MicrosoftSentinel", "name": "Sentinel prod",
                    "pollIntervalSecs": 3600, "startFrom": "2020-01-01T00:00:00Z",
                    "settings": src.sentinel_settings(extra), "credentials": credentials()}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.data()["dataConnectorId"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn create_validate_and_never_show_credentials() {
    let capture = LogCapture::default();
    let _guard = capture.install();
    let src = source().await;
    let app = app().await;
    let org = app.org("Conn").await;
    let ws = app.workspace(&org, "Main").await;
    let url = base(ws);

    // Bad settings name the field; a secret in settings is pointed at credentials.
    let mut settings = src.sentinel_settings(json!({}));
    settings.as_object_mut().unwrap().remove("subscriptionId");
    settings["clientSecret"] = json!(SECRET);
    let r = app
        .post(
            &url,
            Some(&org.admin),
            &json!({"connectorType": "MicrosoftSentinel", "settings": settings,
                      "credentials": {}, "pollIntervalSecs": 5}),
        )
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    for field in [
        "settings.subscriptionId",
        "settings.clientSecret",
        "credentials.clientSecret",
        "pollIntervalSecs",
    ] {
        assert!(r.text.contains(field), "{field}: {}", r.text);
    }
    assert!(!r.text.contains(SECRET), "{}", r.text);
    let r = app
        .post(
            &url,
            Some(&org.admin),
            &json!({"connectorType": "CrowdStrikeFalcon", "settings": {}, "credentials": {}}),
        )
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    let r = app
        .post(
            &url,
            Some(&org.admin),
            &json!({"connectorType": "MicrosoftSentinel", "source": "Splunk",
                      "settings": src.sentinel_settings(json!({})), "credentials": credentials()}),
        )
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    assert!(r.text.contains("\"source\""), "{}", r.text);

    // An auto-created data source of the type is upgraded in place.
    let pushed = app
        .put(
            &format!("/api/v2/workspaces/{ws}/incidents/Sentinel/pushed-1"),
            Some(&org.admin),
            &json!({"title": "Pushed", "severity": "Low"}),
        )
        .await;
    assert_eq!(pushed.status, 200, "{}", pushed.text);
    let auto = app.get(&url, Some(&org.admin)).await.data()[0].clone();
    assert_eq!(auto["autoCreated"], true);
    let id = create_sentinel(&app, &org, ws, &src, json!({})).await;
    assert_eq!(
        id,
        auto["dataConnectorId"].as_str().unwrap(),
        "same data source"
    );
    let got = app.get(&format!("{url}/{id}"), Some(&org.admin)).await;
    assert_eq!(got.status, 200);
    let d = got.data();
    assert_eq!(d["connectorType"], "Sentinel");
    assert_eq!(d["autoCreated"], false);
    assert_eq!(d["pollIntervalSecs"], 3600);
    let helper = d["parametersHelper"].as_array().unwrap();
    assert!(
        helper
            .iter()
            .any(|p| p["propertyName"] == "workspaceName" && p["propertyValue"] == "law-sentinel"),
        "{helper:?}"
    );
    assert!(d["status"]["state"].is_string());
    // A second one is a conflict.
    let r = app
        .post(
            &url,
            Some(&org.admin),
            &json!({"connectorType": "Sentinel", "settings": src.sentinel_settings(json!({})),
                      "credentials": credentials()}),
        )
        .await;
    r.assert_problem(409, "CONFLICT");
    // Update without credentials keeps them; bad settings name the field.
    let r = app
        .put(
            &format!("{url}/{id}"),
            Some(&org.admin),
            &json!({"settings": src.sentinel_settings(json!({"pageSize": 5000}))}),
        )
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    assert!(r.text.contains("settings.pageSize"), "{}", r.text);
    let r = app
        .put(&format!("{url}/{id}"), Some(&org.admin),
             &json!({"settings": src.sentinel_settings(json!({"pageSize": 50})), "pollIntervalSecs": 600}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["pollIntervalSecs"], 600);
    let s = pulled(&app, &org.admin, ws, &id, 0).await;
    assert_eq!(s["state"], "Healthy", "{s}");

    // Another organization sees nothing.
    let other = app.org("Other").await;
    let r = app
        .get(&format!("{url}/{id}/status"), Some(&other.admin))
        .await;
    r.assert_problem(404, "NOT_FOUND");

    // The secret is in no response and no log line.
    let mut texts = vec![app.get(&url, Some(&org.admin)).await.text];
    texts.push(app.get(&format!("{url}/{id}"), Some(&org.admin)).await.text);
    texts.push(
        app.get("/api/v2/datasources/across-workspaces", Some(&org.admin))
            .await
            .text,
    );
    for t in &texts {
        assert!(!t.contains(SECRET), "{t}");
    }
    // The token request carried it (the connector did sign in) while the logs did not.
    assert!(src.entra.token_requests() > 0);
    assert!(
        !capture.text().contains(SECRET),
        "the secret reached the logs"
    );
}

#[tokio::test]
async fn the_ssrf_guard_refuses_private_targets_by_default() {
    let src = source().await;
    let app = TestApp::spawn_with(|c| c.connectors.allow_http = true).await;
    let org = app.org("Guard").await;
    let ws = app.workspace(&org, "Main").await;
    let r = app
        .post(&base(ws), Some(&org.admin),
              &json!({"connectorType": "MicrosoftSentinel", "settings": src.sentinel_settings(json!({})),
                      "credentials": credentials()}))
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    assert!(
        r.text.contains("settings.baseUrl") || r.text.contains("settings.authorityUrl"),
        "{}",
        r.text
    );
    assert!(src.sentinel.requests().is_empty() && src.entra.token_requests() == 0);
}

#[tokio::test]
async fn polls_page_dedup_and_follow_the_ingest_path() {
    let src = source().await;
    let app = app().await;
    let org = app.org("Poll").await;
    let ws = app.workspace(&org, "Main").await;
    let mut names = Vec::new();
    for i in 0..25 {
        names.push(src.sentinel.add_simulated(i));
    }
    let id = create_sentinel(&app, &org, ws, &src, json!({"pageSize": 10})).await;
    let s = pulled(&app, &org.admin, ws, &id, 25).await;
    assert_eq!(s["state"], "Healthy");
    let events = app.events(&org).await;
    assert_eq!(
        count_events(&events, "incident.created"),
        25,
        "each incident once"
    );
    // Pages of 10: the list was followed through nextLink.
    let lists = src
        .sentinel
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/incidents"))
        .count();
    assert!(lists >= 3, "{lists} list calls");
    // The incident carries what the model has no field for.
    let r = incident(&app, &org.admin, ws, "Sentinel", &names[0]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.data()["incident"]["properties"]["source"].is_object(),
        "{}",
        r.text
    );
    assert!(r.data().get("sync").is_none(), "nothing written back yet");

    // A second poll re-reads the overlap window and changes nothing.
    let before = pulled(&app, &org.admin, ws, &id, 25).await["lastSuccessAt"].clone();
    until("a second poll", || async {
        let _ = sync(&app, &org.admin, ws, &id).await;
        let s = status(&app, &org.admin, ws, &id).await;
        (s["lastSuccessAt"] != before).then_some(())
    })
    .await;
    let events = app.events(&org).await;
    assert_eq!(count_events(&events, "incident.created"), 25);
    assert_eq!(
        count_events(&events, "incident.updated"),
        0,
        "unchanged re-reads emit nothing"
    );

    // A change at the source arrives as incident.updated with its changes.
    src.sentinel.modify(&names[3], |p| {
        p.insert("severity".into(), json!("Low"));
    });
    let total = status(&app, &org.admin, ws, &id).await["pulledTotal"]
        .as_i64()
        .unwrap();
    pulled(&app, &org.admin, ws, &id, total + 1).await;
    let events = until("the update", || async {
        let ev = app.events(&org).await;
        (count_events(&ev, "incident.updated") == 1).then_some(ev)
    })
    .await;
    let updated = events
        .iter()
        .find(|e| e.event_type == "incident.updated")
        .unwrap();
    assert!(
        updated.payload.to_string().contains("severity"),
        "{}",
        updated.payload
    );

    // The connector's volume counted the pulled incidents.
    let vol = app
        .get(&format!("{}/{id}/volume", base(ws)), Some(&org.admin))
        .await;
    let events_counted: i64 = vol
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["events"].as_i64().unwrap())
        .sum();
    assert!(events_counted >= 26, "{}", vol.text);
}

#[tokio::test]
async fn throttling_degrades_and_an_unusable_source_fails_with_last_error() {
    let src = source().await;
    let app = TestApp::spawn_with(|c| {
        quick(c);
        c.connectors.failing_after = 2;
    })
    .await;
    let org = app.org("Fail").await;
    let ws = app.workspace(&org, "Main").await;
    src.sentinel.add_simulated(1);
    src.sentinel.fail_next(Call::List, 1, Fault::throttle(1));
    let id = create_sentinel(&app, &org, ws, &src, json!({})).await;
    sync(&app, &org.admin, ws, &id).await;
    let s = until("Degraded", || async {
        let s = status(&app, &org.admin, ws, &id).await;
        (s["state"] == "Degraded").then_some(s)
    })
    .await;
    assert!(
        s["lastError"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("throttl")
            || s["lastError"].as_str().unwrap().contains("429"),
        "{s}"
    );
    // After Retry-After it recovers by itself.
    until("Healthy", || async {
        let s = status(&app, &org.admin, ws, &id).await;
        (s["state"] == "Healthy" && s["pulledTotal"] == 1).then_some(())
    })
    .await;

    // Refused credentials: Failing at once, the server healthy.
    let r = app
        .put(
            &format!("{}/{id}", base(ws)),
            Some(&org.admin),
            &json!({"credentials": {"clientSecret": "wrong-secret-value"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let s = sync_until_failing(&app, &org.admin, ws, &id).await;
    let err = s["lastError"].as_str().unwrap();
    assert!(
        !err.is_empty() && !err.contains("wrong-secret-value"),
        "{s}"
    );
    assert_eq!(app.get("/healthz", None).await.status, 200);

    // Pause and resume.
    let r = app
        .post(
            &format!("{}/{id}/pause", base(ws)),
            Some(&org.admin),
            &json!({}),
        )
        .await;
    assert_eq!(r.data()["state"], "Paused", "{}", r.text);
    app.post(
        &format!("{}/{id}/sync", base(ws)),
        Some(&org.admin),
        &json!({}),
    )
    .await
    .assert_problem(409, "CONFLICT");
    let r = app
        .post(
            &format!("{}/{id}/resume", base(ws)),
            Some(&org.admin),
            &json!({}),
        )
        .await;
    assert_ne!(r.data()["state"], "Paused", "{}", r.text);
}

#[tokio::test]
async fn a_crashed_replicas_poll_is_taken_over_and_two_replicas_pull_once() {
    let src = source().await;
    // One poll at a time per replica: a slow Defender poll keeps this replica busy while the
    // test claims the Sentinel poll as a replica that then dies.
    let app = TestApp::spawn_with(|c| {
        quick(c);
        c.connectors.max_concurrent_polls = 1;
    })
    .await;
    let org = app.org("Lease").await;
    let ws = app.workspace(&org, "Main").await;
    for i in 0..30 {
        src.sentinel.add_simulated(i);
    }
    src.graph.set_delay(Call::List, Duration::from_secs(4));
    let r = app
        .post(
            &base(ws),
            Some(&org.admin),
            &json!({"connectorType": "MicrosoftDefenderXdr", "settings": src.defender_settings(),
                      "credentials": credentials()}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    until("the slow poll to start", || async {
        (!src.graph.requests().is_empty()).then_some(())
    })
    .await;
    let id = create_sentinel(&app, &org, ws, &src, json!({"pageSize": 7})).await;
    let system = app.state.store().system();
    let dead = system.claim_polls("dead-replica", 2, 10).await.unwrap();
    assert_eq!(dead.len(), 1, "the Sentinel poll is due and free");
    assert_eq!(dead[0].connector.datasource_id.to_string(), id);
    assert!(
        system
            .claim_polls("another", 2, 10)
            .await
            .unwrap()
            .is_empty(),
        "one replica at a time"
    );
    let claimed_at = Instant::now();
    // The dead replica never finishes: this replica takes the poll over after its lease.
    let s = until("the takeover", || async {
        let s = status(&app, &org.admin, ws, &id).await;
        (s["pulledTotal"] == 30).then_some(s)
    })
    .await;
    assert!(
        claimed_at.elapsed() >= Duration::from_millis(1900),
        "waited for the lease"
    );
    assert_eq!(s["state"], "Healthy");
    // The dead replica's late commit is refused.
    let late = system
        .commit_pulled_page(
            &dead[0],
            &palisade_store::PulledPage {
                items: vec![],
                volume: None,
                cursor: "{}".into(),
                pulled: 1,
            },
        )
        .await;
    assert!(late.is_err(), "a lost claim commits nothing");
    assert_eq!(status(&app, &org.admin, ws, &id).await["pulledTotal"], 30);
    // Two replicas polling: every incident exactly once.
    src.graph.set_delay(Call::List, Duration::ZERO);
    let replica = app.replica().await;
    for i in 30..40 {
        src.sentinel.add_simulated(i);
    }
    for _ in 0..5 {
        sync(&app, &org.admin, ws, &id).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    until("every incident", || async {
        let ev = app.events(&org).await;
        (count_events(&ev, "incident.created") >= 40).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        count_events(&app.events(&org).await, "incident.created"),
        40
    );
    drop(replica);
}

#[tokio::test]
async fn analysts_changes_are_written_back_once_without_echo() {
    let src = source().await;
    let app = app().await;
    let org = app.org("Write").await;
    let ws = app.workspace(&org, "Main").await;
    let name = src
        .sentinel
        .add(SentinelSeed::new("Suspicious sign-in", "High"));
    let id = create_sentinel(&app, &org, ws, &src, json!({})).await;
    pulled(&app, &org.admin, ws, &id, 1).await;
    let path = format!("/api/v2/workspaces/{ws}/incidents/Sentinel/{name}");

    // Close with a classification; the first PUT meets a stale etag (412) and is re-applied.
    src.sentinel.stale_etag_next(1);
    let r = app
        .put(
            &format!("{path}/status"),
            Some(&org.admin),
            &json!({"status": "Closed", "classification": "TruePositive",
                     "classificationReason": "Malware", "comment": "contained"}),
        )
        .await;
    assert!(r.status < 300, "{}", r.text);
    let synced = until("the close to reach Sentinel", || async {
        let r = incident(&app, &org.admin, ws, "Sentinel", &name).await;
        (r.data()["sync"]["state"] == "Synced").then_some(r)
    })
    .await;
    assert!(synced.data()["sync"]["at"].is_string());
    let inc = src.sentinel.incident(&name).unwrap();
    assert_eq!(inc["properties"]["status"], "Closed", "{inc}");
    assert_eq!(inc["properties"]["classification"], "TruePositive");
    let puts: Vec<_> = src
        .sentinel
        .writes()
        .into_iter()
        .filter(|w| w.method == "PUT" && w.path.ends_with(&name))
        .collect();
    assert!(puts.len() >= 2, "the stale etag was read again: {puts:?}");
    assert!(puts.iter().all(|w| w
        .header("authorization")
        .is_some_and(|a| a.starts_with("Bearer "))));
    until("the comment", || async {
        (!src.sentinel.comments(&name).is_empty()).then_some(())
    })
    .await;
    assert!(src
        .sentinel
        .comments(&name)
        .iter()
        .any(|c| c.to_string().contains("contained")));

    // Assign.
    let r = app
        .put(
            &format!("{path}/assign"),
            Some(&org.admin),
            &json!({"email": "ann@contoso.example", "displayName": "Ann Lee"}),
        )
        .await;
    assert!(r.status < 300, "{}", r.text);
    until("the owner to reach Sentinel", || async {
        let inc = src.sentinel.incident(&name).unwrap();
        (inc["properties"]["owner"]["email"] == "ann@contoso.example").then_some(())
    })
    .await;
    until("Synced", || async {
        let r = incident(&app, &org.admin, ws, "Sentinel", &name).await;
        (r.data()["sync"]["state"] == "Synced").then_some(())
    })
    .await;

    // No echo: the next poll sees Palisade's own changes at the source and takes none of them
    // as a change (only the portal's edit that the stale etag stood for), writes nothing.
    let updates = count_events(&app.events(&org).await, "incident.updated");
    let writes = src.sentinel.writes().len();
    let total = status(&app, &org.admin, ws, &id).await["pulledTotal"]
        .as_i64()
        .unwrap();
    pulled(&app, &org.admin, ws, &id, total + 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let events = app.events(&org).await;
    let pulled_changes: Vec<String> = events[..]
        .iter()
        .filter(|e| e.event_type == "incident.updated")
        .skip(updates)
        .flat_map(|e| e.payload["changes"].as_array().cloned().unwrap_or_default())
        .map(|c| c["field"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(pulled_changes, ["description"], "only the portal's edit");
    assert_eq!(
        src.sentinel.writes().len(),
        writes,
        "nothing written back for a pulled change"
    );
    let updates = count_events(&events, "incident.updated");
    pulled(&app, &org.admin, ws, &id, total + 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = app.events(&org).await;
    assert_eq!(
        count_events(&after, "incident.updated"),
        updates,
        "no echo: {:?}",
        after.last().map(|e| e.payload["changes"].clone())
    );
    assert_eq!(
        src.sentinel.writes().len(),
        writes,
        "nothing written back for a pulled change"
    );
    let r = incident(&app, &org.admin, ws, "Sentinel", &name).await;
    assert_eq!(
        r.data()["incident"]["classificationReason"],
        "Malware",
        "the analyst's reason is kept"
    );

    // A change at the source is pulled and not written back.
    src.sentinel.modify(&name, |p| {
        p.insert("severity".into(), json!("Low"));
    });
    let writes = src.sentinel.writes().len();
    pulled(&app, &org.admin, ws, &id, total + 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(src.sentinel.writes().len(), writes);

    // A pushed incident is never written back.
    let pushed = format!("/api/v2/workspaces/{ws}/incidents/Sentinel/pushed-7");
    app.put(
        &pushed,
        Some(&org.admin),
        &json!({"title": "Pushed", "severity": "Low"}),
    )
    .await;
    let r = app
        .put(
            &format!("{pushed}/status"),
            Some(&org.admin),
            &json!({"status": "Active"}),
        )
        .await;
    assert!(r.status < 300, "{}", r.text);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(src
        .sentinel
        .writes()
        .iter()
        .all(|w| !w.path.contains("pushed-7")));
    let r = app.get(&pushed, Some(&org.admin)).await;
    assert!(r.data().get("sync").is_none(), "{}", r.text);
}

#[tokio::test]
async fn defender_write_back_failures_are_retried_then_synced() {
    let src = source().await;
    let app = app().await;
    let org = app.org("Defender").await;
    let ws = app.workspace(&org, "Main").await;
    let gid = src.graph.add(GraphSeed::new("Ransomware activity", "high"));
    let r = app
        .post(
            &base(ws),
            Some(&org.admin),
            &json!({"connectorType": "MicrosoftDefenderXdr", "startFrom": "2020-01-01T00:00:00Z",
                      "settings": src.defender_settings(), "credentials": credentials()}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.data()["dataConnectorId"].as_str().unwrap().to_string();
    pulled(&app, &org.admin, ws, &id, 1).await;
    // Two 503s first: the write-back is retried, then lands.
    src.graph.fail_next(Call::Update, 2, Fault::status(503));
    let r = app
        .put(
            &format!("/api/v2/workspaces/{ws}/incidents/DefenderXDR/{gid}/status"),
            Some(&org.admin),
            &json!({"status": "Active"}),
        )
        .await;
    assert!(r.status < 300, "{}", r.text);
    until("the Graph PATCH", || async {
        let inc = src.graph.incident(&gid).unwrap();
        (inc["status"] == "inProgress").then_some(())
    })
    .await;
    until("Synced", || async {
        let r = incident(&app, &org.admin, ws, "DefenderXDR", &gid).await;
        (r.data()["sync"]["state"] == "Synced").then_some(())
    })
    .await;
    let patches = src
        .graph
        .writes()
        .into_iter()
        .filter(|w| w.method == "PATCH")
        .count();
    assert!(patches >= 3, "{patches} PATCHes");
    let s = status(&app, &org.admin, ws, &id).await;
    assert_eq!(s["writeBacksPending"], 0);
    assert_eq!(s["writeBacksFailed"], 0);
}

#[tokio::test]
async fn native_ingest_maps_vendor_json_and_is_never_written_back() {
    let src = source().await;
    let app = app().await;
    let org = app.org("Native").await;
    let ws = app.workspace(&org, "Main").await;
    let name = src.sentinel.add_simulated(7);
    let item = src.sentinel.incident(&name).unwrap();
    let url = format!("/api/v2/workspaces/{ws}/incidents/Sentinel/ingest?format=native");
    let bad = json!({"name": "broken-1", "properties": {"severity": "High"}});
    let r = app
        .post(&url, Some(&org.admin), &json!({"incidents": [item, bad]}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["created"], 1, "{}", r.text);
    assert_eq!(r.data()["rejected"], 1);
    assert!(r.text.contains("incidents[1].properties"), "{}", r.text);
    let got = incident(&app, &org.admin, ws, "Sentinel", &name).await;
    assert!(
        got.data()["incident"]["properties"]["source"].is_object(),
        "{}",
        got.text
    );
    // Defender's own list answer.
    let gid = src.graph.add(GraphSeed::new("Phish", "medium"));
    let g = src.graph.incident(&gid).unwrap();
    let r = app
        .post(
            &format!("/api/v2/workspaces/{ws}/incidents/DefenderXDR/ingest?format=native"),
            Some(&org.admin),
            &json!({"value": [g]}),
        )
        .await;
    assert_eq!(r.data()["created"], 1, "{}", r.text);
    app.post(
        &format!("/api/v2/workspaces/{ws}/incidents/Sentinel/ingest?format=xml"),
        Some(&org.admin),
        &json!({"incidents": []}),
    )
    .await
    .assert_problem(400, "VALIDATION_ERROR");
    // Pushed: a change is not written back.
    let r = app
        .put(
            &format!("/api/v2/workspaces/{ws}/incidents/Sentinel/{name}/status"),
            Some(&org.admin),
            &json!({"status": "Active"}),
        )
        .await;
    assert!(r.status < 300, "{}", r.text);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(src.sentinel.writes().is_empty());
}

/// A connector's pulls count toward its data source's hourly volume through the ingest path,
/// so a source that goes quiet shows as a Silence anomaly of the connector. The history is
/// the hour the connector itself recorded, repeated over the week before (the test cannot wait
/// a week): without the pulls' volume there is no baseline and no anomaly.
#[tokio::test]
async fn a_connector_whose_source_goes_quiet_raises_a_silence_anomaly() {
    use chrono::{DateTime, Duration as Hours, Utc};
    let src = source().await;
    let app = app().await;
    let org = app.org("Quiet").await;
    let ws = app.workspace(&org, "Main").await;
    for i in 0..40 {
        src.sentinel.add_simulated(i);
    }
    let id = create_sentinel(&app, &org, ws, &src, json!({"pageSize": 15})).await;
    pulled(&app, &org.admin, ws, &id, 40).await;
    let volume = || async {
        let r = app
            .get(&format!("{}/{id}/volume", base(ws)), Some(&org.admin))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.data().as_array().unwrap().clone()
    };
    // The pulls were counted: one hour, 40 events, their bytes.
    let hours: Vec<Value> = volume()
        .await
        .into_iter()
        .filter(|h| h["events"].as_i64() > Some(0))
        .collect();
    assert_eq!(hours.len(), 1, "{hours:?}");
    let fed = hours[0]["events"].as_i64().unwrap();
    assert_eq!(fed, 40, "{hours:?}");
    assert!(hours[0]["bytes"].as_i64().unwrap() > 0, "{hours:?}");
    let fed_hour: DateTime<Utc> = hours[0]["hourStart"].as_str().unwrap().parse().unwrap();

    // The source goes quiet: further polls re-read the overlap and count nothing.
    let before = status(&app, &org.admin, ws, &id).await["lastSuccessAt"].clone();
    until("a quiet poll", || async {
        sync(&app, &org.admin, ws, &id).await;
        let s = status(&app, &org.admin, ws, &id).await;
        (s["lastSuccessAt"] != before).then_some(())
    })
    .await;
    let events: i64 = volume()
        .await
        .iter()
        .map(|h| h["events"].as_i64().unwrap())
        .sum();
    assert_eq!(events, fed, "a quiet source adds no volume");

    // The week before: the hour the connector recorded, every hour, until three hours
    // before it; since then the source has been quiet.
    let entries: Vec<Value> = (4..=8 * 24)
        .map(|back| {
            json!({"hourStart": (fed_hour - Hours::hours(back)).to_rfc3339(), "events": fed,
                   "bytes": hours[0]["bytes"]})
        })
        .collect();
    let r = app
        .post(
            &format!("{}/{id}/volume", base(ws)),
            Some(&org.admin),
            &json!({"entries": entries}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .post(
            "/api/v2/datasources/across-workspaces/anomalies",
            Some(&org.admin),
            &json!({"workspaceIds": [ws], "timeFilterSelection": {"type": "Custom",
                "customStartUtc": (fed_hour - Hours::hours(24)).to_rfc3339(),
                "customEndUtc": fed_hour.to_rfc3339()}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let found = r.data()["anomalies"].as_array().unwrap().clone();
    assert_eq!(found.len(), 1, "{found:?}");
    let a = &found[0];
    assert_eq!(a["dataConnectorId"], id.as_str());
    assert_eq!(a["connectorType"], "Sentinel");
    assert_eq!(a["anomalyType"], "Silence");
    assert_eq!(a["hours"], 3);
    assert_eq!(a["observedEvents"], 0);
    // Expected over the run's three hours: what the connector recorded, each hour.
    assert_eq!(a["expectedEvents"].as_f64(), Some(3.0 * fed as f64));
    let start: DateTime<Utc> = a["startTime"].as_str().unwrap().parse().unwrap();
    assert_eq!(start, fed_hour - Hours::hours(3));
}

/// A listing longer than one poll's page budget, all of it changed inside the overlap window
/// (a burst): each poll goes on where the previous one stopped. When every poll queried again
/// from the overlap, the first pages were read again by each poll and the rest never arrived.
#[tokio::test]
async fn a_burst_longer_than_one_polls_budget_is_pulled_whole() {
    let src = source().await;
    let app = TestApp::spawn_with(|c| {
        quick(c);
        c.connectors.max_pages_per_run = 2;
    })
    .await;
    let org = app.org("Burst").await;
    let ws = app.workspace(&org, "Main").await;
    for i in 0..70 {
        src.sentinel.add_simulated(i);
    }
    let id = create_sentinel(&app, &org, ws, &src, json!({"pageSize": 10})).await;
    until("all 70 incidents of the burst", || async {
        let events = app.events(&org).await;
        (count_events(&events, "incident.created") == 70).then_some(())
    })
    .await;
    let s = status(&app, &org.admin, ws, &id).await;
    assert_eq!(s["state"], "Healthy", "{s}");
    // Seven pages of ten, read once each by four polls (2 + 2 + 2 + 1 pages), not again and
    // again from the start.
    assert!(
        s["pulledTotal"].as_i64().unwrap() < 140,
        "pages were read again: {s}"
    );
}

#[tokio::test]
async fn a_refused_stored_continuation_is_read_again_from_the_cursor() {
    let src = source().await;
    let app = TestApp::spawn_with(|c| {
        quick(c);
        c.connectors.max_pages_per_run = 1;
    })
    .await;
    let org = app.org("Expired token").await;
    let ws = app.workspace(&org, "Main").await;
    for i in 0..30 {
        src.sentinel.add_simulated(i);
    }
    // Every poll reads one page and stores the listing's continuation for the next; the first
    // continuation the next poll sends has expired at the source.
    src.sentinel.expire_skip_tokens_next(1);
    let id = create_sentinel(&app, &org, ws, &src, json!({"pageSize": 10})).await;
    until("all 30 incidents", || async {
        let events = app.events(&org).await;
        (count_events(&events, "incident.created") == 30).then_some(())
    })
    .await;
    let lists: Vec<String> = src
        .sentinel
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/incidents"))
        .map(|r| r.query.unwrap_or_default())
        .collect();
    let refused = lists
        .iter()
        .position(|q| q.contains("skipToken"))
        .expect("a continuation was sent");
    // The poll that was refused lists again from the stored cursor at once (no skip token),
    // instead of failing and retrying the dead token after a back-off.
    let next = lists
        .get(refused + 1)
        .expect("a list request after the refusal");
    assert!(!next.contains("skipToken"), "{next}");
    assert!(next.contains("filter="), "{next}");
    let s = status(&app, &org.admin, ws, &id).await;
    assert_eq!(s["state"], "Healthy", "{s}");
    assert!(s["lastError"].is_null(), "{s}");
    let events = app.events(&org).await;
    assert_eq!(count_events(&events, "incident.created"), 30);
}
