//! Service ticket routes.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use palisade_types::tickets::*;

use crate::http::error::ApiResult;
use crate::http::extract::{path_id, Json};
use crate::http::registry::Auth;
use crate::http::respond::{Created, Data};
use crate::AppState;

pub async fn upsert(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(ws): Path<String>,
    Json(req): Json<ServiceTicketInput>,
) -> ApiResult<Response> {
    let ws = path_id("Workspace", &ws)?;
    let (ticket, created) = s.tickets().upsert(&p, ws, req).await?;
    Ok(if created {
        Created(ticket).into_response()
    } else {
        Data(ticket).into_response()
    })
}

pub async fn link(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(ws): Path<String>,
    Json(req): Json<LinkServiceTicketRequest>,
) -> ApiResult<Data<ServiceTicket>> {
    let ws = path_id("Workspace", &ws)?;
    Ok(Data(s.tickets().link(&p, ws, req).await?))
}

pub async fn unlink(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(ws): Path<String>,
    Json(req): Json<LinkServiceTicketRequest>,
) -> ApiResult<Data<bool>> {
    let ws = path_id("Workspace", &ws)?;
    Ok(Data(s.tickets().unlink(&p, ws, req).await?))
}

pub async fn priority(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(ws): Path<String>,
    Json(req): Json<TicketPriorityRequest>,
) -> ApiResult<Data<ServiceTicket>> {
    let ws = path_id("Workspace", &ws)?;
    Ok(Data(s.tickets().priority(&p, ws, req).await?))
}

pub async fn search(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(ws): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Data<Vec<ServiceTicket>>> {
    let ws = path_id("Workspace", &ws)?;
    let get = |n: &str| {
        q.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.as_str())
    };
    Ok(Data(
        s.tickets()
            .search(&p, ws, get("groupingId"), get("ticketNumber"))
            .await?,
    ))
}
