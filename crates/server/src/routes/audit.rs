//! The audit log route (an extension): every change made through the API or the console.

use std::collections::HashMap;

use axum::extract::{Query, State};
use palisade_types::audit::AuditLogPage;

use super::table::*;
use crate::access::OrgCtx;
use crate::http::error::ApiResult;
use crate::http::registry::Api;
use crate::http::respond::Data;
use crate::service::audit::AuditQuery;
use crate::AppState;

pub async fn list(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Query(mut q): Query<HashMap<String, String>>,
) -> ApiResult<Data<AuditLogPage>> {
    let query = AuditQuery {
        page_size: q.remove("pageSize"),
        continuation_token: q.remove("continuationToken"),
        actor_id: q.remove("actorId"),
        since: q.remove("since"),
    };
    Ok(Data(s.audit().list(&ctx, query).await?))
}

const AUDIT: &str = "Audit";

#[rustfmt::skip]
pub fn routes(api: Api) -> Api {
    api.route(Method::GET, "/api/v2/audit-log", Org(OrgUsersRead),
        doc("v2-list-audit-log", AUDIT, "List the changes made through the API and the console, newest first")
            .describe("Every successful call that may change something (all but `GET` and reading `POST`s) and every console action is recorded with who made it (service account or user), what (method and route, or console action), the path, the outcome, when and from which peer address. Reading it needs `org:users:read` (the organization's users and what they did); users of the console read it when their organizational role is `Admin` or `UserAdmin`.")
            .extension()
            .query("pageSize", false, "Items per page, 1 to 200 (default 50)", json!({"type": "integer", "minimum": 1, "maximum": 200}))
            .query("continuationToken", false, "The previous page's continuationToken, with the same filters", json!({"type": "string"}))
            .query("actorId", false, "Only changes made by this service account or user", json!({"type": "string", "format": "uuid"}))
            .query("since", false, "Only changes made at or after this instant", json!({"type": "string", "format": "date-time"}))
            .returns::<AuditLogPage>(),
        list)
}
