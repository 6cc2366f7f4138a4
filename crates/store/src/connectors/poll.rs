//! The poll job of each connector (kind [`super::POLL_KIND`], keyed by the connector): its
//! claim as the handler sees it, each page committed together with the cursor that follows
//! it — only while the job's lease is still held — and the end of a poll, recorded with the
//! job's end in one transaction (health, and when the next poll is due).

use std::collections::HashMap;

use palisade_domain::incident::IncidentDoc;
use palisade_domain::{Error, Result};
use uuid::Uuid;

use super::{ConnectorEngineRow, ENGINE_COLS, POLL_KIND};
use crate::datasources::IngestVolume;
use crate::db::{now_micros, push_placeholders, sql, Backend, Tx};
use crate::incidents::{prepare, Applied, IngestIncident};
use crate::jobs::{finish_in, JobEnd, JobFinish};
use crate::{OrgId, System, WorkspaceId};

/// A poll job claimed by a replica, with its connector as it was read at the start.
#[derive(Debug, Clone)]
pub struct ClaimedPoll {
    pub connector: ConnectorEngineRow,
    pub workspace: WorkspaceId,
    /// The poll job and the replica that leases it.
    pub job: Uuid,
    pub lease_owner: String,
}

/// One pulled page to commit: the incidents (through the same path as ingest), the volume
/// they count, and the cursor to store with them.
#[derive(Debug)]
pub struct PulledPage {
    pub items: Vec<IngestIncident>,
    pub volume: Option<IngestVolume>,
    pub cursor: String,
    /// Items the source returned in this page (mapped or not), for `pulledTotal`.
    pub pulled: i64,
}

/// What a worked poll leaves on its connector.
#[derive(Debug, Clone)]
pub enum PollResult {
    /// Polled: `Healthy`; the next poll is due at the job's end (or sooner when a `sync`
    /// asked for one meanwhile).
    Healthy,
    /// Failed: the state it leaves (`Degraded` or `Failing`) and why; the next poll is due at
    /// the job's end (its retry).
    Failed { state: &'static str, error: String },
    /// Not polled (the connector is paused or gone): nothing recorded on the connector.
    Skipped,
}

/// One worked poll job's end.
#[derive(Debug, Clone)]
pub struct PollEnd {
    pub job: JobFinish,
    pub connector: Uuid,
    /// The connector's `next_poll_at` when the poll started (microseconds): a later one was
    /// asked for during the poll.
    pub started_next: i64,
    pub result: PollResult,
}

#[derive(sqlx::FromRow)]
struct ClaimRow {
    #[sqlx(try_from = "String")]
    organization_id: Uuid,
    #[sqlx(flatten)]
    row: ConnectorEngineRow,
}

#[derive(sqlx::FromRow)]
struct StoredDoc {
    id: String,
    #[sqlx(try_from = "crate::db::row::JsonText")]
    doc: IncidentDoc,
}

impl System<'_> {
    /// The claim of poll job `job` of `connector`, leased to `owner`; `None` when the
    /// connector is gone.
    pub async fn poll_claim(
        &self,
        job: Uuid,
        connector: Uuid,
        owner: &str,
    ) -> Result<Option<ClaimedPoll>> {
        let row: Option<ClaimRow> = sql(
            &format!(
                "SELECT c.organization_id, {ENGINE_COLS} FROM connectors c WHERE c.datasource_id = $1"
            ),
            (connector,),
        )
        .fetch_optional(self.store.read())
        .await?;
        Ok(row.map(|r| {
            let org = OrgId::verified(r.organization_id);
            ClaimedPoll {
                workspace: WorkspaceId::verified(org, r.row.workspace_id),
                connector: r.row,
                job,
                lease_owner: owner.to_string(),
            }
        }))
    }

    /// Claims up to `limit` due poll jobs for `lease_secs` as `owner`, outside the job
    /// runtime (inspection and tests: a replica that claims and then dies).
    pub async fn claim_polls(
        &self,
        owner: &str,
        lease_secs: i64,
        limit: i64,
    ) -> Result<Vec<ClaimedPoll>> {
        let now = now_micros();
        let jobs = self
            .lease_jobs(
                POLL_KIND,
                owner,
                now,
                now + lease_secs * 1_000_000,
                limit,
                &[],
            )
            .await?;
        let mut out = Vec::with_capacity(jobs.len());
        for j in jobs {
            let Ok(connector) = j.payload.parse::<Uuid>() else {
                continue;
            };
            if let Some(c) = self.poll_claim(j.id, connector, owner).await? {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// The stored documents of a poll's incidents among `ids`, and the kinds of write-back
    /// (`status`, `assign`) still pending for each.
    pub async fn pulled_context(
        &self,
        claim: &ClaimedPoll,
        ids: &[&str],
    ) -> Result<(HashMap<String, IncidentDoc>, HashMap<String, Vec<String>>)> {
        let c = &claim.connector;
        let mut docs = HashMap::new();
        let mut pending: HashMap<String, Vec<String>> = HashMap::new();
        for chunk in ids.chunks(crate::db::MAX_PARAMS - 4) {
            let mut text = String::from(
                "SELECT id, doc FROM incidents WHERE workspace_id = $1 AND source = $2 AND id IN (",
            );
            push_placeholders(&mut text, 3, chunk.len());
            text.push(')');
            let mut q = sql(&text, (c.workspace_id, c.source));
            for id in chunk {
                q = q.bind(*id);
            }
            let rows: Vec<StoredDoc> = q.fetch_all(self.store.read()).await?;
            docs.extend(rows.into_iter().map(|r| (r.id, r.doc)));
            let mut text = String::from(
                "SELECT DISTINCT incident_id, kind FROM connector_writebacks WHERE connector_id = $1 \
                 AND state = 'pending' AND kind <> 'comment' AND incident_id IN (",
            );
            push_placeholders(&mut text, 2, chunk.len());
            text.push(')');
            let mut q = sql(&text, (c.datasource_id,));
            for id in chunk {
                q = q.bind(*id);
            }
            let rows: Vec<(String, String)> = q.fetch_all(self.store.read()).await?;
            for (id, kind) in rows {
                pending.entry(id).or_default().push(kind);
            }
        }
        Ok((docs, pending))
    }

    /// Commits one page: the incidents through the ingest path (events, gamebook triggers,
    /// volume) marked as this connector's, and the cursor after them, in one transaction —
    /// only while the claim's replica still holds the poll job's lease (`Conflict`
    /// otherwise, nothing written). On PostgreSQL the job's row stays locked until the commit,
    /// so no other replica can claim it in between.
    pub async fn commit_pulled_page(
        &self,
        claim: &ClaimedPoll,
        page: &PulledPage,
    ) -> Result<Vec<Applied>> {
        let c = &claim.connector;
        let prepared = prepare(&page.items)?;
        let mut tx = self.store.begin_write().await?;
        sql(
            "UPDATE connectors SET cursor = $2, pulled_total = pulled_total + $3 \
             WHERE datasource_id = $1",
            (c.datasource_id, page.cursor.as_str(), page.pulled),
        )
        .execute(&mut *tx)
        .await?;
        let lock = match self.store.backend() {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        let held: Option<(String,)> = sql(
            &format!(
                "SELECT id FROM jobs WHERE id = $1 AND lease_owner = $2 AND state = 'queued'{lock}"
            ),
            (claim.job, claim.lease_owner.as_str()),
        )
        .fetch_optional(&mut *tx)
        .await?;
        if held.is_none() {
            return Err(Error::Conflict(
                "the poll's claim was taken over; the page was not committed".into(),
            ));
        }
        let tenant = self.store.tenant(&claim.workspace.org());
        let applied = if page.items.is_empty() {
            Vec::new()
        } else {
            tenant
                .ingest_in(
                    &mut tx,
                    &claim.workspace,
                    c.source,
                    &page.items,
                    &prepared,
                    page.volume.as_ref(),
                    Some(c.datasource_id),
                )
                .await?
        };
        tx.commit().await?;
        drop(prepared);
        if !applied.is_empty() {
            self.store.events_written();
        }
        Ok(applied)
    }

    /// Records worked poll jobs: their ends (only the leases `owner` still holds) and, in
    /// the same transaction, each one's connector: its health, and the job due again when the
    /// connector's `next_poll_at` says (a `sync` asked for during the poll stays due). The job
    /// of a connector that is paused or gone is removed instead.
    pub async fn finish_polls(&self, owner: &str, batch: &[PollEnd]) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let now = now_micros();
        let mut tx = self.store.begin_queue_write().await?;
        if self.store.backend() == Backend::Postgres {
            // Connector rows before job rows, as every other change of a poll job.
            let mut ids: Vec<String> = batch.iter().map(|e| e.connector.to_string()).collect();
            ids.sort();
            ids.dedup();
            let mut text =
                String::from("SELECT datasource_id FROM connectors WHERE datasource_id IN (");
            push_placeholders(&mut text, 1, ids.len());
            text.push_str(") ORDER BY datasource_id FOR UPDATE");
            let mut q = sql(&text, ());
            for id in &ids {
                q = q.bind(id.as_str());
            }
            q.fetch_all::<(String,), _>(&mut *tx).await?;
        }
        let ends: Vec<JobFinish> = batch.iter().map(|e| e.job.clone()).collect();
        let owned = finish_in(&mut tx, owner, &ends, self.store.params()).await?;
        for e in batch.iter().filter(|e| owned.contains(&e.job.id)) {
            let at = match &e.job.end {
                JobEnd::Release { at } | JobEnd::Retry { at, .. } => *at,
                JobEnd::Done | JobEnd::Dead { .. } => continue,
            };
            match record_poll(&mut tx, e, at, now).await? {
                Some((next, false)) => sql(
                    "UPDATE jobs SET run_at = $2 WHERE id = $1 AND state = 'queued' \
                     AND lease_owner IS NULL",
                    (e.job.id, next),
                ),
                _ => sql(
                    "DELETE FROM jobs WHERE id = $1 AND state = 'queued' AND lease_owner IS NULL",
                    (e.job.id,),
                ),
            }
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }
}

/// Writes a poll's end on its connector; returns when the next poll is due and whether the
/// connector is paused (`None`: the connector is gone).
async fn record_poll(tx: &mut Tx, e: &PollEnd, at: i64, now: i64) -> Result<Option<(i64, bool)>> {
    let row: Option<(i64, i64)> = match &e.result {
        PollResult::Healthy => {
            sql(
                "UPDATE connectors SET state = 'Healthy', last_poll_at = $2, last_success_at = $2, \
                 last_error = NULL, consecutive_failures = 0, next_poll_at = CASE WHEN next_poll_at > $4 \
                 AND next_poll_at < $3 THEN next_poll_at ELSE $3 END \
                 WHERE datasource_id = $1 RETURNING next_poll_at, paused",
                (e.connector, now, at, e.started_next),
            )
            .fetch_optional(&mut **tx)
            .await?
        }
        PollResult::Failed { state, error } => {
            sql(
                "UPDATE connectors SET state = $3, last_poll_at = $2, last_error = $4, \
                 consecutive_failures = consecutive_failures + 1, next_poll_at = $5 \
                 WHERE datasource_id = $1 RETURNING next_poll_at, paused",
                (e.connector, now, *state, error.as_str(), at),
            )
            .fetch_optional(&mut **tx)
            .await?
        }
        PollResult::Skipped => {
            sql(
                "SELECT CASE WHEN next_poll_at > $2 THEN next_poll_at ELSE $2 END, paused \
                 FROM connectors WHERE datasource_id = $1",
                (e.connector, at),
            )
            .fetch_optional(&mut **tx)
            .await?
        }
    };
    Ok(row.map(|(next, paused)| (next, paused != 0)))
}

impl System<'_> {
    /// A polled connector by id, for its write-back jobs.
    pub async fn connector_engine_by_id(&self, id: Uuid) -> Result<Option<ConnectorEngineRow>> {
        sql(
            &format!("SELECT {ENGINE_COLS} FROM connectors c WHERE c.datasource_id = $1"),
            (id,),
        )
        .fetch_optional(self.store.read())
        .await
    }
}
