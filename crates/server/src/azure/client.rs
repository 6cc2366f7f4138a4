//! A small Azure client: OAuth2 client credentials against Microsoft Entra ID and Azure
//! Resource Manager REST calls (`api-version`, `nextLink` paging, `429`/`Retry-After`, ARM
//! error bodies). Neither the client secret nor an access token is ever logged, shown in
//! `Debug`, or put into an error.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use palisade_domain::Error;
use reqwest::header::{HeaderMap, ACCEPT, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;
use tokio::sync::Mutex;

use crate::config::{AzureConfig, Secret};

const ARM: &str = "Azure Resource Manager";
const ENTRA: &str = "Microsoft Entra ID";
/// Retry-After used when a throttled answer carries none.
const DEFAULT_RETRY_AFTER: u64 = 2;
/// Retry-After given to callers when Azure is unreachable.
const UNAVAILABLE_RETRY_AFTER: u64 = 5;

/// An access token and when to stop using it.
#[derive(Clone)]
struct CachedToken {
    value: Arc<str>,
    refresh_at: Instant,
    /// `oid` claim: the object id of the principal the token was issued to.
    object_id: Option<String>,
}

impl fmt::Debug for CachedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedToken")
            .field("value", &"<redacted>")
            .field("refresh_at", &self.refresh_at)
            .field("object_id", &self.object_id)
            .finish()
    }
}

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

/// The client. One per process; the token is shared by every request.
pub struct AzureClient {
    http: reqwest::Client,
    client_id: String,
    client_secret: Secret,
    token_url: Url,
    arm: Url,
    scope: String,
    max_retries: u32,
    max_retry_after: u64,
    max_pages: u32,
    token: Mutex<Option<CachedToken>>,
}

impl fmt::Debug for AzureClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureClient")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("token_url", &self.token_url.as_str())
            .field("arm", &self.arm.as_str())
            .finish_non_exhaustive()
    }
}

fn transport(service: &'static str, e: &reqwest::Error) -> AzureError {
    let message = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_decode() || e.is_body() {
        "unreadable response"
    } else {
        "request failed"
    };
    AzureError::Transport {
        service,
        message: message.into(),
    }
}

/// `Retry-After` as seconds (delta-seconds or an HTTP date).
fn retry_after(headers: &HeaderMap) -> Option<u64> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(secs);
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let secs = (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds();
    Some(secs.max(0) as u64)
}

/// Short, single-line text from an upstream message.
fn clip(s: &str) -> String {
    let line = s.lines().next().unwrap_or("").trim();
    let mut out: String = line.chars().take(400).collect();
    if line.chars().count() > 400 {
        out.push('…');
    }
    out
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

/// The `oid` claim of a JWT access token (its signature is not checked: the token came straight
/// from the token endpoint over TLS).
fn object_id_of(token: &str) -> Option<String> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims["oid"].as_str().map(str::to_string)
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
        let mut token_url = authority;
        token_url
            .path_segments_mut()
            .map_err(|_| "authority_host is not a base URL".to_string())?
            .extend([tenant, "oauth2", "v2.0", "token"]);
        let scope = format!("{}/.default", arm.as_str().trim_end_matches('/'));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(c.timeout_secs))
            .connect_timeout(Duration::from_secs(c.timeout_secs.min(10)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("palisade/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Some(AzureClient {
            http,
            client_id: client_id.to_string(),
            client_secret: secret.clone(),
            token_url,
            arm,
            scope,
            max_retries: c.max_retries,
            max_retry_after: c.max_retry_after_secs,
            max_pages: c.max_pages,
            token: Mutex::new(None),
        }))
    }

    /// Removes the client secret from upstream text before it goes anywhere.
    fn scrub(&self, text: &str) -> String {
        let secret = self.client_secret.expose();
        if secret.is_empty() {
            text.to_string()
        } else {
            text.replace(secret, "<redacted>")
        }
    }

    /// How long to wait before retrying a throttled call, or `None` to give up.
    fn throttle_wait(&self, attempt: u32, retry_after: Option<u64>) -> Option<Duration> {
        if attempt >= self.max_retries {
            return None;
        }
        let secs = retry_after.unwrap_or(DEFAULT_RETRY_AFTER << attempt);
        (secs <= self.max_retry_after).then(|| Duration::from_secs(secs))
    }

    /// A usable access token: the cached one, or a new one. The lock is held while fetching,
    /// so concurrent requests wait for one token request instead of each making their own.
    async fn token(&self) -> Result<CachedToken, AzureError> {
        let mut slot = self.token.lock().await;
        if let Some(t) = slot.as_ref() {
            if Instant::now() < t.refresh_at {
                return Ok(t.clone());
            }
        }
        let fresh = self.fetch_token().await?;
        *slot = Some(fresh.clone());
        Ok(fresh)
    }

    /// Drops the cached token if it is still the one that failed.
    async fn invalidate(&self, failed: &CachedToken) {
        let mut slot = self.token.lock().await;
        if slot
            .as_ref()
            .is_some_and(|t| Arc::ptr_eq(&t.value, &failed.value))
        {
            *slot = None;
        }
    }

    async fn fetch_token(&self) -> Result<CachedToken, AzureError> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose()),
            ("scope", self.scope.as_str()),
        ];
        let mut attempt = 0;
        loop {
            let started = Instant::now();
            let resp = self
                .http
                .post(self.token_url.clone())
                .header(ACCEPT, "application/json")
                .form(&form)
                .send()
                .await
                .map_err(|e| transport(ENTRA, &e))?;
            let status = resp.status();
            let wait = retry_after(resp.headers());
            let text = resp.text().await.map_err(|e| transport(ENTRA, &e))?;
            tracing::debug!(status = status.as_u16(), "azure token request");
            if status.is_success() {
                let v: Value = serde_json::from_str(&text).map_err(|_| AzureError::Transport {
                    service: ENTRA,
                    message: "the token response is not JSON".into(),
                })?;
                let Some(access) = v["access_token"].as_str().filter(|s| !s.is_empty()) else {
                    return Err(AzureError::Transport {
                        service: ENTRA,
                        message: "the token response has no access_token".into(),
                    });
                };
                // `expires_in` is a number (v2.0 endpoint) or a numeric string (v1.0).
                let lifetime = v["expires_in"]
                    .as_u64()
                    .or_else(|| v["expires_in"].as_str().and_then(|s| s.parse().ok()))
                    .unwrap_or(300);
                // Refresh 5 minutes before expiry, or halfway through a shorter lifetime.
                let margin = (lifetime / 2).min(300);
                return Ok(CachedToken {
                    object_id: object_id_of(access),
                    value: Arc::from(access),
                    refresh_at: started + Duration::from_secs(lifetime - margin),
                });
            }
            if status == StatusCode::TOO_MANY_REQUESTS
                || (status == StatusCode::SERVICE_UNAVAILABLE && wait.is_some())
            {
                if let Some(d) = self.throttle_wait(attempt, wait) {
                    attempt += 1;
                    tracing::info!(wait_secs = d.as_secs(), "azure token request throttled");
                    tokio::time::sleep(d).await;
                    continue;
                }
            }
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let code = v["error"].as_str().unwrap_or("").to_string();
            let description = clip(&self.scrub(v["error_description"].as_str().unwrap_or("")));
            tracing::warn!(status = status.as_u16(), error = %code, "azure token request refused");
            return Err(AzureError::Token {
                status: status.as_u16(),
                code: if code.is_empty() {
                    format!("HTTP {}", status.as_u16())
                } else {
                    code
                },
                description,
                retry_after: wait,
            });
        }
    }

    /// Object id of the principal Palisade signs in as (the access token's `oid` claim).
    pub async fn principal_object_id(&self) -> Result<String, Error> {
        let token = self.token().await?;
        token.object_id.ok_or_else(|| {
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
            let token = self.token().await?;
            let mut req = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(&*token.value)
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
                self.invalidate(&token).await;
                continue;
            }
            if status == StatusCode::TOO_MANY_REQUESTS
                || (status == StatusCode::SERVICE_UNAVAILABLE && wait.is_some())
            {
                if let Some(d) = self.throttle_wait(attempt, wait) {
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
                retry_after: wait,
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
    fn object_id_comes_from_the_token_payload() {
        use base64::Engine;
        let enc = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let token = format!(
            "{}.{}.sig",
            enc(r#"{"alg":"RS256"}"#),
            enc(r#"{"oid":"0f0e0d0c-0000-4000-8000-000000000001","tid":"t"}"#)
        );
        assert_eq!(
            object_id_of(&token).as_deref(),
            Some("0f0e0d0c-0000-4000-8000-000000000001")
        );
        assert_eq!(object_id_of("opaque"), None);
    }

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

    #[test]
    fn retry_after_accepts_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(3));
        h.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(0));
    }
}
