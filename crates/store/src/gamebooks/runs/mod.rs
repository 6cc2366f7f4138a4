//! Gamebook runs: creating them, reading them, approving and cancelling (an organization's),
//! the trigger (`trigger.rs`) and the leased workers (`worker.rs`, the system's).

mod trigger;
mod worker;

pub use worker::{StepAttempt, StepRecorded, StepResult, WorkItem};

use std::collections::HashMap;

use palisade_domain::vocab::IncidentSource;
use palisade_domain::{Error, Result};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{NewRun, NewStep, RunRow, StepRow};
use crate::db::{now_micros, placeholders, sql, Backend, Tx, MAX_PARAMS};
use crate::jobs::{enqueue_in, JobSpec};
use crate::outbox::{insert_event, workspace_account};
use crate::{OrgId, Tenant, WorkspaceId};

/// Filters of a run listing.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// `None`: every workspace of the organization.
    pub workspaces: Option<Vec<WorkspaceId>>,
    pub statuses: Vec<String>,
    /// Lowercased text matched against the title, the incident title and the incident id.
    pub query: Option<String>,
    pub incident_id: Option<String>,
    pub source: Option<IncidentSource>,
}

const RUN_COLS: &str = "r.id, r.organization_id, r.workspace_id, w.name AS workspace_name, \
     w.account_id, r.source, r.incident_id, r.incident_number, r.incident_title, r.rule_id, r.title, \
     r.status, r.is_auto_run, r.is_admin_required, r.triggered_by, r.summary, r.attempts, \
     r.lease_until, r.created_at, r.modified_at, r.started_at, r.finished_at";
const STEP_COLS: &str =
    "id, run_id, sequence, playbook_id, name, description, entity_type, entity_id, \
     affected_entity, is_admin_required, parameters, action, status, approved_by, error_message, \
     output, started_at, finished_at, modified_at";
/// The `FROM` of run reads: the workspace's name and account come along.
const RUN_FROM: &str = "gamebook_runs r JOIN workspaces w ON w.id = r.workspace_id";

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
fn like(q: &str) -> String {
    let mut s = String::from("%");
    for c in q.chars() {
        if matches!(c, '%' | '_' | '\\') {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('%');
    s
}

/// The job kind of gamebook runs: one job per run while it is due (new, approved, or
/// resumed), keyed by workspace; its payload is the run id.
pub const RUN_KIND: &str = "gamebook.run";

/// Queues the jobs that work runs `ids` of workspace `ws`, in `tx`.
async fn enqueue_run(tx: &mut Tx, org: &OrgId, ws: Uuid, ids: &[Uuid]) -> Result<()> {
    let now = now_micros();
    let specs: Vec<JobSpec> = ids
        .iter()
        .map(|id| JobSpec {
            kind: RUN_KIND.into(),
            key: ws.to_string(),
            org: Some(org.uuid()),
            payload: id.to_string(),
            run_at: now,
        })
        .collect();
    enqueue_in(tx, &specs, MAX_PARAMS).await?;
    Ok(())
}

/// Creates runs of one workspace of `org` (the caller checked it is the organization's) with
/// their steps, and queues their jobs. Returns their ids.
async fn insert_runs(tx: &mut Tx, org: &OrgId, ws: Uuid, runs: &[NewRun]) -> Result<Vec<Uuid>> {
    let ids = insert_run_rows(tx, org, ws, runs).await?;
    enqueue_run(tx, org, ws, &ids).await?;
    Ok(ids)
}

async fn insert_run_rows(tx: &mut Tx, org: &OrgId, ws: Uuid, runs: &[NewRun]) -> Result<Vec<Uuid>> {
    let now = now_micros();
    let mut ids = Vec::with_capacity(runs.len());
    for run in runs {
        let id = Uuid::new_v4();
        ids.push(id);
        sql(
            "INSERT INTO gamebook_runs (id, organization_id, workspace_id, source, incident_id, \
             incident_number, incident_title, rule_id, title, status, is_auto_run, is_admin_required, \
             triggered_by, trigger_event_id, attempts, created_at, modified_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'Pending', $10, $11, $12, $13, 0, $14, $14)",
            (
                id,
                org,
                ws,
                run.source,
                &run.incident_id,
                run.incident_number,
                &run.incident_title,
                run.rule_id,
                &run.title,
                run.is_auto_run,
                run.steps.iter().any(|s| s.is_admin_required),
                &run.triggered_by,
                run.trigger_event_id,
                now,
            ),
        )
        .execute(&mut **tx)
        .await?;
        const COLS: usize = 15;
        let steps: Vec<(usize, &NewStep)> = run.steps.iter().enumerate().collect();
        for chunk in steps.chunks(MAX_PARAMS / COLS) {
            let mut text = String::from(
                "INSERT INTO gamebook_run_playbooks (id, run_id, organization_id, sequence, playbook_id, \
                 name, description, entity_type, entity_id, affected_entity, is_admin_required, \
                 parameters, action, status, error_message, modified_at) VALUES ",
            );
            for i in 0..chunk.len() {
                if i > 0 {
                    text.push_str(", ");
                }
                text.push('(');
                text.push_str(&placeholders(2 + i * COLS, COLS));
                text.push_str(", $1)");
            }
            let mut q = sql(&text, (now,));
            for (seq, s) in chunk {
                q = q
                    .bind(Uuid::new_v4())
                    .bind(id)
                    .bind(org)
                    .bind((*seq as i64) + 1)
                    .bind(s.playbook_id)
                    .bind(&s.name)
                    .bind(&s.description)
                    .bind(&s.entity_type)
                    .bind(&s.entity_id)
                    .bind(&s.affected_entity)
                    .bind(s.is_admin_required)
                    .bind(&s.parameters)
                    .bind(&s.action)
                    .bind(s.status)
                    .bind(&s.error_message);
            }
            q.execute(&mut **tx).await?;
        }
    }
    Ok(ids)
}

async fn steps_of(tx: &mut Tx, run: Uuid) -> Result<Vec<StepRow>> {
    sql(
        &format!(
            "SELECT {STEP_COLS} FROM gamebook_run_playbooks WHERE run_id = $1 ORDER BY sequence"
        ),
        (run,),
    )
    .fetch_all(&mut **tx)
    .await
}

/// The `gamebook.completed` event data of a finished run.
fn completed_data(
    run: &RunRow,
    steps: &[StepRow],
    account: &(Uuid, String),
    status: &str,
    finished_at: i64,
) -> Value {
    let at = |t: i64| {
        palisade_domain::time::from_micros(t).to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    };
    let source = IncidentSource::parse(&run.source);
    json!({
        "accountId": account.0,
        "accountName": account.1,
        "workspaceId": run.workspace_id,
        "gamebookId": run.id,
        "title": run.title,
        "status": status,
        "isAutoRun": run.is_auto_run,
        "ruleId": run.rule_id,
        "incidentId": run.incident_id,
        "incidentNumber": run.incident_number,
        "incidentTitle": run.incident_title,
        "source": source.map(|s| s.lowercase()).unwrap_or_else(|| run.source.to_lowercase()),
        "startedAt": run.started_at.map(at),
        "finishedAt": at(finished_at),
        "playbooks": steps.iter().map(|s| json!({
            "id": s.id,
            "referenceId": s.playbook_id,
            "name": s.name,
            "sequence": s.sequence,
            "affectedEntity": s.affected_entity,
            "status": s.status,
            "errorMessage": s.error_message,
        })).collect::<Vec<_>>(),
    })
}

/// Writes `gamebook.completed` for a run (read from the database, so its organization is its
/// own) in `tx`.
async fn completed_event(tx: &mut Tx, run: &RunRow, status: &str, now: i64) -> Result<()> {
    let org = OrgId::verified(run.org);
    let steps = steps_of(tx, run.id).await?;
    let account = workspace_account(tx, &org, run.workspace_id).await?;
    let data = completed_data(run, &steps, &account, status, now);
    insert_event(
        tx,
        &org,
        run.workspace_id,
        account.0,
        "gamebook.completed",
        &format!("gamebook/{}", run.id),
        &data,
        now,
    )
    .await
}

impl Tenant<'_> {
    /// Creates one run for an incident of the workspace (a manual start).
    pub async fn create_run(&self, ws: &WorkspaceId, run: &NewRun) -> Result<Uuid> {
        let ws = self.own(ws)?;
        let mut tx = self.store.begin_write().await?;
        let ids = insert_runs(&mut tx, &self.org, ws, std::slice::from_ref(run)).await?;
        tx.commit().await?;
        Ok(ids[0])
    }

    /// A run and its steps; with `ws`, only a run of that workspace.
    pub async fn get_run(
        &self,
        ws: Option<&WorkspaceId>,
        id: Uuid,
    ) -> Result<Option<(RunRow, Vec<StepRow>)>> {
        let ws = ws.map(|w| self.own(w)).transpose()?;
        let run: Option<RunRow> = sql(
            &format!(
                "SELECT {RUN_COLS} FROM {RUN_FROM} WHERE r.organization_id = $1 AND r.id = $2"
            ),
            (self.org, id),
        )
        .fetch_optional(self.store.read())
        .await?;
        let Some(run) = run.filter(|r| ws.is_none_or(|w| w == r.workspace_id)) else {
            return Ok(None);
        };
        let mut steps = self.steps_for(&[run.id]).await?;
        Ok(Some((run, steps.remove(&id).unwrap_or_default())))
    }

    /// The steps of several of the organization's runs, by run.
    pub async fn steps_for(&self, runs: &[Uuid]) -> Result<HashMap<Uuid, Vec<StepRow>>> {
        let mut out: HashMap<Uuid, Vec<StepRow>> = HashMap::new();
        for chunk in runs.chunks(MAX_PARAMS - 1) {
            let text = format!(
                "SELECT {STEP_COLS} FROM gamebook_run_playbooks WHERE organization_id = $1 \
                 AND run_id IN ({}) ORDER BY run_id, sequence",
                placeholders(2, chunk.len())
            );
            let mut q = sql(&text, (self.org,));
            for id in chunk {
                q = q.bind(*id);
            }
            for s in q.fetch_all::<StepRow, _>(self.store.read()).await? {
                out.entry(s.run_id).or_default().push(s);
            }
        }
        Ok(out)
    }

    /// The `WHERE` clause of a run listing and its parameters (`$1` the organization).
    fn run_where(&self, f: &RunFilter) -> Result<(String, Vec<String>)> {
        let mut clauses = vec!["r.organization_id = $1".to_string()];
        let mut binds = vec![self.org.to_string()];
        let next = |binds: &mut Vec<String>, v: String| {
            binds.push(v);
            format!("${}", binds.len())
        };
        if let Some(ws) = &f.workspaces {
            if ws.is_empty() {
                clauses.push("1 = 0".into());
            } else {
                let mut ps = Vec::with_capacity(ws.len());
                for w in ws {
                    let id = self.own(w)?;
                    ps.push(next(&mut binds, id.to_string()));
                }
                clauses.push(format!("r.workspace_id IN ({})", ps.join(", ")));
            }
        }
        if !f.statuses.is_empty() {
            let ps: Vec<String> = f
                .statuses
                .iter()
                .map(|s| next(&mut binds, s.clone()))
                .collect();
            clauses.push(format!("r.status IN ({})", ps.join(", ")));
        }
        if let Some(id) = &f.incident_id {
            let p = next(&mut binds, id.clone());
            clauses.push(format!("r.incident_id = {p}"));
        }
        if let Some(s) = f.source {
            let p = next(&mut binds, s.as_str().to_string());
            clauses.push(format!("r.source = {p}"));
        }
        if let Some(q) = &f.query {
            let p = next(&mut binds, like(q));
            let e = next(&mut binds, q.clone());
            clauses.push(format!(
                "(LOWER(r.title) LIKE {p} ESCAPE '\\' OR LOWER(r.incident_title) LIKE {p} ESCAPE '\\' \
                 OR LOWER(r.incident_id) = {e})"
            ));
        }
        Ok((clauses.join(" AND "), binds))
    }

    /// Runs matching `f`, newest first: after the `(created_at, id)` cursor when given, else
    /// skipping `offset`. Also returns the total count of matches.
    pub async fn list_runs(
        &self,
        f: &RunFilter,
        after: Option<(i64, String)>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<RunRow>, i64)> {
        let (mut clause, binds) = self.run_where(f)?;
        let count_text = format!("SELECT COUNT(*) AS n FROM gamebook_runs r WHERE {clause}");
        let mut q = sql(&count_text, ());
        for b in &binds {
            q = q.bind(b.as_str());
        }
        let (total,): (i64,) = q.fetch_one(self.store.read()).await?;
        if after.is_some() {
            let n = binds.len();
            clause.push_str(&format!(
                " AND (r.created_at < ${a} OR (r.created_at = ${a} AND r.id < ${b}))",
                a = n + 1,
                b = n + 2
            ));
        }
        let text = format!(
            "SELECT {RUN_COLS} FROM {RUN_FROM} WHERE {clause} \
             ORDER BY r.created_at DESC, r.id DESC LIMIT {limit} OFFSET {offset}"
        );
        let mut q = sql(&text, ());
        for b in binds {
            q = q.bind(b);
        }
        if let Some((t, id)) = after {
            q = q.bind(t).bind(id);
        }
        Ok((q.fetch_all(self.store.read()).await?, total))
    }

    /// The status of one of the workspace's runs, locked on PostgreSQL for the rest of `tx`.
    async fn run_status_in(&self, tx: &mut Tx, ws: Uuid, id: Uuid) -> Result<Option<String>> {
        let lock = if self.store.backend() == Backend::Postgres {
            " FOR UPDATE"
        } else {
            ""
        };
        let row: Option<(String,)> = sql(
            &format!(
                "SELECT status FROM gamebook_runs WHERE organization_id = $1 AND workspace_id = $2 AND id = $3{lock}"
            ),
            (self.org, ws, id),
        )
        .fetch_optional(&mut **tx)
        .await?;
        Ok(row.map(|(s,)| s))
    }

    /// Approves a run waiting for approval: its admin-required steps not yet run are approved
    /// by `by`, and the run is due again. `None`: no such run; `Conflict` unless waiting.
    pub async fn approve_run(&self, ws: &WorkspaceId, id: Uuid, by: &str) -> Result<Option<()>> {
        let ws = self.own(ws)?;
        let mut tx = self.store.begin_write().await?;
        let Some(status) = self.run_status_in(&mut tx, ws, id).await? else {
            return Ok(None);
        };
        if status != "AwaitingApproval" {
            return Err(Error::Conflict(format!(
                "The gamebook is {status}; only a gamebook awaiting approval can be approved."
            )));
        }
        let now = now_micros();
        sql(
            "UPDATE gamebook_run_playbooks SET approved_by = $2, modified_at = $3, \
             status = CASE WHEN status = 'AwaitingApproval' THEN 'Pending' ELSE status END \
             WHERE run_id = $1 AND is_admin_required = 1 AND status IN ('Pending', 'AwaitingApproval')",
            (id, by, now),
        )
        .execute(&mut *tx)
        .await?;
        sql(
            "UPDATE gamebook_runs SET status = 'Running', lease_until = NULL, lease_owner = NULL, \
             modified_at = $2 WHERE id = $1",
            (id, now),
        )
        .execute(&mut *tx)
        .await?;
        enqueue_run(&mut tx, &self.org, ws, &[id]).await?;
        tx.commit().await?;
        Ok(Some(()))
    }

    /// Cancels an unfinished run (`reject`: only one awaiting approval). Steps not finished
    /// become `Cancelled` with `reason`; `gamebook.completed` is written. `None`: no such run.
    pub async fn cancel_run(
        &self,
        ws: &WorkspaceId,
        id: Uuid,
        reason: &str,
        only_awaiting: bool,
    ) -> Result<Option<()>> {
        let ws = self.own(ws)?;
        let mut tx = self.store.begin_write().await?;
        let Some(status) = self.run_status_in(&mut tx, ws, id).await? else {
            return Ok(None);
        };
        if only_awaiting && status != "AwaitingApproval" {
            return Err(Error::Conflict(format!(
                "The gamebook is {status}; only a gamebook awaiting approval can be rejected."
            )));
        }
        if matches!(
            status.as_str(),
            "Succeeded" | "PartiallySucceeded" | "Failed" | "Cancelled"
        ) {
            return Err(Error::Conflict(format!(
                "The gamebook already finished ({status})."
            )));
        }
        let now = now_micros();
        sql(
            "UPDATE gamebook_run_playbooks SET status = 'Cancelled', error_message = $2, finished_at = $3, \
             modified_at = $3 WHERE run_id = $1 AND status IN ('Pending', 'Running', 'AwaitingApproval')",
            (id, reason, now),
        )
        .execute(&mut *tx)
        .await?;
        sql(
            "UPDATE gamebook_runs SET status = 'Cancelled', summary = $2, finished_at = $3, modified_at = $3, \
             lease_until = NULL, lease_owner = NULL WHERE id = $1",
            (id, reason, now),
        )
        .execute(&mut *tx)
        .await?;
        let run: RunRow = sql(
            &format!("SELECT {RUN_COLS} FROM {RUN_FROM} WHERE r.id = $1"),
            (id,),
        )
        .fetch_one(&mut *tx)
        .await?;
        completed_event(&mut tx, &run, "Cancelled", now).await?;
        tx.commit().await?;
        self.store.events_written();
        Ok(Some(()))
    }
}
