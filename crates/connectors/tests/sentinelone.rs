//! The SentinelOne connector against the fake console on loopback.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::*;
use palisade_connectors::{
    Change, Connector, ConnectorKind, Cursor, SourceError, WriteBack, WriteBackOutcome,
};
use palisade_fakes::{Call, FakeSentinelOne, Fault};
use palisade_types::incidents::{Classification, ClassificationReason, IncidentStatus, Owner};
use serde_json::{json, Value};

const TOKEN: &str = "eyJraWQiOiJzMS1hcGktdG9rZW4tZG8tbm90LWxlYWsifQ";

fn connector(fake: &FakeSentinelOne, patch: Value) -> Connector {
    token_connector(ConnectorKind::SentinelOne, fake.base(), patch, TOKEN)
}

#[tokio::test]
async fn pages_overlap_and_changes() {
    let fake = FakeSentinelOne::start(TOKEN).await;
    let (start, added) = simulated_since_start(&fake, 250).await;
    let c = connector(&fake, json!({"pageSize": 100}));
    let (mut cursor, pages) = first_poll(&c, start).await;
    assert_eq!(pages.len(), 3);
    assert_eq!(ids(&pages), added);
    let r = fake.requests();
    assert_eq!(r.len(), 3, "one call per page");
    assert_eq!(r[0].path, "/web/api/v2.1/threats");
    assert_eq!(
        r[0].header("authorization"),
        Some(format!("ApiToken {TOKEN}").as_str())
    );
    assert_eq!(r[0].param("sortBy").as_deref(), Some("updatedAt"));
    assert_eq!(r[0].param("sortOrder").as_deref(), Some("asc"));
    assert_eq!(r[0].param("limit").as_deref(), Some("100"));
    assert!(r[0].param("updatedAt__gte").is_some());
    assert!(r[0].param("cursor").is_none());
    assert!(r[1].param("cursor").is_some(), "nextCursor is followed");
    assert_eq!(r[1].param("updatedAt__gte"), r[0].param("updatedAt__gte"));
    let one = &pages[0].items[0];
    assert!(one.incident.entities.as_ref().unwrap().len() >= 3);
    assert!(one.unmapped.is_empty(), "{:?}", one.unmapped);

    // The overlap window is re-read and skipped.
    let again = poll(&c, &mut cursor).await.unwrap();
    assert!(ids(&again).is_empty());
    assert!(again.iter().map(|p| p.skipped).sum::<usize>() > 0);
    // A change at the source comes back.
    fake.modify(&added[9], |t| {
        t["threatInfo"]["incidentStatus"] = json!("in_progress");
    });
    let pages = poll(&c, &mut cursor).await.unwrap();
    assert_eq!(ids(&pages), [added[9].clone()]);
    let changed = pages.iter().flat_map(|p| &p.items).next().unwrap();
    assert_eq!(changed.incident.status.as_deref(), Some("Active"));
}

#[tokio::test]
async fn throttling_and_outages_lose_and_duplicate_nothing() {
    let fake = FakeSentinelOne::start(TOKEN).await;
    let start = Utc::now() - chrono::Duration::seconds(1);
    let added: Vec<String> = (0..300).map(|i| fake.add_simulated(i)).collect();
    let c = connector(&fake, json!({"pageSize": 50}));
    let mut cursor = Cursor::start(start);
    let mut all = Vec::new();
    // The second page is throttled; the job waits and starts again from the stored cursor.
    let first = c.pull(&cursor, None).await.unwrap();
    cursor = first.high_water.clone();
    let mut cont = first.continuation.clone();
    all.extend(ids(&[first]));
    fake.fail_next(Call::List, 1, Fault::throttle(7));
    let (pages, e) = poll_until_error(&c, &mut cursor, &mut cont).await;
    assert!(pages.is_empty());
    match e {
        Some(SourceError::RateLimited { retry_after, .. }) => {
            assert_eq!(retry_after, Duration::from_secs(7))
        }
        other => panic!("{other:?}"),
    }
    // Then two 5xx in the middle of the next poll.
    let p = c.pull(&cursor, None).await.unwrap();
    cursor = p.high_water.clone();
    let mut cont = p.continuation.clone();
    all.extend(ids(&[p]));
    fake.fail_next(Call::List, 2, Fault::status(503));
    let (pages, e) = poll_until_error(&c, &mut cursor, &mut cont).await;
    assert!(pages.is_empty());
    assert!(matches!(e, Some(SourceError::Unavailable { .. })), "{e:?}");
    let e = c.pull(&cursor, cont.as_ref()).await.unwrap_err();
    assert!(matches!(e, SourceError::Unavailable { .. }), "{e:?}");
    let rest = poll(&c, &mut cursor).await.unwrap();
    all.extend(ids(&rest));
    assert_unique(&all);
    assert_eq!(all, added);
}

#[tokio::test]
async fn auth_failures_are_typed_and_the_token_never_shows() {
    let fake = FakeSentinelOne::start(TOKEN).await;
    fake.add_simulated(1);
    let bad = token_connector(
        ConnectorKind::SentinelOne,
        fake.base(),
        json!({}),
        "wrong-token-value",
    );
    let e = assert_auth_error(&bad).await;
    assert!(!e.is_retryable());
    let c = connector(&fake, json!({}));
    fake.fail_next(Call::List, 1, Fault::status(403));
    let e = c.check().await.unwrap_err();
    assert!(e.to_string().contains("Threats view"), "{e}");
    for shown in [format!("{c:?}"), format!("{e:?}"), e.to_string()] {
        assert!(!shown.contains(TOKEN), "{shown}");
    }
    let config = palisade_connectors::ConnectorConfig::parse(
        ConnectorKind::SentinelOne,
        Some(&json!({"baseUrl": fake.base()})),
        Some(&json!({"apiToken": TOKEN})),
    )
    .unwrap();
    assert!(!format!("{config:?}").contains(TOKEN));
    c.check().await.unwrap();
}

#[tokio::test]
async fn write_back_calls_as_documented() {
    let fake = FakeSentinelOne::start(TOKEN).await;
    let id = fake.add_simulated(4);
    let c = connector(&fake, json!({}));
    let wb = |change, attempt| write(&id, change, attempt);
    let close = closing(
        Classification::TruePositive,
        ClassificationReason::Malware,
        Some("Contained."),
    );
    c.write_back(&wb(close, 1)).await.unwrap();
    let w = fake.writes();
    let calls: Vec<(&str, Value)> = w.iter().map(|r| (r.path.as_str(), r.json())).collect();
    assert_eq!(
        calls,
        [
            (
                "/web/api/v2.1/threats/incident",
                json!({"filter": {"ids": [id]}, "data": {"incidentStatus": "resolved"}})
            ),
            (
                "/web/api/v2.1/threats/analyst-verdict",
                json!({"filter": {"ids": [id]}, "data": {"analystVerdict": "true_positive"}})
            ),
            (
                "/web/api/v2.1/threats/notes",
                json!({"filter": {"ids": [id]}, "data": {"text": "Contained."}})
            ),
        ]
    );
    let t = fake.threat(&id).unwrap();
    assert_eq!(t["threatInfo"]["incidentStatus"], "resolved");
    assert_eq!(t["threatInfo"]["analystVerdict"], "true_positive");

    let ann = Owner {
        user_id: None,
        email: Some("ann@contoso.com".into()),
        display_name: None,
    };
    c.write_back(&wb(Change::Assign { owner: Some(ann) }, 1))
        .await
        .unwrap();
    assert_eq!(
        fake.notes(&id).last().unwrap()["text"],
        "Assigned in Palisade to ann@contoso.com."
    );
    // A retried note whose answer was lost is not added twice.
    let note = Change::Comment {
        id: "c1".into(),
        text: "Host isolated.".into(),
    };
    c.write_back(&wb(note.clone(), 1)).await.unwrap();
    assert_eq!(
        c.write_back(&wb(note, 2)).await.unwrap(),
        WriteBackOutcome::AlreadyApplied
    );
    assert_eq!(
        fake.notes(&id)
            .iter()
            .filter(|n| n["text"] == "Host isolated.")
            .count(),
        1
    );
    let gone = WriteBack {
        external_id: "42".into(),
        ..wb(Change::Assign { owner: None }, 1)
    };
    assert_not_found(&c, &gone).await;
    fake.fail_next(Call::Update, 1, Fault::throttle(3));
    let reopen = status(IncidentStatus::Active);
    assert!(c
        .write_back(&wb(reopen.clone(), 1))
        .await
        .unwrap_err()
        .is_retryable());
    c.write_back(&wb(reopen, 2)).await.unwrap();
    let t = fake.threat(&id).unwrap();
    assert_eq!(t["threatInfo"]["incidentStatus"], "in_progress");
    assert_eq!(t["threatInfo"]["analystVerdict"], "undefined");
}

/// `cargo test -p palisade-connectors --test sentinelone -- --ignored --nocapture backfill`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: 100,000 threats through pull"]
async fn backfill_throughput() {
    let fake = FakeSentinelOne::start(TOKEN).await;
    let c = connector(&fake, json!({"pageSize": 1000}));
    let labels = ("SentinelOne", "threats", "pages of 1000");
    backfill_report(&fake, &c, 100_000, labels).await;
}
