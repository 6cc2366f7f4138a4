//! Webhook configurations, delivery logs and the delivered event body (facts §11, DESIGN §6).
//!
//! Request types keep enum-valued fields as strings so an unknown value is reported as a
//! `VALIDATION_ERROR` naming the field.

use crate::examples::example;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::spelling::{EventTypeName, Spelled};

/// Webhook status: `Active` delivers, `Paused` holds deliveries until `resume`, `Disabled`
/// (after repeated failures or a `410 Gone`) holds them until `enable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum WebhookStatus {
    Active,
    Paused,
    Disabled,
}

impl WebhookStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookStatus::Active => "Active",
            WebhookStatus::Paused => "Paused",
            WebhookStatus::Disabled => "Disabled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Active" => Some(WebhookStatus::Active),
            "Paused" => Some(WebhookStatus::Paused),
            "Disabled" => Some(WebhookStatus::Disabled),
            _ => None,
        }
    }
}

/// How a delivery authenticates to the receiver. Input also accepts the documented aliases
/// `BearerToken` and `BasicAuth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum WebhookAuthType {
    None,
    Bearer,
    Basic,
    ApiKey,
}

impl WebhookAuthType {
    pub const NAMES: &'static [&'static str] = &["None", "Bearer", "Basic", "ApiKey"];
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookAuthType::None => "None",
            WebhookAuthType::Bearer => "Bearer",
            WebhookAuthType::Basic => "Basic",
            WebhookAuthType::ApiKey => "ApiKey",
        }
    }
    /// Case-insensitive, with the documented aliases.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Some(WebhookAuthType::None),
            "bearer" | "bearertoken" => Some(WebhookAuthType::Bearer),
            "basic" | "basicauth" => Some(WebhookAuthType::Basic),
            "apikey" => Some(WebhookAuthType::ApiKey),
            _ => None,
        }
    }
}

/// A webhook configuration (`GET /webhooks/{id}`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("Webhook"))]
pub struct Webhook {
    pub id: Uuid,
    /// The organization (service provider) owning the webhook.
    pub service_provider_id: Uuid,
    pub target_account_id: Uuid,
    pub target_account_name: String,
    /// When set, only events of this workspace are delivered.
    pub workspace_id: Option<Uuid>,
    pub name: String,
    pub url: String,
    pub status: WebhookStatus,
    pub event_types: Vec<String>,
    /// When non-empty, only events of these accounts are delivered.
    pub monitored_account_ids: Vec<Uuid>,
    pub authentication_type: WebhookAuthType,
    /// The header an `ApiKey` credential is sent in (default `X-API-Key`).
    pub api_key_header: Option<String>,
    pub has_signing_token: bool,
    pub disable_reason: Option<String>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub last_modified_at: DateTime<Utc>,
}

/// `POST /webhooks` answer: the configuration plus its signing secret, shown only here.
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("WebhookCreated"))]
pub struct WebhookCreated {
    #[serde(flatten)]
    pub webhook: Webhook,
    /// The HMAC signing secret (`whsec_…` when generated). Shown once.
    pub signing_secret: String,
}

/// Body of `POST /webhooks` and `PUT /webhooks/{id}`. On update, absent fields are left
/// unchanged; credentials change through `POST /webhooks/{id}/credentials`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("WebhookRequest"))]
pub struct WebhookRequest {
    pub name: Option<String>,
    pub url: Option<String>,
    /// Names from `GET /webhooks/event-types`; versioned names (`incident.created.v1`) are
    /// accepted.
    #[schemars(with = "Option<Vec<Spelled<EventTypeName>>>")]
    pub event_types: Option<Vec<String>>,
    #[schemars(with = "Option<Vec<Uuid>>")]
    pub monitored_account_ids: Option<Vec<String>>,
    /// Restricts the webhook to one workspace; `null` on update clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schemars(with = "Option<String>")]
    pub workspace_id: Option<Option<String>>,
    /// Defaults to the organization's own account.
    #[schemars(with = "Option<Uuid>")]
    pub target_account_id: Option<String>,
    /// `None`, `Bearer`, `Basic`, `ApiKey` (create only).
    #[schemars(with = "Option<Spelled<WebhookAuthType>>")]
    pub authentication_type: Option<String>,
    /// Bearer token or API key (create only).
    pub token: Option<String>,
    /// Basic credentials (create only).
    pub username: Option<String>,
    pub password: Option<String>,
    /// Header for `ApiKey` (default `X-API-Key`).
    pub api_key_header: Option<String>,
    /// Your own signing secret; when absent one is generated (create only).
    pub signing_token: Option<String>,
}

/// Body of `POST /webhooks/{id}/credentials`: replaces the delivery credentials. A
/// `signingToken` replaces the signing secret; absent, the current one is kept.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("WebhookCredentialsRequest"))]
pub struct WebhookCredentialsRequest {
    #[schemars(with = "Spelled<WebhookAuthType>")]
    pub authentication_type: Option<String>,
    pub token: Option<String>,
    pub signing_token: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub api_key_header: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookCredentialsResult {
    pub id: Uuid,
    pub authentication_type: WebhookAuthType,
    pub has_signing_token: bool,
}

/// One entry of the event catalogue (`GET /webhooks/event-types`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventTypeInfo {
    /// The subscription name (`incident.created`).
    pub name: String,
    /// The schema name sent in `X-CF-Schema` and the body's `type` (`incident.created.v1`).
    pub schema: String,
    pub description: String,
}

/// Delivery status of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DeliveryStatus {
    /// Queued (a redelivery not yet attempted).
    Pending,
    Succeeded,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "Pending",
            DeliveryStatus::Succeeded => "Succeeded",
            DeliveryStatus::Failed => "Failed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Pending" => Some(DeliveryStatus::Pending),
            "Succeeded" => Some(DeliveryStatus::Succeeded),
            "Failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

/// One delivery attempt: the union of both documented delivery-log shapes.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryLog {
    pub id: Uuid,
    pub webhook_configuration_id: Uuid,
    /// The `X-CF-Event-Id`; the same on every attempt of one event.
    pub event_id: Uuid,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub success: bool,
    pub http_status_code: Option<u16>,
    pub error_message: Option<String>,
    pub event_source_account_id: Option<Uuid>,
    pub event_source_account_name: Option<String>,
    pub event_subject_id: Option<String>,
    pub event_subject_display_name: Option<String>,
    pub event_subject_attributes: serde_json::Value,
    pub is_test: bool,
    /// The delivery this one re-sends (`redeliver`).
    pub original_delivery_id: Option<Uuid>,
    /// 1 for the first attempt of an event, counting retries.
    pub attempt_number: u32,
    pub latency_ms: Option<u64>,
    /// Same value as `latencyMs`.
    pub duration_ms: Option<u64>,
    pub request_url: String,
    /// The headers sent, with credential values masked.
    pub request_headers: serde_json::Map<String, serde_json::Value>,
    /// The exact body sent (same as `eventPayload`).
    pub request_body: String,
    pub event_payload: String,
    /// The first 1 KiB of the receiver's answer (same as `responseBody`).
    pub response_snippet: Option<String>,
    pub response_body: Option<String>,
    pub event_occurred_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub redelivery_requested_at: Option<DateTime<Utc>>,
    /// Whether a redelivery of this attempt was requested.
    pub redelivered: bool,
    pub created_at: DateTime<Utc>,
}

/// `GET /webhooks/{id}/delivery-logs` page.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryLogPage {
    pub items: Vec<DeliveryLog>,
    pub continuation_token: Option<String>,
    pub has_more: bool,
}

/// The body of every delivery.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEventBody {
    /// Versioned event type, e.g. `incident.created.v1`.
    #[serde(rename = "type")]
    pub event_type: String,
    pub timestamp: DateTime<Utc>,
    pub is_test: bool,
    pub occurred_at: DateTime<Utc>,
    pub data: serde_json::Value,
}

fn double_option<'de, D>(d: D) -> Result<Option<Option<String>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(Some(Option::<String>::deserialize(d)?))
}
