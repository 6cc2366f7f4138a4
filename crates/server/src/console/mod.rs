//! The analyst console (DESIGN §11, docs/console.md): server-rendered pages at `/console`,
//! on the same services and with the same authorization as the API.
//!
//! - Every request under `/console` passes [`guard`]: it sets the security headers (a strict
//!   Content-Security-Policy: scripts, styles and images only from this origin, no inline
//!   script), resolves the session cookie into a [`ConsoleUser`] (idle and absolute expiry)
//!   and, for every `POST`, checks the form's CSRF token against the session's (or, on the
//!   sign-in form, against the pre-session cookie) before any handler runs: 403 otherwise.
//! - A signed-in user is a [`Principal`](crate::auth::Principal) like a service account's
//!   (`auth/user.rs`); each action checks the access rule of the API route it acts like
//!   ([`ConsoleUser::authorize`]) and calls the same service method, so a forged POST is
//!   refused exactly as the API would refuse it, and pages hide what the user may not do by
//!   asking the same question ([`ConsoleUser::may`]).
//! - Every action is written to the audit log with the user ([`ConsoleUser::audit`]).

mod assets;
mod audit;
mod connectors;
mod dashboard;
mod gamebooks;
mod incident;
mod layout;
pub mod oidc;
mod queue;
mod session;
mod sources;
mod webhooks;

use std::net::IpAddr;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::Markup;
use palisade_domain::Error;

use crate::access::{OrgCtx, WorkspaceCtx};
use crate::http::registry::{access_of, check_access};
use crate::service::audit::{Change, Channel};
use crate::AppState;

pub use session::SESSION_COOKIE;

/// The Content-Security-Policy of every console response.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The console's routes (merged into the application's router when `console.enabled`).
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/console", get(queue::page))
        .route("/console/incidents/rows", get(queue::rows))
        .route("/console/incidents/bulk", post(queue::bulk))
        .route(
            "/console/incidents/{workspaceId}/{source}/{incidentId}",
            get(incident::page),
        )
        .route(
            "/console/incidents/{workspaceId}/{source}/{incidentId}/{action}",
            post(incident::act),
        )
        .route("/console/dashboard", get(dashboard::page))
        .route("/console/dashboard/{chart}", get(dashboard::chart))
        .route("/console/sources", get(sources::page))
        .route(
            "/console/sources/new",
            get(connectors::new_form).post(connectors::create),
        )
        .route(
            "/console/sources/{workspaceId}/{dataConnectorId}",
            get(connectors::edit_form).post(connectors::update),
        )
        .route(
            "/console/webhooks",
            get(webhooks::list).post(webhooks::create),
        )
        .route("/console/webhooks/{id}", get(webhooks::detail))
        .route("/console/webhooks/{id}/{action}", post(webhooks::act))
        .route("/console/gamebooks", get(gamebooks::page))
        .route(
            "/console/gamebooks/{workspaceId}/{runId}/{action}",
            post(gamebooks::act),
        )
        .route("/console/audit", get(audit::page))
        .route(
            "/console/sign-in",
            get(session::sign_in_page).post(session::sign_in),
        )
        .route("/console/sign-out", post(session::sign_out))
        .route("/console/oidc/start", get(oidc::start))
        .route("/console/oidc/callback", get(oidc::callback))
        .route("/console/assets/{file}", get(assets::serve))
        .layer(from_fn_with_state(state, guard))
}

/// The signed-in user of a console request.
#[derive(Clone)]
pub struct ConsoleUser {
    pub ctx: OrgCtx,
    pub csrf: String,
    pub address: Option<IpAddr>,
    /// The user's email, for "assigned to me".
    pub email: Option<String>,
}

impl ConsoleUser {
    /// The access rule of the API route `method path`, checked for this user; on a workspace
    /// rule, on `workspace`. `Err` is what the API would answer (403, or 404 for another
    /// organization's workspace).
    pub async fn authorize(
        &self,
        state: &AppState,
        method: Method,
        path: &str,
        workspace: Option<&str>,
    ) -> Result<Option<WorkspaceCtx>, Error> {
        let access = access_of(&method, path)
            .ok_or_else(|| Error::internal(format!("no API route {method} {path}")))?;
        check_access(state, &self.ctx, access, workspace).await
    }

    /// Whether the user may call the API route `method path` (on `workspace`): what pages ask
    /// before they show an action.
    pub async fn may(
        &self,
        state: &AppState,
        method: Method,
        path: &str,
        workspace: Option<&str>,
    ) -> bool {
        self.authorize(state, method, path, workspace).await.is_ok()
    }

    /// Records a console action in the audit log.
    pub async fn audit(&self, state: &AppState, action: &str, target: String, status: u16) {
        let change = Change {
            principal: &self.ctx.principal,
            channel: Channel::Console,
            action: format!("console.{action}"),
            target,
            status,
            address: self.address,
        };
        state.audit().record(&self.ctx.org, change).await;
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ConsoleUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<ConsoleUser>() {
            Some(user) => Ok(user.clone()),
            None => Err(to_sign_in(parts)),
        }
    }
}

/// The answer to a request without a (live) session: the sign-in page, coming back here.
fn to_sign_in(parts: &Parts) -> Response {
    let expired = parts.extensions.get::<session::Expired>().is_some();
    let back = if parts.method == Method::GET {
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/console")
    } else {
        "/console"
    };
    let mut to = format!("/console/sign-in?next={}", encode(back));
    if expired {
        to.push_str("&expired=1");
    }
    // An htmx request (the queue's polling) follows HX-Redirect with a full page load.
    if parts.headers.contains_key("hx-request") {
        let mut r = StatusCode::NO_CONTENT.into_response();
        if let Ok(v) = HeaderValue::from_str(&to) {
            r.headers_mut().insert("hx-redirect", v);
        }
        return r;
    }
    Redirect::to(&to).into_response()
}

/// Percent-encodes a query value.
pub(crate) fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Security headers, the session, and the CSRF check of every POST; the time the server
/// spent on the answer in `Server-Timing` (read by `bench/console.sh`).
async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let mut r = guarded(state, req, next).await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(v) = HeaderValue::from_str(&format!("app;dur={ms:.2}")) {
        r.headers_mut().insert("server-timing", v);
    }
    r
}

async fn guarded(state: AppState, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let is_asset = parts.uri.path().starts_with("/console/assets/");
    let mut body = body;
    if !is_asset {
        if let Err(r) = session::resolve(&state, &mut parts).await {
            return secure(r, false);
        }
        if parts.method == Method::POST {
            match session::check_csrf(&parts, body).await {
                Ok(b) => body = b,
                Err(r) => return secure(r, false),
            }
        }
    }
    let response = next.run(Request::from_parts(parts, body)).await;
    secure(response, is_asset)
}

/// Adds the console's security headers.
fn secure(mut r: Response, cacheable: bool) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !cacheable {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

/// A page, as a response.
pub(crate) fn html(m: Markup) -> Response {
    Html(m.into_string()).into_response()
}

/// An error as a console page: the API's status and code (403 for what the user may not do,
/// 404, 400 with the validation messages); internal causes are logged, never shown.
pub(crate) fn error_page(user: Option<&ConsoleUser>, e: Error) -> Response {
    let api = crate::http::error::ApiError(e).into_response();
    let Some(marker) = api
        .extensions()
        .get::<crate::http::error::ProblemMarker>()
        .cloned()
    else {
        return api;
    };
    let status = marker.status;
    let mut lines: Vec<String> = Vec::new();
    for (field, messages) in marker.errors.iter().flatten() {
        for m in messages {
            lines.push(if field.is_empty() {
                m.clone()
            } else {
                format!("{field}: {m}")
            });
        }
    }
    if lines.is_empty() {
        lines.push(marker.detail.clone());
    }
    let body = layout::page(
        user,
        "Error",
        "",
        maud::html! {
            h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("Error")) }
            p.code { (marker.code) }
            ul.errors { @for l in &lines { li { (l) } } }
            p { a href="/console" { "Back to the incident queue" } }
        },
    );
    let mut r = (status, Html(body.into_string())).into_response();
    for name in [header::RETRY_AFTER] {
        if let Some(v) = api.headers().get(&name) {
            r.headers_mut().insert(name, v.clone());
        }
    }
    r
}

/// The `done` query parameter: the notice a page shows after an action (post/redirect/get).
#[derive(serde::Deserialize, Default)]
pub(crate) struct Done {
    pub done: Option<String>,
}

/// A result of a console handler: a page, or an error page.
pub(crate) type PageResult = Result<Response, Response>;

/// Maps a service error to its error page.
pub(crate) fn fail(user: &ConsoleUser) -> impl Fn(Error) -> Response + '_ {
    move |e| error_page(Some(user), e)
}
