//! Gamebook routes: the documented history and rules reads, and the extension routes for
//! the playbook catalogue, rules, runs and approval.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use palisade_types::gamebooks::*;

use crate::http::error::ApiResult;
use crate::http::extract::{path_id, Json};
use crate::http::registry::Auth;
use crate::http::respond::{Created, Data};
use crate::AppState;

type Params = Query<HashMap<String, String>>;

pub async fn list_playbooks(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> ApiResult<Data<Vec<PlaybookDefinition>>> {
    Ok(Data(s.gamebooks().list_playbooks(&p).await?))
}

pub async fn get_playbook(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Data<PlaybookDefinition>> {
    let id = path_id("Playbook", &id)?;
    Ok(Data(s.gamebooks().get_playbook(&p, id).await?))
}

pub async fn create_playbook(
    State(s): State<AppState>,
    Auth(p): Auth,
    Json(req): Json<PlaybookRequest>,
) -> ApiResult<Created<PlaybookDefinition>> {
    Ok(Created(s.gamebooks().create_playbook(&p, req).await?))
}

pub async fn update_playbook(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(req): Json<PlaybookRequest>,
) -> ApiResult<Data<PlaybookDefinition>> {
    let id = path_id("Playbook", &id)?;
    Ok(Data(s.gamebooks().update_playbook(&p, id, req).await?))
}

pub async fn delete_playbook(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Data<bool>> {
    let id = path_id("Playbook", &id)?;
    Ok(Data(s.gamebooks().delete_playbook(&p, id).await?))
}

pub async fn list_rules(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(ws): Path<String>,
) -> ApiResult<Data<Vec<GamebookRule>>> {
    let ws = path_id("Workspace", &ws)?;
    Ok(Data(s.gamebooks().list_rules(&p, ws).await?))
}

pub async fn get_rule(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<Data<GamebookRule>> {
    let ws = path_id("Workspace", &ws)?;
    let id = path_id("Gamebook rule", &id)?;
    Ok(Data(s.gamebooks().get_rule(&p, ws, id).await?))
}

pub async fn create_rule(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(ws): Path<String>,
    Json(req): Json<GamebookRuleRequest>,
) -> ApiResult<Created<GamebookRule>> {
    let ws = path_id("Workspace", &ws)?;
    Ok(Created(s.gamebooks().create_rule(&p, ws, req).await?))
}

pub async fn update_rule(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, id)): Path<(String, String)>,
    Json(req): Json<GamebookRuleRequest>,
) -> ApiResult<Data<GamebookRule>> {
    let ws = path_id("Workspace", &ws)?;
    let id = path_id("Gamebook rule", &id)?;
    Ok(Data(s.gamebooks().update_rule(&p, ws, id, req).await?))
}

pub async fn delete_rule(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<Data<bool>> {
    let ws = path_id("Workspace", &ws)?;
    let id = path_id("Gamebook rule", &id)?;
    Ok(Data(s.gamebooks().delete_rule(&p, ws, id).await?))
}

pub async fn rules_by_title(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, title)): Path<(String, String)>,
) -> ApiResult<Data<RulesByTitle>> {
    let ws = path_id("Workspace", &ws)?;
    Ok(Data(s.gamebooks().rules_by_title(&p, ws, &title).await?))
}

pub async fn history(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(ws): Path<String>,
    Query(q): Params,
) -> ApiResult<Data<GamebookHistoryPage>> {
    let ws = path_id("Workspace", &ws)?;
    let get = |n: &str| {
        q.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.as_str())
    };
    Ok(Data(
        s.gamebooks()
            .history(&p, ws, get("query"), get("pageToken"))
            .await?,
    ))
}

pub async fn run_playbooks(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, id)): Path<(String, String)>,
    Query(q): Params,
) -> ApiResult<Data<Vec<Playbook>>> {
    let ws = path_id("Workspace", &ws)?;
    let id = path_id("Gamebook", &id)?;
    let year = q
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("year"))
        .map(|(_, v)| v.as_str());
    Ok(Data(s.gamebooks().run_playbooks(&p, ws, id, year).await?))
}

pub async fn by_incident(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, incident)): Path<(String, String)>,
) -> ApiResult<Data<Vec<Gamebook>>> {
    let ws = path_id("Workspace", &ws)?;
    Ok(Data(s.gamebooks().by_incident(&p, ws, &incident).await?))
}

pub async fn across(
    State(s): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<Vec<(String, String)>>,
) -> ApiResult<Data<GamebookPageList>> {
    Ok(Data(s.gamebooks().across(&p, &q).await?))
}

pub async fn start(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(ws): Path<String>,
    Json(req): Json<StartGamebookRequest>,
) -> ApiResult<Created<Gamebook>> {
    let ws = path_id("Workspace", &ws)?;
    Ok(Created(s.gamebooks().start(&p, ws, req).await?))
}

pub async fn get_run(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<Data<Gamebook>> {
    let ws = path_id("Workspace", &ws)?;
    let id = path_id("Gamebook", &id)?;
    Ok(Data(s.gamebooks().get_run(&p, ws, id).await?))
}

pub async fn approve(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<Data<Gamebook>> {
    let ws = path_id("Workspace", &ws)?;
    let id = path_id("Gamebook", &id)?;
    Ok(Data(s.gamebooks().approve(&p, ws, id).await?))
}

pub async fn reject(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<Data<Gamebook>> {
    let ws = path_id("Workspace", &ws)?;
    let id = path_id("Gamebook", &id)?;
    Ok(Data(s.gamebooks().reject(&p, ws, id).await?))
}

pub async fn cancel(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((ws, id)): Path<(String, String)>,
) -> ApiResult<Data<Gamebook>> {
    let ws = path_id("Workspace", &ws)?;
    let id = path_id("Gamebook", &id)?;
    Ok(Data(s.gamebooks().cancel(&p, ws, id).await?))
}
