//! Handlers, and the loop that works one kind: claim due jobs under the kind's and each
//! key's bounds, run them, renew their leases, record their ends in batches.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use palisade_domain::time::to_micros;
use palisade_store::{JobEnd, JobFinish, JobRow, Store};
use tokio::sync::{mpsc, watch, Notify, Semaphore};
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::metrics::Counters;
use crate::Kind;

/// A claimed job as its handler sees it.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: Uuid,
    pub kind: &'static str,
    /// The fairness key it was queued with.
    pub key: String,
    pub org: Option<Uuid>,
    pub payload: String,
    /// This attempt's number, from 1.
    pub attempt: u32,
    /// When the job was queued (microseconds).
    pub created_at: i64,
}

impl Job {
    /// The payload read as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> serde_json::Result<T> {
        serde_json::from_str(&self.payload)
    }
}

/// How an attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Finished: the job is deleted.
    Done,
    /// Failed, worth trying again: after `after` when the handler knows better (a
    /// `Retry-After`), else after the kind's backoff. The last attempt's retry is a dead
    /// letter instead.
    Retry {
        after: Option<Duration>,
        error: String,
    },
    /// Failed for good: dead-lettered now.
    Fail { error: String },
    /// Not attempted (the key is held): due again after `after`, no attempt counted.
    Release { after: Duration },
}

/// A worked job on its way to the recorder.
#[derive(Debug)]
pub struct Finished<N> {
    pub job: Job,
    pub outcome: Outcome,
    /// What the queue does with it (decided from the outcome, the attempts and the backoff).
    pub end: JobEnd,
    /// What the handler's `run` returned besides the outcome.
    pub note: N,
}

impl<N> Finished<N> {
    /// The queue's part of this end.
    pub fn finish(&self) -> JobFinish {
        JobFinish {
            id: self.job.id,
            end: self.end.clone(),
        }
    }
}

/// Works the jobs of one kind.
pub trait Handler: Send + Sync + 'static {
    /// What [`Handler::run`] hands to [`Handler::record`] besides the outcome; `()` for a
    /// kind that records nothing of its own.
    type Note: Send + Sync + 'static;

    /// Works one job.
    fn run(&self, job: &Job) -> impl Future<Output = (Outcome, Self::Note)> + Send;

    /// Records a batch of worked jobs: the default ends their leases
    /// ([`palisade_store::System::finish_jobs`]); a kind that writes results of its own
    /// writes them here, in the same transaction as the ends (the store's `jobs::finish_in`).
    fn record(
        &self,
        store: &Store,
        owner: &str,
        batch: &[Finished<Self::Note>],
    ) -> impl Future<Output = palisade_domain::Result<()>> + Send {
        async move {
            let ends: Vec<JobFinish> = batch.iter().map(Finished::finish).collect();
            store.system().finish_jobs(owner, &ends).await.map(|_| ())
        }
    }

    /// Keys whose jobs must not be claimed now (a paused webhook); re-read at most every
    /// 200 ms. A job of a key held after it was claimed is the handler's to release.
    fn held_keys(&self) -> impl Future<Output = Vec<String>> + Send {
        async { Vec::new() }
    }
}

/// One kind's loop state.
pub(crate) struct KindLoop<H: Handler> {
    pub(crate) kind: Kind,
    pub(crate) handler: Arc<H>,
    pub(crate) store: Store,
    pub(crate) owner: String,
    pub(crate) wake: Arc<Notify>,
    pub(crate) counters: Arc<Counters>,
    /// Jobs in flight (or waiting for their key's turn), per key.
    in_flight: Mutex<HashMap<String, usize>>,
    per_key: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// Ids of the jobs in flight, whose leases the heartbeat renews.
    leased: Mutex<HashSet<Uuid>>,
}

const RECORD_BATCH: usize = 512;

fn now() -> i64 {
    to_micros(chrono::Utc::now())
}

impl<H: Handler> KindLoop<H> {
    pub(crate) fn new(
        kind: Kind,
        handler: Arc<H>,
        store: Store,
        owner: String,
        wake: Arc<Notify>,
        counters: Arc<Counters>,
    ) -> Self {
        KindLoop {
            kind,
            handler,
            store,
            owner,
            wake,
            counters,
            in_flight: Default::default(),
            per_key: Default::default(),
            leased: Default::default(),
        }
    }

    fn saturated(&self) -> Vec<String> {
        let limit = self.kind.per_key.max(1);
        self.in_flight
            .lock()
            .expect("lock")
            .iter()
            .filter(|(_, n)| **n >= limit)
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn key_slot(&self, key: &str) -> Arc<Semaphore> {
        self.per_key
            .lock()
            .expect("lock")
            .entry(key.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.kind.per_key.max(1))))
            .clone()
    }

    fn lease_micros(&self) -> i64 {
        self.kind.lease.as_micros() as i64
    }

    /// Runs the kind until `stopped`, then lets the jobs in flight finish and records them.
    pub(crate) async fn run(self: Arc<Self>, mut stopped: watch::Receiver<bool>) {
        let (done_tx, done_rx) = mpsc::channel::<Finished<H::Note>>(4096);
        let recorder = tokio::spawn(self.clone().record_loop(done_rx));
        let (beat_stop, beat_stopped) = watch::channel(false);
        let heartbeat = tokio::spawn(self.clone().heartbeat(beat_stopped));
        let global = Arc::new(Semaphore::new(self.kind.concurrency.max(1)));
        let mut running = JoinSet::new();
        // Claim in batches no larger than one key's slots, so one key's backlog cannot fill
        // this replica's slots ahead of the others.
        let batch = self.kind.per_key.max(1) as i64;
        let mut held: Vec<String> = Vec::new();
        let mut held_at = Instant::now() - Duration::from_secs(3600);
        let mut last_full = false;
        loop {
            while running.try_join_next().is_some() {}
            if *stopped.borrow() {
                break;
            }
            let free = global.available_permits() as i64;
            let mut claimed = Vec::new();
            if free > 0 {
                if held_at.elapsed() >= self.kind.poll.min(Duration::from_millis(200)) {
                    held = self.handler.held_keys().await;
                    held_at = Instant::now();
                }
                let mut skip = self.saturated();
                skip.extend(held.iter().cloned());
                let now = now();
                // Look before leasing (the probe is a read, the claim a write), unless the
                // last claim came back full: then more is almost surely due.
                let due = last_full
                    || match self
                        .store
                        .system()
                        .jobs_due(self.kind.name, now, &skip)
                        .await
                    {
                        Ok(due) => due,
                        Err(e) => {
                            tracing::warn!(kind = self.kind.name, error = %e, "looking for due jobs failed");
                            false
                        }
                    };
                if due {
                    let want = free.min(batch);
                    match self
                        .store
                        .system()
                        .lease_jobs(
                            self.kind.name,
                            &self.owner,
                            now,
                            now + self.lease_micros(),
                            want,
                            &skip,
                        )
                        .await
                    {
                        Ok(jobs) => {
                            last_full = jobs.len() as i64 == want;
                            claimed = jobs;
                        }
                        Err(e) => {
                            last_full = false;
                            tracing::warn!(kind = self.kind.name, error = %e, "claiming jobs failed");
                        }
                    }
                }
            }
            if claimed.is_empty() {
                // Idle: wait for new work, the poll, or (when every slot is taken, or a key's
                // slots are) a job to finish.
                let waiting_for_slots = free == 0 || !self.saturated().is_empty();
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(self.kind.poll) => {}
                    Some(_) = running.join_next(), if waiting_for_slots && !running.is_empty() => {}
                    _ = stopped.changed() => {}
                }
                continue;
            }
            for row in claimed {
                let permit = match global.clone().try_acquire_owned() {
                    Ok(p) => p,
                    Err(_) => global.clone().acquire_owned().await.expect("open"),
                };
                let job = self.job(row);
                *self
                    .in_flight
                    .lock()
                    .expect("lock")
                    .entry(job.key.clone())
                    .or_default() += 1;
                self.leased.lock().expect("lock").insert(job.id);
                let this = self.clone();
                let done = done_tx.clone();
                running.spawn(async move {
                    let key = job.key.clone();
                    let id = job.id;
                    let finished = this.work(job).await;
                    let _ = done.send(finished).await;
                    this.leased.lock().expect("lock").remove(&id);
                    let mut map = this.in_flight.lock().expect("lock");
                    if let Some(n) = map.get_mut(&key) {
                        *n -= 1;
                        if *n == 0 {
                            map.remove(&key);
                        }
                    }
                    drop(permit);
                });
            }
        }
        // Finish what is in flight; the recorder stops when the last sender is gone.
        while running.join_next().await.is_some() {}
        drop(done_tx);
        let _ = recorder.await;
        let _ = beat_stop.send(true);
        let _ = heartbeat.await;
    }

    fn job(&self, row: JobRow) -> Job {
        Job {
            id: row.id,
            kind: self.kind.name,
            key: row.key,
            org: row.org,
            payload: row.payload,
            attempt: row.attempts.max(0) as u32 + 1,
            created_at: row.created_at,
        }
    }

    /// Works one job: wait for its key's turn, run the handler, decide the job's end.
    async fn work(&self, job: Job) -> Finished<H::Note> {
        let slot = self.key_slot(&job.key);
        let _turn = slot.acquire_owned().await.expect("open");
        let (outcome, note) = self.handler.run(&job).await;
        let end = self.end(&job, &outcome);
        Finished {
            job,
            outcome,
            end,
            note,
        }
    }

    /// What the queue does with a job after `outcome`.
    pub(crate) fn end(&self, job: &Job, outcome: &Outcome) -> JobEnd {
        let now = now();
        match outcome {
            Outcome::Done => JobEnd::Done,
            Outcome::Release { after } => JobEnd::Release {
                at: now + after.as_micros() as i64,
            },
            Outcome::Fail { error } => JobEnd::Dead {
                error: Some(error.clone()),
            },
            Outcome::Retry { .. } if job.attempt >= self.kind.max_attempts.max(1) => {
                let Outcome::Retry { error, .. } = outcome else {
                    unreachable!()
                };
                JobEnd::Dead {
                    error: Some(error.clone()),
                }
            }
            Outcome::Retry { after, error } => {
                let wait = after.unwrap_or_else(|| self.kind.backoff.after(job.attempt));
                JobEnd::Retry {
                    at: now + wait.as_micros() as i64,
                    error: Some(error.clone()),
                }
            }
        }
    }

    fn count(&self, f: &Finished<H::Note>) {
        let c = &self.counters;
        match &f.end {
            JobEnd::Done => Counters::add(&c.succeeded),
            JobEnd::Release { .. } => Counters::add(&c.released),
            JobEnd::Retry { .. } => {
                Counters::add(&c.failed);
                Counters::add(&c.retried);
            }
            JobEnd::Dead { error } => {
                Counters::add(&c.failed);
                Counters::add(&c.dead);
                tracing::warn!(
                    kind = self.kind.name,
                    job = %f.job.id,
                    key = %f.job.key,
                    attempts = f.job.attempt,
                    error = error.as_deref().unwrap_or(""),
                    "job dead-lettered"
                );
            }
        }
    }

    async fn record_loop(self: Arc<Self>, mut done: mpsc::Receiver<Finished<H::Note>>) {
        let mut batch = Vec::with_capacity(RECORD_BATCH);
        while let Some(first) = done.recv().await {
            batch.push(first);
            while batch.len() < RECORD_BATCH {
                match done.try_recv() {
                    Ok(f) => batch.push(f),
                    Err(_) => break,
                }
            }
            let mut tries = 0;
            loop {
                match self.handler.record(&self.store, &self.owner, &batch).await {
                    Ok(()) => {
                        batch.iter().for_each(|f| self.count(f));
                        break;
                    }
                    Err(e) => {
                        tries += 1;
                        tracing::warn!(kind = self.kind.name, error = %e, tries, "recording jobs failed");
                        if tries >= 5 {
                            // The leases will lapse and the jobs be worked again: at least
                            // once, never lost.
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(200 * tries)).await;
                    }
                }
            }
            batch.clear();
            // Retries may now be due sooner than the next poll.
            self.wake.notify_one();
        }
    }

    /// Renews the leases of the jobs in flight every third of the lease.
    async fn heartbeat(self: Arc<Self>, mut stopped: watch::Receiver<bool>) {
        let every = (self.kind.lease / 3).max(Duration::from_millis(50));
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stopped.changed() => return,
            }
            let ids: Vec<Uuid> = self.leased.lock().expect("lock").iter().copied().collect();
            if ids.is_empty() {
                continue;
            }
            let until = now() + self.lease_micros();
            if let Err(e) = self
                .store
                .system()
                .renew_leases(&self.owner, &ids, until)
                .await
            {
                tracing::warn!(kind = self.kind.name, error = %e, "renewing job leases failed");
            }
        }
    }
}
