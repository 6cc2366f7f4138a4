//! Service ticket routes.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use palisade_types::tickets::*;

use crate::access::WorkspaceCtx;
use crate::http::error::ApiResult;
use crate::http::extract::Json;
use crate::http::respond::{Created, Data};
use crate::AppState;

pub async fn upsert(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Json(req): Json<ServiceTicketInput>,
) -> ApiResult<Response> {
    let (ticket, created) = s.tickets().upsert(&ctx, req).await?;
    Ok(if created {
        Created(ticket).into_response()
    } else {
        Data(ticket).into_response()
    })
}

pub async fn link(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Json(req): Json<LinkServiceTicketRequest>,
) -> ApiResult<Data<ServiceTicket>> {
    Ok(Data(s.tickets().link(&ctx, req).await?))
}

pub async fn unlink(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Json(req): Json<LinkServiceTicketRequest>,
) -> ApiResult<Data<bool>> {
    Ok(Data(s.tickets().unlink(&ctx, req).await?))
}

pub async fn priority(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Json(req): Json<TicketPriorityRequest>,
) -> ApiResult<Data<ServiceTicket>> {
    Ok(Data(s.tickets().priority(&ctx, req).await?))
}

pub async fn search(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Data<Vec<ServiceTicket>>> {
    let get = |n: &str| {
        q.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.as_str())
    };
    Ok(Data(
        s.tickets()
            .search(&ctx, get("groupingId"), get("ticketNumber"))
            .await?,
    ))
}
