//! The runtime: registered kinds and loops, started and stopped together.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use palisade_domain::time::to_micros;
use palisade_store::Store;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::metrics::{Counters, Registry};
use crate::worker::KindLoop;
use crate::{Handler, Kind};

type Starter = Box<dyn FnOnce(watch::Receiver<bool>) -> JoinHandle<()> + Send>;

/// A future a loop waits on besides its period (a commit notification).
pub type Wake = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The job runtime of one replica (cheap to clone): register kinds and loops, then
/// [`Jobs::start`].
#[derive(Clone)]
pub struct Jobs {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    owner: String,
    wakers: Mutex<HashMap<&'static str, Arc<Notify>>>,
    metrics: Registry,
    starters: Mutex<Vec<Starter>>,
}

/// The started runtime; [`Running::stop`] lets the jobs in flight finish.
pub struct Running {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops claiming, waits for the jobs in flight and records them.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

impl Jobs {
    /// A runtime over `store`; its lease owner name is unique to this process.
    pub fn new(store: Store) -> Jobs {
        Jobs {
            inner: Arc::new(Inner {
                store,
                owner: format!("replica-{}", Uuid::new_v4()),
                wakers: Default::default(),
                metrics: Default::default(),
                starters: Default::default(),
            }),
        }
    }

    /// The name this replica leases jobs under.
    pub fn owner(&self) -> &str {
        &self.inner.owner
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    fn waker(&self, kind: &'static str) -> Arc<Notify> {
        self.inner
            .wakers
            .lock()
            .expect("lock")
            .entry(kind)
            .or_default()
            .clone()
    }

    /// Registers a kind and its handler; it runs from [`Jobs::start`].
    pub fn register<H: Handler>(&self, kind: Kind, handler: H) {
        let work = Arc::new(KindLoop::new(
            kind.clone(),
            Arc::new(handler),
            self.inner.store.clone(),
            self.inner.owner.clone(),
            self.waker(kind.name),
            self.inner.metrics.counters(kind.name),
        ));
        self.inner
            .starters
            .lock()
            .expect("lock")
            .push(Box::new(move |stopped| tokio::spawn(work.run(stopped))));
    }

    /// Registers a loop that runs `step` until it reports no more work (`Ok(false)`), then
    /// waits for `wake()`, `every`, or the stop. For work that is not queued as jobs: outbox
    /// consumers, retention.
    pub fn register_loop<S, F, W>(&self, name: &'static str, every: Duration, wake: W, step: S)
    where
        S: FnMut() -> F + Send + 'static,
        F: Future<Output = palisade_domain::Result<bool>> + Send,
        W: Fn() -> Wake + Send + 'static,
    {
        let mut step = step;
        self.inner
            .starters
            .lock()
            .expect("lock")
            .push(Box::new(move |mut stopped| {
                tokio::spawn(async move {
                    loop {
                        if *stopped.borrow() {
                            return;
                        }
                        match step().await {
                            Ok(true) => continue,
                            Ok(false) => {}
                            Err(e) => tracing::warn!(task = name, error = %e, "background task failed; retrying"),
                        }
                        tokio::select! {
                            _ = wake() => {}
                            _ = tokio::time::sleep(every) => {}
                            _ = stopped.changed() => {}
                        }
                    }
                })
            }));
    }

    /// Starts every kind and loop registered so far.
    pub fn start(&self) -> Running {
        let (stop, stopped) = watch::channel(false);
        let starters: Vec<Starter> =
            std::mem::take(&mut *self.inner.starters.lock().expect("lock"));
        let tasks = starters.into_iter().map(|s| s(stopped.clone())).collect();
        Running { stop, tasks }
    }

    /// Jobs of `kind` were queued or became due: look now rather than at the next poll.
    pub fn wake(&self, kind: &'static str) {
        self.waker(kind).notify_one();
    }

    /// Counts one `outcome` of a `kind` as the kind names it (a delivery `abandoned`, a run
    /// `PartiallySucceeded`): `palisade_job_outcomes_total{kind, outcome}`.
    pub fn count_outcome(&self, kind: &'static str, outcome: &'static str) {
        self.inner.metrics.outcome(kind, outcome);
    }

    /// This replica's counters of `kind`.
    pub fn counters(&self, kind: &'static str) -> Arc<Counters> {
        self.inner.metrics.counters(kind)
    }

    /// The Prometheus text of every registered kind: this replica's counters and the
    /// queue's figures.
    pub async fn render_metrics(&self) -> palisade_domain::Result<String> {
        let stats = self.inner.store.system().job_stats().await?;
        Ok(self
            .inner
            .metrics
            .render(&stats, to_micros(chrono::Utc::now())))
    }
}
