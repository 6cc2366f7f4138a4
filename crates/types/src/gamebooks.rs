//! Gamebooks: the playbook catalogue, gamebook rules and gamebook runs (facts §7,
//! `docs/gamebooks.md`).
//!
//! Request types keep enum-valued fields as strings so an unknown value is reported as a
//! `VALIDATION_ERROR` naming the field.

use std::collections::BTreeMap;

use crate::examples::example;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::incidents::{
    wire_enum, Classification, ClassificationReason, IncidentSource, IncidentStatus, Severity,
};
use crate::spelling::{HttpMethod, PlaybookEntityType, Spelled};

wire_enum! {
    /// Status of a gamebook run (`Gamebook.status`).
    GamebookStatus { Pending, Running, AwaitingApproval, Succeeded, PartiallySucceeded, Failed, Cancelled }
}

impl GamebookStatus {
    /// A run in this status will not change any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            GamebookStatus::Succeeded
                | GamebookStatus::PartiallySucceeded
                | GamebookStatus::Failed
                | GamebookStatus::Cancelled
        )
    }
}

wire_enum! {
    /// Status of one playbook of a run (`Playbook.status`). `Skipped`: the incident has no
    /// entity of the playbook's `entityType`.
    PlaybookStatus { Pending, Running, AwaitingApproval, Succeeded, Failed, Skipped, Cancelled }
}

wire_enum! {
    /// How a rule's `titlePattern` is matched against an incident title (case-insensitive).
    TitleMatch { Exact, Contains, Regex }
}

wire_enum! {
    /// The built-in playbook actions.
    ActionType { AddComment, SetStatus, SetSeverity, Assign, AddLabel, LinkTicket, HttpRequest }
}

/// A playbook's action: `type` plus the fields that type uses. Text fields are templates
/// (`{{incident.title}}`, `{{entity.displayName}}`, `{{parameters.NAME}}`, …; see
/// [the gamebooks guide](/docs/gamebooks.md)).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlaybookAction {
    /// `AddComment`, `SetStatus`, `SetSeverity`, `Assign`, `AddLabel`, `LinkTicket` or
    /// `HttpRequest`.
    #[serde(rename = "type")]
    #[schemars(with = "Spelled<ActionType>")]
    pub kind: Option<String>,
    /// AddComment: the comment text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// SetStatus: `New`, `Active` or `Closed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Spelled<IncidentStatus>>")]
    pub status: Option<String>,
    /// SetStatus to `Closed`: required classification and reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Spelled<Classification>>")]
    pub classification: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Spelled<ClassificationReason>>")]
    pub classification_reason: Option<String>,
    /// SetSeverity: `Informational`, `Low`, `Medium` or `High`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Spelled<Severity>>")]
    pub severity: Option<String>,
    /// Assign: the new owner (`email` or `userId` required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// AddLabel: the label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// LinkTicket: the ticket id (a ticket of the incident's workspace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_id: Option<String>,
    /// HttpRequest: `GET`, `POST` (default), `PUT`, `PATCH` or `DELETE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Spelled<HttpMethod>>")]
    pub method: Option<String>,
    /// HttpRequest: the target (checked by the webhook SSRF guard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// HttpRequest: extra request headers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    /// HttpRequest: the request body (sent as `application/json` when it parses as JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// A playbook of the organization's catalogue.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("PlaybookDefinition"))]
pub struct PlaybookDefinition {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    /// `Incident` (runs once per incident), `User` (alias of `Account`) or an entity kind
    /// (`Host`, `Ip`, …): the playbook runs once per such entity of the incident.
    pub entity_type: String,
    /// Runs only after a workspace Owner approves.
    pub is_admin_required: bool,
    pub parameters: serde_json::Map<String, serde_json::Value>,
    pub action: PlaybookAction,
    pub created_at: DateTime<Utc>,
    pub last_modified_at: DateTime<Utc>,
}

/// Body of `POST /gamebooks/playbooks` and `PUT /gamebooks/playbooks/{id}` (on update, absent
/// fields are left unchanged).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("PlaybookRequest"))]
pub struct PlaybookRequest {
    pub name: Option<String>,
    pub description: Option<String>,
    #[schemars(with = "Option<Spelled<PlaybookEntityType>>")]
    pub entity_type: Option<String>,
    pub is_admin_required: Option<bool>,
    pub parameters: Option<serde_json::Map<String, serde_json::Value>>,
    pub action: Option<PlaybookAction>,
}

/// A gamebook rule of a workspace.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("GamebookRule"))]
pub struct GamebookRule {
    pub id: Uuid,
    pub workspace_id: Uuid,
    /// The rule's name (a run started by it carries it as `title`).
    pub title: String,
    pub match_type: TitleMatch,
    pub title_pattern: String,
    /// Only incidents of these severities (empty: any).
    #[schemars(with = "Vec<Severity>")]
    pub severities: Vec<String>,
    /// Only incidents of these sources (empty: any).
    #[schemars(with = "Vec<IncidentSource>")]
    pub sources: Vec<String>,
    /// The playbooks to run, in this order.
    pub playbook_ids: Vec<Uuid>,
    /// Start a run by itself when a matching incident is created.
    pub is_auto_run: bool,
    pub is_enabled: bool,
    pub created_at: DateTime<Utc>,
    pub last_modified_at: DateTime<Utc>,
}

/// Body of `POST /workspaces/{ws}/gamebook-rules` and `PUT …/gamebook-rules/{ruleId}` (on
/// update, absent fields are left unchanged).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("GamebookRuleRequest"))]
pub struct GamebookRuleRequest {
    pub title: Option<String>,
    /// `Exact`, `Contains` (default) or `Regex`.
    #[schemars(with = "Option<Spelled<TitleMatch>>")]
    pub match_type: Option<String>,
    pub title_pattern: Option<String>,
    #[schemars(with = "Option<Vec<Spelled<Severity>>>")]
    pub severities: Option<Vec<String>>,
    #[schemars(with = "Option<Vec<Spelled<IncidentSource>>>")]
    pub sources: Option<Vec<String>>,
    #[schemars(with = "Option<Vec<Uuid>>")]
    pub playbook_ids: Option<Vec<String>>,
    pub is_auto_run: Option<bool>,
    pub is_enabled: Option<bool>,
}

/// `GET /workspaces/{ws}/gamebooks/rules/{incidentTitle}`: the enabled rules whose title
/// pattern matches, and the playbooks they call for (each once, in rule order).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RulesByTitle {
    pub incident_title: String,
    pub rules: Vec<GamebookRule>,
    pub playbooks: Vec<PlaybookDefinition>,
}

/// One playbook of a gamebook run, for one affected entity.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Playbook {
    pub id: Uuid,
    /// The catalogue playbook this step runs.
    pub reference_id: Uuid,
    pub entity_id: Option<String>,
    pub name: String,
    pub description: Option<String>,
    pub entity_type: String,
    pub affected_entity: Option<String>,
    pub is_recommended: bool,
    pub status: PlaybookStatus,
    pub error_message: Option<String>,
    pub sequence: i64,
    pub modification_date: DateTime<Utc>,
    pub starting_date: Option<DateTime<Utc>>,
    pub finishing_date: Option<DateTime<Utc>>,
    /// Wall time of the step, `hh:mm:ss.fff`; null until it finished.
    pub execution_time: Option<String>,
    /// The run's id.
    pub tracing_id: Uuid,
    pub parameters: serde_json::Map<String, serde_json::Value>,
    pub is_admin_required: bool,
    pub action: PlaybookAction,
    /// What the action did (e.g. `{"httpStatus": 200}`), once finished.
    pub output: Option<serde_json::Value>,
}

/// A gamebook run.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("Gamebook"))]
pub struct Gamebook {
    pub id: Uuid,
    pub tracing_id: Uuid,
    pub incident_id: String,
    pub source: IncidentSource,
    pub incident_title: String,
    pub incident_number: i64,
    pub is_ocr: bool,
    /// The run was resumed after its worker stopped.
    pub is_recover: bool,
    /// The service account that started it (null for auto-run).
    #[serde(rename = "triggedByUserId")]
    pub trigged_by_user_id: Option<String>,
    pub display_name: String,
    pub modification_date: DateTime<Utc>,
    pub creation_date: DateTime<Utc>,
    pub status: GamebookStatus,
    pub title: String,
    pub is_admin_required: bool,
    pub workspace_id: Uuid,
    pub workspace_name: String,
    /// The workspace's customer account.
    pub tenant_id: String,
    pub is_auto_run: bool,
    pub original_gamebook_id: Option<Uuid>,
    pub original_gamebook_title: Option<String>,
    pub is_retry_gamebook: bool,
    pub is_queued: bool,
    pub playbooks: Vec<Playbook>,
    pub summary: Option<String>,
    pub rule_id: Option<Uuid>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// `GET /workspaces/{ws}/gamebooks/history`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GamebookHistoryPage {
    pub gamebooks: Vec<Gamebook>,
    /// Pass as `?pageToken=` for the next page; null on the last page.
    pub page_token: Option<String>,
    pub total_count: i64,
}

/// `GET /gamebooks/across-workspaces/history` (`PageListOfGamebookDto`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GamebookPageList {
    pub items: Vec<Gamebook>,
    pub current_page: i64,
    pub total_pages: i64,
    pub page_size: i64,
    pub total_count: i64,
    pub has_previous_page: bool,
    pub has_next_page: bool,
}

/// Body of `POST /workspaces/{ws}/gamebooks/runs`: run a rule's playbooks, or the given
/// playbooks, against an incident.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("StartGamebookRequest"))]
pub struct StartGamebookRequest {
    #[schemars(with = "Spelled<IncidentSource>")]
    pub source: Option<String>,
    #[schemars(required)]
    pub incident_id: Option<String>,
    #[schemars(with = "Option<Uuid>")]
    pub rule_id: Option<String>,
    #[schemars(with = "Option<Vec<Uuid>>")]
    pub playbook_ids: Option<Vec<String>>,
    /// The run's title (default: the rule's title, or `Manual gamebook`).
    pub title: Option<String>,
}

/// A playbook the incident's rules recommend (`gamebookCatalog.playbooks[]`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CatalogPlaybook {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub entity_type: String,
    pub is_admin_required: bool,
    pub parameters: serde_json::Map<String, serde_json::Value>,
    pub rule_id: Uuid,
    pub rule_title: String,
    pub is_auto_run: bool,
}

/// The incident detail's `gamebookCatalog`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GamebookCatalog {
    pub playbooks: Vec<CatalogPlaybook>,
}
