//! `/accounts` and `/workspaces` handlers (extensions).

use axum::extract::{Path, State};
use palisade_types::org::{Account, CreateAccountRequest, Workspace, WorkspaceRequest};

use crate::access::OrgCtx;
use crate::http::error::ApiResult;
use crate::http::extract::{path_id, Json};
use crate::http::respond::{Created, Data};
use crate::AppState;

pub async fn list_accounts(
    State(s): State<AppState>,
    ctx: OrgCtx,
) -> ApiResult<Data<Vec<Account>>> {
    Ok(Data(s.org().list_accounts(&ctx).await?))
}

pub async fn get_account(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Path(id): Path<String>,
) -> ApiResult<Data<Account>> {
    let id = path_id("Account", &id)?;
    Ok(Data(s.org().get_account(&ctx, id).await?))
}

pub async fn create_account(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Json(req): Json<CreateAccountRequest>,
) -> ApiResult<Created<Account>> {
    Ok(Created(s.org().create_account(&ctx, req).await?))
}

pub async fn list_workspaces(
    State(s): State<AppState>,
    ctx: OrgCtx,
) -> ApiResult<Data<Vec<Workspace>>> {
    Ok(Data(s.org().list_workspaces(&ctx).await?))
}

pub async fn create_workspace(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Json(req): Json<WorkspaceRequest>,
) -> ApiResult<Created<Workspace>> {
    Ok(Created(s.org().create_workspace(&ctx, req).await?))
}

pub async fn get_workspace(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Path(id): Path<String>,
) -> ApiResult<Data<Workspace>> {
    let id = path_id("Workspace", &id)?;
    Ok(Data(s.org().get_workspace(&ctx, id).await?))
}

pub async fn update_workspace(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Path(id): Path<String>,
    Json(req): Json<WorkspaceRequest>,
) -> ApiResult<Data<Workspace>> {
    let id = path_id("Workspace", &id)?;
    Ok(Data(s.org().update_workspace(&ctx, id, req).await?))
}

pub async fn delete_workspace(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Path(id): Path<String>,
) -> ApiResult<Data<bool>> {
    let id = path_id("Workspace", &id)?;
    Ok(Data(s.org().delete_workspace(&ctx, id).await?))
}
