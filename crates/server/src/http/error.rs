//! The one error type of the HTTP layer: every failure becomes RFC 7807 ProblemDetails with a
//! stable `code` (DESIGN §3).

use std::collections::BTreeMap;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use palisade_domain::Error;
use palisade_types::ProblemDetails;

use super::context::request_id;

pub const PROBLEM_TYPE: &str = "https://docs.contraforce.com/api-reference/errors";

/// A handler's error: the domain error, rendered as ProblemDetails.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// What a failed response carries until the request-context middleware renders it (it knows
/// the request id and path).
#[derive(Debug, Clone)]
pub struct ProblemMarker {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub target: Option<String>,
    pub errors: Option<BTreeMap<String, Vec<String>>>,
}

impl ProblemMarker {
    fn new(status: StatusCode, code: &'static str, title: &'static str, detail: String) -> Self {
        ProblemMarker {
            status,
            code,
            title,
            detail,
            target: None,
            errors: None,
        }
    }

    /// 500 `INTERNAL_ERROR`, naming the request id to quote and nothing of the cause.
    fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "Internal error",
            format!(
                "An unexpected error occurred. Quote request id {} when reporting it.",
                request_id()
            ),
        )
    }

    /// For responses the framework produced itself (no marker): classify by status.
    pub fn from_status(status: StatusCode, text: &str) -> Self {
        let text: String = text.chars().take(300).collect();
        let or = |default: &str| {
            if text.is_empty() {
                default.to_string()
            } else {
                text.clone()
            }
        };
        match status.as_u16() {
            400 => Self::new(
                status,
                "BAD_REQUEST",
                "Bad request",
                or("The request is malformed."),
            ),
            401 => Self::new(
                status,
                "UNAUTHORIZED",
                "Unauthorized",
                or("Authentication is required."),
            ),
            404 => Self::new(
                status,
                "NOT_FOUND",
                "Not found",
                "No resource or route matches this path.".into(),
            ),
            405 => Self::new(
                status,
                "METHOD_NOT_ALLOWED",
                "Method not allowed",
                "The route does not support this HTTP method.".into(),
            ),
            413 => Self::new(
                status,
                "PAYLOAD_TOO_LARGE",
                "Payload too large",
                "The request body exceeds the configured limit.".into(),
            ),
            415 => Self::new(
                status,
                "UNSUPPORTED_MEDIA_TYPE",
                "Unsupported media type",
                or("Send the body as application/json."),
            ),
            422 => {
                let mut m = Self::new(
                    StatusCode::BAD_REQUEST,
                    "VALIDATION_ERROR",
                    "Validation failed",
                    "One or more validation errors occurred.".into(),
                );
                m.errors = Some(BTreeMap::from([(String::new(), vec![or("invalid body")])]));
                m
            }
            429 => Self::new(
                status,
                "RATE_LIMITED",
                "Too many requests",
                or("Slow down."),
            ),
            503 => Self::new(
                status,
                "SERVICE_UNAVAILABLE",
                "Service unavailable",
                "The service is temporarily unavailable.".into(),
            ),
            s if s >= 500 => Self::internal(),
            _ => Self::new(
                status,
                "BAD_REQUEST",
                "Bad request",
                or("The request was rejected."),
            ),
        }
    }
}

/// Renders the problem document for the current request.
pub fn render_problem(m: &ProblemMarker, path: &str) -> Vec<u8> {
    let problem = ProblemDetails {
        type_: PROBLEM_TYPE.into(),
        title: m.title.into(),
        status: m.status.as_u16(),
        detail: m.detail.clone(),
        instance: path.into(),
        code: m.code.into(),
        request_id: request_id(),
        timestamp: palisade_domain::time::envelope_timestamp(chrono::Utc::now()),
        target: m.target.clone(),
        errors: m.errors.clone(),
    };
    serde_json::to_vec(&problem).expect("problem serializes")
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let detail = self.0.to_string();
        let (marker, extra): (ProblemMarker, Option<(header::HeaderName, String)>) = match self.0 {
            Error::Validation(errors) => {
                let mut m = ProblemMarker::new(
                    StatusCode::BAD_REQUEST,
                    "VALIDATION_ERROR",
                    "Validation failed",
                    detail,
                );
                m.target = (errors.len() == 1)
                    .then(|| errors.keys().next().cloned())
                    .flatten()
                    .filter(|k| !k.is_empty());
                m.errors = Some(errors);
                (m, None)
            }
            Error::ValidationDetail { errors, .. } => {
                let mut m = ProblemMarker::new(
                    StatusCode::BAD_REQUEST,
                    "VALIDATION_ERROR",
                    "Validation failed",
                    detail,
                );
                m.errors = Some(errors);
                (m, None)
            }
            Error::BadRequest(_) => (
                ProblemMarker::new(
                    StatusCode::BAD_REQUEST,
                    "BAD_REQUEST",
                    "Bad request",
                    detail,
                ),
                None,
            ),
            Error::Unauthorized(_) => (
                ProblemMarker::new(
                    StatusCode::UNAUTHORIZED,
                    "UNAUTHORIZED",
                    "Unauthorized",
                    detail,
                ),
                Some((header::WWW_AUTHENTICATE, "Basic realm=\"palisade\"".into())),
            ),
            Error::InsufficientScope(scopes) => {
                let mut m = ProblemMarker::new(
                    StatusCode::FORBIDDEN,
                    "INSUFFICIENT_SCOPE",
                    "Insufficient scope",
                    detail,
                );
                m.target = scopes.first().map(|s| s.as_str().to_string());
                (m, None)
            }
            Error::InsufficientWorkspaceRole { ref workspace, .. } => {
                let mut m = ProblemMarker::new(
                    StatusCode::FORBIDDEN,
                    "INSUFFICIENT_WORKSPACE_ROLE",
                    "Insufficient workspace role",
                    detail.clone(),
                );
                m.target = Some(workspace.clone());
                (m, None)
            }
            Error::NotFound { target, .. } => {
                let mut m =
                    ProblemMarker::new(StatusCode::NOT_FOUND, "NOT_FOUND", "Not found", detail);
                m.target = target;
                (m, None)
            }
            Error::Conflict(_) => (
                ProblemMarker::new(StatusCode::CONFLICT, "CONFLICT", "Conflict", detail),
                None,
            ),
            Error::RateLimited { retry_after_secs }
            | Error::Throttled {
                retry_after_secs, ..
            } => (
                ProblemMarker::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "RATE_LIMITED",
                    "Too many requests",
                    detail,
                ),
                Some((header::RETRY_AFTER, retry_after_secs.max(1).to_string())),
            ),
            Error::UpstreamUnavailable {
                retry_after_secs, ..
            } => {
                tracing::warn!(request_id = %request_id(), cause = %detail, "upstream unavailable");
                (
                    ProblemMarker::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "SERVICE_UNAVAILABLE",
                        "Service unavailable",
                        detail,
                    ),
                    Some((header::RETRY_AFTER, retry_after_secs.max(1).to_string())),
                )
            }
            Error::IntegrationNotConfigured(_) => (
                ProblemMarker::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "INTEGRATION_NOT_CONFIGURED",
                    "Integration not configured",
                    detail,
                ),
                None,
            ),
            Error::Unavailable(cause) => {
                tracing::warn!(request_id = %request_id(), %cause, "service unavailable");
                (
                    ProblemMarker::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "SERVICE_UNAVAILABLE",
                        "Service unavailable",
                        "The database is temporarily unreachable; retry shortly.".into(),
                    ),
                    Some((header::RETRY_AFTER, "5".into())),
                )
            }
            Error::Internal(cause) => {
                tracing::error!(request_id = %request_id(), %cause, "internal error");
                (ProblemMarker::internal(), None)
            }
        };
        let mut response = marker.status.into_response();
        if let Some((name, value)) = extra {
            if let Ok(v) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, v);
            }
        }
        response.extensions_mut().insert(marker);
        response
    }
}
