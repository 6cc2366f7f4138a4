//! What can go wrong talking to a source, typed for the poll and write-back jobs: whether to
//! retry, when, and what the connector's `status` should show. Messages are one line, carry
//! the vendor's error code and message (clipped, scrubbed of the connector's secret) and never
//! a credential or token.

use std::fmt;
use std::time::Duration;

use crate::kind::ConnectorKind;

/// A failed call to a source.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceError {
    /// The source throttled us (429, or 503 with `Retry-After`): try again after `retry_after`
    /// (the vendor's header; 2 s when it sent none).
    RateLimited {
        service: &'static str,
        retry_after: Duration,
        detail: String,
    },
    /// The source failed or could not be reached (5xx, timeout, connection failure, an
    /// unreadable answer): retry with backoff, or after `retry_after` when the vendor gave one.
    Unavailable {
        service: &'static str,
        detail: String,
        retry_after: Option<Duration>,
    },
    /// The credentials were refused (the token endpoint's 4xx, a 401 after one token refresh)
    /// or the principal lacks a permission (403). Retrying will not help until an administrator
    /// fixes the app registration or its roles.
    Auth {
        service: &'static str,
        detail: String,
    },
    /// A setting is wrong: `field` names it (`settings.workspaceName` when the workspace does
    /// not exist, `settings.baseUrl` when the SSRF guard refuses the endpoint, …).
    Settings { field: String, detail: String },
    /// The incident no longer exists at the source (a write-back to a deleted incident).
    NotFound {
        service: &'static str,
        detail: String,
    },
    /// A write lost to concurrent changes at the source every time it was re-applied (Sentinel
    /// etag): retry later.
    Conflict {
        service: &'static str,
        detail: String,
    },
    /// The source refused the request for good (another 4xx) or answered something that does
    /// not fit its documented shape.
    Rejected {
        service: &'static str,
        status: Option<u16>,
        detail: String,
    },
    /// The connector type has no implementation in this build.
    NotImplemented { kind: ConnectorKind },
}

impl SourceError {
    /// Worth retrying on its own (the job retries with backoff, honouring [`retry_after`]).
    ///
    /// [`retry_after`]: SourceError::retry_after
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            SourceError::RateLimited { .. }
                | SourceError::Unavailable { .. }
                | SourceError::Conflict { .. }
        )
    }

    /// The vendor's requested wait, when it gave one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SourceError::RateLimited { retry_after, .. } => Some(*retry_after),
            SourceError::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// A short stable name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            SourceError::RateLimited { .. } => "rate_limited",
            SourceError::Unavailable { .. } => "unavailable",
            SourceError::Auth { .. } => "auth",
            SourceError::Settings { .. } => "settings",
            SourceError::NotFound { .. } => "not_found",
            SourceError::Conflict { .. } => "conflict",
            SourceError::Rejected { .. } => "rejected",
            SourceError::NotImplemented { .. } => "not_implemented",
        }
    }

    /// The `VALIDATION_ERROR` a settings problem is when it is found while an administrator
    /// creates or changes the connector.
    pub fn to_validation(&self) -> Option<palisade_domain::Error> {
        match self {
            SourceError::Settings { field, detail } => {
                Some(palisade_domain::Error::field(field, detail.clone()))
            }
            _ => None,
        }
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceError::RateLimited {
                service,
                retry_after,
                detail,
            } => write!(
                f,
                "{service} is throttling requests (retry after {} s){}",
                retry_after.as_secs(),
                suffix(detail)
            ),
            SourceError::Unavailable {
                service, detail, ..
            } => {
                write!(f, "{service} is unavailable: {detail}")
            }
            SourceError::Auth { service, detail } => {
                write!(f, "{service} refused the connector's credentials: {detail}")
            }
            SourceError::Settings { field, detail } => write!(f, "'{field}' {detail}"),
            SourceError::NotFound { service, detail } => write!(f, "{service}: {detail}"),
            SourceError::Conflict { service, detail } => write!(f, "{service}: {detail}"),
            SourceError::Rejected {
                service,
                status,
                detail,
            } => match status {
                Some(s) => write!(f, "{service} rejected the request (HTTP {s}): {detail}"),
                None => write!(f, "{service} answered unexpectedly: {detail}"),
            },
            SourceError::NotImplemented { kind } => {
                write!(f, "Connector type {kind} is not available in this build.")
            }
        }
    }
}

fn suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    }
}

impl std::error::Error for SourceError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_guidance() {
        let throttled = SourceError::RateLimited {
            service: "Azure Resource Manager",
            retry_after: Duration::from_secs(7),
            detail: "TooManyRequests".into(),
        };
        assert!(throttled.is_retryable());
        assert_eq!(throttled.retry_after(), Some(Duration::from_secs(7)));
        assert_eq!(
            throttled.to_string(),
            "Azure Resource Manager is throttling requests (retry after 7 s): TooManyRequests"
        );
        let settings = SourceError::Settings {
            field: "settings.workspaceName".into(),
            detail: "names no Log Analytics workspace.".into(),
        };
        assert!(!settings.is_retryable());
        let Some(palisade_domain::Error::Validation(m)) = settings.to_validation() else {
            panic!("a validation error")
        };
        assert_eq!(
            m["settings.workspaceName"],
            ["names no Log Analytics workspace."]
        );
        assert!(SourceError::Conflict {
            service: "x",
            detail: "y".into()
        }
        .is_retryable());
        assert!(!SourceError::Auth {
            service: "x",
            detail: "y".into()
        }
        .is_retryable());
    }
}
