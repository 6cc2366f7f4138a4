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

use crate::access::{OrgCtx, WorkspaceCtx};
use crate::http::error::ApiResult;
use crate::http::extract::Json;
use crate::http::respond::{Created, Data, RawJson};
use crate::service::incident_actions::body_source;
use crate::service::incidents::{parse_source, RawBatch};
use crate::AppState;

type IncidentPath = Path<(String, String, String)>;

pub async fn ingest_one(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, source, id)): IncidentPath,
    Json(input): Json<IncidentInput>,
) -> ApiResult<Data<IngestOneResult>> {
    let source = parse_source(&source)?;
    Ok(Data(
        s.incidents().ingest_one(&ctx, source, &id, input).await?,
    ))
}

pub async fn ingest_batch(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, source)): Path<(String, String)>,
    Json(req): Json<RawBatch>,
) -> ApiResult<Data<IngestBatchResult>> {
    let source = parse_source(&source)?;
    Ok(Data(s.incidents().ingest_batch(&ctx, source, req).await?))
}

pub async fn detail(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, source, id)): IncidentPath,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Data<RawJson>> {
    let source = parse_source(&source)?;
    let with_details = q
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("withDetails"))
        .is_some_and(|(_, v)| v.eq_ignore_ascii_case("true") || v == "1");
    let entry = s.incidents().entry(&ctx.incident(source, &id)).await?;
    let raw = s.incidents().detail(&entry, with_details)?;
    // The rendered detail is cached without its catalogue, which follows the rules.
    let catalog = s.gamebooks().catalog(&ctx, &entry.row).await?;
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
    ctx: WorkspaceCtx,
    Path((_, source, id)): IncidentPath,
) -> ApiResult<Data<Evidence>> {
    let source = parse_source(&source)?;
    Ok(Data(
        s.incidents().evidence(&ctx.incident(source, &id)).await?,
    ))
}

pub async fn comments(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, source, id)): IncidentPath,
) -> ApiResult<Data<Vec<IncidentComment>>> {
    let source = parse_source(&source)?;
    Ok(Data(
        s.incidents().comments(&ctx.incident(source, &id)).await?,
    ))
}

pub async fn last_gamebook(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, source, id)): IncidentPath,
) -> ApiResult<Data<Gamebook>> {
    let source = parse_source(&source)?;
    let key = ctx.incident(source, &id);
    s.incidents().entry(&key).await?;
    let last = s.gamebooks().last(&key).await?;
    Ok(Data(last.ok_or_else(|| {
        palisade_domain::Error::NotFound {
            detail: format!("No gamebook has run for incident '{id}'."),
            target: Some("incidentId".into()),
        }
    })?))
}

pub async fn by_entity(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, source)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Data<RelatedIncidents>> {
    let source = parse_source(&source)?;
    Ok(Data(s.incidents().by_entity(&ctx, source, q).await?))
}

pub async fn across_workspaces(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Json(req): Json<AcrossWorkspacesRequest>,
) -> ApiResult<Data<AcrossWorkspacesPage>> {
    Ok(Data(s.incidents().across_workspaces(&ctx, req).await?))
}

// ---------------------------------------------------------------- restored actions

pub async fn summary(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, source, id)): IncidentPath,
) -> ApiResult<Data<IncidentSummary>> {
    let source = parse_source(&source)?;
    Ok(Data(s.incidents().summary(&ctx, source, &id).await?))
}

pub async fn entities(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, source, id)): IncidentPath,
) -> ApiResult<Data<Vec<Entity>>> {
    let source = parse_source(&source)?;
    Ok(Data(s.incidents().entities(&ctx, source, &id).await?))
}

pub async fn alert_rules(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, source, id)): IncidentPath,
) -> ApiResult<Data<Vec<AlertRule>>> {
    let source = parse_source(&source)?;
    Ok(Data(s.incidents().alert_rules(&ctx, source, &id).await?))
}

pub async fn high(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, source)): Path<(String, String)>,
) -> ApiResult<Data<Vec<IncidentListItem>>> {
    let source = parse_source(&source)?;
    Ok(Data(s.incidents().high(&ctx, source).await?))
}

pub async fn status(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, source, id)): IncidentPath,
    Json(req): Json<StatusUpdateRequest>,
) -> ApiResult<Data<Incident>> {
    let source = parse_source(&source)?;
    Ok(Data(
        s.incidents().set_status(&ctx, source, &id, &req).await?,
    ))
}

pub async fn assign(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, source, id)): IncidentPath,
    Json(req): Json<AssignRequest>,
) -> ApiResult<Data<Incident>> {
    let source = parse_source(&source)?;
    Ok(Data(s.incidents().assign(&ctx, source, &id, &req).await?))
}

pub async fn bulk(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, source)): Path<(String, String)>,
    Json(req): Json<BulkUpdateRequest>,
) -> ApiResult<Data<BulkUpdateResult>> {
    let source = parse_source(&source)?;
    Ok(Data(s.incidents().bulk(&ctx, source, req).await?))
}

pub async fn create_comment(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, source, id)): IncidentPath,
    Json(req): Json<CommentRequest>,
) -> ApiResult<Created<IncidentComment>> {
    let source = parse_source(&source)?;
    Ok(Created(
        s.incidents().add_comment(&ctx, source, &id, &req).await?,
    ))
}

pub async fn update_comment(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, source, id, comment)): Path<(String, String, String, String)>,
    Json(req): Json<CommentRequest>,
) -> ApiResult<Data<IncidentComment>> {
    let source = parse_source(&source)?;
    Ok(Data(
        s.incidents()
            .update_comment(&ctx, source, &id, &comment, &req)
            .await?,
    ))
}

// ---------------------------------------------------------------- legacy routes (source in the body)
// The router names the segment `{source}` (it shares the position with the source routes);
// here it is the incident id.

pub async fn legacy_status(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, id)): Path<(String, String)>,
    Json(req): Json<StatusUpdateRequest>,
) -> ApiResult<Data<Incident>> {
    let source = body_source(req.source.as_deref())?;
    Ok(Data(
        s.incidents().set_status(&ctx, source, &id, &req).await?,
    ))
}

pub async fn legacy_assign(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, id)): Path<(String, String)>,
    Json(req): Json<AssignRequest>,
) -> ApiResult<Data<Incident>> {
    let source = body_source(req.source.as_deref())?;
    Ok(Data(s.incidents().assign(&ctx, source, &id, &req).await?))
}

pub async fn legacy_comment(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, id)): Path<(String, String)>,
    Json(req): Json<CommentRequest>,
) -> ApiResult<Created<IncidentComment>> {
    let source = body_source(req.source.as_deref())?;
    Ok(Created(
        s.incidents().add_comment(&ctx, source, &id, &req).await?,
    ))
}
