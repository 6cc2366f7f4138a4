//! The gamebook-history streams against the real server (TestApp, on the engine
//! PALISADE_TEST_DATABASE names): a workspace's history paged by `pageToken` (50 a page) and
//! the history across workspaces paged by page numbers, each yielding every run once.

mod common;

use std::collections::HashSet;

use common::client;
use futures_util::TryStreamExt;
use palisade_client::query::{GamebookHistoryQuery, GamebookPageQuery};
use palisade_client::types::gamebooks::{PlaybookRequest, StartGamebookRequest};
use palisade_client::types::incidents::{IncidentInput, IncidentSource};
use palisade_client::Client;
use palisade_test_utils::TestApp;
use serde_json::json;
use uuid::Uuid;

/// Starts `n` runs of `playbook` on one incident of `ws`; returns their ids.
async fn runs(c: &Client, ws: Uuid, playbook: Uuid, n: usize) -> HashSet<Uuid> {
    let incident: IncidentInput =
        serde_json::from_value(json!({"title": "Ransomware note found", "severity": "High"}))
            .unwrap();
    c.incidents()
        .ingest_one(ws, IncidentSource::CrowdStrike, "CS-1", &incident)
        .await
        .expect("ingest");
    let mut ids = HashSet::new();
    for k in 0..n {
        let run = c
            .gamebooks()
            .start(
                ws,
                &StartGamebookRequest {
                    source: Some("CrowdStrike".into()),
                    incident_id: Some("CS-1".into()),
                    playbook_ids: Some(vec![playbook.to_string()]),
                    title: Some(format!("Run {k}")),
                    ..Default::default()
                },
            )
            .await
            .expect("start a run");
        ids.insert(run.id);
    }
    ids
}

/// The ids a stream yielded, checking that none came twice.
fn once(ids: Vec<Uuid>) -> HashSet<Uuid> {
    let unique: HashSet<Uuid> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "a run came twice");
    unique
}

#[tokio::test]
async fn gamebook_history_streams_yield_every_run_once() {
    let app = TestApp::spawn().await;
    let org = app.org("History").await;
    let c = client(&app, &org);
    // Runs wait for an Owner's approval, so none changes while the pages are read.
    let playbook = c
        .gamebooks()
        .create_playbook(&PlaybookRequest {
            name: Some("Isolate host".into()),
            is_admin_required: Some(true),
            action: Some(
                serde_json::from_value(json!({"type": "AddComment", "message": "isolated"}))
                    .unwrap(),
            ),
            ..Default::default()
        })
        .await
        .expect("playbook")
        .id;
    let big = app.workspace(&org, "Big").await;
    let small = app.workspace(&org, "Small").await;
    let in_big = runs(&c, big, playbook, 57).await;
    let in_small = runs(&c, small, playbook, 9).await;

    // pageToken: 50, then 7; the stream follows the token to the end.
    let first = c
        .gamebooks()
        .history(big, &GamebookHistoryQuery::default())
        .await
        .unwrap();
    assert_eq!(first.gamebooks.len(), 50);
    assert_eq!(first.total_count, 57);
    assert!(first.page_token.is_some());
    let streamed: Vec<_> = c
        .gamebooks()
        .history_stream(big, GamebookHistoryQuery::default())
        .try_collect()
        .await
        .expect("history stream");
    assert!(
        streamed
            .windows(2)
            .all(|w| w[0].creation_date >= w[1].creation_date),
        "newest first"
    );
    assert!(streamed.iter().all(|g| g.workspace_id == big));
    assert_eq!(once(streamed.iter().map(|g| g.id).collect()), in_big);
    // A query narrows every page alike.
    let mut narrowed: Vec<_> = c
        .gamebooks()
        .history_stream(
            big,
            GamebookHistoryQuery {
                query: Some("run 5".into()),
                ..Default::default()
            },
        )
        .map_ok(|g| g.title)
        .try_collect()
        .await
        .unwrap();
    narrowed.sort();
    assert_eq!(
        narrowed,
        ["Run 5", "Run 50", "Run 51", "Run 52", "Run 53", "Run 54", "Run 55", "Run 56"]
    );

    // Page numbers across workspaces: pages of 8 over 66 runs, from page 1 to the last.
    let across: Vec<_> = c
        .gamebooks()
        .across_history_stream(GamebookPageQuery {
            current_page: 1,
            page_size: Some(8),
            ..Default::default()
        })
        .try_collect()
        .await
        .expect("across stream");
    let all: HashSet<Uuid> = in_big.union(&in_small).copied().collect();
    assert_eq!(once(across.iter().map(|g| g.id).collect()), all);
    // From a later page on, the stream yields the rest only.
    let rest: Vec<_> = c
        .gamebooks()
        .across_history_stream(GamebookPageQuery {
            current_page: 8,
            page_size: Some(8),
            ..Default::default()
        })
        .map_ok(|g| g.id)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rest, across[56..].iter().map(|g| g.id).collect::<Vec<_>>());
    // One workspace's runs only.
    let one: Vec<_> = c
        .gamebooks()
        .across_history_stream(GamebookPageQuery {
            current_page: 1,
            page_size: Some(4),
            workspaces: Some(small.to_string()),
            ..Default::default()
        })
        .map_ok(|g| g.id)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(once(one), in_small);
}
