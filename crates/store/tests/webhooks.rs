//! Webhook configurations, the delivery queue and delivery logs, on both engines.

mod common;

use common::{assert_not_found, consume, db, webhook_fields, webhook_secrets, Db, Org};
use palisade_domain::Error;
use palisade_store::{
    Delivery, DeliveryFate, DeliveryRecord, JobEnd, JobFinish, JobRow, LogRow, PendingEvent,
    WebhookRow, DELIVERY_KIND,
};
use uuid::Uuid;

async fn webhook(db: &Db, org: &Org, name: &str) -> WebhookRow {
    db.tenant(org)
        .create_webhook(&webhook_fields(org, name), &webhook_secrets())
        .await
        .unwrap()
}

/// One job per event for every webhook of the event's organization.
fn plan(e: &PendingEvent, hooks: &[WebhookRow]) -> Vec<Delivery> {
    hooks
        .iter()
        .map(|w| Delivery {
            org: e.org,
            webhook_id: w.id,
            event_id: e.id,
            event_type: e.event_type.clone(),
            body: e.payload.clone(),
            account_id: e.account_id,
            subject_id: Some(e.subject_id.clone()),
            subject_display_name: None,
            subject_attributes: None,
            occurred_at: Some(e.occurred_at),
            original_delivery_id: None,
            pending_log_id: None,
        })
        .collect()
}

/// The delivery a claimed job carries.
fn delivery(job: &JobRow) -> Delivery {
    serde_json::from_str(&job.payload).unwrap()
}

/// Claims due delivery jobs, leaving out the webhooks named.
async fn claim(db: &Db, owner: &str, now: i64, skip: &[Uuid]) -> Vec<JobRow> {
    let skip: Vec<String> = skip.iter().map(Uuid::to_string).collect();
    db.store
        .system()
        .lease_jobs(DELIVERY_KIND, owner, now, now + 60_000_000, 10, &skip)
        .await
        .unwrap()
}

fn log_of(job: &JobRow, status: &str, at: i64) -> LogRow {
    let job = delivery(job);
    LogRow {
        http_status_code: Some(200),
        subject_display_name: None,
        subject_attributes: None,
        latency_ms: Some(5),
        completed_at: Some(at),
        ..job.attempt_log(status, 1, "https://hooks.example/in".into(), at)
    }
}

#[tokio::test]
async fn configurations_name_only_the_organizations_accounts_and_workspaces() {
    let db = db().await;
    let (a, b) = (db.org("A").await, db.org("B").await);
    let (ta, tb) = (db.tenant(&a), db.tenant(&b));
    let first = webhook(&db, &a, "first").await;
    let second = webhook(&db, &a, "second").await;
    let names: Vec<String> = ta
        .list_webhooks()
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.name)
        .collect();
    assert_eq!(names, ["first", "second"]);
    assert_eq!(first.target_account_name, "A");
    // Another organization's account or workspace is refused, nothing written.
    let mut foreign = webhook_fields(&b, "stray");
    foreign.target_account_id = a.account;
    assert!(matches!(
        tb.create_webhook(&foreign, &webhook_secrets()).await,
        Err(Error::Validation(_))
    ));
    let mut foreign_ws = webhook_fields(&b, "stray");
    foreign_ws.workspace_id = Some(a.ws);
    assert_not_found(tb.create_webhook(&foreign_ws, &webhook_secrets()).await);
    assert!(tb.list_webhooks().await.unwrap().is_empty());
    assert!(tb.get_webhook(first.id).await.unwrap().is_none());
    assert!(tb
        .update_webhook(first.id, &webhook_fields(&b, "x"))
        .await
        .unwrap()
        .is_none());
    assert!(tb
        .transition_webhook(first.id, "Active", "Paused", None)
        .await
        .unwrap()
        .is_none());
    // Transitions apply only from the stated status.
    assert_eq!(
        ta.transition_webhook(first.id, "Active", "Paused", None)
            .await
            .unwrap(),
        Some(true)
    );
    assert_eq!(
        ta.transition_webhook(first.id, "Active", "Paused", None)
            .await
            .unwrap(),
        Some(false)
    );
    assert!(!tb.delete_webhook(second.id).await.unwrap());
    assert!(ta.delete_webhook(second.id).await.unwrap());
    assert_eq!(ta.list_webhooks().await.unwrap().len(), 1);
}

#[tokio::test]
async fn events_fan_out_within_their_organization_and_jobs_complete_once() {
    let db = db().await;
    let (a, b) = (db.org("A").await, db.org("B").await);
    let hook = webhook(&db, &a, "a").await;
    let other = webhook(&db, &b, "b").await;
    let paused = webhook(&db, &a, "paused").await;
    db.tenant(&a)
        .transition_webhook(paused.id, "Active", "Paused", None)
        .await
        .unwrap();
    db.incident(&a, "I-1", "one").await;
    let system = db.store.system();
    assert_eq!(system.undispatched_events().await.unwrap(), 1);
    let dispatch = async || system.dispatch_events(100, plan).await.unwrap();
    assert_eq!(consume(1, dispatch).await, 1);
    assert_eq!(
        system.dispatch_events(100, plan).await.unwrap(),
        0,
        "each event once"
    );
    // A's two webhooks got a job each; B's none.
    assert_eq!(system.queued_jobs(Some(hook.id)).await.unwrap(), 1);
    assert_eq!(system.queued_jobs(Some(paused.id)).await.unwrap(), 1);
    assert_eq!(system.queued_jobs(Some(other.id)).await.unwrap(), 0);
    // Only the active webhook's job is due and claimable, once while leased.
    let held = system.held_webhooks().await.unwrap();
    assert_eq!(held.as_deref(), Some(&[paused.id][..]));
    let now = palisade_domain::time::to_micros(chrono::Utc::now());
    let skip: Vec<String> = held.iter().flatten().map(Uuid::to_string).collect();
    assert!(system.jobs_due(DELIVERY_KIND, now, &skip).await.unwrap());
    let jobs = claim(&db, "w1", now, held.as_deref().unwrap()).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].key, hook.id.to_string());
    assert_eq!(delivery(&jobs[0]).webhook_id, hook.id);
    assert!(claim(&db, "w2", now, held.as_deref().unwrap())
        .await
        .is_empty());
    // Delivered: the job is gone and its log is the organization's.
    let done = DeliveryRecord {
        finish: JobFinish {
            id: jobs[0].id,
            end: JobEnd::Done,
        },
        fate: DeliveryFate::Delivered,
        log: Some(log_of(&jobs[0], "Succeeded", now)),
        pending_log_id: None,
    };
    system.record_deliveries(&[done], "w1", 3).await.unwrap();
    assert_eq!(system.queued_jobs(Some(hook.id)).await.unwrap(), 0);
    let logs = db
        .tenant(&a)
        .list_logs(hook.id, None, None, None, 10)
        .await
        .unwrap();
    assert_eq!(logs.len(), 1);
    assert!(db
        .tenant(&b)
        .list_logs(hook.id, None, None, None, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(db
        .tenant(&b)
        .get_log(hook.id, logs[0].id)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn failed_events_disable_a_webhook_and_redelivery_queues_a_pending_log() {
    let db = db().await;
    let (a, b) = (db.org("A").await, db.org("B").await);
    let hook = webhook(&db, &a, "a").await;
    let system = db.store.system();
    for i in 0..2 {
        db.incident(&a, &format!("I-{i}"), "x").await;
    }
    consume(2, async || system.dispatch_events(100, plan).await.unwrap()).await;
    let now = palisade_domain::time::to_micros(chrono::Utc::now());
    let jobs = claim(&db, "w", now, &[]).await;
    assert_eq!(jobs.len(), 2);
    let gave_up: Vec<DeliveryRecord> = jobs
        .iter()
        .map(|j| DeliveryRecord {
            finish: JobFinish {
                id: j.id,
                end: JobEnd::Dead { error: None },
            },
            fate: DeliveryFate::GiveUp,
            log: Some(log_of(j, "Failed", now)),
            pending_log_id: None,
        })
        .collect();
    let effects = system.record_deliveries(&gave_up, "w", 2).await.unwrap();
    // Abandoned deliveries are dead letters, not queued work.
    assert_eq!(system.queued_jobs(Some(hook.id)).await.unwrap(), 0);
    assert_eq!(system.dead_jobs(DELIVERY_KIND, 10).await.unwrap().len(), 2);
    assert_eq!(effects.disabled.len(), 1);
    let row = db.tenant(&a).get_webhook(hook.id).await.unwrap().unwrap();
    assert_eq!(
        (row.status.as_str(), row.consecutive_failures),
        ("Disabled", 2)
    );
    // Newest first; the cursor continues after the last one seen.
    let ta = db.tenant(&a);
    let logs = ta.list_logs(hook.id, None, None, None, 1).await.unwrap();
    let rest = ta
        .list_logs(
            hook.id,
            None,
            None,
            Some((logs[0].created_at, logs[0].id)),
            10,
        )
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert_ne!(rest[0].id, logs[0].id);
    // Redelivery: another organization cannot; the owner gets a pending log and a job.
    assert!(db
        .tenant(&b)
        .redeliver(hook.id, logs[0].id)
        .await
        .unwrap()
        .is_none());
    let pending = ta.redeliver(hook.id, logs[0].id).await.unwrap().unwrap();
    assert_eq!(pending.status, "Pending");
    assert_eq!(pending.original_delivery_id, Some(logs[0].id));
    assert_eq!(system.queued_jobs(Some(hook.id)).await.unwrap(), 1);
    let original = ta.get_log(hook.id, logs[0].id).await.unwrap().unwrap();
    assert!(original.redelivered);
    // A test attempt is recorded only against the organization's own webhook.
    let mut test_log = pending.clone();
    test_log.id = Uuid::new_v4();
    assert!(ta.insert_test_log(&test_log).await.unwrap());
    assert!(!db.tenant(&b).insert_test_log(&test_log).await.unwrap());
    // Retention removes what is old enough.
    assert_eq!(
        system
            .purge_webhook_history(now + 60_000_000)
            .await
            .unwrap(),
        4
    );
}
