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

// ---------------------------------------------------------------- route table

const USERS: &str = "Users";

/// This resource's routes, in the order of the table `super::api()` assembles.
#[rustfmt::skip]
pub(super) fn routes(api: super::Api) -> super::Api {
    use super::table::*;
    api
        .route(Method::GET, "/api/v2/users", Org(OrgUsersRead),
            doc("v2-list-users", USERS, "List organization users").returns::<Vec<User>>(),
            list)
        .route(Method::GET, "/api/v2/users/profile", Org(OrgUsersRead),
            doc("v2-get-profile", USERS, "The calling principal's profile")
                .describe("A service account gets its own identity in the user shape, with `isServiceAccount: true`.")
                .returns::<User>(),
            profile)
        .route(Method::PUT, "/api/v2/users/profile", Org(OrgUsersManage),
            doc("v2-update-profile", USERS, "Update the calling principal's profile").body::<UpdateProfileRequest>().returns::<User>(),
            update_profile)
        .route(Method::GET, "/api/v2/users/{userId}", Org(OrgUsersRead),
            doc("v2-get-user", USERS, "Get a user").returns::<User>(),
            get)
        .route(Method::POST, "/api/v2/users/workspace/users", Org(OrgUsersRead),
            doc("v2-get-workspace-users", USERS, "Users holding a role on a workspace or on an account's workspaces")
                .reads().body::<WorkspaceUsersRequest>().returns::<Vec<WorkspaceUser>>(),
            workspace_users)
        .route(Method::POST, "/api/v2/users", Org(OrgUsersManage),
            doc("v2-add-user", USERS, "Add users to the organization").body::<AddUsersRequest>().created::<bool>(),
            add)
        .route(Method::PUT, "/api/v2/users", Org(OrgUsersManage),
            doc("v2-update-user", USERS, "Update a user").body::<UserInput>().requires("UpdateUserRequest", &["userId"]).returns::<bool>(),
            update)
        .route(Method::DELETE, "/api/v2/users/{userId}", Org(OrgUsersManage),
            doc("v2-delete-user", USERS, "Remove a user from the organization").returns::<bool>(),
            delete)
        .route(Method::POST, "/api/v2/users/workspace", Org(OrgUsersManage),
            doc("v2-assign-users-to-workspace", USERS, "Assign users to a workspace with a role")
                .body::<AssignUsersToWorkspaceRequest>().returns::<bool>(),
            assign_to_workspace)
        .route(Method::PUT, "/api/v2/users/organization/role", Org(OrgUsersRoles),
            doc("v2-update-org-role", USERS, "Change a user's organizational role").body::<UpdateOrgRoleRequest>().returns::<bool>(),
            set_org_role)
}
