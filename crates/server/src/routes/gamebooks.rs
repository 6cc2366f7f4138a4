//! Gamebook routes: the documented history and rules reads, and the extension routes for
//! the playbook catalogue, rules, runs and approval.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use palisade_types::gamebooks::*;

use crate::access::{OrgCtx, WorkspaceCtx};
use crate::http::error::ApiResult;
use crate::http::extract::{path_id, Json};
use crate::http::respond::{Created, Data};
use crate::AppState;

type Params = Query<HashMap<String, String>>;

pub async fn list_playbooks(
    State(s): State<AppState>,
    ctx: OrgCtx,
) -> ApiResult<Data<Vec<PlaybookDefinition>>> {
    Ok(Data(s.gamebooks().list_playbooks(&ctx).await?))
}

pub async fn get_playbook(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Path(id): Path<String>,
) -> ApiResult<Data<PlaybookDefinition>> {
    let id = path_id("Playbook", &id)?;
    Ok(Data(s.gamebooks().get_playbook(&ctx, id).await?))
}

pub async fn create_playbook(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Json(req): Json<PlaybookRequest>,
) -> ApiResult<Created<PlaybookDefinition>> {
    Ok(Created(s.gamebooks().create_playbook(&ctx, req).await?))
}

pub async fn update_playbook(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Path(id): Path<String>,
    Json(req): Json<PlaybookRequest>,
) -> ApiResult<Data<PlaybookDefinition>> {
    let id = path_id("Playbook", &id)?;
    Ok(Data(s.gamebooks().update_playbook(&ctx, id, req).await?))
}

pub async fn delete_playbook(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Path(id): Path<String>,
) -> ApiResult<Data<bool>> {
    let id = path_id("Playbook", &id)?;
    Ok(Data(s.gamebooks().delete_playbook(&ctx, id).await?))
}

pub async fn list_rules(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
) -> ApiResult<Data<Vec<GamebookRule>>> {
    Ok(Data(s.gamebooks().list_rules(&ctx).await?))
}

pub async fn get_rule(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Data<GamebookRule>> {
    let id = path_id("Gamebook rule", &id)?;
    Ok(Data(s.gamebooks().get_rule(&ctx, id).await?))
}

pub async fn create_rule(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Json(req): Json<GamebookRuleRequest>,
) -> ApiResult<Created<GamebookRule>> {
    Ok(Created(s.gamebooks().create_rule(&ctx, req).await?))
}

pub async fn update_rule(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, id)): Path<(String, String)>,
    Json(req): Json<GamebookRuleRequest>,
) -> ApiResult<Data<GamebookRule>> {
    let id = path_id("Gamebook rule", &id)?;
    Ok(Data(s.gamebooks().update_rule(&ctx, id, req).await?))
}

pub async fn delete_rule(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Data<bool>> {
    let id = path_id("Gamebook rule", &id)?;
    Ok(Data(s.gamebooks().delete_rule(&ctx, id).await?))
}

pub async fn rules_by_title(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, title)): Path<(String, String)>,
) -> ApiResult<Data<RulesByTitle>> {
    Ok(Data(s.gamebooks().rules_by_title(&ctx, &title).await?))
}

pub async fn history(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Query(q): Params,
) -> ApiResult<Data<GamebookHistoryPage>> {
    let get = |n: &str| {
        q.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.as_str())
    };
    Ok(Data(
        s.gamebooks()
            .history(&ctx, get("query"), get("pageToken"))
            .await?,
    ))
}

pub async fn run_playbooks(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, id)): Path<(String, String)>,
    Query(q): Params,
) -> ApiResult<Data<Vec<Playbook>>> {
    let year = q
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("year"))
        .map(|(_, v)| v.as_str());
    Ok(Data(s.gamebooks().run_playbooks(&ctx, &id, year).await?))
}

pub async fn by_incident(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, incident)): Path<(String, String)>,
) -> ApiResult<Data<Vec<Gamebook>>> {
    Ok(Data(s.gamebooks().by_incident(&ctx, &incident).await?))
}

pub async fn across(
    State(s): State<AppState>,
    ctx: OrgCtx,
    Query(q): Query<Vec<(String, String)>>,
) -> ApiResult<Data<GamebookPageList>> {
    Ok(Data(s.gamebooks().across(&ctx, &q).await?))
}

pub async fn start(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Json(req): Json<StartGamebookRequest>,
) -> ApiResult<Created<Gamebook>> {
    Ok(Created(s.gamebooks().start(&ctx, req).await?))
}

pub async fn get_run(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Data<Gamebook>> {
    let id = path_id("Gamebook", &id)?;
    Ok(Data(s.gamebooks().get_run(&ctx, id).await?))
}

pub async fn approve(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Data<Gamebook>> {
    let id = path_id("Gamebook", &id)?;
    Ok(Data(s.gamebooks().approve(&ctx, id).await?))
}

pub async fn reject(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Data<Gamebook>> {
    let id = path_id("Gamebook", &id)?;
    Ok(Data(s.gamebooks().reject(&ctx, id).await?))
}

pub async fn cancel(
    State(s): State<AppState>,
    ctx: WorkspaceCtx,
    Path((_, id)): Path<(String, String)>,
) -> ApiResult<Data<Gamebook>> {
    let id = path_id("Gamebook", &id)?;
    Ok(Data(s.gamebooks().cancel(&ctx, id).await?))
}

// ---------------------------------------------------------------- route table

const GAMEBOOKS: &str = "Gamebooks";

/// This resource's routes, in the order of the table `super::api()` assembles.
#[rustfmt::skip]
pub(super) fn routes(api: super::Api) -> super::Api {
    use super::table::*;
    api
        .route(Method::GET, "/api/v2/workspaces/{workspaceId}/gamebooks/rules/{incidentTitle}", Access::Workspace(GamebooksRead, WorkspaceReader),
            doc("v2-get-gamebook-rules-by-title", GAMEBOOKS, "Get playbooks matching an incident title")
                .describe("The workspace's enabled rules whose title pattern (Exact, Contains or Regex, case-insensitive) matches `{incidentTitle}` (URL-encoded), whatever their severity and source filters, and the playbooks they call for, each once in rule order.")
                .returns::<RulesByTitle>(),
            rules_by_title)
        .route(Method::GET, "/api/v2/workspaces/{workspaceId}/gamebooks/history", Access::Workspace(GamebooksRead, WorkspaceReader),
            doc("v2-list-gamebooks-history", GAMEBOOKS, "List gamebook execution history")
                .describe("Newest first, 50 per page. `pageToken` is the previous page's token (sealed; bound to the workspace and the query); null on the last page. `totalCount` counts every match.")
                .query("query", false, "Text matched in the gamebook title and incident title, or an exact incident id.", serde_json::json!({"type": "string"}))
                .query("pageToken", false, "The previous page's pageToken.", serde_json::json!({"type": "string"}))
                .returns::<GamebookHistoryPage>(),
            history)
        .route(Method::GET, "/api/v2/workspaces/{workspaceId}/gamebooks/history/{gamebookId}/playbooks", Access::Workspace(GamebooksRead, WorkspaceReader),
            doc("v2-get-playbooks-by-gamebook-id", GAMEBOOKS, "Get the playbooks recorded against a specific gamebook run")
                .describe("In sequence order, one per playbook and affected entity. `year` (the vendor's storage partition) is required, as documented, and validated before the run is looked up; Palisade needs no partition, so any valid year finds the run. `tenantId` is ignored.")
                .query("year", true, "The run's creation year (1970 to 9999).", serde_json::json!({"type": "integer", "minimum": 1970, "maximum": 9999}))
                .query("tenantId", false, "Ignored.", serde_json::json!({"type": "string"}))
                .returns::<Vec<Playbook>>(),
            run_playbooks)
        .route(Method::GET, "/api/v2/workspaces/{workspaceId}/gamebooks/by-incident/{incidentId}", Access::Workspace(GamebooksRead, WorkspaceReader),
            doc("v2-list-incident-gamebooks", GAMEBOOKS, "List all gamebooks that have run for an incident")
                .describe("Newest first, at most 100, for the incident id in any source.")
                .returns::<Vec<Gamebook>>(),
            by_incident)
        .route(Method::GET, "/api/v2/gamebooks/across-workspaces/history", Org(GamebooksRead),
            doc("v2-list-gamebooks-history-across-workspaces", GAMEBOOKS, "List gamebook history across visible workspaces")
                .describe("Newest first, paged by number. `workspaces` and `statuses` take comma-separated values and may be repeated; workspaces the caller holds no role on are left out silently.")
                .query("currentPage", true, "1-based page number.", serde_json::json!({"type": "integer", "minimum": 1}))
                .query("pageSize", false, "1 to 100 (default 20).", serde_json::json!({"type": "integer", "minimum": 1, "maximum": 100}))
                .query("workspaces", false, "Workspace GUIDs, comma-separated.", serde_json::json!({"type": "string"}))
                .query("statuses", false, "Gamebook statuses, comma-separated.", serde_json::json!({"type": "string"}))
                .query("query", false, "Text matched in the gamebook title and incident title, or an exact incident id.", serde_json::json!({"type": "string"}))
                .returns::<GamebookPageList>(),
            across)
        .route(Method::GET, "/api/v2/gamebooks/playbooks", Org(GamebooksRead),
            doc("v2-list-playbooks", GAMEBOOKS, "List the organization's playbook catalogue").extension()
                .returns::<Vec<PlaybookDefinition>>(),
            list_playbooks)
        .route(Method::POST, "/api/v2/gamebooks/playbooks", Org(GamebooksManage),
            doc("v2-create-playbook", GAMEBOOKS, "Add a playbook to the catalogue")
                .describe("Needs the ContentAdmin role (or higher) on at least one workspace, or an organizational role implying it. See [the gamebooks guide](/docs/gamebooks.md) for the actions and their templates.")
                .extension().body::<PlaybookRequest>().requires("CreatePlaybookRequest", &["name", "action"]).created::<PlaybookDefinition>(),
            create_playbook)
        .route(Method::GET, "/api/v2/gamebooks/playbooks/{playbookId}", Org(GamebooksRead),
            doc("v2-get-playbook", GAMEBOOKS, "Get a playbook").extension().returns::<PlaybookDefinition>(),
            get_playbook)
        .route(Method::PUT, "/api/v2/gamebooks/playbooks/{playbookId}", Org(GamebooksManage),
            doc("v2-update-playbook", GAMEBOOKS, "Update a playbook (absent fields unchanged; runs already planned keep their copy)")
                .extension().body::<PlaybookRequest>().returns::<PlaybookDefinition>(),
            update_playbook)
        .route(Method::DELETE, "/api/v2/gamebooks/playbooks/{playbookId}", Org(GamebooksManage),
            doc("v2-delete-playbook", GAMEBOOKS, "Delete a playbook (rules naming it skip it)").extension().returns::<bool>(),
            delete_playbook)
        .route(Method::GET, "/api/v2/workspaces/{workspaceId}/gamebook-rules", Access::Workspace(GamebooksRead, WorkspaceReader),
            doc("v2-list-gamebook-rules", GAMEBOOKS, "List the workspace's gamebook rules").extension().returns::<Vec<GamebookRule>>(),
            list_rules)
        .route(Method::POST, "/api/v2/workspaces/{workspaceId}/gamebook-rules", Access::Workspace(GamebooksManage, ContentAdmin),
            doc("v2-create-gamebook-rule", GAMEBOOKS, "Create a gamebook rule")
                .describe("`matchType` Exact, Contains (default) or Regex, matched case-insensitively against incident titles; optional `severities` and `sources`; `playbookIds` run in order; `isAutoRun` starts a run when a matching incident is created.")
                .extension().body::<GamebookRuleRequest>().requires("CreateGamebookRuleRequest", &["title", "titlePattern", "playbookIds"]).created::<GamebookRule>(),
            create_rule)
        .route(Method::GET, "/api/v2/workspaces/{workspaceId}/gamebook-rules/{ruleId}", Access::Workspace(GamebooksRead, WorkspaceReader),
            doc("v2-get-gamebook-rule", GAMEBOOKS, "Get a gamebook rule").extension().returns::<GamebookRule>(),
            get_rule)
        .route(Method::PUT, "/api/v2/workspaces/{workspaceId}/gamebook-rules/{ruleId}", Access::Workspace(GamebooksManage, ContentAdmin),
            doc("v2-update-gamebook-rule", GAMEBOOKS, "Update a gamebook rule (absent fields unchanged)")
                .extension().body::<GamebookRuleRequest>().returns::<GamebookRule>(),
            update_rule)
        .route(Method::DELETE, "/api/v2/workspaces/{workspaceId}/gamebook-rules/{ruleId}", Access::Workspace(GamebooksManage, ContentAdmin),
            doc("v2-delete-gamebook-rule", GAMEBOOKS, "Delete a gamebook rule").extension().returns::<bool>(),
            delete_rule)
        .route(Method::POST, "/api/v2/workspaces/{workspaceId}/gamebooks/runs", Access::Workspace(GamebooksManage, IncidentResponder),
            doc("v2-start-gamebook", GAMEBOOKS, "Run a rule's playbooks, or chosen playbooks, against an incident")
                .describe("Answers the new `Pending` run; a worker runs it. Playbooks run in sequence, once per affected entity of their `entityType`; admin-required playbooks wait for an Owner's approval.")
                .extension().body::<StartGamebookRequest>().created::<Gamebook>(),
            start)
        .route(Method::GET, "/api/v2/workspaces/{workspaceId}/gamebooks/runs/{gamebookId}", Access::Workspace(GamebooksRead, WorkspaceReader),
            doc("v2-get-gamebook", GAMEBOOKS, "Get a gamebook run with its playbooks").extension().returns::<Gamebook>(),
            get_run)
        .route(Method::POST, "/api/v2/workspaces/{workspaceId}/gamebooks/runs/{gamebookId}/approve", Access::Workspace(GamebooksManage, Owner),
            doc("v2-approve-gamebook", GAMEBOOKS, "Approve a gamebook awaiting approval (Owner)")
                .describe("Approves every admin-required playbook of the run not yet run; the run continues. 409 unless `AwaitingApproval`.")
                .extension().returns::<Gamebook>(),
            approve)
        .route(Method::POST, "/api/v2/workspaces/{workspaceId}/gamebooks/runs/{gamebookId}/reject", Access::Workspace(GamebooksManage, Owner),
            doc("v2-reject-gamebook", GAMEBOOKS, "Reject a gamebook awaiting approval (Owner): it is cancelled")
                .extension().returns::<Gamebook>(),
            reject)
        .route(Method::POST, "/api/v2/workspaces/{workspaceId}/gamebooks/runs/{gamebookId}/cancel", Access::Workspace(GamebooksManage, IncidentResponder),
            doc("v2-cancel-gamebook", GAMEBOOKS, "Cancel an unfinished gamebook")
                .describe("Playbooks not finished become `Cancelled`; a step in flight is not recorded. 409 once finished.")
                .extension().returns::<Gamebook>(),
            cancel)
}
