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

// ---------------------------------------------------------------- route table

const TENANCY: &str = "Accounts & Workspaces";

/// This resource's routes, in the order of the table `super::api()` assembles.
#[rustfmt::skip]
pub(super) fn routes(api: super::Api) -> super::Api {
    use super::table::*;
    api
        .route(Method::GET, "/api/v2/accounts", Org(OrgWorkspacesRead),
            doc("v2-list-accounts", TENANCY, "List the organization's accounts (its own and its customers')").extension().returns::<Vec<Account>>(),
            list_accounts)
        .route(Method::POST, "/api/v2/accounts", Org(OrgWorkspacesManage),
            doc("v2-create-account", TENANCY, "Create a customer account").extension().body::<CreateAccountRequest>().created::<Account>(),
            create_account)
        .route(Method::GET, "/api/v2/accounts/{accountId}", Org(OrgWorkspacesRead),
            doc("v2-get-account", TENANCY, "Get an account").extension().returns::<Account>(),
            get_account)
        .route(Method::GET, "/api/v2/workspaces", Org(OrgWorkspacesRead),
            doc("v2-list-workspaces", TENANCY, "List the workspaces the caller holds a role on").extension().returns::<Vec<Workspace>>(),
            list_workspaces)
        .route(Method::POST, "/api/v2/workspaces", Org(OrgWorkspacesManage),
            doc("v2-create-workspace", TENANCY, "Create a workspace; the caller becomes its Owner")
                .extension().body::<WorkspaceRequest>().created::<Workspace>(),
            create_workspace)
        .route(Method::GET, "/api/v2/workspaces/{workspaceId}", Access::Workspace(OrgWorkspacesRead, WorkspaceReader),
            doc("v2-get-workspace", TENANCY, "Get a workspace").extension().returns::<Workspace>(),
            get_workspace)
        .route(Method::PUT, "/api/v2/workspaces/{workspaceId}", Access::Workspace(OrgWorkspacesManage, Owner),
            doc("v2-update-workspace", TENANCY, "Rename a workspace or move it to another account")
                .extension().body::<WorkspaceRequest>().returns::<Workspace>(),
            update_workspace)
        .route(Method::DELETE, "/api/v2/workspaces/{workspaceId}", Access::Workspace(OrgWorkspacesManage, Owner),
            doc("v2-delete-workspace", TENANCY, "Delete a workspace").extension().returns::<bool>(),
            delete_workspace)
}
