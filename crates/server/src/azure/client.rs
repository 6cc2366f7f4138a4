//! A small Azure client: OAuth2 client credentials against Microsoft Entra ID (the token cache
//! of [`palisade_net::entra`], shared with the Microsoft connectors) and Azure Resource Manager
//! REST calls (`api-version`, `nextLink` paging, `429`/`Retry-After`, ARM error bodies). Neither
//! the client secret nor an access token is ever logged, shown in `Debug`, or put into an error.

use std::fmt;
use std::time::Duration;

use palisade_domain::Error;
use palisade_net::entra::{self, AccessToken, Throttling, TokenError, TokenSource};
use palisade_net::upstream::{clip, retry_after, transport_kind};
use reqwest::header::ACCEPT;
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use crate::config::AzureConfig;

const ARM: &str = "Azure Resource Manager";
const ENTRA: &str = "Microsoft Entra ID";
/// Retry-After used when a throttled answer carries none.
const DEFAULT_RETRY_AFTER: u64 = 2;
/// Retry-After given to callers when Azure is unreachable.
const UNAVAILABLE_RETRY_AFTER: u64 = 5;

/// A failed call, before it becomes a ProblemDetails (see [`AzureError::into_domain`]).
#[derive(Debug, Clone)]
pub enum AzureError {
    /// ARM answered with an error status (after the retries it deserved).
    Arm {
        status: u16,
        code: String,
        message: String,
        retry_after: Option<u64>,
    },
    /// The token endpoint refused (`{"error", "error_description"}`).
    Token {
        status: u16,
        code: String,
        description: String,
        retry_after: Option<u64>,
    },
    /// No answer: connection refused, timeout, unreadable body, an unexpected `nextLink`.
    Transport {
        service: &'static str,
        message: String,
    },
}

impl AzureError {
    pub fn status(&self) -> Option<u16> {
        match self {
            AzureError::Arm { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The ARM error as `code: message` (for per-check results).
    pub fn summary(&self) -> String {
        match self {
            AzureError::Arm { code, message, .. } => format!("{code}: {message}"),
            AzureError::Token {
                code, description, ..
            } => format!("{code}: {description}"),
            AzureError::Transport { service, message } => format!("{service}: {message}"),
        }
    }

    /// Maps the failure to Palisade's error (DESIGN §3; the mapping is documented in
    /// `docs/azure.md`).
    pub fn into_domain(self) -> Error {
        match self {
            AzureError::Arm {
                status,
                code,
                message,
                retry_after,
            } => {
                let what = format!("{code}: {message}");
                match status {
                    429 => Error::Throttled {
                        detail: format!(
                            "{ARM} is throttling Palisade's requests ({code}); retry later."
                        ),
                        retry_after_secs: retry_after.unwrap_or(DEFAULT_RETRY_AFTER),
                    },
                    404 => Error::NotFound {
                        detail: format!("{ARM}: {what}"),
                        target: None,
                    },
                    409 | 412 => Error::Conflict(format!("{ARM}: {what}")),
                    401 => Error::IntegrationNotConfigured(format!(
                        "{ARM} rejected Palisade's access token ({what}). Check the Azure app registration and azure.tenant_id."
                    )),
                    403 => Error::IntegrationNotConfigured(format!(
                        "Palisade's Azure principal is not authorized for this operation ({what}). Grant its service principal an Azure role on the scope (Reader to read; Microsoft Sentinel Contributor to change analytics rules)."
                    )),
                    400..=499 => Error::BadRequest(format!("{ARM} rejected the request: {what}")),
                    _ => Error::UpstreamUnavailable {
                        detail: format!("{ARM} failed with status {status} ({code}); retry shortly."),
                        retry_after_secs: retry_after.unwrap_or(UNAVAILABLE_RETRY_AFTER),
                    },
                }
            }
            AzureError::Token {
                status,
                code,
                description,
                retry_after,
            } => match status {
                429 => Error::Throttled {
                    detail: format!("{ENTRA} is throttling Palisade's token requests; retry later."),
                    retry_after_secs: retry_after.unwrap_or(DEFAULT_RETRY_AFTER),
                },
                400..=499 => Error::IntegrationNotConfigured(format!(
                    "{ENTRA} rejected Palisade's Azure credentials ({code}: {description}). Check azure.tenant_id, azure.client_id and azure.client_secret."
                )),
                _ => Error::UpstreamUnavailable {
                    detail: format!("{ENTRA} failed with status {status} ({code}); retry shortly."),
                    retry_after_secs: retry_after.unwrap_or(UNAVAILABLE_RETRY_AFTER),
                },
            },
            AzureError::Transport { service, message } => Error::UpstreamUnavailable {
                detail: format!("{service} could not be reached ({message}); retry shortly."),
                retry_after_secs: UNAVAILABLE_RETRY_AFTER,
            },
        }
    }
}

impl From<AzureError> for Error {
    fn from(e: AzureError) -> Self {
        e.into_domain()
    }
}

impl From<TokenError> for AzureError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Refused {
                status,
                code,
                description,
                retry_after,
            } => AzureError::Token {
                status,
                code,
                description,
                retry_after: retry_after.map(|d| d.as_secs()),
            },
            TokenError::Transport { message } | TokenError::Blocked { message } => {
                AzureError::Transport {
                    service: ENTRA,
                    message,
                }
            }
        }
    }
}

/// The client. One per process; the token is shared by every request.
pub struct AzureClient {
    http: reqwest::Client,
    tokens: TokenSource,
    arm: Url,
    throttling: Throttling,
    max_pages: u32,
}

impl fmt::Debug for AzureClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureClient")
            .field("tokens", &self.tokens)
            .field("arm", &self.arm.as_str())
            .finish_non_exhaustive()
    }
}

fn transport(service: &'static str, e: &reqwest::Error) -> AzureError {
    AzureError::Transport {
        service,
        message: transport_kind(e).into(),
    }
}

/// `{"error": {"code", "message"}}` (or the bare `{"code", "message"}` some providers send).
fn arm_error(text: &str) -> (String, String) {
    let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let e = if v["error"].is_object() {
        &v["error"]
    } else {
        &v
    };
    let code = e["code"].as_str().unwrap_or("").to_string();
    let message = e["message"].as_str().unwrap_or("").to_string();
    (code, message)
}

fn parse_endpoint(raw: &str) -> Result<Url, String> {
    let mut url = Url::parse(raw).map_err(|e| e.to_string())?;
    if url.cannot_be_a_base() {
        return Err("not a base URL".into());
    }
    // No trailing empty segment: paths are appended segment by segment.
    if let Ok(mut segs) = url.path_segments_mut() {
        segs.pop_if_empty();
    }
    Ok(url)
}

impl AzureClient {
    /// The client for a configured integration (`None` when credentials are not configured).
    pub fn from_config(c: &AzureConfig) -> Result<Option<AzureClient>, String> {
        let Some((tenant, client_id, secret)) = c.credentials() else {
            return Ok(None);
        };
        let authority = parse_endpoint(&c.authority_host)?;
        let arm = parse_endpoint(&c.resource_manager_endpoint)?;
        let token_url = entra::token_url(&authority, tenant)?;
        let scope = entra::default_scope(&arm);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(c.timeout_secs))
            .connect_timeout(Duration::from_secs(c.timeout_secs.min(10)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("palisade/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        let throttling = Throttling {
            max_retries: c.max_retries,
            max_retry_after: Duration::from_secs(c.max_retry_after_secs),
        };
        let tokens = TokenSource::new(
            http.clone(),
            token_url,
            client_id,
            secret.clone(),
            scope,
            throttling,
        );
        Ok(Some(AzureClient {
            http,
            tokens,
            arm,
            throttling,
            max_pages: c.max_pages,
        }))
    }

    /// Removes the client secret from upstream text before it goes anywhere.
    fn scrub(&self, text: &str) -> String {
        self.tokens.scrub(text)
    }

    /// Object id of the principal Palisade signs in as (the access token's `oid` claim).
    pub async fn principal_object_id(&self) -> Result<String, Error> {
        let token = self.tokens.token().await.map_err(AzureError::from)?;
        token.object_id().map(str::to_string).ok_or_else(|| {
            Error::IntegrationNotConfigured(
                "The Azure access token carries no object id ('oid' claim); cannot identify Palisade's Azure principal.".into(),
            )
        })
    }

    /// `{arm}/{segments…}?api-version=…&{query…}`; every segment is percent-encoded.
    pub fn url(&self, segments: &[&str], api_version: &str, query: &[(&str, &str)]) -> Url {
        let mut url = self.arm.clone();
        url.path_segments_mut()
            .expect("validated base URL")
            .extend(segments);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("api-version", api_version);
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        url
    }

    /// One ARM call with token refresh (once, on 401) and throttling retries. Returns the
    /// response body (`null` when empty).
    pub async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<Value, AzureError> {
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            let token: AccessToken = self.tokens.token().await?;
            let mut req = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(token.secret())
                .header(ACCEPT, "application/json");
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = req.send().await.map_err(|e| transport(ARM, &e))?;
            let status = resp.status();
            let wait = retry_after(resp.headers());
            let text = resp.text().await.map_err(|e| transport(ARM, &e))?;
            tracing::debug!(%method, path = url.path(), status = status.as_u16(), "azure resource manager call");
            if status.is_success() {
                if text.trim().is_empty() {
                    return Ok(Value::Null);
                }
                return serde_json::from_str(&text).map_err(|_| AzureError::Transport {
                    service: ARM,
                    message: "the response is not JSON".into(),
                });
            }
            if status == StatusCode::UNAUTHORIZED && !refreshed {
                // Expired or revoked token: get a new one and try once more.
                refreshed = true;
                self.tokens.invalidate(&token).await;
                continue;
            }
            if status == StatusCode::TOO_MANY_REQUESTS
                || (status == StatusCode::SERVICE_UNAVAILABLE && wait.is_some())
            {
                if let Some(d) = self.throttling.wait(attempt, wait) {
                    attempt += 1;
                    tracing::info!(
                        path = url.path(),
                        wait_secs = d.as_secs(),
                        "azure resource manager throttled; retrying"
                    );
                    tokio::time::sleep(d).await;
                    continue;
                }
            }
            let (code, message) = arm_error(&text);
            return Err(AzureError::Arm {
                status: status.as_u16(),
                code: if code.is_empty() {
                    format!("HTTP {}", status.as_u16())
                } else {
                    clip(&self.scrub(&code))
                },
                message: clip(&self.scrub(&message)),
                retry_after: wait.map(|d| d.as_secs()),
            });
        }
    }

    pub async fn get(&self, url: Url) -> Result<Value, AzureError> {
        self.call(Method::GET, url, None).await
    }

    /// Every item of an ARM list (`{value: [...], nextLink}`), following `nextLink` for at most
    /// `max_pages` pages. A `nextLink` to another host than the ARM endpoint is refused (the
    /// access token goes with it).
    pub async fn list(&self, first: Url) -> Result<Vec<Value>, AzureError> {
        let mut items = Vec::new();
        let mut next = Some(first);
        let mut pages = 0;
        while let Some(url) = next.take() {
            if pages == self.max_pages {
                tracing::warn!(
                    path = url.path(),
                    max_pages = self.max_pages,
                    "azure list truncated at azure.max_pages"
                );
                break;
            }
            pages += 1;
            let mut page = self.get(url).await?;
            if let Some(Value::Array(values)) = page.get_mut("value").map(Value::take) {
                items.extend(values);
            }
            if let Some(link) = page["nextLink"].as_str().filter(|s| !s.is_empty()) {
                let link = Url::parse(link).map_err(|_| AzureError::Transport {
                    service: ARM,
                    message: "a nextLink is not a URL".into(),
                })?;
                if link.origin() != self.arm.origin() {
                    return Err(AzureError::Transport {
                        service: ARM,
                        message: "a nextLink points away from the Resource Manager endpoint".into(),
                    });
                }
                next = Some(link);
            }
        }
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm_errors_map_to_problems() {
        let arm = |status, code: &str| AzureError::Arm {
            status,
            code: code.into(),
            message: "m".into(),
            retry_after: Some(7),
        };
        assert!(matches!(
            arm(404, "ResourceGroupNotFound").into_domain(),
            Error::NotFound { .. }
        ));
        assert!(matches!(
            arm(429, "TooManyRequests").into_domain(),
            Error::Throttled {
                retry_after_secs: 7,
                ..
            }
        ));
        assert!(matches!(
            arm(403, "AuthorizationFailed").into_domain(),
            Error::IntegrationNotConfigured(_)
        ));
        assert!(matches!(
            arm(400, "InvalidApiVersionParameter").into_domain(),
            Error::BadRequest(_)
        ));
        assert!(matches!(
            arm(412, "PreconditionFailed").into_domain(),
            Error::Conflict(_)
        ));
        assert!(matches!(
            arm(500, "InternalServerError").into_domain(),
            Error::UpstreamUnavailable { .. }
        ));
        let (code, message) = arm_error(r#"{"error":{"code":"X","message":"Y"}}"#);
        assert_eq!((code.as_str(), message.as_str()), ("X", "Y"));
        let (code, _) = arm_error(r#"{"code":"Bare","message":"Y"}"#);
        assert_eq!(code, "Bare");
    }
}
