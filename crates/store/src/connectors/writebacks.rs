//! Write-backs: an analyst's status/verdict change, assignment or comment on a pulled incident,
//! recorded in the same transaction as the change (outbox) and sent to the source by a leased,
//! retried job. Changes of one incident are sent in the order they were made: only the oldest
//! pending write-back of an incident can be claimed. A newer status (or owner) change replaces
//! an older one of the same incident that has not been claimed yet; comments are all sent.

use chrono::{DateTime, Utc};
use palisade_domain::incident::IncidentDoc;
use palisade_domain::vocab::{
    Classification, ClassificationReason, IncidentSource, IncidentStatus, Owner,
};
use palisade_domain::{Error, Result};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::set_sync;
use crate::db::{now_micros, sql, Backend, Tx};
use crate::incidents::CommentRow;
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

/// A write-back claimed by this replica.
#[derive(Debug, Clone)]
pub struct ClaimedWriteBack {
    pub id: Uuid,
    pub connector_id: Uuid,
    pub incident: IncidentKey,
    pub change: WriteBackChange,
    pub made_at: DateTime<Utc>,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub lease_owner: String,
}

/// How a write-back attempt ended.
#[derive(Debug, Clone)]
pub enum WriteBackFate {
    Done,
    Retry { at: DateTime<Utc>, error: String },
    Failed { error: String },
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
    attempts: i64,
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

/// Records write-backs inside the change's transaction and marks the incident `Pending`.
pub(crate) async fn enqueue(
    tx: &mut Tx,
    org: &OrgId,
    key: &IncidentKey,
    connector: Uuid,
    changes: &[WriteBackChange],
) -> Result<()> {
    let ws = key.workspace.uuid();
    let t = now_micros();
    for (i, change) in changes.iter().enumerate() {
        if !matches!(change, WriteBackChange::Comment { .. }) {
            // A newer value replaces one not sent yet.
            sql(
                "DELETE FROM connector_writebacks WHERE workspace_id = $1 AND source = $2 \
                 AND incident_id = $3 AND kind = $4 AND state = 'pending' \
                 AND (lease_until IS NULL OR lease_until < $5)",
                (ws, key.source, key.id.as_str(), change.kind(), t),
            )
            .execute(&mut **tx)
            .await?;
        }
        sql(
            "INSERT INTO connector_writebacks (id, organization_id, workspace_id, connector_id, source, \
             incident_id, kind, change, made_at, state, attempts, next_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', 0, $9)",
            (
                Uuid::new_v4(),
                org,
                ws,
                connector,
                key.source,
                key.id.as_str(),
                change.kind(),
                serde_json::to_string(change).map_err(Error::internal)?,
                t + i as i64,
            ),
        )
        .execute(&mut **tx)
        .await?;
    }
    set_sync(tx, ws, key.source, &key.id, "Pending", None).await
}

impl System<'_> {
    /// Claims up to `limit` due write-backs, each the oldest pending one of its incident.
    pub async fn claim_writebacks(
        &self,
        owner: &str,
        lease_secs: i64,
        limit: i64,
    ) -> Result<Vec<ClaimedWriteBack>> {
        let now = now_micros();
        let lock = match self.store.backend() {
            Backend::Postgres => " FOR UPDATE OF w SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let text = format!(
            "UPDATE connector_writebacks SET lease_owner = $1, lease_until = $2 WHERE id IN (\
               SELECT w.id FROM connector_writebacks w WHERE w.state = 'pending' AND w.next_at <= $3 \
               AND (w.lease_until IS NULL OR w.lease_until < $3) AND NOT EXISTS (\
                 SELECT 1 FROM connector_writebacks o WHERE o.workspace_id = w.workspace_id \
                 AND o.source = w.source AND o.incident_id = w.incident_id AND o.state = 'pending' \
                 AND (o.made_at < w.made_at OR (o.made_at = w.made_at AND o.id < w.id))) \
               ORDER BY w.next_at LIMIT $4{lock}) \
             AND (lease_until IS NULL OR lease_until < $3) \
             RETURNING id, organization_id, workspace_id, connector_id, source, incident_id, change, \
             made_at, attempts"
        );
        let mut tx = self.store.begin_write().await?;
        let rows: Vec<Claimed> = sql(&text, (owner, now + lease_secs * 1_000_000, now, limit))
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let change: WriteBackChange =
                serde_json::from_str(&r.change).map_err(Error::internal)?;
            let ws = WorkspaceId::verified(OrgId::verified(r.organization_id), r.workspace_id);
            out.push(ClaimedWriteBack {
                id: r.id,
                connector_id: r.connector_id,
                incident: IncidentKey::new(ws, r.source, r.incident_id),
                change,
                made_at: r.made_at,
                attempt: r.attempts as u32 + 1,
                lease_owner: owner.to_string(),
            });
        }
        Ok(out)
    }

    /// Keeps a claim for another `lease_secs`; `false` when it was lost.
    pub async fn renew_writeback(&self, claim: &ClaimedWriteBack, lease_secs: i64) -> Result<bool> {
        let n = sql(
            "UPDATE connector_writebacks SET lease_until = $3 WHERE id = $1 AND lease_owner = $2",
            (
                claim.id,
                claim.lease_owner.as_str(),
                now_micros() + lease_secs * 1_000_000,
            ),
        )
        .execute(self.store.writer())
        .await?;
        Ok(n > 0)
    }

    /// Records how a claimed write-back ended and the incident's sync state after it:
    /// `Synced` once nothing is pending or failed, `Pending` with the error while retrying,
    /// `Failed` when it gave up. Nothing happens when the claim was lost.
    pub async fn finish_writeback(
        &self,
        claim: &ClaimedWriteBack,
        fate: &WriteBackFate,
    ) -> Result<()> {
        let t = now_micros();
        let mut tx = self.store.begin_write().await?;
        let (state, next, error) = match fate {
            WriteBackFate::Done => ("done", t, None),
            WriteBackFate::Retry { at, error } => (
                "pending",
                palisade_domain::time::to_micros(*at),
                Some(error.as_str()),
            ),
            WriteBackFate::Failed { error } => ("failed", t, Some(error.as_str())),
        };
        let n = sql(
            "UPDATE connector_writebacks SET state = $3, attempts = attempts + 1, next_at = $4, \
             last_error = $5, lease_owner = NULL, lease_until = NULL, \
             done_at = CASE WHEN $3 = 'done' THEN $6 ELSE done_at END \
             WHERE id = $1 AND lease_owner = $2",
            (claim.id, claim.lease_owner.as_str(), state, next, error, t),
        )
        .execute(&mut *tx)
        .await?;
        if n == 0 {
            return Ok(());
        }
        let key = &claim.incident;
        let ws = key.workspace.uuid();
        let (sync, err): (&str, Option<String>) = match fate {
            WriteBackFate::Failed { error } => ("Failed", Some(error.clone())),
            WriteBackFate::Retry { error, .. } => ("Pending", Some(error.clone())),
            WriteBackFate::Done => {
                let open: Vec<(String, Option<String>)> = sql(
                    "SELECT state, last_error FROM connector_writebacks WHERE workspace_id = $1 \
                     AND source = $2 AND incident_id = $3 AND state <> 'done' ORDER BY made_at DESC",
                    (ws, key.source, key.id.as_str()),
                )
                .fetch_all(&mut *tx)
                .await?;
                match open.iter().find(|(s, _)| s == "failed") {
                    Some((_, e)) if !open.iter().any(|(s, _)| s == "pending") => {
                        ("Failed", e.clone())
                    }
                    _ if open.is_empty() => ("Synced", None),
                    _ => ("Pending", None),
                }
            }
        };
        set_sync(&mut tx, ws, key.source, &key.id, sync, err.as_deref()).await?;
        tx.commit().await
    }
}
