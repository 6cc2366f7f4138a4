//! The leased scheduler that drives the poll and write-back handlers: each loop claims due
//! jobs (a lease in the database: one replica at a time, taken over after a crash), runs the
//! handler while renewing the lease, and records its [`Outcome`]. This is the one module that
//! knows how connector jobs are queued; the shared job subsystem replaces it by registering
//! [`super::poll::run`] and [`super::writeback::run`] as job kinds.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use palisade_store::{ClaimedPoll, ClaimedWriteBack, PollFailure, WriteBackFate};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use super::{poll, writeback, Connectors, Outcome};

/// The running loops; [`Running::stop`] lets in-flight jobs finish.
pub struct Running {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

impl Connectors {
    pub fn start(&self) -> Running {
        let (stop, stopped) = watch::channel(false);
        let tasks = vec![
            tokio::spawn(self.clone().poll_loop(stopped.clone())),
            tokio::spawn(self.clone().writeback_loop(stopped)),
        ];
        Running { stop, tasks }
    }

    fn lease_secs(&self) -> i64 {
        self.config().lease_secs as i64
    }

    fn tick(&self) -> Duration {
        Duration::from_millis(self.config().tick_ms)
    }

    async fn poll_loop(self, stopped: watch::Receiver<bool>) {
        let slots = self.config().max_concurrent_polls;
        let engine = self.clone();
        self.drive(stopped, slots, "poll", move |free| {
            let engine = engine.clone();
            async move {
                let claims = engine
                    .store()
                    .system()
                    .claim_polls(engine.owner(), engine.lease_secs(), free)
                    .await?;
                Ok(claims
                    .into_iter()
                    .map(|c| {
                        let engine = engine.clone();
                        async move { engine.work_poll(c).await }
                    })
                    .collect())
            }
        })
        .await
    }

    async fn writeback_loop(self, stopped: watch::Receiver<bool>) {
        let slots = self.config().max_concurrent_writebacks;
        let engine = self.clone();
        self.drive(stopped, slots, "write-back", move |free| {
            let engine = engine.clone();
            async move {
                let claims = engine
                    .store()
                    .system()
                    .claim_writebacks(engine.owner(), engine.lease_secs(), free)
                    .await?;
                Ok(claims
                    .into_iter()
                    .map(|c| {
                        let engine = engine.clone();
                        async move { engine.work_writeback(c).await }
                    })
                    .collect())
            }
        })
        .await
    }

    /// Claims with `claim(free slots)` and runs what it returns, until stopped.
    async fn drive<C, F, J>(
        self,
        mut stopped: watch::Receiver<bool>,
        slots: usize,
        what: &'static str,
        claim: C,
    ) where
        C: Fn(i64) -> F,
        F: Future<Output = palisade_domain::Result<Vec<J>>>,
        J: Future<Output = ()> + Send + 'static,
    {
        let slots = Arc::new(Semaphore::new(slots));
        let mut running = JoinSet::new();
        loop {
            while running.try_join_next().is_some() {}
            if *stopped.borrow() {
                break;
            }
            let free = slots.available_permits() as i64;
            let mut jobs = Vec::new();
            if free > 0 {
                match claim(free).await {
                    Ok(j) => jobs = j,
                    Err(e) => tracing::warn!(error = %e, "claiming connector {what} jobs failed"),
                }
            }
            if jobs.is_empty() {
                tokio::select! {
                    _ = self.woken() => {}
                    _ = tokio::time::sleep(self.tick()) => {}
                    Some(_) = running.join_next(), if !running.is_empty() => {}
                    _ = stopped.changed() => {}
                }
                continue;
            }
            for job in jobs {
                let permit = slots.clone().acquire_owned().await.expect("open");
                running.spawn(async move {
                    job.await;
                    drop(permit);
                });
            }
        }
        while running.join_next().await.is_some() {}
    }

    /// Runs `job`, renewing the lease with `renew` every third of it.
    async fn heartbeat<R, RF>(&self, job: impl Future<Output = Outcome>, renew: R) -> Outcome
    where
        R: Fn() -> RF,
        RF: Future<Output = bool>,
    {
        let every = Duration::from_secs((self.config().lease_secs / 3).max(1));
        tokio::pin!(job);
        loop {
            tokio::select! {
                out = &mut job => return out,
                _ = tokio::time::sleep(every) => {
                    if !renew().await {
                        return Outcome::Lost;
                    }
                }
            }
        }
    }

    async fn work_poll(&self, claim: ClaimedPoll) {
        let outcome = self
            .heartbeat(poll::run(self, &claim), || async {
                self.store()
                    .system()
                    .renew_poll(&claim, self.lease_secs())
                    .await
                    .unwrap_or(true)
            })
            .await;
        let now = Utc::now();
        let c = &claim.connector;
        let failures = c.consecutive_failures as u32 + 1;
        let chrono = |d: Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
        let result = match &outcome {
            Outcome::Done => Ok(now + chrono::Duration::seconds(c.poll_interval_secs)),
            Outcome::Again => Ok(now),
            Outcome::RetryAfter(d, error) => Err(PollFailure {
                state: if failures >= self.config().failing_after {
                    "Failing"
                } else {
                    "Degraded"
                },
                error: error.clone(),
                retry_at: now + chrono(*d),
            }),
            Outcome::Fail(error) => Err(PollFailure {
                state: "Failing",
                error: error.clone(),
                retry_at: now + chrono(Duration::from_secs(self.config().max_backoff_secs)),
            }),
            Outcome::Lost => {
                tracing::info!(connector = %c.datasource_id, "a poll's claim was taken over");
                return;
            }
        };
        if let Err(f) = &result {
            tracing::warn!(connector = %c.datasource_id, state = f.state, error = %f.error, "poll failed");
        }
        if let Err(e) = self.store().system().finish_poll(&claim, result).await {
            tracing::warn!(connector = %c.datasource_id, error = %e, "could not record a poll; it resumes after its lease");
        }
    }

    async fn work_writeback(&self, claim: ClaimedWriteBack) {
        let outcome = self
            .heartbeat(writeback::run(self, &claim), || async {
                self.store()
                    .system()
                    .renew_writeback(&claim, self.lease_secs())
                    .await
                    .unwrap_or(true)
            })
            .await;
        let fate = match outcome {
            Outcome::Done | Outcome::Again => WriteBackFate::Done,
            Outcome::RetryAfter(d, error) => WriteBackFate::Retry {
                at: Utc::now() + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX),
                error,
            },
            Outcome::Fail(error) => {
                tracing::warn!(incident = %claim.incident.id, error = %error, "a write-back was given up");
                WriteBackFate::Failed { error }
            }
            Outcome::Lost => return,
        };
        if let Err(e) = self.store().system().finish_writeback(&claim, &fate).await {
            tracing::warn!(error = %e, "could not record a write-back; it is retried after its lease");
        }
        self.incidents().forget(&claim.incident);
    }
}
