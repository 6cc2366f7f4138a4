//! The client's one error type. An answer of the API that is not a success is an
//! [`Error::Api`] carrying the server's ProblemDetails (with its stable `code`); everything
//! else (the network, a timeout, a body that does not parse) has its own variant.

use palisade_types::ProblemDetails;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with a problem document (`application/problem+json`).
    #[error("{} ({}): {}", .0.problem.title, .0.problem.code, .0.problem.detail)]
    Api(Box<ApiError>),
    /// The server (or something in front of it) answered with a failure status and a body
    /// that is not a problem document.
    #[error("HTTP {status}{}", request_id.as_deref().map(|r| format!(" (request {r})")).unwrap_or_default())]
    Status {
        status: u16,
        request_id: Option<String>,
        /// The first 1 KiB of the body.
        body: String,
    },
    /// Connecting, sending or reading failed, or the timeout passed.
    #[error("transport: {0}")]
    Transport(#[source] reqwest::Error),
    /// A success response whose body is not the documented shape.
    #[error("unexpected response body for {operation}: {source}")]
    Decode {
        operation: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// The request could not be built (a bad base URL, a value that cannot be encoded).
    #[error("invalid request: {0}")]
    Invalid(String),
}

/// A problem answer: the HTTP status, the problem document and, for 429/503, the server's
/// `Retry-After`.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub problem: ProblemDetails,
    pub retry_after: Option<std::time::Duration>,
}

impl Error {
    /// The problem document, when the server sent one.
    pub fn problem(&self) -> Option<&ProblemDetails> {
        match self {
            Error::Api(e) => Some(&e.problem),
            _ => None,
        }
    }

    /// The stable error code (`VALIDATION_ERROR`, `NOT_FOUND`, …), when the server sent one.
    pub fn code(&self) -> Option<&str> {
        self.problem().map(|p| p.code.as_str())
    }

    /// The HTTP status of a failed answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api(e) => Some(e.status),
            Error::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The request id of a failed answer (from the problem or the `X-Request-Id` header).
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Api(e) => Some(e.problem.request_id.as_str()),
            Error::Status { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// Whether the error is the timeout passing.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Transport(e) if e.is_timeout())
    }
}

impl From<reqwest::Error> for Error {
    fn from(e: reqwest::Error) -> Self {
        // reqwest's errors carry the URL, which holds no secret (credentials travel in the
        // Authorization header only).
        Error::Transport(e)
    }
}
