//! The audit log: every change made through the API or the console (an extension).

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One change: who (`actorKind`, `actorId`, `actorName`), what (`action`, `target`,
/// `status`), when (`at`) and from where (`address`, the peer address of the request).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    /// `ServiceAccount` or `User`.
    pub actor_kind: String,
    pub actor_id: Uuid,
    pub actor_name: String,
    /// `Api` (a service-account credential) or `Console` (a signed-in user).
    pub channel: String,
    /// The operation: the method and route template of an API call
    /// (`PUT /api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/status`), or a
    /// console action (`console.sign-in`, `console.incident.status`, …).
    pub action: String,
    /// The path the operation was applied to.
    pub target: String,
    /// The HTTP status of the outcome.
    pub status: u16,
    /// The peer address the request came from.
    pub address: Option<String>,
    /// The request id (`X-Request-Id`) of the change.
    pub request_id: Option<String>,
}

/// `GET /audit-log` page, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditLogPage {
    pub items: Vec<AuditEntry>,
    pub continuation_token: Option<String>,
    pub has_more: bool,
}
