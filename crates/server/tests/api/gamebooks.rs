//! Gamebooks: catalogue and rule routes, auto-run from ingest with real incident effects,
//! the HTTP action on a loopback receiver (and the SSRF guard), approval gating, failures,
//! the documented history routes, `gamebook.completed`, and a crashed worker's run resumed
//! from its first unfinished step after the lease lapses.

use std::time::{Duration, Instant};

use palisade_server::config::Config;
use palisade_store::{NewComment, NewRun, NewStep};
use palisade_test_utils::{Cred, Receiver, Reply, TestApp, TestOrg};
use palisade_types::incidents::IncidentSource;
use serde_json::{json, Value};
use uuid::Uuid;

fn fast(c: &mut Config) {
    c.webhooks.allow_private_targets = true;
    c.webhooks.allow_http = true;
    c.webhooks.poll_interval_ms = 50;
    c.webhooks.timeout_secs = 2;
    c.webhooks.lease_secs = 10;
    c.gamebooks.poll_interval_ms = 50;
    c.gamebooks.http_timeout_secs = 2;
    c.gamebooks.lease_secs = 5;
}

async fn app() -> TestApp {
    TestApp::spawn_with(fast).await
}

async fn playbook(app: &TestApp, cred: &Cred, body: Value) -> String {
    let r = app
        .post("/api/v2/gamebooks/playbooks", Some(cred), &body)
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.data()["id"].as_str().unwrap().to_string()
}

async fn rule(app: &TestApp, cred: &Cred, ws: Uuid, body: Value) -> Value {
    let r = app
        .post(
            &format!("/api/v2/workspaces/{ws}/gamebook-rules"),
            Some(cred),
            &body,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.data().clone()
}

async fn ingest(app: &TestApp, cred: &Cred, ws: Uuid, id: &str, body: Value) {
    let r = app
        .put(
            &format!("/api/v2/workspaces/{ws}/incidents/Sentinel/{id}"),
            Some(cred),
            &body,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// Polls `last-gamebook` until the run is in one of `statuses`.
async fn wait_status(
    app: &TestApp,
    cred: &Cred,
    ws: Uuid,
    incident: &str,
    statuses: &[&str],
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = app
            .get(
                &format!("/api/v2/workspaces/{ws}/incidents/Sentinel/{incident}/last-gamebook"),
                Some(cred),
            )
            .await;
        if r.status == 200 && statuses.contains(&r.data()["status"].as_str().unwrap_or("")) {
            return r.data().clone();
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {statuses:?}: {}",
            r.text
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits (30 s at most) until the organization's history counts `n` succeeded runs.
async fn wait_succeeded(app: &TestApp, cred: &Cred, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = app
            .get(
                "/api/v2/gamebooks/across-workspaces/history?currentPage=1&statuses=Succeeded",
                Some(cred),
            )
            .await;
        if r.data()["totalCount"] == n {
            break;
        }
        assert!(Instant::now() < deadline, "{}", r.text);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn detail(app: &TestApp, cred: &Cred, ws: Uuid, id: &str) -> Value {
    let r = app
        .get(
            &format!("/api/v2/workspaces/{ws}/incidents/Sentinel/{id}"),
            Some(cred),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.data().clone()
}

async fn comments(app: &TestApp, cred: &Cred, ws: Uuid, id: &str) -> Vec<Value> {
    let r = app
        .get(
            &format!("/api/v2/workspaces/{ws}/incidents/Sentinel/{id}/comments"),
            Some(cred),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.data().as_array().unwrap().clone()
}

async fn with_role(app: &TestApp, org: &TestOrg, ws: Uuid, role: &str) -> Cred {
    app.service_account(
        &org.admin,
        &json!({"name": role, "scopes": ["gamebooks:manage", "incidents:read", "incidents:ingest"],
                "workspaceAssignments": [{"workspaceId": ws, "role": role}]}),
    )
    .await
    .0
}

#[tokio::test]
async fn an_ingested_incident_runs_its_auto_run_rule_and_the_playbooks_change_it() {
    let app = app().await;
    let org = app.org("Gamebooks").await;
    let a = &org.admin;
    let ws = app.workspace(&org, "SOC").await;
    let rx = Receiver::start().await;
    let hooks = Receiver::start().await;
    let r = app
        .post(
            "/api/v2/webhooks",
            Some(a),
            &json!({"name": "gb", "url": hooks.url("/gb"), "eventTypes": ["gamebook.completed"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app
        .post(
            &format!("/api/v2/workspaces/{ws}/tickets"),
            Some(a),
            &json!({"ticketId": "AT-9", "autotaskTicket": {"id": 9, "number": "T2026.0009", "title": "Malware", "priority": "Medium"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    let note = playbook(&app, a, json!({"name": "Note", "entityType": "Incident",
        "parameters": {"team": "Tier 2"},
        "action": {"type": "AddComment", "message": "Triage of #{{incident.number}} '{{incident.title}}' for {{parameters.team}}"}})).await;
    let per_host = playbook(
        &app,
        a,
        json!({"name": "Isolate host", "entityType": "Host",
        "action": {"type": "AddComment", "message": "Isolating {{entity.displayName}}"}}),
    )
    .await;
    let severity = playbook(
        &app,
        a,
        json!({"name": "Raise", "action": {"type": "SetSeverity", "severity": "high"}}),
    )
    .await;
    let label = playbook(&app, a, json!({"name": "Label", "action": {"type": "AddLabel", "label": "auto-{{incident.source}}"}})).await;
    let assign = playbook(&app, a, json!({"name": "Assign", "action": {"type": "Assign", "email": "tier2@example.com", "displayName": "Tier 2"}})).await;
    let status = playbook(
        &app,
        a,
        json!({"name": "Activate", "action": {"type": "SetStatus", "status": "Active"}}),
    )
    .await;
    let ticket = playbook(
        &app,
        a,
        json!({"name": "Ticket", "action": {"type": "LinkTicket", "ticketId": "AT-9"}}),
    )
    .await;
    let http = playbook(
        &app,
        a,
        json!({"name": "Notify", "action": {"type": "HttpRequest", "method": "POST",
        "url": rx.url("/notify/{{incident.id}}"), "headers": {"X-Team": "{{parameters.team}}"},
        "body": "{\"title\": \"{{incident.title}}\", \"number\": {{incident.number}}}"},
        "parameters": {"team": "ir"}}),
    )
    .await;
    let account_only = playbook(
        &app,
        a,
        json!({"name": "Reset user", "entityType": "User",
        "action": {"type": "AddComment", "message": "Reset {{entity.displayName}}"}}),
    )
    .await;
    let ids = [
        &note,
        &per_host,
        &severity,
        &label,
        &assign,
        &status,
        &ticket,
        &http,
        &account_only,
    ];
    let created = rule(
        &app,
        a,
        ws,
        json!({"title": "Malware response", "matchType": "Regex",
        "titlePattern": "^malware on \\S+$", "severities": ["Medium"], "sources": ["sentinel"],
        "playbookIds": ids, "isAutoRun": true}),
    )
    .await;
    assert_eq!(created["matchType"], "Regex");
    assert_eq!(created["sources"], json!(["Sentinel"]));

    ingest(
        &app,
        a,
        ws,
        "INC-1",
        json!({"title": "Malware on web-01", "severity": "Medium",
        "entities": [{"id": "h1", "kind": "Host", "displayName": "web-01"},
                     {"id": "h2", "kind": "Host", "displayName": "web-02"}]}),
    )
    .await;
    // Not matching: another title, and a matching title with another severity.
    ingest(
        &app,
        a,
        ws,
        "INC-2",
        json!({"title": "Phishing mail", "severity": "Medium"}),
    )
    .await;
    ingest(
        &app,
        a,
        ws,
        "INC-3",
        json!({"title": "Malware on db-01", "severity": "Low"}),
    )
    .await;

    let run = wait_status(
        &app,
        a,
        ws,
        "INC-1",
        &["Succeeded", "PartiallySucceeded", "Failed"],
    )
    .await;
    assert_eq!(run["status"], "Succeeded", "{run:#}");
    assert_eq!(run["isAutoRun"], true);
    assert_eq!(run["title"], "Malware response");
    assert_eq!(run["ruleId"], created["id"]);
    assert_eq!(run["incidentNumber"], 1);
    assert_eq!(run["workspaceName"], "SOC");
    let books = run["playbooks"].as_array().unwrap();
    // Nine playbooks; the host playbook twice (two hosts); the user playbook skipped.
    assert_eq!(books.len(), 10, "{run:#}");
    let seq: Vec<i64> = books
        .iter()
        .map(|b| b["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(seq, (1..=10).collect::<Vec<_>>());
    let hosts: Vec<&str> = books
        .iter()
        .filter(|b| b["name"] == "Isolate host")
        .map(|b| b["affectedEntity"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["web-01", "web-02"]);
    let skipped = books.iter().find(|b| b["name"] == "Reset user").unwrap();
    assert_eq!(skipped["status"], "Skipped");
    assert_eq!(skipped["errorMessage"], "The incident has no User entity.");
    for b in books.iter().filter(|b| b["status"] != "Skipped") {
        assert_eq!(b["status"], "Succeeded", "{b:#}");
        assert!(
            b["startingDate"].is_string() && b["finishingDate"].is_string(),
            "{b:#}"
        );
        let t = b["executionTime"].as_str().unwrap();
        assert_eq!(t.len(), 12, "hh:mm:ss.fff: {t}");
        assert!(b["errorMessage"].is_null());
        assert_eq!(b["tracingId"], run["id"]);
    }
    let notify = books.iter().find(|b| b["name"] == "Notify").unwrap();
    assert_eq!(notify["output"]["httpStatus"], 200);

    // The incident changed as the actions say.
    let d = detail(&app, a, ws, "INC-1").await;
    let inc = &d["incident"];
    assert_eq!(inc["severity"], "High");
    assert_eq!(inc["status"], "Active");
    assert_eq!(inc["labels"], json!(["auto-Sentinel"]));
    assert_eq!(inc["owner"]["email"], "tier2@example.com");
    let c = comments(&app, a, ws, "INC-1").await;
    let texts: Vec<&str> = c.iter().map(|c| c["message"].as_str().unwrap()).collect();
    assert!(
        texts.contains(&"Triage of #1 'Malware on web-01' for Tier 2"),
        "{texts:?}"
    );
    assert!(texts.contains(&"Isolating web-01") && texts.contains(&"Isolating web-02"));
    assert!(texts.contains(&"Severity changed from Medium to High."));
    assert!(texts.contains(&"Status changed from New to Active."));
    let linked = c
        .iter()
        .find(|c| c["ticketId"] == "AT-9")
        .expect("ticket comment");
    assert_eq!(linked["isActivityComment"], true);
    let gamebook_note = c
        .iter()
        .find(|c| c["message"] == "Isolating web-01")
        .unwrap();
    assert_eq!(gamebook_note["authorName"], "Gamebook: Malware response");
    // The HTTP request, templated from the incident.
    let hits = rx.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(hits.len(), 1);
    let body = hits[0].json();
    assert_eq!(body, json!({"title": "Malware on web-01", "number": 1}));
    assert_eq!(hits[0].header("x-team"), Some("ir"));
    assert_eq!(hits[0].header("content-type"), Some("application/json"));

    // gamebook.completed, delivered by the webhook engine.
    let delivered = hooks.wait_for(1, Duration::from_secs(10)).await;
    let ev = delivered[0].json();
    assert_eq!(ev["type"], "gamebook.completed.v1");
    assert_eq!(ev["data"]["gamebookId"], run["id"]);
    assert_eq!(ev["data"]["status"], "Succeeded");
    assert_eq!(ev["data"]["source"], "sentinel");
    assert_eq!(ev["data"]["incidentId"], "INC-1");
    assert_eq!(ev["data"]["playbooks"].as_array().unwrap().len(), 10);

    // The non-matching incidents started nothing.
    for id in ["INC-2", "INC-3"] {
        app.get(
            &format!("/api/v2/workspaces/{ws}/incidents/Sentinel/{id}/last-gamebook"),
            Some(a),
        )
        .await
        .assert_problem(404, "NOT_FOUND");
    }
    // The catalogue follows the rules and the incident as it is now: INC-1 is High since the
    // run, so the Medium-only rule no longer applies until it also covers High.
    assert_eq!(
        detail(&app, a, ws, "INC-1").await["gamebookCatalog"],
        json!({"playbooks": []})
    );
    let rid = created["id"].as_str().unwrap();
    let r = app
        .put(
            &format!("/api/v2/workspaces/{ws}/gamebook-rules/{rid}"),
            Some(a),
            &json!({"severities": ["Medium", "High"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let cat = &detail(&app, a, ws, "INC-1").await["gamebookCatalog"]["playbooks"];
    assert_eq!(cat.as_array().unwrap().len(), 9, "{cat:#}");
    assert_eq!(cat[0]["ruleTitle"], "Malware response");
    assert_eq!(cat[0]["isAutoRun"], true);
    assert_eq!(
        detail(&app, a, ws, "INC-3").await["gamebookCatalog"],
        json!({"playbooks": []})
    );

    // Documented reads.
    let r = app
        .get(
            &format!("/api/v2/workspaces/{ws}/gamebooks/rules/Malware%20on%20db-01"),
            Some(a),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["rules"].as_array().unwrap().len(), 1);
    assert_eq!(r.data()["playbooks"].as_array().unwrap().len(), 9);
    let r = app
        .get(
            &format!("/api/v2/workspaces/{ws}/gamebooks/rules/Phishing"),
            Some(a),
        )
        .await;
    assert_eq!(r.data()["rules"], json!([]));

    let r = app
        .get(
            &format!("/api/v2/workspaces/{ws}/gamebooks/history"),
            Some(a),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["totalCount"], 1);
    assert!(r.data()["pageToken"].is_null());
    assert_eq!(r.data()["gamebooks"][0]["id"], run["id"]);
    let r = app
        .get(
            &format!("/api/v2/workspaces/{ws}/gamebooks/history?query=nothing-like-this"),
            Some(a),
        )
        .await;
    assert_eq!(r.data()["totalCount"], 0);
    let id = run["id"].as_str().unwrap();
    let r = app
        .get(
            &format!("/api/v2/workspaces/{ws}/gamebooks/history/{id}/playbooks?year=2026"),
            Some(a),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data().as_array().unwrap().len(), 10);
    let r = app
        .get(
            &format!("/api/v2/workspaces/{ws}/gamebooks/history/{id}/playbooks?year=soon"),
            Some(a),
        )
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    assert!(r.json["errors"]["year"].is_array());
    // `year` is required, and validated before the run is looked up: an unknown or
    // malformed run without it is a validation error, not a 404.
    for run in [id.to_string(), Uuid::new_v4().to_string(), "nope".into()] {
        let r = app
            .get(
                &format!("/api/v2/workspaces/{ws}/gamebooks/history/{run}/playbooks"),
                Some(a),
            )
            .await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert!(r.json["errors"]["year"].is_array(), "{}", r.text);
    }
    app.get(
        &format!(
            "/api/v2/workspaces/{ws}/gamebooks/history/{}/playbooks?year=2026",
            Uuid::new_v4()
        ),
        Some(a),
    )
    .await
    .assert_problem(404, "NOT_FOUND");
    let r = app
        .get(
            &format!("/api/v2/workspaces/{ws}/gamebooks/by-incident/INC-1"),
            Some(a),
        )
        .await;
    assert_eq!(r.data().as_array().unwrap().len(), 1);
    let r = app
        .get(
            "/api/v2/gamebooks/across-workspaces/history?currentPage=1&statuses=Succeeded,Failed",
            Some(a),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let page = r.data();
    assert_eq!(page["totalCount"], 1);
    assert_eq!(page["currentPage"], 1);
    assert_eq!(page["totalPages"], 1);
    assert_eq!(page["pageSize"], 20);
    assert_eq!(page["hasPreviousPage"], false);
    assert_eq!(page["hasNextPage"], false);
    assert_eq!(page["items"][0]["id"], run["id"]);

    // A workspace with rules, runs and tickets can be deleted; its history goes with it.
    let r = app
        .delete(&format!("/api/v2/workspaces/{ws}"), Some(a))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .get(
            "/api/v2/gamebooks/across-workspaces/history?currentPage=1",
            Some(a),
        )
        .await;
    assert_eq!(r.data()["totalCount"], 0);
}

#[tokio::test]
async fn admin_required_playbooks_wait_for_an_owner() {
    let app = app().await;
    let org = app.org("Approvals").await;
    let a = &org.admin;
    let ws = app.workspace(&org, "W").await;
    let responder = with_role(&app, &org, ws, "IncidentResponder").await;
    let owner = with_role(&app, &org, ws, "Owner").await;
    let first = playbook(
        &app,
        a,
        json!({"name": "Note", "action": {"type": "AddComment", "message": "before approval"}}),
    )
    .await;
    let gated = playbook(&app, a, json!({"name": "Close", "isAdminRequired": true,
        "action": {"type": "SetStatus", "status": "Closed", "classification": "FalsePositive", "classificationReason": "IncorrectAlertLogic"}})).await;
    rule(&app, a, ws, json!({"title": "Auto close", "titlePattern": "noisy", "playbookIds": [first, gated], "isAutoRun": true})).await;

    ingest(
        &app,
        a,
        ws,
        "N-1",
        json!({"title": "Noisy alert", "severity": "Low"}),
    )
    .await;
    let run = wait_status(&app, a, ws, "N-1", &["AwaitingApproval"]).await;
    assert_eq!(run["isAdminRequired"], true);
    assert_eq!(run["playbooks"][0]["status"], "Succeeded");
    assert_eq!(run["playbooks"][1]["status"], "AwaitingApproval");
    // Nothing past the gate ran.
    assert_eq!(
        detail(&app, a, ws, "N-1").await["incident"]["status"],
        "New"
    );
    let id = run["id"].as_str().unwrap();
    let approve = format!("/api/v2/workspaces/{ws}/gamebooks/runs/{id}/approve");
    app.post(&approve, Some(&responder), &json!({}))
        .await
        .assert_problem(403, "INSUFFICIENT_WORKSPACE_ROLE");
    let r = app.post(&approve, Some(&owner), &json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let done = wait_status(
        &app,
        a,
        ws,
        "N-1",
        &["Succeeded", "Failed", "PartiallySucceeded"],
    )
    .await;
    assert_eq!(done["status"], "Succeeded", "{done:#}");
    let inc = &detail(&app, a, ws, "N-1").await["incident"];
    assert_eq!(inc["status"], "Closed");
    assert_eq!(inc["classification"], "FalsePositive");
    // Approving again does not apply.
    app.post(&approve, Some(&owner), &json!({}))
        .await
        .assert_problem(409, "CONFLICT");

    // Rejected: cancelled, the gated playbook never runs.
    ingest(
        &app,
        a,
        ws,
        "N-2",
        json!({"title": "Noisy again", "severity": "Low"}),
    )
    .await;
    let run = wait_status(&app, a, ws, "N-2", &["AwaitingApproval"]).await;
    let id = run["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/api/v2/workspaces/{ws}/gamebooks/runs/{id}/reject"),
            Some(&owner),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["status"], "Cancelled");
    assert_eq!(r.data()["playbooks"][1]["status"], "Cancelled");
    assert!(r.data()["playbooks"][1]["errorMessage"]
        .as_str()
        .unwrap()
        .starts_with("Rejected by"));
    assert!(r.data()["finishedAt"].is_string());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        detail(&app, a, ws, "N-2").await["incident"]["status"],
        "New"
    );
    app.post(
        &format!("/api/v2/workspaces/{ws}/gamebooks/runs/{id}/approve"),
        Some(&owner),
        &json!({}),
    )
    .await
    .assert_problem(409, "CONFLICT");

    // A manual run by a responder, cancelled while it waits.
    let r = app
        .post(
            &format!("/api/v2/workspaces/{ws}/gamebooks/runs"),
            Some(&responder),
            &json!({"source": "sentinel", "incidentId": "N-2", "playbookIds": [gated]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.data()["isAutoRun"], false);
    assert_eq!(r.data()["title"], "Manual gamebook");
    let id = r.data()["id"].as_str().unwrap().to_string();
    let get = format!("/api/v2/workspaces/{ws}/gamebooks/runs/{id}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.get(&get, Some(&responder)).await.data()["status"] != "AwaitingApproval" {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = app
        .post(&format!("{get}/cancel"), Some(&responder), &json!({}))
        .await;
    assert_eq!(r.data()["status"], "Cancelled");
    app.post(&format!("{get}/cancel"), Some(&responder), &json!({}))
        .await
        .assert_problem(409, "CONFLICT");
    // gamebook.completed was written for each finished run, in the outbox.
    let completed: Vec<Value> = app
        .event_payloads(&org, "gamebook.completed")
        .await
        .into_iter()
        .map(|p| p["status"].clone())
        .collect();
    assert_eq!(completed, ["Succeeded", "Cancelled", "Cancelled"]);
}

#[tokio::test]
async fn a_failing_http_action_is_recorded_with_its_error() {
    let app = app().await;
    let org = app.org("Failures").await;
    let a = &org.admin;
    let ws = app.workspace(&org, "W").await;
    let rx = Receiver::with_plan(|_, _| Reply::status(500)).await;
    let note = playbook(
        &app,
        a,
        json!({"name": "Note", "action": {"type": "AddComment", "message": "noted"}}),
    )
    .await;
    let broken = playbook(
        &app,
        a,
        json!({"name": "Notify", "action": {"type": "HttpRequest", "url": rx.url("/x")}}),
    )
    .await;
    // A port nothing listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let unreachable = playbook(&app, a, json!({"name": "Unreachable", "action": {"type": "HttpRequest", "method": "GET", "url": format!("http://127.0.0.1:{closed}/x")}})).await;
    rule(&app, a, ws, json!({"title": "Partial", "matchType": "Exact", "titlePattern": "partial", "playbookIds": [note, broken], "isAutoRun": true})).await;
    rule(&app, a, ws, json!({"title": "Failing", "matchType": "Exact", "titlePattern": "failing", "playbookIds": [broken, unreachable], "isAutoRun": true})).await;

    ingest(
        &app,
        a,
        ws,
        "P-1",
        json!({"title": "Partial", "severity": "High"}),
    )
    .await;
    let run = wait_status(
        &app,
        a,
        ws,
        "P-1",
        &["Succeeded", "PartiallySucceeded", "Failed"],
    )
    .await;
    assert_eq!(run["status"], "PartiallySucceeded", "{run:#}");
    assert_eq!(run["playbooks"][0]["status"], "Succeeded");
    let failed = &run["playbooks"][1];
    assert_eq!(failed["status"], "Failed");
    assert_eq!(failed["errorMessage"], "The target answered HTTP 500.");
    assert_eq!(failed["output"]["httpStatus"], 500);
    assert!(failed["executionTime"].is_string());
    assert_eq!(
        run["summary"],
        "1 of 2 playbooks succeeded, 1 failed, 0 skipped."
    );

    ingest(
        &app,
        a,
        ws,
        "F-1",
        json!({"title": "failing", "severity": "High"}),
    )
    .await;
    let run = wait_status(
        &app,
        a,
        ws,
        "F-1",
        &["Succeeded", "PartiallySucceeded", "Failed"],
    )
    .await;
    assert_eq!(run["status"], "Failed", "{run:#}");
    let msg = run["playbooks"][1]["errorMessage"].as_str().unwrap();
    assert!(msg.starts_with("Could not connect to the target"), "{msg}");

    // Issue 16, item 15: `/metrics` counts gamebook runs by outcome, and the run jobs.
    let kind = "kind=\"gamebook.run\"";
    let want = [
        format!("palisade_job_outcomes_total{{{kind},outcome=\"PartiallySucceeded\"}} 1"),
        format!("palisade_job_outcomes_total{{{kind},outcome=\"Failed\"}} 1"),
        format!("palisade_jobs_total{{{kind},outcome=\"succeeded\"}} 2"),
        format!("palisade_jobs_queued{{{kind}}} 0"),
    ];
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = app.get("/metrics", None).await.text;
        if want.iter().all(|w| text.lines().any(|l| l == w)) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{want:?} in {text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Without allow_private_targets the SSRF guard refuses a loopback target.
    let strict = TestApp::spawn_with(|c| {
        c.gamebooks.poll_interval_ms = 50;
    })
    .await;
    let org = strict.org("Strict").await;
    let a = &org.admin;
    let ws = strict.workspace(&org, "W").await;
    let p = playbook(
        &strict,
        a,
        json!({"name": "Exfil", "action": {"type": "HttpRequest", "url": "https://127.0.0.1/x"}}),
    )
    .await;
    rule(
        &strict,
        a,
        ws,
        json!({"title": "x", "titlePattern": "x", "playbookIds": [p], "isAutoRun": true}),
    )
    .await;
    ingest(
        &strict,
        a,
        ws,
        "S-1",
        json!({"title": "x", "severity": "High"}),
    )
    .await;
    let run = wait_status(
        &strict,
        a,
        ws,
        "S-1",
        &["Succeeded", "PartiallySucceeded", "Failed"],
    )
    .await;
    assert_eq!(run["status"], "Failed");
    let msg = run["playbooks"][0]["errorMessage"].as_str().unwrap();
    assert!(
        msg.contains("SSRF") || msg.contains("not allowed") || msg.contains("loopback"),
        "{msg}"
    );
    assert!(rx.hits().len() >= 2);
}

#[tokio::test]
async fn a_run_whose_worker_crashed_resumes_at_its_first_unfinished_step() {
    // Idle workers wait a long time, so the test controls when the real worker looks.
    let app = TestApp::spawn_with(|c| {
        fast(c);
        c.gamebooks.poll_interval_ms = 60_000;
        c.gamebooks.lease_secs = 2;
        c.gamebooks.http_timeout_secs = 1;
    })
    .await;
    let org = app.org("Crash").await;
    let a = &org.admin;
    let ws = app.workspace(&org, "W").await;
    ingest(
        &app,
        a,
        ws,
        "C-1",
        json!({"title": "Crash test", "severity": "Medium"}),
    )
    .await;
    let store = app.state.store();
    let step = |name: &str, action: Value| NewStep {
        playbook_id: Uuid::new_v4(),
        name: name.into(),
        description: None,
        entity_type: "Incident".into(),
        entity_id: None,
        affected_entity: Some("Crash test".into()),
        is_admin_required: false,
        parameters: "{}".into(),
        action: action.to_string(),
        status: "Pending",
        error_message: None,
    };
    let tenant = store.tenant(&app.org_id(&org).await);
    let workspace = tenant.workspace(ws).await.unwrap().unwrap().id;
    let system = store.system();
    let id = tenant
        .create_run(
            &workspace,
            &NewRun {
                source: IncidentSource::Sentinel,
                incident_id: "C-1".into(),
                incident_number: 1,
                incident_title: "Crash test".into(),
                rule_id: None,
                title: "Three steps".into(),
                is_auto_run: false,
                triggered_by: None,
                trigger_event_id: None,
                steps: vec![
                    step("One", json!({"type": "AddComment", "message": "step one"})),
                    step("Two", json!({"type": "AddLabel", "label": "two"})),
                    step("Three", json!({"type": "SetSeverity", "severity": "High"})),
                ],
            },
        )
        .await
        .unwrap();
    // A worker of a replica that then dies: it claims the run, finishes step one, starts
    // step two and is gone.
    let now = palisade_domain::time::to_micros(chrono::Utc::now());
    let lease = now + 1_000_000;
    let leased = system
        .lease_jobs(
            palisade_store::RUN_KIND,
            "dead-replica",
            now,
            lease,
            10,
            &[],
        )
        .await
        .unwrap();
    assert_eq!(leased.len(), 1);
    assert_eq!(leased[0].payload, id.to_string());
    assert!(system.adopt_run(id, "dead-replica", lease).await.unwrap());
    let item = system.run_for_work(id).await.unwrap().unwrap();
    let steps = item.steps.clone();
    let dead = |step| palisade_store::StepAttempt {
        step,
        owner: "dead-replica",
        lease_until: lease,
        started_at: now,
    };
    assert!(system
        .start_step(id, steps[0].id, "dead-replica", lease)
        .await
        .unwrap());
    let (rec, _, _) = system
        .finish_step_with_change(&item, &dead(steps[0].id), |row| {
            Ok((
                row.doc.clone(),
                vec![NewComment {
                    message: "step one".into(),
                    author_name: Some("Gamebook: Three steps".into()),
                    author_email: None,
                    is_activity: false,
                    is_closing: false,
                    ticket_id: None,
                }],
            ))
        })
        .await
        .unwrap();
    assert!(matches!(rec, palisade_store::StepRecorded::Done { .. }));
    assert!(system
        .start_step(id, steps[1].id, "dead-replica", lease)
        .await
        .unwrap());

    let get = format!("/api/v2/workspaces/{ws}/gamebooks/runs/{id}");
    let r = app.get(&get, Some(a)).await;
    assert_eq!(r.data()["status"], "Running");
    assert_eq!(r.data()["playbooks"][0]["status"], "Succeeded");
    assert_eq!(r.data()["playbooks"][1]["status"], "Running");
    // While the lease holds, no other worker takes the run.
    app.state.jobs().wake(palisade_store::RUN_KIND);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        app.get(&get, Some(a)).await.data()["playbooks"][1]["status"],
        "Running"
    );
    assert_eq!(
        detail(&app, a, ws, "C-1").await["incident"]["labels"],
        json!([])
    );

    // After the lease lapses, the live worker resumes it.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    app.state.jobs().wake(palisade_store::RUN_KIND);
    let run = wait_status(
        &app,
        a,
        ws,
        "C-1",
        &["Succeeded", "PartiallySucceeded", "Failed"],
    )
    .await;
    assert_eq!(run["status"], "Succeeded", "{run:#}");
    assert_eq!(run["isRecover"], true);
    let inc = &detail(&app, a, ws, "C-1").await["incident"];
    assert_eq!(inc["labels"], json!(["two"]));
    assert_eq!(inc["severity"], "High");
    // Step one is not done twice.
    let c = comments(&app, a, ws, "C-1").await;
    assert_eq!(c.iter().filter(|c| c["message"] == "step one").count(), 1);
    // The dead worker can no longer record anything.
    let late = system
        .finish_step(
            id,
            &dead(steps[2].id),
            &palisade_store::StepResult {
                status: "Failed",
                error_message: Some("late".into()),
                output: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(late, palisade_store::StepRecorded::Lost);
}

#[tokio::test]
async fn catalogue_and_rule_routes_validate_and_hide_other_organizations() {
    let app = app().await;
    let org = app.org("Routes").await;
    let other = app.org("Other").await;
    let a = &org.admin;
    let ws = app.workspace(&org, "W").await;
    let other_ws = app.workspace(&other, "X").await;

    // Validation names the field.
    let r = app
        .post(
            "/api/v2/gamebooks/playbooks",
            Some(a),
            &json!({"name": "x", "entityType": "Printer", "action": {"type": "Explode"}}),
        )
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    assert!(r.json["errors"]["entityType"].is_array(), "{}", r.text);
    assert!(r.json["errors"]["action.type"].is_array(), "{}", r.text);
    let r = app
        .post(
            "/api/v2/gamebooks/playbooks",
            Some(a),
            &json!({"name": "x", "action": {"type": "SetStatus", "status": "Closed"}}),
        )
        .await;
    assert!(
        r.json["errors"]["action.classification"].is_array(),
        "{}",
        r.text
    );
    let r = app
        .post(
            "/api/v2/gamebooks/playbooks",
            Some(a),
            &json!({"name": "x", "action": {"type": "HttpRequest", "url": "ftp://example.com"}}),
        )
        .await;
    assert!(r.json["errors"]["action.url"].is_array(), "{}", r.text);
    let r = app
        .post("/api/v2/gamebooks/playbooks", Some(a), &json!({"name": 5}))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);

    let p = playbook(
        &app,
        a,
        json!({"name": "Note", "description": "d", "entityType": "user",
        "action": {"type": "AddComment", "message": "m"}}),
    )
    .await;
    let r = app
        .get(&format!("/api/v2/gamebooks/playbooks/{p}"), Some(a))
        .await;
    assert_eq!(r.data()["entityType"], "User");
    assert_eq!(r.data()["isAdminRequired"], false);
    assert_eq!(
        r.data()["action"],
        json!({"type": "AddComment", "message": "m"})
    );
    let r = app
        .put(
            &format!("/api/v2/gamebooks/playbooks/{p}"),
            Some(a),
            &json!({"isAdminRequired": true}),
        )
        .await;
    assert_eq!(r.data()["isAdminRequired"], true);
    assert_eq!(r.data()["name"], "Note");
    assert_eq!(app.count("/api/v2/gamebooks/playbooks", a).await, 1);
    // Another organization sees none of it.
    let o = &other.admin;
    app.get(&format!("/api/v2/gamebooks/playbooks/{p}"), Some(o))
        .await
        .assert_problem(404, "NOT_FOUND");
    app.delete(&format!("/api/v2/gamebooks/playbooks/{p}"), Some(o))
        .await
        .assert_problem(404, "NOT_FOUND");
    assert_eq!(
        app.get("/api/v2/gamebooks/playbooks", Some(o)).await.data(),
        &json!([])
    );
    // A ContentAdmin-less caller cannot manage the catalogue.
    let responder = with_role(&app, &org, ws, "IncidentResponder").await;
    app.post(
        "/api/v2/gamebooks/playbooks",
        Some(&responder),
        &json!({"name": "n", "action": {"type": "AddLabel", "label": "l"}}),
    )
    .await
    .assert_problem(403, "INSUFFICIENT_WORKSPACE_ROLE");
    let content = with_role(&app, &org, ws, "ContentAdmin").await;
    playbook(
        &app,
        &content,
        json!({"name": "n", "action": {"type": "AddLabel", "label": "l"}}),
    )
    .await;

    // Rules.
    let rules = format!("/api/v2/workspaces/{ws}/gamebook-rules");
    let r = app
        .post(&rules, Some(a), &json!({"title": "r", "matchType": "Regex", "titlePattern": "(", "playbookIds": [Uuid::new_v4()]}))
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    assert!(r.json["errors"]["titlePattern"].is_array(), "{}", r.text);
    assert!(r.json["errors"]["playbookIds[0]"].is_array(), "{}", r.text);
    let r = app
        .post(
            &rules,
            Some(a),
            &json!({"title": "r", "titlePattern": "x", "severities": ["Huge"], "playbookIds": []}),
        )
        .await;
    assert!(r.json["errors"]["severities[0]"].is_array(), "{}", r.text);
    assert!(r.json["errors"]["playbookIds"].is_array(), "{}", r.text);
    let created = rule(
        &app,
        a,
        ws,
        json!({"title": "r", "titlePattern": "x", "playbookIds": [p]}),
    )
    .await;
    assert_eq!(created["matchType"], "Contains");
    assert_eq!(created["isAutoRun"], false);
    assert_eq!(created["isEnabled"], true);
    let rid = created["id"].as_str().unwrap();
    let r = app
        .put(
            &format!("{rules}/{rid}"),
            Some(a),
            &json!({"isEnabled": false, "matchType": "Exact"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["isEnabled"], false);
    assert_eq!(r.data()["matchType"], "Exact");
    assert_eq!(r.data()["titlePattern"], "x");
    assert_eq!(app.count(&rules, a).await, 1);
    // A content admin can change rules; a responder cannot (the route walk covers the rest).
    let r = app
        .put(
            &format!("{rules}/{rid}"),
            Some(&content),
            &json!({"isEnabled": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Another organization's workspace and rule: 404.
    app.get(
        &format!("/api/v2/workspaces/{ws}/gamebook-rules/{rid}"),
        Some(o),
    )
    .await
    .assert_problem(404, "NOT_FOUND");
    app.get(
        &format!("/api/v2/workspaces/{other_ws}/gamebook-rules/{rid}"),
        Some(o),
    )
    .await
    .assert_problem(404, "NOT_FOUND");
    app.get(&format!("{rules}/{}", Uuid::new_v4()), Some(a))
        .await
        .assert_problem(404, "NOT_FOUND");
    let r = app.delete(&format!("{rules}/{rid}"), Some(a)).await;
    assert_eq!(r.data(), &json!(true));
    app.delete(&format!("{rules}/{rid}"), Some(a))
        .await
        .assert_problem(404, "NOT_FOUND");

    // Runs: unknown run, unknown incident, bad bodies, another organization's run.
    let gb = format!("/api/v2/workspaces/{ws}/gamebooks");
    app.get(&format!("{gb}/runs/{}", Uuid::new_v4()), Some(a))
        .await
        .assert_problem(404, "NOT_FOUND");
    app.get(
        &format!("{gb}/history/{}/playbooks?year=2026", Uuid::new_v4()),
        Some(a),
    )
    .await
    .assert_problem(404, "NOT_FOUND");
    app.post(
        &format!("{gb}/runs/{}/approve", Uuid::new_v4()),
        Some(a),
        &json!({}),
    )
    .await
    .assert_problem(404, "NOT_FOUND");
    app.post(
        &format!("{gb}/runs"),
        Some(a),
        &json!({"source": "Sentinel", "incidentId": "nope", "playbookIds": [p]}),
    )
    .await
    .assert_problem(404, "NOT_FOUND");
    let r = app
        .post(&format!("{gb}/runs"), Some(a), &json!({"source": "Nope"}))
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    assert!(
        r.json["errors"]["source"].is_array() && r.json["errors"]["incidentId"].is_array(),
        "{}",
        r.text
    );
    ingest(
        &app,
        a,
        ws,
        "R-1",
        json!({"title": "Routes", "severity": "Low"}),
    )
    .await;
    let r = app
        .post(
            &format!("{gb}/runs"),
            Some(a),
            &json!({"source": "Sentinel", "incidentId": "R-1", "playbookIds": [Uuid::new_v4()]}),
        )
        .await;
    assert!(r.json["errors"]["playbookIds[0]"].is_array(), "{}", r.text);
    let r = app
        .post(&format!("{gb}/runs"), Some(a), &json!({"source": "Sentinel", "incidentId": "R-1", "playbookIds": [p], "title": "Mine"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.data()["title"], "Mine");
    let run = r.data()["id"].as_str().unwrap().to_string();
    app.get(
        &format!("/api/v2/workspaces/{ws}/gamebooks/runs/{run}"),
        Some(o),
    )
    .await
    .assert_problem(404, "NOT_FOUND");
    app.get(
        &format!("/api/v2/workspaces/{other_ws}/gamebooks/runs/{run}"),
        Some(o),
    )
    .await
    .assert_problem(404, "NOT_FOUND");
    // Cross-workspace history covers only the caller's workspaces.
    let r = app
        .get(
            "/api/v2/gamebooks/across-workspaces/history?currentPage=1",
            Some(o),
        )
        .await;
    assert_eq!(r.data()["totalCount"], 0);
    let r = app
        .get(
            &format!(
                "/api/v2/gamebooks/across-workspaces/history?currentPage=1&workspaces={other_ws}"
            ),
            Some(a),
        )
        .await;
    assert_eq!(r.data()["totalCount"], 0);
    let r = app
        .get("/api/v2/gamebooks/across-workspaces/history", Some(a))
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    assert!(r.json["errors"]["currentPage"].is_array());
    let r = app
        .get("/api/v2/gamebooks/across-workspaces/history?currentPage=1&statuses=Bogus&workspaces=nope", Some(a))
        .await;
    assert!(
        r.json["errors"]["statuses[0]"].is_array() && r.json["errors"]["workspaces[0]"].is_array(),
        "{}",
        r.text
    );
    // A tampered page token.
    let r = app
        .get(&format!("{gb}/history?pageToken=abc"), Some(a))
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    // Unknown incident: last-gamebook 404.
    app.get(
        &format!("/api/v2/workspaces/{ws}/incidents/Sentinel/none/last-gamebook"),
        Some(a),
    )
    .await
    .assert_problem(404, "NOT_FOUND");
}

#[tokio::test]
async fn history_pages_with_tokens_and_page_numbers() {
    let app = app().await;
    let org = app.org("Paging").await;
    let a = &org.admin;
    let ws = app.workspace(&org, "W").await;
    let p = playbook(
        &app,
        a,
        json!({"name": "Note", "action": {"type": "AddLabel", "label": "seen"}}),
    )
    .await;
    rule(&app, a, ws, json!({"title": "Everything", "titlePattern": "incident", "playbookIds": [p], "isAutoRun": true})).await;
    let n = 55;
    let items: Vec<Value> = (0..n)
        .map(|i| json!({"id": format!("I-{i}"), "title": format!("Incident {i}"), "severity": "Low"}))
        .collect();
    let r = app
        .post(
            &format!("/api/v2/workspaces/{ws}/incidents/Sentinel/ingest"),
            Some(a),
            &json!({"incidents": items}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    wait_succeeded(&app, a, n).await;
    // Page tokens: every run exactly once.
    let mut seen = std::collections::HashSet::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let url = match &token {
            Some(t) => format!("/api/v2/workspaces/{ws}/gamebooks/history?pageToken={t}"),
            None => format!("/api/v2/workspaces/{ws}/gamebooks/history"),
        };
        let r = app.get(&url, Some(a)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.data()["totalCount"], n);
        pages += 1;
        for g in r.data()["gamebooks"].as_array().unwrap() {
            assert!(seen.insert(g["id"].as_str().unwrap().to_string()));
        }
        match r.data()["pageToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!((seen.len(), pages), (n as usize, 2));
    // A token is bound to its query.
    let r = app
        .get(
            &format!("/api/v2/workspaces/{ws}/gamebooks/history"),
            Some(a),
        )
        .await;
    let t = r.data()["pageToken"].as_str().unwrap();
    app.get(
        &format!("/api/v2/workspaces/{ws}/gamebooks/history?pageToken={t}&query=incident"),
        Some(a),
    )
    .await
    .assert_problem(400, "VALIDATION_ERROR");
    // Page numbers.
    let r = app
        .get(
            "/api/v2/gamebooks/across-workspaces/history?currentPage=3&pageSize=20",
            Some(a),
        )
        .await;
    let d = r.data();
    assert_eq!(d["items"].as_array().unwrap().len(), 15);
    assert_eq!(
        (
            d["totalPages"].as_i64(),
            d["hasPreviousPage"].as_bool(),
            d["hasNextPage"].as_bool()
        ),
        (Some(3), Some(true), Some(false))
    );
    let r = app
        .get("/api/v2/gamebooks/across-workspaces/history?currentPage=1&pageSize=20&query=incident%2054", Some(a))
        .await;
    assert_eq!(r.data()["totalCount"], 1);
}

#[tokio::test]
async fn two_replicas_start_and_work_each_run_once() {
    let app = app().await;
    let mut replica = app.replica().await;
    let org = app.org("Replicas").await;
    let a = &org.admin;
    let ws = app.workspace(&org, "W").await;
    let p = playbook(
        &app,
        a,
        json!({"name": "Note", "action": {"type": "AddComment", "message": "once"}}),
    )
    .await;
    rule(
        &app,
        a,
        ws,
        json!({"title": "All", "titlePattern": "replica", "playbookIds": [p], "isAutoRun": true}),
    )
    .await;
    let n = 40;
    // Ingest through both replicas, so both triggers see events.
    for i in 0..n {
        let base = if i % 2 == 0 {
            app.url("")
        } else {
            format!("http://{}", replica.addr)
        };
        let r = reqwest::Client::new()
            .put(format!(
                "{base}/api/v2/workspaces/{ws}/incidents/Sentinel/R-{i}"
            ))
            .header("authorization", a.header())
            .json(&json!({"title": format!("Replica {i}"), "severity": "Low"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    wait_succeeded(&app, a, n).await;
    replica.stop().await;
    let r = app
        .get(
            "/api/v2/gamebooks/across-workspaces/history?currentPage=1",
            Some(a),
        )
        .await;
    assert_eq!(r.data()["totalCount"], n, "one run per incident");
    for i in 0..n {
        let c = comments(&app, a, ws, &format!("R-{i}")).await;
        assert_eq!(
            c.iter().filter(|c| c["message"] == "once").count(),
            1,
            "R-{i}"
        );
    }
}

#[tokio::test]
async fn a_gamebook_comment_emits_incident_updated_with_the_comment() {
    let app = app().await;
    let org = app.org("Gamebook comments").await;
    let a = &org.admin;
    let ws = app.workspace(&org, "SOC").await;
    let note = playbook(
        &app,
        a,
        json!({"name": "Note", "action": {"type": "AddComment", "message": "Triage of #{{incident.number}}"}}),
    )
    .await;
    rule(
        &app,
        a,
        ws,
        json!({"title": "Note beacons", "matchType": "Contains", "titlePattern": "Beacon",
               "playbookIds": [note], "isAutoRun": true}),
    )
    .await;
    ingest(
        &app,
        a,
        ws,
        "INC-1",
        json!({"title": "Beacon", "severity": "Low"}),
    )
    .await;
    wait_succeeded(&app, a, 1).await;
    let updates = app.event_payloads(&org, "incident.updated").await;
    assert_eq!(updates.len(), 1, "{updates:?}");
    let changes = updates[0]["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["field"], "comments");
    assert!(changes[0]["from"].is_null());
    assert_eq!(changes[0]["to"]["message"], "Triage of #1");
    assert_eq!(changes[0]["to"]["isActivityComment"], false);
    let listed = comments(&app, a, ws, "INC-1").await;
    assert_eq!(changes[0]["to"]["id"], listed[0]["id"]);
}
