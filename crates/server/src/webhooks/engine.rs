//! The background delivery engine: a dispatcher that fans outbox events out to webhook jobs,
//! a claimer that leases due jobs and runs each delivery as a task under a global and a
//! per-webhook concurrency bound, a recorder that writes outcomes in batches, and an hourly
//! retention purge. Every replica runs one; they coordinate only through the database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use palisade_store::{ClaimedJob, Completion, JobFate, LogRow, Store, WebhookRow};
use tokio::sync::{mpsc, watch, Notify, Semaphore};
use tokio::task::JoinSet;
use uuid::Uuid;

use super::{plan, schema_name, Attempt, Deliverer, SecretBox, Target};
use crate::config::WebhooksConfig;
use palisade_domain::time::to_micros;

/// Shared handle: wake the engine after writing events.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    config: WebhooksConfig,
    secrets: Arc<SecretBox>,
    deliverer: Deliverer,
    /// This replica's lease owner name.
    owner: String,
    jobs: Notify,
    /// Queue rows changed since the last vacuum (PostgreSQL), and when it ran.
    churn: std::sync::atomic::AtomicUsize,
    last_vacuum: Mutex<std::time::Instant>,
    /// Deliveries in flight (or waiting for their webhook's turn) per webhook.
    in_flight: Mutex<HashMap<Uuid, usize>>,
    per_webhook: Mutex<HashMap<Uuid, Arc<Semaphore>>>,
}

/// The running engine's tasks; [`Running::stop`] finishes in-flight deliveries.
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

const DISPATCH_BATCH: i64 = 500;
const VACUUM_AFTER_ROWS: usize = 2_000;
const VACUUM_EVERY: Duration = Duration::from_secs(2);
const PURGE_EVERY: Duration = Duration::from_secs(3600);

impl Engine {
    pub fn new(
        store: Store,
        config: WebhooksConfig,
        secrets: Arc<SecretBox>,
        deliverer: Deliverer,
    ) -> Engine {
        Engine {
            inner: Arc::new(Inner {
                store,
                config,
                secrets,
                deliverer,
                owner: format!("replica-{}", Uuid::new_v4()),
                jobs: Notify::new(),
                churn: Default::default(),
                last_vacuum: Mutex::new(std::time::Instant::now()),
                in_flight: Mutex::new(HashMap::new()),
                per_webhook: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// New jobs are due (redelivery, resume, enable).
    pub fn jobs_queued(&self) {
        self.inner.jobs.notify_one();
    }

    /// Starts the dispatcher, the workers and the purge.
    pub fn start(&self) -> Running {
        let (stop, stopped) = watch::channel(false);
        let (done_tx, done_rx) = mpsc::channel::<Completion>(4096);
        let tasks = vec![
            tokio::spawn(self.clone().dispatch_loop(stopped.clone())),
            tokio::spawn(self.clone().claim_loop(stopped.clone(), done_tx)),
            tokio::spawn(self.clone().record_loop(done_rx)),
            tokio::spawn(self.clone().purge_loop(stopped)),
        ];
        Running { stop, tasks }
    }

    /// Counts queue churn and, past a threshold, vacuums the queue tables in the background.
    fn churned(&self, rows: usize) {
        use std::sync::atomic::Ordering;
        let total = self.inner.churn.fetch_add(rows, Ordering::Relaxed) + rows;
        if total < VACUUM_AFTER_ROWS {
            return;
        }
        {
            let mut last = self.inner.last_vacuum.lock().expect("lock");
            if last.elapsed() < VACUUM_EVERY {
                return;
            }
            *last = std::time::Instant::now();
        }
        self.inner.churn.store(0, Ordering::Relaxed);
        let store = self.inner.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store.system().vacuum_queues().await {
                tracing::debug!(error = %e, "queue vacuum failed");
            }
        });
    }

    fn poll(&self) -> Duration {
        Duration::from_millis(self.inner.config.poll_interval_ms)
    }

    async fn dispatch_loop(self, mut stopped: watch::Receiver<bool>) {
        loop {
            if *stopped.borrow() {
                return;
            }
            match self
                .inner
                .store
                .system()
                .dispatch_events(DISPATCH_BATCH, plan)
                .await
            {
                Ok(n) if n > 0 => {
                    self.inner.jobs.notify_one();
                    self.churned(n);
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "webhook dispatch failed; retrying"),
            }
            tokio::select! {
                _ = self.inner.store.events_committed() => {}
                _ = tokio::time::sleep(self.poll()) => {}
                _ = stopped.changed() => {}
            }
        }
    }

    fn saturated(&self) -> Vec<Uuid> {
        let limit = self.inner.config.max_in_flight_per_webhook;
        self.inner
            .in_flight
            .lock()
            .expect("lock")
            .iter()
            .filter(|(_, n)| **n >= limit)
            .map(|(w, _)| *w)
            .collect()
    }

    fn webhook_slot(&self, webhook: Uuid) -> Arc<Semaphore> {
        self.inner
            .per_webhook
            .lock()
            .expect("lock")
            .entry(webhook)
            .or_insert_with(|| {
                Arc::new(Semaphore::new(self.inner.config.max_in_flight_per_webhook))
            })
            .clone()
    }

    async fn claim_loop(self, mut stopped: watch::Receiver<bool>, done: mpsc::Sender<Completion>) {
        let cfg = &self.inner.config;
        let global = Arc::new(Semaphore::new(cfg.max_in_flight));
        let mut running = JoinSet::new();
        // Claim in batches no larger than the per-webhook bound, so one webhook's backlog
        // cannot fill this replica's slots ahead of the others.
        let batch = cfg.max_in_flight_per_webhook.max(1) as i64;
        let mut held: Option<Vec<Uuid>> = None;
        let mut held_at = std::time::Instant::now() - Duration::from_secs(3600);
        let mut last_full = false;
        loop {
            while running.try_join_next().is_some() {}
            if *stopped.borrow() {
                break;
            }
            let free = global.available_permits() as i64;
            let mut claimed = Vec::new();
            if free > 0 {
                let now = to_micros(chrono::Utc::now());
                let lease = now + (cfg.lease_secs as i64) * 1_000_000;
                let saturated = self.saturated();
                // The held (paused, disabled) webhooks, refreshed every poll interval at most:
                // a job claimed for a webhook paused meanwhile is released by `work`.
                if held_at.elapsed() >= self.poll().min(Duration::from_millis(200)) {
                    match self.inner.store.system().held_webhooks().await {
                        Ok(h) => {
                            held = h;
                            held_at = std::time::Instant::now();
                        }
                        Err(e) => tracing::warn!(error = %e, "reading held webhooks failed"),
                    }
                }
                // Look before leasing (the probe is a read, the claim a write), unless the
                // last claim came back full: then more is almost surely due.
                let due = last_full
                    || match self
                        .inner
                        .store
                        .system()
                        .any_job_due(now, &saturated, held.as_deref())
                        .await
                    {
                        Ok(due) => due,
                        Err(e) => {
                            tracing::warn!(error = %e, "looking for due webhook deliveries failed");
                            false
                        }
                    };
                if due {
                    let want = free.min(batch);
                    match self
                        .inner
                        .store
                        .system()
                        .claim_jobs(
                            &self.inner.owner,
                            now,
                            lease,
                            want,
                            &saturated,
                            held.as_deref(),
                        )
                        .await
                    {
                        Ok(jobs) => {
                            last_full = jobs.len() as i64 == want;
                            claimed = jobs;
                        }
                        Err(e) => {
                            last_full = false;
                            tracing::warn!(error = %e, "claiming webhook deliveries failed");
                        }
                    }
                }
            }
            if claimed.is_empty() {
                // Idle: wait for new work, the poll, or (when every slot is taken, or a
                // webhook's slots are) a delivery to finish.
                let waiting_for_slots = free == 0 || !self.saturated().is_empty();
                tokio::select! {
                    _ = self.inner.jobs.notified() => {}
                    _ = tokio::time::sleep(self.poll()) => {}
                    Some(_) = running.join_next(), if waiting_for_slots && !running.is_empty() => {}
                    _ = stopped.changed() => {}
                }
                continue;
            }
            let mut ids: Vec<Uuid> = claimed.iter().map(|j| j.webhook_id).collect();
            ids.sort();
            ids.dedup();
            let hooks: HashMap<Uuid, WebhookRow> =
                match self.inner.store.system().webhooks_by_id(&ids).await {
                    Ok(rows) => rows.into_iter().map(|w| (w.id, w)).collect(),
                    Err(e) => {
                        tracing::warn!(error = %e, "loading webhooks failed");
                        HashMap::new()
                    }
                };
            for job in claimed {
                let permit = match global.clone().try_acquire_owned() {
                    Ok(p) => p,
                    Err(_) => global.clone().acquire_owned().await.expect("open"),
                };
                let hook = hooks.get(&job.webhook_id).cloned();
                *self
                    .inner
                    .in_flight
                    .lock()
                    .expect("lock")
                    .entry(job.webhook_id)
                    .or_default() += 1;
                let engine = self.clone();
                let done = done.clone();
                running.spawn(async move {
                    let webhook = job.webhook_id;
                    let completion = engine.work(job, hook).await;
                    let _ = done.send(completion).await;
                    let mut map = engine.inner.in_flight.lock().expect("lock");
                    if let Some(n) = map.get_mut(&webhook) {
                        *n -= 1;
                        if *n == 0 {
                            map.remove(&webhook);
                        }
                    }
                    drop(permit);
                });
            }
        }
        // Finish what is in flight; the recorder stops when the last sender is gone.
        while running.join_next().await.is_some() {}
    }

    /// Works one claimed job: wait for the webhook's turn, deliver, decide its fate.
    async fn work(&self, job: ClaimedJob, hook: Option<WebhookRow>) -> Completion {
        let release = |job: &ClaimedJob| Completion {
            job_id: job.id,
            fate: JobFate::Release,
            log: None,
            pending_log_id: None,
        };
        let Some(hook) = hook.filter(|h| h.status == "Active") else {
            return release(&job);
        };
        let slot = self.webhook_slot(job.webhook_id);
        let _turn = slot.acquire_owned().await.expect("open");
        // Never start an attempt the lease might not outlive: another replica could take the
        // job over mid-flight.
        let margin = (self.inner.config.timeout_secs as i64 + 3) * 1_000_000;
        if to_micros(chrono::Utc::now()) + margin > job.lease_until {
            return release(&job);
        }
        let target = Target::open(&hook, &self.inner.secrets);
        let is_test = job.body.contains(r#""isTest":true"#);
        let attempt = self
            .inner
            .deliverer
            .attempt(
                &target,
                job.event_id,
                &schema_name(&job.event_type),
                &job.body,
                is_test,
            )
            .await;
        let attempt_number = job.attempts + 1;
        let fate = self.fate(&attempt, attempt_number);
        if let Some(e) = &attempt.error {
            tracing::debug!(webhook = %job.webhook_id, event = %job.event_id, attempt = attempt_number, error = %e, "webhook delivery failed");
        }
        let log = log_row(&job, &hook, &attempt, attempt_number, is_test);
        Completion {
            job_id: job.id,
            fate,
            log: Some(log),
            pending_log_id: job.pending_log_id,
        }
    }

    fn fate(&self, a: &Attempt, attempt_number: i64) -> JobFate {
        if a.success() {
            return JobFate::Delivered;
        }
        let cfg = &self.inner.config;
        let now = to_micros(chrono::Utc::now());
        if a.status == Some(410) {
            return JobFate::Gone(now);
        }
        // attempt_number 1 failed → schedule[0], …; past the schedule the event is abandoned.
        let Some(delay) = cfg.retry_schedule_secs.get((attempt_number - 1) as usize) else {
            return JobFate::GiveUp;
        };
        let mut delay = Duration::from_secs(*delay);
        if matches!(a.status, Some(429) | Some(503)) {
            if let Some(asked) = a.retry_after {
                delay = asked.clamp(
                    Duration::from_secs(1),
                    Duration::from_secs(cfg.max_retry_after_secs),
                );
            }
        }
        JobFate::Retry(now + delay.as_micros() as i64)
    }

    async fn record_loop(self, mut done: mpsc::Receiver<Completion>) {
        let disable_after = self.inner.config.disable_after_consecutive_failures as i64;
        let mut batch = Vec::with_capacity(512);
        while let Some(first) = done.recv().await {
            batch.push(first);
            while batch.len() < 512 {
                match done.try_recv() {
                    Ok(c) => batch.push(c),
                    Err(_) => break,
                }
            }
            let mut tries = 0;
            loop {
                match self
                    .inner
                    .store
                    .system()
                    .complete_jobs(&batch, &self.inner.owner, disable_after)
                    .await
                {
                    Ok(effects) => {
                        self.churned(batch.len());
                        for (w, reason) in effects.disabled {
                            tracing::warn!(webhook = %w, reason = %reason, "webhook disabled");
                        }
                        break;
                    }
                    Err(e) => {
                        tries += 1;
                        tracing::warn!(error = %e, tries, "recording webhook deliveries failed");
                        if tries >= 5 {
                            // The leases will lapse and the deliveries be retried: at least
                            // once, never lost.
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(200 * tries)).await;
                    }
                }
            }
            batch.clear();
            // Retries may now be due sooner than the next poll.
            self.inner.jobs.notify_one();
        }
    }

    async fn purge_loop(self, mut stopped: watch::Receiver<bool>) {
        let mut wait = Duration::from_secs(60);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stopped.changed() => return,
            }
            wait = PURGE_EVERY;
            let keep = chrono::Duration::days(self.inner.config.delivery_log_retention_days as i64);
            let before = to_micros(chrono::Utc::now() - keep);
            match self
                .inner
                .store
                .system()
                .purge_webhook_history(before)
                .await
            {
                Ok(n) if n > 0 => tracing::info!(purged = n, "old delivery logs purged"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "delivery log purge failed"),
            }
        }
    }
}

/// The log row of one attempt.
pub fn log_row(
    job: &ClaimedJob,
    hook: &WebhookRow,
    a: &Attempt,
    attempt_number: i64,
    is_test: bool,
) -> LogRow {
    LogRow {
        id: Uuid::new_v4(),
        org: job.org,
        webhook_id: job.webhook_id,
        event_id: job.event_id,
        event_type: job.event_type.clone(),
        status: if a.success() { "Succeeded" } else { "Failed" }.into(),
        http_status_code: a.status.map(i64::from),
        error_message: a.error.clone(),
        account_id: job.account_id,
        account_name: None,
        subject_id: job.subject_id.clone(),
        subject_display_name: job.subject_display_name.clone(),
        subject_attributes: job.subject_attributes.clone(),
        is_test,
        original_delivery_id: job.original_delivery_id,
        attempt_number,
        latency_ms: Some(a.latency_ms as i64),
        request_url: hook.url.clone(),
        request_headers: serde_json::Value::Object(a.request_headers.clone()).to_string(),
        request_body: job.body.clone(),
        response_snippet: a.response_snippet.clone(),
        event_occurred_at: job.occurred_at,
        completed_at: Some(to_micros(a.completed_at)),
        redelivery_requested_at: None,
        redelivered: false,
        created_at: to_micros(a.started_at),
    }
}
