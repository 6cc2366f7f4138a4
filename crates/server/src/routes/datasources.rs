//! Data connector routes: the documented workspace list and cross-workspace views, and the
//! extension routes that manage connectors and record their volume.

use axum::extract::{Path, Query, State};
use palisade_types::datasources::*;

use crate::access::{OrgCtx, WorkspaceCtx};
use crate::http::error::ApiResult;
use crate::http::extract::{path_id, Json};
use crate::http::respond::{Created, Data};
use crate::AppState;

type Params = Query<Vec<(String, String)>>;

fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

pub async fn list(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
) -> ApiResult<Data<Vec<DataSource>>> {
    Ok(Data(s.datasources().list(&ctx).await?))
}

pub async fn create(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Json(req): Json<DataSourceRequest>,
) -> ApiResult<Created<DataSource>> {
    Ok(Created(s.datasources().create(&ctx, req).await?))
}

fn connector_id(id: &str) -> ApiResult<uuid::Uuid> {
    Ok(path_id("Data connector", id)?)
}

pub async fn get(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Data<DataSource>> {
    let id = connector_id(&id)?;
    Ok(Data(s.datasources().get(&ctx, id).await?))
}

pub async fn update(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, id)): Path<(String, String)>,
    Json(req): Json<DataSourceRequest>,
) -> ApiResult<Data<DataSource>> {
    let id = connector_id(&id)?;
    Ok(Data(s.datasources().update(&ctx, id, req).await?))
}

pub async fn delete(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Data<bool>> {
    let id = connector_id(&id)?;
    Ok(Data(s.datasources().delete(&ctx, id).await?))
}

pub async fn record_volume(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, id)): Path<(String, String)>,
    Json(req): Json<RecordVolumeRequest>,
) -> ApiResult<Data<RecordVolumeResult>> {
    let id = connector_id(&id)?;
    Ok(Data(s.datasources().record_volume(&ctx, id, req).await?))
}

pub async fn volume(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, id)): Path<(String, String)>,
    Query(q): Params,
) -> ApiResult<Data<Vec<VolumeHour>>> {
    let id = connector_id(&id)?;
    Ok(Data(
        s.datasources()
            .volume(&ctx, id, param(&q, "from"), param(&q, "to"))
            .await?,
    ))
}

/// `?workspaceIds=` may repeat; a comma-separated list is accepted too.
pub async fn across(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Query(q): Params,
) -> ApiResult<Data<Vec<WorkspaceDataSources>>> {
    let ids: Vec<String> = q
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("workspaceIds"))
        .flat_map(|(_, v)| v.split(','))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    Ok(Data(s.datasources().across(&ctx, ids).await?))
}

pub async fn anomalies(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Json(req): Json<AnomaliesRequest>,
) -> ApiResult<Data<DataConnectorAnomalies>> {
    Ok(Data(s.datasources().anomalies(&ctx, req).await?))
}
