//! Health, readiness, metrics, the OpenAPI document and its rendered reference.

use axum::extract::{OriginalUri, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use palisade_domain::Error;
use palisade_types::org::Pong;

use crate::http::error::{ApiError, ApiResult};
use crate::http::respond::Data;
use crate::AppState;

const DOCS_HTML: &str = include_str!("../../assets/docs.html");
const DOCS_JS: &str = include_str!("../../assets/redoc.standalone.js");

pub async fn healthz() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"ok"}"#,
    )
        .into_response()
}

pub async fn readyz(State(state): State<AppState>) -> ApiResult<Response> {
    state.store().ping().await?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"ready"}"#,
    )
        .into_response())
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut text = state.metrics().render();
    text.push_str(&format!(
        "# HELP palisade_auth_credential_lookups_total Credential verifications the cache did not answer (database lookups).\n\
         # TYPE palisade_auth_credential_lookups_total counter\npalisade_auth_credential_lookups_total {}\n",
        state.auth().credential_lookups()
    ));
    // Delivery backlog gauges, read from the shared database (every replica reports the same).
    if let (Ok(jobs), Ok(events), Ok(gamebook_events)) = (
        state.store().system().queued_jobs(None).await,
        state.store().system().undispatched_events().await,
        state.store().system().gamebook_pending_events().await,
    ) {
        text.push_str(&format!(
            "# HELP palisade_webhook_jobs_queued Webhook deliveries queued (due, retrying or held).\n\
             # TYPE palisade_webhook_jobs_queued gauge\npalisade_webhook_jobs_queued {jobs}\n\
             # HELP palisade_outbox_events_pending Outbox events not yet fanned out to webhooks.\n\
             # TYPE palisade_outbox_events_pending gauge\npalisade_outbox_events_pending {events}\n\
             # HELP palisade_gamebook_events_pending Outbox events the gamebook trigger has not examined yet.\n\
             # TYPE palisade_gamebook_events_pending gauge\npalisade_gamebook_events_pending {gamebook_events}\n"
        ));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

pub async fn openapi(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.openapi().as_ref().clone(),
    )
        .into_response()
}

pub async fn docs_page() -> Response {
    (
        // The page's own Content-Security-Policy (a meta tag) keeps it same-origin.
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        DOCS_HTML,
    )
        .into_response()
}

pub async fn docs_script() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                "application/javascript; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        DOCS_JS,
    )
        .into_response()
}

pub async fn ping() -> Data<Pong> {
    Data(Pong { pong: true })
}

pub async fn not_found(OriginalUri(uri): OriginalUri) -> ApiError {
    let shown: String = uri.path().chars().take(200).collect();
    ApiError(Error::NotFound {
        detail: format!("No route matches '{shown}'."),
        target: None,
    })
}

// ---------------------------------------------------------------- route table

const SYSTEM: &str = "System";

/// This resource's routes, in the order of the table `super::api()` assembles.
#[rustfmt::skip]
pub(super) fn routes(api: super::Api) -> super::Api {
    use super::table::*;
    api
        .route(Method::GET, "/healthz", Public,
            doc("healthz", SYSTEM, "Liveness").extension().raw("application/json"),
            healthz)
        .route(Method::GET, "/readyz", Public,
            doc("readyz", SYSTEM, "Readiness: the database is reachable").extension().raw("application/json"),
            readyz)
        .route(Method::GET, "/metrics", Public,
            doc("metrics", SYSTEM, "Prometheus metrics").extension().raw("text/plain"),
            metrics)
        .route(Method::GET, "/api/v2/openapi.json", Public,
            doc("openapi", SYSTEM, "This OpenAPI document").extension().raw("application/json"),
            openapi)
        .route(Method::GET, "/docs", Public,
            doc("docs", SYSTEM, "Rendered API reference").extension().raw("text/html"),
            docs_page)
        .route(Method::GET, "/docs/redoc.standalone.js", Public,
            doc("docs-asset", SYSTEM, "Renderer script of the API reference (embedded)").extension().raw("application/javascript"),
            docs_script)
        .route(Method::GET, "/api/v2/ping", Public,
            doc("v2-ping", SYSTEM, "Unauthenticated hello-world").extension().returns::<Pong>(),
            ping)
}
