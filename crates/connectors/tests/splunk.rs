//! The Splunk Enterprise Security connector against the fake search head on loopback.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::*;
use palisade_connectors::{
    Change, Connector, ConnectorConfig, ConnectorKind, Cursor, SourceError, WriteBack,
};
use palisade_fakes::{Call, FakeSplunk, Fault};
use palisade_types::incidents::{Classification, ClassificationReason, Owner};
use serde_json::{json, Value};

const TOKEN: &str = "eyJraWQiOiJzcGx1bmsuc2VjcmV0IiwiYWxnIjoiSFM1MTIifQ.do-not-leak";

fn connector(fake: &FakeSplunk, patch: Value) -> Connector {
    token_connector(
        ConnectorKind::SplunkEnterpriseSecurity,
        fake.base(),
        patch,
        TOKEN,
    )
}

#[tokio::test]
async fn the_export_is_paged_and_deduplicated_by_event_id() {
    let fake = FakeSplunk::start(TOKEN).await;
    let (start, added) = simulated_since_start(&fake, 250).await;
    let c = connector(&fake, json!({"pageSize": 100}));
    let (mut cursor, pages) = first_poll(&c, start).await;
    assert_eq!(ids(&pages), added);
    assert!(pages.len() >= 3);
    let r = fake.requests();
    assert_eq!(r[0].path, "/services/search/jobs/export");
    assert_eq!(
        r[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(r[0].body.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(form["search"], "search `notable` | sort 100 +_time");
    assert_eq!(form["output_mode"], "json");
    let (e0, l0) = (form["earliest_time"].clone(), form["latest_time"].clone());
    let form1: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(r[1].body.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(form1["latest_time"], l0, "one window per poll");
    assert!(form1["earliest_time"].parse::<f64>().unwrap() >= e0.parse::<f64>().unwrap());
    let one = &pages[0].items[0].incident;
    assert!(one.entities.as_ref().unwrap().len() >= 4);

    // The look-back re-reads the window; what was committed is skipped.
    let again = poll(&c, &mut cursor).await.unwrap();
    assert!(ids(&again).is_empty());
    assert!(again.iter().map(|p| p.skipped).sum::<usize>() >= 250);
    // A notable indexed late (its _time inside the look-back) is still found, once.
    let late = fake.add_at(
        "Indexed late",
        Some(start + chrono::Duration::milliseconds(1)),
        json!({}),
    );
    let pages = poll(&c, &mut cursor).await.unwrap();
    assert_eq!(ids(&pages), [late]);
    assert!(ids(&poll(&c, &mut cursor).await.unwrap()).is_empty());
}

#[tokio::test]
async fn rows_are_read_as_a_stream_and_equal_times_do_not_stall_paging() {
    let fake = FakeSplunk::start(TOKEN).await;
    let at = Utc::now() - chrono::Duration::seconds(5);
    let same: Vec<String> = (0..35)
        .map(|i| fake.add_at(&format!("burst {i}"), Some(at), json!({})))
        .collect();
    let start = at - chrono::Duration::seconds(1);
    let c = connector(&fake, json!({"pageSize": 10}));
    let mut cursor = Cursor::start(start);
    let pages = poll(&c, &mut cursor).await.unwrap();
    let got = ids(&pages);
    assert_unique(&got);
    assert_eq!(
        got.len(),
        same.len(),
        "35 notables at one instant through pages of 10"
    );

    // An answer far larger than the answer limit: only a line must fit.
    for i in 0..600 {
        fake.add_simulated(i);
    }
    let config = ConnectorConfig::parse(
        ConnectorKind::SplunkEnterpriseSecurity,
        Some(&json!({"baseUrl": fake.base(), "pageSize": 1000})),
        Some(&json!({"apiToken": TOKEN})),
    )
    .unwrap();
    let mut o = options(guard(true, &[]));
    o.max_answer_bytes = 16 * 1024;
    let small = Connector::new(&config, &o).unwrap();
    let mut cursor = Cursor::start(start);
    let pages = poll(&small, &mut cursor).await.unwrap();
    assert_eq!(ids(&pages).len(), 635);
}

#[tokio::test]
async fn failures_are_typed_and_lose_nothing() {
    let fake = FakeSplunk::start(TOKEN).await;
    let start = Utc::now() - chrono::Duration::seconds(1);
    let added: Vec<String> = (0..90).map(|i| fake.add_simulated(i)).collect();
    let c = connector(&fake, json!({"pageSize": 20}));
    let mut cursor = Cursor::start(start);
    let first = c.pull(&cursor, None).await.unwrap();
    let mut all = ids(std::slice::from_ref(&first));
    cursor = first.high_water.clone();
    let mut cont = first.continuation.clone();
    fake.fail_next(Call::List, 1, Fault::status(503));
    let (pages, e) = poll_until_error(&c, &mut cursor, &mut cont).await;
    all.extend(ids(&pages));
    let e = e.unwrap();
    assert!(
        matches!(e, SourceError::Unavailable { .. }) && e.to_string().contains("concurrent"),
        "{e}"
    );
    fake.fail_next(Call::List, 1, Fault::throttle(6));
    let (pages, e) = poll_until_error(&c, &mut cursor, &mut None).await;
    all.extend(ids(&pages));
    assert!(
        matches!(e, Some(SourceError::RateLimited { retry_after, .. }) if retry_after == Duration::from_secs(6))
    );
    all.extend(ids(&poll(&c, &mut cursor).await.unwrap()));
    assert_unique(&all);
    assert_eq!(all, added);

    let bad = token_connector(
        ConnectorKind::SplunkEnterpriseSecurity,
        fake.base(),
        json!({}),
        "expired",
    );
    let e = assert_auth_error(&bad).await;
    assert_hidden_and_checks(&c, &e, TOKEN).await;
}

#[tokio::test]
async fn write_back_uses_notable_update() {
    let fake = FakeSplunk::start(TOKEN).await;
    let id = fake.add_simulated(1);
    let c = connector(&fake, json!({}));
    let wb = |change| write(&id, change, 1);
    let close = closing(
        Classification::FalsePositive,
        ClassificationReason::InaccurateData,
        Some("Scanner noise."),
    );
    c.write_back(&wb(close)).await.unwrap();
    let ann = Owner {
        user_id: None,
        email: None,
        display_name: Some("ann".into()),
    };
    c.write_back(&wb(Change::Assign { owner: Some(ann) }))
        .await
        .unwrap();
    c.write_back(&wb(Change::Comment {
        id: "c".into(),
        text: "Checked the proxy logs.".into(),
    }))
    .await
    .unwrap();
    let forms: Vec<Vec<(String, String)>> = fake
        .writes()
        .iter()
        .map(|w| {
            url::form_urlencoded::parse(w.body.as_bytes())
                .into_owned()
                .collect()
        })
        .collect();
    let f = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        forms,
        [
            f(&[
                ("ruleUIDs", &id),
                ("status", "5"),
                ("disposition", "disposition:4"),
                ("comment", "Scanner noise."),
                ("output_mode", "json")
            ]),
            f(&[
                ("ruleUIDs", &id),
                ("newOwner", "ann"),
                ("output_mode", "json")
            ]),
            f(&[
                ("ruleUIDs", &id),
                ("comment", "Checked the proxy logs."),
                ("output_mode", "json")
            ]),
        ]
    );
    let n = fake.notable(&id).unwrap();
    assert_eq!(
        (n["status"].as_str(), n["owner"].as_str()),
        (Some("5"), Some("ann"))
    );
    let gone = WriteBack {
        external_id: "0@@notable@@0".into(),
        ..wb(Change::Assign { owner: None })
    };
    assert_not_found(&c, &gone).await;
}

/// `cargo test -p palisade-connectors --test splunk -- --ignored --nocapture backfill`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: 100,000 notables through pull"]
async fn backfill_throughput() {
    let fake = FakeSplunk::start(TOKEN).await;
    let c = connector(&fake, json!({"pageSize": 10000}));
    let labels = ("Splunk", "notables", "exports of up to 10000 rows");
    backfill_report(&fake, &c, 100_000, labels).await;
}
