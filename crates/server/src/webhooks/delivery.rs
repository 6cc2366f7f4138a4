//! Webhook delivery on the job runtime (`crates/jobs`, docs/jobs.md): the
//! [`palisade_store::DELIVERY_KIND`] kind, whose jobs (one per event and webhook, keyed by
//! webhook) are worked by [`Deliveries`]; the dispatcher loop that fans outbox events out into
//! such jobs; and the hourly retention purge. Every replica runs them; they coordinate only
//! through the database.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use palisade_domain::time::to_micros;
use palisade_jobs::{Backoff, Finished, Handler, Job, Jobs, Kind, Outcome};
use palisade_store::{
    Delivery, DeliveryFate, DeliveryRecord, LogRow, Store, WebhookRow, DELIVERY_KIND,
};
use uuid::Uuid;

use super::{plan, schema_name, Attempt, Deliverer, SecretBox, Target};
use crate::config::WebhooksConfig;

const DISPATCH_BATCH: i64 = 500;
const VACUUM_AFTER_ROWS: usize = 2_000;
const VACUUM_EVERY: Duration = Duration::from_secs(2);
const PURGE_EVERY: Duration = Duration::from_secs(3600);
/// How long a webhook read for a delivery is reused by the next ones.
const HOOK_TTL: Duration = Duration::from_millis(250);

/// Registers webhook delivery on `jobs`: the delivery kind, the dispatcher and the purge.
pub fn register(
    jobs: &Jobs,
    config: WebhooksConfig,
    secrets: Arc<SecretBox>,
    deliverer: Deliverer,
) {
    let store = jobs.store().clone();
    let vacuum = Arc::new(Vacuum::new(store.clone()));
    let poll = Duration::from_millis(config.poll_interval_ms);
    let schedule: Vec<Duration> = config
        .retry_schedule_secs
        .iter()
        .map(|s| Duration::from_secs(*s))
        .collect();
    jobs.register(
        Kind {
            name: DELIVERY_KIND,
            concurrency: config.max_in_flight,
            per_key: config.max_in_flight_per_webhook,
            // Attempt n failed → schedule[n-1]; past the schedule the event is abandoned.
            max_attempts: schedule.len() as u32 + 1,
            backoff: Backoff::Schedule(schedule),
            lease: Duration::from_secs(config.lease_secs),
            poll,
        },
        Deliveries {
            store: store.clone(),
            config: config.clone(),
            secrets,
            deliverer,
            jobs: jobs.clone(),
            vacuum: vacuum.clone(),
            hooks: Mutex::new(HashMap::new()),
        },
    );
    let (wake_store, dispatch_store, handle) = (store.clone(), store.clone(), jobs.clone());
    jobs.register_loop(
        "webhooks.dispatch",
        poll,
        move || {
            let s = wake_store.clone();
            Box::pin(async move { s.events_committed().await })
        },
        move || {
            let (store, jobs, vacuum) = (dispatch_store.clone(), handle.clone(), vacuum.clone());
            async move {
                let n = store.system().dispatch_events(DISPATCH_BATCH, plan).await?;
                if n > 0 {
                    jobs.wake(DELIVERY_KIND);
                    vacuum.churned(n);
                }
                Ok(n > 0)
            }
        },
    );
    let retention = chrono::Duration::days(config.delivery_log_retention_days as i64);
    let next_purge = Arc::new(Mutex::new(Instant::now() + Duration::from_secs(60)));
    jobs.register_loop(
        "webhooks.purge",
        Duration::from_secs(60),
        || Box::pin(std::future::pending()),
        move || {
            let (store, next) = (store.clone(), next_purge.clone());
            async move {
                {
                    let mut next = next.lock().expect("lock");
                    if Instant::now() < *next {
                        return Ok(false);
                    }
                    *next = Instant::now() + PURGE_EVERY;
                }
                let before = to_micros(chrono::Utc::now() - retention);
                let n = store.system().purge_webhook_history(before).await?;
                store.system().purge_dead_jobs(before).await?;
                if n > 0 {
                    tracing::info!(purged = n, "old delivery logs purged");
                }
                Ok(false)
            }
        },
    );
}

/// Counts queue churn and, past a threshold, vacuums the queue tables in the background
/// (PostgreSQL; see `System::vacuum_queues`).
struct Vacuum {
    store: Store,
    churn: AtomicUsize,
    last: Mutex<Instant>,
}

impl Vacuum {
    fn new(store: Store) -> Vacuum {
        Vacuum {
            store,
            churn: AtomicUsize::new(0),
            last: Mutex::new(Instant::now()),
        }
    }

    fn churned(&self, rows: usize) {
        let total = self.churn.fetch_add(rows, Ordering::Relaxed) + rows;
        if total < VACUUM_AFTER_ROWS {
            return;
        }
        {
            let mut last = self.last.lock().expect("lock");
            if last.elapsed() < VACUUM_EVERY {
                return;
            }
            *last = Instant::now();
        }
        self.churn.store(0, Ordering::Relaxed);
        let store = self.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store.system().vacuum_queues().await {
                tracing::debug!(error = %e, "queue vacuum failed");
            }
        });
    }
}

/// Works delivery jobs: one attempt each, its log and the webhook's failure run recorded
/// with the job's end.
struct Deliveries {
    store: Store,
    config: WebhooksConfig,
    secrets: Arc<SecretBox>,
    deliverer: Deliverer,
    jobs: Jobs,
    vacuum: Arc<Vacuum>,
    /// Webhooks read lately (`None`: deleted), by id.
    hooks: Mutex<HashMap<Uuid, (Instant, Option<WebhookRow>)>>,
}

/// What an attempt leaves to record.
pub struct Note {
    fate: DeliveryFate,
    log: Option<LogRow>,
    pending_log_id: Option<Uuid>,
}

impl Note {
    fn release() -> Note {
        Note {
            fate: DeliveryFate::Release,
            log: None,
            pending_log_id: None,
        }
    }
}

impl Deliveries {
    async fn hook(&self, id: Uuid) -> palisade_domain::Result<Option<WebhookRow>> {
        if let Some((at, row)) = self.hooks.lock().expect("lock").get(&id) {
            if at.elapsed() < HOOK_TTL {
                return Ok(row.clone());
            }
        }
        let row = self.store.system().webhooks_by_id(&[id]).await?.pop();
        let mut hooks = self.hooks.lock().expect("lock");
        if hooks.len() > 10_000 {
            hooks.clear();
        }
        hooks.insert(id, (Instant::now(), row.clone()));
        Ok(row)
    }

    /// The wait before the next attempt after attempt `attempt` failed (`None`: abandon).
    fn retry_delay(&self, a: &Attempt, attempt: u32) -> Option<Duration> {
        let cfg = &self.config;
        let delay = cfg.retry_schedule_secs.get(attempt as usize - 1)?;
        let mut delay = Duration::from_secs(*delay);
        if matches!(a.status, Some(429) | Some(503)) {
            if let Some(asked) = a.retry_after {
                delay = asked.clamp(
                    Duration::from_secs(1),
                    Duration::from_secs(cfg.max_retry_after_secs),
                );
            }
        }
        Some(delay)
    }
}

impl Handler for Deliveries {
    type Note = Note;

    async fn run(&self, job: &Job) -> (Outcome, Note) {
        let delivery: Delivery = match job.json() {
            Ok(d) => d,
            Err(e) => {
                let error = format!("unreadable delivery job: {e}");
                return (Outcome::Fail { error }, Note::release());
            }
        };
        let hold = Outcome::Release {
            after: Duration::from_millis(self.config.poll_interval_ms),
        };
        let hook = match self.hook(delivery.webhook_id).await {
            Ok(Some(h)) if h.status == "Active" => h,
            // Paused, disabled or deleted meanwhile: not attempted.
            Ok(_) => return (hold, Note::release()),
            Err(e) => {
                tracing::warn!(webhook = %delivery.webhook_id, error = %e, "loading a webhook failed");
                return (hold, Note::release());
            }
        };
        let target = Target::open(&hook, &self.secrets);
        let is_test = delivery.body.contains(r#""isTest":true"#);
        let attempt = self
            .deliverer
            .attempt(
                &target,
                delivery.event_id,
                &schema_name(&delivery.event_type),
                &delivery.body,
                is_test,
            )
            .await;
        let n = job.attempt;
        let mut log = log_row(&delivery, &hook, &attempt, n as i64, is_test);
        // A redelivery's first attempt completes the pending log written with it.
        let pending_log_id = delivery.pending_log_id.filter(|_| n == 1);
        if let Some(id) = pending_log_id {
            log.id = id;
        }
        let error = attempt.error.clone().unwrap_or_default();
        let (outcome, fate) = if attempt.success() {
            (Outcome::Done, DeliveryFate::Delivered)
        } else if attempt.status == Some(410) {
            let after = Some(Duration::ZERO);
            (Outcome::Retry { after, error }, DeliveryFate::Gone)
        } else if let Some(after) = self.retry_delay(&attempt, n) {
            let after = Some(after);
            (Outcome::Retry { after, error }, DeliveryFate::Retry)
        } else {
            (Outcome::Fail { error }, DeliveryFate::GiveUp)
        };
        let note = Note {
            fate,
            log: Some(log),
            pending_log_id,
        };
        (outcome, note)
    }

    async fn record(
        &self,
        store: &Store,
        owner: &str,
        batch: &[Finished<Note>],
    ) -> palisade_domain::Result<()> {
        let records: Vec<DeliveryRecord> = batch
            .iter()
            .map(|f| DeliveryRecord {
                finish: f.finish(),
                fate: f.note.fate,
                log: f.note.log.clone(),
                pending_log_id: f.note.pending_log_id,
            })
            .collect();
        let disable_after = self.config.disable_after_consecutive_failures as i64;
        let effects = store
            .system()
            .record_deliveries(&records, owner, disable_after)
            .await?;
        self.vacuum.churned(batch.len());
        for f in batch {
            let Some(log) = &f.note.log else { continue };
            let outcome = match f.note.fate {
                DeliveryFate::Delivered => "delivered",
                DeliveryFate::Retry => "failed",
                DeliveryFate::Gone => "gone",
                DeliveryFate::GiveUp => "abandoned",
                DeliveryFate::Release => continue,
            };
            self.jobs.count_outcome(DELIVERY_KIND, outcome);
            if outcome == "delivered" {
                continue;
            }
            let error = log.error_message.as_deref().unwrap_or("");
            tracing::warn!(
                webhook = %log.webhook_id,
                event = %log.event_id,
                delivery = %log.id,
                attempt = log.attempt_number,
                status = log.http_status_code,
                error,
                "webhook delivery failed"
            );
            if f.note.fate == DeliveryFate::GiveUp {
                tracing::warn!(
                    webhook = %log.webhook_id,
                    event = %log.event_id,
                    delivery = %log.id,
                    attempts = log.attempt_number,
                    "webhook event abandoned after its last attempt"
                );
            }
        }
        let mut hooks = self.hooks.lock().expect("lock");
        for (w, reason) in effects.disabled {
            // Its next jobs must see it disabled, not a cached Active.
            hooks.remove(&w);
            tracing::warn!(webhook = %w, reason = %reason, "webhook disabled");
        }
        Ok(())
    }

    async fn held_keys(&self) -> Vec<String> {
        match self.store.system().held_webhooks().await {
            Ok(held) => held
                .unwrap_or_default()
                .iter()
                .map(Uuid::to_string)
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "reading held webhooks failed");
                Vec::new()
            }
        }
    }
}

/// The log row of one attempt.
pub fn log_row(
    job: &Delivery,
    hook: &WebhookRow,
    a: &Attempt,
    attempt_number: i64,
    is_test: bool,
) -> LogRow {
    let status = if a.success() { "Succeeded" } else { "Failed" };
    LogRow {
        http_status_code: a.status.map(i64::from),
        error_message: a.error.clone(),
        is_test,
        latency_ms: Some(a.latency_ms as i64),
        request_headers: serde_json::Value::Object(a.request_headers.clone()).to_string(),
        response_snippet: a.response_snippet.clone(),
        completed_at: Some(to_micros(a.completed_at)),
        ..job.attempt_log(
            status,
            attempt_number,
            hook.url.clone(),
            to_micros(a.started_at),
        )
    }
}
