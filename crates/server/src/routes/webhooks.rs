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
