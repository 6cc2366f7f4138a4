//! Investigation logs: sign-in logs (modeled on Microsoft Graph `signIn`), directory audit
//! logs (the documented item), their pages and the query audit trail (docs/investigation.md).

use crate::examples::example;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::incidents::wire_enum;
use crate::spelling::Spelled;

wire_enum! { RiskLevel { None, Low, Medium, High, Hidden } }
wire_enum! { ConditionalAccessStatus { Success, Failure, NotApplied } }
wire_enum! { DirectoryLogStatus { Success, Failure, Timeout } }

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignInLocation {
    pub city: Option<String>,
    pub state: Option<String>,
    pub country_or_region: Option<String>,
}

/// `errorCode` 0 is a successful sign-in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignInStatus {
    pub error_code: Option<i64>,
    pub failure_reason: Option<String>,
    pub additional_details: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignInDevice {
    pub device_id: Option<String>,
    pub display_name: Option<String>,
    pub operating_system: Option<String>,
    pub browser: Option<String>,
    pub is_compliant: Option<bool>,
    pub is_managed: Option<bool>,
    pub trust_type: Option<String>,
}

/// A sign-in event as ingested (`POST …/signin-logs/ingest`). `createdDateTime` and one of
/// `userId` / `userPrincipalName` are required.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignInLogInput {
    /// Unique per workspace; re-sending an id is skipped. Generated when absent.
    pub id: Option<String>,
    #[schemars(with = "DateTime<Utc>")]
    pub created_date_time: Option<String>,
    pub user_id: Option<String>,
    pub user_principal_name: Option<String>,
    pub user_display_name: Option<String>,
    pub app_id: Option<String>,
    pub app_display_name: Option<String>,
    pub resource_display_name: Option<String>,
    pub ip_address: Option<String>,
    pub location: Option<SignInLocation>,
    pub status: Option<SignInStatus>,
    pub client_app_used: Option<String>,
    pub device_detail: Option<SignInDevice>,
    #[schemars(with = "Option<Spelled<RiskLevel>>")]
    pub risk_level_during_sign_in: Option<String>,
    #[schemars(with = "Option<Spelled<RiskLevel>>")]
    pub risk_level_aggregated: Option<String>,
    pub risk_state: Option<String>,
    #[schemars(with = "Option<Spelled<ConditionalAccessStatus>>")]
    pub conditional_access_status: Option<String>,
    pub is_interactive: Option<bool>,
    pub correlation_id: Option<String>,
}

/// A sign-in event as returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignInLog {
    pub id: String,
    pub created_date_time: DateTime<Utc>,
    pub user_id: Option<String>,
    pub user_principal_name: Option<String>,
    pub user_display_name: Option<String>,
    pub app_id: Option<String>,
    pub app_display_name: Option<String>,
    pub resource_display_name: Option<String>,
    pub ip_address: Option<String>,
    pub location: SignInLocation,
    pub status: SignInStatus,
    pub client_app_used: Option<String>,
    pub device_detail: SignInDevice,
    pub risk_level_during_sign_in: RiskLevel,
    pub risk_level_aggregated: RiskLevel,
    pub risk_state: Option<String>,
    pub conditional_access_status: ConditionalAccessStatus,
    pub is_interactive: bool,
    pub correlation_id: Option<String>,
}

/// A directory audit entry as ingested. `date`, `activity` and one of `userId` /
/// `userPrincipalName` (the user the entry concerns: its actor, or its target when a service
/// acted) are required.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryLogInput {
    pub id: Option<String>,
    #[schemars(with = "DateTime<Utc>")]
    pub date: Option<String>,
    pub service: Option<String>,
    #[schemars(required)]
    pub activity: Option<String>,
    pub category: Option<String>,
    /// `Success` (default), `Failure` or `Timeout`.
    #[schemars(with = "Option<Spelled<DirectoryLogStatus>>")]
    pub status: Option<String>,
    pub status_reason: Option<String>,
    pub target_resources: Option<Vec<String>>,
    /// Default: `targetResources` joined with `", "`.
    pub targets: Option<String>,
    /// Who acted (a UPN, an app or a service name).
    pub actor: Option<String>,
    pub user_id: Option<String>,
    pub user_principal_name: Option<String>,
}

/// A directory audit entry as returned: the documented item plus `id`, `userId` and
/// `userPrincipalName`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryLog {
    pub id: String,
    pub date: DateTime<Utc>,
    pub service: Option<String>,
    pub activity: String,
    pub category: Option<String>,
    pub status: DirectoryLogStatus,
    pub status_reason: Option<String>,
    pub target_resources: Vec<String>,
    pub targets: String,
    pub actor: Option<String>,
    pub user_id: Option<String>,
    pub user_principal_name: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("SignInLogIngestRequest"))]
pub struct SignInLogIngestRequest {
    /// 1 to 1,000 items.
    #[schemars(required)]
    pub items: Option<Vec<SignInLogInput>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("DirectoryLogIngestRequest"))]
pub struct DirectoryLogIngestRequest {
    /// 1 to 1,000 items.
    #[schemars(required)]
    pub items: Option<Vec<DirectoryLogInput>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogIngestResult {
    pub received: usize,
    pub ingested: u64,
    /// Items whose id the workspace already held (skipped).
    pub duplicates: u64,
}

/// One page of sign-in logs.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignInLogPage {
    /// Newest first.
    pub items: Vec<SignInLog>,
    /// Relative URL of the next page (same parameters plus a sealed `NextPageLink`); `null`
    /// on the last page.
    pub next_page_link: Option<String>,
    pub message: String,
    /// Whether the workspace has a connected sign-in log connector.
    pub can_retrieve_data: bool,
}

/// One page of directory audit logs.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryLogPage {
    pub items: Vec<DirectoryLog>,
    pub next_page_link: Option<String>,
    pub message: String,
    /// Whether the workspace has a connected directory audit log connector.
    pub can_retrieve_data: bool,
}

/// One recorded investigation query.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvestigationAuditEntry {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub service_account_id: Uuid,
    pub credential_id: Uuid,
    /// `SignInLogs` or `DirectoryLogs`.
    pub log_type: String,
    /// `null` when the query covered every user of the workspace.
    pub user_id: Option<String>,
    pub time_filtering_type: String,
    pub start_date: DateTime<Utc>,
    pub end_date: DateTime<Utc>,
    /// A follow-up page (`NextPageLink` given).
    pub continuation: bool,
    pub entity_name: Option<String>,
    pub resource_id: Option<String>,
    pub resource_name: Option<String>,
    pub result_count: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvestigationAuditPage {
    pub items: Vec<InvestigationAuditEntry>,
    pub continuation_token: Option<String>,
    pub has_more: bool,
}
