//! Service tickets and their links to incidents, on both engines.

mod common;

use common::{assert_not_found, db};
use palisade_domain::vocab::IncidentSource;
use palisade_domain::Error;
use palisade_store::{IncidentKey, TicketFields};

fn fields(number: &str, grouping: &str) -> TicketFields {
    TicketFields {
        psa: "Jira".into(),
        number: Some(number.into()),
        grouping_id: Some(grouping.into()),
        priority: Some("High".into()),
        doc: "{}".into(),
    }
}

#[tokio::test]
async fn tickets_are_unique_per_workspace_and_searched_newest_first() {
    let db = db().await;
    let (a, b) = (db.org("A").await, db.org("B").await);
    let (ta, tb) = (db.tenant(&a), db.tenant(&b));
    let (first, created) = ta
        .upsert_ticket(&a.ws, "T-1", &fields("1", "g"))
        .await
        .unwrap();
    assert!(created);
    let (again, created) = ta
        .upsert_ticket(&a.ws, "T-1", &fields("1b", "g"))
        .await
        .unwrap();
    assert!(!created);
    assert_eq!((again.id, again.number.as_deref()), (first.id, Some("1b")));
    ta.upsert_ticket(&a.ws, "T-2", &fields("2", "g"))
        .await
        .unwrap();
    ta.upsert_ticket(&a.ws, "T-3", &fields("3", "other"))
        .await
        .unwrap();
    // The same ticket id in another organization is its own ticket.
    let (theirs, created) = tb
        .upsert_ticket(&b.ws, "T-1", &fields("x", "g"))
        .await
        .unwrap();
    assert!(created && theirs.id != first.id);
    let found: Vec<String> = ta
        .search_tickets(&a.ws, Some("g"), None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.ticket_id)
        .collect();
    assert_eq!(found, ["T-2", "T-1"]);
    assert_eq!(
        ta.search_tickets(&a.ws, None, Some("3"), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_not_found(tb.get_ticket(&a.ws, "T-1").await);
    assert_eq!(
        tb.get_ticket(&b.ws, "T-1")
            .await
            .unwrap()
            .unwrap()
            .number
            .as_deref(),
        Some("x")
    );
    let set = ta
        .set_ticket_priority(&a.ws, "T-1", "Low", "{\"p\":1}")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(set.priority.as_deref(), Some("Low"));
    assert!(ta
        .set_ticket_priority(&a.ws, "T-404", "Low", "{}")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn links_are_idempotent_leave_history_and_an_event() {
    let db = db().await;
    let (a, b) = (db.org("A").await, db.org("B").await);
    let (ta, tb) = (db.tenant(&a), db.tenant(&b));
    db.incident(&a, "I-1", "Phish").await;
    ta.upsert_ticket(&a.ws, "T-1", &fields("42", "g"))
        .await
        .unwrap();
    let key = IncidentKey::new(a.ws, IncidentSource::Sentinel, "I-1");
    // Ticket and incident must exist.
    let missing = IncidentKey::new(a.ws, IncidentSource::Sentinel, "I-404");
    assert!(matches!(
        ta.link_ticket(&missing, "T-1", "Ann").await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        ta.link_ticket(&key, "T-404", "Ann").await,
        Err(Error::NotFound { .. })
    ));
    assert!(ta.link_ticket(&key, "T-1", "Ann").await.unwrap());
    assert!(!ta.link_ticket(&key, "T-1", "Ann").await.unwrap());
    let links = ta.ticket_links(&a.ws, &["T-1".into()]).await.unwrap();
    assert_eq!(links["T-1"].len(), 1);
    assert_eq!(
        (links["T-1"][0].incident_id.as_str(), links["T-1"][0].number),
        ("I-1", 1)
    );
    assert_not_found(tb.link_ticket(&key, "T-1", "Eve").await);
    assert_not_found(tb.ticket_links(&a.ws, &["T-1".into()]).await);
    assert_eq!(
        common::event_types(&ta).await,
        ["incident.created", "ticket.linked"]
    );
    // Unlinking: removed once, each removal an activity comment.
    assert!(ta.unlink_ticket(&key, "T-1", "Ann").await.unwrap());
    assert!(!ta.unlink_ticket(&key, "T-1", "Ann").await.unwrap());
    let comments: Vec<String> = ta
        .incident_comments(&key)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.message)
        .collect();
    assert_eq!(
        comments,
        [
            "Service ticket 42 (Jira) linked.",
            "Service ticket 42 (Jira) unlinked."
        ]
    );
    assert!(ta
        .ticket_links(&a.ws, &["T-1".into()])
        .await
        .unwrap()
        .is_empty());
}
