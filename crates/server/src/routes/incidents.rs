//! Workspace incident routes: ingest (extension) and the documented reads.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use palisade_types::incidents::{
    AcrossWorkspacesPage, AcrossWorkspacesRequest, Evidence, IncidentComment, IncidentDetail,
    IncidentInput, IngestBatchRequest, IngestBatchResult, IngestOneResult, RelatedIncidents,
};

use crate::http::error::ApiResult;
use crate::http::extract::{path_id, Json};
use crate::http::registry::Auth;
use crate::http::respond::Data;
use crate::service::incidents::parse_source;
use crate::AppState;

type IncidentPath = Path<(String, String, String)>;

pub async fn ingest_one(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, source, id)): IncidentPath,
    Json(input): Json<IncidentInput>,
) -> ApiResult<Data<IngestOneResult>> {
    let ws = path_id("Workspace", &ws)?;
    let source = parse_source(&source)?;
    Ok(Data(
        s.incidents().ingest_one(&p, ws, source, &id, input).await?,
    ))
}

pub async fn ingest_batch(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, source)): Path<(String, String)>,
    Json(req): Json<IngestBatchRequest>,
) -> ApiResult<Data<IngestBatchResult>> {
    let ws = path_id("Workspace", &ws)?;
    let source = parse_source(&source)?;
    Ok(Data(s.incidents().ingest_batch(&p, ws, source, req).await?))
}

pub async fn detail(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, source, id)): IncidentPath,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Data<IncidentDetail>> {
    let ws = path_id("Workspace", &ws)?;
    let source = parse_source(&source)?;
    let with_details = q
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("withDetails"))
        .is_some_and(|(_, v)| v.eq_ignore_ascii_case("true") || v == "1");
    Ok(Data(
        s.incidents()
            .detail(&p, ws, source, &id, with_details)
            .await?,
    ))
}

pub async fn evidence(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, source, id)): IncidentPath,
) -> ApiResult<Data<Evidence>> {
    let ws = path_id("Workspace", &ws)?;
    let source = parse_source(&source)?;
    Ok(Data(s.incidents().evidence(&p, ws, source, &id).await?))
}

pub async fn comments(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, source, id)): IncidentPath,
) -> ApiResult<Data<Vec<IncidentComment>>> {
    let ws = path_id("Workspace", &ws)?;
    let source = parse_source(&source)?;
    Ok(Data(s.incidents().comments(&p, ws, source, &id).await?))
}

pub async fn last_gamebook(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, source, id)): IncidentPath,
) -> ApiResult<Data<serde_json::Value>> {
    let ws = path_id("Workspace", &ws)?;
    let source = parse_source(&source)?;
    Ok(Data(
        s.incidents().last_gamebook(&p, ws, source, &id).await?,
    ))
}

pub async fn by_entity(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, source)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Data<RelatedIncidents>> {
    let ws = path_id("Workspace", &ws)?;
    let source = parse_source(&source)?;
    Ok(Data(s.incidents().by_entity(&p, ws, source, q).await?))
}

pub async fn across_workspaces(
    State(s): State<AppState>,
    Auth(p): Auth,
    Json(req): Json<AcrossWorkspacesRequest>,
) -> ApiResult<Data<AcrossWorkspacesPage>> {
    Ok(Data(s.incidents().across_workspaces(&p, req).await?))
}
