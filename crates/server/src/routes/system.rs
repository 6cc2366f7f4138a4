//! Health, readiness, metrics, the OpenAPI document and its rendered reference.

use axum::extract::{OriginalUri, Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use palisade_domain::Error;
use palisade_types::org::Pong;

use crate::http::error::{ApiError, ApiResult};
use crate::http::respond::Data;
use crate::AppState;

const DOCS_HTML: &str = include_str!("../../assets/docs.html");
const DOCS_JS: &str = include_str!("../../assets/redoc.standalone.js");

/// The guides of `docs/`, compiled in and served under `/docs/{name}` (the OpenAPI
/// descriptions link to them). A test checks that every `docs/*.md` is listed.
const GUIDES: &[(&str, &str)] = &[
    (
        "ARCHITECTURE.md",
        include_str!("../../../../docs/ARCHITECTURE.md"),
    ),
    ("azure.md", include_str!("../../../../docs/azure.md")),
    (
        "benchmarks.md",
        include_str!("../../../../docs/benchmarks.md"),
    ),
    (
        "configuration.md",
        include_str!("../../../../docs/configuration.md"),
    ),
    (
        "connectors.md",
        include_str!("../../../../docs/connectors.md"),
    ),
    ("console.md", include_str!("../../../../docs/console.md")),
    ("contract.md", include_str!("../../../../docs/contract.md")),
    (
        "datasources.md",
        include_str!("../../../../docs/datasources.md"),
    ),
    (
        "decisions.md",
        include_str!("../../../../docs/decisions.md"),
    ),
    (
        "gamebooks.md",
        include_str!("../../../../docs/gamebooks.md"),
    ),
    (
        "incidents.md",
        include_str!("../../../../docs/incidents.md"),
    ),
    (
        "investigation.md",
        include_str!("../../../../docs/investigation.md"),
    ),
    ("jobs.md", include_str!("../../../../docs/jobs.md")),
    ("storage.md", include_str!("../../../../docs/storage.md")),
    ("tickets.md", include_str!("../../../../docs/tickets.md")),
    ("webhooks.md", include_str!("../../../../docs/webhooks.md")),
];

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
    let t = state.auth().throttle_counts();
    text.push_str(&format!(
        "# HELP palisade_auth_failures_total Failed authentications (malformed header, unknown client id, wrong secret).\n\
         # TYPE palisade_auth_failures_total counter\npalisade_auth_failures_total {}\n\
         # HELP palisade_auth_throttles_total Times a (client id, address) or an address reached its failed-authentication limit.\n\
         # TYPE palisade_auth_throttles_total counter\n\
         palisade_auth_throttles_total{{limit=\"client_address\"}} {}\n\
         palisade_auth_throttles_total{{limit=\"address\"}} {}\n\
         # HELP palisade_auth_rate_limited_total Requests refused with 429 while their client id and address, or their address, was throttled.\n\
         # TYPE palisade_auth_rate_limited_total counter\npalisade_auth_rate_limited_total {}\n",
        t.failures, t.client_address_throttles, t.address_throttles, t.rate_limited
    ));
    let c = state.incidents().cache().stats();
    text.push_str(&format!(
        "# HELP palisade_incident_cache_entries Incidents in the read cache.\n\
         # TYPE palisade_incident_cache_entries gauge\npalisade_incident_cache_entries {}\n\
         # HELP palisade_incident_cache_bytes Bytes the read cache holds (incidents, estimated, and their rendered detail documents).\n\
         # TYPE palisade_incident_cache_bytes gauge\npalisade_incident_cache_bytes {}\n\
         # HELP palisade_incident_cache_capacity_bytes The read cache's bound in bytes (incidents.cache_bytes).\n\
         # TYPE palisade_incident_cache_capacity_bytes gauge\npalisade_incident_cache_capacity_bytes {}\n\
         # HELP palisade_incident_cache_hits_total Incident reads by id the cache answered.\n\
         # TYPE palisade_incident_cache_hits_total counter\npalisade_incident_cache_hits_total {}\n\
         # HELP palisade_incident_cache_misses_total Incident reads by id the cache did not answer.\n\
         # TYPE palisade_incident_cache_misses_total counter\npalisade_incident_cache_misses_total {}\n\
         # HELP palisade_incident_cache_evictions_total Entries dropped to stay within the cache's bounds.\n\
         # TYPE palisade_incident_cache_evictions_total counter\npalisade_incident_cache_evictions_total {}\n",
        c.entries, c.bytes, c.capacity_bytes, c.hits, c.misses, c.evictions
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
    match state.jobs().render_metrics().await {
        Ok(jobs) => text.push_str(&jobs),
        Err(e) => tracing::warn!(error = %e, "reading the job queue's figures failed"),
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// A JSON document served from memory.
fn json_document(bytes: &[u8]) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], bytes.to_vec()).into_response()
}

pub async fn openapi(State(state): State<AppState>) -> Response {
    json_document(state.openapi())
}

pub async fn openapi_30(State(state): State<AppState>) -> Response {
    json_document(state.openapi_30())
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

/// A guide of `docs/`, as the Markdown it is written in, shown as plain text (every browser
/// displays that; `text/markdown` is often downloaded instead).
pub async fn guide(Path(name): Path<String>) -> ApiResult<Response> {
    let (_, text) = GUIDES.iter().find(|(n, _)| *n == name).ok_or_else(|| {
        let shown: String = name.chars().take(100).collect();
        Error::NotFound {
            detail: format!(
                "No guide '{shown}'. Guides: {}.",
                GUIDES
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            target: None,
        }
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        *text,
    )
        .into_response())
}

/// `/` leads to the console, or to the API reference when the console is disabled.
pub async fn root(State(state): State<AppState>) -> Response {
    let to = if state.config().console.enabled {
        "/console"
    } else {
        "/docs"
    };
    axum::response::Redirect::temporary(to).into_response()
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
        .route(Method::GET, "/api/v2/openapi-3.0.json", Public,
            doc("openapi-3.0", SYSTEM, "This document as OpenAPI 3.0.3")
                .describe("The same API for generators without OpenAPI 3.1 (progenitor, openapi-generator): nullable types as `nullable: true`, `const` as a one-value `enum`, one `example` per schema.")
                .extension().raw("application/json"),
            openapi_30)
        .route(Method::GET, "/docs", Public,
            doc("docs", SYSTEM, "Rendered API reference").extension().raw("text/html"),
            docs_page)
        .route(Method::GET, "/", Public,
            doc("root", SYSTEM, "Redirects to the console (`/console`), or to the API reference (`/docs`) when the console is disabled").extension().raw("text/html").status(307),
            root)
        .route(Method::GET, "/docs/{guide}", Public,
            doc("docs-guide", SYSTEM, "A guide of `docs/`, e.g. [webhooks.md](/docs/webhooks.md)")
                .describe("The Markdown source of the guide, as `text/plain`. Guides: `ARCHITECTURE.md`, `azure.md`, `benchmarks.md`, `configuration.md`, `connectors.md`, `console.md`, `contract.md`, `datasources.md`, `decisions.md`, `gamebooks.md`, `incidents.md`, `investigation.md`, `jobs.md`, `storage.md`, `tickets.md`, `webhooks.md`.")
                .extension().raw("text/plain"),
            guide)
        .route(Method::GET, "/docs/redoc.standalone.js", Public,
            doc("docs-asset", SYSTEM, "Renderer script of the API reference (embedded)").extension().raw("application/javascript"),
            docs_script)
        .route(Method::GET, "/api/v2/ping", Public,
            doc("v2-ping", SYSTEM, "Unauthenticated hello-world").extension().returns::<Pong>(),
            ping)
}
