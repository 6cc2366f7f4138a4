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
