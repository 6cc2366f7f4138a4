//! The Sentinel connector against the fake Entra ID and the fake Sentinel (ARM) on loopback.

mod common;

use std::time::{Duration, Instant};

use chrono::Utc;
use common::*;
use palisade_connectors::{Change, Cursor, SourceError, WriteBack, WriteBackOutcome};
use palisade_fakes::{Call, Fault, SentinelSeed};
use palisade_types::incidents::{Classification, ClassificationReason, IncidentStatus, Owner};
use serde_json::{json, Value};

fn seed(title: &str) -> SentinelSeed {
    SentinelSeed::new(title, "High")
}

#[tokio::test]
async fn backfill_from_start_across_pages_then_incremental_polls() {
    let s = sentinel().await;
    for i in 0..4 {
        s.fake.add(seed(&format!("before {i}")));
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let start = Utc::now();
    let mut names = Vec::new();
    for i in 0..25 {
        names.push(s.fake.add_simulated(i));
    }
    let c = s.connector(json!({"pageSize": 10}));
    let mut cursor = Cursor::start(start);
    let pages = poll(&c, &mut cursor).await.unwrap();
    // 25 incidents in pages of 10 (the older ones are before the start).
    assert_eq!(pages.len(), 3);
    assert_eq!(ids(&pages), names);
    let versions: Vec<_> = pages
        .iter()
        .flat_map(|p| p.items.iter().map(|i| i.version))
        .collect();
    assert!(
        versions.windows(2).all(|w| w[0] < w[1]),
        "oldest change first"
    );
    assert_eq!(cursor.since, *versions.last().unwrap());
    // The list was asked exactly as documented.
    let lists: Vec<_> = s
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET")
        .collect();
    let first = &lists[0];
    assert_eq!(first.param("api-version").as_deref(), Some("2024-03-01"));
    assert_eq!(
        first.param("$orderby").as_deref(),
        Some("properties/lastModifiedTimeUtc asc")
    );
    assert_eq!(first.param("$top").as_deref(), Some("10"));
    let filter = first.param("$filter").unwrap();
    assert!(
        filter.starts_with("properties/lastModifiedTimeUtc ge "),
        "{filter}"
    );
    assert!(
        lists[1].param("$skipToken").is_some(),
        "the second page follows nextLink"
    );
    // Entities and alerts were read per incident.
    let item = &pages[0].items[0];
    assert!(!item.incident.entities.as_ref().unwrap().is_empty());
    assert_eq!(item.incident.alerts.as_ref().unwrap().len(), 1);
    let posts = s
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 50);

    // An immediate second poll re-reads the overlap window and skips all of it cheaply.
    let before = s.fake.requests().len();
    let pages = poll(&c, &mut cursor).await.unwrap();
    assert!(ids(&pages).is_empty());
    assert_eq!(pages.iter().map(|p| p.skipped).sum::<usize>(), 25);
    assert_eq!(
        s.fake.requests().len() - before,
        3,
        "three list pages, no entity calls"
    );

    // New incidents and a change at the source arrive; nothing else does.
    let fresh: Vec<String> = (100..103).map(|i| s.fake.add_simulated(i)).collect();
    s.fake.modify(&names[4], |p| {
        p.insert("title".into(), json!("Renamed in the portal"));
        p.insert("status".into(), json!("Active"));
    });
    let pages = poll(&c, &mut cursor).await.unwrap();
    let got = ids(&pages);
    assert_eq!(got, [fresh.clone(), vec![names[4].clone()]].concat());
    let changed = pages
        .iter()
        .flat_map(|p| &p.items)
        .find(|i| i.external_id == names[4])
        .unwrap();
    assert_eq!(
        changed.incident.title.as_deref(),
        Some("Renamed in the portal")
    );
    assert_eq!(changed.incident.status.as_deref(), Some("Active"));
    assert_eq!(cursor.since, changed.version);
    assert_eq!(c.token_requests(), 1, "one token for all of it");
}

#[tokio::test]
async fn tokens_are_cached_refreshed_before_expiry_and_after_a_revocation() {
    let s = sentinel().await;
    s.fake.add(seed("one"));
    let c = s.connector(json!({}));
    let mut cursor = Cursor::start(Utc::now() - chrono::Duration::hours(1));
    for _ in 0..3 {
        poll(&c, &mut cursor).await.unwrap();
    }
    assert_eq!(s.entra.token_requests(), 1);
    // A two-second token is refreshed after half its life.
    s.entra.set_expires_in(2);
    s.entra.revoke_all();
    poll(&c, &mut cursor).await.unwrap();
    assert_eq!(
        s.entra.token_requests(),
        2,
        "a revoked token is replaced once"
    );
    poll(&c, &mut cursor).await.unwrap();
    assert_eq!(s.entra.token_requests(), 2);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    poll(&c, &mut cursor).await.unwrap();
    assert_eq!(s.entra.token_requests(), 3, "refreshed before it expired");
    let form = s.entra.requests()[0].body.clone();
    for part in [
        "grant_type=client_credentials",
        "client_id=3f1c2a9e-5b7d-4e8f-9a0b-1c2d3e4f5a6b",
    ] {
        assert!(form.contains(part), "{form}");
    }
    let scope = format!(
        "scope={}",
        url_encode(&format!("{}/.default", s.fake.base()))
    );
    assert!(form.contains(&scope), "{form}");
}

fn url_encode(s: &str) -> String {
    s.replace(':', "%3A").replace('/', "%2F")
}

#[tokio::test]
async fn throttling_and_outages_are_typed_for_the_job() {
    let s = sentinel().await;
    s.fake.add_simulated(1);
    let c = s.connector(json!({}));
    let cursor = Cursor::start(Utc::now() - chrono::Duration::hours(1));
    s.fake.fail_next(Call::List, 1, Fault::throttle(7));
    match c.pull(&cursor, None).await {
        Err(SourceError::RateLimited { retry_after, .. }) => {
            assert_eq!(retry_after, Duration::from_secs(7))
        }
        other => panic!("rate limited, got {other:?}"),
    }
    s.fake.fail_next(Call::List, 3, Fault::status(503));
    for _ in 0..3 {
        let e = c.pull(&cursor, None).await.unwrap_err();
        assert!(
            matches!(e, SourceError::Unavailable { .. }) && e.is_retryable(),
            "{e:?}"
        );
    }
    // A failing entities call fails the page: nothing is half-committed.
    s.fake.fail_next(Call::Entities, 1, Fault::status(500));
    assert!(matches!(
        c.pull(&cursor, None).await,
        Err(SourceError::Unavailable { .. })
    ));
    let page = c.pull(&cursor, None).await.unwrap();
    assert_eq!(page.items.len(), 1);
    // The token endpoint's own throttling.
    s.entra.revoke_all();
    s.entra.fail_next(1, Fault::throttle(3));
    assert_rate_limited(c.pull(&cursor, None).await, "Microsoft Entra ID", 3);
}

#[tokio::test]
async fn slow_pages_time_out_as_unavailable() {
    let s = sentinel().await;
    s.fake.add(seed("one"));
    let cfg = s.config(json!({}));
    let mut o = options(guard(true, &[]));
    o.timeout = Duration::from_millis(300);
    let c = palisade_connectors::Connector::new(&cfg, &o).unwrap();
    let cursor = Cursor::start(Utc::now() - chrono::Duration::hours(1));
    c.pull(&cursor, None).await.unwrap();
    s.fake.set_delay(Call::List, Duration::from_millis(800));
    let started = Instant::now();
    let e = c.pull(&cursor, None).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(780));
    assert_eq!(
        e.to_string(),
        "Azure Resource Manager is unavailable: timed out"
    );
}

#[tokio::test]
async fn write_back_puts_the_whole_incident_with_its_etag() {
    let s = sentinel().await;
    let name = s.fake.add(
        seed("Suspicious sign-in")
            .with("labels", json!([{"labelName": "vip", "labelType": "User"}])),
    );
    let c = s.connector(json!({}));
    let verdict = closing(
        Classification::TruePositive,
        ClassificationReason::Malware,
        Some("Confirmed by the SOC"),
    );
    let close = write(&name, verdict, 1);
    let before = s.fake.incident(&name).unwrap();
    let out = c.write_back(&close).await.unwrap();
    let after = s.fake.incident(&name).unwrap();
    assert!(matches!(out, WriteBackOutcome::Applied { version: Some(v) } if v.to_rfc3339() != ""));
    let put = s
        .fake
        .writes()
        .into_iter()
        .find(|r| r.method == "PUT")
        .unwrap();
    assert!(put.path.ends_with(&format!(
        "/providers/Microsoft.SecurityInsights/incidents/{name}"
    )));
    assert_eq!(put.param("api-version").as_deref(), Some("2024-03-01"));
    assert!(put.header("authorization").unwrap().starts_with("Bearer "));
    assert_eq!(put.header("content-type"), Some("application/json"));
    let body = put.json();
    assert_eq!(body["etag"], before["etag"]);
    let p = &body["properties"];
    assert_eq!(
        (
            p["status"].as_str(),
            p["classification"].as_str(),
            p["classificationReason"].as_str()
        ),
        (
            Some("Closed"),
            Some("TruePositive"),
            Some("SuspiciousActivity")
        )
    );
    assert_eq!(p["classificationComment"], "Confirmed by the SOC");
    // The rest of the incident travels back unchanged (a PUT replaces the resource).
    for k in ["title", "severity", "labels", "owner", "description"] {
        assert_eq!(p[k], before["properties"][k], "{k}");
    }
    assert!(
        p.get("incidentNumber").is_none(),
        "read-only properties are not sent"
    );
    assert_eq!(after["properties"]["status"], "Closed");
    assert_eq!(after["properties"]["labels"][0]["labelName"], "vip");
    // The same change again finds nothing to do.
    assert_eq!(
        c.write_back(&close).await.unwrap(),
        WriteBackOutcome::AlreadyApplied
    );
    assert_eq!(s.fake.writes().len(), 1);

    // Assignment, then unassignment.
    let owner = Owner {
        user_id: Some("0b9a7d8c-1111-4222-8333-944455556666".into()),
        email: Some("ann@contoso.com".into()),
        display_name: Some("Ann".into()),
    };
    let assign = |o: Option<Owner>| write(&name, Change::Assign { owner: o }, 1);
    c.write_back(&assign(Some(owner))).await.unwrap();
    assert_eq!(
        s.fake.incident(&name).unwrap()["properties"]["owner"],
        json!({"objectId": "0b9a7d8c-1111-4222-8333-944455556666", "email": "ann@contoso.com", "userPrincipalName": "ann@contoso.com", "assignedTo": "Ann"})
    );
    c.write_back(&assign(None)).await.unwrap();
    assert!(s.fake.incident(&name).unwrap()["properties"]["owner"]
        .as_object()
        .unwrap()
        .values()
        .all(Value::is_null));

    // A comment is a resource named after Palisade's comment: a retry replaces, never adds.
    let comment = |attempt| {
        let text = "Isolated the host.".into();
        write(
            &name,
            Change::Comment {
                id: "c-17".into(),
                text,
            },
            attempt,
        )
    };
    c.write_back(&comment(1)).await.unwrap();
    c.write_back(&comment(2)).await.unwrap();
    let comments = s.fake.comments(&name);
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0]["properties"]["message"], "Isolated the host.");
    let put = s
        .fake
        .writes()
        .into_iter()
        .rfind(|r| r.path.contains("/comments/"))
        .unwrap();
    assert_eq!(
        put.json(),
        json!({"properties": {"message": "Isolated the host."}})
    );
    let cid = put.path.rsplit('/').next().unwrap();
    assert!(uuid::Uuid::parse_str(cid).is_ok(), "{cid}");
}

#[tokio::test]
async fn a_stale_etag_is_read_again_and_reapplied_within_a_bound() {
    let s = sentinel().await;
    let name = s.fake.add(seed("x"));
    let c = s.connector(json!({}));
    let reopen = |s| write(&name, status(s), 1);
    s.fake.stale_etag_next(1);
    assert!(matches!(
        c.write_back(&reopen(IncidentStatus::Active)).await.unwrap(),
        WriteBackOutcome::Applied { .. }
    ));
    let methods: Vec<String> = s.fake.requests().into_iter().map(|r| r.method).collect();
    assert_eq!(methods, ["GET", "PUT", "GET", "PUT"]);
    let puts = s.fake.writes();
    assert_ne!(
        puts[0].json()["etag"],
        puts[1].json()["etag"],
        "the second PUT carries the new etag"
    );
    let got = s.fake.incident(&name).unwrap();
    assert_eq!(got["properties"]["status"], "Active");
    assert_eq!(
        got["properties"]["description"], "Edited in the portal meanwhile.",
        "the other change is kept"
    );

    s.fake.stale_etag_next(10);
    let e = c
        .write_back(&reopen(IncidentStatus::New))
        .await
        .unwrap_err();
    assert!(
        matches!(e, SourceError::Conflict { .. }) && e.is_retryable(),
        "{e:?}"
    );
    assert_eq!(
        s.fake.writes().len() - puts.len(),
        3,
        "gives up after three attempts"
    );
    let gone = WriteBack {
        external_id: "00000000-0000-4000-8000-000000000000".into(),
        ..reopen(IncidentStatus::Active)
    };
    assert_not_found(&c, &gone).await;
}

#[tokio::test]
async fn wrong_settings_name_their_field() {
    let s = sentinel().await;
    let cursor = Cursor::start(Utc::now());
    for (patch, field) in [
        (
            json!({"workspaceName": "law-other"}),
            "settings.workspaceName",
        ),
        (
            json!({"resourceGroup": "rg-other"}),
            "settings.resourceGroup",
        ),
        (
            json!({"subscriptionId": "99999999-9999-4999-8999-999999999999"}),
            "settings.subscriptionId",
        ),
        (
            json!({"tenantId": "contoso.onmicrosoft.com"}),
            "settings.tenantId",
        ),
        (
            json!({"clientId": "00000000-0000-4000-8000-000000000001"}),
            "settings.clientId",
        ),
    ] {
        let c = s.connector(patch);
        match c.pull(&cursor, None).await {
            Err(SourceError::Settings { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
        let e = c.check().await.unwrap_err();
        assert!(e.to_validation().is_some(), "{e:?}");
    }
    let c = s.connector(json!({}));
    c.check().await.unwrap();
    c.check_targets().await.unwrap();
}
