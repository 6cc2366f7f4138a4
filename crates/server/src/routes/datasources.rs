//! Data connector routes: the documented workspace list and cross-workspace views, and the
//! extension routes that manage connectors and record their volume.

use axum::extract::{Path, Query, State};
use palisade_types::datasources::*;

use crate::access::{OrgCtx, WorkspaceCtx};
use crate::http::error::ApiResult;
use crate::http::extract::{path_id, Json};
use crate::http::respond::{Accepted, Created, Data};
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

pub async fn get(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Data<DataSource>> {
    let id = path_id("Data connector", &id)?;
    Ok(Data(s.datasources().get(&ctx, id).await?))
}

pub async fn update(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, id)): Path<(String, String)>,
    Json(req): Json<DataSourceRequest>,
) -> ApiResult<Data<DataSource>> {
    let id = path_id("Data connector", &id)?;
    Ok(Data(s.datasources().update(&ctx, id, req).await?))
}

pub async fn delete(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Data<bool>> {
    let id = path_id("Data connector", &id)?;
    Ok(Data(s.datasources().delete(&ctx, id).await?))
}

pub async fn status(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Data<ConnectorStatus>> {
    let id = path_id("Data connector", &id)?;
    Ok(Data(s.datasources().status(&ctx, id).await?))
}

pub async fn sync(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Accepted<ConnectorStatus>> {
    let id = path_id("Data connector", &id)?;
    Ok(Accepted(s.datasources().sync(&ctx, id).await?))
}

pub async fn pause(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Data<ConnectorStatus>> {
    let id = path_id("Data connector", &id)?;
    Ok(Data(s.datasources().set_paused(&ctx, id, true).await?))
}

pub async fn resume(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Data<ConnectorStatus>> {
    let id = path_id("Data connector", &id)?;
    Ok(Data(s.datasources().set_paused(&ctx, id, false).await?))
}

pub async fn record_volume(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, id)): Path<(String, String)>,
    Json(req): Json<RecordVolumeRequest>,
) -> ApiResult<Data<RecordVolumeResult>> {
    let id = path_id("Data connector", &id)?;
    Ok(Data(s.datasources().record_volume(&ctx, id, req).await?))
}

pub async fn volume(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, id)): Path<(String, String)>,
    Query(q): Params,
) -> ApiResult<Data<Vec<VolumeHour>>> {
    let id = path_id("Data connector", &id)?;
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
    // Every value given, empty ones included: `?workspaceIds=` names no workspace, which is
    // a validation error rather than "every workspace".
    let given: Vec<&str> = q
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("workspaceIds"))
        .map(|(_, v)| v.as_str())
        .collect();
    let ids = (!given.is_empty()).then(|| {
        given
            .iter()
            .flat_map(|v| v.split(','))
            .map(|v| v.trim().to_string())
            .collect::<Vec<String>>()
    });
    Ok(Data(s.datasources().across(&ctx, ids).await?))
}

pub async fn anomalies(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Json(req): Json<AnomaliesRequest>,
) -> ApiResult<Data<DataConnectorAnomalies>> {
    Ok(Data(s.datasources().anomalies(&ctx, req).await?))
}

// ---------------------------------------------------------------- route table

const DATASOURCES: &str = "Data Sources";
const CONNECTOR: &str = "/api/v2/workspaces/{workspaceId}/datasources/{dataConnectorId}";

/// This resource's routes, in the order of the table `super::api()` assembles.
#[rustfmt::skip]
pub(super) fn routes(api: super::Api) -> super::Api {
    use super::table::*;
    api
        .route(Method::GET, "/api/v2/workspaces/{workspaceId}/datasources", Access::Workspace(DatasourcesRead, WorkspaceReader),
            doc("v2-list-datasources", DATASOURCES, "List the data connectors of the workspace")
                .describe("Oldest first. Connectors of the six incident sources, `AzureActiveDirectory` (sign-in logs) and `AzureActiveDirectoryAudit` (directory logs) are created automatically (`autoCreated: true`) on the first ingest of their kind. See [the data sources guide](/docs/datasources.md).")
                .returns::<Vec<DataSource>>(),
            list)
        .route(Method::POST, "/api/v2/workspaces/{workspaceId}/datasources", Access::Workspace(DatasourcesManage, ContentAdmin),
            doc("v2-create-datasource", DATASOURCES, "Create a data connector")
                .describe("`connectorType` is required. A workspace has at most one connector of each ingest-fed type (the six sources, `AzureActiveDirectory`, `AzureActiveDirectoryAudit`): a second is 409 `CONFLICT`. `MicrosoftOffice`, `Syslog` and `Custom` connectors may repeat. With `settings` and `credentials` (connector types `MicrosoftSentinel`, `MicrosoftDefenderXdr`, or their data-source names) the data source becomes a connector Palisade polls: `settings` are echoed as `parametersHelper`, `credentials` are sealed and never returned, every connector URL passes the SSRF guard (`[connectors]`), and an auto-created data source of the same type is upgraded in place. See [the connectors guide](/docs/connectors.md).")
                .extension().body::<DataSourceRequest>().requires("CreateDataSourceRequest", &["connectorType"]).created::<DataSource>(),
            create)
        .route(Method::GET, CONNECTOR, Access::Workspace(DatasourcesRead, WorkspaceReader),
            doc("v2-get-datasource", DATASOURCES, "Get a data connector").extension().returns::<DataSource>(),
            get)
        .route(Method::PUT, CONNECTOR, Access::Workspace(DatasourcesManage, ContentAdmin),
            doc("v2-update-datasource", DATASOURCES, "Update a data connector")
                .describe("Absent fields are left unchanged; `parametersHelper`, when present, replaces the list. A disconnected connector (`connected: false`) is not examined for anomalies. On a polled connector, absent `credentials` keep the sealed ones, and new `settings` or `startFrom` start pulling again from `startFrom`.")
                .extension().body::<DataSourceRequest>().returns::<DataSource>(),
            update)
        .route(Method::DELETE, CONNECTOR, Access::Workspace(DatasourcesManage, ContentAdmin),
            doc("v2-delete-datasource", DATASOURCES, "Delete a data connector and its volume history").extension().returns::<bool>(),
            delete)
        .route(Method::GET, "/api/v2/workspaces/{workspaceId}/datasources/{dataConnectorId}/status", Access::Workspace(DatasourcesRead, WorkspaceReader),
            doc("v2-get-datasource-status", DATASOURCES, "A polled connector's health")
                .describe("`state`: `Healthy`, `Degraded` (throttled or unavailable source, retried), `Failing` (refused settings or credentials, or repeated failures; `lastError` says why) or `Paused`. A data source that is not polled is 409 `CONFLICT`.")
                .extension().returns::<ConnectorStatus>(),
            status)
        .route(Method::POST, "/api/v2/workspaces/{workspaceId}/datasources/{dataConnectorId}/sync", Access::Workspace(DatasourcesManage, ContentAdmin),
            doc("v2-sync-datasource", DATASOURCES, "Poll a connector now")
                .describe("202: a poll is due at once (a paused connector is 409 `CONFLICT`).")
                .extension().status(202).returns::<ConnectorStatus>(),
            sync)
        .route(Method::POST, "/api/v2/workspaces/{workspaceId}/datasources/{dataConnectorId}/pause", Access::Workspace(DatasourcesManage, ContentAdmin),
            doc("v2-pause-datasource", DATASOURCES, "Stop polling a connector")
                .describe("Write-backs of changes already made are still sent.")
                .extension().returns::<ConnectorStatus>(),
            pause)
        .route(Method::POST, "/api/v2/workspaces/{workspaceId}/datasources/{dataConnectorId}/resume", Access::Workspace(DatasourcesManage, ContentAdmin),
            doc("v2-resume-datasource", DATASOURCES, "Resume polling a connector")
                .describe("A poll is due at once.")
                .extension().returns::<ConnectorStatus>(),
            resume)
        .route(Method::POST, "/api/v2/workspaces/{workspaceId}/datasources/{dataConnectorId}/volume", Access::Workspace(DatasourcesManage, ContentAdmin),
            doc("v2-record-datasource-volume", DATASOURCES, "Record ingestion volume that arrived outside Palisade")
                .describe("Up to 1,000 `{hourStart, events, bytes}` entries; each is added to its UTC hour (any instant in the hour), up to 90 days back and never for a future hour. Palisade's own ingest counts automatically.")
                .extension().body::<RecordVolumeRequest>().returns::<RecordVolumeResult>(),
            record_volume)
        .route(Method::GET, "/api/v2/workspaces/{workspaceId}/datasources/{dataConnectorId}/volume", Access::Workspace(DatasourcesRead, WorkspaceReader),
            doc("v2-get-datasource-volume", DATASOURCES, "A connector's hourly volume, oldest first")
                .query("from", false, "Start (default: 24 hours before the current hour)", json!({"type": "string", "format": "date-time"}))
                .query("to", false, "End, exclusive (default: the end of the current hour); at most 31 days after from", json!({"type": "string", "format": "date-time"}))
                .extension().returns::<Vec<VolumeHour>>(),
            volume)
        .route(Method::GET, "/api/v2/datasources/across-workspaces", Org(DatasourcesRead),
            doc("v2-list-datasources-across-workspaces", DATASOURCES, "Group connected data sources by workspace")
                .describe("Repeat `?workspaceIds=` for each workspace (a comma-separated list works too); without it, every workspace the caller holds a role on. An empty or malformed value is a `VALIDATION_ERROR` naming `workspaceIds[i]`. Workspaces the caller holds no role on are left out silently.")
                .query("workspaceIds", false, "A workspace GUID; repeatable", json!({"type": "array", "items": {"type": "string", "format": "uuid"}}))
                .returns::<Vec<WorkspaceDataSources>>(),
            across)
        .route(Method::POST, "/api/v2/datasources/across-workspaces/anomalies", Org(DatasourcesRead),
            doc("v2-list-datasource-anomalies-across-workspaces", DATASOURCES, "List data connector anomalies across visible workspaces")
                .describe("Examines whole UTC hours before the current one (`timeFilterSelection.type`, default `TwentyFourHours`) of each connected connector. The baseline of an hour is the same hour on the previous 7 days (median and MAD; at least 3 days of history). Silence: nothing where the median expects ≥ 5 events. Drop: ≤ 50% of the median, ≥ 5 events short, robust z ≤ −3. Spike: ≥ 200%, ≥ 10 events over, z ≥ 3. Consecutive hours of one type merge. Severity and details: [the data sources guide](/docs/datasources.md).")
                .reads().body::<AnomaliesRequest>().returns::<DataConnectorAnomalies>(),
            anomalies)
}
