//! Workspace incident routes: ingest (extension) and the documented reads.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use palisade_domain::Error;
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
    Query(q): Query<Vec<(String, String)>>,
    Json(req): Json<RawBatch>,
) -> ApiResult<Data<IngestBatchResult>> {
    let source = parse_source(&source)?;
    let format = q
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("format"))
        .map(|(_, v)| v.as_str());
    let native = match format.map(crate::service::incident_native::parse_format) {
        None => false,
        Some(Some(native)) => native,
        Some(None) => {
            return Err(palisade_domain::Error::field(
                "format",
                "'format' must be 'palisade' (the default) or 'native'.",
            )
            .into())
        }
    };
    if !native && matches!(req.native, Some(("", _))) {
        // A bare list is a vendor's own answer (QRadar's): read only with `?format=native`.
        return Err(Error::BadRequest(
            "The request body must be a JSON object with 'incidents' (a bare list is read with ?format=native).".into(),
        )
        .into());
    }
    Ok(Data(if native {
        s.incidents().ingest_native(&ctx, source, req).await?
    } else {
        s.incidents().ingest_batch(&ctx, source, req).await?
    }))
}

pub async fn detail(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, source, id)): IncidentPath,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Data<RawJson>> {
    let source = parse_source(&source)?;
    let with_details = match q
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("withDetails"))
        .map(|(_, v)| v.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(_) => {
            return Err(Error::field(
                "withDetails",
                "'withDetails' must be true or false (1 or 0).",
            )
            .into())
        }
    };
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

// ---------------------------------------------------------------- route table

const INCIDENTS: &str = "Incidents";
const INCIDENT: &str = "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}";

/// This resource's routes, in the order of the table `super::api()` assembles.
#[rustfmt::skip]
pub(super) fn routes(api: super::Api) -> super::Api {
    use super::table::*;
    use palisade_types::incidents::{EntityKind, IncidentDetail, IngestBatchRequest, TimeFilteringType};
    const COMMENT_SCOPES: &[palisade_domain::Scope] = &[IncidentsComments, IncidentsWrite];
    api
        // ---------------------------------------------------------------- incidents
        .route(Method::PUT, INCIDENT, Access::Workspace(IncidentsIngest, ContentAdmin),
            doc("v2-ingest-incident", INCIDENTS, "Create or update one incident in Palisade's model")
                .describe("Creation emits `incident.created`; a real change emits `incident.updated` with its changes; an identical re-send emits nothing. `{source}` is accepted in any letter case.")
                .extension().body::<IncidentInput>().returns::<IngestOneResult>(),
            ingest_one)
        .route(Method::POST, "/api/v2/workspaces/{workspaceId}/incidents/{source}/ingest", Access::Workspace(IncidentsIngest, ContentAdmin),
            doc("v2-ingest-incidents", INCIDENTS, "Ingest a batch of up to 1,000 incidents")
                .describe("Body `{incidents: [{id, …incident}]}`, up to 32 MiB. Valid items are stored in one transaction; invalid ones are reported per item with their errors. With `?format=native` the items are the source's own JSON (Sentinel's incident resource, optionally with `entities` and `alerts`; Defender XDR's Graph incident with its `alerts`; a CrowdStrike Falcon alert; an IBM QRadar offense; a Splunk ES notable event; a SentinelOne threat), also given as the vendor's own list answer (`{value: [...]}` of Sentinel and Graph, `{resources: [...]}` of Falcon, `{data: [...]}` of SentinelOne, `{results: [...]}` of a Splunk search, QRadar's bare array), mapped by the connector's code (see [the connectors guide](/docs/connectors.md)); what the model has no field for is kept in `properties.source`.")
                .query("format", false, "`palisade` (default) or `native`", json!({"type": "string", "enum": ["palisade", "native"], "description": "Accepted in any letter case."}))
                .extension().batch_body().body::<IngestBatchRequest>().returns::<IngestBatchResult>(),
            ingest_batch)
        .route(Method::GET, INCIDENT, Access::Workspace(IncidentsRead, WorkspaceReader),
            doc("v2-get-incident-by-id", INCIDENTS, "Get the full incident detail")
                .describe("`?withDetails=true` adds entity `properties` and alert `entityIds`.")
                .query("withDetails", false, "Include the extended payload.", json!({"type": "boolean"}))
                .returns::<IncidentDetail>(),
            detail)
        .route(Method::GET, "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/evidence", Access::Workspace(IncidentsRead, WorkspaceReader),
            doc("v2-get-incident-evidence", INCIDENTS, "Get the evidence table of an incident").returns::<Evidence>(),
            evidence)
        .route(Method::GET, "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/last-gamebook", Access::Workspace(IncidentsRead, WorkspaceReader),
            doc("v2-get-incident-last-gamebook", INCIDENTS, "Get the last gamebook run of an incident (404 while none has run)").returns::<Gamebook>(),
            last_gamebook)
        .route(Method::GET, "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/comments", Access::Workspace(IncidentsRead, WorkspaceReader),
            doc("v2-get-incident-comments", INCIDENTS, "List the comments of an incident").returns::<Vec<IncidentComment>>(),
            comments)
        .route(Method::GET, "/api/v2/workspaces/{workspaceId}/incidents/{source}/by-entity", Access::Workspace(IncidentsRead, WorkspaceReader),
            doc("v2-get-incidents-by-entity", INCIDENTS, "Incidents of this source related to an entity")
                .describe("Matches `EntityKind` + `EntityFilter` (or `EntityName`) against entity identifiers (UPN/email/object id, host name/device id, IP, hash, URL), newest first, at most 100.")
                .query("EntityKind", true, "Entity kind, e.g. Account, Host, Ip, FileHash.", spelled_schema::<EntityKind>())
                .query("EntityFilter", true, "The entity's identifier.", json!({"type": "string"}))
                .query("EntityName", false, "Alternative to EntityFilter.", json!({"type": "string"}))
                .query("TimeFilteringType", false, "ThreeHours, SixHours, TwelveHours, TwentyFourHours (default), FourtyEightHours, Custom.", spelled_schema::<TimeFilteringType>())
                .query("StartDate", false, "Required with Custom.", json!({"type": "string", "format": "date-time"}))
                .query("EndDate", false, "Required with Custom.", json!({"type": "string", "format": "date-time"}))
                .query("IncidentId", false, "Leave this incident out.", json!({"type": "string"}))
                .returns::<RelatedIncidents>(),
            by_entity)
        .route(Method::POST, "/api/v2/incidents/across-workspaces", Org(IncidentsRead),
            doc("v2-list-incidents-across-workspaces", INCIDENTS, "List incidents across every workspace the caller holds a role on")
                .describe("Newest first by (createdAt, workspaceId, source, id) across workspaces, each match exactly once. The first call sends `isFirstCall: true` (or no tokens and no `isFirstCall`); every later call echoes the previous `sourcePageTokens` verbatim and complete as `workspacePageTokens`, with the same filters, until `moreIncidentsAvailable` is false. An exhausted stream gets no token; a continuation that leaves out a token the previous response gave is a `VALIDATION_ERROR` naming the stream (it would silently drop that stream). `isFirstCall: false` with no tokens is the end of a listing: an empty page, `moreIncidentsAvailable: false` (so a client echoing the last, empty token set does not loop). Tokens are sealed and bound to the organization, the stream and the filters; a tampered or mismatched token is a `VALIDATION_ERROR`. Unknown body fields are a `VALIDATION_ERROR` naming the field (a misspelt filter would widen the result). `workspaceIds` (extension) narrows the listing to those workspaces. Page size is server-controlled.")
                .body_limit(PAGE_TOKENS_BODY_BYTES)
                .reads().body::<AcrossWorkspacesRequest>().returns::<AcrossWorkspacesPage>(),
            across_workspaces)
        // ---------------------------------------------------------------- restored incident actions
        .route(Method::GET, "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/summary", Access::Workspace(IncidentsRead, WorkspaceReader),
            doc("v2-get-incident-summary", INCIDENTS, "A synopsis of an incident").returns::<IncidentSummary>(),
            summary)
        .route(Method::GET, "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/entities", Access::Workspace(IncidentsRead, WorkspaceReader),
            doc("v2-get-incident-entities", INCIDENTS, "The entities of an incident, with their properties").returns::<Vec<Entity>>(),
            entities)
        .route(Method::GET, "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/alert-rules", Access::Workspace(IncidentsRead, WorkspaceReader),
            doc("v2-get-incident-alert-rules", INCIDENTS, "The detection rules behind an incident's alerts").returns::<Vec<AlertRule>>(),
            alert_rules)
        .route(Method::GET, "/api/v2/workspaces/{workspaceId}/incidents/{source}/high", Access::Workspace(IncidentsRead, WorkspaceReader),
            doc("v2-get-high-incidents", INCIDENTS, "Active High-severity incidents of the workspace, newest first").returns::<Vec<IncidentListItem>>(),
            high)
        .route(Method::PUT, "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/status", Access::Workspace(IncidentsWrite, IncidentResponder),
            doc("v2-update-incident-status", INCIDENTS, "Change an incident's status")
                .describe("Closing requires `classification` and a matching `classificationReason`. The change is recorded as an activity comment and emits `incident.updated`.")
                .body::<StatusUpdateRequest>().returns::<Incident>(),
            status)
        .route(Method::PUT, "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/assign", Access::Workspace(IncidentsWrite, IncidentResponder),
            doc("v2-assign-incident", INCIDENTS, "Assign (or, with no userId and email, unassign) an incident")
                .body::<AssignRequest>().returns::<Incident>(),
            assign)
        .route(Method::PUT, "/api/v2/workspaces/{workspaceId}/incidents/{source}/bulk", Access::Workspace(IncidentsWrite, IncidentResponder),
            doc("v2-bulk-update-incidents", INCIDENTS, "Apply a status, assignee and/or comment to up to 100 incidents")
                .body::<BulkUpdateRequest>().returns::<BulkUpdateResult>(),
            bulk)
        .route(Method::POST, "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/comments", Access::WorkspaceAny(COMMENT_SCOPES, IncidentAnalyst),
            doc("v2-create-incident-comment", INCIDENTS, "Comment on an incident").body::<CommentRequest>().created::<IncidentComment>(),
            create_comment)
        .route(Method::PUT, "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/comments/{commentId}", Access::WorkspaceAny(COMMENT_SCOPES, IncidentAnalyst),
            doc("v2-update-incident-comment", INCIDENTS, "Edit a comment (activity comments cannot be edited)")
                .body::<CommentRequest>().returns::<IncidentComment>(),
            update_comment)
        // ---------------------------------------------------------------- legacy routes, `source` in the body
        .route(Method::PUT, "/api/v2/workspaces/{workspaceId}/incidents/{source}/status", Access::Workspace(IncidentsWrite, IncidentResponder),
            doc("v2-update-incident-status-legacy", INCIDENTS, "Change an incident's status (legacy route; `source` in the body)")
                .documented_as("/api/v2/workspaces/{workspaceId}/incidents/{incidentId}/status")
                .body::<StatusUpdateRequest>().requires("LegacyStatusUpdateRequest", &["source"]).returns::<Incident>(),
            legacy_status)
        .route(Method::PUT, "/api/v2/workspaces/{workspaceId}/incidents/{source}/assign", Access::Workspace(IncidentsWrite, IncidentResponder),
            doc("v2-assign-incident-legacy", INCIDENTS, "Assign an incident (legacy route; `source` in the body)")
                .documented_as("/api/v2/workspaces/{workspaceId}/incidents/{incidentId}/assign")
                .body::<AssignRequest>().requires("LegacyAssignRequest", &["source"]).returns::<Incident>(),
            legacy_assign)
        .route(Method::POST, "/api/v2/workspaces/{workspaceId}/incidents/{source}/comments", Access::WorkspaceAny(COMMENT_SCOPES, IncidentAnalyst),
            doc("v2-create-incident-comment-legacy", INCIDENTS, "Comment on an incident (legacy route; `source` in the body)")
                .documented_as("/api/v2/workspaces/{workspaceId}/incidents/{incidentId}/comments")
                .body::<CommentRequest>().requires("LegacyCommentRequest", &["source"]).created::<IncidentComment>(),
            legacy_comment)
}
