//! Investigation logs: ingest (validation, duplicates, connector volume), the documented
//! queries (shape, required parameters, scope, role, 404s), `NextPageLink` paging that returns
//! every row exactly once, sealed-link tampering, and the audit trail.

use std::collections::HashSet;

use chrono::{Duration, Utc};
use palisade_test_utils::{Cred, TestApp};
use serde_json::{json, Value};
use uuid::Uuid;

fn signins(ws: Uuid) -> String {
    format!("/api/v2/workspaces/{ws}/investigation/users/signin-logs")
}

fn directory(ws: Uuid) -> String {
    format!("/api/v2/workspaces/{ws}/investigation/users/directory-logs")
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn signin(i: usize, user: &str, upn: &str, minutes_ago: i64) -> Value {
    json!({
        "id": format!("si-{user}-{i}"),
        "createdDateTime": (Utc::now() - Duration::minutes(minutes_ago)).to_rfc3339(),
        "userId": user, "userPrincipalName": upn, "userDisplayName": "Ada Lovelace",
        "appId": "00000002-0000-0ff1-ce00-000000000000", "appDisplayName": "Office 365 Exchange Online",
        "ipAddress": "203.0.113.7",
        "location": {"city": "Redmond", "state": "Washington", "countryOrRegion": "US"},
        "status": {"errorCode": if i.is_multiple_of(5) { 50126 } else { 0 },
                   "failureReason": if i.is_multiple_of(5) { Some("Invalid username or password.") } else { None }},
        "clientAppUsed": "Browser",
        "deviceDetail": {"operatingSystem": "Windows 10", "browser": "Edge 120", "isCompliant": true},
        "riskLevelDuringSignIn": "low", "riskLevelAggregated": "none",
        "conditionalAccessStatus": "success", "isInteractive": i.is_multiple_of(2)
    })
}

async fn ingest(app: &TestApp, cred: &Cred, ws: Uuid, items: Vec<Value>) -> Value {
    let r = app
        .post(
            &format!("{}/ingest", signins(ws)),
            Some(cred),
            &json!({"items": items}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.data().clone()
}

async fn pages(app: &TestApp, cred: &Cred, first: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut next = Some(first.to_string());
    while let Some(url) = next {
        let r = app.get(&url, Some(cred)).await;
        assert_eq!(r.status, 200, "{url}: {}", r.text);
        out.push(r.data().clone());
        next = r.data()["nextPageLink"].as_str().map(str::to_string);
        assert!(out.len() < 50, "paging does not end");
    }
    out
}

#[tokio::test]
async fn investigation_signin_logs_page_every_row_once() {
    let app = TestApp::spawn().await;
    let org = app.org("Inv").await;
    let ws = app.workspace(&org, "W").await;
    let user = "6F1C2D3E-0000-4000-8000-00000000AAAA";
    let upn = "Ada@Contoso.com";
    // 250 sign-ins in the last 20 hours, some sharing an instant; another user's; one too old.
    let mut items: Vec<Value> = (0..250)
        .map(|i| signin(i, user, upn, (i as i64 * 4) % 1200))
        .collect();
    let same = (Utc::now() - Duration::minutes(30)).to_rfc3339();
    for it in items.iter_mut().take(20) {
        it["createdDateTime"] = json!(same);
    }
    for chunk in items.chunks(100) {
        ingest(&app, &org.admin, ws, chunk.to_vec()).await;
    }
    ingest(
        &app,
        &org.admin,
        ws,
        (0..30)
            .map(|i| signin(i, "someone-else", "bob@contoso.com", 10))
            .collect(),
    )
    .await;
    ingest(&app, &org.admin, ws, vec![signin(999, user, upn, 60 * 30)]).await;

    let first = format!("{}?UserId={user}&TimeFilteringType=TwentyFourHours&EntityName=Ada%20Lovelace&ResourceId=INC-7", signins(ws));
    let all = pages(&app, &org.admin, &first).await;
    assert_eq!(all.len(), 3);
    let sizes: Vec<usize> = all
        .iter()
        .map(|p| p["items"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, vec![100, 100, 50]);
    let mut seen = HashSet::new();
    let mut last: Option<(String, String)> = None;
    for page in &all {
        assert_eq!(page["canRetrieveData"], true);
        assert!(page["message"].is_string());
        for it in page["items"].as_array().unwrap() {
            let key = (
                it["createdDateTime"].as_str().unwrap().to_string(),
                it["id"].as_str().unwrap().to_string(),
            );
            assert!(seen.insert(key.1.clone()), "{} twice", key.1);
            if let Some(prev) = &last {
                let (a, b) = (
                    chrono::DateTime::parse_from_rfc3339(&prev.0).unwrap(),
                    chrono::DateTime::parse_from_rfc3339(&key.0).unwrap(),
                );
                assert!(a > b || (a == b && prev.1 > key.1), "not newest first");
            }
            last = Some(key);
        }
    }
    assert_eq!(seen.len(), 250);
    assert!(all[2]["nextPageLink"].is_null());
    // The item shape.
    let it = &all[0]["items"][0];
    for field in [
        "id",
        "createdDateTime",
        "userId",
        "userPrincipalName",
        "userDisplayName",
        "appId",
        "appDisplayName",
        "ipAddress",
        "location",
        "status",
        "clientAppUsed",
        "deviceDetail",
        "riskLevelDuringSignIn",
        "conditionalAccessStatus",
        "isInteractive",
    ] {
        assert!(it.get(field).is_some(), "sign-in lacks {field}: {it}");
    }
    assert_eq!(it["riskLevelDuringSignIn"], "Low");
    assert_eq!(it["conditionalAccessStatus"], "Success");
    assert_eq!(it["location"]["countryOrRegion"], "US");
    // The link carries the audit anchors forward.
    let link = all[0]["nextPageLink"].as_str().unwrap();
    assert!(link.starts_with(&signins(ws)), "{link}");
    assert!(link.contains("ResourceId=INC-7"), "{link}");

    // By user principal name, any case: the same rows.
    let by_upn = pages(
        &app,
        &org.admin,
        &format!(
            "{}?UserId={}&TimeFilteringType=twentyfourhours",
            signins(ws),
            enc("ADA@contoso.COM")
        ),
    )
    .await;
    let n: usize = by_upn
        .iter()
        .map(|p| p["items"].as_array().unwrap().len())
        .sum();
    assert_eq!(n, 250);
    // Custom window covering 48 hours finds the old one too.
    let custom = format!(
        "{}?UserId={user}&TimeFilteringType=Custom&StartDate={}&EndDate={}",
        signins(ws),
        enc(&(Utc::now() - Duration::hours(48)).to_rfc3339()),
        enc(&Utc::now().to_rfc3339())
    );
    let c = pages(&app, &org.admin, &custom).await;
    let n: usize = c.iter().map(|p| p["items"].as_array().unwrap().len()).sum();
    assert_eq!(n, 251);

    // A link is bound to its user, filter and workspace; tampering is refused.
    let token: String = url::form_urlencoded::parse(link.split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "NextPageLink")
        .unwrap()
        .1
        .into_owned();
    let ws2 = app.workspace(&org, "W2").await;
    let mut flipped = token.clone().into_bytes();
    flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
    for url in [
        format!(
            "{}?UserId=someone-else&TimeFilteringType=TwentyFourHours&NextPageLink={token}",
            signins(ws)
        ),
        format!(
            "{}?UserId={user}&TimeFilteringType=TwelveHours&NextPageLink={token}",
            signins(ws)
        ),
        format!(
            "{}?UserId={user}&TimeFilteringType=TwentyFourHours&NextPageLink={token}",
            signins(ws2)
        ),
        format!(
            "{}?UserId={user}&TimeFilteringType=TwentyFourHours&NextPageLink={token}",
            directory(ws)
        ),
        format!(
            "{}?UserId={user}&TimeFilteringType=TwentyFourHours&NextPageLink={}",
            signins(ws),
            String::from_utf8(flipped).unwrap()
        ),
    ] {
        let r = app.get(&url, Some(&org.admin)).await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert!(
            r.json["errors"]["NextPageLink"].is_array(),
            "{url}: {}",
            r.text
        );
    }
    // The token alone works as NextPageLink too.
    let r = app
        .get(
            &format!(
                "{}?UserId={user}&TimeFilteringType=TwentyFourHours&NextPageLink={token}",
                signins(ws)
            ),
            Some(&org.admin),
        )
        .await;
    assert_eq!(
        r.data()["items"].as_array().unwrap().len(),
        100,
        "{}",
        r.text
    );

    // Without UserId (documented as optional): the workspace's logs of every user, paged
    // to the end, each row once; the links carry no UserId, and a user's link does not
    // continue the workspace listing (nor the reverse).
    let whole = format!("{}?TimeFilteringType=TwentyFourHours", signins(ws));
    let all_users = pages(&app, &org.admin, &whole).await;
    let ids: HashSet<String> = all_users
        .iter()
        .flat_map(|p| p["items"].as_array().unwrap().clone())
        .map(|it| it["id"].as_str().unwrap().to_string())
        .collect();
    let rows: usize = all_users
        .iter()
        .map(|p| p["items"].as_array().unwrap().len())
        .sum();
    assert_eq!((rows, ids.len()), (280, 280));
    let workspace_link = all_users[0]["nextPageLink"].as_str().unwrap();
    assert!(!workspace_link.contains("UserId"), "{workspace_link}");
    let workspace_token: String =
        url::form_urlencoded::parse(workspace_link.split_once('?').unwrap().1.as_bytes())
            .find(|(k, _)| k == "NextPageLink")
            .unwrap()
            .1
            .into_owned();
    for url in [
        format!("{whole}&NextPageLink={token}"),
        format!(
            "{}?UserId={user}&TimeFilteringType=TwentyFourHours&NextPageLink={workspace_token}",
            signins(ws)
        ),
    ] {
        app.get(&url, Some(&org.admin))
            .await
            .assert_problem(400, "VALIDATION_ERROR");
    }
    let audit = app
        .get(
            &format!("/api/v2/workspaces/{ws}/investigation/audit?pageSize=1"),
            Some(&org.admin),
        )
        .await;
    assert_eq!(audit.status, 200, "{}", audit.text);
    assert!(
        audit.data()["items"][0]["userId"].is_null(),
        "{}",
        audit.text
    );

    // Connector volume: the workspace's sign-in connector was created and counted.
    let ds = app
        .get(
            &format!("/api/v2/workspaces/{ws}/datasources"),
            Some(&org.admin),
        )
        .await;
    let c = &ds.data()[0];
    assert_eq!(c["connectorType"], "AzureActiveDirectory");
    let vol = app
        .get(
            &format!(
                "/api/v2/workspaces/{ws}/datasources/{}/volume",
                c["dataConnectorId"].as_str().unwrap()
            ),
            Some(&org.admin),
        )
        .await;
    let events: i64 = vol
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["events"].as_i64().unwrap())
        .sum();
    assert_eq!(events, 281);
}

#[tokio::test]
async fn investigation_validation_scope_role_and_404s() {
    let app = TestApp::spawn().await;
    let org = app.org("InvV").await;
    let ws = app.workspace(&org, "W").await;
    let other = app.org("Other").await;
    let foreign = app.workspace(&other, "F").await;

    // No connector yet: an empty page that says so.
    let r = app
        .get(
            &format!("{}?UserId=u1&TimeFilteringType=SixHours", signins(ws)),
            Some(&org.admin),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["items"], json!([]));
    assert_eq!(r.data()["canRetrieveData"], false);
    assert!(r.data()["nextPageLink"].is_null());

    for (query, path) in [
        (&*format!("UserId={}&TimeFilteringType=SixHours", "u".repeat(321)), "UserId"),
        ("UserId=u1", "TimeFilteringType"),
        ("UserId=u1&TimeFilteringType=Forever", "TimeFilteringType"),
        ("UserId=u1&TimeFilteringType=Custom", "StartDate"),
        ("UserId=u1&TimeFilteringType=Custom&StartDate=2026-01-02T00:00:00Z", "EndDate"),
        ("UserId=u1&TimeFilteringType=Custom&StartDate=2026-01-02T00:00:00Z&EndDate=2026-01-01T00:00:00Z", "EndDate"),
        ("UserId=u1&TimeFilteringType=Custom&StartDate=monday&EndDate=2026-01-01T00:00:00Z", "StartDate"),
    ] {
        for base in [signins(ws), directory(ws)] {
            let r = app.get(&format!("{base}?{query}"), Some(&org.admin)).await;
            r.assert_problem(400, "VALIDATION_ERROR");
            assert!(r.json["errors"][path].is_array(), "{query}: {}", r.text);
        }
    }

    // Ingest validation names items and fields; duplicates are skipped.
    let mut bad = signin(1, "u1", "u1@x.com", 5);
    bad["createdDateTime"] = json!("soon");
    bad["ipAddress"] = json!("999.1.1.1");
    let mut no_user = signin(2, "u1", "u1@x.com", 5);
    no_user.as_object_mut().unwrap().remove("userId");
    no_user.as_object_mut().unwrap().remove("userPrincipalName");
    let r = app
        .post(
            &format!("{}/ingest", signins(ws)),
            Some(&org.admin),
            &json!({"items": [signin(0, "u1", "u1@x.com", 5), bad, no_user]}),
        )
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    for path in [
        "items[1].createdDateTime",
        "items[1].ipAddress",
        "items[2].userId",
    ] {
        assert!(r.json["errors"][path].is_array(), "{path}: {}", r.text);
    }
    let r = app
        .post(
            &format!("{}/ingest", signins(ws)),
            Some(&org.admin),
            &json!({"items": [{"riskLevelDuringSignIn": 5}]}),
        )
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    let r = app
        .post(
            &format!("{}/ingest", signins(ws)),
            Some(&org.admin),
            &json!({"items": []}),
        )
        .await;
    assert!(r.json["errors"]["items"].is_array(), "{}", r.text);
    let d = ingest(
        &app,
        &org.admin,
        ws,
        vec![
            signin(0, "u1", "u1@x.com", 5),
            signin(1, "u1", "u1@x.com", 6),
        ],
    )
    .await;
    assert_eq!(d, json!({"received": 2, "ingested": 2, "duplicates": 0}));
    let d = ingest(&app, &org.admin, ws, vec![signin(0, "u1", "u1@x.com", 5)]).await;
    assert_eq!(d["duplicates"], 1);

    // 404 for another organization's workspace, on reads and ingest.
    app.get(
        &format!("{}?UserId=u1&TimeFilteringType=SixHours", signins(foreign)),
        Some(&org.admin),
    )
    .await
    .assert_problem(404, "NOT_FOUND");
    app.post(
        &format!("{}/ingest", directory(foreign)),
        Some(&org.admin),
        &json!({"items": []}),
    )
    .await
    .assert_problem(404, "NOT_FOUND");

    // Scope and role.
    let (reader, _) = app
        .service_account(
            &org.admin,
            &json!({"name": "r", "scopes": ["investigation:read", "investigation:ingest"],
                    "workspaceAssignments": [{"workspaceId": ws, "role": "WorkspaceReader"}]}),
        )
        .await;
    let r = app
        .get(
            &format!("{}?UserId=u1&TimeFilteringType=SixHours", signins(ws)),
            Some(&reader),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["items"].as_array().unwrap().len(), 2);
    app.post(
        &format!("{}/ingest", signins(ws)),
        Some(&reader),
        &json!({"items": [signin(7, "u1", "u1@x.com", 1)]}),
    )
    .await
    .assert_problem(403, "INSUFFICIENT_WORKSPACE_ROLE");
    app.get(
        &format!("/api/v2/workspaces/{ws}/investigation/audit"),
        Some(&reader),
    )
    .await
    .assert_problem(403, "INSUFFICIENT_WORKSPACE_ROLE");
    let (incidents_only, _) = app
        .service_account(
            &org.admin,
            &json!({"name": "i", "scopes": ["incidents:read"],
                    "workspaceAssignments": [{"workspaceId": ws, "role": "Owner"}]}),
        )
        .await;
    let r = app
        .get(
            &format!("{}?UserId=u1&TimeFilteringType=SixHours", directory(ws)),
            Some(&incidents_only),
        )
        .await;
    r.assert_problem(403, "INSUFFICIENT_SCOPE");
    assert_eq!(r.json["target"], "investigation:read");
}

#[tokio::test]
async fn investigation_directory_logs_and_audit_trail() {
    let app = TestApp::spawn().await;
    let org = app.org("Dir").await;
    let ws = app.workspace(&org, "W").await;
    let items: Vec<Value> = (0..5)
        .map(|i| json!({
            "date": (Utc::now() - Duration::minutes(10 * i)).to_rfc3339(),
            "service": "Core Directory", "activity": "Add member to role", "category": "RoleManagement",
            "status": if i == 0 { "failure" } else { "Success" }, "statusReason": if i == 0 { Some("Insufficient privileges") } else { None },
            "targetResources": ["Global Administrator", "eve@contoso.com"],
            "actor": "admin@contoso.com", "userPrincipalName": "eve@contoso.com"
        }))
        .collect();
    let r = app
        .post(
            &format!("{}/ingest", directory(ws)),
            Some(&org.admin),
            &json!({"items": items}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["ingested"], 5);
    let r = app
        .post(
            &format!("{}/ingest", directory(ws)),
            Some(&org.admin),
            &json!({"items": [{"date": Utc::now().to_rfc3339(), "userId": "x"}]}),
        )
        .await;
    assert!(
        r.json["errors"]["items[0].activity"].is_array(),
        "{}",
        r.text
    );

    let url = format!(
        "{}?UserId=EVE@contoso.com&TimeFilteringType=ThreeHours&EntityName=Eve&ResourceId=INC-42&ResourceName={}",
        directory(ws),
        enc("Privilege escalation")
    );
    let r = app.get(&url, Some(&org.admin)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let d = r.data();
    for field in ["items", "nextPageLink", "message", "canRetrieveData"] {
        assert!(d.get(field).is_some(), "page lacks {field}: {d}");
    }
    assert_eq!(d["canRetrieveData"], true);
    let items = d["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    let first = &items[0];
    for field in [
        "date",
        "service",
        "activity",
        "category",
        "status",
        "statusReason",
        "targetResources",
        "targets",
        "actor",
    ] {
        assert!(first.get(field).is_some(), "item lacks {field}: {first}");
    }
    assert_eq!(first["status"], "Failure");
    assert_eq!(first["targets"], "Global Administrator, eve@contoso.com");
    assert_eq!(first["targetResources"][0], "Global Administrator");

    // The audit trail records who asked, for whom, and the anchors.
    let r = app
        .get(
            &format!("/api/v2/workspaces/{ws}/investigation/audit?pageSize=1"),
            Some(&org.admin),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let a = &r.data()["items"][0];
    assert_eq!(a["logType"], "DirectoryLogs");
    assert_eq!(a["userId"], "EVE@contoso.com");
    assert_eq!(a["timeFilteringType"], "ThreeHours");
    assert_eq!(a["entityName"], "Eve");
    assert_eq!(a["resourceId"], "INC-42");
    assert_eq!(a["resourceName"], "Privilege escalation");
    assert_eq!(a["resultCount"], 5);
    assert_eq!(a["continuation"], false);
    assert_eq!(r.data()["hasMore"], false);
    let r = app
        .get(
            &format!("/api/v2/workspaces/{ws}/investigation/audit?continuationToken=forged"),
            Some(&org.admin),
        )
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
}
