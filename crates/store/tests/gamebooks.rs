//! The playbook catalogue, rules, and runs (trigger, workers, approval), on both engines.

mod common;

use common::{assert_not_found, consume, db, new_run, playbook, rule, Db, Org};
use palisade_domain::Error;
use palisade_store::{RunFilter, StepAttempt, StepRecorded, StepResult, RUN_KIND};
use uuid::Uuid;

async fn manual_run(db: &Db, org: &Org, admin: bool) -> Uuid {
    db.incident(org, "I-1", "Phishing").await;
    db.tenant(org)
        .create_run(&org.ws, &new_run("I-1", vec![(Uuid::new_v4(), admin)]))
        .await
        .unwrap()
}

#[tokio::test]
async fn the_catalogue_and_rules_belong_to_their_organization() {
    let db = db().await;
    let (a, b) = (db.org("A").await, db.org("B").await);
    let (ta, tb) = (db.tenant(&a), db.tenant(&b));
    let zeta = ta.create_playbook(&playbook("Zeta", false)).await.unwrap();
    let alpha = ta.create_playbook(&playbook("Alpha", false)).await.unwrap();
    let names: Vec<String> = ta
        .list_playbooks()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["Alpha", "Zeta"], "by name");
    assert!(tb.get_playbook(zeta.id).await.unwrap().is_none());
    assert!(tb
        .playbooks_by_id(&[zeta.id, alpha.id])
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        ta.playbooks_by_id(&[zeta.id, Uuid::new_v4()])
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(tb
        .update_playbook(zeta.id, &playbook("Mine", false))
        .await
        .unwrap()
        .is_none());
    assert!(!tb.delete_playbook(zeta.id).await.unwrap());
    // Rules: oldest first, per workspace.
    let r1 = ta
        .create_rule(&a.ws, &rule("first", vec![zeta.id], true))
        .await
        .unwrap();
    ta.create_rule(&a.ws, &rule("second", vec![alpha.id], true))
        .await
        .unwrap();
    let titles: Vec<String> = ta
        .list_rules(&a.ws)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.fields.title)
        .collect();
    assert_eq!(titles, ["first", "second"]);
    assert_eq!(
        ta.get_rule(&a.ws, r1.id)
            .await
            .unwrap()
            .unwrap()
            .fields
            .playbook_ids,
        [zeta.id]
    );
    assert_not_found(tb.list_rules(&a.ws).await);
    assert!(tb.get_rule(&b.ws, r1.id).await.unwrap().is_none());
    assert!(!tb.delete_rule(&b.ws, r1.id).await.unwrap());
    assert!(ta.delete_rule(&a.ws, r1.id).await.unwrap());
}

#[tokio::test]
async fn the_trigger_starts_auto_runs_once_per_event() {
    let db = db().await;
    let (a, b) = (db.org("A").await, db.org("B").await);
    let ta = db.tenant(&a);
    let book = ta.create_playbook(&playbook("Label", false)).await.unwrap();
    ta.create_rule(&a.ws, &rule("Phish", vec![book.id], true))
        .await
        .unwrap();
    db.incident(&a, "I-1", "Phishing mail").await;
    db.incident(&b, "I-1", "Phishing mail").await;
    let system = db.store.system();
    let (mut calls, mut created) = (0, 0);
    let seen = consume(2, async || {
        let (seen, made) = system
            .trigger_gamebooks(100, |e, incident, rules, books| {
                calls += 1;
                assert_eq!(incident.id, "I-1");
                assert!(books.contains_key(&rules[0].fields.playbook_ids[0]));
                let mut r = new_run(&incident.id, vec![(book.id, false)]);
                r.trigger_event_id = Some(e.id);
                vec![r]
            })
            .await
            .unwrap();
        created += made;
        seen
    })
    .await;
    // Both events are seen; only A's workspace has rules.
    assert_eq!((seen, created, calls), (2, 1, 1));
    assert_eq!(
        system
            .trigger_gamebooks(100, |_, _, _, _| Vec::new())
            .await
            .unwrap(),
        (0, 0)
    );
    let (runs, total) = ta
        .list_runs(&RunFilter::default(), None, 0, 10)
        .await
        .unwrap();
    assert_eq!(total, 1);
    assert_eq!(runs[0].workspace_id, a.ws.uuid());
    let (theirs, _) = db
        .tenant(&b)
        .list_runs(&RunFilter::default(), None, 0, 10)
        .await
        .unwrap();
    assert!(theirs.is_empty());
}

/// Leases the due run jobs for `owner` and takes their runs over, as the runner does.
/// A step of `owner`'s started `now`, holding the run for a minute.
fn attempt(step: Uuid, owner: &str, now: i64) -> StepAttempt<'_> {
    StepAttempt {
        step,
        owner,
        lease_until: now + 60_000_000,
        started_at: now,
    }
}

async fn claim(db: &Db, owner: &str, now: i64) -> Vec<Uuid> {
    let system = db.store.system();
    let lease = now + 60_000_000;
    let jobs = system
        .lease_jobs(RUN_KIND, owner, now, lease, 10, &[])
        .await
        .unwrap();
    let mut ids = Vec::new();
    for job in jobs {
        let id: Uuid = job.payload.parse().unwrap();
        if system.adopt_run(id, owner, lease).await.unwrap() {
            ids.push(id);
        }
    }
    ids
}

#[tokio::test]
async fn workers_hold_runs_by_lease_and_approval_gates_admin_steps() {
    let db = db().await;
    let (a, b) = (db.org("A").await, db.org("B").await);
    let ta = db.tenant(&a);
    let id = manual_run(&db, &a, true).await;
    let system = db.store.system();
    let now = palisade_domain::time::to_micros(chrono::Utc::now());
    assert_eq!(claim(&db, "w1", now).await, [id]);
    assert!(claim(&db, "w2", now).await.is_empty());
    let item = system.run_for_work(id).await.unwrap().unwrap();
    assert_eq!(item.incident.workspace, a.ws);
    assert_eq!(item.steps.len(), 1);
    // The admin-required step waits; approval by another organization finds nothing.
    assert!(system
        .await_approval(id, item.steps[0].id, "w1")
        .await
        .unwrap());
    assert!(db
        .tenant(&b)
        .approve_run(&b.ws, id, "eve")
        .await
        .unwrap()
        .is_none());
    assert_not_found(db.tenant(&b).approve_run(&a.ws, id, "eve").await);
    assert!(ta.approve_run(&a.ws, id, "ann").await.unwrap().is_some());
    assert!(matches!(
        ta.approve_run(&a.ws, id, "ann").await,
        Err(Error::Conflict(_))
    ));
    let (_, steps) = ta.get_run(Some(&a.ws), id).await.unwrap().unwrap();
    assert_eq!(steps[0].approved_by.as_deref(), Some("ann"));
    // A worker whose lease is gone cannot record.
    let done = StepResult {
        status: "Succeeded",
        error_message: None,
        output: None,
    };
    assert_eq!(
        system
            .finish_step(id, &attempt(steps[0].id, "w1", now), &done)
            .await
            .unwrap(),
        StepRecorded::Lost
    );
    let now = palisade_domain::time::to_micros(chrono::Utc::now());
    // Approval queued the run's job again.
    assert_eq!(claim(&db, "w2", now).await, [id]);
    assert!(matches!(
        system
            .finish_step(id, &attempt(steps[0].id, "w2", now), &done)
            .await
            .unwrap(),
        StepRecorded::Done { .. }
    ));
    let item = system.run_for_work(id).await.unwrap().unwrap();
    assert!(system
        .finish_run(&item, "w2", "Succeeded", "ok")
        .await
        .unwrap());
    assert_eq!(system.unfinished_runs().await.unwrap(), 0);
    // A finished run cannot be cancelled; its completion is in the outbox.
    assert!(matches!(
        ta.cancel_run(&a.ws, id, "late", false).await,
        Err(Error::Conflict(_))
    ));
    assert_eq!(
        common::event_types(&ta).await,
        ["incident.created", "gamebook.completed"]
    );
}

#[tokio::test]
async fn runs_are_listed_and_cancelled_within_their_workspace() {
    let db = db().await;
    let (a, b) = (db.org("A").await, db.org("B").await);
    let ta = db.tenant(&a);
    let id = manual_run(&db, &a, false).await;
    assert_not_found(
        db.tenant(&b)
            .create_run(&a.ws, &new_run("I-1", Vec::new()))
            .await,
    );
    assert!(db.tenant(&b).get_run(None, id).await.unwrap().is_none());
    assert!(db.tenant(&b).steps_for(&[id]).await.unwrap().is_empty());
    assert_eq!(ta.steps_for(&[id]).await.unwrap()[&id].len(), 1);
    let second = ta
        .create_workspace(a.account, "Second", None)
        .await
        .unwrap()
        .id;
    assert!(ta.get_run(Some(&second), id).await.unwrap().is_none());
    let only = |f: RunFilter| async move { ta.list_runs(&f, None, 0, 10).await.unwrap().1 };
    assert_eq!(
        only(RunFilter {
            workspaces: Some(vec![second]),
            ..Default::default()
        })
        .await,
        0
    );
    assert_eq!(
        only(RunFilter {
            query: Some("manual".into()),
            ..Default::default()
        })
        .await,
        1
    );
    assert_eq!(
        only(RunFilter {
            statuses: vec!["Running".into()],
            ..Default::default()
        })
        .await,
        0
    );
    assert!(db
        .tenant(&b)
        .cancel_run(&b.ws, id, "x", false)
        .await
        .unwrap()
        .is_none());
    assert!(matches!(
        ta.cancel_run(&a.ws, id, "reject", true).await,
        Err(Error::Conflict(_))
    ));
    assert!(ta
        .cancel_run(&a.ws, id, "stop", false)
        .await
        .unwrap()
        .is_some());
    let (run, steps) = ta.get_run(Some(&a.ws), id).await.unwrap().unwrap();
    assert_eq!(
        (run.status.as_str(), steps[0].status.as_str()),
        ("Cancelled", "Cancelled")
    );
}
