//! Working the queue: claims with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL, the
//! single writer on SQLite), lease renewal, and the end of each lease.

use palisade_domain::Result;
use uuid::Uuid;

use super::{JobEnd, JobFinish, JobRow, JOB_COLS};
use crate::db::{now_micros, placeholders, sql, Backend, Tx, MAX_PARAMS};
use crate::{Store, System};

impl Store {
    /// A write transaction of the job machinery. On PostgreSQL it commits without waiting
    /// for the WAL flush (`synchronous_commit = off`): a database crash can lose the last such
    /// commits, which only means a job is worked again (at least once), while the state stays
    /// consistent. Changes the jobs come from keep the default, durable commit.
    pub(crate) async fn begin_queue_write(&self) -> Result<Tx> {
        let mut tx = self.begin_write().await?;
        if self.backend() == Backend::Postgres {
            sql("SET LOCAL synchronous_commit = off", ())
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }
}

/// `FROM … WHERE` of the due jobs of kind `$2` at `$1`, keys in `skip` left out (parameters
/// from `$first` on).
fn due(skip: &[String], first: usize) -> String {
    let mut text = String::from("FROM jobs WHERE kind = $2 AND state = 'queued' AND run_at <= $1");
    if !skip.is_empty() {
        text.push_str(" AND job_key NOT IN (");
        text.push_str(&placeholders(first, skip.len()));
        text.push(')');
    }
    text
}

/// Ends leases in `tx`: only leases `owner` still holds (a job taken over after its lease
/// lapsed is the new owner's). Returns the ids whose lease `owner` still held.
pub(crate) async fn finish_in(
    tx: &mut Tx,
    owner: &str,
    batch: &[JobFinish],
    params: usize,
) -> Result<Vec<Uuid>> {
    let now = now_micros();
    let mut owned = Vec::with_capacity(batch.len());
    let done: Vec<Uuid> = batch
        .iter()
        .filter(|f| f.end == JobEnd::Done)
        .map(|f| f.id)
        .collect();
    for chunk in done.chunks(params.max(2) - 1) {
        let text = format!(
            "DELETE FROM jobs WHERE lease_owner = $1 AND id IN ({}) RETURNING id",
            placeholders(2, chunk.len())
        );
        let mut q = sql(&text, (owner,));
        for id in chunk {
            q = q.bind(*id);
        }
        let rows: Vec<(String,)> = q.fetch_all(&mut **tx).await?;
        owned.extend(rows.into_iter().filter_map(|(id,)| id.parse::<Uuid>().ok()));
    }
    for f in batch {
        let (text, at, error, attempted): (&str, i64, Option<&str>, i64) = match &f.end {
            JobEnd::Done => continue,
            JobEnd::Retry { at, error } => (
                "UPDATE jobs SET attempts = attempts + $3, run_at = $4, last_error = $5, \
                 lease_until = NULL, lease_owner = NULL WHERE id = $1 AND lease_owner = $2",
                *at,
                error.as_deref(),
                1,
            ),
            JobEnd::Release { at } => (
                "UPDATE jobs SET attempts = attempts + $3, run_at = $4, \
                 last_error = COALESCE($5, last_error), lease_until = NULL, lease_owner = NULL \
                 WHERE id = $1 AND lease_owner = $2",
                *at,
                None,
                0,
            ),
            JobEnd::Dead { error } => (
                "UPDATE jobs SET state = 'dead', attempts = attempts + $3, finished_at = $4, \
                 run_at = $4, last_error = $5, lease_until = NULL, lease_owner = NULL \
                 WHERE id = $1 AND lease_owner = $2",
                now,
                error.as_deref(),
                1,
            ),
        };
        let n = sql(text, (f.id, owner, attempted, at, error))
            .execute(&mut **tx)
            .await?;
        if n == 1 {
            owned.push(f.id);
        }
    }
    Ok(owned)
}

impl System<'_> {
    /// Is a job of `kind` due, its key not in `skip`? A read: on SQLite it does not take the
    /// write lock, so idle workers cost the writers nothing.
    pub async fn jobs_due(&self, kind: &str, now: i64, skip: &[String]) -> Result<bool> {
        let skip = &skip[..skip.len().min(MAX_PARAMS - 4)];
        let text = format!("SELECT id {} LIMIT 1", due(skip, 3));
        let mut q = sql(&text, (now, kind));
        for k in skip {
            q = q.bind(k.as_str());
        }
        Ok(q.fetch_optional::<(String,), _>(self.store.read())
            .await?
            .is_some())
    }

    /// Claims up to `limit` due jobs of `kind` whose key is not in `skip`, oldest due first,
    /// leasing them to `owner` until `lease_until` (which is also when they fall due again
    /// should the lease lapse).
    pub async fn lease_jobs(
        &self,
        kind: &str,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
        skip: &[String],
    ) -> Result<Vec<JobRow>> {
        let skip = &skip[..skip.len().min(MAX_PARAMS - 6)];
        let text = match self.store.backend() {
            // Materialized first: as an `IN (…)` subquery PostgreSQL may scan it again per
            // row, each scan skipping other rows, and lease more than `limit`.
            Backend::Postgres => {
                let returning: Vec<String> =
                    JOB_COLS.split(", ").map(|c| format!("j.{c}")).collect();
                format!(
                    "WITH picked AS MATERIALIZED (SELECT id {} ORDER BY run_at LIMIT $5 \
                     FOR UPDATE SKIP LOCKED) UPDATE jobs j SET lease_until = $3, run_at = $3, \
                     lease_owner = $4 FROM picked WHERE j.id = picked.id RETURNING {}",
                    due(skip, 6),
                    returning.join(", ")
                )
            }
            Backend::Sqlite => format!(
                "UPDATE jobs SET lease_until = $3, run_at = $3, lease_owner = $4 WHERE id IN (\
                   SELECT id {} ORDER BY run_at LIMIT $5) RETURNING {JOB_COLS}",
                due(skip, 6)
            ),
        };
        let mut q = sql(&text, (now, kind, lease_until, owner, limit));
        for k in skip {
            q = q.bind(k.as_str());
        }
        let mut tx = self.store.begin_queue_write().await?;
        let jobs = q.fetch_all(&mut *tx).await?;
        tx.commit().await?;
        Ok(jobs)
    }

    /// Renews `owner`'s leases of `ids` until `lease_until` (the heartbeat). Returns how many
    /// it still held.
    pub async fn renew_leases(&self, owner: &str, ids: &[Uuid], lease_until: i64) -> Result<u64> {
        let mut renewed = 0;
        for chunk in ids.chunks(MAX_PARAMS - 3) {
            let text = format!(
                "UPDATE jobs SET lease_until = $2, run_at = $2 WHERE lease_owner = $1 \
                 AND state = 'queued' AND id IN ({})",
                placeholders(3, chunk.len())
            );
            let mut q = sql(&text, (owner, lease_until));
            for id in chunk {
                q = q.bind(*id);
            }
            renewed += q.execute(self.store.writer()).await?;
        }
        Ok(renewed)
    }

    /// Ends a batch of `owner`'s leases in one transaction; see [`JobEnd`]. Returns the ids
    /// whose lease `owner` still held.
    pub async fn finish_jobs(&self, owner: &str, batch: &[JobFinish]) -> Result<Vec<Uuid>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.store.begin_queue_write().await?;
        let owned = finish_in(&mut tx, owner, batch, self.store.params()).await?;
        tx.commit().await?;
        Ok(owned)
    }

    /// A job by id (tests, inspection).
    pub async fn job(&self, id: Uuid) -> Result<Option<JobRow>> {
        sql(&format!("SELECT {JOB_COLS} FROM jobs WHERE id = $1"), (id,))
            .fetch_optional(self.store.read())
            .await
    }

    /// The dead-lettered jobs of `kind`, newest first (tests, inspection).
    pub async fn dead_jobs(&self, kind: &str, limit: i64) -> Result<Vec<JobRow>> {
        sql(
            &format!(
                "SELECT {JOB_COLS} FROM jobs WHERE kind = $1 AND state = 'dead' \
                 ORDER BY finished_at DESC LIMIT $2"
            ),
            (kind, limit),
        )
        .fetch_all(self.store.read())
        .await
    }

    /// Deletes dead-lettered jobs that died before `before`. Returns how many.
    pub async fn purge_dead_jobs(&self, before: i64) -> Result<u64> {
        sql(
            "DELETE FROM jobs WHERE state = 'dead' AND finished_at < $1",
            (before,),
        )
        .execute(self.store.writer())
        .await
    }
}
