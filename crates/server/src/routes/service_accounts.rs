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
    let id = path_id(KIND, &id)?;
    Ok(Data(
        s.org().set_service_account_active(&ctx, id, false).await?,
    ))
}

pub async fn enable(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Path(id): Path<String>,
) -> ApiResult<Data<ServiceAccount>> {
    let id = path_id(KIND, &id)?;
    Ok(Data(
        s.org().set_service_account_active(&ctx, id, true).await?,
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
