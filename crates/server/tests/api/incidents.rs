//! Incident ingest (created / updated / unchanged with outbox events), batches with bad items,
//! numbering, and the documented reads.

use palisade_test_utils::{TestApp, TestOrg};
use serde_json::{json, Value};
use uuid::Uuid;

fn incident(title: &str) -> Value {
    json!({
        "title": title,
        "severity": "High",
        "description": "Sign-in from an anonymous IP address",
        "owner": {"email": "analyst@contoso.com", "displayName": "Ana Lyst"},
        "labels": ["vip"],
        "tactics": ["InitialAccess"],
        "entities": [
            {"id": "e1", "kind": "Account", "displayName": "Jane Doe",
             "properties": {"upn": "jane.doe@contoso.com", "objectId": "7f1c0e1e-0000-4000-8000-000000000001"}},
            {"id": "e2", "kind": "Ip", "displayName": "185.220.101.4"}
        ],
        "alerts": [{"id": "a1", "title": "Anonymous IP address", "productName": "Microsoft Entra ID Protection",
                    "vendorName": "Microsoft", "entityIds": ["e1", "e2"]}],
        "evidence": {"columns": ["TimeGenerated", "IPAddress"], "rows": [["2026-11-23T08:00:00Z", "185.220.101.4"]]}
    })
}

async fn setup() -> (TestApp, TestOrg, Uuid) {
    let app = TestApp::spawn().await;
    let org = app.org("Incidents").await;
    let ws = app.workspace(&org, "Contoso Prod").await;
    (app, org, ws)
}

#[tokio::test]
async fn ingest_created_updated_unchanged_emit_the_right_events() {
    let (app, org, ws) = setup().await;
    let path = format!("/api/v2/workspaces/{ws}/incidents/Sentinel/INC-1");
    let r = app
        .put(&path, Some(&org.admin), &incident("Suspicious sign-in"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["result"], "Created");
    let inc = &r.data()["incident"]["incident"];
    assert_eq!(inc["number"], 1);
    assert_eq!(inc["status"], "New");
    assert_eq!(inc["source"], "Sentinel");
    assert_eq!(inc["workspaceId"], ws.to_string());
    assert_eq!(
        inc["alertProductNames"],
        json!(["Microsoft Entra ID Protection"])
    );

    let r = app
        .put(&path, Some(&org.admin), &incident("Suspicious sign-in"))
        .await;
    assert_eq!(r.data()["result"], "Unchanged", "{}", r.text);

    let mut changed = incident("Suspicious sign-in");
    changed["status"] = json!("Active");
    let r = app.put(&path, Some(&org.admin), &changed).await;
    assert_eq!(r.data()["result"], "Updated");
    assert_eq!(
        r.data()["changes"],
        json!([{"field": "status", "from": "New", "to": "Active"}])
    );

    let events = app.events(&org).await;
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, vec!["incident.created", "incident.updated"]);
    let created = &events[0].payload;
    assert_eq!(created["source"], "sentinel");
    assert_eq!(created["sourceDisplayName"], "Microsoft Sentinel");
    assert_eq!(created["incidentId"], "INC-1");
    assert_eq!(created["incidentNumber"], 1);
    assert_eq!(created["accountId"], org.account_id.to_string());
    assert_eq!(
        created["entities"][0],
        json!({"type": "Account", "displayName": "Jane Doe"})
    );
    assert_eq!(created["owner"]["email"], "analyst@contoso.com");
    assert_eq!(events[1].payload["changes"][0]["field"], "status");
}

#[tokio::test]
async fn sources_in_any_case_and_unknown_sources() {
    let (app, org, ws) = setup().await;
    let r = app
        .put(
            &format!("/api/v2/workspaces/{ws}/incidents/defenderxdr/X-1"),
            Some(&org.admin),
            &incident("t"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["incident"]["source"], "DefenderXDR");
    let r = app
        .get(
            &format!("/api/v2/workspaces/{ws}/incidents/DEFENDERXDR/X-1"),
            Some(&org.admin),
        )
        .await;
    assert_eq!(r.status, 200);
    // The same id under another source is another incident.
    app.get(
        &format!("/api/v2/workspaces/{ws}/incidents/Splunk/X-1"),
        Some(&org.admin),
    )
    .await
    .assert_problem(404, "NOT_FOUND");
    let r = app
        .get(
            &format!("/api/v2/workspaces/{ws}/incidents/Elastic/X-1"),
            Some(&org.admin),
        )
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    let msg = r.json["errors"]["source"][0].as_str().unwrap();
    for s in palisade_test_utils::SOURCES {
        assert!(msg.contains(s), "{msg}");
    }
}

#[tokio::test]
async fn batch_stores_good_items_and_reports_bad_ones() {
    let (app, org, ws) = setup().await;
    let path = format!("/api/v2/workspaces/{ws}/incidents/CrowdStrike/ingest");
    let mut a = incident("Malware detected");
    a["id"] = json!("CS-1");
    let mut bad = incident("No severity");
    bad["id"] = json!("CS-2");
    bad.as_object_mut().unwrap().remove("severity");
    let mut c = incident("Lateral movement");
    c["id"] = json!("CS-3");
    c["number"] = json!(40);
    let r = app
        .post(
            &path,
            Some(&org.admin),
            &json!({"incidents": [a, bad, c, {"id": 5}, "nope"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let d = r.data();
    assert_eq!(
        (d["created"].as_u64(), d["rejected"].as_u64()),
        (Some(2), Some(3)),
        "{}",
        r.text
    );
    assert_eq!(d["items"][0]["result"], "Created");
    assert_eq!(d["items"][1]["result"], "Rejected");
    assert!(
        d["items"][1]["errors"]["incidents[1].severity"].is_array(),
        "{}",
        r.text
    );
    assert_eq!(d["items"][2]["number"], 40);
    assert_eq!(d["items"][3]["result"], "Rejected");
    assert_eq!(d["items"][4]["result"], "Rejected");

    // Stored and numbered: assigned numbers keep increasing above supplied ones.
    let got = app
        .get(
            &format!("/api/v2/workspaces/{ws}/incidents/CrowdStrike/CS-1"),
            Some(&org.admin),
        )
        .await;
    assert_eq!(got.data()["incident"]["number"], 1);
    app.get(
        &format!("/api/v2/workspaces/{ws}/incidents/CrowdStrike/CS-2"),
        Some(&org.admin),
    )
    .await
    .assert_problem(404, "NOT_FOUND");
    let r = app
        .put(
            &format!("/api/v2/workspaces/{ws}/incidents/CrowdStrike/CS-4"),
            Some(&org.admin),
            &incident("Next"),
        )
        .await;
    assert_eq!(r.data()["incident"]["incident"]["number"], 41);

    // Re-sending the batch's good items changes nothing and emits nothing.
    let before = app.events(&org).await.len();
    let mut a = incident("Malware detected");
    a["id"] = json!("CS-1");
    let r = app
        .post(&path, Some(&org.admin), &json!({"incidents": [a]}))
        .await;
    assert_eq!(r.data()["unchanged"], 1);
    assert_eq!(app.events(&org).await.len(), before);

    // Limits.
    app.post(&path, Some(&org.admin), &json!({"incidents": []}))
        .await
        .assert_problem(400, "VALIDATION_ERROR");
    let many: Vec<Value> = (0..1001)
        .map(|i| json!({"id": format!("M-{i}"), "title": "t", "severity": "Low"}))
        .collect();
    app.post(&path, Some(&org.admin), &json!({"incidents": many}))
        .await
        .assert_problem(400, "VALIDATION_ERROR");
}

#[tokio::test]
async fn detail_evidence_comments_and_last_gamebook() {
    let (app, org, ws) = setup().await;
    let base = format!("/api/v2/workspaces/{ws}/incidents/Sentinel/INC-7");
    app.put(&base, Some(&org.admin), &incident("Suspicious sign-in"))
        .await;

    let r = app.get(&base, Some(&org.admin)).await;
    assert_eq!(r.status, 200);
    let d = r.data();
    assert_eq!(d["source"], "Sentinel");
    assert_eq!(d["incident"]["id"], "INC-7");
    assert_eq!(d["incident"]["alertsCount"], 1);
    assert_eq!(
        d["investigationDetails"]["entities"][1]["displayName"],
        "185.220.101.4"
    );
    assert!(d["investigationDetails"]["entities"][0]
        .get("properties")
        .is_none());
    assert!(d["investigationDetails"]["alerts"][0]
        .get("entityIds")
        .is_none());
    assert_eq!(
        d["evidence"]["columns"],
        json!(["TimeGenerated", "IPAddress"])
    );
    assert!(d["gamebookCatalog"].is_object());
    let r = app
        .get(&format!("{base}?withDetails=true"), Some(&org.admin))
        .await;
    assert_eq!(
        r.data()["investigationDetails"]["entities"][0]["properties"]["upn"],
        "jane.doe@contoso.com"
    );
    assert_eq!(
        r.data()["investigationDetails"]["alerts"][0]["entityIds"],
        json!(["e1", "e2"])
    );

    let r = app.get(&format!("{base}/evidence"), Some(&org.admin)).await;
    assert_eq!(r.data()["rows"][0][1], "185.220.101.4");
    let r = app.get(&format!("{base}/comments"), Some(&org.admin)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.data(), &json!([]));
    let r = app
        .get(&format!("{base}/last-gamebook"), Some(&org.admin))
        .await;
    r.assert_problem(404, "NOT_FOUND");
    assert!(r.json["detail"].as_str().unwrap().contains("No gamebook"));

    // Unknown incidents, and every incident of another organization, are 404.
    let other = app.org("Other").await;
    for suffix in ["", "/evidence", "/comments", "/last-gamebook"] {
        app.get(
            &format!("/api/v2/workspaces/{ws}/incidents/Sentinel/NOPE{suffix}"),
            Some(&org.admin),
        )
        .await
        .assert_problem(404, "NOT_FOUND");
        app.get(&format!("{base}{suffix}"), Some(&other.admin))
            .await
            .assert_problem(404, "NOT_FOUND");
    }
    app.put(&base, Some(&other.admin), &incident("hijack"))
        .await
        .assert_problem(404, "NOT_FOUND");
    let r = app.get(&base, Some(&org.admin)).await;
    assert_eq!(r.data()["incident"]["title"], "Suspicious sign-in");
}

#[tokio::test]
async fn by_entity_matches_identifiers_within_the_window() {
    let (app, org, ws) = setup().await;
    let base = format!("/api/v2/workspaces/{ws}/incidents/Sentinel");
    app.put(&format!("{base}/A"), Some(&org.admin), &incident("First"))
        .await;
    app.put(&format!("{base}/B"), Some(&org.admin), &incident("Second"))
        .await;
    let mut old = incident("Old");
    old["createdAt"] = json!((chrono::Utc::now() - chrono::Duration::days(3)).to_rfc3339());
    app.put(&format!("{base}/C"), Some(&org.admin), &old).await;

    let q = |s: &str| format!("{base}/by-entity?{s}");
    let r = app
        .get(
            &q("EntityKind=Account&EntityFilter=JANE.DOE@contoso.com"),
            Some(&org.admin),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ids: Vec<&str> = r.data()["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["B", "A"], "newest first, old one outside 24 h");
    let r = app
        .get(&q("EntityKind=Account&EntityFilter=jane.doe@contoso.com&IncidentId=B&TimeFilteringType=FourtyEightHours"), Some(&org.admin))
        .await;
    assert_eq!(r.data()["incidents"].as_array().unwrap().len(), 1);
    let start = (chrono::Utc::now() - chrono::Duration::days(4)).to_rfc3339();
    let end = (chrono::Utc::now() + chrono::Duration::minutes(1)).to_rfc3339();
    let r = app
        .get(
            &q(&format!(
                "EntityKind=Account&EntityFilter=7f1c0e1e-0000-4000-8000-000000000001&TimeFilteringType=Custom&StartDate={}&EndDate={}",
                urlencode(&start),
                urlencode(&end)
            )),
            Some(&org.admin),
        )
        .await;
    assert_eq!(
        r.data()["incidents"].as_array().unwrap().len(),
        3,
        "{}",
        r.text
    );
    let r = app
        .get(
            &q("EntityKind=Ip&EntityFilter=185.220.101.4"),
            Some(&org.admin),
        )
        .await;
    assert_eq!(r.data()["incidents"].as_array().unwrap().len(), 2);
    // The wrong kind finds nothing; another source finds nothing.
    let r = app
        .get(
            &q("EntityKind=Host&EntityFilter=jane.doe@contoso.com"),
            Some(&org.admin),
        )
        .await;
    assert_eq!(r.data()["incidents"], json!([]));
    let r = app
        .get(&format!("/api/v2/workspaces/{ws}/incidents/Splunk/by-entity?EntityKind=Ip&EntityFilter=185.220.101.4"), Some(&org.admin))
        .await;
    assert_eq!(r.data()["incidents"], json!([]));
    // Validation.
    for (query, field) in [
        ("EntityFilter=x", "EntityKind"),
        ("EntityKind=Account", "EntityFilter"),
        (
            "EntityKind=Account&EntityFilter=x&TimeFilteringType=Custom",
            "StartDate",
        ),
        (
            "EntityKind=Account&EntityFilter=x&TimeFilteringType=Weekly",
            "TimeFilteringType",
        ),
    ] {
        let r = app.get(&q(query), Some(&org.admin)).await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert!(r.json["errors"][field].is_array(), "{query}: {}", r.text);
    }
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn a_batch_applies_repeated_ids_in_order_and_reindexes_entities() {
    let (app, org, ws) = setup().await;
    let path = format!("/api/v2/workspaces/{ws}/incidents/Splunk/ingest");
    let mut first = incident("Excessive failed logins");
    first["id"] = json!("SP-1");
    let mut second = first.clone();
    second["status"] = json!("Active");
    second["entities"] = json!([{"id": "h", "kind": "Host", "displayName": "vpn-01"}]);
    second["alerts"] = json!([]);
    let r = app
        .post(
            &path,
            Some(&org.admin),
            &json!({"incidents": [first, second]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let results: Vec<&str> = r.data()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["result"].as_str().unwrap())
        .collect();
    assert_eq!(results, vec!["Created", "Updated"]);
    let d = app
        .get(
            &format!("/api/v2/workspaces/{ws}/incidents/Splunk/SP-1"),
            Some(&org.admin),
        )
        .await;
    assert_eq!(d.data()["incident"]["status"], "Active");
    assert_eq!(d.data()["incident"]["number"], 1);
    let events = app.events(&org).await;
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        vec!["incident.created", "incident.updated"],
        "in batch order"
    );

    // A later batch replaces the entity index of an existing incident.
    let related = |kind: &str, filter: &str| {
        let path = format!("/api/v2/workspaces/{ws}/incidents/Splunk/by-entity?EntityKind={kind}&EntityFilter={filter}");
        let app = &app;
        let cred = &org.admin;
        async move {
            let r = app.get(&path, Some(cred)).await;
            r.data()["incidents"].as_array().expect("a list").len()
        }
    };
    assert_eq!(related("Host", "vpn-01").await, 1);
    assert_eq!(related("Account", "Jane%20Doe").await, 0);
    let mut third = incident("Excessive failed logins");
    third["id"] = json!("SP-1");
    third["status"] = json!("Active");
    let r = app
        .post(&path, Some(&org.admin), &json!({"incidents": [third]}))
        .await;
    assert_eq!(r.data()["updated"], 1, "{}", r.text);
    assert_eq!(related("Host", "vpn-01").await, 0);
    assert_eq!(related("Account", "Jane%20Doe").await, 1);
}

/// On PostgreSQL every replica caches incidents read by id; a change made through another
/// replica must be seen at once (broadcast invalidation), not after the cache TTL. SQLite has
/// one process per database, so there is nothing to broadcast there.
#[tokio::test]
async fn a_change_through_another_replica_invalidates_the_cache_at_once() {
    let app = TestApp::spawn_with(|c| c.incidents.cache_ttl_ms = Some(600_000)).await;
    if !app.db.is_postgres() {
        return;
    }
    let other = app.replica().await;
    let org = app.org("Cache").await;
    let ws = app.workspace(&org, "w").await;
    let path = format!("/api/v2/workspaces/{ws}/incidents/Sentinel/C-1");
    let r = app
        .put(
            &path,
            Some(&org.admin),
            &json!({"title": "t", "severity": "Low"}),
        )
        .await;
    assert!(r.status == 200 || r.status == 201, "{}", r.text);
    // Cached on the first replica.
    assert_eq!(
        app.get(&path, Some(&org.admin)).await.data()["incident"]["status"],
        "New"
    );
    // Changed through the second.
    let r = reqwest::Client::new()
        .put(format!("http://{}{path}/status", other.addr))
        .header("authorization", org.admin.header())
        .json(&json!({"status": "Active"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        let status = app.get(&path, Some(&org.admin)).await.data()["incident"]["status"].clone();
        if status == "Active" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the first replica still serves the stale incident"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_batch_of_1000_realistic_incidents_fits_its_own_body_limit() {
    use rand::SeedableRng;
    let app = TestApp::spawn().await;
    let org = app.org("Big batch").await;
    let ws = app.workspace(&org, "w").await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let incidents: Vec<Value> = (0..1000)
        .map(|n| {
            palisade_demo::incidents::incident(
                &mut rng,
                palisade_types::incidents::IncidentSource::DefenderXDR,
                &format!("BIG-{n:04}"),
                "contoso.com",
                chrono::Utc::now() - chrono::Duration::minutes(n),
            )
        })
        .collect();
    let body = json!({ "incidents": incidents });
    let size = serde_json::to_vec(&body).unwrap().len();
    assert!(
        size > 1024 * 1024,
        "the batch is larger than the general limit ({size} bytes)"
    );
    let r = app
        .post(
            &format!("/api/v2/workspaces/{ws}/incidents/DefenderXDR/ingest"),
            Some(&org.admin),
            &body,
        )
        .await;
    assert_eq!(r.status, 200, "{}", &r.text[..r.text.len().min(300)]);
    assert_eq!(
        r.data()["created"],
        1000,
        "{}",
        &r.text[..r.text.len().min(300)]
    );
    // The general limit still applies to the single-incident upsert.
    let mut one = incidents[0].clone();
    one["description"] = json!("x".repeat(1024 * 1024));
    app.put(
        &format!("/api/v2/workspaces/{ws}/incidents/DefenderXDR/BIG-X"),
        Some(&org.admin),
        &one,
    )
    .await
    .assert_problem(413, "PAYLOAD_TOO_LARGE");
}

/// Rows of `table` that belong to workspace `ws`, read straight from the database.
async fn rows_of(app: &TestApp, table: &str, ws: Uuid) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table} WHERE workspace_id = $1");
    app.db.column(&sql, &[&ws.to_string()]).await[0]
}

#[tokio::test]
async fn deleting_a_workspace_removes_its_incidents_and_entity_index_only() {
    let (app, org, ws) = setup().await;
    let other = app.workspace(&org, "Contoso Dev").await;
    for w in [ws, other] {
        let r = app
            .put(
                &format!("/api/v2/workspaces/{w}/incidents/Sentinel/INC-1"),
                Some(&org.admin),
                &incident("Suspicious sign-in"),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    // Jane Doe: display name, UPN and object id; the IP: its display name.
    assert_eq!(rows_of(&app, "incident_entity_index", ws).await, 4);
    assert_eq!(rows_of(&app, "incident_entity_index", other).await, 4);

    let r = app
        .delete(&format!("/api/v2/workspaces/{ws}"), Some(&org.admin))
        .await;
    assert!(r.status < 300, "{} {}", r.status, r.text);
    assert_eq!(rows_of(&app, "incidents", ws).await, 0);
    assert_eq!(rows_of(&app, "incident_entity_index", ws).await, 0);
    assert_eq!(rows_of(&app, "incidents", other).await, 1);
    assert_eq!(rows_of(&app, "incident_entity_index", other).await, 4);
}

/// A labelled or unlabelled metric's value (0 when absent).
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0.0)
}

/// The incident read cache holds at most `incidents.cache_bytes` (incidents and their rendered
/// detail documents), evicting the oldest, and reports its size and hit rate in `/metrics`.
#[tokio::test]
async fn the_read_cache_is_bounded_by_bytes_and_reported() {
    const BUDGET: usize = 96 * 1024;
    let app = TestApp::spawn_with(|c| {
        c.incidents.cache_bytes = BUDGET;
        c.incidents.cache_ttl_ms = Some(600_000);
    })
    .await;
    let org = app.org("Cache").await;
    let ws = app.workspace(&org, "W").await;
    // 40 incidents of about 8 KB each: about 320 KB, over three times the budget.
    let incidents: Vec<Value> = (0..40)
        .map(|i| {
            json!({"id": format!("BIG-{i}"), "title": "Big", "severity": "Low",
                        "description": format!("{i} {}", "x".repeat(8000))})
        })
        .collect();
    let r = app
        .post(
            &format!("/api/v2/workspaces/{ws}/incidents/Splunk/ingest"),
            Some(&org.admin),
            &json!({"incidents": incidents}),
        )
        .await;
    assert_eq!(r.data()["created"], 40, "{}", r.text);
    for round in 0..2 {
        for i in 0..40 {
            let r = app
                .get(
                    &format!("/api/v2/workspaces/{ws}/incidents/Splunk/BIG-{i}"),
                    Some(&org.admin),
                )
                .await;
            assert_eq!(r.status, 200, "round {round}: {}", r.text);
            assert!(r.data()["incident"]["description"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{i} ")));
        }
    }
    // The last few read are still cached: reading them again hits.
    let text = app.get("/metrics", None).await.text;
    let hits_before = metric(&text, "palisade_incident_cache_hits_total");
    for i in 38..40 {
        app.get(
            &format!("/api/v2/workspaces/{ws}/incidents/Splunk/BIG-{i}"),
            Some(&org.admin),
        )
        .await;
    }
    let text = app.get("/metrics", None).await.text;
    let bytes = metric(&text, "palisade_incident_cache_bytes");
    let entries = metric(&text, "palisade_incident_cache_entries");
    assert!(bytes > 0.0 && bytes <= BUDGET as f64, "{bytes}\n{text}");
    assert!((1.0..40.0).contains(&entries), "{entries}\n{text}");
    assert_eq!(
        metric(&text, "palisade_incident_cache_capacity_bytes"),
        BUDGET as f64
    );
    assert_eq!(
        metric(&text, "palisade_incident_cache_hits_total"),
        hits_before + 2.0,
        "{text}"
    );
    // Reading 40 incidents round-robin through a cache that holds fewer misses every time.
    assert!(
        metric(&text, "palisade_incident_cache_misses_total") >= 80.0,
        "{text}"
    );
    assert!(
        metric(&text, "palisade_incident_cache_evictions_total") >= 40.0,
        "{text}"
    );
}
