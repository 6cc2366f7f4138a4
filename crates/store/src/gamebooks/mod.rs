//! Gamebooks: the playbook catalogue (`catalog.rs`), gamebook rules (`rules.rs`), and gamebook
//! runs worked as durable jobs (`runs/`).
//!
//! Flow: the trigger ([`crate::System::trigger_gamebooks`]) reads the `events` after its
//! outbox cursor, creates the runs that `incident.created` events call for (each with its
//! [`RUN_KIND`] job) and moves its cursor, in one transaction, so each event starts its runs
//! exactly once however many replicas run it. The job runtime leases a run's job; its worker
//! takes the run over ([`crate::System::adopt_run`]) and commits every step on its own, each
//! time checking it still owns the run; an incident change made by a step commits in the same
//! transaction as the step's outcome. A run whose worker died is claimable again once its
//! job's lease has passed and resumes at its first unfinished step.

mod catalog;
mod rules;
mod runs;

pub use runs::{RunFilter, StepAttempt, StepRecorded, StepResult, WorkItem, RUN_KIND};

use palisade_domain::vocab::IncidentSource;
use uuid::Uuid;

use crate::db::row::{Flag, JsonText, NullText};

/// A playbook of the catalogue. `parameters` and `action` are JSON text.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct PlaybookRow {
    #[sqlx(try_from = "String")]
    pub id: Uuid,
    #[sqlx(rename = "organization_id", try_from = "String")]
    pub org: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub entity_type: String,
    #[sqlx(try_from = "Flag")]
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
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct RuleRow {
    #[sqlx(try_from = "String")]
    pub id: Uuid,
    #[sqlx(rename = "organization_id", try_from = "String")]
    pub org: Uuid,
    #[sqlx(try_from = "String")]
    pub workspace_id: Uuid,
    #[sqlx(flatten)]
    pub fields: RuleFields,
    pub created_at: i64,
    pub modified_at: i64,
}

/// The editable fields of a rule.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct RuleFields {
    pub title: String,
    pub match_type: String,
    pub pattern: String,
    #[sqlx(try_from = "JsonText")]
    pub severities: Vec<String>,
    #[sqlx(try_from = "JsonText")]
    pub sources: Vec<String>,
    #[sqlx(try_from = "JsonText")]
    pub playbook_ids: Vec<Uuid>,
    #[sqlx(try_from = "Flag")]
    pub is_auto_run: bool,
    #[sqlx(try_from = "Flag")]
    pub is_enabled: bool,
}

/// A gamebook run, with its workspace's name and account.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct RunRow {
    #[sqlx(try_from = "String")]
    pub id: Uuid,
    #[sqlx(rename = "organization_id", try_from = "String")]
    pub org: Uuid,
    #[sqlx(try_from = "String")]
    pub workspace_id: Uuid,
    #[sqlx(try_from = "NullText")]
    pub workspace_name: String,
    #[sqlx(try_from = "NullText")]
    pub account_id: String,
    pub source: String,
    pub incident_id: String,
    pub incident_number: i64,
    pub incident_title: String,
    #[sqlx(try_from = "NullText")]
    pub rule_id: Option<Uuid>,
    pub title: String,
    pub status: String,
    #[sqlx(try_from = "Flag")]
    pub is_auto_run: bool,
    #[sqlx(try_from = "Flag")]
    pub is_admin_required: bool,
    pub triggered_by: Option<String>,
    pub summary: Option<String>,
    /// How often the run was taken over after its worker's lease lapsed.
    #[sqlx(rename = "attempts")]
    pub recoveries: i64,
    pub lease_until: Option<i64>,
    pub created_at: i64,
    pub modified_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

/// One step of a run: a playbook for one affected entity.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StepRow {
    #[sqlx(try_from = "String")]
    pub id: Uuid,
    #[sqlx(try_from = "String")]
    pub run_id: Uuid,
    pub sequence: i64,
    #[sqlx(try_from = "String")]
    pub playbook_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub entity_type: String,
    pub entity_id: Option<String>,
    pub affected_entity: Option<String>,
    #[sqlx(try_from = "Flag")]
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

/// A run to create, for an incident of the workspace it is created in.
#[derive(Debug, Clone)]
pub struct NewRun {
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
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TriggerEvent {
    #[sqlx(try_from = "String")]
    pub id: Uuid,
    #[sqlx(rename = "organization_id", try_from = "String")]
    pub org: Uuid,
    #[sqlx(try_from = "NullText")]
    pub workspace_id: Option<Uuid>,
    pub event_type: String,
    pub subject_id: String,
    /// Where the event stands in the outbox.
    #[sqlx(flatten)]
    pub position: crate::Position,
}

const PLAYBOOK_COLS: &str =
    "id, organization_id, name, description, entity_type, is_admin_required, \
     parameters, action, created_at, modified_at";
const RULE_COLS: &str =
    "id, organization_id, workspace_id, title, match_type, pattern, severities, \
     sources, playbook_ids, is_auto_run, is_enabled, created_at, modified_at";
