//! `/users` handlers.

use axum::extract::{Path, State};
use palisade_types::org::{
    AddUsersRequest, AssignUsersToWorkspaceRequest, UpdateOrgRoleRequest, UpdateProfileRequest,
    User, UserInput, WorkspaceUser, WorkspaceUsersRequest,
};

use crate::access::OrgCtx;
use crate::http::error::ApiResult;
use crate::http::extract::{path_id, Json};
use crate::http::respond::{Created, Data};
use crate::AppState;

pub async fn list(State(s): State<AppState>, ctx: OrgCtx) -> ApiResult<Data<Vec<User>>> {
    Ok(Data(s.org().list_users(&ctx).await?))
}

pub async fn get(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Path(id): Path<String>,
) -> ApiResult<Data<User>> {
    let id = path_id("User", &id)?;
    Ok(Data(s.org().get_user(&ctx, id).await?))
}

pub async fn profile(State(s): State<AppState>, ctx: OrgCtx) -> Data<User> {
    Data(s.org().profile(&ctx.principal))
}

pub async fn update_profile(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Json(req): Json<UpdateProfileRequest>,
) -> ApiResult<Data<User>> {
    Ok(Data(s.org().update_profile(&ctx, req).await?))
}

pub async fn workspace_users(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Json(req): Json<WorkspaceUsersRequest>,
) -> ApiResult<Data<Vec<WorkspaceUser>>> {
    Ok(Data(s.org().workspace_users(&ctx, req).await?))
}

pub async fn add(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Json(req): Json<AddUsersRequest>,
) -> ApiResult<Created<bool>> {
    Ok(Created(s.org().add_users(&ctx, req).await?))
}

pub async fn update(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Json(req): Json<UserInput>,
) -> ApiResult<Data<bool>> {
    Ok(Data(s.org().update_user(&ctx, req).await?))
}

pub async fn delete(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Path(id): Path<String>,
) -> ApiResult<Data<bool>> {
    let id = path_id("User", &id)?;
    Ok(Data(s.org().delete_user(&ctx, id).await?))
}

pub async fn assign_to_workspace(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Json(req): Json<AssignUsersToWorkspaceRequest>,
) -> ApiResult<Data<bool>> {
    Ok(Data(s.org().assign_users_to_workspace(&ctx, req).await?))
}

pub async fn set_org_role(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Json(req): Json<UpdateOrgRoleRequest>,
) -> ApiResult<Data<bool>> {
    Ok(Data(s.org().set_user_org_role(&ctx, req).await?))
}
