//! The incident page: the detail document of `GET …/incidents/{source}/{incidentId}` (facts,
//! entities, alerts, evidence), the comment timeline, the last gamebook run, the write-back
//! sync state when the detail carries one, and the actions the user may take, each through
//! the API route's access rule and service method: status (with the valid classification
//! and reason pairs), assign, comment (multi-line), run a gamebook, link a ticket.

use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::response::{IntoResponse, Redirect};
use axum::Form;
use maud::{html, Markup};
use palisade_domain::incident::{parse_source, valid_pair};
use palisade_domain::vocab::{Classification, ClassificationReason, IncidentStatus};
use palisade_domain::Error;
use palisade_types::gamebooks::StartGamebookRequest;
use palisade_types::incidents::{
    AssignRequest, CommentRequest, IncidentComment, IncidentDetail, StatusUpdateRequest,
};
use palisade_types::tickets::{LinkServiceTicketRequest, TicketIncidentRef};
use serde_json::Value;

use super::layout::{self, csrf};
use super::{encode, fail, html as page_response, ConsoleUser, Done, PageResult};
use crate::AppState;

const DETAIL: &str = "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}";
const STATUS: &str = "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/status";
const ASSIGN: &str = "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/assign";
const COMMENT: &str = "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/comments";
const RUN: &str = "/api/v2/workspaces/{workspaceId}/gamebooks/runs";
const LINK: &str = "/api/v2/workspaces/{workspaceId}/tickets/link";
const PLAYBOOKS: &str = "/api/v2/gamebooks/playbooks";

/// The classification/reason pairs a closing may name (the domain's rule), as
/// (`Classification:Reason`, label).
pub fn verdicts() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for c in Classification::ALL {
        for r in ClassificationReason::ALL {
            if valid_pair(*c, *r) {
                out.push((
                    format!("{}:{}", c.as_str(), r.as_str()),
                    format!("{} — {}", c.as_str(), r.as_str()),
                ));
            }
        }
    }
    out
}

type IncidentPath = Path<(String, String, String)>;

pub async fn page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((ws, src, id)): IncidentPath,
    Query(done): Query<Done>,
) -> PageResult {
    let f = fail(&user);
    let ctx = user
        .authorize(&state, Method::GET, DETAIL, Some(&ws))
        .await
        .map_err(&f)?
        .expect("a workspace route");
    let source = parse_source(&src).map_err(&f)?;
    let key = ctx.incident(source, &id);
    let entry = state.incidents().entry(&key).await.map_err(&f)?;
    let raw = state.incidents().detail(&entry, true).map_err(&f)?;
    let detail: IncidentDetail = serde_json::from_str(raw.get())
        .map_err(Error::internal)
        .map_err(&f)?;
    let extra: Value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
    let comments = state.incidents().comments(&key).await.map_err(&f)?;
    let last_run = state.gamebooks().last(&key).await.map_err(&f)?;
    let may = |path: &'static str, method: Method| {
        let (state, user, ws) = (&state, &user, ws.clone());
        async move { user.may(state, method, path, Some(&ws)).await }
    };
    let may_status = may(STATUS, Method::PUT).await;
    let may_assign = may(ASSIGN, Method::PUT).await;
    let may_comment = may(COMMENT, Method::POST).await;
    let may_run = may(RUN, Method::POST).await;
    let may_link = may(LINK, Method::POST).await;
    let playbooks = if may_run && user.may(&state, Method::GET, PLAYBOOKS, None).await {
        state
            .gamebooks()
            .list_playbooks(&user.ctx)
            .await
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let i = &detail.incident;
    let base = format!(
        "/console/incidents/{}/{}/{}",
        ws,
        source.as_str(),
        encode(&id)
    );
    let sync = extra["incident"]["sync"].as_object().cloned();
    let body = html! {
        p { a href="/console" { "← Incidents" } }
        h1 { "#" (i.number) " " (i.title) }
        (layout::notice(done.done.as_deref()))
        div.grid {
            section.panel aria-labelledby="facts" {
                h2 #facts { "Incident" }
                dl.facts {
                    dt { "Severity" } dd { (layout::severity(i.severity)) }
                    dt { "Status" } dd #status { (layout::status(i.status)) }
                    @if let Some(c) = i.classification {
                        dt { "Classification" }
                        dd #classification {
                            (c.as_str())
                            @if let Some(r) = i.classification_reason { " — " (r.as_str()) }
                        }
                    }
                    dt { "Owner" }
                    dd #owner { (i.owner.as_ref().and_then(|o| o.email.clone().or(o.display_name.clone())).unwrap_or_else(|| "Unassigned".into())) }
                    dt { "Source" }
                    dd {
                        (i.source.display_name())
                        @if let Some(url) = &i.provider_url {
                            " · " a href=(url) rel="noreferrer noopener" { "Open in the source" }
                        }
                    }
                    dt { "Created" } dd { (layout::time(i.created_at)) }
                    dt { "Updated" } dd { (layout::time(i.updated_at)) }
                    @if !i.labels.is_empty() { dt { "Labels" } dd { (i.labels.join(", ")) } }
                    @if let Some(s) = &sync {
                        dt { "Sync to source" }
                        dd #sync {
                            (s.get("state").and_then(Value::as_str).unwrap_or("-"))
                            @if let Some(e) = s.get("lastError").and_then(Value::as_str) { " — " (e) }
                        }
                    }
                }
                @if let Some(d) = &i.description { p.description { (d) } }
            }
            section.panel.actions aria-labelledby="actions" {
                h2 #actions { "Actions" }
                @if !(may_status || may_assign || may_comment || may_run || may_link) {
                    p.hint { "Your role on this workspace lets you read this incident." }
                }
                @if may_status { (status_form(&user, &base, i.status)) }
                @if may_assign { (assign_form(&user, &base)) }
                @if may_run && !playbooks.is_empty() {
                    form method="post" action={ (base) "/run" } {
                        (csrf(&user))
                        label for="a-playbook" { "Run a gamebook" }
                        select #a-playbook name="playbook" {
                            @for p in &playbooks { option value=(p.id) { (p.name) } }
                        }
                        button type="submit" { "Run" }
                    }
                }
                @if may_link {
                    form method="post" action={ (base) "/link" } {
                        (csrf(&user))
                        label for="a-ticket" { "Link a ticket" }
                        input #a-ticket type="text" name="ticket" required placeholder="Ticket id";
                        button type="submit" { "Link" }
                    }
                }
            }
        }
        section aria-labelledby="timeline" {
            h2 #timeline { "Comments and activity" }
            (timeline(&comments))
            @if may_comment {
                form method="post" action={ (base) "/comment" } {
                    (csrf(&user))
                    label for="a-comment" { "Add a comment" }
                    textarea #a-comment name="content" required rows="4" {}
                    button type="submit" { "Comment" }
                }
            }
        }
        @if let Some(run) = &last_run {
            section aria-labelledby="lastrun" {
                h2 #lastrun { "Last gamebook run" }
                p { (run.title) " · " (run.status.as_str()) " · " (layout::time(run.creation_date)) }
                ol { @for p in &run.playbooks { li { (p.name) " — " (p.status.as_str()) @if let Some(e) = &p.error_message { " (" (e) ")" } } } }
            }
        }
        section aria-labelledby="entities" {
            h2 #entities { "Entities (" (detail.investigation_details.entities.len()) ")" }
            table {
                thead { tr { th scope="col" { "Kind" } th scope="col" { "Name" } } }
                tbody {
                    @for e in &detail.investigation_details.entities {
                        tr { td { (format!("{:?}", e.kind)) } td { (e.display_name) } }
                    }
                }
            }
        }
        section aria-labelledby="alerts" {
            h2 #alerts { "Alerts (" (detail.investigation_details.alerts.len()) ")" }
            table {
                thead { tr { th scope="col" { "Title" } th scope="col" { "Severity" } th scope="col" { "Product" } } }
                tbody {
                    @for a in &detail.investigation_details.alerts {
                        tr {
                            td { (a.title) }
                            td { (format!("{:?}", a.severity)) }
                            td { (a.product_name.clone().unwrap_or_default()) }
                        }
                    }
                }
            }
        }
        @if !detail.evidence.rows.is_empty() {
            section aria-labelledby="evidence" {
                h2 #evidence { "Evidence" }
                table {
                    thead { tr { @for c in &detail.evidence.columns { th scope="col" { (c) } } } }
                    tbody {
                        @for row in &detail.evidence.rows {
                            tr { @for cell in row { td { (cell_text(cell)) } } }
                        }
                    }
                }
            }
        }
    };
    Ok(page_response(layout::page(
        Some(&user),
        &format!("#{} {}", i.number, i.title),
        "queue",
        body,
    )))
}

fn cell_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn status_form(user: &ConsoleUser, base: &str, current: IncidentStatus) -> Markup {
    html! {
        form method="post" action={ (base) "/status" } {
            (csrf(user))
            label for="a-status" { "Status" }
            select #a-status name="status" {
                @for s in IncidentStatus::ALL {
                    @if *s == current { option value=(s.as_str()) selected { (s.as_str()) } }
                    @else { option value=(s.as_str()) { (s.as_str()) } }
                }
            }
            label for="a-verdict" { "Classification (when closing)" }
            select #a-verdict name="verdict" {
                option value="" { "(none)" }
                @for (v, label) in verdicts() { option value=(v) { (label) } }
            }
            label for="a-close-comment" { "Comment" }
            textarea #a-close-comment name="comment" rows="3" {}
            button type="submit" { "Set status" }
        }
    }
}

fn assign_form(user: &ConsoleUser, base: &str) -> Markup {
    html! {
        form method="post" action={ (base) "/assign" } {
            (csrf(user))
            label for="a-assignee" { "Assign to (email)" }
            input #a-assignee type="email" name="email" required value=(user.email.clone().unwrap_or_default());
            button type="submit" { "Assign" }
        }
    }
}

fn timeline(comments: &[IncidentComment]) -> Markup {
    html! {
        @if comments.is_empty() { p.hint { "No comments yet." } }
        ol.timeline {
            @for c in comments {
                li class=(if c.is_activity_comment { "activity" } else { "comment" }) {
                    strong { (c.author_name.clone().or(c.author_email.clone()).unwrap_or_else(|| "Palisade".into())) }
                    " · " (layout::time(c.created_time))
                    "\n" (c.message)
                }
            }
        }
    }
}

/// The actions of the incident page.
pub async fn act(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((ws, src, id, action)): Path<(String, String, String, String)>,
    Form(form): Form<Vec<(String, String)>>,
) -> PageResult {
    let f = fail(&user);
    // Browsers send a textarea's line breaks as CRLF; the text is stored with LF.
    let get = |k: &str| {
        form.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.replace("\r\n", "\n"))
            .filter(|v| !v.trim().is_empty())
    };
    let source = parse_source(&src).map_err(&f)?;
    let (method, path) = match action.as_str() {
        "status" => (Method::PUT, STATUS),
        "assign" => (Method::PUT, ASSIGN),
        "comment" => (Method::POST, COMMENT),
        "run" => (Method::POST, RUN),
        "link" => (Method::POST, LINK),
        _ => return Err(f(Error::not_found_target("Action", &action, "action"))),
    };
    let ctx = user
        .authorize(&state, method, path, Some(&ws))
        .await
        .map_err(&f)?
        .expect("a workspace route");
    let incidents = state.incidents();
    let done = match action.as_str() {
        "status" => {
            let (classification, reason) =
                match get("verdict").as_deref().and_then(|v| v.split_once(':')) {
                    Some((c, r)) => (Some(c.to_string()), Some(r.to_string())),
                    None => (None, None),
                };
            let closing = get("status").as_deref() == Some("Closed");
            let req = StatusUpdateRequest {
                status: get("status"),
                classification: classification.filter(|_| closing),
                classification_reason: reason.filter(|_| closing),
                comment: get("comment"),
                ..Default::default()
            };
            let i = incidents
                .set_status(&ctx, source, &id, &req)
                .await
                .map_err(&f)?;
            format!("Status set to {}.", i.status.as_str())
        }
        "assign" => {
            let req = AssignRequest {
                email: get("email"),
                ..Default::default()
            };
            incidents
                .assign(&ctx, source, &id, &req)
                .await
                .map_err(&f)?;
            "Assigned.".to_string()
        }
        "comment" => {
            let req = CommentRequest {
                content: get("content"),
                ..Default::default()
            };
            incidents
                .add_comment(&ctx, source, &id, &req)
                .await
                .map_err(&f)?;
            "Comment added.".to_string()
        }
        "run" => {
            let req = StartGamebookRequest {
                source: Some(source.as_str().into()),
                incident_id: Some(id.clone()),
                playbook_ids: get("playbook").map(|p| vec![p]),
                ..Default::default()
            };
            let run = state.gamebooks().start(&ctx, req).await.map_err(&f)?;
            format!("Gamebook started ({}).", run.status.as_str())
        }
        _ => {
            let req = LinkServiceTicketRequest {
                ticket_id: get("ticket"),
                incident: Some(TicketIncidentRef {
                    id: Some(id.clone()),
                    source: Some(source.as_str().into()),
                    workspace_id: Some(ws.clone()),
                    number: None,
                }),
            };
            state.tickets().link(&ctx, req).await.map_err(&f)?;
            "Ticket linked.".to_string()
        }
    };
    let base = format!(
        "/console/incidents/{}/{}/{}",
        ws,
        source.as_str(),
        encode(&id)
    );
    user.audit(&state, &format!("incident.{action}"), base.clone(), 303)
        .await;
    Ok(Redirect::to(&format!("{base}?done={}", encode(&done))).into_response())
}
