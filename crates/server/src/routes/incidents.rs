//! Workspace incident routes: ingest (extension) and the documented reads.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use palisade_types::gamebooks::Gamebook;
use palisade_types::incidents::{
    AcrossWorkspacesPage, AcrossWorkspacesRequest, AlertRule, AssignRequest, BulkUpdateRequest,
    BulkUpdateResult, CommentRequest, Entity, Evidence, Incident, IncidentComment, IncidentInput,
    IncidentListItem, IncidentSummary, IngestBatchResult, IngestOneResult, RelatedIncidents,
    StatusUpdateRequest,
};

use crate::http::error::ApiResult;
use crate::http::extract::{path_id, Json};
use crate::http::registry::Auth;
use crate::http::respond::{Created, Data, RawJson};
use crate::service::incident_actions::body_source;
use crate::service::incidents::{parse_source, RawBatch};
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
    Json(req): Json<RawBatch>,
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
) -> ApiResult<Data<RawJson>> {
    let ws = path_id("Workspace", &ws)?;
    let source = parse_source(&source)?;
    let with_details = q
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("withDetails"))
        .is_some_and(|(_, v)| v.eq_ignore_ascii_case("true") || v == "1");
    let entry = s.incidents().entry(&p, ws, source, &id).await?;
    let raw = s.incidents().detail(&entry, with_details)?;
    // The rendered detail is cached without its catalogue, which follows the rules.
    let catalog = s.gamebooks().catalog(&p, &entry.row).await?;
    if catalog.playbooks.is_empty() {
        return Ok(Data(RawJson(raw)));
    }
    let mut doc: serde_json::Value =
        serde_json::from_str(raw.get()).map_err(palisade_domain::Error::internal)?;
    doc["gamebookCatalog"] =
        serde_json::to_value(&catalog).map_err(palisade_domain::Error::internal)?;
    let raw = serde_json::value::to_raw_value(&doc).map_err(palisade_domain::Error::internal)?;
    Ok(Data(RawJson(raw.into())))
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
) -> ApiResult<Data<Gamebook>> {
    let ws = path_id("Workspace", &ws)?;
    let source = parse_source(&source)?;
    s.incidents().entry(&p, ws, source, &id).await?;
    let last = s.gamebooks().last(&p, ws, source, &id).await?;
    Ok(Data(last.ok_or_else(|| {
        palisade_domain::Error::NotFound {
            detail: format!("No gamebook has run for incident '{id}'."),
            target: Some("incidentId".into()),
        }
    })?))
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

// ---------------------------------------------------------------- restored actions

pub async fn summary(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, source, id)): IncidentPath,
) -> ApiResult<Data<IncidentSummary>> {
    let (ws, source) = (path_id("Workspace", &ws)?, parse_source(&source)?);
    Ok(Data(s.incidents().summary(&p, ws, source, &id).await?))
}

pub async fn entities(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, source, id)): IncidentPath,
) -> ApiResult<Data<Vec<Entity>>> {
    let (ws, source) = (path_id("Workspace", &ws)?, parse_source(&source)?);
    Ok(Data(s.incidents().entities(&p, ws, source, &id).await?))
}

pub async fn alert_rules(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, source, id)): IncidentPath,
) -> ApiResult<Data<Vec<AlertRule>>> {
    let (ws, source) = (path_id("Workspace", &ws)?, parse_source(&source)?);
    Ok(Data(s.incidents().alert_rules(&p, ws, source, &id).await?))
}

pub async fn high(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, source)): Path<(String, String)>,
) -> ApiResult<Data<Vec<IncidentListItem>>> {
    let (ws, source) = (path_id("Workspace", &ws)?, parse_source(&source)?);
    Ok(Data(s.incidents().high(&p, ws, source).await?))
}

pub async fn status(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, source, id)): IncidentPath,
    Json(req): Json<StatusUpdateRequest>,
) -> ApiResult<Data<Incident>> {
    let (ws, source) = (path_id("Workspace", &ws)?, parse_source(&source)?);
    Ok(Data(
        s.incidents().set_status(&p, ws, source, &id, &req).await?,
    ))
}

pub async fn assign(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, source, id)): IncidentPath,
    Json(req): Json<AssignRequest>,
) -> ApiResult<Data<Incident>> {
    let (ws, source) = (path_id("Workspace", &ws)?, parse_source(&source)?);
    Ok(Data(s.incidents().assign(&p, ws, source, &id, &req).await?))
}

pub async fn bulk(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, source)): Path<(String, String)>,
    Json(req): Json<BulkUpdateRequest>,
) -> ApiResult<Data<BulkUpdateResult>> {
    let (ws, source) = (path_id("Workspace", &ws)?, parse_source(&source)?);
    Ok(Data(s.incidents().bulk(&p, ws, source, req).await?))
}

pub async fn create_comment(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, source, id)): IncidentPath,
    Json(req): Json<CommentRequest>,
) -> ApiResult<Created<IncidentComment>> {
    let (ws, source) = (path_id("Workspace", &ws)?, parse_source(&source)?);
    Ok(Created(
        s.incidents().add_comment(&p, ws, source, &id, &req).await?,
    ))
}

pub async fn update_comment(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, source, id, comment)): Path<(String, String, String, String)>,
    Json(req): Json<CommentRequest>,
) -> ApiResult<Data<IncidentComment>> {
    let (ws, source) = (path_id("Workspace", &ws)?, parse_source(&source)?);
    Ok(Data(
        s.incidents()
            .update_comment(&p, ws, source, &id, &comment, &req)
            .await?,
    ))
}

// ---------------------------------------------------------------- legacy routes (source in the body)
// The router names the segment `{source}` (it shares the position with the source routes);
// here it is the incident id.

pub async fn legacy_status(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, id)): Path<(String, String)>,
    Json(req): Json<StatusUpdateRequest>,
) -> ApiResult<Data<Incident>> {
    let ws = path_id("Workspace", &ws)?;
    let source = body_source(req.source.as_deref())?;
    Ok(Data(
        s.incidents().set_status(&p, ws, source, &id, &req).await?,
    ))
}

pub async fn legacy_assign(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, id)): Path<(String, String)>,
    Json(req): Json<AssignRequest>,
) -> ApiResult<Data<Incident>> {
    let ws = path_id("Workspace", &ws)?;
    let source = body_source(req.source.as_deref())?;
    Ok(Data(s.incidents().assign(&p, ws, source, &id, &req).await?))
}

pub async fn legacy_comment(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, id)): Path<(String, String)>,
    Json(req): Json<CommentRequest>,
) -> ApiResult<Created<IncidentComment>> {
    let ws = path_id("Workspace", &ws)?;
    let source = body_source(req.source.as_deref())?;
    Ok(Created(
        s.incidents().add_comment(&p, ws, source, &id, &req).await?,
    ))
}
