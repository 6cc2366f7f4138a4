//! Write-backs: an analyst's status/verdict change, assignment or comment on a pulled incident,
//! recorded in the same transaction as the change together with its job (kind
//! [`super::WRITEBACK_KIND`], keyed by the incident, the write-back's id as payload), which
//! sends it to the source, retried and dead-lettered after its last attempt. Changes of one
//! incident are sent in the order they were made: a write-back whose incident has an older one
//! pending waits for it ([`ClaimedWriteBack::older_due`]). A newer status (or owner) change
//! replaces an older one of the same incident whose job no replica holds now; comments are all
//! sent.

use chrono::{DateTime, Utc};
use palisade_domain::incident::IncidentDoc;
use palisade_domain::vocab::{
    Classification, ClassificationReason, IncidentSource, IncidentStatus, Owner,
};
use palisade_domain::{Error, Result};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{set_sync, WRITEBACK_KIND};
use crate::db::{now_micros, push_placeholders, sql, Tx};
use crate::incidents::CommentRow;
use crate::jobs::{enqueue_in, finish_in, JobEnd, JobFinish, JobSpec};
use crate::{IncidentKey, OrgId, System, WorkspaceId};

/// The change to send, as the incident's values after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum WriteBackChange {
    #[serde(rename_all = "camelCase")]
    Status {
        status: IncidentStatus,
        classification: Option<Classification>,
        reason: Option<ClassificationReason>,
        classification_comment: Option<String>,
    },
    Assign {
        owner: Option<Owner>,
    },
    Comment {
        id: String,
        text: String,
    },
}

impl WriteBackChange {
    fn kind(&self) -> &'static str {
        match self {
            WriteBackChange::Status { .. } => "status",
            WriteBackChange::Assign { .. } => "assign",
            WriteBackChange::Comment { .. } => "comment",
        }
    }
}

/// A write-back as its job sees it.
#[derive(Debug, Clone)]
pub struct ClaimedWriteBack {
    pub id: Uuid,
    pub connector_id: Uuid,
    pub incident: IncidentKey,
    pub change: WriteBackChange,
    pub made_at: DateTime<Utc>,
    /// When the earliest older write-back of the incident still pending is due
    /// (microseconds): this one waits for it.
    pub older_due: Option<i64>,
}

/// One worked write-back job's end: the write-back is done (`Done`), pending again (`Retry`),
/// failed (`Dead`), or untouched (`Release`: it waited for an older one).
#[derive(Debug, Clone)]
pub struct WriteBackEnd {
    pub job: JobFinish,
    /// The write-back and its incident (`None`: it no longer exists).
    pub writeback: Option<(Uuid, IncidentKey)>,
}

#[derive(sqlx::FromRow)]
struct Claimed {
    #[sqlx(try_from = "String")]
    id: Uuid,
    #[sqlx(try_from = "String")]
    organization_id: Uuid,
    #[sqlx(try_from = "String")]
    workspace_id: Uuid,
    #[sqlx(try_from = "String")]
    connector_id: Uuid,
    #[sqlx(try_from = "crate::db::row::Vocab")]
    source: IncidentSource,
    incident_id: String,
    change: String,
    #[sqlx(try_from = "crate::db::row::Micros")]
    made_at: DateTime<Utc>,
    older_due: Option<i64>,
}

/// The job key of an incident's write-backs.
pub(crate) fn writeback_key(key: &IncidentKey) -> String {
    format!(
        "{}/{}/{}",
        key.workspace.uuid(),
        key.source.as_str(),
        key.id
    )
}

/// The write-backs an analyst's change to a pulled incident makes: its status/verdict when
/// they changed, its owner when it changed, and each comment that is not an activity record.
pub(crate) fn changes_of(
    before: &IncidentDoc,
    after: &IncidentDoc,
    comments: &[CommentRow],
) -> Vec<WriteBackChange> {
    let mut out = Vec::new();
    if before.status != after.status
        || before.classification != after.classification
        || before.classification_reason != after.classification_reason
        || before.classification_comment != after.classification_comment
    {
        out.push(WriteBackChange::Status {
            status: after.status,
            classification: after.classification,
            reason: after.classification_reason,
            classification_comment: after.classification_comment.clone(),
        });
    }
    if before.owner != after.owner {
        out.push(WriteBackChange::Assign {
            owner: after.owner.clone(),
        });
    }
    for c in comments.iter().filter(|c| !c.is_activity) {
        out.push(WriteBackChange::Comment {
            id: c.id.clone(),
            text: c.message.clone(),
        });
    }
    out
}

/// Records write-backs and their jobs inside the change's transaction and marks the incident
/// `Pending`.
pub(crate) async fn enqueue(
    tx: &mut Tx,
    org: &OrgId,
    key: &IncidentKey,
    connector: Uuid,
    changes: &[WriteBackChange],
) -> Result<()> {
    let ws = key.workspace.uuid();
    let job_key = writeback_key(key);
    let t = now_micros();
    let mut specs = Vec::with_capacity(changes.len());
    for (i, change) in changes.iter().enumerate() {
        if !matches!(change, WriteBackChange::Comment { .. }) {
            // A newer value replaces one not sent yet (whose job no replica holds).
            let replaced: Vec<(String,)> = sql(
                "DELETE FROM connector_writebacks WHERE workspace_id = $1 AND source = $2 \
                 AND incident_id = $3 AND kind = $4 AND state = 'pending' AND NOT EXISTS (\
                   SELECT 1 FROM jobs j WHERE j.kind = $5 AND j.job_key = $6 \
                   AND j.payload = connector_writebacks.id AND j.lease_until >= $7) RETURNING id",
                (
                    ws,
                    key.source,
                    key.id.as_str(),
                    change.kind(),
                    WRITEBACK_KIND,
                ),
            )
            .params((job_key.as_str(), t))
            .fetch_all(&mut **tx)
            .await?;
            if !replaced.is_empty() {
                let mut text = String::from(
                    "DELETE FROM jobs WHERE kind = $1 AND job_key = $2 AND state = 'queued' \
                     AND payload IN (",
                );
                push_placeholders(&mut text, 3, replaced.len());
                text.push(')');
                let mut q = sql(&text, (WRITEBACK_KIND, job_key.as_str()));
                for (id,) in &replaced {
                    q = q.bind(id.as_str());
                }
                q.execute(&mut **tx).await?;
            }
        }
        let id = Uuid::new_v4();
        let made = t + i as i64;
        sql(
            "INSERT INTO connector_writebacks (id, organization_id, workspace_id, connector_id, source, \
             incident_id, kind, change, made_at, state, attempts, next_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', 0, $9)",
            (
                id,
                org,
                ws,
                connector,
                key.source,
                key.id.as_str(),
                change.kind(),
                serde_json::to_string(change).map_err(Error::internal)?,
                made,
            ),
        )
        .execute(&mut **tx)
        .await?;
        // Due in the order made, so one replica works an incident's write-backs in order.
        specs.push(JobSpec {
            kind: WRITEBACK_KIND.into(),
            key: job_key.clone(),
            org: Some(org.uuid()),
            payload: id.to_string(),
            run_at: made,
        });
    }
    enqueue_in(tx, &specs, crate::db::MAX_PARAMS).await?;
    set_sync(tx, ws, key.source, &key.id, "Pending", None).await
}

impl System<'_> {
    /// A pending write-back by id, for its job; `None` when it was replaced, or its connector
    /// deleted.
    pub async fn writeback_claim(&self, id: Uuid) -> Result<Option<ClaimedWriteBack>> {
        let row: Option<Claimed> = sql(
            "SELECT w.id, w.organization_id, w.workspace_id, w.connector_id, w.source, w.incident_id, \
             w.change, w.made_at, (SELECT MIN(o.next_at) FROM connector_writebacks o \
               WHERE o.workspace_id = w.workspace_id AND o.source = w.source \
               AND o.incident_id = w.incident_id AND o.state = 'pending' \
               AND (o.made_at < w.made_at OR (o.made_at = w.made_at AND o.id < w.id))) AS older_due \
             FROM connector_writebacks w WHERE w.id = $1 AND w.state = 'pending'",
            (id,),
        )
        .fetch_optional(self.store.read())
        .await?;
        let Some(r) = row else {
            return Ok(None);
        };
        let change: WriteBackChange = serde_json::from_str(&r.change).map_err(Error::internal)?;
        let ws = WorkspaceId::verified(OrgId::verified(r.organization_id), r.workspace_id);
        Ok(Some(ClaimedWriteBack {
            id: r.id,
            connector_id: r.connector_id,
            incident: IncidentKey::new(ws, r.source, r.incident_id),
            change,
            made_at: r.made_at,
            older_due: r.older_due,
        }))
    }

    /// Records worked write-back jobs: their ends (only the leases `owner` still holds) and,
    /// in the same transaction, each write-back's state and its incident's sync state after
    /// it: `Synced` once nothing is pending or failed, `Pending` with the error while
    /// retrying, `Failed` when it gave up.
    pub async fn finish_writebacks(&self, owner: &str, batch: &[WriteBackEnd]) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut tx = self.store.begin_queue_write().await?;
        let ends: Vec<JobFinish> = batch.iter().map(|e| e.job.clone()).collect();
        let owned = finish_in(&mut tx, owner, &ends, self.store.params()).await?;
        for e in batch.iter().filter(|e| owned.contains(&e.job.id)) {
            if let Some((id, key)) = &e.writeback {
                record_writeback(&mut tx, *id, key, &e.job.end).await?;
            }
        }
        tx.commit().await
    }
}

async fn record_writeback(tx: &mut Tx, id: Uuid, key: &IncidentKey, end: &JobEnd) -> Result<()> {
    let t = now_micros();
    let (state, next, error) = match end {
        JobEnd::Release { .. } => return Ok(()),
        JobEnd::Done => ("done", t, None),
        JobEnd::Retry { at, error } => ("pending", *at, error.as_deref()),
        JobEnd::Dead { error } => ("failed", t, error.as_deref()),
    };
    let n = sql(
        "UPDATE connector_writebacks SET state = $2, attempts = attempts + 1, next_at = $3, \
         last_error = $4, done_at = CASE WHEN $2 = 'done' THEN $5 ELSE done_at END \
         WHERE id = $1 AND state = 'pending'",
        (id, state, next, error, t),
    )
    .execute(&mut **tx)
    .await?;
    if n == 0 {
        return Ok(());
    }
    let ws = key.workspace.uuid();
    let (sync, err): (&str, Option<String>) = match state {
        "failed" => ("Failed", error.map(str::to_string)),
        "pending" => ("Pending", error.map(str::to_string)),
        _ => {
            let open: Vec<(String, Option<String>)> = sql(
                "SELECT state, last_error FROM connector_writebacks WHERE workspace_id = $1 \
                 AND source = $2 AND incident_id = $3 AND state <> 'done' ORDER BY made_at DESC",
                (ws, key.source, key.id.as_str()),
            )
            .fetch_all(&mut **tx)
            .await?;
            match open.iter().find(|(s, _)| s == "failed") {
                Some((_, e)) if !open.iter().any(|(s, _)| s == "pending") => ("Failed", e.clone()),
                _ if open.is_empty() => ("Synced", None),
                _ => ("Pending", None),
            }
        }
    };
    set_sync(tx, ws, key.source, &key.id, sync, err.as_deref()).await
}
