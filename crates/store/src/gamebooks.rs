//! Gamebooks: the playbook catalogue, gamebook rules, and gamebook runs worked as durable
//! jobs.
//!
//! Flow: the trigger ([`Store::trigger_gamebooks`]) takes `events` rows not yet seen by it,
//! creates the runs that `incident.created` events call for and marks the events seen, in one
//! transaction, so each event starts its runs exactly once however many replicas run it.
//! Workers claim runs with a lease ([`Store::claim_runs`]: `FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, the single writer lock on SQLite) and commit every step on its own, each time
//! checking they still own the run; an incident change made by a step commits in the same
//! transaction as the step's outcome. A run whose worker died is claimable again once its
//! lease has passed and resumes at its first unfinished step.

use std::collections::HashMap;

use crate::{IncidentKey, OrgId, WorkspaceId};
use palisade_domain::incident::IncidentDoc;
use palisade_domain::vocab::{FieldChange, IncidentSource};
use palisade_domain::{Error, Result};
use serde_json::{json, Value};
use sqlx::any::AnyRow;
use sqlx::Row;
use uuid::Uuid;

use crate::db::{
    db_err, get_bool, get_i64, get_opt_i64, get_opt_str, get_opt_uuid, get_str, get_uuid,
    json_strings, now_micros, placeholders, MAX_PARAMS,
};
use crate::incidents::INCIDENT_COLS;
use crate::outbox::{insert_event, workspace_account};
use crate::CommentRow;
use crate::{Backend, IncidentRow, NewComment, Store};
use sqlx::FromRow;

type AnyTx = crate::db::Tx;

/// A playbook of the catalogue. `parameters` and `action` are JSON text.
#[derive(Debug, Clone)]
pub struct PlaybookRow {
    pub id: Uuid,
    pub org: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub entity_type: String,
    pub is_admin_required: bool,
    pub parameters: String,
    pub action: String,
    pub created_at: i64,
    pub modified_at: i64,
}

/// The editable fields of a playbook.
#[derive(Debug, Clone)]
pub struct PlaybookFields {
    pub name: String,
    pub description: Option<String>,
    pub entity_type: String,
    pub is_admin_required: bool,
    pub parameters: String,
    pub action: String,
}

/// A gamebook rule.
#[derive(Debug, Clone)]
pub struct RuleRow {
    pub id: Uuid,
    pub org: Uuid,
    pub workspace_id: Uuid,
    pub fields: RuleFields,
    pub created_at: i64,
    pub modified_at: i64,
}

/// The editable fields of a rule.
#[derive(Debug, Clone)]
pub struct RuleFields {
    pub title: String,
    pub match_type: String,
    pub pattern: String,
    pub severities: Vec<String>,
    pub sources: Vec<String>,
    pub playbook_ids: Vec<Uuid>,
    pub is_auto_run: bool,
    pub is_enabled: bool,
}

/// A gamebook run, with its workspace's name and account.
#[derive(Debug, Clone)]
pub struct RunRow {
    pub id: Uuid,
    pub org: Uuid,
    pub workspace_id: Uuid,
    pub workspace_name: String,
    pub account_id: String,
    pub source: String,
    pub incident_id: String,
    pub incident_number: i64,
    pub incident_title: String,
    pub rule_id: Option<Uuid>,
    pub title: String,
    pub status: String,
    pub is_auto_run: bool,
    pub is_admin_required: bool,
    pub triggered_by: Option<String>,
    pub summary: Option<String>,
    /// How often the run was taken over after its worker's lease lapsed.
    pub recoveries: i64,
    pub lease_until: Option<i64>,
    pub created_at: i64,
    pub modified_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

/// One step of a run: a playbook for one affected entity.
#[derive(Debug, Clone)]
pub struct StepRow {
    pub id: Uuid,
    pub run_id: Uuid,
    pub sequence: i64,
    pub playbook_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub entity_type: String,
    pub entity_id: Option<String>,
    pub affected_entity: Option<String>,
    pub is_admin_required: bool,
    pub parameters: String,
    pub action: String,
    pub status: String,
    pub approved_by: Option<String>,
    pub error_message: Option<String>,
    pub output: Option<String>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub modified_at: i64,
}

/// A claimed run as its worker sees it: the run, its steps and its incident's key.
#[derive(Debug, Clone)]
pub struct WorkItem {
    pub incident: IncidentKey,
    pub run: RunRow,
    pub steps: Vec<StepRow>,
}

/// A run to create.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub org: Uuid,
    pub workspace_id: Uuid,
    pub source: IncidentSource,
    pub incident_id: String,
    pub incident_number: i64,
    pub incident_title: String,
    pub rule_id: Option<Uuid>,
    pub title: String,
    pub is_auto_run: bool,
    pub triggered_by: Option<String>,
    pub trigger_event_id: Option<Uuid>,
    pub steps: Vec<NewStep>,
}

/// A step to create; `status` is `Pending`, or `Skipped` with its reason.
#[derive(Debug, Clone)]
pub struct NewStep {
    pub playbook_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub entity_type: String,
    pub entity_id: Option<String>,
    pub affected_entity: Option<String>,
    pub is_admin_required: bool,
    pub parameters: String,
    pub action: String,
    pub status: &'static str,
    pub error_message: Option<String>,
}

/// An outbox event the trigger looks at.
#[derive(Debug, Clone)]
pub struct TriggerEvent {
    pub id: Uuid,
    pub org: Uuid,
    pub workspace_id: Option<Uuid>,
    pub event_type: String,
    pub subject_id: String,
}

/// Filters of a run listing.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// `None`: every workspace of the organization.
    pub workspaces: Option<Vec<Uuid>>,
    pub statuses: Vec<String>,
    /// Lowercased text matched against the title, the incident title and the incident id.
    pub query: Option<String>,
    pub incident_id: Option<String>,
    pub source: Option<IncidentSource>,
}

/// The outcome of a step as the worker records it.
#[derive(Debug, Clone)]
pub struct StepResult {
    pub status: &'static str,
    pub error_message: Option<String>,
    pub output: Option<Value>,
}

/// What an attempt to record a step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepRecorded {
    /// Recorded; `changed` says whether outbox events were written.
    Done { incident_changed: bool },
    /// The run is no longer this worker's (cancelled, or the lease was lost).
    Lost,
}

const PLAYBOOK_COLS: &str =
    "id, organization_id, name, description, entity_type, is_admin_required, \
     parameters, action, created_at, modified_at";
const RULE_COLS: &str =
    "id, organization_id, workspace_id, title, match_type, pattern, severities, \
     sources, playbook_ids, is_auto_run, is_enabled, created_at, modified_at";
const RUN_COLS: &str = "r.id, r.organization_id, r.workspace_id, w.name AS workspace_name, \
     w.account_id, r.source, r.incident_id, r.incident_number, r.incident_title, r.rule_id, r.title, \
     r.status, r.is_auto_run, r.is_admin_required, r.triggered_by, r.summary, r.attempts, \
     r.lease_until, r.created_at, r.modified_at, r.started_at, r.finished_at";
const STEP_COLS: &str =
    "id, run_id, sequence, playbook_id, name, description, entity_type, entity_id, \
     affected_entity, is_admin_required, parameters, action, status, approved_by, error_message, \
     output, started_at, finished_at, modified_at";

fn playbook_from(r: &AnyRow) -> Result<PlaybookRow> {
    Ok(PlaybookRow {
        id: get_uuid(r, "id")?,
        org: get_uuid(r, "organization_id")?,
        name: get_str(r, "name")?,
        description: get_opt_str(r, "description")?,
        entity_type: get_str(r, "entity_type")?,
        is_admin_required: get_bool(r, "is_admin_required")?,
        parameters: get_str(r, "parameters")?,
        action: get_str(r, "action")?,
        created_at: get_i64(r, "created_at")?,
        modified_at: get_i64(r, "modified_at")?,
    })
}

fn rule_from(r: &AnyRow) -> Result<RuleRow> {
    Ok(RuleRow {
        id: get_uuid(r, "id")?,
        org: get_uuid(r, "organization_id")?,
        workspace_id: get_uuid(r, "workspace_id")?,
        fields: RuleFields {
            title: get_str(r, "title")?,
            match_type: get_str(r, "match_type")?,
            pattern: get_str(r, "pattern")?,
            severities: json_strings(&get_str(r, "severities")?),
            sources: json_strings(&get_str(r, "sources")?),
            playbook_ids: json_strings(&get_str(r, "playbook_ids")?)
                .iter()
                .filter_map(|s| s.parse().ok())
                .collect(),
            is_auto_run: get_bool(r, "is_auto_run")?,
            is_enabled: get_bool(r, "is_enabled")?,
        },
        created_at: get_i64(r, "created_at")?,
        modified_at: get_i64(r, "modified_at")?,
    })
}

fn run_from(r: &AnyRow) -> Result<RunRow> {
    Ok(RunRow {
        id: get_uuid(r, "id")?,
        org: get_uuid(r, "organization_id")?,
        workspace_id: get_uuid(r, "workspace_id")?,
        workspace_name: get_opt_str(r, "workspace_name")?.unwrap_or_default(),
        account_id: get_opt_str(r, "account_id")?.unwrap_or_default(),
        source: get_str(r, "source")?,
        incident_id: get_str(r, "incident_id")?,
        incident_number: get_i64(r, "incident_number")?,
        incident_title: get_str(r, "incident_title")?,
        rule_id: get_opt_uuid(r, "rule_id")?,
        title: get_str(r, "title")?,
        status: get_str(r, "status")?,
        is_auto_run: get_bool(r, "is_auto_run")?,
        is_admin_required: get_bool(r, "is_admin_required")?,
        triggered_by: get_opt_str(r, "triggered_by")?,
        summary: get_opt_str(r, "summary")?,
        recoveries: get_i64(r, "attempts")?,
        lease_until: get_opt_i64(r, "lease_until")?,
        created_at: get_i64(r, "created_at")?,
        modified_at: get_i64(r, "modified_at")?,
        started_at: get_opt_i64(r, "started_at")?,
        finished_at: get_opt_i64(r, "finished_at")?,
    })
}

fn step_from(r: &AnyRow) -> Result<StepRow> {
    Ok(StepRow {
        id: get_uuid(r, "id")?,
        run_id: get_uuid(r, "run_id")?,
        sequence: get_i64(r, "sequence")?,
        playbook_id: get_uuid(r, "playbook_id")?,
        name: get_str(r, "name")?,
        description: get_opt_str(r, "description")?,
        entity_type: get_str(r, "entity_type")?,
        entity_id: get_opt_str(r, "entity_id")?,
        affected_entity: get_opt_str(r, "affected_entity")?,
        is_admin_required: get_bool(r, "is_admin_required")?,
        parameters: get_str(r, "parameters")?,
        action: get_str(r, "action")?,
        status: get_str(r, "status")?,
        approved_by: get_opt_str(r, "approved_by")?,
        error_message: get_opt_str(r, "error_message")?,
        output: get_opt_str(r, "output")?,
        started_at: get_opt_i64(r, "started_at")?,
        finished_at: get_opt_i64(r, "finished_at")?,
        modified_at: get_i64(r, "modified_at")?,
    })
}

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

async fn insert_runs(tx: &mut AnyTx, runs: &[NewRun]) -> Result<Vec<Uuid>> {
    let now = now_micros();
    let mut ids = Vec::with_capacity(runs.len());
    for run in runs {
        let id = Uuid::new_v4();
        ids.push(id);
        sqlx::query(
            "INSERT INTO gamebook_runs (id, organization_id, workspace_id, source, incident_id, \
             incident_number, incident_title, rule_id, title, status, is_auto_run, is_admin_required, \
             triggered_by, trigger_event_id, attempts, created_at, modified_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'Pending', $10, $11, $12, $13, 0, $14, $14)",
        )
        .bind(id.to_string())
        .bind(run.org.to_string())
        .bind(run.workspace_id.to_string())
        .bind(run.source.as_str())
        .bind(run.incident_id.clone())
        .bind(run.incident_number)
        .bind(run.incident_title.clone())
        .bind(run.rule_id.map(|u| u.to_string()))
        .bind(run.title.clone())
        .bind(run.is_auto_run as i64)
        .bind(run.steps.iter().any(|s| s.is_admin_required) as i64)
        .bind(run.triggered_by.clone())
        .bind(run.trigger_event_id.map(|u| u.to_string()))
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
        const COLS: usize = 15;
        let steps: Vec<(usize, &NewStep)> = run.steps.iter().enumerate().collect();
        for chunk in steps.chunks(MAX_PARAMS / COLS) {
            let mut sql = String::from(
                "INSERT INTO gamebook_run_playbooks (id, run_id, organization_id, sequence, playbook_id, \
                 name, description, entity_type, entity_id, affected_entity, is_admin_required, \
                 parameters, action, status, error_message, modified_at) VALUES ",
            );
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push('(');
                sql.push_str(&placeholders(2 + i * COLS, COLS));
                sql.push_str(", $1)");
            }
            let mut q = sqlx::query(&sql).bind(now);
            for (seq, s) in chunk {
                q = q
                    .bind(Uuid::new_v4().to_string())
                    .bind(id.to_string())
                    .bind(run.org.to_string())
                    .bind((*seq as i64) + 1)
                    .bind(s.playbook_id.to_string())
                    .bind(s.name.clone())
                    .bind(s.description.clone())
                    .bind(s.entity_type.clone())
                    .bind(s.entity_id.clone())
                    .bind(s.affected_entity.clone())
                    .bind(s.is_admin_required as i64)
                    .bind(s.parameters.clone())
                    .bind(s.action.clone())
                    .bind(s.status)
                    .bind(s.error_message.clone());
            }
            q.execute(&mut **tx).await.map_err(db_err)?;
        }
    }
    Ok(ids)
}

async fn steps_of(ex: &mut AnyTx, run: Uuid) -> Result<Vec<StepRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {STEP_COLS} FROM gamebook_run_playbooks WHERE run_id = $1 ORDER BY sequence"
    ))
    .bind(run.to_string())
    .fetch_all(&mut **ex)
    .await
    .map_err(db_err)?;
    rows.iter().map(step_from).collect()
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

impl Store {
    // ------------------------------------------------------------ playbooks

    pub async fn create_playbook(&self, org: &OrgId, f: &PlaybookFields) -> Result<PlaybookRow> {
        let id = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO playbooks (id, organization_id, name, description, entity_type, \
             is_admin_required, parameters, action, created_at, modified_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        )
        .bind(id.to_string())
        .bind(org.to_string())
        .bind(f.name.clone())
        .bind(f.description.clone())
        .bind(f.entity_type.clone())
        .bind(f.is_admin_required as i64)
        .bind(f.parameters.clone())
        .bind(f.action.clone())
        .bind(now_micros())
        .execute(self.writer())
        .await
        .map_err(db_err)?;
        self.get_playbook(org, id)
            .await?
            .ok_or_else(|| Error::Internal("playbook vanished".into()))
    }

    pub async fn list_playbooks(&self, org: &OrgId) -> Result<Vec<PlaybookRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {PLAYBOOK_COLS} FROM playbooks WHERE organization_id = $1 ORDER BY name, id"
        ))
        .bind(org.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(playbook_from).collect()
    }

    pub async fn get_playbook(&self, org: &OrgId, id: Uuid) -> Result<Option<PlaybookRow>> {
        let row = sqlx::query(&format!(
            "SELECT {PLAYBOOK_COLS} FROM playbooks WHERE organization_id = $1 AND id = $2"
        ))
        .bind(org.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.as_ref().map(playbook_from).transpose()
    }

    pub async fn update_playbook(
        &self,
        org: &OrgId,
        id: Uuid,
        f: &PlaybookFields,
    ) -> Result<Option<PlaybookRow>> {
        let done = sqlx::query(
            "UPDATE playbooks SET name = $3, description = $4, entity_type = $5, is_admin_required = $6, \
             parameters = $7, action = $8, modified_at = $9 WHERE organization_id = $1 AND id = $2",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(f.name.clone())
        .bind(f.description.clone())
        .bind(f.entity_type.clone())
        .bind(f.is_admin_required as i64)
        .bind(f.parameters.clone())
        .bind(f.action.clone())
        .bind(now_micros())
        .execute(self.writer())
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.get_playbook(org, id).await
    }

    /// Deletes a playbook. Rules naming it are left alone (a run skips a playbook that no
    /// longer exists); runs keep their copy of it.
    pub async fn delete_playbook(&self, org: &OrgId, id: Uuid) -> Result<bool> {
        let done = sqlx::query("DELETE FROM playbooks WHERE organization_id = $1 AND id = $2")
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(self.writer())
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() > 0)
    }

    /// The playbooks of an organization by id (unknown ids are left out).
    pub async fn playbooks_by_id(
        &self,
        org: &OrgId,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, PlaybookRow>> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(MAX_PARAMS - 1) {
            let sql = format!(
                "SELECT {PLAYBOOK_COLS} FROM playbooks WHERE organization_id = $1 AND id IN ({})",
                placeholders(2, chunk.len())
            );
            let mut q = sqlx::query(&sql).bind(org.to_string());
            for id in chunk {
                q = q.bind(id.to_string());
            }
            for row in q.fetch_all(&self.pool).await.map_err(db_err)? {
                let p = playbook_from(&row)?;
                out.insert(p.id, p);
            }
        }
        Ok(out)
    }

    // ------------------------------------------------------------ rules

    pub async fn create_rule(&self, org: &OrgId, ws: Uuid, f: &RuleFields) -> Result<RuleRow> {
        let id = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO gamebook_rules (id, organization_id, workspace_id, title, match_type, pattern, \
             severities, sources, playbook_ids, is_auto_run, is_enabled, created_at, modified_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
        )
        .bind(id.to_string())
        .bind(org.to_string())
        .bind(ws.to_string())
        .bind(f.title.clone())
        .bind(f.match_type.clone())
        .bind(f.pattern.clone())
        .bind(serde_json::to_string(&f.severities).expect("strings"))
        .bind(serde_json::to_string(&f.sources).expect("strings"))
        .bind(serde_json::to_string(&f.playbook_ids).expect("uuids"))
        .bind(f.is_auto_run as i64)
        .bind(f.is_enabled as i64)
        .bind(now_micros())
        .execute(self.writer())
        .await
        .map_err(db_err)?;
        self.get_rule(org, ws, id)
            .await?
            .ok_or_else(|| Error::Internal("rule vanished".into()))
    }

    pub async fn list_rules(&self, org: &OrgId, ws: Uuid) -> Result<Vec<RuleRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {RULE_COLS} FROM gamebook_rules WHERE organization_id = $1 AND workspace_id = $2 \
             ORDER BY created_at, id"
        ))
        .bind(org.to_string())
        .bind(ws.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(rule_from).collect()
    }

    pub async fn get_rule(&self, org: &OrgId, ws: Uuid, id: Uuid) -> Result<Option<RuleRow>> {
        let row = sqlx::query(&format!(
            "SELECT {RULE_COLS} FROM gamebook_rules WHERE organization_id = $1 AND workspace_id = $2 AND id = $3"
        ))
        .bind(org.to_string())
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.as_ref().map(rule_from).transpose()
    }

    pub async fn update_rule(
        &self,
        org: &OrgId,
        ws: Uuid,
        id: Uuid,
        f: &RuleFields,
    ) -> Result<Option<RuleRow>> {
        let done = sqlx::query(
            "UPDATE gamebook_rules SET title = $4, match_type = $5, pattern = $6, severities = $7, \
             sources = $8, playbook_ids = $9, is_auto_run = $10, is_enabled = $11, modified_at = $12 \
             WHERE organization_id = $1 AND workspace_id = $2 AND id = $3",
        )
        .bind(org.to_string())
        .bind(ws.to_string())
        .bind(id.to_string())
        .bind(f.title.clone())
        .bind(f.match_type.clone())
        .bind(f.pattern.clone())
        .bind(serde_json::to_string(&f.severities).expect("strings"))
        .bind(serde_json::to_string(&f.sources).expect("strings"))
        .bind(serde_json::to_string(&f.playbook_ids).expect("uuids"))
        .bind(f.is_auto_run as i64)
        .bind(f.is_enabled as i64)
        .bind(now_micros())
        .execute(self.writer())
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.get_rule(org, ws, id).await
    }

    pub async fn delete_rule(&self, org: &OrgId, ws: Uuid, id: Uuid) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM gamebook_rules WHERE organization_id = $1 AND workspace_id = $2 AND id = $3",
        )
        .bind(org.to_string())
        .bind(ws.to_string())
        .bind(id.to_string())
        .execute(self.writer())
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() > 0)
    }

    // ------------------------------------------------------------ trigger

    /// Looks at up to `limit` outbox events the trigger has not seen: `plan` gets each
    /// `incident.created` event with its incident, the workspace's enabled auto-run rules and
    /// the organization's playbooks, and returns the runs to start. The runs are created and
    /// the events marked seen in one transaction. Returns how many events were seen and how
    /// many runs were created.
    #[allow(clippy::map_entry)]
    pub async fn trigger_gamebooks(
        &self,
        limit: i64,
        mut plan: impl FnMut(
            &TriggerEvent,
            &IncidentRow,
            &[RuleRow],
            &HashMap<Uuid, PlaybookRow>,
        ) -> Vec<NewRun>,
    ) -> Result<(usize, usize)> {
        // A cheap look first, so an idle trigger does not take the write lock.
        let any = sqlx::query("SELECT id FROM events WHERE gamebooks_seen = 0 LIMIT 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        if any.is_none() {
            return Ok((0, 0));
        }
        let mut tx = self.begin_write().await?;
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let rows = sqlx::query(&format!(
            "SELECT id, organization_id, workspace_id, event_type, subject_id FROM events \
             WHERE gamebooks_seen = 0 ORDER BY created_at, id LIMIT $1{lock}"
        ))
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        if rows.is_empty() {
            return Ok((0, 0));
        }
        let mut events = Vec::with_capacity(rows.len());
        for r in &rows {
            events.push(TriggerEvent {
                id: get_uuid(r, "id")?,
                org: get_uuid(r, "organization_id")?,
                workspace_id: get_opt_uuid(r, "workspace_id")?,
                event_type: get_str(r, "event_type")?,
                subject_id: get_str(r, "subject_id")?,
            });
        }
        let mut rules: HashMap<Uuid, Vec<RuleRow>> = HashMap::new();
        let mut playbooks: HashMap<Uuid, HashMap<Uuid, PlaybookRow>> = HashMap::new();
        let mut runs = Vec::new();
        for e in events.iter().filter(|e| e.event_type == "incident.created") {
            let Some(ws) = e.workspace_id else { continue };
            let Some((source, id)) = e.subject_id.split_once('/') else {
                continue;
            };
            if !rules.contains_key(&ws) {
                let list = sqlx::query(&format!(
                    "SELECT {RULE_COLS} FROM gamebook_rules WHERE workspace_id = $1 \
                     AND is_enabled = 1 AND is_auto_run = 1 ORDER BY created_at, id"
                ))
                .bind(ws.to_string())
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?
                .iter()
                .map(rule_from)
                .collect::<Result<Vec<_>>>()?;
                rules.insert(ws, list);
            }
            let ws_rules = &rules[&ws];
            if ws_rules.is_empty() {
                continue;
            }
            let Some(row) = sqlx::query(&format!(
                "SELECT {INCIDENT_COLS} FROM incidents WHERE workspace_id = $1 AND source = $2 AND id = $3"
            ))
            .bind(ws.to_string())
            .bind(source)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?
            else {
                continue;
            };
            let incident = IncidentRow::from_row(&row).map_err(db_err)?;
            if !playbooks.contains_key(&e.org) {
                let list = sqlx::query(&format!(
                    "SELECT {PLAYBOOK_COLS} FROM playbooks WHERE organization_id = $1"
                ))
                .bind(e.org.to_string())
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?
                .iter()
                .map(playbook_from)
                .collect::<Result<Vec<_>>>()?;
                playbooks.insert(e.org, list.into_iter().map(|p| (p.id, p)).collect());
            }
            runs.extend(plan(e, &incident, ws_rules, &playbooks[&e.org]));
        }
        insert_runs(&mut tx, &runs).await?;
        for chunk in events.chunks(MAX_PARAMS) {
            let sql = format!(
                "UPDATE events SET gamebooks_seen = 1 WHERE id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for e in chunk {
                q = q.bind(e.id.to_string());
            }
            q.execute(&mut *tx).await.map_err(db_err)?;
        }
        tx.commit().await?;
        Ok((events.len(), runs.len()))
    }

    /// Creates one run (manual start).
    pub async fn create_run(&self, run: &NewRun) -> Result<Uuid> {
        let mut tx = self.begin_write().await?;
        let ids = insert_runs(&mut tx, std::slice::from_ref(run)).await?;
        tx.commit().await?;
        Ok(ids[0])
    }

    // ------------------------------------------------------------ reads

    /// A run and its steps.
    pub async fn get_run(
        &self,
        org: &OrgId,
        ws: Option<Uuid>,
        id: Uuid,
    ) -> Result<Option<(RunRow, Vec<StepRow>)>> {
        let row = sqlx::query(&format!(
            "SELECT {RUN_COLS} FROM gamebook_runs r JOIN workspaces w ON w.id = r.workspace_id \
             WHERE r.organization_id = $1 AND r.id = $2"
        ))
        .bind(org.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        let run = run_from(&row)?;
        if ws.is_some_and(|w| w != run.workspace_id) {
            return Ok(None);
        }
        let mut steps = self.steps_for(&[run.id]).await?;
        Ok(Some((run, steps.remove(&id).unwrap_or_default())))
    }

    /// The steps of several runs, by run.
    pub async fn steps_for(&self, runs: &[Uuid]) -> Result<HashMap<Uuid, Vec<StepRow>>> {
        let mut out: HashMap<Uuid, Vec<StepRow>> = HashMap::new();
        for chunk in runs.chunks(MAX_PARAMS) {
            let sql = format!(
                "SELECT {STEP_COLS} FROM gamebook_run_playbooks WHERE run_id IN ({}) ORDER BY run_id, sequence",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id.to_string());
            }
            for row in q.fetch_all(&self.pool).await.map_err(db_err)? {
                let s = step_from(&row)?;
                out.entry(s.run_id).or_default().push(s);
            }
        }
        Ok(out)
    }

    fn run_where(org: &OrgId, f: &RunFilter) -> (String, Vec<String>) {
        let mut clauses = vec!["r.organization_id = $1".to_string()];
        let mut binds = vec![org.to_string()];
        let next = |binds: &mut Vec<String>, v: String| {
            binds.push(v);
            format!("${}", binds.len())
        };
        if let Some(ws) = &f.workspaces {
            if ws.is_empty() {
                clauses.push("1 = 0".into());
            } else {
                let ps: Vec<String> = ws.iter().map(|w| next(&mut binds, w.to_string())).collect();
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
        (clauses.join(" AND "), binds)
    }

    /// Runs matching `f`, newest first: after the `(created_at, id)` cursor when given, else
    /// skipping `offset`. Also returns the total count of matches.
    pub async fn list_runs(
        &self,
        org: &OrgId,
        f: &RunFilter,
        after: Option<(i64, String)>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<RunRow>, i64)> {
        let (mut clause, mut binds) = Self::run_where(org, f);
        let count_sql = format!("SELECT COUNT(*) AS n FROM gamebook_runs r WHERE {clause}");
        let mut q = sqlx::query(&count_sql);
        for b in &binds {
            q = q.bind(b.clone());
        }
        let total = get_i64(&q.fetch_one(&self.pool).await.map_err(db_err)?, "n")?;
        if after.is_some() {
            let n = binds.len();
            clause.push_str(&format!(
                " AND (r.created_at < ${a} OR (r.created_at = ${a} AND r.id < ${b}))",
                a = n + 1,
                b = n + 2
            ));
        }
        let sql = format!(
            "SELECT {RUN_COLS} FROM gamebook_runs r JOIN workspaces w ON w.id = r.workspace_id \
             WHERE {clause} ORDER BY r.created_at DESC, r.id DESC LIMIT {limit} OFFSET {offset}"
        );
        let mut q = sqlx::query(&sql);
        for b in binds.drain(..) {
            q = q.bind(b);
        }
        if let Some((t, id)) = after {
            q = q.bind(t).bind(id);
        }
        let rows = q.fetch_all(&self.pool).await.map_err(db_err)?;
        Ok((rows.iter().map(run_from).collect::<Result<_>>()?, total))
    }

    // ------------------------------------------------------------ the worker

    /// Claims up to `limit` runs that are due (new, approved, or whose worker's lease lapsed).
    pub async fn claim_runs(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<Uuid>> {
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE gamebook_runs SET lease_until = $2, lease_owner = $3, status = 'Running', \
               attempts = attempts + CASE WHEN lease_until IS NULL THEN 0 ELSE 1 END, \
               started_at = COALESCE(started_at, $1), modified_at = $1 \
             WHERE id IN (SELECT id FROM gamebook_runs WHERE status IN ('Pending', 'Running') \
               AND (lease_until IS NULL OR lease_until < $1) ORDER BY created_at LIMIT $4{lock}) \
             AND status IN ('Pending', 'Running') AND (lease_until IS NULL OR lease_until < $1) \
             RETURNING id"
        );
        // Look before taking the write lock: idle workers cost the writers nothing.
        let due = sqlx::query(
            "SELECT id FROM gamebook_runs WHERE status IN ('Pending', 'Running') \
             AND (lease_until IS NULL OR lease_until < $1) LIMIT 1",
        )
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        if due.is_none() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(&sql)
            .bind(now)
            .bind(lease_until)
            .bind(owner)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await?;
        rows.iter().map(|r| get_uuid(r, "id")).collect()
    }

    /// A claimed run, its steps and its incident's key, whatever its organization (the
    /// worker).
    pub async fn run_for_work(&self, id: Uuid) -> Result<Option<WorkItem>> {
        let row = sqlx::query(&format!(
            "SELECT {RUN_COLS} FROM gamebook_runs r JOIN workspaces w ON w.id = r.workspace_id WHERE r.id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        let run = run_from(&row)?;
        let mut steps = self.steps_for(&[id]).await?;
        let source = IncidentSource::parse(&run.source)
            .ok_or_else(|| Error::Internal(format!("bad source {}", run.source)))?;
        let org = OrgId::verified(run.org);
        let incident = IncidentKey::new(
            WorkspaceId::verified(org, run.workspace_id),
            source,
            run.incident_id.clone(),
        );
        Ok(Some(WorkItem {
            incident,
            steps: steps.remove(&id).unwrap_or_default(),
            run,
        }))
    }

    /// Checks in `tx` that `owner` still holds the running run, extending the lease.
    async fn own_run(
        &self,
        tx: &mut AnyTx,
        run: Uuid,
        owner: &str,
        lease_until: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE gamebook_runs SET lease_until = $3, modified_at = $4 \
             WHERE id = $1 AND lease_owner = $2 AND status = 'Running'",
        )
        .bind(run.to_string())
        .bind(owner)
        .bind(lease_until)
        .bind(now_micros())
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    /// Marks a step `Running` (its start) and extends the lease. `false`: the run is lost.
    pub async fn start_step(
        &self,
        run: Uuid,
        step: Uuid,
        owner: &str,
        lease_until: i64,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        if !self.own_run(&mut tx, run, owner, lease_until).await? {
            return Ok(false);
        }
        let now = now_micros();
        sqlx::query(
            "UPDATE gamebook_run_playbooks SET status = 'Running', started_at = $2, modified_at = $2, \
             error_message = NULL WHERE id = $1",
        )
        .bind(step.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records a step's outcome; `started_at` is its start when [`Store::start_step`] was not
    /// called (a step that only changes the database starts and finishes in one commit).
    async fn set_step(tx: &mut AnyTx, step: Uuid, r: &StepResult, started_at: i64) -> Result<()> {
        let now = now_micros();
        sqlx::query(
            "UPDATE gamebook_run_playbooks SET status = $2, error_message = $3, output = $4, \
             finished_at = $5, modified_at = $5, started_at = COALESCE(started_at, $6) WHERE id = $1",
        )
        .bind(step.to_string())
        .bind(r.status)
        .bind(r.error_message.clone())
        .bind(r.output.as_ref().map(|v| v.to_string()))
        .bind(now)
        .bind(started_at.min(now))
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    /// Records a step that changed nothing in the database (HTTP request, failures).
    pub async fn finish_step(
        &self,
        run: Uuid,
        step: Uuid,
        owner: &str,
        lease_until: i64,
        started_at: i64,
        result: &StepResult,
    ) -> Result<StepRecorded> {
        let mut tx = self.begin_write().await?;
        if !self.own_run(&mut tx, run, owner, lease_until).await? {
            return Ok(StepRecorded::Lost);
        }
        Self::set_step(&mut tx, step, result, started_at).await?;
        tx.commit().await?;
        Ok(StepRecorded::Done {
            incident_changed: false,
        })
    }

    /// Applies an incident change (see [`Store::modify_incident`]) and records the step's
    /// outcome in one transaction: either both happen or neither. A change that fails with a
    /// domain error records the step `Failed` with that error.
    #[allow(clippy::too_many_arguments)]
    pub async fn finish_step_with_change<F>(
        &self,
        run: &RunRow,
        step: Uuid,
        owner: &str,
        lease_until: i64,
        started_at: i64,
        change: F,
    ) -> Result<(StepRecorded, Vec<FieldChange>, Vec<CommentRow>)>
    where
        F: FnOnce(&IncidentRow) -> Result<(IncidentDoc, Vec<NewComment>)>,
    {
        let org = OrgId::verified(run.org);
        let source = IncidentSource::parse(&run.source)
            .ok_or_else(|| Error::Internal(format!("bad source {}", run.source)))?;
        let mut tx = self.begin_write().await?;
        if !self.own_run(&mut tx, run.id, owner, lease_until).await? {
            return Ok((StepRecorded::Lost, Vec::new(), Vec::new()));
        }
        let outcome = self
            .tenant(&org)
            .modify_incident_in(
                &mut tx,
                &IncidentKey::new(
                    WorkspaceId::verified(org, run.workspace_id),
                    source,
                    run.incident_id.clone(),
                ),
                change,
            )
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
                    error_message: Some(format!(
                        "Incident '{}' no longer exists.",
                        run.incident_id
                    )),
                    output: None,
                },
                Vec::new(),
                Vec::new(),
            ),
            Err(e @ (Error::Internal(_) | Error::Unavailable(_))) => return Err(e),
            Err(e) => (
                StepResult {
                    status: "Failed",
                    error_message: Some(e.to_string()),
                    output: None,
                },
                Vec::new(),
                Vec::new(),
            ),
        };
        Self::set_step(&mut tx, step, &result, started_at).await?;
        tx.commit().await?;
        let changed = !changes.is_empty();
        if changed {
            self.events_written();
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
    #[allow(clippy::too_many_arguments)]
    pub async fn finish_step_link_ticket(
        &self,
        run: &RunRow,
        step: Uuid,
        owner: &str,
        lease_until: i64,
        started_at: i64,
        ticket_id: &str,
        author: &str,
    ) -> Result<StepRecorded> {
        let org = OrgId::verified(run.org);
        let source = IncidentSource::parse(&run.source)
            .ok_or_else(|| Error::Internal(format!("bad source {}", run.source)))?;
        let mut tx = self.begin_write().await?;
        if !self.own_run(&mut tx, run.id, owner, lease_until).await? {
            return Ok(StepRecorded::Lost);
        }
        let linked = self
            .link_ticket_in(
                &mut tx,
                &org,
                run.workspace_id,
                ticket_id,
                source,
                &run.incident_id,
                author,
            )
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
            Err(e @ (Error::Internal(_) | Error::Unavailable(_))) => return Err(e),
            Err(e) => (
                StepResult {
                    status: "Failed",
                    error_message: Some(e.to_string()),
                    output: None,
                },
                false,
            ),
        };
        Self::set_step(&mut tx, step, &result, started_at).await?;
        tx.commit().await?;
        if events {
            self.events_written();
        }
        Ok(StepRecorded::Done {
            incident_changed: events,
        })
    }

    /// Stops at an admin-required step: the step and the run wait for approval, no lease held.
    pub async fn await_approval(&self, run: Uuid, step: Uuid, owner: &str) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let now = now_micros();
        let done = sqlx::query(
            "UPDATE gamebook_runs SET status = 'AwaitingApproval', lease_until = NULL, lease_owner = NULL, \
             modified_at = $3 WHERE id = $1 AND lease_owner = $2 AND status = 'Running'",
        )
        .bind(run.to_string())
        .bind(owner)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE gamebook_run_playbooks SET status = 'AwaitingApproval', modified_at = $2 WHERE id = $1",
        )
        .bind(step.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await?;
        Ok(true)
    }

    /// Finishes a run with its final status, writing `gamebook.completed` in the same
    /// transaction. `false`: the run was no longer this worker's.
    pub async fn finish_run(
        &self,
        run: &RunRow,
        owner: &str,
        status: &str,
        summary: &str,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let now = now_micros();
        let done = sqlx::query(
            "UPDATE gamebook_runs SET status = $3, summary = $4, finished_at = $5, modified_at = $5, \
             lease_until = NULL, lease_owner = NULL WHERE id = $1 AND lease_owner = $2 AND status = 'Running'",
        )
        .bind(run.id.to_string())
        .bind(owner)
        .bind(status)
        .bind(summary)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        self.completed_event(&mut tx, run, status, now).await?;
        tx.commit().await?;
        self.events_written();
        Ok(true)
    }

    async fn completed_event(
        &self,
        tx: &mut AnyTx,
        run: &RunRow,
        status: &str,
        now: i64,
    ) -> Result<()> {
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

    // ------------------------------------------------------------ approval, cancellation

    /// Approves a run waiting for approval: its admin-required steps not yet run are approved
    /// by `by`, and the run is due again. `None`: no such run; `Conflict` unless waiting.
    pub async fn approve_run(
        &self,
        org: &OrgId,
        ws: Uuid,
        id: Uuid,
        by: &str,
    ) -> Result<Option<()>> {
        let mut tx = self.begin_write().await?;
        let Some(status) = self.run_status_in(&mut tx, org, ws, id).await? else {
            return Ok(None);
        };
        if status != "AwaitingApproval" {
            return Err(Error::Conflict(format!(
                "The gamebook is {status}; only a gamebook awaiting approval can be approved."
            )));
        }
        let now = now_micros();
        sqlx::query(
            "UPDATE gamebook_run_playbooks SET approved_by = $2, modified_at = $3, \
             status = CASE WHEN status = 'AwaitingApproval' THEN 'Pending' ELSE status END \
             WHERE run_id = $1 AND is_admin_required = 1 AND status IN ('Pending', 'AwaitingApproval')",
        )
        .bind(id.to_string())
        .bind(by)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx::query(
            "UPDATE gamebook_runs SET status = 'Running', lease_until = NULL, lease_owner = NULL, \
             modified_at = $2 WHERE id = $1",
        )
        .bind(id.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await?;
        Ok(Some(()))
    }

    async fn run_status_in(
        &self,
        tx: &mut AnyTx,
        org: &OrgId,
        ws: Uuid,
        id: Uuid,
    ) -> Result<Option<String>> {
        let lock = if self.backend() == Backend::Postgres {
            " FOR UPDATE"
        } else {
            ""
        };
        let row = sqlx::query(&format!(
            "SELECT status FROM gamebook_runs WHERE organization_id = $1 AND workspace_id = $2 AND id = $3{lock}"
        ))
        .bind(org.to_string())
        .bind(ws.to_string())
        .bind(id.to_string())
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_err)?;
        row.map(|r| r.try_get::<String, _>("status").map_err(db_err))
            .transpose()
    }

    /// Cancels an unfinished run (`reject`: only one awaiting approval). Steps not finished
    /// become `Cancelled` with `reason`; `gamebook.completed` is written. `None`: no such run.
    pub async fn cancel_run(
        &self,
        org: &OrgId,
        ws: Uuid,
        id: Uuid,
        reason: &str,
        only_awaiting: bool,
    ) -> Result<Option<()>> {
        let mut tx = self.begin_write().await?;
        let Some(status) = self.run_status_in(&mut tx, org, ws, id).await? else {
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
        sqlx::query(
            "UPDATE gamebook_run_playbooks SET status = 'Cancelled', error_message = $2, finished_at = $3, \
             modified_at = $3 WHERE run_id = $1 AND status IN ('Pending', 'Running', 'AwaitingApproval')",
        )
        .bind(id.to_string())
        .bind(reason)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx::query(
            "UPDATE gamebook_runs SET status = 'Cancelled', summary = $2, finished_at = $3, modified_at = $3, \
             lease_until = NULL, lease_owner = NULL WHERE id = $1",
        )
        .bind(id.to_string())
        .bind(reason)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let row = sqlx::query(&format!(
            "SELECT {RUN_COLS} FROM gamebook_runs r JOIN workspaces w ON w.id = r.workspace_id WHERE r.id = $1"
        ))
        .bind(id.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let run = run_from(&row)?;
        self.completed_event(&mut tx, &run, "Cancelled", now)
            .await?;
        tx.commit().await?;
        self.events_written();
        Ok(Some(()))
    }

    /// Runs not finished (tests and metrics).
    pub async fn unfinished_runs(&self) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM gamebook_runs WHERE status IN ('Pending', 'Running')",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        get_i64(&row, "n")
    }
}
