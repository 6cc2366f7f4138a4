//! The outbox's consumers: one cursor each, and no event skipped when transactions commit
//! out of sequence order (PostgreSQL).

mod common;

use common::{consume, db};
use palisade_store::{Delivery, PendingEvent, WebhookRow};

fn nothing(_: &PendingEvent, _: &[WebhookRow]) -> Vec<Delivery> {
    Vec::new()
}

#[tokio::test]
async fn each_consumer_keeps_its_own_cursor() {
    let db = db().await;
    let a = db.org("A").await;
    db.incident(&a, "I-1", "one").await;
    db.incident(&a, "I-2", "two").await;
    let system = db.store.system();
    assert_eq!(system.undispatched_events().await.unwrap(), 2);
    assert_eq!(system.gamebook_pending_events().await.unwrap(), 2);
    let one = async || system.dispatch_events(1, nothing).await.unwrap();
    assert_eq!(consume(1, one).await, 1);
    assert_eq!(system.undispatched_events().await.unwrap(), 1);
    let all = async || system.dispatch_events(10, nothing).await.unwrap();
    assert_eq!(consume(1, all).await, 1);
    assert_eq!(system.dispatch_events(10, nothing).await.unwrap(), 0);
    // The other consumer has not moved.
    assert_eq!(system.gamebook_pending_events().await.unwrap(), 2);
    let trigger = async || {
        let (seen, _) = system
            .trigger_gamebooks(10, |_, _, _, _| Vec::new())
            .await
            .unwrap();
        seen
    };
    assert_eq!(consume(2, trigger).await, 2);
    assert_eq!(system.gamebook_pending_events().await.unwrap(), 0);
    // A new consumer starts after what was written, or from the start.
    system.register_consumer("late", false).await.unwrap();
    system.register_consumer("early", true).await.unwrap();
    assert_eq!(system.outbox_lag("late").await.unwrap(), 0);
    assert_eq!(system.outbox_lag("early").await.unwrap(), 2);
    // Retention deletes only what every consumer has consumed.
    let later = palisade_domain::time::to_micros(chrono::Utc::now()) + 1_000_000;
    assert_eq!(system.purge_events(later).await.unwrap(), 0);
}

/// PostgreSQL: a transaction that took an earlier sequence number commits after a later one.
/// A cursor on the sequence alone would pass the early event before it is visible and never
/// read it; the horizon holds the later one back until the early one commits.
#[tokio::test]
async fn an_event_committed_late_is_not_skipped() {
    use sqlx::{Connection, Executor};
    let db = db().await;
    if !db.raw.is_postgres() {
        return; // SQLite's single writer commits in sequence order.
    }
    let a = db.org("A").await;
    let mut late = sqlx::PgConnection::connect(&db.raw.url).await.unwrap();
    late.execute("BEGIN").await.unwrap();
    late.execute(
        format!(
            "INSERT INTO events (id, organization_id, workspace_id, account_id, event_type, \
             subject_id, payload, occurred_at, created_at) VALUES ('{}', '{}', NULL, NULL, \
             'incident.updated', 'x', '{{}}', 0, 0)",
            uuid::Uuid::now_v7(),
            a.id
        )
        .as_str(),
    )
    .await
    .unwrap();
    // A later transaction commits first.
    db.incident(&a, "I-1", "one").await;
    let system = db.store.system();
    let first = system.dispatch_events(10, nothing).await.unwrap();
    assert_eq!(first, 0, "read past a transaction still running");
    late.execute("COMMIT").await.unwrap();
    let second = consume(2, async || {
        system.dispatch_events(10, nothing).await.unwrap()
    })
    .await;
    assert_eq!(first + second, 2, "the event committed late was skipped");
    assert_eq!(system.undispatched_events().await.unwrap(), 0);
}
