//! Webhook configurations (`configs.rs`), and the delivery job queue and delivery logs
//! (`deliveries.rs`).
//!
//! Flow: a state change writes an `events` row in its own transaction (outbox). The
//! dispatcher ([`crate::System::dispatch_events`]) reads the events after its cursor, queues
//! one [`DELIVERY_KIND`] job per matching webhook (keyed by the webhook) and moves its cursor,
//! in one transaction, so each event fans out exactly once however many replicas run it. The
//! job runtime (`crates/jobs`) claims and works the jobs; their outcomes are recorded with
//! [`crate::System::record_deliveries`]: a delivery log per attempt, the job's lease ended,
//! the webhook's failure run updated — again in one transaction.

mod configs;
mod deliveries;

use uuid::Uuid;

use crate::db::row::{Flag, JsonText, NullText};

/// A stored webhook configuration, secrets still sealed.
#[derive(Clone, sqlx::FromRow)]
pub struct WebhookRow {
    #[sqlx(try_from = "String")]
    pub id: Uuid,
    #[sqlx(rename = "organization_id", try_from = "String")]
    pub org: Uuid,
    #[sqlx(try_from = "String")]
    pub target_account_id: Uuid,
    #[sqlx(rename = "account_name", try_from = "NullText")]
    pub target_account_name: String,
    #[sqlx(try_from = "NullText")]
    pub workspace_id: Option<Uuid>,
    pub name: String,
    pub url: String,
    pub status: String,
    #[sqlx(try_from = "JsonText")]
    pub event_types: Vec<String>,
    #[sqlx(try_from = "JsonText")]
    pub monitored_account_ids: Vec<Uuid>,
    pub authentication_type: String,
    pub api_key_header: Option<String>,
    pub sealed_credentials: Option<String>,
    pub sealed_signing_secret: Option<String>,
    pub disable_reason: Option<String>,
    pub disabled_at: Option<i64>,
    pub consecutive_failures: i64,
    pub created_at: i64,
    pub last_modified_at: i64,
}

impl std::fmt::Debug for WebhookRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookRow")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// The editable part of a webhook. The target account and the workspace must be the
/// organization's own.
#[derive(Clone)]
pub struct WebhookFields {
    pub target_account_id: Uuid,
    pub workspace_id: Option<crate::WorkspaceId>,
    pub name: String,
    pub url: String,
    pub event_types: Vec<String>,
    pub monitored_account_ids: Vec<Uuid>,
}

/// Delivery credentials of a webhook (sealed by the caller).
#[derive(Clone)]
pub struct WebhookSecrets {
    pub authentication_type: String,
    pub api_key_header: Option<String>,
    pub sealed_credentials: Option<String>,
    pub sealed_signing_secret: Option<String>,
}

/// An outbox event awaiting fan-out.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingEvent {
    #[sqlx(try_from = "String")]
    pub id: Uuid,
    #[sqlx(rename = "organization_id", try_from = "String")]
    pub org: Uuid,
    #[sqlx(try_from = "NullText")]
    pub workspace_id: Option<Uuid>,
    #[sqlx(try_from = "NullText")]
    pub account_id: Option<Uuid>,
    pub event_type: String,
    pub subject_id: String,
    pub payload: String,
    pub occurred_at: i64,
    pub created_at: i64,
    /// Where the event stands in the outbox.
    #[sqlx(flatten)]
    pub position: crate::Position,
}

/// The job kind of webhook deliveries; its jobs are keyed by webhook id.
pub const DELIVERY_KIND: &str = "webhook.delivery";

/// One delivery of one event to one webhook: the payload of a [`DELIVERY_KIND`] job.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Delivery {
    pub org: Uuid,
    pub webhook_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub body: String,
    pub account_id: Option<Uuid>,
    pub subject_id: Option<String>,
    pub subject_display_name: Option<String>,
    pub subject_attributes: Option<String>,
    pub occurred_at: Option<i64>,
    /// Set on redeliveries: the log re-sent, and the pending log the first attempt completes.
    pub original_delivery_id: Option<Uuid>,
    pub pending_log_id: Option<Uuid>,
}

impl Delivery {
    /// The log of an attempt of this delivery, with what the delivery itself says (event,
    /// subject, request body, redelivery link) and the attempt's `status`, number, target and
    /// start; the attempt's outcome (HTTP status, error, latency, headers, response,
    /// completion) is the caller's to fill in.
    pub fn attempt_log(
        &self,
        status: &str,
        attempt_number: i64,
        request_url: String,
        started_at: i64,
    ) -> LogRow {
        LogRow {
            id: Uuid::new_v4(),
            org: self.org,
            webhook_id: self.webhook_id,
            event_id: self.event_id,
            event_type: self.event_type.clone(),
            status: status.into(),
            http_status_code: None,
            error_message: None,
            account_id: self.account_id,
            account_name: None,
            subject_id: self.subject_id.clone(),
            subject_display_name: self.subject_display_name.clone(),
            subject_attributes: self.subject_attributes.clone(),
            is_test: false,
            original_delivery_id: self.original_delivery_id,
            attempt_number,
            latency_ms: None,
            request_url,
            request_headers: "{}".into(),
            request_body: self.body.clone(),
            response_snippet: None,
            event_occurred_at: self.occurred_at,
            completed_at: None,
            redelivery_requested_at: None,
            redelivered: false,
            created_at: started_at,
        }
    }
}

/// One recorded attempt.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LogRow {
    #[sqlx(try_from = "String")]
    pub id: Uuid,
    #[sqlx(rename = "organization_id", try_from = "String")]
    pub org: Uuid,
    #[sqlx(try_from = "String")]
    pub webhook_id: Uuid,
    #[sqlx(try_from = "String")]
    pub event_id: Uuid,
    pub event_type: String,
    pub status: String,
    pub http_status_code: Option<i64>,
    pub error_message: Option<String>,
    #[sqlx(try_from = "NullText")]
    pub account_id: Option<Uuid>,
    pub account_name: Option<String>,
    pub subject_id: Option<String>,
    pub subject_display_name: Option<String>,
    pub subject_attributes: Option<String>,
    #[sqlx(try_from = "Flag")]
    pub is_test: bool,
    #[sqlx(try_from = "NullText")]
    pub original_delivery_id: Option<Uuid>,
    pub attempt_number: i64,
    pub latency_ms: Option<i64>,
    pub request_url: String,
    pub request_headers: String,
    pub request_body: String,
    pub response_snippet: Option<String>,
    pub event_occurred_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub redelivery_requested_at: Option<i64>,
    #[sqlx(try_from = "Flag")]
    pub redelivered: bool,
    pub created_at: i64,
}

/// What became of a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryFate {
    /// Delivered: the webhook's failure run resets.
    Delivered,
    /// Failed; tried again later.
    Retry,
    /// Failed for the last time: counts as a failed event.
    GiveUp,
    /// The receiver answered 410 Gone: the webhook is disabled at once; the job is kept and
    /// tried again after `enable`.
    Gone,
    /// Not attempted (the webhook is held or gone): nothing to record but the lease's end.
    Release,
}

/// One worked delivery, to record.
#[derive(Debug, Clone)]
pub struct DeliveryRecord {
    /// The job's end, as the runtime decided it.
    pub finish: crate::JobFinish,
    pub fate: DeliveryFate,
    /// `None` for [`DeliveryFate::Release`].
    pub log: Option<LogRow>,
    /// Update the pre-written pending log row instead of inserting one.
    pub pending_log_id: Option<Uuid>,
}

/// The webhook-level consequences of a batch of completions.
#[derive(Debug, Default)]
pub struct CompletionEffects {
    /// Webhooks disabled by this batch, with the reason.
    pub disabled: Vec<(Uuid, String)>,
}

const WEBHOOK_COLUMNS: &str =
    "w.id, w.organization_id, w.target_account_id, a.name AS account_name, \
     w.workspace_id, w.name, w.url, w.status, w.event_types, w.monitored_account_ids, \
     w.authentication_type, w.api_key_header, w.sealed_credentials, w.sealed_signing_secret, \
     w.disable_reason, w.disabled_at, w.consecutive_failures, w.created_at, w.last_modified_at";

/// The `FROM` of webhook reads: the target account's name comes along.
const WEBHOOK_FROM: &str = "webhooks w LEFT JOIN accounts a ON a.id = w.target_account_id";
