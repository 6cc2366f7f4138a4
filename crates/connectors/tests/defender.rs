//! The Defender XDR connector against the fake Entra ID and the fake Graph on loopback.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::*;
use palisade_connectors::{Change, Cursor, SourceError, WriteBack, WriteBackOutcome};
use palisade_fakes::{Call, FakeGraph, Fault, GraphSeed};
use palisade_types::incidents::{Classification, ClassificationReason, Owner};
use serde_json::json;

#[tokio::test]
async fn backfill_and_incremental_polls_with_evidence_as_entities() {
    let g = graph().await;
    g.fake.add(GraphSeed::new("before the start", "low"));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let start = Utc::now();
    let ids_added: Vec<String> = (0..120).map(|i| g.fake.add_simulated(i)).collect();
    let c = g.connector(json!({}));
    let mut cursor = Cursor::start(start);
    let pages = poll(&c, &mut cursor).await.unwrap();
    assert_eq!(pages.len(), 3, "pages of 50");
    assert_eq!(ids(&pages), ids_added);
    let lists = g.fake.requests();
    let first = &lists[0];
    assert_eq!(first.path, "/v1.0/security/incidents");
    assert_eq!(first.param("$expand").as_deref(), Some("alerts"));
    assert_eq!(
        first.param("$orderby").as_deref(),
        Some("lastUpdateDateTime asc")
    );
    assert_eq!(first.param("$top").as_deref(), Some("50"));
    assert!(first
        .param("$filter")
        .unwrap()
        .starts_with("lastUpdateDateTime ge "));
    assert!(
        lists[1].param("$skiptoken").is_some(),
        "@odata.nextLink is followed"
    );
    assert_eq!(lists.len(), 3, "no call per incident");
    let one = &pages[0].items[0];
    let entities = one.incident.entities.as_ref().unwrap();
    assert!(!entities.is_empty());
    let alert = &one.incident.alerts.as_ref().unwrap()[0];
    assert_eq!(alert.entity_ids.as_ref().unwrap().len(), entities.len());
    assert!(one.unmapped.is_empty(), "{:?}", one.unmapped);

    // Nothing new: the overlap window is re-read and skipped.
    let pages = poll(&c, &mut cursor).await.unwrap();
    assert!(ids(&pages).is_empty());
    // A change at the source comes back with its new version.
    g.fake.modify(&ids_added[7], |f| {
        f.insert("status".into(), json!("inProgress"));
        f.insert("assignedTo".into(), json!("kai@contoso.com"));
    });
    let pages = poll(&c, &mut cursor).await.unwrap();
    assert_eq!(ids(&pages), [ids_added[7].clone()]);
    let i = &pages.iter().flat_map(|p| &p.items).next().unwrap().incident;
    assert_eq!(i.status.as_deref(), Some("Active"));
    assert_eq!(
        i.owner.as_ref().unwrap().email.as_deref(),
        Some("kai@contoso.com")
    );
    assert_eq!(c.token_requests(), 1);
}

#[tokio::test]
async fn write_back_patches_and_comments_as_documented() {
    let g = graph().await;
    let id = g
        .fake
        .add(GraphSeed::new("Ransomware on srv-sql-02", "high"));
    let c = g.connector(json!({}));
    let wb = |change, attempt| write(&id, change, attempt);
    let close = closing(
        Classification::TruePositive,
        ClassificationReason::Malware,
        Some("Contained and cleaned."),
    );
    let out = c.write_back(&wb(close, 1)).await.unwrap();
    assert!(matches!(
        out,
        WriteBackOutcome::Applied { version: Some(_) }
    ));
    let writes = g.fake.writes();
    assert_eq!(writes.len(), 2);
    assert_eq!(
        (writes[0].method.as_str(), writes[0].path.as_str()),
        ("PATCH", format!("/v1.0/security/incidents/{id}").as_str())
    );
    assert!(writes[0]
        .header("authorization")
        .unwrap()
        .starts_with("Bearer "));
    assert_eq!(
        writes[0].json(),
        json!({"status": "resolved", "classification": "truePositive", "determination": "malware"})
    );
    assert_eq!(
        (writes[1].method.as_str(), writes[1].path.as_str()),
        (
            "POST",
            format!("/v1.0/security/incidents/{id}/comments").as_str()
        )
    );
    assert_eq!(
        writes[1].json(),
        json!({"@odata.type": "microsoft.graph.security.alertComment", "comment": "Contained and cleaned."})
    );
    let now = g.fake.incident(&id).unwrap();
    assert_eq!(
        (now["status"].as_str(), now["classification"].as_str()),
        (Some("resolved"), Some("truePositive"))
    );

    let ann = Owner {
        user_id: None,
        email: Some("ann@contoso.com".into()),
        display_name: Some("Ann".into()),
    };
    c.write_back(&wb(Change::Assign { owner: Some(ann) }, 1))
        .await
        .unwrap();
    assert_eq!(
        g.fake.writes().last().unwrap().json(),
        json!({"assignedTo": "ann@contoso.com"})
    );
    c.write_back(&wb(Change::Assign { owner: None }, 1))
        .await
        .unwrap();
    assert!(g.fake.incident(&id).unwrap()["assignedTo"].is_null());

    // A comment whose answer was lost is not added twice by the retry.
    let note = Change::Comment {
        id: "c-1".into(),
        text: "Host isolated.".into(),
    };
    c.write_back(&wb(note.clone(), 1)).await.unwrap();
    assert_eq!(
        c.write_back(&wb(note.clone(), 2)).await.unwrap(),
        WriteBackOutcome::AlreadyApplied
    );
    assert_eq!(comments(&g.fake, &id, "Host isolated."), 1);
    // One that really failed is sent by the retry.
    let other = Change::Comment {
        id: "c-2".into(),
        text: "Ticket INC-42 opened.".into(),
    };
    g.fake.fail_next(Call::Comment, 1, Fault::status(502));
    let e = c.write_back(&wb(other.clone(), 1)).await.unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
    assert!(matches!(
        c.write_back(&wb(other, 2)).await.unwrap(),
        WriteBackOutcome::Applied { .. }
    ));
    assert_eq!(comments(&g.fake, &id, "Ticket INC-42 opened."), 1);

    let gone = WriteBack {
        external_id: "999".into(),
        ..wb(Change::Assign { owner: None }, 1)
    };
    assert_not_found(&c, &gone).await;
}

#[tokio::test]
async fn graph_failures_are_typed() {
    let g = graph().await;
    g.fake.add_simulated(1);
    let c = g.connector(json!({}));
    let cursor = Cursor::start(Utc::now() - chrono::Duration::hours(1));
    g.fake.fail_next(Call::List, 1, Fault::throttle(11));
    assert_rate_limited(c.pull(&cursor, None).await, "Microsoft Graph", 11);
    g.fake.fail_next(Call::List, 1, Fault::status(403));
    match c.pull(&cursor, None).await {
        Err(e @ SourceError::Auth { .. }) => {
            assert!(e.to_string().contains("SecurityIncident.Read.All"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    g.fake.fail_next(Call::List, 2, Fault::status(504));
    for _ in 0..2 {
        assert!(c.pull(&cursor, None).await.unwrap_err().is_retryable());
    }
    assert_eq!(c.pull(&cursor, None).await.unwrap().items.len(), 1);
    c.check().await.unwrap();
}

/// How many of the incident's comments say `text`.
fn comments(fake: &FakeGraph, id: &str, text: &str) -> usize {
    fake.incident(id).unwrap()["comments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["comment"] == text)
        .count()
}
