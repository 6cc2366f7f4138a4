//! Per-request context: request id, matched route, principal — set by the outermost
//! middleware and readable anywhere inside the request (envelopes, problems, logs).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, Response, StatusCode};
use axum::middleware::Next;
use http_body_util::BodyExt;

use super::error::{render_problem, ProblemMarker};
use crate::AppState;

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub struct RequestCtx {
    pub request_id: String,
    pub route: Mutex<Option<&'static str>>,
    pub principal: Mutex<Option<String>>,
}

tokio::task_local! {
    static CTX: RequestCtx;
}

/// The current request's id (empty outside a request).
pub fn request_id() -> String {
    CTX.try_with(|c| c.request_id.clone()).unwrap_or_default()
}

pub(crate) fn set_route(route: &'static str) {
    let _ = CTX.try_with(|c| *c.route.lock().unwrap() = Some(route));
}

pub(crate) fn set_principal(p: String) {
    let _ = CTX.try_with(|c| *c.principal.lock().unwrap() = Some(p));
}

/// Request ids look like ASP.NET's (`0HNLBAGCRD4RN:00000003`): a per-process prefix and a
/// counter, unique across replicas with overwhelming probability.
fn new_request_id() -> String {
    static PREFIX: OnceLock<String> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUV";
        let mut bytes = [0u8; 13];
        rand::Rng::fill(&mut rand::thread_rng(), &mut bytes[..]);
        bytes
            .iter()
            .map(|b| ALPHABET[(*b as usize) % 32] as char)
            .collect()
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed) + 1;
    format!("{prefix}:{n:08X}")
}

/// A client-supplied `X-Request-Id` is kept when it is short and plain.
fn incoming_request_id(req: &Request) -> Option<String> {
    let v = req.headers().get(&X_REQUEST_ID)?.to_str().ok()?;
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_:.".contains(&b));
    ok.then(|| v.to_string())
}

/// The outermost middleware: request id, one log line, metrics, and the guarantee that every
/// failure leaves as ProblemDetails.
pub async fn request_context(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response<Body> {
    req.extensions_mut().insert(state.clone());
    let started = Instant::now();
    let request_id = incoming_request_id(&req).unwrap_or_else(new_request_id);
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let ctx = RequestCtx {
        request_id: request_id.clone(),
        route: Mutex::new(None),
        principal: Mutex::new(None),
    };
    let (response, route, principal) = CTX
        .scope(ctx, async move {
            let response = next.run(req).await;
            let response = finish_problem(response, &path).await;
            let route = CTX.with(|c| *c.route.lock().unwrap());
            let principal = CTX.with(|c| c.principal.lock().unwrap().take());
            (response, route, principal)
        })
        .await;
    let mut response = response;
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(X_REQUEST_ID.clone(), v);
    }
    let status = response.status();
    let elapsed = started.elapsed();
    let route = route.unwrap_or("unmatched");
    state
        .metrics()
        .observe(&method, route, status.as_u16(), elapsed);
    tracing::info!(
        target: "palisade::request",
        request_id = %request_id,
        method = %method,
        route,
        path = %response.extensions().get::<LoggedPath>().map(|p| p.0.as_str()).unwrap_or(""),
        status = status.as_u16(),
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        principal = principal.as_deref().unwrap_or("-"),
        "request"
    );
    response
}

/// The path as logged (set by `finish_problem`, which sees it).
#[derive(Clone)]
struct LoggedPath(String);

/// Turns every error response into ProblemDetails: our own errors carry a [`ProblemMarker`]
/// and get their body here (with request id and instance); the framework's own rejections
/// (unknown route, wrong method, bad JSON, body too large, panics) are converted by status.
async fn finish_problem(response: Response<Body>, path: &str) -> Response<Body> {
    let status = response.status();
    let mut response = if let Some(marker) = response.extensions().get::<ProblemMarker>().cloned() {
        let (mut parts, _) = response.into_parts();
        let body = render_problem(&marker, path);
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        parts.headers.remove(header::CONTENT_LENGTH);
        Response::from_parts(parts, Body::from(body))
    } else if status.is_client_error() || status.is_server_error() {
        // ProblemDetails already, or a page of the console (which answers people in HTML).
        let is_problem = response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| {
                v.as_bytes().starts_with(b"application/problem+json")
                    || v.as_bytes().starts_with(b"text/html")
            });
        if is_problem {
            response
        } else {
            convert_framework_error(response, path).await
        }
    } else {
        response
    };
    response
        .extensions_mut()
        .insert(LoggedPath(path.to_string()));
    response
}

async fn convert_framework_error(response: Response<Body>, path: &str) -> Response<Body> {
    let (parts, body) = response.into_parts();
    let text = match http_body_util::Limited::new(body, 4096).collect().await {
        Ok(c) => String::from_utf8_lossy(&c.to_bytes()).into_owned(),
        Err(_) => String::new(),
    };
    let status = parts.status;
    let marker = ProblemMarker::from_status(status, text.trim());
    let mut out = Response::new(Body::from(render_problem(&marker, path)));
    *out.status_mut() = marker.status;
    let headers = out.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        headers.insert(header::ALLOW, allow.clone());
    }
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"palisade\""),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_ids_are_unique_and_shaped() {
        let a = super::new_request_id();
        let b = super::new_request_id();
        assert_ne!(a, b);
        let (prefix, n) = a.split_once(':').unwrap();
        assert_eq!(prefix.len(), 13);
        assert_eq!(n.len(), 8);
    }
}
