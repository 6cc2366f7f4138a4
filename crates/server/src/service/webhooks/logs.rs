//! Delivery logs of a webhook: test events, the log listing and one log, redelivery.

use chrono::{DateTime, Utc};
use palisade_domain::time::{from_micros, to_micros};
use palisade_domain::{Error, Result, Validator};
use palisade_store::{LogRow, OrgId};
use palisade_types::webhooks::*;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{parse_instant, WebhookService};
use crate::access::OrgCtx;
use crate::paging::{finish_page, open_after, page_size, seal_after};
use crate::webhooks::{event_body, schema_name, Target};

const MAX_LOG_PAGE: i64 = 100;

/// Query of `GET /webhooks/{id}/delivery-logs`.
#[derive(Debug, Default)]
pub struct LogQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub page_size: Option<String>,
    pub continuation_token: Option<String>,
}

fn log_to_wire(l: &LogRow) -> DeliveryLog {
    let headers = serde_json::from_str::<Value>(&l.request_headers)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    let attributes = l
        .subject_attributes
        .as_deref()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_else(|| json!({}));
    let status = DeliveryStatus::parse(&l.status).unwrap_or(DeliveryStatus::Failed);
    DeliveryLog {
        id: l.id,
        webhook_configuration_id: l.webhook_id,
        event_id: l.event_id,
        event_type: l.event_type.clone(),
        status,
        success: status == DeliveryStatus::Succeeded,
        http_status_code: l.http_status_code.and_then(|c| u16::try_from(c).ok()),
        error_message: l.error_message.clone(),
        event_source_account_id: l.account_id,
        event_source_account_name: l.account_name.clone(),
        event_subject_id: l.subject_id.clone(),
        event_subject_display_name: l.subject_display_name.clone(),
        event_subject_attributes: attributes,
        is_test: l.is_test,
        original_delivery_id: l.original_delivery_id,
        attempt_number: l.attempt_number.max(0) as u32,
        latency_ms: l.latency_ms.map(|v| v.max(0) as u64),
        duration_ms: l.latency_ms.map(|v| v.max(0) as u64),
        request_url: l.request_url.clone(),
        request_headers: headers,
        request_body: l.request_body.clone(),
        event_payload: l.request_body.clone(),
        response_snippet: l.response_snippet.clone(),
        response_body: l.response_snippet.clone(),
        event_occurred_at: l.event_occurred_at.map(from_micros),
        completed_at: l.completed_at.map(from_micros),
        redelivery_requested_at: l.redelivery_requested_at.map(from_micros),
        redelivered: l.redelivered,
        created_at: from_micros(l.created_at),
    }
}

/// The single delivery log's `createdAt` (the documented partition key): an ISO-8601
/// instant; a `+` decoded to a space by a careless client is forgiven.
fn parse_created_at(raw: Option<&str>) -> Result<DateTime<Utc>> {
    let raw = raw.ok_or_else(|| {
        Error::field(
            "createdAt",
            "createdAt is required: the createdAt of the delivery log (ISO 8601).",
        )
    })?;
    let fixed = raw.trim().replace(' ', "+");
    DateTime::parse_from_rfc3339(&fixed)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| Error::field("createdAt", "createdAt must be an ISO 8601 date-time."))
}

impl WebhookService {
    /// Sends a test `incident.created.v1` event now, whatever the webhook's status, and
    /// returns its delivery log. Test deliveries never count toward auto-disable.
    pub async fn test(&self, ctx: &OrgCtx, id: Uuid) -> Result<DeliveryLog> {
        let row = self.row(&ctx.org, id).await?;
        let target = Target::open(&row, &self.secrets);
        let now = palisade_domain::time::now();
        let event_id = Uuid::new_v4();
        let incident_id = format!("TEST-{}", &event_id.simple().to_string()[..8]);
        let data = palisade_domain::events::test_incident_data(
            (row.target_account_id, &row.target_account_name),
            row.workspace_id,
            &incident_id,
            now,
        );
        let event_type = "incident.created";
        let body = event_body(event_type, now, now, true, &data.to_string());
        let attempt = self
            .deliverer
            .attempt(&target, event_id, &schema_name(event_type), &body, true)
            .await;
        let job = palisade_store::Delivery {
            org: ctx.org.uuid(),
            webhook_id: row.id,
            event_id,
            event_type: event_type.into(),
            body,
            account_id: Some(row.target_account_id),
            subject_id: Some(incident_id),
            subject_display_name: Some("Palisade test event".into()),
            subject_attributes: Some(
                json!({"source": "sentinel", "incidentNumber": 0}).to_string(),
            ),
            occurred_at: Some(to_micros(now)),
            original_delivery_id: None,
            pending_log_id: None,
        };
        let mut log = crate::webhooks::delivery::log_row(&job, &row, &attempt, 1, true);
        self.store.tenant(&ctx.org).insert_test_log(&log).await?;
        log.account_name = Some(row.target_account_name.clone());
        Ok(log_to_wire(&log))
    }

    pub async fn logs(&self, ctx: &OrgCtx, id: Uuid, q: LogQuery) -> Result<DeliveryLogPage> {
        self.row(&ctx.org, id).await?;
        let mut v = Validator::new();
        let from = parse_instant(&mut v, "from", q.from.as_deref());
        let to = parse_instant(&mut v, "to", q.to.as_deref());
        let page_size = page_size(&mut v, q.page_size.as_deref(), None, MAX_LOG_PAGE);
        if let (Some(f), Some(t)) = (from, to) {
            if f > t {
                v.add("from", "from must not be after to.");
            }
        }
        v.finish()?;
        let page_size = page_size.expect("validated");
        let aad = self.token_aad(&ctx.org, id, from, to);
        let after = match q.continuation_token.as_deref().filter(|t| !t.is_empty()) {
            None => None,
            Some(token) => Some(self.open_token(&aad, token).ok_or_else(|| {
                Error::field(
                    "continuationToken",
                    "The continuationToken is invalid. Use the token of the previous response unmodified, with the same from and to.",
                )
            })?),
        };
        let mut rows = self
            .store
            .tenant(&ctx.org)
            .list_logs(id, from, to, after, page_size + 1)
            .await?;
        let (has_more, continuation_token) = finish_page(&mut rows, page_size, |last| {
            seal_after(&self.sealer, &aad, last.created_at, last.id)
        });
        Ok(DeliveryLogPage {
            items: rows.iter().map(log_to_wire).collect(),
            continuation_token,
            has_more,
        })
    }

    fn token_aad(&self, org: &OrgId, webhook: Uuid, from: Option<i64>, to: Option<i64>) -> Vec<u8> {
        let mut aad = org.uuid().as_bytes().to_vec();
        aad.extend_from_slice(webhook.as_bytes());
        aad.extend_from_slice(&from.unwrap_or(i64::MIN).to_be_bytes());
        aad.extend_from_slice(&to.unwrap_or(i64::MAX).to_be_bytes());
        aad
    }

    fn open_token(&self, aad: &[u8], token: &str) -> Option<(i64, Uuid)> {
        open_after(&self.sealer, aad, token)
    }

    async fn log_row(
        &self,
        ctx: &OrgCtx,
        id: Uuid,
        log_id: Uuid,
        created_at: Option<&str>,
    ) -> Result<LogRow> {
        let created_at = parse_created_at(created_at)?;
        self.row(&ctx.org, id).await?;
        let log = self
            .store
            .tenant(&ctx.org)
            .get_log(id, log_id)
            .await?
            .filter(|l| from_micros(l.created_at).date_naive() == created_at.date_naive())
            .ok_or_else(|| Error::not_found_target("Delivery log", log_id, "logId"))?;
        Ok(log)
    }

    /// One delivery log; `createdAt` must fall on the same UTC day as the log's.
    pub async fn log(
        &self,
        ctx: &OrgCtx,
        id: Uuid,
        log_id: Uuid,
        created_at: Option<&str>,
    ) -> Result<DeliveryLog> {
        Ok(log_to_wire(
            &self.log_row(ctx, id, log_id, created_at).await?,
        ))
    }

    /// Queues the logged event for delivery again; answers the new `Pending` log, linked by
    /// `originalDeliveryId`, which the delivery completes.
    pub async fn redeliver(
        &self,
        ctx: &OrgCtx,
        id: Uuid,
        log_id: Uuid,
        created_at: Option<&str>,
    ) -> Result<DeliveryLog> {
        let original = self.log_row(ctx, id, log_id, created_at).await?;
        if original.status == "Pending" {
            return Err(Error::Conflict(
                "This delivery is still pending; redeliver it once it has been attempted.".into(),
            ));
        }
        let pending = self
            .store
            .tenant(&ctx.org)
            .redeliver(id, original.id)
            .await?
            .ok_or_else(|| Error::not_found_target("Delivery log", log_id, "logId"))?;
        self.jobs.wake(palisade_store::DELIVERY_KIND);
        Ok(log_to_wire(&pending))
    }
}
