//! Gamebooks: recent runs across the user's workspaces with their steps
//! (`GET /gamebooks/across-workspaces/history`), and approval or rejection of runs that wait
//! for a workspace Owner (`POST …/gamebooks/runs/{id}/approve|reject`).

use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::{IntoResponse, Redirect};
use maud::html;
use palisade_domain::Error;
use palisade_types::gamebooks::GamebookStatus;

use super::layout::{self, csrf};
use super::{encode, fail, html as page_response, ConsoleUser, Done, PageResult};
use crate::AppState;

const HISTORY: &str = "/api/v2/gamebooks/across-workspaces/history";
const APPROVE: &str = "/api/v2/workspaces/{workspaceId}/gamebooks/runs/{gamebookId}/approve";
const REJECT: &str = "/api/v2/workspaces/{workspaceId}/gamebooks/runs/{gamebookId}/reject";

pub async fn page(
    State(state): State<AppState>,
    user: ConsoleUser,
    axum::extract::Query(done): axum::extract::Query<Done>,
) -> PageResult {
    let f = fail(&user);
    user.authorize(&state, Method::GET, HISTORY, None)
        .await
        .map_err(&f)?;
    let params = vec![
        ("currentPage".to_string(), "1".to_string()),
        ("pageSize".to_string(), "50".to_string()),
    ];
    let runs = state
        .gamebooks()
        .across(&user.ctx, &params)
        .await
        .map_err(&f)?;
    let mut rows = Vec::new();
    for r in runs.items {
        let ws = r.workspace_id.to_string();
        let may_decide = r.status == GamebookStatus::AwaitingApproval
            && user.may(&state, Method::POST, APPROVE, Some(&ws)).await;
        rows.push((r, may_decide));
    }
    let body = html! {
        h1 { "Gamebook runs" }
        (layout::notice(done.done.as_deref()))
        @if rows.is_empty() { p.hint { "No gamebook has run yet." } }
        @for (r, may_decide) in &rows {
            section.panel aria-label={ "Run " (r.title) } {
                h2 { (r.title) " · " (r.status.as_str()) }
                p {
                    "Incident #" (r.incident_number) " " (r.incident_title) " · " (r.workspace_name)
                    " · " (layout::time(r.creation_date))
                }
                ol {
                    @for p in &r.playbooks {
                        li {
                            (p.name) " — " (p.status.as_str())
                            @if let Some(e) = &p.affected_entity { " (" (e) ")" }
                            @if let Some(e) = &p.error_message { ": " (e) }
                        }
                    }
                }
                @if *may_decide {
                    div.actions {
                        form method="post" action={ "/console/gamebooks/" (r.workspace_id) "/" (r.id) "/approve" } {
                            (csrf(&user)) button type="submit" { "Approve" }
                        }
                        form method="post" action={ "/console/gamebooks/" (r.workspace_id) "/" (r.id) "/reject" } {
                            (csrf(&user)) button.danger type="submit" { "Reject" }
                        }
                    }
                }
            }
        }
    };
    Ok(page_response(layout::page(
        Some(&user),
        "Gamebooks",
        "gamebooks",
        body,
    )))
}

pub async fn act(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((ws, run, action)): Path<(String, String, String)>,
) -> PageResult {
    let f = fail(&user);
    let path = match action.as_str() {
        "approve" => APPROVE,
        "reject" => REJECT,
        _ => return Err(f(Error::not_found_target("Action", &action, "action"))),
    };
    let ctx = user
        .authorize(&state, Method::POST, path, Some(&ws))
        .await
        .map_err(&f)?
        .expect("a workspace route");
    let id = crate::http::extract::path_id("Gamebook", &run).map_err(&f)?;
    let run = if action == "approve" {
        state.gamebooks().approve(&ctx, id).await
    } else {
        state.gamebooks().reject(&ctx, id).await
    }
    .map_err(&f)?;
    user.audit(
        &state,
        &format!("gamebook.{action}"),
        format!("/console/gamebooks/{ws}/{id}"),
        303,
    )
    .await;
    let done = format!("Run {}: {}.", run.title, run.status.as_str());
    Ok(Redirect::to(&format!("/console/gamebooks?done={}", encode(&done))).into_response())
}
