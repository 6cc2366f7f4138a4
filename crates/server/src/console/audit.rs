//! The audit log page: `GET /audit-log` (the same page of the same service), newest first.

use axum::extract::{Query, State};
use axum::http::Method;
use maud::html;
use serde::Deserialize;

use super::layout;
use super::{encode, fail, html as page_response, ConsoleUser, PageResult};
use crate::service::audit::AuditQuery;
use crate::AppState;

const AUDIT: &str = "/api/v2/audit-log";

#[derive(Deserialize, Default)]
pub struct Params {
    after: Option<String>,
    actor: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(p): Query<Params>,
) -> PageResult {
    let f = fail(&user);
    user.authorize(&state, Method::GET, AUDIT, None)
        .await
        .map_err(&f)?;
    let q = AuditQuery {
        page_size: Some("100".into()),
        continuation_token: p.after.clone(),
        actor_id: p.actor.clone().filter(|a| !a.is_empty()),
        since: None,
    };
    let page = state.audit().list(&user.ctx, q).await.map_err(&f)?;
    let body = html! {
        h1 { "Audit log" }
        p.hint { "Every change made through the API or this console, newest first." }
        table #audit {
            caption.visually-hidden { "Changes, newest first" }
            thead {
                tr {
                    th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "Via" }
                    th scope="col" { "What" } th scope="col" { "Target" } th scope="col" { "Outcome" } th scope="col" { "From" }
                }
            }
            tbody {
                @if page.items.is_empty() { tr { td colspan="7" { "Nothing recorded yet." } } }
                @for e in &page.items {
                    tr {
                        td { (layout::time(e.at)) }
                        td { a href={ "/console/audit?actor=" (e.actor_id) } { (e.actor_name) } " (" (e.actor_kind) ")" }
                        td { (e.channel) }
                        td { code { (e.action) } }
                        td { code { (e.target) } }
                        td { (e.status) }
                        td { (e.address.clone().unwrap_or_default()) }
                    }
                }
            }
        }
        @if let Some(token) = &page.continuation_token {
            p {
                a href={ "/console/audit?after=" (encode(token)) @if let Some(a) = &p.actor { "&actor=" (encode(a)) } } { "Older changes" }
            }
        }
    };
    Ok(page_response(layout::page(
        Some(&user),
        "Audit log",
        "audit",
        body,
    )))
}
