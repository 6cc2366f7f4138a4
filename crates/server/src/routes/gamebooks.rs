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
    let id = path_id("Gamebook", &id)?;
    let year = q
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("year"))
        .map(|(_, v)| v.as_str());
    Ok(Data(s.gamebooks().run_playbooks(&ctx, id, year).await?))
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
