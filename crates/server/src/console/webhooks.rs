//! Webhooks: the list, creation (the signing secret is shown once, on the page that answers
//! the creation, and never again), a webhook's delivery log with its statuses, redelivery,
//! a test event, pause/resume (and enable after auto-disable) — each through the webhook
//! routes' access rules and the webhook service.

use axum::extract::{Path, State};
use axum::http::Method;
use axum::response::{IntoResponse, Redirect};
use axum::Form;
use maud::html;
use palisade_domain::Error;
use palisade_types::webhooks::{WebhookRequest, WebhookStatus};
use uuid::Uuid;

use super::layout::{self, csrf};
use super::{encode, fail, html as page_response, ConsoleUser, Done, PageResult};
use crate::service::webhooks::logs::LogQuery;
use crate::AppState;

const LIST: &str = "/api/v2/webhooks";
const ONE: &str = "/api/v2/webhooks/{id}";
const LOGS: &str = "/api/v2/webhooks/{id}/delivery-logs";
const PAUSE: &str = "/api/v2/webhooks/{id}/pause";
const RESUME: &str = "/api/v2/webhooks/{id}/resume";
const ENABLE: &str = "/api/v2/webhooks/{id}/enable";
const TEST: &str = "/api/v2/webhooks/{id}/test";
const REDELIVER: &str = "/api/v2/webhooks/{id}/delivery-logs/{logId}/redeliver";

fn create_form(user: &ConsoleUser, event_types: &[(String, String)]) -> maud::Markup {
    html! {
        form.create method="post" action="/console/webhooks" {
            (csrf(user))
            fieldset {
                legend { "New webhook" }
                label for="w-name" { "Name" }
                input #w-name type="text" name="name" required maxlength="200";
                label for="w-url" { "URL" }
                input #w-url type="url" name="url" required placeholder="https://…";
                fieldset {
                    legend { "Events" }
                    @for (name, description) in event_types {
                        label {
                            input type="checkbox" name="eventTypes" value=(name) checked;
                            " " (name) " — " (description)
                        }
                    }
                }
                button type="submit" { "Create webhook" }
            }
        }
    }
}

pub async fn list(State(state): State<AppState>, user: ConsoleUser) -> PageResult {
    let f = fail(&user);
    user.authorize(&state, Method::GET, LIST, None)
        .await
        .map_err(&f)?;
    let hooks = state.webhooks().list(&user.ctx).await.map_err(&f)?;
    let may_manage = user.may(&state, Method::POST, LIST, None).await;
    let events: Vec<(String, String)> = state
        .webhooks()
        .event_types()
        .into_iter()
        .map(|e| (e.name, e.description))
        .collect();
    let body = html! {
        h1 { "Webhooks" }
        table {
            caption.visually-hidden { "Webhooks" }
            thead { tr { th scope="col" { "Name" } th scope="col" { "URL" } th scope="col" { "Status" } th scope="col" { "Events" } } }
            tbody {
                @if hooks.is_empty() { tr { td colspan="4" { "No webhooks yet." } } }
                @for w in &hooks {
                    tr {
                        td { a href={ "/console/webhooks/" (w.id) } { (w.name) } }
                        td { (w.url) }
                        td { (w.status.as_str()) }
                        td { (w.event_types.join(", ")) }
                    }
                }
            }
        }
        @if may_manage { (create_form(&user, &events)) }
    };
    Ok(page_response(layout::page(
        Some(&user),
        "Webhooks",
        "webhooks",
        body,
    )))
}

/// Creates a webhook and shows its signing secret, this once.
pub async fn create(
    State(state): State<AppState>,
    user: ConsoleUser,
    Form(form): Form<Vec<(String, String)>>,
) -> PageResult {
    let f = fail(&user);
    user.authorize(&state, Method::POST, LIST, None)
        .await
        .map_err(&f)?;
    let get = |k: &str| {
        form.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let events: Vec<String> = form
        .iter()
        .filter(|(k, _)| k == "eventTypes")
        .map(|(_, v)| v.clone())
        .collect();
    let req = WebhookRequest {
        name: get("name"),
        url: get("url"),
        event_types: Some(events),
        ..Default::default()
    };
    let created = state.webhooks().create(&user.ctx, req).await.map_err(&f)?;
    let id = created.webhook.id;
    user.audit(
        &state,
        "webhook.create",
        format!("/console/webhooks/{id}"),
        201,
    )
    .await;
    let body = html! {
        h1 { "Webhook created" }
        p { "Webhook " strong { (created.webhook.name) } " sends to " (created.webhook.url) "." }
        h2 { "Signing secret" }
        p { "Copy it now: it is shown only this once. Deliveries carry X-CF-Signature, an HMAC-SHA256 keyed by it." }
        p.secret #secret { (created.signing_secret) }
        p { a href={ "/console/webhooks/" (id) } { "Go to the webhook" } }
    };
    Ok(page_response(layout::page(
        Some(&user),
        "Webhook created",
        "webhooks",
        body,
    )))
}

pub async fn detail(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    axum::extract::Query(done): axum::extract::Query<Done>,
) -> PageResult {
    let f = fail(&user);
    let id = crate::http::extract::path_id("Webhook", &id).map_err(&f)?;
    user.authorize(&state, Method::GET, ONE, None)
        .await
        .map_err(&f)?;
    let w = state.webhooks().get(&user.ctx, id).await.map_err(&f)?;
    let logs = if user.may(&state, Method::GET, LOGS, None).await {
        let q = LogQuery {
            page_size: Some("50".into()),
            ..Default::default()
        };
        state
            .webhooks()
            .logs(&user.ctx, id, q)
            .await
            .map_err(&f)?
            .items
    } else {
        Vec::new()
    };
    let may_manage = user.may(&state, Method::POST, PAUSE, None).await;
    let base = format!("/console/webhooks/{id}");
    let body = html! {
        p { a href="/console/webhooks" { "← Webhooks" } }
        h1 { (w.name) }
        (layout::notice(done.done.as_deref()))
        dl.facts {
            dt { "URL" } dd { (w.url) }
            dt { "Status" } dd #wh-status { (w.status.as_str()) }
            dt { "Events" } dd { (w.event_types.join(", ")) }
            @if let Some(r) = &w.disable_reason { dt { "Disabled because" } dd { (r) } }
        }
        @if may_manage {
            div.actions {
                form method="post" action={ (base) "/test" } { (csrf(&user)) button type="submit" { "Send a test event" } }
                @match w.status {
                    WebhookStatus::Active => {
                        form method="post" action={ (base) "/pause" } { (csrf(&user)) button.secondary type="submit" { "Pause" } }
                    }
                    WebhookStatus::Paused => {
                        form method="post" action={ (base) "/resume" } { (csrf(&user)) button type="submit" { "Resume" } }
                    }
                    WebhookStatus::Disabled => {
                        form method="post" action={ (base) "/enable" } { (csrf(&user)) button type="submit" { "Enable" } }
                    }
                }
            }
        }
        h2 { "Delivery log" }
        table #deliveries {
            thead { tr { th scope="col" { "When" } th scope="col" { "Event" } th scope="col" { "Status" } th scope="col" { "HTTP" } th scope="col" { "Attempt" } th scope="col" { span.visually-hidden { "Actions" } } } }
            tbody {
                @if logs.is_empty() { tr { td colspan="6" { "No deliveries yet." } } }
                @for l in &logs {
                    tr {
                        td { (layout::time(l.created_at)) }
                        td { (l.event_type) @if l.is_test { " (test)" } }
                        td { (format!("{:?}", l.status)) }
                        td { (l.http_status_code.map(|c| c.to_string()).unwrap_or_default()) }
                        td { (l.attempt_number) }
                        td {
                            @if may_manage {
                                form method="post" action={ (base) "/redeliver" } {
                                    (csrf(&user))
                                    input type="hidden" name="log" value=(l.id);
                                    input type="hidden" name="createdAt" value=(l.created_at.to_rfc3339());
                                    button.secondary type="submit" aria-label={ "Redeliver " (l.event_type) " of " (l.created_at.to_rfc3339()) } { "Redeliver" }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page_response(layout::page(
        Some(&user),
        &w.name,
        "webhooks",
        body,
    )))
}

pub async fn act(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<Vec<(String, String)>>,
) -> PageResult {
    let f = fail(&user);
    let id = crate::http::extract::path_id("Webhook", &id).map_err(&f)?;
    let path = match action.as_str() {
        "pause" => PAUSE,
        "resume" => RESUME,
        "enable" => ENABLE,
        "test" => TEST,
        "redeliver" => REDELIVER,
        _ => return Err(f(Error::not_found_target("Action", &action, "action"))),
    };
    user.authorize(&state, Method::POST, path, None)
        .await
        .map_err(&f)?;
    let hooks = state.webhooks();
    let done = match action.as_str() {
        "pause" => format!(
            "Paused ({}).",
            hooks
                .pause(&user.ctx, id)
                .await
                .map_err(&f)?
                .status
                .as_str()
        ),
        "resume" => format!(
            "Resumed ({}).",
            hooks
                .resume(&user.ctx, id)
                .await
                .map_err(&f)?
                .status
                .as_str()
        ),
        "enable" => format!(
            "Enabled ({}).",
            hooks
                .enable(&user.ctx, id)
                .await
                .map_err(&f)?
                .status
                .as_str()
        ),
        "test" => {
            let log = hooks.test(&user.ctx, id).await.map_err(&f)?;
            format!(
                "Test event sent: {:?}{}.",
                log.status,
                log.http_status_code
                    .map(|c| format!(", HTTP {c}"))
                    .unwrap_or_default()
            )
        }
        _ => {
            let get = |k: &str| -> Option<String> {
                form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
            };
            let log = get("log")
                .and_then(|l| Uuid::parse_str(&l).ok())
                .ok_or_else(|| f(Error::field("log", "must be a delivery log id")))?;
            hooks
                .redeliver(&user.ctx, id, log, get("createdAt").as_deref())
                .await
                .map_err(&f)?;
            "Redelivery queued.".to_string()
        }
    };
    let base = format!("/console/webhooks/{id}");
    user.audit(&state, &format!("webhook.{action}"), base.clone(), 303)
        .await;
    Ok(Redirect::to(&format!("{base}?done={}", encode(&done))).into_response())
}
