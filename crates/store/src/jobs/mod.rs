//! The background-job queue (`jobs`): one table for every kind of work, written by the
//! callers' transactions ([`enqueue_in`]) and worked by the runtime in `crates/jobs`
//! through [`crate::System`] (`queue.rs`: claims with a lease, lease renewal, outcomes;
//! `stats.rs`: the per-kind figures of `/metrics`). See `docs/jobs.md`.

mod queue;
mod stats;

pub(crate) use queue::finish_in;
pub use stats::KindStats;

use palisade_domain::Result;
use uuid::Uuid;

use crate::db::{now_micros, placeholders, sql, Tx};
use crate::System;

/// A job to queue.
#[derive(Debug, Clone)]
pub struct JobSpec {
    /// The registered kind that works it (`webhook.delivery`, `gamebook.run`, …).
    pub kind: String,
    /// The fairness key: jobs of one key share that key's slots.
    pub key: String,
    /// The organization the job works for, when it is one organization's.
    pub org: Option<Uuid>,
    /// The kind's own description of the work (usually JSON).
    pub payload: String,
    /// When the job is first due (microseconds).
    pub run_at: i64,
}

/// A queued job as the queue holds it: what a claim returns.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRow {
    #[sqlx(try_from = "String")]
    pub id: Uuid,
    pub kind: String,
    #[sqlx(rename = "job_key")]
    pub key: String,
    #[sqlx(rename = "organization_id", try_from = "crate::db::row::NullText")]
    pub org: Option<Uuid>,
    pub payload: String,
    pub state: String,
    /// Attempts finished so far (a released job's non-attempt does not count).
    pub attempts: i64,
    pub run_at: i64,
    pub lease_until: Option<i64>,
    pub lease_owner: Option<String>,
    pub last_error: Option<String>,
    pub created_at: i64,
}

pub(crate) const JOB_COLS: &str = "id, kind, job_key, organization_id, payload, state, attempts, \
     run_at, lease_until, lease_owner, last_error, created_at";

/// How a leased job ends its lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEnd {
    /// Done: the job is deleted.
    Done,
    /// Attempted and failed: due again at `at`, one attempt more on record.
    Retry { at: i64, error: Option<String> },
    /// Attempted for the last time (or failed for good): dead-lettered, kept for inspection
    /// until retention purges it.
    Dead { error: Option<String> },
    /// Not attempted (its key is held, or the lease is too short): due again at `at`, no
    /// attempt counted.
    Release { at: i64 },
}

/// One leased job's end.
#[derive(Debug, Clone)]
pub struct JobFinish {
    pub id: Uuid,
    pub end: JobEnd,
}

/// Queues `jobs` in the caller's transaction: they exist exactly when the change that
/// queued them commits. Returns their ids.
pub(crate) async fn enqueue_in(tx: &mut Tx, jobs: &[JobSpec], params: usize) -> Result<Vec<Uuid>> {
    const COLS: usize = 7;
    let now = now_micros();
    let mut ids = Vec::with_capacity(jobs.len());
    for chunk in jobs.chunks((params / COLS).max(1)) {
        let mut text = String::from(
            "INSERT INTO jobs (id, kind, job_key, organization_id, payload, run_at, created_at, \
             state, attempts) VALUES ",
        );
        for i in 0..chunk.len() {
            if i > 0 {
                text.push_str(", ");
            }
            text.push('(');
            text.push_str(&placeholders(1 + i * COLS, COLS));
            text.push_str(", 'queued', 0)");
        }
        let mut q = sql(&text, ());
        for j in chunk {
            let id = Uuid::new_v4();
            ids.push(id);
            q = q
                .bind(id)
                .bind(j.kind.as_str())
                .bind(j.key.as_str())
                .bind(j.org)
                .bind(j.payload.as_str())
                .bind(j.run_at)
                .bind(now);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(ids)
}

impl System<'_> {
    /// Queues `jobs` in a transaction of their own (work that is not part of a change; a
    /// change queues its jobs in its own transaction through the store's table groups).
    pub async fn enqueue(&self, jobs: &[JobSpec]) -> Result<Vec<Uuid>> {
        let mut tx = self.store.begin_write().await?;
        let ids = enqueue_in(&mut tx, jobs, self.store.params()).await?;
        tx.commit().await?;
        Ok(ids)
    }
}
