//! Delivery jobs (fan-out into the job queue, outcomes: the system's), and delivery logs (an
//! organization's: listing, redelivery, test attempts) with their retention.
//!
//! The path is hot (docs/benchmarks.md, docs/decisions.md): writes commit without waiting
//! for the WAL flush on PostgreSQL, and batches are multi-row statements.

use std::collections::{HashMap, HashSet};

use palisade_domain::Result;
use uuid::Uuid;

use super::{
    CompletionEffects, Delivery, DeliveryFate, DeliveryRecord, LogRow, PendingEvent, WebhookRow,
    DELIVERY_KIND, WEBHOOK_COLUMNS, WEBHOOK_FROM,
};
use crate::db::{now_micros, placeholders, sql, Backend, Tx, MAX_PARAMS};
use crate::jobs::{enqueue_in, finish_in, JobSpec};
use crate::outbox::OutboxCursor;
use crate::{System, Tenant};

const LOG_COLUMNS: &str =
    "l.id, l.organization_id, l.webhook_id, l.event_id, l.event_type, l.status, \
     l.http_status_code, l.error_message, l.account_id, a.name AS account_name, l.subject_id, \
     l.subject_display_name, l.subject_attributes, l.is_test, l.original_delivery_id, \
     l.attempt_number, l.latency_ms, l.request_url, l.request_headers, l.request_body, \
     l.response_snippet, l.event_occurred_at, l.completed_at, l.redelivery_requested_at, \
     l.redelivered, l.created_at";

/// An `id` column read alone.
#[derive(sqlx::FromRow)]
struct Id {
    #[sqlx(try_from = "String")]
    id: Uuid,
}

async fn insert_logs(tx: &mut Tx, logs: &[&LogRow], params: usize) -> Result<()> {
    const COLS: usize = 25;
    for chunk in logs.chunks((params / COLS).max(1)) {
        let mut text = String::from(
            "INSERT INTO webhook_deliveries (id, organization_id, webhook_id, event_id, event_type, \
             status, http_status_code, error_message, account_id, subject_id, subject_display_name, \
             subject_attributes, is_test, original_delivery_id, attempt_number, latency_ms, \
             request_url, request_headers, request_body, response_snippet, event_occurred_at, \
             completed_at, redelivery_requested_at, redelivered, created_at) VALUES ",
        );
        for i in 0..chunk.len() {
            if i > 0 {
                text.push_str(", ");
            }
            text.push('(');
            text.push_str(&placeholders(1 + i * COLS, COLS));
            text.push(')');
        }
        let mut q = sql(&text, ());
        for l in chunk {
            q = q
                .bind(l.id)
                .bind(l.org)
                .bind(l.webhook_id)
                .bind(l.event_id)
                .bind(&l.event_type)
                .bind(&l.status)
                .bind(l.http_status_code)
                .bind(&l.error_message)
                .bind(l.account_id)
                .bind(&l.subject_id)
                .bind(&l.subject_display_name)
                .bind(&l.subject_attributes)
                .bind(l.is_test)
                .bind(l.original_delivery_id)
                .bind(l.attempt_number)
                .bind(l.latency_ms)
                .bind(&l.request_url)
                .bind(&l.request_headers)
                .bind(&l.request_body)
                .bind(&l.response_snippet)
                .bind(l.event_occurred_at)
                .bind(l.completed_at)
                .bind(l.redelivery_requested_at)
                .bind(l.redelivered)
                .bind(l.created_at);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Queues deliveries in `tx`, each due at its `run_at`.
async fn enqueue_deliveries(tx: &mut Tx, jobs: &[(Delivery, i64)], params: usize) -> Result<()> {
    let specs: Vec<JobSpec> = jobs
        .iter()
        .map(|(d, run_at)| JobSpec {
            kind: DELIVERY_KIND.into(),
            key: d.webhook_id.to_string(),
            org: Some(d.org),
            payload: serde_json::to_string(d).expect("a delivery serializes"),
            run_at: *run_at,
        })
        .collect();
    enqueue_in(tx, &specs, params).await?;
    Ok(())
}

impl System<'_> {
    /// Webhooks by id, whatever their organization (the delivery workers).
    pub async fn webhooks_by_id(&self, ids: &[Uuid]) -> Result<Vec<WebhookRow>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(MAX_PARAMS) {
            let text = format!(
                "SELECT {WEBHOOK_COLUMNS} FROM {WEBHOOK_FROM} WHERE w.id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut q = sql(&text, ());
            for id in chunk {
                q = q.bind(*id);
            }
            out.extend(q.fetch_all::<WebhookRow, _>(self.store.read()).await?);
        }
        Ok(out)
    }

    // ------------------------------------------------------------ fan-out

    /// Fans out up to `limit` undispatched events: `plan` gets each event with its
    /// organization's webhooks (all statuses) and returns the jobs to queue. Returns how many
    /// events were dispatched.
    pub async fn dispatch_events(
        &self,
        limit: i64,
        mut plan: impl FnMut(&PendingEvent, &[WebhookRow]) -> Vec<Delivery>,
    ) -> Result<usize> {
        let store = self.store;
        // Look before taking the write lock: idle dispatchers cost the writers nothing.
        if !crate::outbox::any_after(store, crate::outbox::WEBHOOKS).await? {
            return Ok(0);
        }
        let mut tx = store.begin_queue_write().await?;
        let Some(cursor) =
            OutboxCursor::open(&mut tx, store.backend(), crate::outbox::WEBHOOKS).await?
        else {
            return Ok(0);
        };
        let events: Vec<PendingEvent> = sql(
            &format!(
                "SELECT id, organization_id, workspace_id, account_id, event_type, subject_id, payload, \
                 occurred_at, created_at, txid, seq FROM events WHERE {} ORDER BY txid, seq LIMIT $4",
                cursor.after(1)
            ),
            cursor.params(),
        )
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        if events.is_empty() {
            return Ok(0);
        }
        let mut orgs: Vec<Uuid> = events.iter().map(|e| e.org).collect();
        orgs.sort();
        orgs.dedup();
        let mut by_org: HashMap<Uuid, Vec<WebhookRow>> = HashMap::new();
        for chunk in orgs.chunks(MAX_PARAMS) {
            let text = format!(
                "SELECT {WEBHOOK_COLUMNS} FROM {WEBHOOK_FROM} WHERE w.organization_id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut q = sql(&text, ());
            for o in chunk {
                q = q.bind(*o);
            }
            for w in q.fetch_all::<WebhookRow, _>(&mut *tx).await? {
                by_org.entry(w.org).or_default().push(w);
            }
        }
        let mut jobs = Vec::new();
        for e in &events {
            let hooks = by_org.get(&e.org).map(Vec::as_slice).unwrap_or(&[]);
            if !hooks.is_empty() {
                // Due from the event's creation: deliveries are claimed in event order.
                jobs.extend(plan(e, hooks).into_iter().map(|d| (d, e.created_at)));
            }
        }
        enqueue_deliveries(&mut tx, &jobs, store.params()).await?;
        if let Some(last) = events.last() {
            cursor.advance(&mut tx, last.position).await?;
        }
        tx.commit().await?;
        Ok(events.len())
    }

    // ------------------------------------------------------------ claiming and completing

    /// Webhooks whose jobs are held (paused or disabled), when few enough to name in a
    /// statement (at most 120); `None` otherwise (the due-jobs queries then join `webhooks`).
    pub async fn held_webhooks(&self) -> Result<Option<Vec<Uuid>>> {
        let rows: Vec<Id> = sql(
            "SELECT id FROM webhooks WHERE status <> 'Active' LIMIT 121",
            (),
        )
        .fetch_all(self.store.read())
        .await?;
        if rows.len() > 120 {
            return Ok(None);
        }
        Ok(Some(rows.into_iter().map(|r| r.id).collect()))
    }

    /// Records a batch of worked deliveries (see [`DeliveryFate`]) with their jobs' ends, in
    /// one transaction. `disable_after` consecutive failed events disable a webhook.
    pub async fn record_deliveries(
        &self,
        batch: &[DeliveryRecord],
        owner: &str,
        disable_after: i64,
    ) -> Result<CompletionEffects> {
        let mut effects = CompletionEffects::default();
        if batch.is_empty() {
            return Ok(effects);
        }
        let store = self.store;
        let now = now_micros();
        let mut tx = store.begin_queue_write().await?;
        // Webhooks deleted while their deliveries were in flight take their logs with them.
        let mut hooks: Vec<Uuid> = batch
            .iter()
            .filter_map(|c| c.log.as_ref().map(|l| l.webhook_id))
            .collect();
        hooks.sort();
        hooks.dedup();
        let mut live = HashSet::new();
        for chunk in hooks.chunks(MAX_PARAMS) {
            let text = format!(
                "SELECT id FROM webhooks WHERE id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut q = sql(&text, ());
            for id in chunk {
                q = q.bind(*id);
            }
            live.extend(
                q.fetch_all::<Id, _>(&mut *tx)
                    .await?
                    .into_iter()
                    .map(|r| r.id),
            );
        }
        // Logs: new rows, or the pre-written pending row of a redelivery.
        let mut fresh = Vec::new();
        for c in batch {
            let Some(log) = c.log.as_ref().filter(|l| live.contains(&l.webhook_id)) else {
                continue;
            };
            match c.pending_log_id {
                Some(pending) => {
                    sql(
                        "UPDATE webhook_deliveries SET status = $2, http_status_code = $3, error_message = $4, \
                         latency_ms = $5, request_headers = $6, response_snippet = $7, completed_at = $8, \
                         attempt_number = $9 WHERE id = $1",
                        (
                            pending,
                            &log.status,
                            log.http_status_code,
                            &log.error_message,
                            log.latency_ms,
                            &log.request_headers,
                            &log.response_snippet,
                            log.completed_at,
                            log.attempt_number,
                        ),
                    )
                    .execute(&mut *tx)
                    .await?;
                }
                None => fresh.push(log),
            }
        }
        insert_logs(&mut tx, &fresh, store.params()).await?;
        // Jobs.
        let ends: Vec<crate::JobFinish> = batch.iter().map(|c| c.finish.clone()).collect();
        finish_in(&mut tx, owner, &ends, store.params()).await?;
        // Webhook failure runs, in completion order: a delivery resets the run, an abandoned
        // event extends it.
        let mut runs: Vec<(Uuid, bool, i64)> = Vec::new(); // (webhook, reset, failures after)
        let mut gone: Vec<Uuid> = Vec::new();
        for c in batch {
            let Some(log) = &c.log else { continue };
            if log.is_test {
                continue;
            }
            let w = log.webhook_id;
            let pos = match runs.iter().position(|r| r.0 == w) {
                Some(p) => p,
                None => {
                    runs.push((w, false, 0));
                    runs.len() - 1
                }
            };
            match c.fate {
                DeliveryFate::Delivered => {
                    runs[pos].1 = true;
                    runs[pos].2 = 0;
                }
                DeliveryFate::GiveUp => runs[pos].2 += 1,
                DeliveryFate::Gone => gone.push(w),
                _ => {}
            }
        }
        for (w, reset, failures) in runs {
            if !reset && failures == 0 {
                continue;
            }
            let text = if reset {
                "UPDATE webhooks SET consecutive_failures = $2 WHERE id = $1"
            } else {
                "UPDATE webhooks SET consecutive_failures = consecutive_failures + $2 WHERE id = $1"
            };
            sql(text, (w, failures)).execute(&mut *tx).await?;
            if failures > 0 {
                let reason = format!(
                    "Automatically disabled after {disable_after} consecutive events failed to deliver."
                );
                let n = sql(
                    "UPDATE webhooks SET status = 'Disabled', disable_reason = $3, disabled_at = $4, \
                     last_modified_at = $4 WHERE id = $1 AND status <> 'Disabled' AND consecutive_failures >= $2",
                    (w, disable_after, reason.as_str(), now),
                )
                .execute(&mut *tx)
                .await?;
                if n > 0 {
                    effects.disabled.push((w, reason));
                }
            }
        }
        gone.sort();
        gone.dedup();
        for w in gone {
            let reason = "Automatically disabled: the receiver answered 410 Gone.".to_string();
            let n = sql(
                "UPDATE webhooks SET status = 'Disabled', disable_reason = $2, disabled_at = $3, \
                 last_modified_at = $3 WHERE id = $1 AND status <> 'Disabled'",
                (w, reason.as_str(), now),
            )
            .execute(&mut *tx)
            .await?;
            if n > 0 {
                effects.disabled.push((w, reason));
            }
        }
        tx.commit().await?;
        Ok(effects)
    }

    // ------------------------------------------------------------ retention and metrics

    /// PostgreSQL: vacuums the job queue and the outbox. Both churn fast (every job is
    /// inserted, leased and deleted; events are written and purged), and until dead index
    /// entries are vacuumed the due-jobs and pending-events scans walk over them: measured at
    /// 20,000 dead jobs, a claim took 35 ms instead of 0.1 ms. Autovacuum's one-minute naptime
    /// is too slow for a queue. A no-op on SQLite (deleted rows leave its B-trees at once).
    pub async fn vacuum_queues(&self) -> Result<()> {
        if self.store.backend() != Backend::Postgres {
            return Ok(());
        }
        sql("VACUUM (SKIP_LOCKED) jobs, events", ())
            .execute(self.store.writer())
            .await?;
        Ok(())
    }

    /// Deletes delivery logs created before `before`, and dispatched outbox events as old.
    pub async fn purge_webhook_history(&self, before: i64) -> Result<u64> {
        let writer = self.store.writer();
        let logs = sql(
            "DELETE FROM webhook_deliveries WHERE created_at < $1",
            (before,),
        )
        .execute(writer)
        .await?;
        self.purge_events(before).await?;
        Ok(logs)
    }

    /// Deliveries still queued (not dead-lettered), of one webhook or of all (tests, metrics).
    pub async fn queued_jobs(&self, webhook: Option<Uuid>) -> Result<i64> {
        let read = self.store.read();
        let (n,): (i64,) = match webhook {
            Some(w) => {
                sql(
                    "SELECT COUNT(*) AS n FROM jobs WHERE kind = $1 AND job_key = $2 AND state = 'queued'",
                    (DELIVERY_KIND, w.to_string()),
                )
                .fetch_one(read)
                .await?
            }
            None => {
                sql(
                    "SELECT COUNT(*) AS n FROM jobs WHERE kind = $1 AND state = 'queued'",
                    (DELIVERY_KIND,),
                )
                .fetch_one(read)
                .await?
            }
        };
        Ok(n)
    }
}

impl Tenant<'_> {
    /// Records one attempt made outside the queue (a test event) to one of the
    /// organization's webhooks; `false` (nothing recorded) for another's.
    pub async fn insert_test_log(&self, log: &LogRow) -> Result<bool> {
        if log.org != self.org.uuid() || self.get_webhook(log.webhook_id).await?.is_none() {
            return Ok(false);
        }
        let mut tx = self.store.begin_write().await?;
        insert_logs(&mut tx, &[log], self.store.params()).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A page of a webhook's logs, newest first, after the cursor `(created_at, id)`.
    pub async fn list_logs(
        &self,
        webhook: Uuid,
        from: Option<i64>,
        to: Option<i64>,
        after: Option<(i64, Uuid)>,
        limit: i64,
    ) -> Result<Vec<LogRow>> {
        let (c_at, c_id) = after
            .map(|(t, id)| (t, id.to_string()))
            .unwrap_or((i64::MAX, String::new()));
        sql(
            &format!(
                "SELECT {LOG_COLUMNS} FROM webhook_deliveries l LEFT JOIN accounts a ON a.id = l.account_id \
                 WHERE l.organization_id = $1 AND l.webhook_id = $2 AND l.created_at >= $3 AND l.created_at <= $4 \
                 AND (l.created_at < $5 OR (l.created_at = $5 AND l.id < $6 AND $6 <> '')) \
                 ORDER BY l.created_at DESC, l.id DESC LIMIT $7"
            ),
            (
                self.org,
                webhook,
                from.unwrap_or(i64::MIN),
                to.unwrap_or(i64::MAX),
                c_at,
                c_id,
                limit,
            ),
        )
        .fetch_all(self.store.read())
        .await
    }

    pub async fn get_log(&self, webhook: Uuid, id: Uuid) -> Result<Option<LogRow>> {
        sql(
            &format!(
                "SELECT {LOG_COLUMNS} FROM webhook_deliveries l LEFT JOIN accounts a ON a.id = l.account_id \
                 WHERE l.organization_id = $1 AND l.webhook_id = $2 AND l.id = $3"
            ),
            (self.org, webhook, id),
        )
        .fetch_optional(self.store.read())
        .await
    }

    /// Queues a redelivery of a logged attempt of one of the organization's webhooks: marks
    /// the original `redelivered`, writes a `Pending` log linked to it and a job that will
    /// complete that log. Returns the new log; `None` when there is no such log.
    pub async fn redeliver(&self, webhook: Uuid, log_id: Uuid) -> Result<Option<LogRow>> {
        let Some(original) = self.get_log(webhook, log_id).await? else {
            return Ok(None);
        };
        let now = now_micros();
        let mut tx = self.store.begin_write().await?;
        sql(
            "UPDATE webhook_deliveries SET redelivered = 1, redelivery_requested_at = $3 \
             WHERE organization_id = $1 AND id = $2",
            (self.org, original.id, now),
        )
        .execute(&mut *tx)
        .await?;
        let pending = LogRow {
            id: Uuid::new_v4(),
            status: "Pending".into(),
            http_status_code: None,
            error_message: None,
            original_delivery_id: Some(original.id),
            attempt_number: 1,
            latency_ms: None,
            request_headers: "{}".into(),
            response_snippet: None,
            completed_at: None,
            redelivery_requested_at: Some(now),
            redelivered: false,
            created_at: now,
            ..original.clone()
        };
        insert_logs(&mut tx, &[&pending], self.store.params()).await?;
        let job = Delivery {
            org: self.org.uuid(),
            webhook_id: original.webhook_id,
            event_id: original.event_id,
            event_type: original.event_type.clone(),
            body: original.request_body.clone(),
            account_id: original.account_id,
            subject_id: original.subject_id.clone(),
            subject_display_name: original.subject_display_name.clone(),
            subject_attributes: original.subject_attributes.clone(),
            occurred_at: original.event_occurred_at,
            original_delivery_id: Some(original.id),
            pending_log_id: Some(pending.id),
        };
        enqueue_deliveries(&mut tx, &[(job, now)], self.store.params()).await?;
        tx.commit().await?;
        Ok(Some(pending))
    }
}
