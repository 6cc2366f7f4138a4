//! The IBM QRadar connector against the fake console on loopback.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::*;
use palisade_connectors::{
    Change, Connector, ConnectorKind, Cursor, SourceError, WriteBack, WriteBackOutcome,
};
use palisade_fakes::{Call, FakeQRadar, Fault};
use palisade_types::incidents::{Classification, ClassificationReason, IncidentStatus, Owner};
use serde_json::{json, Value};

const TOKEN: &str = "5e2c0d1a-qradar-SEC-token-do-not-leak";

fn connector(fake: &FakeQRadar, patch: Value) -> Connector {
    vendor_connector(
        ConnectorKind::IbmQRadar,
        json!({"baseUrl": fake.base(), "apiVersion": "20.0"}),
        patch,
        json!({"apiToken": TOKEN}),
    )
}

#[tokio::test]
async fn ranges_keyset_paging_addresses_and_updates() {
    let fake = FakeQRadar::start(TOKEN).await;
    fake.add("before the start", &["10.0.0.1"], &[], json!({}));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let start = Utc::now();
    let added: Vec<String> = (0..120)
        .map(|i| fake.add_simulated(i).to_string())
        .collect();
    let c = connector(&fake, json!({}));
    let mut cursor = Cursor::start(start);
    let pages = poll(&c, &mut cursor).await.unwrap();
    assert_eq!(pages.len(), 3, "ranges of 50");
    assert_eq!(ids(&pages), added);
    let r = fake.requests();
    let lists: Vec<_> = r
        .iter()
        .filter(|r| r.path == "/api/siem/offenses")
        .collect();
    assert_eq!(lists.len(), 3);
    assert_eq!(lists[0].header("sec"), Some(TOKEN));
    assert_eq!(lists[0].header("version"), Some("20.0"));
    assert_eq!(lists[0].header("range"), Some("items=0-49"));
    let raw = lists[0].query.as_deref().unwrap();
    assert!(
        raw.contains("filter=last_persisted_time%20%3E%3D%20"),
        "{raw}"
    );
    assert!(raw.contains("sort=%2Blast_persisted_time"), "{raw}");
    assert!(lists[1].param("filter").unwrap() >= lists[0].param("filter").unwrap());
    // Addresses are resolved in batches and cached: no id is asked for twice.
    let lookups: Vec<_> = r
        .iter()
        .filter(|r| r.path.ends_with("_addresses"))
        .map(|r| r.param("filter").unwrap())
        .collect();
    assert!(!lookups.is_empty() && lookups.len() <= 6, "{lookups:?}");
    let one = &pages[0].items[0].incident;
    let entities = one.entities.as_ref().unwrap();
    assert!(entities.iter().any(|e| e.kind.as_deref() == Some("Ip")));
    assert!(one.provider_url.as_deref().unwrap().contains("summaryId="));

    // Updates to existing offenses come back through last_persisted_time.
    let again = poll(&c, &mut cursor).await.unwrap();
    assert!(ids(&again).is_empty());
    let calls_before = fake.requests().len();
    let id: i64 = added[5].parse().unwrap();
    fake.modify(id, |o| o["assigned_to"] = json!("ann"));
    let pages = poll(&c, &mut cursor).await.unwrap();
    assert_eq!(ids(&pages), [added[5].clone()]);
    let i = &pages.iter().flat_map(|p| &p.items).next().unwrap().incident;
    assert_eq!(i.status.as_deref(), Some("Active"));
    // The cost of finding it: the overlap window (30 s, here all 120 offenses) read again in
    // ranges of 50, skipped without any address lookup.
    let cost: Vec<String> = fake.requests()[calls_before..]
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(cost, ["/api/siem/offenses"; 3]);
}

#[tokio::test]
async fn failures_are_typed_and_lose_nothing() {
    let fake = FakeQRadar::start(TOKEN).await;
    let start = Utc::now() - chrono::Duration::seconds(1);
    let added: Vec<String> = (0..200)
        .map(|i| fake.add_simulated(i).to_string())
        .collect();
    let c = connector(&fake, json!({"pageSize": 40}));
    let mut cursor = Cursor::start(start);
    let first = c.pull(&cursor, None).await.unwrap();
    let mut all = ids(std::slice::from_ref(&first));
    cursor = first.high_water.clone();
    let mut cont = first.continuation.clone();
    fake.fail_next(Call::List, 1, Fault::throttle(5));
    let (pages, e) = poll_until_error(&c, &mut cursor, &mut cont).await;
    all.extend(ids(&pages));
    assert!(
        matches!(e, Some(SourceError::RateLimited { retry_after, .. }) if retry_after == Duration::from_secs(5)),
        "{e:?}"
    );
    fake.fail_next(Call::Lookup, 1, Fault::status(500));
    let (pages, e) = poll_until_error(&c, &mut cursor, &mut None).await;
    all.extend(ids(&pages));
    assert!(matches!(e, Some(SourceError::Unavailable { .. })), "{e:?}");
    let rest = poll(&c, &mut cursor).await.unwrap();
    all.extend(ids(&rest));
    assert_unique(&all);
    assert_eq!(all, added);

    let bad = token_connector(
        ConnectorKind::IbmQRadar,
        fake.base(),
        json!({}),
        "not-the-token",
    );
    let e = assert_auth_error(&bad).await;
    assert_hidden_and_checks(&c, &e, TOKEN).await;
}

#[tokio::test]
async fn write_back_closes_with_a_reason_assigns_and_notes() {
    let fake = FakeQRadar::start(TOKEN).await;
    let tp = fake.add_closing_reason("True Positive - Escalated");
    let id = fake.add_simulated(3);
    let c = connector(&fake, json!({}));
    let wb = |change, attempt| write(&id.to_string(), change, attempt);
    let ann = Owner {
        user_id: None,
        email: None,
        display_name: Some("ann".into()),
    };
    c.write_back(&wb(Change::Assign { owner: Some(ann) }, 1))
        .await
        .unwrap();
    let out = c
        .write_back(&wb(
            closing(
                Classification::TruePositive,
                ClassificationReason::Malware,
                Some("Reimaged."),
            ),
            1,
        ))
        .await
        .unwrap();
    assert!(matches!(
        out,
        WriteBackOutcome::Applied { version: Some(_) }
    ));
    let w = fake.writes();
    let calls: Vec<(String, Option<String>)> = w
        .iter()
        .map(|r| (r.path.clone(), r.query.clone()))
        .collect();
    assert_eq!(
        calls,
        [
            (format!("/api/siem/offenses/{id}"), Some("assigned_to=ann".into())),
            (format!("/api/siem/offenses/{id}"), Some(format!("status=CLOSED&closing_reason_id={tp}"))),
            (
                format!("/api/siem/offenses/{id}/notes"),
                Some("note_text=Closed%20in%20Palisade%20as%20TruePositive%20%28Malware%29.%20Reimaged.".into())
            ),
        ]
    );
    let o = fake.offense(id).unwrap();
    assert_eq!(
        (o["status"].as_str(), o["closing_reason_id"].as_i64()),
        (Some("CLOSED"), Some(tp))
    );
    // A closed offense is not reopened: a permanent refusal, not a retry.
    let e = c
        .write_back(&wb(status(IncidentStatus::Active), 1))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            SourceError::Rejected {
                status: Some(409),
                ..
            }
        ),
        "{e:?}"
    );
    let note = Change::Comment {
        id: "n1".into(),
        text: "Root cause: USB stick.".into(),
    };
    c.write_back(&wb(note.clone(), 1)).await.unwrap();
    assert_eq!(
        c.write_back(&wb(note, 2)).await.unwrap(),
        WriteBackOutcome::AlreadyApplied
    );
    assert_eq!(fake.notes(id).len(), 2);
    let gone = WriteBack {
        external_id: "99999".into(),
        ..wb(Change::Assign { owner: None }, 1)
    };
    assert_not_found(&c, &gone).await;
}

async fn backfill(page_size: u64) {
    let fake = FakeQRadar::start(TOKEN).await;
    let c = connector(&fake, json!({"pageSize": page_size}));
    let unit = format!("ranges of {page_size}");
    backfill_report(&fake, &c, 100_000, ("QRadar", "offenses", &unit)).await;
}

/// `cargo test -p palisade-connectors --test qradar -- --ignored --nocapture backfill`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: 100,000 offenses through pull, ranges of 50"]
async fn backfill_throughput_range_50() {
    backfill(50).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: 100,000 offenses through pull, ranges of 500"]
async fn backfill_throughput_range_500() {
    backfill(500).await;
}
