//! Investigation routes: the documented sign-in and directory log queries, their ingest
//! (extension) and the query audit trail (extension).

use axum::extract::{Path, Query, State};
use palisade_types::investigation::*;

use crate::http::error::ApiResult;
use crate::http::extract::{path_id, Json};
use crate::http::registry::Auth;
use crate::http::respond::Data;
use crate::AppState;

type Params = Query<Vec<(String, String)>>;

pub async fn signin_logs(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(ws): Path<String>,
    Query(q): Params,
) -> ApiResult<Data<SignInLogPage>> {
    let ws = path_id("Workspace", &ws)?;
    Ok(Data(s.investigation().signin_logs(&p, ws, &q).await?))
}

pub async fn directory_logs(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(ws): Path<String>,
    Query(q): Params,
) -> ApiResult<Data<DirectoryLogPage>> {
    let ws = path_id("Workspace", &ws)?;
    Ok(Data(s.investigation().directory_logs(&p, ws, &q).await?))
}

pub async fn ingest_signins(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(ws): Path<String>,
    Json(req): Json<SignInLogIngestRequest>,
) -> ApiResult<Data<LogIngestResult>> {
    let ws = path_id("Workspace", &ws)?;
    Ok(Data(s.investigation().ingest_signins(&p, ws, req).await?))
}

pub async fn ingest_directory(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(ws): Path<String>,
    Json(req): Json<DirectoryLogIngestRequest>,
) -> ApiResult<Data<LogIngestResult>> {
    let ws = path_id("Workspace", &ws)?;
    Ok(Data(s.investigation().ingest_directory(&p, ws, req).await?))
}

pub async fn audit(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(ws): Path<String>,
    Query(q): Params,
) -> ApiResult<Data<InvestigationAuditPage>> {
    let ws = path_id("Workspace", &ws)?;
    Ok(Data(s.investigation().audit(&p, ws, &q).await?))
}
