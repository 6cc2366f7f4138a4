//! Investigation routes: the documented sign-in and directory log queries, their ingest
//! (extension) and the query audit trail (extension).

use axum::extract::{Query, State};
use palisade_types::investigation::*;

use crate::access::WorkspaceCtx;
use crate::http::error::ApiResult;
use crate::http::extract::Json;
use crate::http::respond::Data;
use crate::AppState;

type Params = Query<Vec<(String, String)>>;

pub async fn signin_logs(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Query(q): Params,
) -> ApiResult<Data<SignInLogPage>> {
    Ok(Data(s.investigation().signin_logs(&ctx, &q).await?))
}

pub async fn directory_logs(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Query(q): Params,
) -> ApiResult<Data<DirectoryLogPage>> {
    Ok(Data(s.investigation().directory_logs(&ctx, &q).await?))
}

pub async fn ingest_signins(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Json(req): Json<SignInLogIngestRequest>,
) -> ApiResult<Data<LogIngestResult>> {
    Ok(Data(s.investigation().ingest_signins(&ctx, req).await?))
}

pub async fn ingest_directory(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Json(req): Json<DirectoryLogIngestRequest>,
) -> ApiResult<Data<LogIngestResult>> {
    Ok(Data(s.investigation().ingest_directory(&ctx, req).await?))
}

pub async fn audit(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Query(q): Params,
) -> ApiResult<Data<InvestigationAuditPage>> {
    Ok(Data(s.investigation().audit(&ctx, &q).await?))
}

// ---------------------------------------------------------------- route table

const INVESTIGATION: &str = "Investigation";
const LOG_QUERY_NOTE: &str = "Newest first, 100 items per page. Without `UserId`, the workspace's logs of every user. `UserId` containing `@` matches the user principal name, otherwise the user's object id (both case-insensitive). `EntityName`, `ResourceId` and `ResourceName` are recorded in the investigation audit trail only. Follow `nextPageLink` (a relative URL whose sealed `NextPageLink` is bound to the organization, workspace, user (or every user) and time filter; relative windows keep the bounds of the first page) until it is null. `canRetrieveData` tells whether the workspace has a connected connector for these logs. Every call is recorded in the audit trail (`GET …/investigation/audit`).";

/// What both log listings document: the note and their query parameters.
#[rustfmt::skip]
fn log_query(listing: super::table::Doc) -> super::table::Doc {
    use super::table::{json, spelled_schema};
    use palisade_types::incidents::TimeFilteringType;
    listing.describe(LOG_QUERY_NOTE)
        .query("UserId", false, "The user's object id, or user principal name. Left out: every user of the workspace.", json!({"type": "string"}))
        .query("TimeFilteringType", true, "ThreeHours, SixHours, TwelveHours, TwentyFourHours, FourtyEightHours, Custom.", spelled_schema::<TimeFilteringType>())
        .query("StartDate", false, "Required with Custom.", json!({"type": "string", "format": "date-time"}))
        .query("EndDate", false, "Required with Custom (inclusive; at most 90 days after StartDate).", json!({"type": "string", "format": "date-time"}))
        .query("NextPageLink", false, "The previous response's nextPageLink (or its NextPageLink parameter).", json!({"type": "string"}))
        .query("EntityName", false, "The user's display name (audit only).", json!({"type": "string"}))
        .query("ResourceId", false, "Audit anchor, typically an incident id.", json!({"type": "string"}))
        .query("ResourceName", false, "Audit anchor, typically an incident title.", json!({"type": "string"}))
}

/// This resource's routes, in the order of the table `super::api()` assembles.
#[rustfmt::skip]
pub(super) fn routes(api: super::Api) -> super::Api {
    use super::table::*;
    api
        .route(Method::GET, "/api/v2/workspaces/{workspaceId}/investigation/users/signin-logs", Access::Workspace(InvestigationRead, WorkspaceReader),
            log_query(doc("v2-list-signin-logs", INVESTIGATION, "List user sign-in logs"))
                .returns::<SignInLogPage>(),
            signin_logs)
        .route(Method::GET, "/api/v2/workspaces/{workspaceId}/investigation/users/directory-logs", Access::Workspace(InvestigationRead, WorkspaceReader),
            log_query(doc("v2-list-directory-logs", INVESTIGATION, "List directory audit logs"))
                .returns::<DirectoryLogPage>(),
            directory_logs)
        .route(Method::POST, "/api/v2/workspaces/{workspaceId}/investigation/users/signin-logs/ingest", Access::Workspace(InvestigationIngest, ContentAdmin),
            doc("v2-ingest-signin-logs", INVESTIGATION, "Ingest up to 1,000 sign-in events")
                .describe("All or nothing: any invalid item is a `VALIDATION_ERROR` naming `items[i].field`. An id the workspace already holds is skipped (`duplicates`). Counts toward the workspace's `AzureActiveDirectory` connector (created if missing).")
                .extension().body::<SignInLogIngestRequest>().returns::<LogIngestResult>(),
            ingest_signins)
        .route(Method::POST, "/api/v2/workspaces/{workspaceId}/investigation/users/directory-logs/ingest", Access::Workspace(InvestigationIngest, ContentAdmin),
            doc("v2-ingest-directory-logs", INVESTIGATION, "Ingest up to 1,000 directory audit entries")
                .describe("All or nothing, as for sign-in logs. Counts toward the workspace's `AzureActiveDirectoryAudit` connector (created if missing).")
                .extension().body::<DirectoryLogIngestRequest>().returns::<LogIngestResult>(),
            ingest_directory)
        .route(Method::GET, "/api/v2/workspaces/{workspaceId}/investigation/audit", Access::Workspace(InvestigationRead, Owner),
            doc("v2-list-investigation-audit", INVESTIGATION, "The investigation audit trail: who queried which user's logs, newest first")
                .query("pageSize", false, "1 to 100 (default 50)", json!({"type": "integer", "minimum": 1, "maximum": 100}))
                .query("continuationToken", false, "The previous page's continuationToken", json!({"type": "string"}))
                .extension().returns::<InvestigationAuditPage>(),
            audit)
}
