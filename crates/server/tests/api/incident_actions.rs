//! The restored incident actions (explicit source) and the legacy no-source routes.

use palisade_test_utils::{Cred, Resp, TestApp, TestOrg};
use serde_json::{json, Value};
use uuid::Uuid;

async fn setup() -> (TestApp, TestOrg, Uuid) {
    let app = TestApp::spawn().await;
    let org = app.org("Actions").await;
    let ws = app.workspace(&org, "SOC").await;
    for (id, sev, title) in [
        ("INC-1", "High", "Ransomware"),
        ("INC-2", "High", "Beacon"),
        ("INC-3", "Low", "Port scan"),
    ] {
        let r = app
            .put(
                &format!("/api/v2/workspaces/{ws}/incidents/Sentinel/{id}"),
                Some(&org.admin),
                &json!({"title": title, "severity": sev,
                        "entities": [{"id": "h", "kind": "Host", "displayName": "web-01"},
                                     {"id": "u", "kind": "Account", "displayName": "svc-backup"}],
                        "alerts": [{"id": "a1", "title": "Suspicious process", "productName": "Defender for Endpoint", "vendorName": "Microsoft"},
                                   {"id": "a2", "title": "Suspicious process", "productName": "Defender for Endpoint", "severity": "Medium"},
                                   {"id": "a3", "title": "Credential dumping", "productName": "Defender for Endpoint"}],
                        "tactics": ["Execution"]}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    (app, org, ws)
}

fn comments(r: &Value) -> Vec<(String, bool, bool)> {
    r["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["message"].as_str().unwrap().to_string(),
                c["isActivityComment"].as_bool().unwrap(),
                c["isClosingComment"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// `PUT {base}/status`.
async fn set_status(app: &TestApp, cred: &Cred, base: &str, body: &Value) -> Resp {
    app.put(&format!("{base}/status"), Some(cred), body).await
}

/// The comments of the incident at `base`, as in [`comments`].
async fn timeline(app: &TestApp, cred: &Cred, base: &str) -> Vec<(String, bool, bool)> {
    comments(&app.get(&format!("{base}/comments"), Some(cred)).await.json)
}

#[tokio::test]
async fn status_changes_validate_classification_and_leave_a_timeline() {
    let (app, org, ws) = setup().await;
    let base = format!("/api/v2/workspaces/{ws}/incidents/Sentinel/INC-1");
    // Read first, so a cached copy exists that the change must replace.
    assert_eq!(
        app.get(&base, Some(&org.admin)).await.data()["incident"]["status"],
        "New"
    );
    let refused = async |body: Value| {
        let r = set_status(&app, &org.admin, &base, &body).await;
        r.assert_problem(400, "VALIDATION_ERROR");
        r
    };
    let r = refused(json!({"status": "Closed"})).await;
    assert!(
        r.json["errors"]["classification"].is_array()
            && r.json["errors"]["classificationReason"].is_array()
    );
    // The errors name the valid values: the classifications, and the reasons valid for the
    // classification.
    assert!(r.first_error("classification").contains("TruePositive"));
    let r = refused(
        json!({"status": "Closed", "classification": "FalsePositive",
                           "classificationReason": "ConfirmedActivity"}),
    )
    .await;
    assert!(r
        .first_error("classificationReason")
        .ends_with("Reasons for 'FalsePositive': InaccurateData, IncorrectAlertLogic, Other."));
    let r = refused(json!({"status": "Closed", "classification": "BenignPositive"})).await;
    assert!(r
        .first_error("classificationReason")
        .contains("Reasons for 'BenignPositive': SuspiciousButExpected, Other."));
    refused(json!({"status": "Active", "classification": "TruePositive"})).await;

    let close = json!({"status": "Closed", "classification": "FalsePositive",
                       "classificationReason": "InaccurateData",
                       "comment": "Confirmed benign. User was traveling."});
    let r = set_status(&app, &org.admin, &base, &close).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["status"], "Closed");
    assert_eq!(r.data()["classification"], "FalsePositive");
    assert_eq!(r.data()["classificationReason"], "InaccurateData");
    assert_eq!(
        app.get(&base, Some(&org.admin)).await.data()["incident"]["status"],
        "Closed"
    );
    let c = timeline(&app, &org.admin, &base).await;
    assert_eq!(c.len(), 2);
    assert!(
        c[0].0.starts_with(
            "Status changed from New to Closed. Classification: FalsePositive (InaccurateData)"
        ),
        "{c:?}"
    );
    assert!(c[0].1 && c[0].2, "activity, closing");
    assert_eq!(
        c[1],
        ("Confirmed benign. User was traveling.".into(), false, true)
    );

    // The same status again changes nothing and adds nothing.
    let again = json!({"status": "Closed", "classification": "FalsePositive", "classificationReason": "InaccurateData"});
    set_status(&app, &org.admin, &base, &again).await;
    assert_eq!(timeline(&app, &org.admin, &base).await.len(), 2);

    // Reopening clears the verdict.
    let r = set_status(&app, &org.admin, &base, &json!({"status": "Active"})).await;
    assert_eq!(r.data()["status"], "Active");
    assert!(r.data()["classification"].is_null());

    let updates = app.event_payloads(&org, "incident.updated").await;
    assert_eq!(
        updates.len(),
        2,
        "close and reopen; the no-op emitted nothing"
    );
    let fields: Vec<&str> = updates[0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    // Changes are listed in field-name order; the caller's comment is one of them.
    assert_eq!(
        fields,
        vec![
            "classification",
            "classificationReason",
            "comments",
            "status"
        ]
    );
    let comment = &updates[0]["changes"][2];
    assert!(comment["from"].is_null());
    assert_eq!(
        comment["to"]["message"],
        "Confirmed benign. User was traveling."
    );
    assert_eq!(comment["to"]["isClosingComment"], true);
}

#[tokio::test]
async fn legacy_routes_take_the_source_from_the_body() {
    let (app, org, ws) = setup().await;
    let legacy = format!("/api/v2/workspaces/{ws}/incidents/INC-2");
    // A status change, never an upsert of an incident called "status".
    let r = app
        .put(
            &format!("{legacy}/status"),
            Some(&org.admin),
            &json!({"source": "sentinel", "status": "Active"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["id"], "INC-2");
    assert_eq!(r.data()["status"], "Active");
    let r = app
        .put(
            &format!("{legacy}/status"),
            Some(&org.admin),
            &json!({"status": "Active"}),
        )
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    assert!(r.json["errors"]["source"].is_array());
    // The legacy path is a route of its own: reading it is not a detail read.
    app.get(
        &format!("/api/v2/workspaces/{ws}/incidents/INC-2/status"),
        Some(&org.admin),
    )
    .await
    .assert_problem(405, "METHOD_NOT_ALLOWED");

    let r = app
        .post(
            &format!("{legacy}/comments"),
            Some(&org.admin),
            &json!({"source": "Sentinel", "content": "Escalating to Tier 2"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.data()["message"], "Escalating to Tier 2");
    assert_eq!(r.data()["authorName"], "Bootstrap administrator");
    let r = app
        .put(
            &format!("{legacy}/assign"),
            Some(&org.admin),
            &json!({"source": "SENTINEL", "email": "analyst@contoso.com", "userId": "u-1"}),
        )
        .await;
    assert_eq!(r.data()["owner"]["email"], "analyst@contoso.com");
    // The incident of another source with the same id is a different incident.
    app.put(
        &format!("{legacy}/status"),
        Some(&org.admin),
        &json!({"source": "Splunk", "status": "Active"}),
    )
    .await
    .assert_problem(404, "NOT_FOUND");
    // Ingest refuses ids that name routes.
    app.put(
        &format!("/api/v2/workspaces/{ws}/incidents/Sentinel/bulk"),
        Some(&org.admin),
        &json!({"title": "t", "severity": "Low"}),
    )
    .await
    .assert_problem(400, "VALIDATION_ERROR");
}

#[tokio::test]
async fn assign_and_unassign() {
    let (app, org, ws) = setup().await;
    let base = format!("/api/v2/workspaces/{ws}/incidents/Sentinel/INC-3");
    let r = app
        .put(&format!("{base}/assign"), Some(&org.admin), &json!({"userId": "61eec97d", "email": "analyst@contoso.com", "displayName": "Jane Doe"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["owner"]["displayName"], "Jane Doe");
    let r = app
        .put(&format!("{base}/assign"), Some(&org.admin), &json!({}))
        .await;
    assert!(r.data()["owner"].is_null());
    let c = timeline(&app, &org.admin, &base).await;
    assert_eq!(
        c.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(),
        vec!["Assigned to Jane Doe.", "Unassigned."]
    );
    app.put(
        &format!("{base}/assign"),
        Some(&org.admin),
        &json!({"email": "not-an-email"}),
    )
    .await
    .assert_problem(400, "VALIDATION_ERROR");
}

#[tokio::test]
async fn bulk_reports_each_item() {
    let (app, org, ws) = setup().await;
    let path = format!("/api/v2/workspaces/{ws}/incidents/Sentinel/bulk");
    let r = app
        .put(&path, Some(&org.admin),
             &json!({"incidentIds": ["INC-1", "INC-404", "INC-2"], "status": "Active", "comment": "Triaged in bulk",
                     "assignee": {"email": "tier1@contoso.com"}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (r.data()["succeeded"].as_u64(), r.data()["failed"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(r.data()["items"][1]["error"]["code"], "NOT_FOUND");
    let d = app
        .get(
            &format!("/api/v2/workspaces/{ws}/incidents/Sentinel/INC-2"),
            Some(&org.admin),
        )
        .await;
    assert_eq!(d.data()["incident"]["status"], "Active");
    assert_eq!(d.data()["incident"]["owner"]["email"], "tier1@contoso.com");
    let c = comments(
        &app.get(
            &format!("/api/v2/workspaces/{ws}/incidents/Sentinel/INC-1/comments"),
            Some(&org.admin),
        )
        .await
        .json,
    );
    assert_eq!(c.len(), 3, "{c:?}");
    let ids: Vec<String> = (0..101).map(|i| format!("X-{i}")).collect();
    app.put(
        &path,
        Some(&org.admin),
        &json!({"incidentIds": ids, "status": "Active"}),
    )
    .await
    .assert_problem(400, "VALIDATION_ERROR");
    app.put(&path, Some(&org.admin), &json!({"incidentIds": ["INC-1"]}))
        .await
        .assert_problem(400, "VALIDATION_ERROR");
}

#[tokio::test]
async fn comments_create_and_edit_with_either_scope() {
    let (app, org, ws) = setup().await;
    let base = format!("/api/v2/workspaces/{ws}/incidents/Sentinel/INC-1");
    let (commenter, _) = app
        .service_account(
            &org.admin,
            &json!({"name": "Jira sync", "scopes": ["incidents:comments"],
                    "workspaceAssignments": [{"workspaceId": ws, "role": "IncidentAnalyst"}]}),
        )
        .await;
    let r = app
        .post(
            &format!("{base}/comments"),
            Some(&commenter),
            &json!({"content": "Linked to JIRA-42", "extensionId": "ext-1"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.data()["authorName"], "Jira sync");
    assert_eq!(r.data()["isActivityComment"], false);
    let id = r.data()["id"].as_str().unwrap().to_string();
    let r = app
        .put(
            &format!("{base}/comments/{id}"),
            Some(&commenter),
            &json!({"content": "Linked to JIRA-43"}),
        )
        .await;
    assert_eq!(r.data()["message"], "Linked to JIRA-43");
    // The analyst may not change status.
    app.put(
        &format!("{base}/status"),
        Some(&commenter),
        &json!({"status": "Active"}),
    )
    .await
    .assert_problem(403, "INSUFFICIENT_SCOPE");
    // Activity comments are history.
    app.put(
        &format!("{base}/assign"),
        Some(&org.admin),
        &json!({"email": "a@b.example"}),
    )
    .await;
    let all = app.get(&format!("{base}/comments"), Some(&org.admin)).await;
    let activity = all
        .data()
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["isActivityComment"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let refused = [
        (
            true,
            format!("{base}/comments/{activity}"),
            "rewrite history",
            409,
            "CONFLICT",
        ),
        (true, format!("{base}/comments/nope"), "x", 404, "NOT_FOUND"),
        (
            false,
            format!("{base}/comments"),
            "",
            400,
            "VALIDATION_ERROR",
        ),
        (
            false,
            format!("/api/v2/workspaces/{ws}/incidents/Sentinel/NOPE/comments"),
            "x",
            404,
            "NOT_FOUND",
        ),
    ];
    for (edit, path, content, status, code) in refused {
        let body = json!({ "content": content });
        let r = if edit {
            app.put(&path, Some(&org.admin), &body).await
        } else {
            app.post(&path, Some(&org.admin), &body).await
        };
        r.assert_problem(status, code);
    }
}

#[tokio::test]
async fn comments_emit_incident_updated_with_the_comment() {
    let (app, org, ws) = setup().await;
    let base = format!("/api/v2/workspaces/{ws}/incidents/Sentinel/INC-1");
    let updates = async || app.event_payloads(&org, "incident.updated").await;
    assert!(updates().await.is_empty());
    let r = app
        .post(
            &format!("{base}/comments"),
            Some(&org.admin),
            &json!({"content": "Customer confirmed the trip."}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.data()["id"].as_str().unwrap().to_string();
    // The legacy route (source in the body) is the same operation.
    let r = app
        .post(
            &format!("/api/v2/workspaces/{ws}/incidents/INC-1/comments"),
            Some(&org.admin),
            &json!({"content": "Second note", "source": "sentinel"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app
        .put(
            &format!("{base}/comments/{id}"),
            Some(&org.admin),
            &json!({"content": "Customer confirmed the trip to Lisbon."}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The same text again changes nothing.
    app.put(
        &format!("{base}/comments/{id}"),
        Some(&org.admin),
        &json!({"content": "Customer confirmed the trip to Lisbon."}),
    )
    .await;
    let u = updates().await;
    assert_eq!(u.len(), 3, "{u:?}");
    for e in &u {
        assert_eq!(e["incidentId"], "INC-1");
        assert_eq!(e["changes"].as_array().unwrap().len(), 1);
        assert_eq!(e["changes"][0]["field"], "comments");
    }
    let (created, edited) = (&u[0]["changes"][0], &u[2]["changes"][0]);
    assert!(created["from"].is_null());
    assert_eq!(created["to"]["id"], id.as_str());
    assert_eq!(created["to"]["message"], "Customer confirmed the trip.");
    assert_eq!(created["to"]["authorName"], r.data()["authorName"]);
    assert_eq!(u[1]["changes"][0]["to"]["message"], "Second note");
    assert_eq!(edited["from"]["message"], "Customer confirmed the trip.");
    assert_eq!(
        edited["to"]["message"],
        "Customer confirmed the trip to Lisbon."
    );
    assert_eq!(edited["to"]["id"], id.as_str());
}

#[tokio::test]
async fn summary_entities_alert_rules_and_high() {
    let (app, org, ws) = setup().await;
    let base = format!("/api/v2/workspaces/{ws}/incidents/Sentinel/INC-1");
    let r = app.get(&format!("{base}/summary"), Some(&org.admin)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let s = r.data()["summary"].as_str().unwrap();
    assert!(
        s.starts_with(
            "High severity new incident #1 \"Ransomware\" from Microsoft Sentinel, unassigned."
        ),
        "{s}"
    );
    assert!(
        s.contains("Host web-01") && s.contains("Tactics: Execution"),
        "{s}"
    );
    assert_eq!(r.data()["entityCounts"], json!({"Account": 1, "Host": 1}));

    let r = app.get(&format!("{base}/entities"), Some(&org.admin)).await;
    assert_eq!(r.data().as_array().unwrap().len(), 2);
    let r = app
        .get(&format!("{base}/alert-rules"), Some(&org.admin))
        .await;
    let rules = r.data().as_array().unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0]["ruleName"], "Suspicious process");
    assert_eq!(rules[0]["alertCount"], 2);
    assert_eq!(rules[0]["severity"], "High");

    // INC-1 and INC-2 are High; closing one leaves one.
    set_status(&app, &org.admin, &base, &json!({"status": "Closed", "classification": "TruePositive", "classificationReason": "Malware"})).await;
    let r = app
        .get(
            &format!("/api/v2/workspaces/{ws}/incidents/sentinel/high"),
            Some(&org.admin),
        )
        .await;
    let ids: Vec<&str> = r.items("id");
    assert_eq!(ids, vec!["INC-2"]);
    for suffix in ["summary", "entities", "alert-rules"] {
        app.get(
            &format!("/api/v2/workspaces/{ws}/incidents/Sentinel/NOPE/{suffix}"),
            Some(&org.admin),
        )
        .await
        .assert_problem(404, "NOT_FOUND");
    }
}

#[tokio::test]
async fn another_organization_gets_404_on_every_incident_route() {
    let (app, org, ws) = setup().await;
    let other = app.org("Other").await;
    let base = format!("/api/v2/workspaces/{ws}/incidents/Sentinel/INC-1");
    let legacy = format!("/api/v2/workspaces/{ws}/incidents/INC-1");
    let close = json!({"status": "Closed", "classification": "TruePositive", "classificationReason": "Malware", "source": "Sentinel"});
    let probes: Vec<(reqwest::Method, String, Option<Value>)> = vec![
        (reqwest::Method::GET, base.clone(), None),
        (reqwest::Method::GET, format!("{base}/summary"), None),
        (reqwest::Method::GET, format!("{base}/entities"), None),
        (reqwest::Method::GET, format!("{base}/alert-rules"), None),
        (reqwest::Method::GET, format!("/api/v2/workspaces/{ws}/incidents/Sentinel/high"), None),
        (reqwest::Method::GET, format!("/api/v2/workspaces/{ws}/incidents/Sentinel/by-entity?EntityKind=Host&EntityFilter=web-01"), None),
        (reqwest::Method::PUT, format!("{base}/status"), Some(close.clone())),
        (reqwest::Method::PUT, format!("{base}/assign"), Some(json!({"email": "x@y.example"}))),
        (reqwest::Method::PUT, format!("/api/v2/workspaces/{ws}/incidents/Sentinel/bulk"), Some(json!({"incidentIds": ["INC-1"], "status": "Active"}))),
        (reqwest::Method::POST, format!("{base}/comments"), Some(json!({"content": "x"}))),
        (reqwest::Method::PUT, format!("{legacy}/status"), Some(close)),
        (reqwest::Method::POST, format!("{legacy}/comments"), Some(json!({"content": "x", "source": "Sentinel"}))),
        (reqwest::Method::POST, format!("/api/v2/workspaces/{ws}/incidents/Sentinel/ingest"), Some(json!({"incidents": [{"id": "X", "title": "t", "severity": "Low"}]}))),
    ];
    for (m, path, body) in &probes {
        let r = app
            .send(m.clone(), path, Some(&other.admin), body.as_ref())
            .await;
        r.assert_problem(404, "NOT_FOUND");
    }
    // Nothing changed for the owner, and the other organization's listing is empty.
    let d = app.get(&base, Some(&org.admin)).await;
    assert_eq!(d.data()["incident"]["status"], "New");
    assert!(d.data()["incident"]["owner"].is_null());
    assert_eq!(
        app.get(&format!("{base}/comments"), Some(&org.admin))
            .await
            .data(),
        &json!([])
    );
    let r = app
        .post(
            "/api/v2/incidents/across-workspaces",
            Some(&other.admin),
            &json!({"isFirstCall": true}),
        )
        .await;
    assert_eq!(r.data()["incidents"], json!([]));
    assert_eq!(r.data()["moreIncidentsAvailable"], false);
}

/// Line breaks and tabs are ordinary in long text (comments, descriptions, classification
/// comments, ticket notes); NUL and the other C0 controls are refused there, and titles and
/// names stay single-line.
#[tokio::test]
async fn long_text_keeps_line_breaks_and_refuses_other_controls() {
    let (app, org, ws) = setup().await;
    let a = &org.admin;
    let base = format!("/api/v2/workspaces/{ws}/incidents/Sentinel/INC-1");
    // The comment a ticket-sync integration posts, exactly.
    let note = "[ticket #4711 note by dispatcher]\n\nCustomer confirmed the trip.";
    let r = app
        .post(
            &format!("{base}/comments"),
            Some(a),
            &json!({"content": note}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.data()["message"], note);
    let id = r.data()["id"].as_str().unwrap().to_string();
    let edited = "Line one\r\n\tindented line two";
    let r = app
        .put(
            &format!("{base}/comments/{id}"),
            Some(a),
            &json!({"content": edited}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["message"], edited);
    // The legacy no-source route too.
    let r = app
        .post(
            &format!("/api/v2/workspaces/{ws}/incidents/INC-1/comments"),
            Some(a),
            &json!({"content": note, "source": "Sentinel"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    // NUL and the other C0 controls are refused, naming the field.
    for bad in ["a\u{0}b", "bell\u{7}", "esc\u{1b}[31m", "\u{1f}"] {
        let r = app
            .post(
                &format!("{base}/comments"),
                Some(a),
                &json!({"content": bad}),
            )
            .await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert!(r.json["errors"]["content"].is_array(), "{}", r.text);
    }
    // A status change's comment and classification comment.
    let close = json!({"status": "Closed", "classification": "FalsePositive",
                       "classificationReason": "InaccurateData",
                       "classificationComment": "Benign.\nUser was traveling.",
                       "comment": "Closed after the call:\n- VPN from Lisbon\n- MFA passed"});
    let r = app.put(&format!("{base}/status"), Some(a), &close).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let detail = app.get(&base, Some(a)).await;
    assert_eq!(
        detail.data()["incident"]["classificationComment"],
        "Benign.\nUser was traveling."
    );
    let bad = json!({"status": "Active", "comment": "x\u{0}"});
    app.put(&format!("{base}/status"), Some(a), &bad)
        .await
        .assert_problem(400, "VALIDATION_ERROR");
    // An ingested description keeps its lines; a title stays single-line.
    let r = app
        .put(
            &format!("/api/v2/workspaces/{ws}/incidents/Sentinel/INC-9"),
            Some(a),
            &json!({"title": "Multi", "severity": "Low", "description": "Line 1\nLine 2\tcol"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let detail = app
        .get(
            &format!("/api/v2/workspaces/{ws}/incidents/Sentinel/INC-9"),
            Some(a),
        )
        .await;
    assert_eq!(
        detail.data()["incident"]["description"],
        "Line 1\nLine 2\tcol"
    );
    let r = app
        .put(
            &format!("/api/v2/workspaces/{ws}/incidents/Sentinel/INC-10"),
            Some(a),
            &json!({"title": "Two\nlines", "severity": "Low"}),
        )
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    assert!(r.json["errors"]["title"].is_array(), "{}", r.text);
    // A service account's description may span lines; its name may not.
    let r = app
        .post(
            "/api/v2/service-accounts",
            Some(a),
            &json!({"name": "sync", "description": "Ticket sync.\nOwner: SOC team", "scopes": ["incidents:read"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.data()["description"], "Ticket sync.\nOwner: SOC team");
    app.post(
        "/api/v2/service-accounts",
        Some(a),
        &json!({"name": "two\nlines", "scopes": ["incidents:read"]}),
    )
    .await
    .assert_problem(400, "VALIDATION_ERROR");
    // Ticket notes keep their lines; a NUL in them is refused.
    let tickets = format!("/api/v2/workspaces/{ws}/tickets");
    let ticket = |note: &str| {
        json!({"ticketId": "AT-1", "autotaskTicket": {"id": 1, "title": "Phish",
               "description": "Reported by:\n\tfront desk",
               "notes": [{"title": "Call", "description": note}]}})
    };
    let r = app.post(&tickets, Some(a), &ticket(note)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.data()["autotaskTicket"]["notes"][0]["description"], note);
    let r = app.post(&tickets, Some(a), &ticket("nul\u{0}")).await;
    r.assert_problem(400, "VALIDATION_ERROR");
    assert!(
        r.json["errors"]["autotaskTicket.notes[0].description"].is_array(),
        "{}",
        r.text
    );
}
