//! The runtime on a real database (SQLite, or PostgreSQL with `PALISADE_TEST_DATABASE`):
//! exactly-once claims across replicas, retries and dead letters, per-key fairness, lease
//! renewal and takeover, graceful stop, metrics.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use palisade_jobs::{Backoff, Handler, Job, JobSpec, Jobs, Kind, Outcome};
use palisade_store::testing::TestDb;
use palisade_store::Store;
use tokio::sync::Notify;

fn now() -> i64 {
    palisade_domain::time::to_micros(chrono::Utc::now())
}

fn spec(kind: &str, key: &str, payload: &str) -> JobSpec {
    JobSpec {
        kind: kind.into(),
        key: key.into(),
        org: None,
        payload: payload.into(),
        run_at: now(),
    }
}

fn fast(name: &'static str) -> Kind {
    Kind {
        poll: Duration::from_millis(50),
        lease: Duration::from_secs(30),
        ..Kind::new(name)
    }
}

async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn queued(store: &Store, kind: &str) -> i64 {
    let stats = store.system().job_stats().await.unwrap();
    stats
        .iter()
        .find(|s| s.kind == kind)
        .map(|s| s.queued + s.running)
        .unwrap_or(0)
}

/// Counts runs per payload; optionally sleeps first.
#[derive(Clone, Default)]
struct Tally {
    runs: Arc<Mutex<HashMap<String, usize>>>,
    sleep: Duration,
}

impl Handler for Tally {
    type Note = ();
    async fn run(&self, job: &Job) -> (Outcome, ()) {
        tokio::time::sleep(self.sleep).await;
        *self
            .runs
            .lock()
            .unwrap()
            .entry(job.payload.clone())
            .or_default() += 1;
        (Outcome::Done, ())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_work_every_job_exactly_once() {
    let db = TestDb::new().await;
    let store = db.store().await;
    let jobs: Vec<JobSpec> = (0..300)
        .map(|i| spec("t.once", &format!("k{}", i % 7), &i.to_string()))
        .collect();
    store.system().enqueue(&jobs).await.unwrap();
    let tally = Tally::default();
    let mut running = Vec::new();
    for _ in 0..2 {
        let rt = Jobs::new(db.store().await);
        rt.register(
            Kind {
                concurrency: 5,
                per_key: 2,
                ..fast("t.once")
            },
            tally.clone(),
        );
        running.push(rt.start());
    }
    until("all jobs done", async || {
        queued(&store, "t.once").await == 0
    })
    .await;
    for r in running {
        r.stop().await;
    }
    let runs = tally.runs.lock().unwrap();
    assert_eq!(runs.len(), 300);
    assert!(runs.values().all(|n| *n == 1), "a job ran twice");
}

/// Fails every attempt; the first retry is timed by the handler.
struct Flaky;

impl Handler for Flaky {
    type Note = ();
    async fn run(&self, job: &Job) -> (Outcome, ()) {
        let after = (job.attempt == 1).then(|| Duration::from_millis(300));
        (
            Outcome::Retry {
                after,
                error: format!("attempt {} failed", job.attempt),
            },
            (),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_back_off_and_the_last_one_dead_letters() {
    let db = TestDb::new().await;
    let store = db.store().await;
    let rt = Jobs::new(store.clone());
    rt.register(
        Kind {
            max_attempts: 3,
            backoff: Backoff::Schedule(vec![Duration::from_millis(10)]),
            ..fast("t.flaky")
        },
        Flaky,
    );
    let id = store
        .system()
        .enqueue(&[spec("t.flaky", "k", "x")])
        .await
        .unwrap()[0];
    let started = Instant::now();
    let running = rt.start();
    until("the first retry to be queued", async || {
        store.system().job(id).await.unwrap().unwrap().attempts >= 1
    })
    .await;
    let row = store.system().job(id).await.unwrap().unwrap();
    if row.attempts == 1 {
        // The handler's Retry-After, not the kind's 10 ms backoff.
        assert!(row.run_at >= now() + 100_000, "the retry is not held back");
    }
    until("the job to die", async || {
        store.system().job(id).await.unwrap().unwrap().state == "dead"
    })
    .await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    running.stop().await;
    let dead = store.system().dead_jobs("t.flaky", 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts, 3);
    assert_eq!(dead[0].last_error.as_deref(), Some("attempt 3 failed"));
    let c = rt.counters("t.flaky");
    use std::sync::atomic::Ordering::Relaxed;
    assert_eq!(
        (
            c.failed.load(Relaxed),
            c.retried.load(Relaxed),
            c.dead.load(Relaxed),
            c.succeeded.load(Relaxed)
        ),
        (3, 2, 1, 0)
    );
    let text = rt.render_metrics().await.unwrap();
    assert!(text.contains("palisade_jobs_total{kind=\"t.flaky\",outcome=\"dead\"} 1"));
    assert!(text.contains("palisade_jobs_dead{kind=\"t.flaky\"} 1"));
    assert!(text.contains("palisade_jobs_queued{kind=\"t.flaky\"} 0"));
}

/// Jobs of key "slow" wait until released; the others finish at once.
#[derive(Clone)]
struct Gate {
    open: Arc<Notify>,
    done: Arc<Mutex<Vec<String>>>,
}

impl Handler for Gate {
    type Note = ();
    async fn run(&self, job: &Job) -> (Outcome, ()) {
        if job.key == "slow" {
            self.open.notified().await;
        }
        self.done.lock().unwrap().push(job.key.clone());
        (Outcome::Done, ())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_key_holds_only_its_own_slots() {
    let db = TestDb::new().await;
    let store = db.store().await;
    let mut jobs: Vec<JobSpec> = (0..20).map(|_| spec("t.fair", "slow", "s")).collect();
    jobs.extend((0..30).map(|i| spec("t.fair", &format!("fast{}", i % 3), "f")));
    store.system().enqueue(&jobs).await.unwrap();
    let gate = Gate {
        open: Arc::new(Notify::new()),
        done: Default::default(),
    };
    let rt = Jobs::new(store.clone());
    rt.register(
        Kind {
            concurrency: 4,
            per_key: 2,
            ..fast("t.fair")
        },
        gate.clone(),
    );
    let running = rt.start();
    until("the fast keys to finish", async || {
        gate.done
            .lock()
            .unwrap()
            .iter()
            .filter(|k| *k != "slow")
            .count()
            == 30
    })
    .await;
    assert!(gate.done.lock().unwrap().iter().all(|k| k != "slow"));
    let stats = store.system().job_stats().await.unwrap();
    assert_eq!(
        stats[0].running, 2,
        "the slow key holds exactly its own slots"
    );
    // Release the slow jobs one by one until they are all done.
    until("the slow key to finish", async || {
        gate.open.notify_waiters();
        queued(&store, "t.fair").await == 0
    })
    .await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lapsed_lease_is_taken_over_and_a_renewed_one_is_not() {
    let db = TestDb::new().await;
    let store = db.store().await;
    // A replica claimed a job and died: its lease lapses and another replica does the job.
    let id = store
        .system()
        .enqueue(&[spec("t.lease", "k", "orphan")])
        .await
        .unwrap()[0];
    let claimed = store
        .system()
        .lease_jobs("t.lease", "dead-replica", now(), now() + 400_000, 10, &[])
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    // A job that outlives its lease while its handler runs keeps it by the heartbeat.
    store
        .system()
        .enqueue(&[spec("t.lease", "k", "long")])
        .await
        .unwrap();
    let tally = Tally {
        sleep: Duration::from_millis(1200),
        ..Default::default()
    };
    let kind = Kind {
        lease: Duration::from_millis(450),
        ..fast("t.lease")
    };
    let (a, b) = (Jobs::new(store.clone()), Jobs::new(db.store().await));
    a.register(kind.clone(), tally.clone());
    b.register(kind, tally.clone());
    let (ra, rb) = (a.start(), b.start());
    until("both jobs done", async || {
        queued(&store, "t.lease").await == 0
    })
    .await;
    ra.stop().await;
    rb.stop().await;
    assert!(store.system().job(id).await.unwrap().is_none());
    let runs = tally.runs.lock().unwrap();
    assert_eq!(runs.get("orphan"), Some(&1));
    assert_eq!(runs.get("long"), Some(&1), "a renewed lease was taken over");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_lets_the_jobs_in_flight_finish() {
    let db = TestDb::new().await;
    let store = db.store().await;
    let tally = Tally {
        sleep: Duration::from_millis(300),
        ..Default::default()
    };
    let rt = Jobs::new(store.clone());
    rt.register(fast("t.stop"), tally.clone());
    let running = rt.start();
    store
        .system()
        .enqueue(&[spec("t.stop", "k", "x")])
        .await
        .unwrap();
    rt.wake("t.stop");
    until("the job to start", async || {
        store
            .system()
            .job_stats()
            .await
            .unwrap()
            .first()
            .is_some_and(|s| s.running == 1)
    })
    .await;
    running.stop().await;
    assert_eq!(tally.runs.lock().unwrap().get("x"), Some(&1));
    assert_eq!(
        queued(&store, "t.stop").await,
        0,
        "the finished job was not recorded"
    );
}

#[tokio::test]
async fn a_claim_leases_at_most_its_limit_and_skips_the_keys_named() {
    let db = TestDb::new().await;
    let store = db.store().await;
    let mut jobs: Vec<JobSpec> = (0..4).map(|_| spec("t.claim", "slow", "s")).collect();
    jobs.extend((0..3).map(|i| spec("t.claim", &format!("fast{i}"), "f")));
    store.system().enqueue(&jobs).await.unwrap();
    let keys = |v: Vec<palisade_store::JobRow>| v.into_iter().map(|j| j.key).collect::<Vec<_>>();
    let lease = now() + 10_000_000;
    let first = store
        .system()
        .lease_jobs("t.claim", "me", now(), lease, 2, &[])
        .await;
    assert_eq!(keys(first.unwrap()), ["slow", "slow"]);
    let skip = ["slow".to_string()];
    assert!(store
        .system()
        .jobs_due("t.claim", now(), &skip)
        .await
        .unwrap());
    let second = store
        .system()
        .lease_jobs("t.claim", "me", now(), lease, 2, &skip)
        .await;
    assert_eq!(keys(second.unwrap()), ["fast0", "fast1"]);
    let other = store
        .system()
        .lease_jobs("t.other", "me", now(), lease, 9, &[])
        .await;
    assert!(
        other.unwrap().is_empty(),
        "another kind's claim took these jobs"
    );
}
