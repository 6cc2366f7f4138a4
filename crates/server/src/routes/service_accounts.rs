//! `/service-accounts` handlers: extract, call one service method, wrap.

use axum::extract::{Path, State};
use palisade_types::org::{
    CreateCredentialRequest, CreateServiceAccountRequest, CreatedServiceAccount, Credential,
    IssuedCredential, ServiceAccount, UpdateServiceAccountRequest,
};

use crate::access::OrgCtx;
use crate::http::error::ApiResult;
use crate::http::extract::{path_id, Json, OptionalJson};
use crate::http::respond::{Created, Data};
use crate::AppState;

const KIND: &str = "Service account";

pub async fn list(State(s): State<AppState>, ctx: OrgCtx) -> ApiResult<Data<Vec<ServiceAccount>>> {
    Ok(Data(s.org().list_service_accounts(&ctx).await?))
}

pub async fn get(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Path(id): Path<String>,
) -> ApiResult<Data<ServiceAccount>> {
    let id = path_id(KIND, &id)?;
    Ok(Data(s.org().get_service_account(&ctx, id).await?))
}

pub async fn create(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Json(req): Json<CreateServiceAccountRequest>,
) -> ApiResult<Created<CreatedServiceAccount>> {
    Ok(Created(s.org().create_service_account(&ctx, req).await?))
}

pub async fn update(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Path(id): Path<String>,
    Json(req): Json<UpdateServiceAccountRequest>,
) -> ApiResult<Data<ServiceAccount>> {
    let id = path_id(KIND, &id)?;
    Ok(Data(s.org().update_service_account(&ctx, id, req).await?))
}

pub async fn delete(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Path(id): Path<String>,
) -> ApiResult<Data<bool>> {
    let id = path_id(KIND, &id)?;
    Ok(Data(s.org().delete_service_account(&ctx, id).await?))
}

pub async fn disable(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Path(id): Path<String>,
) -> ApiResult<Data<ServiceAccount>> {
    set_active(s, ctx, &id, false).await
}

pub async fn enable(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Path(id): Path<String>,
) -> ApiResult<Data<ServiceAccount>> {
    set_active(s, ctx, &id, true).await
}

async fn set_active(
    s: AppState,
    ctx: OrgCtx,
    id: &str,
    active: bool,
) -> ApiResult<Data<ServiceAccount>> {
    let id = path_id(KIND, id)?;
    Ok(Data(
        s.org().set_service_account_active(&ctx, id, active).await?,
    ))
}

pub async fn issue_credential(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Path(id): Path<String>,
    OptionalJson(req): OptionalJson<CreateCredentialRequest>,
) -> ApiResult<Created<IssuedCredential>> {
    let id = path_id(KIND, &id)?;
    Ok(Created(s.org().issue_credential(&ctx, id, req).await?))
}

pub async fn revoke_credential(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Path((id, credential)): Path<(String, String)>,
) -> ApiResult<Data<Credential>> {
    let id = path_id(KIND, &id)?;
    let credential = path_id("Credential", &credential)?;
    Ok(Data(s.org().revoke_credential(&ctx, id, credential).await?))
}

// ---------------------------------------------------------------- route table

const SA: &str = "Service Accounts";

/// This resource's routes, in the order of the table `super::api()` assembles.
#[rustfmt::skip]
pub(super) fn routes(api: super::Api) -> super::Api {
    use super::table::*;
    api
        .route(Method::GET, "/api/v2/service-accounts", Org(OrgServiceAccountsRead),
            doc("v2-list-service-accounts", SA, "List service accounts").returns::<Vec<ServiceAccount>>(),
            list)
        .route(Method::GET, "/api/v2/service-accounts/{id}", Org(OrgServiceAccountsRead),
            doc("v2-get-service-account", SA, "Get a service account").returns::<ServiceAccount>(),
            get)
        .route(Method::POST, "/api/v2/service-accounts", Org(OrgServiceAccountsManage),
            doc("v2-create-service-account", SA, "Create a service account with its first credential")
                .describe("The `clientSecret` is returned only in this response. A caller can grant only scopes, organization-wide roles and workspace roles it holds itself.")
                .body::<CreateServiceAccountRequest>().created::<CreatedServiceAccount>(),
            create)
        .route(Method::PUT, "/api/v2/service-accounts/{id}", Org(OrgServiceAccountsManage),
            doc("v2-update-service-account", SA, "Update a service account")
                .describe("Absent fields are left unchanged; `workspaceAssignments`, when present, replaces every assignment. Demoting the last active Admin is refused (409 `CONFLICT`): an active Admin is an enabled `Admin` service account with an unexpired, unrevoked credential holding `org:service-accounts:manage`.")
                .body::<UpdateServiceAccountRequest>().returns::<ServiceAccount>(),
            update)
        .route(Method::DELETE, "/api/v2/service-accounts/{id}", Org(OrgServiceAccountsManage),
            doc("v2-delete-service-account", SA, "Delete a service account and its credentials")
                .describe("Deleting the last active Admin is refused (409 `CONFLICT`; see updating a service account).").returns::<bool>(),
            delete)
        .route(Method::POST, "/api/v2/service-accounts/{id}/disable", Org(OrgServiceAccountsManage),
            doc("v2-disable-service-account", SA, "Disable a service account (all its credentials are rejected)")
                .describe("Disabling the last active Admin (the caller itself included) is refused (409 `CONFLICT`; see updating a service account).").returns::<ServiceAccount>(),
            disable)
        .route(Method::POST, "/api/v2/service-accounts/{id}/enable", Org(OrgServiceAccountsManage),
            doc("v2-enable-service-account", SA, "Re-enable a disabled service account").returns::<ServiceAccount>(),
            enable)
        .route(Method::POST, "/api/v2/service-accounts/{id}/credentials", Org(OrgServiceAccountsManage),
            doc("v2-create-service-account-credential", SA, "Issue a new credential")
                .describe("The `clientSecret` is returned only in this response. Without `scopes`, the newest active credential's scopes are copied (rotation).")
                .optional_body::<CreateCredentialRequest>().created::<IssuedCredential>(),
            issue_credential)
        .route(Method::POST, "/api/v2/service-accounts/{id}/credentials/{credentialId}/revoke", Org(OrgServiceAccountsManage),
            doc("v2-revoke-service-account-credential", SA, "Revoke a credential (idempotent, irreversible)")
                .describe("Revoking the last credential that makes its account an active Admin, when no other active Admin remains, is refused (409 `CONFLICT`; see updating a service account).").returns::<Credential>(),
            revoke_credential)
}
