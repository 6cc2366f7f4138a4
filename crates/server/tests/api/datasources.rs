//! Data sources: connector management (shape, scope, role, 404s), volume counting from
//! Palisade's own ingest, the cross-workspace grouping, and anomaly detection over synthetic
//! hourly series with a known silence, drop and spike (and a steady series that yields none).

use chrono::{DateTime, Duration, DurationRound, Utc};
use palisade_test_utils::{Cred, Resp, TestApp};
use serde_json::{json, Value};
use uuid::Uuid;

fn base(ws: Uuid) -> String {
    format!("/api/v2/workspaces/{ws}/datasources")
}

async fn create(app: &TestApp, cred: &Cred, ws: Uuid, body: Value) -> Value {
    let r = app.post(&base(ws), Some(cred), &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.data().clone()
}

/// `POST /datasources/across-workspaces/anomalies`.
async fn anomalies(app: &TestApp, cred: &Cred, body: &Value) -> Resp {
    app.post(
        "/api/v2/datasources/across-workspaces/anomalies",
        Some(cred),
        body,
    )
    .await
}

fn current_hour() -> DateTime<Utc> {
    Utc::now().duration_trunc(Duration::hours(1)).unwrap()
}

#[tokio::test]
async fn datasources_crud_shape_scope_role_and_404s() {
    let app = TestApp::spawn().await;
    let org = app.org("DS").await;
    let ws = app.workspace(&org, "Main").await;
    let other = app.org("Other").await;
    let other_ws = app.workspace(&other, "Theirs").await;

    let c = create(
        &app,
        &org.admin,
        ws,
        json!({"connectorType": "syslog", "name": "Edge firewalls", "description": "rsyslog relay",
               "parametersHelper": [{"propertyName": "port", "propertyValue": "514"}]}),
    )
    .await;
    for field in [
        "name",
        "icon",
        "dataConnectorId",
        "provider",
        "description",
        "connectorType",
        "connected",
        "modificationDateTime",
        "parametersHelper",
    ] {
        assert!(c.get(field).is_some(), "DataSource lacks {field}: {c}");
    }
    assert_eq!(c["connectorType"], "Syslog");
    assert_eq!(c["connected"], true);
    assert_eq!(c["provider"], "Custom");
    assert_eq!(c["parametersHelper"][0]["propertyValue"], "514");
    let id = c["dataConnectorId"].as_str().unwrap().to_string();

    let list = app.get(&base(ws), Some(&org.admin)).await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.data().as_array().unwrap().len(), 1);
    let one = app
        .get(&format!("{}/{id}", base(ws)), Some(&org.admin))
        .await;
    assert_eq!(one.data()["name"], "Edge firewalls");

    let r = app
        .put(
            &format!("{}/{id}", base(ws)),
            Some(&org.admin),
            &json!({"connected": false, "name": "Edge"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["connected"], false);
    assert_eq!(r.data()["name"], "Edge");
    assert_eq!(r.data()["description"], "rsyslog relay");

    // One connector per ingest-fed kind; Syslog and Custom may repeat.
    create(&app, &org.admin, ws, json!({"connectorType": "Sentinel"})).await;
    app.post(
        &base(ws),
        Some(&org.admin),
        &json!({"connectorType": "SENTINEL"}),
    )
    .await
    .assert_problem(409, "CONFLICT");
    create(&app, &org.admin, ws, json!({"connectorType": "Syslog"})).await;

    // Validation names the field.
    let r = app
        .post(
            &base(ws),
            Some(&org.admin),
            &json!({"connectorType": "Telnet"}),
        )
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    assert!(r.json["errors"]["connectorType"].is_array(), "{}", r.text);
    let r = app.post(&base(ws), Some(&org.admin), &json!({})).await;
    assert!(r.json["errors"]["connectorType"].is_array(), "{}", r.text);
    let r = app
        .post(
            &base(ws),
            Some(&org.admin),
            &json!({"connectorType": "Custom", "parametersHelper": [{"propertyValue": "x"}]}),
        )
        .await;
    assert!(
        r.json["errors"]["parametersHelper[0].propertyName"].is_array(),
        "{}",
        r.text
    );

    // 404s: unknown connector, malformed id, another organization's workspace and connector.
    let unknown = Uuid::new_v4();
    app.get(&format!("{}/{unknown}", base(ws)), Some(&org.admin))
        .await
        .assert_problem(404, "NOT_FOUND");
    app.get(&format!("{}/not-a-guid", base(ws)), Some(&org.admin))
        .await
        .assert_problem(404, "NOT_FOUND");
    app.put(
        &format!("{}/{unknown}", base(ws)),
        Some(&org.admin),
        &json!({"name": "x"}),
    )
    .await
    .assert_problem(404, "NOT_FOUND");
    app.get(&format!("{}/{unknown}/volume", base(ws)), Some(&org.admin))
        .await
        .assert_problem(404, "NOT_FOUND");
    app.get(&base(other_ws), Some(&org.admin))
        .await
        .assert_problem(404, "NOT_FOUND");
    let theirs = create(
        &app,
        &other.admin,
        other_ws,
        json!({"connectorType": "Custom"}),
    )
    .await;
    let theirs = theirs["dataConnectorId"].as_str().unwrap();
    app.get(&format!("{}/{theirs}", base(ws)), Some(&org.admin))
        .await
        .assert_problem(404, "NOT_FOUND");
    app.delete(&format!("{}/{theirs}", base(ws)), Some(&org.admin))
        .await
        .assert_problem(404, "NOT_FOUND");

    // Scope and role: reads need datasources:read and any role; managing needs
    // datasources:manage and ContentAdmin.
    let (reader, _) = app
        .service_account(
            &org.admin,
            &json!({"name": "reader", "scopes": ["datasources:manage"],
                    "workspaceAssignments": [{"workspaceId": ws, "role": "WorkspaceReader"}]}),
        )
        .await;
    assert_eq!(app.get(&base(ws), Some(&reader)).await.status, 200);
    app.post(
        &base(ws),
        Some(&reader),
        &json!({"connectorType": "Custom"}),
    )
    .await
    .assert_problem(403, "INSUFFICIENT_WORKSPACE_ROLE");
    let (read_only, _) = app
        .service_account(
            &org.admin,
            &json!({"name": "ro", "scopes": ["datasources:read"],
                    "workspaceAssignments": [{"workspaceId": ws, "role": "ContentAdmin"}]}),
        )
        .await;
    app.post(
        &base(ws),
        Some(&read_only),
        &json!({"connectorType": "Custom"}),
    )
    .await
    .assert_problem(403, "INSUFFICIENT_SCOPE");
    let (admin, _) = app
        .service_account(
            &org.admin,
            &json!({"name": "ca", "scopes": ["datasources:manage"],
                    "workspaceAssignments": [{"workspaceId": ws, "role": "ContentAdmin"}]}),
        )
        .await;
    create(&app, &admin, ws, json!({"connectorType": "Custom"})).await;

    let r = app
        .delete(&format!("{}/{id}", base(ws)), Some(&admin))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data(), &json!(true));
    app.get(&format!("{}/{id}", base(ws)), Some(&org.admin))
        .await
        .assert_problem(404, "NOT_FOUND");
}

#[tokio::test]
async fn datasources_count_palisade_ingest_and_recorded_volume() {
    let app = TestApp::spawn().await;
    let org = app.org("Vol").await;
    let ws = app.workspace(&org, "W").await;
    let incidents: Vec<Value> = (0..3)
        .map(|i| json!({"id": format!("INC-{i}"), "title": "t", "severity": "Low"}))
        .collect();
    let r = app
        .post(
            &format!("/api/v2/workspaces/{ws}/incidents/crowdstrike/ingest"),
            Some(&org.admin),
            &json!({"incidents": incidents}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .put(
            &format!("/api/v2/workspaces/{ws}/incidents/CrowdStrike/INC-9"),
            Some(&org.admin),
            &json!({"title": "t", "severity": "Low"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let list = app.get(&base(ws), Some(&org.admin)).await;
    let list = list.data().as_array().unwrap().clone();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["connectorType"], "CrowdStrike");
    assert_eq!(list[0]["autoCreated"], true);
    let id = list[0]["dataConnectorId"].as_str().unwrap();
    let vol = app
        .get(&format!("{}/{id}/volume", base(ws)), Some(&org.admin))
        .await;
    assert_eq!(vol.status, 200, "{}", vol.text);
    let hours = vol.data().as_array().unwrap();
    let events: i64 = hours.iter().map(|h| h["events"].as_i64().unwrap()).sum();
    assert_eq!(events, 4, "{}", vol.text);
    assert!(hours.iter().all(|h| h["bytes"].as_i64().unwrap() > 0));

    // Volume recorded for data arriving elsewhere, into past hours; additive.
    let hour = current_hour() - Duration::hours(30);
    let body = json!({"entries": [
        {"hourStart": (hour + Duration::minutes(17)).to_rfc3339(), "events": 5, "bytes": 50},
        {"hourStart": hour.to_rfc3339(), "events": 2},
    ]});
    let r = app
        .post(
            &format!("{}/{id}/volume", base(ws)),
            Some(&org.admin),
            &body,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["hours"], 1);
    assert_eq!(r.data()["events"], 7);
    let from = (hour - Duration::hours(1)).to_rfc3339();
    let vol = app
        .send(
            reqwest::Method::GET,
            &format!("{}/{id}/volume?from={}", base(ws), url_encode(&from)),
            Some(&org.admin),
            None,
        )
        .await;
    assert_eq!(vol.status, 200, "{}", vol.text);
    let first = &vol.data()[0];
    assert_eq!(first["events"], 7, "{}", vol.text);
    assert_eq!(first["bytes"], 50);
    assert_eq!(
        first["hourStart"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        hour
    );

    // Bad entries name their field.
    let future = (current_hour() + Duration::hours(2)).to_rfc3339();
    let r = app
        .post(
            &format!("{}/{id}/volume", base(ws)),
            Some(&org.admin),
            &json!({"entries": [{"hourStart": future, "events": 1}, {"hourStart": "yesterday"}]}),
        )
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    for path in [
        "entries[0].hourStart",
        "entries[1].hourStart",
        "entries[1].events",
    ] {
        assert!(r.json["errors"][path].is_array(), "{path}: {}", r.text);
    }
    let r = app
        .post(
            &format!("{}/{id}/volume", base(ws)),
            Some(&org.admin),
            &json!({"entries": []}),
        )
        .await;
    assert!(r.json["errors"]["entries"].is_array(), "{}", r.text);
    app.post(
        &format!("{}/{}/volume", base(ws), Uuid::new_v4()),
        Some(&org.admin),
        &body,
    )
    .await
    .assert_problem(404, "NOT_FOUND");
}

fn url_encode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn datasources_across_workspaces_groups_visible_workspaces() {
    let app = TestApp::spawn().await;
    let org = app.org("Across").await;
    let ws1 = app.workspace(&org, "A").await;
    let ws2 = app.workspace(&org, "B").await;
    let other = app.org("Else").await;
    let foreign = app.workspace(&other, "F").await;
    create(&app, &org.admin, ws1, json!({"connectorType": "Splunk"})).await;
    create(&app, &org.admin, ws2, json!({"connectorType": "QRadar"})).await;
    let (one, _) = app
        .service_account(
            &org.admin,
            &json!({"name": "one", "scopes": ["datasources:read"],
                    "workspaceAssignments": [{"workspaceId": ws1, "role": "WorkspaceReader"}]}),
        )
        .await;
    let r = app
        .get("/api/v2/datasources/across-workspaces", Some(&org.admin))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data().as_array().unwrap().len(), 2);
    let r = app
        .get("/api/v2/datasources/across-workspaces", Some(&one))
        .await;
    let groups = r.data().as_array().unwrap();
    assert_eq!(groups.len(), 1, "{}", r.text);
    assert_eq!(groups[0]["workspaceId"], ws1.to_string());
    assert_eq!(groups[0]["workspaceName"], "A");
    assert_eq!(groups[0]["dataSources"][0]["connectorType"], "Splunk");
    // Repeated workspaceIds; invisible and foreign ones are dropped silently.
    let r = app
        .get(
            &format!("/api/v2/datasources/across-workspaces?workspaceIds={ws2}&workspaceIds={ws1}&workspaceIds={foreign}"),
            Some(&one),
        )
        .await;
    assert_eq!(r.data().as_array().unwrap().len(), 1, "{}", r.text);
    let r = app
        .get(
            &format!("/api/v2/datasources/across-workspaces?workspaceIds={ws2}&workspaceIds={ws1}"),
            Some(&org.admin),
        )
        .await;
    let ids: Vec<&str> = r.items("workspaceId");
    assert_eq!(ids, vec![ws2.to_string(), ws1.to_string()]);
    let r = app
        .get(
            "/api/v2/datasources/across-workspaces?workspaceIds=nope",
            Some(&org.admin),
        )
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    assert!(r.json["errors"]["workspaceIds[0]"].is_array(), "{}", r.text);
    // An empty value names no workspace: a validation error, not "every workspace".
    for (query, key) in [
        ("workspaceIds=".to_string(), "workspaceIds[0]"),
        (format!("workspaceIds={ws1},"), "workspaceIds[1]"),
        (
            format!("workspaceIds={ws1}&workspaceIds="),
            "workspaceIds[1]",
        ),
    ] {
        let r = app
            .get(
                &format!("/api/v2/datasources/across-workspaces?{query}"),
                Some(&org.admin),
            )
            .await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert!(r.json["errors"][key].is_array(), "{query}: {}", r.text);
    }
    let (no_scope, _) = app
        .service_account(
            &org.admin,
            &json!({"name": "x", "scopes": ["incidents:read"]}),
        )
        .await;
    app.get("/api/v2/datasources/across-workspaces", Some(&no_scope))
        .await
        .assert_problem(403, "INSUFFICIENT_SCOPE");
    anomalies(&app, &no_scope, &json!({}))
        .await
        .assert_problem(403, "INSUFFICIENT_SCOPE");
}

/// Records `events(hours_back)` for the 8 days of whole hours before `now` (an hour start).
async fn series(
    app: &TestApp,
    cred: &Cred,
    ws: Uuid,
    id: &str,
    now: DateTime<Utc>,
    events: impl Fn(i64) -> i64,
) {
    let mut entries = Vec::new();
    for back in 1..=(8 * 24) {
        let e = events(back);
        if e > 0 {
            entries.push(json!({"hourStart": (now - Duration::hours(back)).to_rfc3339(), "events": e, "bytes": e * 300}));
        }
    }
    let r = app
        .post(
            &format!("{}/{id}/volume", base(ws)),
            Some(cred),
            &json!({"entries": entries}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// Steady traffic with a little deterministic noise: 95 to 105 events an hour.
fn steady(back: i64) -> i64 {
    100 + (back * 7) % 11 - 5
}

#[tokio::test]
async fn datasources_anomalies_find_silence_drop_and_spike_but_not_steady() {
    let app = TestApp::spawn().await;
    let org = app.org("Anom").await;
    let ws = app.workspace(&org, "Prod").await;
    let ws_b = app.workspace(&org, "Other").await;
    // One fixed hour for the series and the window: the test is immune to the clock crossing
    // an hour while it runs.
    let now = current_hour();
    let mut ids = Vec::new();
    for name in [
        "steady",
        "silent",
        "dropping",
        "spiking",
        "disconnected-silent",
    ] {
        let c = create(
            &app,
            &org.admin,
            ws,
            json!({"connectorType": "Custom", "name": name}),
        )
        .await;
        ids.push(c["dataConnectorId"].as_str().unwrap().to_string());
    }
    series(&app, &org.admin, ws, &ids[0], now, steady).await;
    series(&app, &org.admin, ws, &ids[1], now, |b| {
        if b <= 3 {
            0
        } else {
            steady(b)
        }
    })
    .await;
    series(&app, &org.admin, ws, &ids[2], now, |b| {
        if b <= 2 {
            10
        } else {
            steady(b)
        }
    })
    .await;
    series(&app, &org.admin, ws, &ids[3], now, |b| {
        if b == 1 {
            1000
        } else {
            steady(b)
        }
    })
    .await;
    series(&app, &org.admin, ws, &ids[4], now, |b| {
        if b <= 5 {
            0
        } else {
            steady(b)
        }
    })
    .await;
    let r = app
        .put(
            &format!("{}/{}", base(ws), ids[4]),
            Some(&org.admin),
            &json!({"connected": false}),
        )
        .await;
    assert_eq!(r.status, 200);
    // A steady connector in another workspace.
    let c = create(
        &app,
        &org.admin,
        ws_b,
        json!({"connectorType": "Custom", "name": "b"}),
    )
    .await;
    series(
        &app,
        &org.admin,
        ws_b,
        c["dataConnectorId"].as_str().unwrap(),
        now,
        steady,
    )
    .await;

    // The 24 whole hours before `now`.
    let body = json!({"workspaceIds": [ws, ws_b], "timeFilterSelection": {
        "type": "Custom", "customStartUtc": (now - Duration::hours(24)).to_rfc3339(),
        "customEndUtc": now.to_rfc3339()}});
    let r = anomalies(&app, &org.admin, &body).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let d = r.data();
    assert_eq!(d["workspacesExamined"], 2);
    assert_eq!(d["connectorsExamined"], 5, "{d}");
    assert_eq!(
        d["examinedFrom"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        now - Duration::hours(24)
    );
    let found = d["anomalies"].as_array().unwrap();
    let by = |name: &str| -> Vec<&Value> {
        found
            .iter()
            .filter(|a| a["connectorName"] == name)
            .collect()
    };
    assert!(by("steady").is_empty(), "{d}");
    assert!(by("b").is_empty(), "{d}");
    assert!(by("disconnected-silent").is_empty(), "{d}");
    assert_eq!(found.len(), 3, "{d}");

    let silent = by("silent");
    assert_eq!(silent[0]["anomalyType"], "Silence");
    assert_eq!(silent[0]["severity"], "High");
    assert_eq!(silent[0]["hours"], 3);
    assert_eq!(silent[0]["observedEvents"], 0);
    assert_eq!(silent[0]["baselineDays"], 7);
    let expected = silent[0]["expectedEvents"].as_f64().unwrap();
    assert!((285.0..=315.0).contains(&expected), "{expected}");
    assert_eq!(
        silent[0]["startTime"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        now - Duration::hours(3)
    );
    assert_eq!(
        silent[0]["endTime"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        now
    );
    assert_eq!(silent[0]["workspaceName"], "Prod");
    assert_eq!(silent[0]["connectorType"], "Custom");

    let drop = by("dropping");
    assert_eq!(drop[0]["anomalyType"], "Drop");
    assert_eq!(drop[0]["hours"], 2);
    assert_eq!(drop[0]["observedEvents"], 20);
    assert_eq!(drop[0]["severity"], "High");

    let spike = by("spiking");
    assert_eq!(spike[0]["anomalyType"], "Spike");
    assert_eq!(spike[0]["hours"], 1);
    assert_eq!(spike[0]["observedEvents"], 1000);
    assert!(spike[0]["ratio"].as_f64().unwrap() > 9.0);

    // The default window (24 hours) on a steady workspace finds nothing; the caller's
    // invisible workspaces are skipped.
    let (only_b, _) = app
        .service_account(
            &org.admin,
            &json!({"name": "b", "scopes": ["datasources:read"],
                    "workspaceAssignments": [{"workspaceId": ws_b, "role": "WorkspaceReader"}]}),
        )
        .await;
    let r = anomalies(&app, &only_b, &json!({"workspaceIds": [ws, ws_b]})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["workspacesExamined"], 1);
    // (Should the clock have crossed an hour since `now`, that unrecorded hour may show.)
    let before_now: Vec<&Value> = r.data()["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| {
            a["startTime"]
                .as_str()
                .unwrap()
                .parse::<DateTime<Utc>>()
                .unwrap()
                < now
        })
        .collect();
    assert!(before_now.is_empty(), "{}", r.text);

    // Bad input names the field.
    for (body, path) in [
        (
            json!({"timeFilterSelection": {"type": "Fortnight"}}),
            "timeFilterSelection.type",
        ),
        (
            json!({"timeFilterSelection": {"type": "Custom"}}),
            "timeFilterSelection.customStartUtc",
        ),
        (json!({"workspaceIds": ["x"]}), "workspaceIds[0]"),
        (json!({"workspaceIds": "x"}), "workspaceIds"),
    ] {
        let r = anomalies(&app, &org.admin, &body).await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert!(r.json["errors"][path].is_array(), "{path}: {}", r.text);
    }
}
