//! `/webhooks` handlers.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use palisade_types::webhooks::*;

use crate::access::OrgCtx;
use crate::http::error::ApiResult;
use crate::http::extract::{path_id, Json};
use crate::http::respond::{Created, Data};
use crate::service::webhooks::LogQuery;
use crate::AppState;

type Params = Query<HashMap<String, String>>;

pub async fn event_types(State(s): State<AppState>) -> Data<Vec<EventTypeInfo>> {
    Data(s.webhooks().event_types())
}

pub async fn list(State(s): State<AppState>, ctx: OrgCtx) -> ApiResult<Data<Vec<Webhook>>> {
    Ok(Data(s.webhooks().list(&ctx).await?))
}

pub async fn get(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Path(id): Path<String>,
) -> ApiResult<Data<Webhook>> {
    Ok(Data(
        s.webhooks().get(&ctx, path_id("Webhook", &id)?).await?,
    ))
}

pub async fn create(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Json(req): Json<WebhookRequest>,
) -> ApiResult<Created<WebhookCreated>> {
    Ok(Created(s.webhooks().create(&ctx, req).await?))
}

pub async fn update(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Path(id): Path<String>,
    Json(req): Json<WebhookRequest>,
) -> ApiResult<Data<Webhook>> {
    let id = path_id("Webhook", &id)?;
    Ok(Data(s.webhooks().update(&ctx, id, req).await?))
}

pub async fn delete(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Path(id): Path<String>,
) -> ApiResult<Data<bool>> {
    Ok(Data(
        s.webhooks().delete(&ctx, path_id("Webhook", &id)?).await?,
    ))
}

pub async fn pause(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Path(id): Path<String>,
) -> ApiResult<Data<Webhook>> {
    Ok(Data(
        s.webhooks().pause(&ctx, path_id("Webhook", &id)?).await?,
    ))
}

pub async fn resume(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Path(id): Path<String>,
) -> ApiResult<Data<Webhook>> {
    Ok(Data(
        s.webhooks().resume(&ctx, path_id("Webhook", &id)?).await?,
    ))
}

pub async fn enable(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Path(id): Path<String>,
) -> ApiResult<Data<Webhook>> {
    Ok(Data(
        s.webhooks().enable(&ctx, path_id("Webhook", &id)?).await?,
    ))
}

pub async fn credentials(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Path(id): Path<String>,
    Json(req): Json<WebhookCredentialsRequest>,
) -> ApiResult<Data<WebhookCredentialsResult>> {
    let id = path_id("Webhook", &id)?;
    Ok(Data(s.webhooks().credentials(&ctx, id, req).await?))
}

pub async fn test(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Path(id): Path<String>,
) -> ApiResult<Data<DeliveryLog>> {
    Ok(Data(
        s.webhooks().test(&ctx, path_id("Webhook", &id)?).await?,
    ))
}

pub async fn logs(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Path(id): Path<String>,
    Query(mut q): Params,
) -> ApiResult<Data<DeliveryLogPage>> {
    let id = path_id("Webhook", &id)?;
    let query = LogQuery {
        from: q.remove("from"),
        to: q.remove("to"),
        page_size: q.remove("pageSize"),
        continuation_token: q.remove("continuationToken"),
    };
    Ok(Data(s.webhooks().logs(&ctx, id, query).await?))
}

pub async fn log(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Path((id, log_id)): Path<(String, String)>,
    Query(q): Params,
) -> ApiResult<Data<DeliveryLog>> {
    let id = path_id("Webhook", &id)?;
    let log_id = path_id("Delivery log", &log_id)?;
    let created_at = q.get("createdAt").map(String::as_str);
    Ok(Data(s.webhooks().log(&ctx, id, log_id, created_at).await?))
}

pub async fn redeliver(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Path((id, log_id)): Path<(String, String)>,
    Query(q): Params,
) -> ApiResult<Created<DeliveryLog>> {
    let id = path_id("Webhook", &id)?;
    let log_id = path_id("Delivery log", &log_id)?;
    let created_at = q.get("createdAt").map(String::as_str);
    Ok(Created(
        s.webhooks().redeliver(&ctx, id, log_id, created_at).await?,
    ))
}

// ---------------------------------------------------------------- route table

const WEBHOOKS: &str = "Webhooks";

/// This resource's routes, in the order of the table `super::api()` assembles.
#[rustfmt::skip]
pub(super) fn routes(api: super::Api) -> super::Api {
    use super::table::*;
    api
        .route(Method::GET, "/api/v2/webhooks/event-types", Org(WebhooksRead),
            doc("v2-list-webhook-event-types", WEBHOOKS, "The event catalogue webhooks subscribe to").extension()
                .returns::<Vec<EventTypeInfo>>(),
            event_types)
        .route(Method::GET, "/api/v2/webhooks", Org(WebhooksRead),
            doc("v2-list-webhooks", WEBHOOKS, "List webhook configurations").returns::<Vec<Webhook>>(),
            list)
        .route(Method::GET, "/api/v2/webhooks/{id}", Org(WebhooksRead),
            doc("v2-get-webhook", WEBHOOKS, "Get a webhook").returns::<Webhook>(),
            get)
        .route(Method::POST, "/api/v2/webhooks", Org(WebhooksManage),
            doc("v2-create-webhook", WEBHOOKS, "Create a webhook")
                .describe("The URL is checked by the SSRF guard (https only; no private, loopback, link-local or metadata addresses unless the server allows them). `signingSecret` (generated `whsec_…` unless `signingToken` is given) is returned only in this response. Without `workspaceId` the webhook receives every workspace's events, which needs the Admin or WorkspaceAdmin organizational role.")
                .body::<WebhookRequest>().requires("CreateWebhookRequest", &["name", "url", "eventTypes"]).created::<WebhookCreated>(),
            create)
        .route(Method::PUT, "/api/v2/webhooks/{id}", Org(WebhooksManage),
            doc("v2-update-webhook", WEBHOOKS, "Update a webhook")
                .describe("Absent fields are left unchanged; `workspaceId: null` makes the webhook organization-wide. Credentials change only when `authenticationType` is given (or through `/credentials`).")
                .body::<WebhookRequest>().returns::<Webhook>(),
            update)
        .route(Method::DELETE, "/api/v2/webhooks/{id}", Org(WebhooksManage),
            doc("v2-delete-webhook", WEBHOOKS, "Delete a webhook, its queued deliveries and its logs").returns::<bool>(),
            delete)
        .route(Method::POST, "/api/v2/webhooks/{id}/pause", Org(WebhooksManage),
            doc("v2-pause-webhook", WEBHOOKS, "Pause delivery")
                .describe("Events keep being queued while paused and are sent on `resume`. 409 unless the webhook is Active.")
                .returns::<Webhook>(),
            pause)
        .route(Method::POST, "/api/v2/webhooks/{id}/resume", Org(WebhooksManage),
            doc("v2-resume-webhook", WEBHOOKS, "Resume a paused webhook; queued events are sent").returns::<Webhook>(),
            resume)
        .route(Method::POST, "/api/v2/webhooks/{id}/enable", Org(WebhooksManage),
            doc("v2-enable-webhook", WEBHOOKS, "Re-enable a webhook disabled by repeated delivery failures")
                .describe("Deliveries waiting for a retry are attempted at once. 409 unless the webhook is Disabled.")
                .returns::<Webhook>(),
            enable)
        .route(Method::POST, "/api/v2/webhooks/{id}/credentials", Org(WebhooksManage),
            doc("v2-update-webhook-credentials", WEBHOOKS, "Replace the delivery credentials (and optionally the signing secret)")
                .body::<WebhookCredentialsRequest>().returns::<WebhookCredentialsResult>(),
            credentials)
        .route(Method::POST, "/api/v2/webhooks/{id}/test", Org(WebhooksManage),
            doc("v2-test-webhook", WEBHOOKS, "Send a test event now")
                .describe("Sends a sample `incident.created.v1` body with `isTest: true` and `X-CF-Test: true`, whatever the webhook's status, and answers its delivery log. Test deliveries never count toward auto-disable.")
                .returns::<DeliveryLog>(),
            test)
        .route(Method::GET, "/api/v2/webhooks/{id}/delivery-logs", Org(WebhooksRead),
            doc("v2-list-webhook-delivery-logs", WEBHOOKS, "List delivery attempts, newest first")
                .query("pageSize", true, "Items per page, 1 to 100", json!({"type": "integer", "minimum": 1, "maximum": 100}))
                .query("from", false, "Only attempts made at or after this instant", json!({"type": "string", "format": "date-time"}))
                .query("to", false, "Only attempts made at or before this instant", json!({"type": "string", "format": "date-time"}))
                .query("continuationToken", false, "The previous page's continuationToken, with the same from and to", json!({"type": "string"}))
                .returns::<DeliveryLogPage>(),
            logs)
        .route(Method::GET, "/api/v2/webhooks/{id}/delivery-logs/{logId}", Org(WebhooksRead),
            doc("v2-get-webhook-delivery-log", WEBHOOKS, "Get one delivery attempt")
                .query("createdAt", true, "The log's createdAt (its partition key); must fall on the same UTC day", json!({"type": "string", "format": "date-time"}))
                .returns::<DeliveryLog>(),
            log)
        .route(Method::POST, "/api/v2/webhooks/{id}/delivery-logs/{logId}/redeliver", Org(WebhooksManage),
            doc("v2-redeliver-webhook-delivery", WEBHOOKS, "Send a logged event again")
                .describe("Queues the same event (same `X-CF-Event-Id` and body) for delivery and answers the new `Pending` log, linked by `originalDeliveryId`; the delivery completes that log and is retried on failure like any other.")
                .query("createdAt", true, "The log's createdAt (its partition key); must fall on the same UTC day", json!({"type": "string", "format": "date-time"}))
                .created::<DeliveryLog>(),
            redeliver)
}
