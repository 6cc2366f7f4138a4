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

// ---------------------------------------------------------------- route table

const TICKETS: &str = "Service Tickets";

/// This resource's routes, in the order of the table `super::api()` assembles.
#[rustfmt::skip]
pub(super) fn routes(api: super::Api) -> super::Api {
    use super::table::*;
    api
        .route(Method::POST, "/api/v2/workspaces/{workspaceId}/tickets", Access::Workspace(TicketsManage, IncidentResponder),
            doc("v2-upsert-ticket", TICKETS, "Create or replace a service ticket")
                .describe("Keyed by `ticketId` within the workspace; exactly one PSA sub-object. 201 when created, 200 when replaced. `number` and `priority` default to the PSA ticket's own.")
                .extension().body::<ServiceTicketInput>().created_or_replaced::<ServiceTicket>(),
            upsert)
        .route(Method::POST, "/api/v2/workspaces/{workspaceId}/tickets/link", Access::Workspace(TicketsManage, IncidentResponder),
            doc("v2-link-ticket", TICKETS, "Link a service ticket to an incident")
                .describe("Idempotent. A new link adds an activity comment carrying `ticketId` to the incident and emits `ticket.linked`.")
                .body::<LinkServiceTicketRequest>().returns::<ServiceTicket>(),
            link)
        .route(Method::POST, "/api/v2/workspaces/{workspaceId}/tickets/unlink", Access::Workspace(TicketsManage, IncidentResponder),
            doc("v2-unlink-ticket", TICKETS, "Unlink a service ticket from an incident")
                .describe("Idempotent (`true` whether or not a link existed); the ticket and the incident must exist. Same body as link.")
                .body::<LinkServiceTicketRequest>().returns::<bool>(),
            unlink)
        .route(Method::PUT, "/api/v2/workspaces/{workspaceId}/tickets/priority", Access::Workspace(TicketsManage, IncidentResponder),
            doc("v2-update-ticket-priority", TICKETS, "Update ticket priority")
                .describe("`priority` Critical, High, Medium or Low; also written into the PSA ticket's own priority field.")
                .body::<TicketPriorityRequest>().returns::<ServiceTicket>(),
            priority)
        .route(Method::GET, "/api/v2/workspaces/{workspaceId}/tickets/search", Access::Workspace(TicketsRead, WorkspaceReader),
            doc("v2-search-tickets", TICKETS, "Search service tickets")
                .describe("By `groupingId` and/or `ticketNumber` (exact); newest first, at most 100.")
                .query("groupingId", false, "The ticket's grouping id.", serde_json::json!({"type": "string"}))
                .query("ticketNumber", false, "The ticket's number.", serde_json::json!({"type": "string"}))
                .returns::<Vec<ServiceTicket>>(),
            search)
}
