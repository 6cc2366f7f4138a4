//! Incidents: sources, enums, the ingest model (DESIGN §9) and the detail shape.

use crate::examples::example;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::spelling::{ListingWindow, Spelled};

macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        pub enum $name { $($variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => stringify!($variant)),* }
            }

            /// Parses a value in any letter case.
            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
            }

            /// `A, B, C` for error messages.
            pub fn allowed() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl $crate::spelling::Spellings for $name {
            const NAME: &'static str = concat!(stringify!($name), "Input");
            fn canonical() -> Vec<&'static str> {
                Self::ALL.iter().map(|v| v.as_str()).collect()
            }
        }
    };
}
pub(crate) use wire_enum;

wire_enum! {
    /// The SIEM/XDR an incident comes from.
    IncidentSource { Sentinel, DefenderXDR, CrowdStrike, QRadar, Splunk, SentinelOne }
}

impl IncidentSource {
    /// The lowercase form webhook payloads carry.
    pub fn lowercase(self) -> String {
        self.as_str().to_ascii_lowercase()
    }

    pub fn display_name(self) -> &'static str {
        match self {
            IncidentSource::Sentinel => "Microsoft Sentinel",
            IncidentSource::DefenderXDR => "Microsoft Defender XDR",
            IncidentSource::CrowdStrike => "CrowdStrike Falcon",
            IncidentSource::QRadar => "IBM QRadar",
            IncidentSource::Splunk => "Splunk Enterprise Security",
            IncidentSource::SentinelOne => "SentinelOne Singularity",
        }
    }
}

wire_enum! { Severity { Informational, Low, Medium, High } }
wire_enum! { IncidentStatus { New, Active, Closed } }
wire_enum! {
    /// Classification (the models-page values plus the wider agent-tool list).
    Classification {
        Undetermined, TruePositive, FalsePositive, BenignPositive, InformationalExpectedActivity,
        Unknown, NonIssue, PolicyViolation, QradarFalsePositive, Undefined, Suspicious
    }
}
wire_enum! {
    ClassificationReason {
        SuspiciousActivity, SuspiciousButExpected, ConfirmedActivity, InaccurateData,
        IncorrectAlertLogic, Malware, Phishing, Other
    }
}
wire_enum! {
    /// Entity kinds (DESIGN §9).
    EntityKind {
        Account, Host, Ip, File, FileHash, Process, Url, Mailbox, MailMessage, CloudApplication,
        AzureResource, Dns, RegistryKey, RegistryValue, SecurityGroup, Malware, IoTDevice
    }
}
wire_enum! {
    /// Time windows of `by-entity` (the documented misspelling `FourtyEightHours` is kept).
    TimeFilteringType { ThreeHours, SixHours, TwelveHours, TwentyFourHours, FourtyEightHours, Custom }
}

// ---------------------------------------------------------------- ingest model (input)

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OwnerInput {
    pub user_id: Option<String>,
    pub email: Option<String>,
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EntityInput {
    pub id: Option<String>,
    #[schemars(with = "Spelled<EntityKind>")]
    pub kind: Option<String>,
    #[schemars(required)]
    pub display_name: Option<String>,
    pub properties: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertInput {
    pub id: Option<String>,
    #[schemars(required)]
    pub title: Option<String>,
    #[schemars(with = "Option<Spelled<Severity>>")]
    pub severity: Option<String>,
    pub product_name: Option<String>,
    pub vendor_name: Option<String>,
    pub status: Option<String>,
    #[schemars(with = "Option<DateTime<Utc>>")]
    pub created_at: Option<String>,
    pub entity_ids: Option<Vec<String>>,
}

/// An evidence table: column names and rows of JSON values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<serde_json::Value>>,
}

/// One incident in Palisade's model (`PUT …/incidents/{source}/{incidentId}`). Everything but
/// `title` and `severity` is optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("IncidentInput"))]
pub struct IncidentInput {
    /// The incident id: required in a batch; on the single-incident `PUT` the path gives it
    /// (a different `id` in the body is refused).
    pub id: Option<String>,
    #[schemars(required)]
    pub title: Option<String>,
    pub description: Option<String>,
    #[schemars(with = "Spelled<Severity>")]
    pub severity: Option<String>,
    /// Default `New`.
    #[schemars(with = "Option<Spelled<IncidentStatus>>")]
    pub status: Option<String>,
    #[schemars(with = "Option<Spelled<Classification>>")]
    pub classification: Option<String>,
    #[schemars(with = "Option<Spelled<ClassificationReason>>")]
    pub classification_reason: Option<String>,
    pub classification_comment: Option<String>,
    /// Assigned per workspace (increasing) when absent.
    pub number: Option<i64>,
    pub owner: Option<OwnerInput>,
    pub labels: Option<Vec<String>>,
    pub tactics: Option<Vec<String>>,
    pub alert_product_names: Option<Vec<String>>,
    #[schemars(with = "Option<DateTime<Utc>>")]
    pub created_at: Option<String>,
    #[schemars(with = "Option<DateTime<Utc>>")]
    pub updated_at: Option<String>,
    #[schemars(with = "Option<DateTime<Utc>>")]
    pub first_activity_at: Option<String>,
    #[schemars(with = "Option<DateTime<Utc>>")]
    pub last_activity_at: Option<String>,
    pub provider_url: Option<String>,
    pub entities: Option<Vec<EntityInput>>,
    pub alerts: Option<Vec<AlertInput>>,
    pub evidence: Option<Evidence>,
}

/// The schema of a batch item: an incident in Palisade's model, with its `id` (schema only;
/// batch items are parsed one by one, so that a bad item is that item's failure).
pub struct BatchIncident;

impl JsonSchema for BatchIncident {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "BatchIncident".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let incident = generator.subschema_for::<IncidentInput>();
        schemars::json_schema!({
            "description": "An incident in Palisade's model with its `id`.",
            "allOf": [incident],
            "required": ["id"],
        })
    }
}

/// Body of `POST …/incidents/{source}/ingest`: up to 1,000 incidents.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("IngestBatchRequest"))]
pub struct IngestBatchRequest {
    /// Each item is an incident in Palisade's model with its `id`.
    #[schemars(with = "Vec<BatchIncident>")]
    pub incidents: Option<Vec<IncidentInput>>,
}

wire_enum! { IngestOutcome { Created, Updated, Unchanged, Rejected } }

/// The result of ingesting one incident.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngestResult {
    pub index: usize,
    pub id: Option<String>,
    pub result: IngestOutcome,
    pub number: Option<i64>,
    /// Fields that changed (for `Updated`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FieldChange>,
    /// Validation failures (for `Rejected`), keyed by JSON path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<std::collections::BTreeMap<String, Vec<String>>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("IngestBatchResult"))]
pub struct IngestBatchResult {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub rejected: usize,
    pub items: Vec<IngestResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FieldChange {
    pub field: String,
    pub from: serde_json::Value,
    pub to: serde_json::Value,
}

// ---------------------------------------------------------------- stored / output shapes

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    pub user_id: Option<String>,
    pub email: Option<String>,
    pub display_name: Option<String>,
}

impl From<&Owner> for OwnerInput {
    /// The owner as ingest takes it back (a pulled incident keeping the stored owner).
    fn from(o: &Owner) -> OwnerInput {
        OwnerInput {
            user_id: o.user_id.clone(),
            email: o.email.clone(),
            display_name: o.display_name.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Entity {
    pub id: String,
    pub kind: EntityKind,
    pub display_name: String,
    /// Present with `?withDetails=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub product_name: Option<String>,
    pub vendor_name: Option<String>,
    pub status: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    /// Present with `?withDetails=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_ids: Option<Vec<String>>,
}

/// The incident's own fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("Incident"))]
pub struct Incident {
    pub id: String,
    pub number: i64,
    pub title: String,
    pub description: Option<String>,
    pub severity: Severity,
    pub status: IncidentStatus,
    pub classification: Option<Classification>,
    pub classification_reason: Option<ClassificationReason>,
    pub classification_comment: Option<String>,
    pub owner: Option<Owner>,
    pub labels: Vec<String>,
    pub tactics: Vec<String>,
    pub alert_product_names: Vec<String>,
    pub workspace_id: Uuid,
    pub source: IncidentSource,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub first_activity_at: Option<DateTime<Utc>>,
    pub last_activity_at: Option<DateTime<Utc>>,
    pub provider_url: Option<String>,
    pub alerts_count: usize,
    pub entities_count: usize,
    /// On an incident a connector pulled: `{source: {...}}`, what the source has that this
    /// model has no field for (vendor references, unmapped values; [the connectors guide](/docs/connectors.md)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvestigationDetails {
    pub entities: Vec<Entity>,
    pub alerts: Vec<Alert>,
}

/// `GET …/incidents/{source}/{incidentId}`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IncidentDetail {
    pub source: IncidentSource,
    pub incident: Incident,
    pub investigation_details: InvestigationDetails,
    pub evidence: Evidence,
    /// Playbooks recommended for this incident by gamebook rules (empty until rules exist).
    pub gamebook_catalog: serde_json::Value,
    /// On an incident a connector pulled, once a change made in Palisade is to be written
    /// back to its source: where that stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<IncidentSync>,
}

wire_enum! {
    /// `Pending`: a change waits to be (or is being) sent to the source; `Synced`: the source
    /// has every change; `Failed`: a change was given up on (`lastError` says why).
    SyncState { Pending, Synced, Failed }
}

/// Where the write-backs of a pulled incident stand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IncidentSync {
    pub state: SyncState,
    pub last_error: Option<String>,
    pub at: DateTime<Utc>,
}

/// Response of the single-incident ingest.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngestOneResult {
    pub result: IngestOutcome,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FieldChange>,
    pub incident: IncidentDetail,
}

/// An incident comment.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("IncidentComment"))]
pub struct IncidentComment {
    pub id: String,
    pub message: String,
    pub created_time: DateTime<Utc>,
    pub author_email: Option<String>,
    pub author_name: Option<String>,
    pub is_activity_comment: bool,
    pub is_agent_comment: bool,
    pub agent_name: Option<String>,
    pub is_closing_comment: bool,
    pub ticket_note_id: Option<String>,
    pub ticket_id: Option<String>,
}

/// An item of `by-entity` (the related-incident shape).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RelatedIncident {
    pub id: String,
    pub number: i64,
    pub title: String,
    pub description: Option<String>,
    pub severity: Severity,
    pub status: IncidentStatus,
    pub source: IncidentSource,
    pub workspace_id: Uuid,
    pub creation_time: DateTime<Utc>,
    pub classification: Option<Classification>,
    pub classification_comment: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RelatedIncidents {
    pub incidents: Vec<RelatedIncident>,
}

// ---------------------------------------------------------------- cross-workspace listing

/// `timeFilterSelection` of the cross-workspace listing. An unknown field is refused (a typo
/// would silently widen the result).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TimeFilterSelection {
    /// `TwentyFourHours`, `SevenDays`, `ThirtyDays` or `Custom`.
    #[serde(rename = "type")]
    #[schemars(with = "Option<Spelled<ListingWindow>>")]
    pub type_: Option<String>,
    #[schemars(with = "Option<DateTime<Utc>>")]
    pub custom_start_utc: Option<String>,
    #[schemars(with = "Option<DateTime<Utc>>")]
    pub custom_end_utc: Option<String>,
}

/// Per-workspace, per-source continuation tokens.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkspacePageTokensInput {
    #[schemars(with = "Uuid")]
    pub workspace_id: Option<String>,
    pub source_tokens: Option<std::collections::BTreeMap<String, String>>,
}

/// Body of `POST /incidents/across-workspaces`. An unknown field is refused with
/// `VALIDATION_ERROR` naming it: ignoring a misspelt filter (`severity` for `severities`) would
/// silently widen the result.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(example = example!("AcrossWorkspacesRequest"))]
pub struct AcrossWorkspacesRequest {
    #[schemars(with = "Option<Vec<Spelled<Severity>>>")]
    pub severities: Option<Vec<String>>,
    #[schemars(with = "Option<Vec<Spelled<IncidentStatus>>>")]
    pub statuses: Option<Vec<String>>,
    /// Default: all six sources.
    #[schemars(with = "Option<Vec<Spelled<IncidentSource>>>")]
    pub sources: Option<Vec<String>>,
    /// Default: no time bound.
    pub time_filter_selection: Option<TimeFilterSelection>,
    /// `true` starts from the newest incident (tokens are then ignored). Left out, a call
    /// without tokens is a first call. `false` with no tokens is the end of a listing: an empty
    /// page with `moreIncidentsAvailable: false` (an exhausted listing stays exhausted, so a
    /// client that echoes the last, empty `sourcePageTokens` does not loop).
    pub is_first_call: Option<bool>,
    /// The previous response's `sourcePageTokens`, verbatim and complete: a continuation
    /// that leaves out a stream's token is a `VALIDATION_ERROR` naming the stream (a stream
    /// that is exhausted gets no token, and needs none).
    pub workspace_page_tokens: Option<Vec<WorkspacePageTokensInput>>,
    /// Extension: only these workspaces (at least one, at most 1,000). Workspaces the caller
    /// holds no role on are left out silently, as without the filter. Left out: every
    /// workspace the caller holds a role on.
    #[schemars(with = "Option<Vec<Uuid>>")]
    pub workspace_ids: Option<Vec<String>>,
    /// Matched against the incident id, number, title and description.
    pub query: Option<String>,
    pub assignee_emails: Option<Vec<String>>,
    /// With `assigneeEmails`: also include incidents without an owner; without them: only
    /// incidents without an owner.
    pub include_unassigned: Option<bool>,
}

/// One incident of the cross-workspace listing.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IncidentListItem {
    pub id: String,
    pub number: i64,
    pub title: String,
    pub description: Option<String>,
    pub severity: Severity,
    pub status: IncidentStatus,
    pub classification: Option<Classification>,
    pub source: IncidentSource,
    pub workspace_id: Uuid,
    pub workspace_name: String,
    pub owner: Option<Owner>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_activity_at: Option<DateTime<Utc>>,
    pub alerts_count: usize,
    pub alert_product_names: Vec<String>,
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourcePageTokens {
    pub workspace_id: Uuid,
    pub source_tokens: std::collections::BTreeMap<String, String>,
}

/// A page of `POST /incidents/across-workspaces`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcrossWorkspacesPage {
    pub incidents: Vec<IncidentListItem>,
    pub source_page_tokens: Vec<SourcePageTokens>,
    pub more_incidents_available: bool,
}

// ---------------------------------------------------------------- incident actions

/// Body of the status change (`PUT …/incidents/{source}/{incidentId}/status`). `source` is
/// required only on the legacy route without a source segment.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("StatusUpdateRequest"))]
pub struct StatusUpdateRequest {
    #[schemars(with = "Option<Spelled<IncidentSource>>")]
    pub source: Option<String>,
    pub incident_id: Option<String>,
    #[schemars(with = "Spelled<IncidentStatus>")]
    pub status: Option<String>,
    /// Added as a comment (a closing comment when closing).
    pub comment: Option<String>,
    /// Required when closing, with `classificationReason`.
    #[schemars(with = "Option<Spelled<Classification>>")]
    pub classification: Option<String>,
    #[schemars(with = "Option<Spelled<ClassificationReason>>")]
    pub classification_reason: Option<String>,
    pub classification_comment: Option<String>,
}

/// Body of the assignment (`PUT …/assign`); no `userId` and no `email` unassigns.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("AssignRequest"))]
pub struct AssignRequest {
    #[schemars(with = "Option<Spelled<IncidentSource>>")]
    pub source: Option<String>,
    pub user_id: Option<String>,
    pub email: Option<String>,
    pub display_name: Option<String>,
}

/// Body of `PUT …/incidents/{source}/bulk`: up to 100 incidents, one change applied to each.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("BulkUpdateRequest"))]
pub struct BulkUpdateRequest {
    #[schemars(required)]
    pub incident_ids: Option<Vec<String>>,
    #[schemars(with = "Option<Spelled<IncidentStatus>>")]
    pub status: Option<String>,
    #[schemars(with = "Option<Spelled<Classification>>")]
    pub classification: Option<String>,
    #[schemars(with = "Option<Spelled<ClassificationReason>>")]
    pub classification_reason: Option<String>,
    pub classification_comment: Option<String>,
    pub comment: Option<String>,
    pub assignee: Option<AssignRequest>,
}

/// A per-item failure of a bulk operation.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemError {
    pub code: String,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<std::collections::BTreeMap<String, Vec<String>>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkItemResult {
    pub incident_id: String,
    pub success: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FieldChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ItemError>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkUpdateResult {
    pub succeeded: usize,
    pub failed: usize,
    pub items: Vec<BulkItemResult>,
}

/// Body of comment create and update.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("CommentRequest"))]
pub struct CommentRequest {
    #[schemars(required)]
    pub content: Option<String>,
    /// Required only on the legacy route without a source segment.
    #[schemars(with = "Option<Spelled<IncidentSource>>")]
    pub source: Option<String>,
    /// The originating extension (SIEM connection), recorded for write-back.
    pub extension_id: Option<String>,
    pub incident_id: Option<String>,
    pub comment_id: Option<String>,
}

/// `GET …/summary`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IncidentSummary {
    pub incident_id: String,
    pub number: i64,
    pub source: IncidentSource,
    pub workspace_id: Uuid,
    pub title: String,
    pub severity: Severity,
    pub status: IncidentStatus,
    /// A one-paragraph synopsis built from the incident's fields.
    pub summary: String,
    pub owner: Option<Owner>,
    pub created_at: DateTime<Utc>,
    pub last_activity_at: Option<DateTime<Utc>>,
    pub alerts_count: usize,
    /// Entity counts by kind.
    pub entity_counts: std::collections::BTreeMap<String, usize>,
    pub alert_product_names: Vec<String>,
    pub tactics: Vec<String>,
}

/// `GET …/alert-rules`: the detection rules (alert titles per product) behind an incident.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertRule {
    pub rule_name: String,
    pub product_name: Option<String>,
    pub vendor_name: Option<String>,
    pub severity: Severity,
    pub alert_count: usize,
    pub alert_ids: Vec<String>,
}
