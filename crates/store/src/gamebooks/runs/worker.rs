//! The run workers' side (the system's): claiming runs with a lease, recording each step in
//! a commit of its own while still owning the run, waiting for approval, finishing.

use palisade_domain::incident::IncidentDoc;
use palisade_domain::vocab::{FieldChange, IncidentSource};
use palisade_domain::{Error, Result};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{completed_event, RUN_COLS, RUN_FROM};
use crate::db::{now_micros, sql, Tx};
use crate::gamebooks::{RunRow, StepRow};
use crate::{CommentRow, IncidentKey, IncidentRow, NewComment, OrgId, System, WorkspaceId};

/// A claimed run as its worker sees it: the run, its steps and its incident's key (made from
/// the run's row, so the incident is the run's own organization's).
#[derive(Debug, Clone)]
pub struct WorkItem {
    pub incident: IncidentKey,
    pub run: RunRow,
    pub steps: Vec<StepRow>,
}

/// The outcome of a step as the worker records it.
#[derive(Debug, Clone)]
pub struct StepResult {
    pub status: &'static str,
    pub error_message: Option<String>,
    pub output: Option<Value>,
}

/// A step being recorded by the worker that owns its run: the step, the worker, the lease it
/// extends the run's to, and when the step started.
#[derive(Debug, Clone, Copy)]
pub struct StepAttempt<'a> {
    pub step: Uuid,
    pub owner: &'a str,
    pub lease_until: i64,
    pub started_at: i64,
}

impl StepAttempt<'_> {
    /// Extends the lease of `run` if this worker still owns it (`false`: it does not).
    async fn own(&self, tx: &mut Tx, run: Uuid) -> Result<bool> {
        own_run(tx, run, self.owner, self.lease_until).await
    }

    /// Records the step's outcome and commits.
    async fn record(&self, mut tx: Tx, result: &StepResult) -> Result<()> {
        set_step(&mut tx, self.step, result, self.started_at).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// What an attempt to record a step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepRecorded {
    /// Recorded; `changed` says whether outbox events were written.
    Done { incident_changed: bool },
    /// The run is no longer this worker's (cancelled, or the lease was lost).
    Lost,
}

/// The result of a change a step tried: failed with a domain error it records, or an
/// internal/unavailable error that aborts the step's commit.
fn failed(e: Error) -> Result<StepResult> {
    match e {
        e @ (Error::Internal(_) | Error::Unavailable(_)) => Err(e),
        e => Ok(StepResult {
            status: "Failed",
            error_message: Some(e.to_string()),
            output: None,
        }),
    }
}

/// Checks in `tx` that `owner` still holds the running run, extending the lease.
async fn own_run(tx: &mut Tx, run: Uuid, owner: &str, lease_until: i64) -> Result<bool> {
    let held = sql(
        "UPDATE gamebook_runs SET lease_until = $3, modified_at = $4 \
         WHERE id = $1 AND lease_owner = $2 AND status = 'Running'",
        (run, owner, lease_until, now_micros()),
    )
    .execute(&mut **tx)
    .await?;
    Ok(held == 1)
}

/// Records a step's outcome; `started_at` is its start when [`System::start_step`] was not
/// called (a step that only changes the database starts and finishes in one commit).
async fn set_step(tx: &mut Tx, step: Uuid, r: &StepResult, started_at: i64) -> Result<()> {
    let now = now_micros();
    sql(
        "UPDATE gamebook_run_playbooks SET status = $2, error_message = $3, output = $4, \
         finished_at = $5, modified_at = $5, started_at = COALESCE(started_at, $6) WHERE id = $1",
        (
            step,
            r.status,
            &r.error_message,
            r.output.as_ref().map(|v| v.to_string()),
            now,
            started_at.min(now),
        ),
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl System<'_> {
    /// Takes run `id` over for `owner`, whose job for it the runtime leased: the run is
    /// `Running` under `owner`'s lease until `lease_until`; taken from another owner (whose
    /// lease lapsed) it counts an attempt. `false`: the run is not due (finished, cancelled,
    /// awaiting approval). A queue write (no WAL flush on PostgreSQL): a takeover lost in a
    /// database crash is simply made again by the job's next lease.
    pub async fn adopt_run(&self, id: Uuid, owner: &str, lease_until: i64) -> Result<bool> {
        let now = now_micros();
        let mut tx = self.store.begin_queue_write().await?;
        let n = sql(
            "UPDATE gamebook_runs SET lease_until = $2, lease_owner = $3, status = 'Running', \
               attempts = attempts + CASE WHEN lease_owner IS NULL THEN 0 ELSE 1 END, \
               started_at = COALESCE(started_at, $4), modified_at = $4 \
             WHERE id = $1 AND status IN ('Pending', 'Running')",
            (id, lease_until, owner, now),
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    /// A claimed run, its steps and its incident's key, whatever its organization.
    pub async fn run_for_work(&self, id: Uuid) -> Result<Option<WorkItem>> {
        let run: Option<RunRow> = sql(
            &format!("SELECT {RUN_COLS} FROM {RUN_FROM} WHERE r.id = $1"),
            (id,),
        )
        .fetch_optional(self.store.read())
        .await?;
        let Some(run) = run else { return Ok(None) };
        let org = OrgId::verified(run.org);
        let steps = self
            .store
            .tenant(&org)
            .steps_for(&[id])
            .await?
            .remove(&id)
            .unwrap_or_default();
        let source = IncidentSource::parse(&run.source)
            .ok_or_else(|| Error::Internal(format!("bad source {}", run.source)))?;
        let incident = IncidentKey::new(
            WorkspaceId::verified(org, run.workspace_id),
            source,
            run.incident_id.clone(),
        );
        Ok(Some(WorkItem {
            incident,
            run,
            steps,
        }))
    }

    /// Marks a step `Running` (its start) and extends the lease. `false`: the run is lost.
    pub async fn start_step(
        &self,
        run: Uuid,
        step: Uuid,
        owner: &str,
        lease_until: i64,
    ) -> Result<bool> {
        let mut tx = self.store.begin_write().await?;
        if !own_run(&mut tx, run, owner, lease_until).await? {
            return Ok(false);
        }
        sql(
            "UPDATE gamebook_run_playbooks SET status = 'Running', started_at = $2, modified_at = $2, \
             error_message = NULL WHERE id = $1",
            (step, now_micros()),
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records a step that changed nothing in the database (HTTP request, failures).
    pub async fn finish_step(
        &self,
        run: Uuid,
        at: &StepAttempt<'_>,
        result: &StepResult,
    ) -> Result<StepRecorded> {
        let mut tx = self.store.begin_write().await?;
        if !at.own(&mut tx, run).await? {
            return Ok(StepRecorded::Lost);
        }
        at.record(tx, result).await?;
        Ok(StepRecorded::Done {
            incident_changed: false,
        })
    }

    /// Applies a change to the run's incident (see [`crate::Tenant::modify_incident`]) and
    /// records the step's outcome in one transaction: either both happen or neither. A change
    /// that fails with a domain error records the step `Failed` with that error.
    pub async fn finish_step_with_change<F>(
        &self,
        item: &WorkItem,
        at: &StepAttempt<'_>,
        change: F,
    ) -> Result<(StepRecorded, Vec<FieldChange>, Vec<CommentRow>)>
    where
        F: FnOnce(&IncidentRow) -> Result<(IncidentDoc, Vec<NewComment>)>,
    {
        let key = &item.incident;
        let mut tx = self.store.begin_write().await?;
        if !at.own(&mut tx, item.run.id).await? {
            return Ok((StepRecorded::Lost, Vec::new(), Vec::new()));
        }
        let outcome = self
            .store
            .tenant(&key.workspace.org())
            .modify_incident_in(&mut tx, key, change)
            .await;
        let (result, changes, comments) = match outcome {
            Ok(Some((_, changes, comments))) => (
                StepResult {
                    status: "Succeeded",
                    error_message: None,
                    output: Some(json!({
                        "changes": changes.iter().map(|c| &c.field).collect::<Vec<_>>(),
                        "commentIds": comments.iter().map(|c| &c.id).collect::<Vec<_>>(),
                    })),
                },
                changes,
                comments,
            ),
            Ok(None) => (
                StepResult {
                    status: "Failed",
                    error_message: Some(format!("Incident '{}' no longer exists.", key.id)),
                    output: None,
                },
                Vec::new(),
                Vec::new(),
            ),
            Err(e) => (failed(e)?, Vec::new(), Vec::new()),
        };
        at.record(tx, &result).await?;
        let changed = !changes.is_empty();
        if changed {
            self.store.events_written();
        }
        Ok((
            StepRecorded::Done {
                incident_changed: changed,
            },
            changes,
            comments,
        ))
    }

    /// Links a ticket to the run's incident and records the step in one transaction.
    pub async fn finish_step_link_ticket(
        &self,
        item: &WorkItem,
        at: &StepAttempt<'_>,
        ticket_id: &str,
        author: &str,
    ) -> Result<StepRecorded> {
        let key = &item.incident;
        let mut tx = self.store.begin_write().await?;
        if !at.own(&mut tx, item.run.id).await? {
            return Ok(StepRecorded::Lost);
        }
        let linked = self
            .store
            .tenant(&key.workspace.org())
            .link_ticket_in(&mut tx, key, ticket_id, author)
            .await;
        let (result, events) = match linked {
            Ok(newly) => (
                StepResult {
                    status: "Succeeded",
                    error_message: None,
                    output: Some(json!({"ticketId": ticket_id, "newlyLinked": newly})),
                },
                newly,
            ),
            Err(e) => (failed(e)?, false),
        };
        at.record(tx, &result).await?;
        if events {
            self.store.events_written();
        }
        Ok(StepRecorded::Done {
            incident_changed: events,
        })
    }

    /// Stops at an admin-required step: the step and the run wait for approval, no lease held.
    pub async fn await_approval(&self, run: Uuid, step: Uuid, owner: &str) -> Result<bool> {
        let mut tx = self.store.begin_write().await?;
        let now = now_micros();
        let waiting = sql(
            "UPDATE gamebook_runs SET status = 'AwaitingApproval', lease_until = NULL, lease_owner = NULL, \
             modified_at = $3 WHERE id = $1 AND lease_owner = $2 AND status = 'Running'",
            (run, owner, now),
        )
        .execute(&mut *tx)
        .await?;
        if waiting != 1 {
            return Ok(false);
        }
        sql(
            "UPDATE gamebook_run_playbooks SET status = 'AwaitingApproval', modified_at = $2 WHERE id = $1",
            (step, now),
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Finishes a run with its final status, writing `gamebook.completed` in the same
    /// transaction. `false`: the run was no longer this worker's.
    pub async fn finish_run(
        &self,
        item: &WorkItem,
        owner: &str,
        status: &str,
        summary: &str,
    ) -> Result<bool> {
        let mut tx = self.store.begin_write().await?;
        let now = now_micros();
        let finished = sql(
            "UPDATE gamebook_runs SET status = $3, summary = $4, finished_at = $5, modified_at = $5, \
             lease_until = NULL, lease_owner = NULL WHERE id = $1 AND lease_owner = $2 AND status = 'Running'",
            (item.run.id, owner, status, summary, now),
        )
        .execute(&mut *tx)
        .await?;
        if finished != 1 {
            return Ok(false);
        }
        completed_event(&mut tx, &item.run, status, now).await?;
        tx.commit().await?;
        self.store.events_written();
        Ok(true)
    }

    /// Runs not finished (tests and metrics).
    pub async fn unfinished_runs(&self) -> Result<i64> {
        let (n,): (i64,) = sql(
            "SELECT COUNT(*) AS n FROM gamebook_runs WHERE status IN ('Pending', 'Running')",
            (),
        )
        .fetch_one(self.store.read())
        .await?;
        Ok(n)
    }
}
