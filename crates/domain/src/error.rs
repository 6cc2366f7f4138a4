use std::collections::BTreeMap;

use crate::{Scope, WorkspaceRole};

fn scope_list(scopes: &[Scope]) -> String {
    let names: Vec<String> = scopes.iter().map(|s| format!("'{}'", s.as_str())).collect();
    match names.len() {
        1 => names[0].clone(),
        _ => format!("(one of {})", names.join(", ")),
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The one error type of Palisade. The server maps each variant to a ProblemDetails response
/// with a stable `code` (DESIGN §3).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("One or more validation errors occurred.")]
    Validation(BTreeMap<String, Vec<String>>),
    /// Validation failure with a specific message (e.g. pagination tokens).
    #[error("{detail}")]
    ValidationDetail {
        detail: String,
        errors: BTreeMap<String, Vec<String>>,
    },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    /// The credential holds none of these scopes (usually one).
    #[error("The credential lacks the required scope {}.", scope_list(.0))]
    InsufficientScope(Vec<Scope>),
    #[error("The service account needs the {} role (or higher) on workspace {workspace}.", .required.as_str())]
    InsufficientWorkspaceRole {
        workspace: String,
        required: WorkspaceRole,
    },
    #[error("{detail}")]
    NotFound {
        detail: String,
        target: Option<String>,
    },
    #[error("{0}")]
    Conflict(String),
    #[error("Too many failed authentication attempts; retry after {retry_after_secs} seconds.")]
    RateLimited { retry_after_secs: u64 },
    /// An upstream service (Azure Resource Manager) throttled the request: 429 `RATE_LIMITED`.
    #[error("{detail}")]
    Throttled {
        detail: String,
        retry_after_secs: u64,
    },
    #[error("{0}")]
    IntegrationNotConfigured(String),
    /// An upstream service (Azure) failed or could not be reached: 503 `SERVICE_UNAVAILABLE`.
    /// `detail` is shown to the caller, so it must not carry secrets.
    #[error("{detail}")]
    UpstreamUnavailable {
        detail: String,
        retry_after_secs: u64,
    },
    #[error("{0}")]
    Unavailable(String),
    /// An unexpected failure. The message is logged, never sent to the client.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn not_found(kind: &str, id: impl std::fmt::Display) -> Self {
        Error::NotFound {
            detail: format!("{kind} '{id}' not found"),
            target: None,
        }
    }

    pub fn not_found_target(kind: &str, id: impl std::fmt::Display, target: &str) -> Self {
        Error::NotFound {
            detail: format!("{kind} '{id}' not found"),
            target: Some(target.to_string()),
        }
    }

    pub fn field(path: &str, message: impl Into<String>) -> Self {
        let mut m = BTreeMap::new();
        m.insert(path.to_string(), vec![message.into()]);
        Error::Validation(m)
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        Error::Internal(e.to_string())
    }
}
