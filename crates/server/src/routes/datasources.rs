//! Data connector routes: the documented workspace list and cross-workspace views, and the
//! extension routes that manage connectors and record their volume.

use axum::extract::{Path, Query, State};
use palisade_types::datasources::*;

use crate::http::error::ApiResult;
use crate::http::extract::{path_id, Json};
use crate::http::registry::Auth;
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
    Auth(p): Auth,
    Path(ws): Path<String>,
) -> ApiResult<Data<Vec<DataSource>>> {
    let ws = path_id("Workspace", &ws)?;
    Ok(Data(s.datasources().list(&p, ws).await?))
}

pub async fn create(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(ws): Path<String>,
    Json(req): Json<DataSourceRequest>,
) -> ApiResult<Created<DataSource>> {
    let ws = path_id("Workspace", &ws)?;
    Ok(Created(s.datasources().create(&p, ws, req).await?))
}

fn ids(ws: &str, id: &str) -> ApiResult<(uuid::Uuid, uuid::Uuid)> {
    Ok((path_id("Workspace", ws)?, path_id("Data connector", id)?))
}

pub async fn get(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<Data<DataSource>> {
    let (ws, id) = ids(&ws, &id)?;
    Ok(Data(s.datasources().get(&p, ws, id).await?))
}

pub async fn update(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, id)): Path<(String, String)>,
    Json(req): Json<DataSourceRequest>,
) -> ApiResult<Data<DataSource>> {
    let (ws, id) = ids(&ws, &id)?;
    Ok(Data(s.datasources().update(&p, ws, id, req).await?))
}

pub async fn delete(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<Data<bool>> {
    let (ws, id) = ids(&ws, &id)?;
    Ok(Data(s.datasources().delete(&p, ws, id).await?))
}

pub async fn record_volume(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, id)): Path<(String, String)>,
    Json(req): Json<RecordVolumeRequest>,
) -> ApiResult<Data<RecordVolumeResult>> {
    let (ws, id) = ids(&ws, &id)?;
    Ok(Data(s.datasources().record_volume(&p, ws, id, req).await?))
}

pub async fn volume(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, id)): Path<(String, String)>,
    Query(q): Params,
) -> ApiResult<Data<Vec<VolumeHour>>> {
    let (ws, id) = ids(&ws, &id)?;
    Ok(Data(
        s.datasources()
            .volume(&p, ws, id, param(&q, "from"), param(&q, "to"))
            .await?,
    ))
}

/// `?workspaceIds=` may repeat; a comma-separated list is accepted too.
pub async fn across(
    State(s): State<AppState>,
    Auth(p): Auth,
    Query(q): Params,
) -> ApiResult<Data<Vec<WorkspaceDataSources>>> {
    let ids: Vec<String> = q
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("workspaceIds"))
        .flat_map(|(_, v)| v.split(','))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    Ok(Data(s.datasources().across(&p, ids).await?))
}

pub async fn anomalies(
    State(s): State<AppState>,
    Auth(p): Auth,
    Json(req): Json<AnomaliesRequest>,
) -> ApiResult<Data<DataConnectorAnomalies>> {
    Ok(Data(s.datasources().anomalies(&p, req).await?))
}
