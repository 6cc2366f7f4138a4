//! Incidents: ingest with change detection and numbering, reads, the cross-workspace order,
//! and changes with their outbox events, on both engines.

mod common;

use chrono::{Duration, Utc};
use common::{assert_not_found, comment, db, doc, item, Org};
use palisade_domain::vocab::{IncidentSource, IncidentStatus, Severity};
use palisade_domain::Error;
use palisade_store::{AcrossFilter, Applied, Cursor, IncidentKey, IngestIncident, Tenant};

const SRC: IncidentSource = IncidentSource::Sentinel;

async fn ingest(t: &Tenant<'_>, org: &Org, items: &[IngestIncident]) -> Vec<Applied> {
    t.ingest_incidents(&org.ws, SRC, items, None).await.unwrap()
}

fn event_types(events: &[palisade_store::StoredEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event_type.as_str()).collect()
}

#[tokio::test]
async fn ingest_numbers_detects_changes_and_writes_events_only_for_changes() {
    let db = db().await;
    let a = db.org("A").await;
    let t = db.tenant(&a);
    let applied = ingest(
        &t,
        &a,
        &[
            item("I-1", doc("One", Severity::Low, None), 1),
            item("I-2", doc("Two", Severity::Low, None), 2),
        ],
    )
    .await;
    assert_eq!(
        applied,
        [
            Applied::Created { number: 1 },
            Applied::Created { number: 2 }
        ]
    );
    // An identical re-send changes nothing and writes no event.
    let again = ingest(&t, &a, &[item("I-1", doc("One", Severity::Low, None), 1)]).await;
    assert_eq!(again, [Applied::Unchanged { number: 1 }]);
    assert_eq!(
        event_types(&t.events().await.unwrap()),
        ["incident.created", "incident.created"]
    );
    // A change is an update with its changes; a new incident takes the next number.
    let changed = ingest(
        &t,
        &a,
        &[
            item("I-2", doc("Two", Severity::High, None), 2),
            item("I-3", doc("Three", Severity::Low, None), 3),
        ],
    )
    .await;
    match &changed[0] {
        Applied::Updated { number: 2, changes } => {
            assert_eq!(changes.len(), 1);
            assert_eq!(changes[0].field, "severity");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(changed[1], Applied::Created { number: 3 });
    let events = t.events().await.unwrap();
    assert_eq!(
        event_types(&events),
        [
            "incident.created",
            "incident.created",
            "incident.updated",
            "incident.created"
        ]
    );
    assert_eq!(events[2].subject_id, "Sentinel/I-2");
    let stored = t
        .get_incident(&IncidentKey::new(a.ws, SRC, "I-2"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((stored.number, stored.doc.severity), (2, Severity::High));
}

#[tokio::test]
async fn incidents_are_reached_only_through_their_organization() {
    let db = db().await;
    let (a, b) = (db.org("A").await, db.org("B").await);
    let (ta, tb) = (db.tenant(&a), db.tenant(&b));
    ingest(
        &ta,
        &a,
        &[item("I-1", doc("One", Severity::Low, Some("web01")), 1)],
    )
    .await;
    let key = IncidentKey::new(a.ws, SRC, "I-1");
    assert!(ta.get_incident(&key).await.unwrap().is_some());
    assert_not_found(tb.get_incident(&key).await);
    assert_not_found(
        tb.ingest_incidents(
            &a.ws,
            SRC,
            &[item("I-1", doc("X", Severity::High, None), 1)],
            None,
        )
        .await,
    );
    assert_not_found(tb.incident_comments(&key).await);
    assert_not_found(
        tb.modify_incident(&key, |r| Ok((r.doc.clone(), Vec::new())))
            .await,
    );
    // The same incident id in B's workspace is B's own incident.
    ingest(
        &tb,
        &b,
        &[item("I-1", doc("Other", Severity::High, None), 1)],
    )
    .await;
    assert_eq!(
        ta.get_incident(&key).await.unwrap().unwrap().doc.title,
        "One"
    );
    assert_eq!(tb.events().await.unwrap().len(), 1);
    assert_eq!(ta.events().await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_cross_workspace_listing_pages_newest_first_exactly_once() {
    let db = db().await;
    let (a, b) = (db.org("A").await, db.org("B").await);
    let ta = db.tenant(&a);
    let second = ta
        .create_workspace(a.account, "Second", None)
        .await
        .unwrap()
        .id;
    // Two workspaces, incidents interleaved in time, two at the same instant.
    ingest(
        &ta,
        &a,
        &[
            item("A-1", doc("alpha", Severity::Low, None), 1),
            item("A-2", doc("bravo", Severity::High, None), 3),
            item("A-3", doc("charlie", Severity::High, None), 5),
        ],
    )
    .await;
    ta.ingest_incidents(
        &second,
        SRC,
        &[
            item("B-1", doc("delta", Severity::Low, None), 2),
            item("B-2", doc("echo", Severity::High, None), 5),
        ],
        None,
    )
    .await
    .unwrap();
    db.tenant(&b)
        .ingest_incidents(
            &b.ws,
            SRC,
            &[item("X-1", doc("other org", Severity::High, None), 9)],
            None,
        )
        .await
        .unwrap();
    let all = AcrossFilter {
        sources: IncidentSource::ALL.to_vec(),
        ..Default::default()
    };
    let mut seen = Vec::new();
    let mut after: Option<Cursor> = None;
    loop {
        let page = ta.list_across(&all, after.as_ref(), 2).await.unwrap();
        if page.is_empty() {
            break;
        }
        let last = page.last().unwrap();
        after = Some(Cursor {
            created_at: palisade_domain::time::to_micros(last.created_at),
            workspace_id: last.workspace_id,
            source: last.source,
            id: last.id.clone(),
        });
        seen.extend(page.into_iter().map(|r| r.id));
    }
    // Newest first; at the same instant, the larger workspace id first.
    let (hi, lo) = if second.uuid() > a.ws.uuid() {
        ("B-2", "A-3")
    } else {
        ("A-3", "B-2")
    };
    assert_eq!(seen, [hi, lo, "A-2", "B-1", "A-1"]);
    // Filters: workspaces, severities, query (title, exact id, number).
    let only = |f: AcrossFilter| async move {
        ta.list_across(&f, None, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect::<Vec<_>>()
    };
    let high_in_first = AcrossFilter {
        workspaces: Some(vec![a.ws]),
        severities: vec![Severity::High],
        ..all.clone()
    };
    assert_eq!(only(high_in_first).await, ["A-3", "A-2"]);
    let query = |q: &str| AcrossFilter {
        query: Some(q.into()),
        ..all.clone()
    };
    assert_eq!(only(query("ech")).await, ["B-2"]);
    assert_eq!(only(query("a-1")).await, ["A-1"]);
    assert_eq!(
        only(query("#2")).await.len(),
        2,
        "number 2 in each workspace"
    );
    // Another organization's workspace is not found.
    let foreign = AcrossFilter {
        workspaces: Some(vec![b.ws]),
        ..all.clone()
    };
    assert_not_found(ta.list_across(&foreign, None, 10).await);
    // Each stream's oldest incident.
    let floors = ta.stream_floors().await.unwrap();
    assert_eq!(floors.len(), 2);
    assert!(floors[&(second.uuid(), SRC)] > floors[&(a.ws.uuid(), SRC)]);
}

#[tokio::test]
async fn related_incidents_share_an_entity_in_one_workspace() {
    let db = db().await;
    let (a, b) = (db.org("A").await, db.org("B").await);
    let ta = db.tenant(&a);
    ingest(
        &ta,
        &a,
        &[
            item("I-1", doc("one", Severity::Low, Some("WEB01")), 1),
            item("I-2", doc("two", Severity::Low, Some("web01")), 2),
            item("I-3", doc("three", Severity::Low, Some("db01")), 3),
        ],
    )
    .await;
    let (since, until) = (Utc::now() - Duration::days(3650), Utc::now());
    let ids =
        |rows: Vec<palisade_store::IncidentRow>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let found = ta
        .incidents_by_entity(&a.ws, SRC, "Host", "Web01", since, until, None, 10)
        .await
        .unwrap();
    assert_eq!(ids(found), ["I-2", "I-1"]);
    let excluded = ta
        .incidents_by_entity(&a.ws, SRC, "Host", "web01", since, until, Some("I-2"), 10)
        .await
        .unwrap();
    assert_eq!(ids(excluded), ["I-1"]);
    // A changed entity moves the incident in the index.
    ingest(
        &ta,
        &a,
        &[item("I-1", doc("one", Severity::Low, Some("db01")), 1)],
    )
    .await;
    let now_db = ta
        .incidents_by_entity(&a.ws, SRC, "Host", "db01", since, until, None, 10)
        .await
        .unwrap();
    assert_eq!(ids(now_db), ["I-3", "I-1"]);
    assert_not_found(
        db.tenant(&b)
            .incidents_by_entity(&a.ws, SRC, "Host", "db01", since, until, None, 10)
            .await,
    );
}

#[tokio::test]
async fn modifications_write_one_event_and_keep_comment_order() {
    let db = db().await;
    let a = db.org("A").await;
    let t = db.tenant(&a);
    ingest(&t, &a, &[item("I-1", doc("one", Severity::Low, None), 1)]).await;
    let key = IncidentKey::new(a.ws, SRC, "I-1");
    let (row, changes, added) = t
        .modify_incident(&key, |r| {
            let mut d = r.doc.clone();
            d.status = IncidentStatus::Active;
            Ok((d, vec![comment("first", true), comment("second", false)]))
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.doc.status, IncidentStatus::Active);
    // The status, and the comment someone wrote (the activity comment only narrates).
    let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["comments", "status"]);
    assert_eq!(changes[0].to["message"], "second");
    assert_eq!(added.len(), 2);
    // A comment alone is a change too: one more event, with the comment.
    let before = row.updated_at;
    t.add_comment(&key, &comment("third", false))
        .await
        .unwrap()
        .unwrap();
    let events = t.events().await.unwrap();
    assert_eq!(
        event_types(&events),
        ["incident.created", "incident.updated", "incident.updated"]
    );
    assert_eq!(events[2].payload["changes"][0]["to"]["message"], "third");
    // The incident itself did not change.
    let (current, _, _) = t
        .modify_incident(&key, |r| Ok((r.doc.clone(), Vec::new())))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(current.updated_at, before);
    let comments = t.incident_comments(&key).await.unwrap();
    let messages: Vec<&str> = comments.iter().map(|c| c.message.as_str()).collect();
    assert_eq!(messages, ["first", "second", "third"]);
    // Activity comments are history; others can be edited.
    assert!(matches!(
        t.update_comment(&key, &comments[0].id, "rewritten").await,
        Err(Error::Conflict(_))
    ));
    let edited = t
        .update_comment(&key, &comments[1].id, "edited")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(edited.message, "edited");
    assert!(t
        .update_comment(&key, "no-such-comment", "x")
        .await
        .unwrap()
        .is_none());
    let missing = IncidentKey::new(a.ws, SRC, "I-404");
    assert!(t
        .add_comment(&missing, &comment("x", false))
        .await
        .unwrap()
        .is_none());
}
