//! The poll job of each connector: due at `next_poll_at`, claimed with a lease by one replica
//! at a time (a crashed replica's claim is taken over once its lease runs out), each page
//! committed together with the cursor that follows it — only while the lease is still held.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use palisade_domain::incident::IncidentDoc;
use palisade_domain::{Error, Result};
use uuid::Uuid;

use super::{ConnectorEngineRow, ENGINE_COLS};
use crate::datasources::IngestVolume;
use crate::db::{now_micros, push_placeholders, sql, Backend};
use crate::incidents::{prepare, Applied, IngestIncident};
use crate::{OrgId, System, WorkspaceId};

/// A poll claimed by this replica.
#[derive(Debug, Clone)]
pub struct ClaimedPoll {
    pub connector: ConnectorEngineRow,
    pub workspace: WorkspaceId,
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

/// A failed poll: the state it leaves (`Degraded` or `Failing`), why, and when to try again.
#[derive(Debug, Clone)]
pub struct PollFailure {
    pub state: &'static str,
    pub error: String,
    pub retry_at: DateTime<Utc>,
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
    /// Claims up to `limit` due polls of connectors that are not paused for `lease_secs`.
    pub async fn claim_polls(
        &self,
        owner: &str,
        lease_secs: i64,
        limit: i64,
    ) -> Result<Vec<ClaimedPoll>> {
        let now = now_micros();
        let lock = match self.store.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let text = format!(
            "UPDATE connectors SET lease_owner = $1, lease_until = $2 WHERE datasource_id IN (\
               SELECT datasource_id FROM connectors WHERE paused = 0 AND next_poll_at <= $3 \
               AND (lease_until IS NULL OR lease_until < $3) ORDER BY next_poll_at LIMIT $4{lock}) \
             AND (lease_until IS NULL OR lease_until < $3) \
             RETURNING organization_id, {}",
            ENGINE_COLS.replace("c.", "")
        );
        let mut tx = self.store.begin_write().await?;
        let rows: Vec<ClaimRow> = sql(&text, (owner, now + lease_secs * 1_000_000, now, limit))
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let org = OrgId::verified(r.organization_id);
                ClaimedPoll {
                    workspace: WorkspaceId::verified(org, r.row.workspace_id),
                    connector: r.row,
                    lease_owner: owner.to_string(),
                }
            })
            .collect())
    }

    /// Keeps a claim for another `lease_secs`; `false` when it was lost (taken over).
    pub async fn renew_poll(&self, claim: &ClaimedPoll, lease_secs: i64) -> Result<bool> {
        let n = sql(
            "UPDATE connectors SET lease_until = $3 WHERE datasource_id = $1 AND lease_owner = $2",
            (
                claim.connector.datasource_id,
                claim.lease_owner.as_str(),
                now_micros() + lease_secs * 1_000_000,
            ),
        )
        .execute(self.store.writer())
        .await?;
        Ok(n > 0)
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
    /// only while this replica still holds the claim (`Conflict` otherwise, nothing written).
    pub async fn commit_pulled_page(
        &self,
        claim: &ClaimedPoll,
        page: &PulledPage,
    ) -> Result<Vec<Applied>> {
        let c = &claim.connector;
        let prepared = prepare(&page.items)?;
        let mut tx = self.store.begin_write().await?;
        let held = sql(
            "UPDATE connectors SET cursor = $3, pulled_total = pulled_total + $4 \
             WHERE datasource_id = $1 AND lease_owner = $2",
            (
                c.datasource_id,
                claim.lease_owner.as_str(),
                page.cursor.as_str(),
                page.pulled,
            ),
        )
        .execute(&mut *tx)
        .await?;
        if held == 0 {
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

    /// Ends a claimed poll: healthy (`Ok`, next poll at `next`) or failed, and releases the
    /// claim. Nothing happens when the claim was lost.
    pub async fn finish_poll(
        &self,
        claim: &ClaimedPoll,
        outcome: std::result::Result<DateTime<Utc>, PollFailure>,
    ) -> Result<()> {
        let now = now_micros();
        let key = (
            claim.connector.datasource_id,
            claim.lease_owner.as_str(),
            now,
        );
        match outcome {
            Ok(next) => sql(
                // A `sync` asked for during the poll (next_poll_at moved past the claimed one)
                // stays due.
                "UPDATE connectors SET state = 'Healthy', last_poll_at = $3, last_success_at = $3, \
                 last_error = NULL, consecutive_failures = 0, next_poll_at = CASE WHEN next_poll_at > $5 \
                 AND next_poll_at < $4 THEN next_poll_at ELSE $4 END, lease_owner = NULL, lease_until = NULL \
                 WHERE datasource_id = $1 AND lease_owner = $2",
                key,
            )
            .params((next, claim.connector.next_poll_at))
            .execute(self.store.writer())
            .await?,
            Err(f) => sql(
                "UPDATE connectors SET state = $4, last_poll_at = $3, last_error = $5, \
                 consecutive_failures = consecutive_failures + 1, next_poll_at = $6, \
                 lease_owner = NULL, lease_until = NULL WHERE datasource_id = $1 AND lease_owner = $2",
                key,
            )
            .params((f.state, f.error.as_str(), f.retry_at))
            .execute(self.store.writer())
            .await?,
        };
        Ok(())
    }
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
