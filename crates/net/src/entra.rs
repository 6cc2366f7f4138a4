//! Microsoft Entra ID OAuth2 client-credentials tokens (`POST {authority}/{tenant}/oauth2/v2.0/
//! token` with `grant_type=client_credentials`, `client_id`, `client_secret`, `scope`), cached
//! until shortly before they expire: five minutes before, or halfway through a lifetime shorter
//! than ten minutes. Requests that need a token while one is being fetched wait for that one
//! fetch (single flight). The `[azure]` integration and the Microsoft connectors both use it.
//!
//! Neither the client secret nor a token is ever logged, shown in `Debug` or put into an
//! error: text taken from Entra ID's error bodies is clipped to one line and scrubbed of the
//! secret (Entra ID has been seen echoing what it was sent).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::ACCEPT;
use reqwest::{StatusCode, Url};
use serde_json::Value;
use tokio::sync::Mutex;

use crate::upstream::{clip, retry_after, scrub, transport_kind, Secret};

/// Waited when a throttled token request carries no `Retry-After` (doubling per attempt).
const DEFAULT_RETRY_AFTER_SECS: u64 = 2;

/// How throttled token requests (429, or 503 with `Retry-After`) are retried before failing.
#[derive(Debug, Clone, Copy)]
pub struct Throttling {
    /// Retries after the first attempt (0: fail at once with the service's `Retry-After`).
    pub max_retries: u32,
    /// The longest `Retry-After` waited for; a longer one fails the request.
    pub max_retry_after: Duration,
}

impl Throttling {
    /// Never wait: a throttled answer is returned to the caller at once.
    pub const NONE: Throttling = Throttling {
        max_retries: 0,
        max_retry_after: Duration::ZERO,
    };

    /// How long to wait before retrying attempt `attempt` (0-based), or `None` to give up.
    pub fn wait(&self, attempt: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if attempt >= self.max_retries {
            return None;
        }
        let wait = retry_after.unwrap_or(Duration::from_secs(
            DEFAULT_RETRY_AFTER_SECS << attempt.min(16),
        ));
        (wait <= self.max_retry_after).then_some(wait)
    }
}

/// An access token and when to stop using it. `Debug` never shows the token.
#[derive(Clone)]
pub struct AccessToken {
    value: Arc<str>,
    refresh_at: Instant,
    object_id: Option<String>,
}

impl AccessToken {
    /// The bearer token, for an `Authorization` header only.
    pub fn secret(&self) -> &str {
        &self.value
    }

    /// The `oid` claim: the object id of the principal the token was issued to.
    pub fn object_id(&self) -> Option<&str> {
        self.object_id.as_deref()
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &"<redacted>")
            .field("refresh_at", &self.refresh_at)
            .field("object_id", &self.object_id)
            .finish()
    }
}

/// A token request that failed.
#[derive(Debug, Clone)]
pub enum TokenError {
    /// Entra ID answered with an error (`{"error", "error_description"}`), after the retries a
    /// throttled answer deserved.
    Refused {
        status: u16,
        code: String,
        description: String,
        retry_after: Option<Duration>,
    },
    /// No usable answer: connection refused, timeout, a body that is not a token response.
    Transport { message: String },
    /// The SSRF guard refused the token endpoint's address.
    Blocked { message: String },
}

/// Where to get tokens, with what, and the cached one.
pub struct TokenSource {
    http: reqwest::Client,
    token_url: Url,
    client_id: String,
    client_secret: Secret,
    scope: String,
    throttling: Throttling,
    slot: Mutex<Option<AccessToken>>,
    fetched: AtomicU64,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource")
            .field("token_url", &self.token_url.as_str())
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// `{authority}/{tenant}/oauth2/v2.0/token`.
pub fn token_url(authority: &Url, tenant: &str) -> Result<Url, String> {
    let mut url = authority.clone();
    url.set_query(None);
    url.path_segments_mut()
        .map_err(|_| "the authority is not a base URL".to_string())?
        .pop_if_empty()
        .extend([tenant, "oauth2", "v2.0", "token"]);
    Ok(url)
}

/// `{resource}/.default`: the client-credentials scope of a resource (its origin and path,
/// without a trailing slash).
pub fn default_scope(resource: &Url) -> String {
    format!("{}/.default", resource.as_str().trim_end_matches('/'))
}

/// The `oid` claim of a JWT access token (its signature is not checked: the token came straight
/// from the token endpoint over TLS).
pub fn object_id_of(token: &str) -> Option<String> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims["oid"].as_str().map(str::to_string)
}

impl TokenSource {
    /// Tokens from `token_url` (see [`token_url`]) for `scope`, sent through `http` (which
    /// decides timeouts, redirects and the resolver).
    pub fn new(
        http: reqwest::Client,
        token_url: Url,
        client_id: impl Into<String>,
        client_secret: Secret,
        scope: impl Into<String>,
        throttling: Throttling,
    ) -> TokenSource {
        TokenSource {
            http,
            token_url,
            client_id: client_id.into(),
            client_secret,
            scope: scope.into(),
            throttling,
            slot: Mutex::new(None),
            fetched: AtomicU64::new(0),
        }
    }

    pub fn token_url(&self) -> &Url {
        &self.token_url
    }

    /// How many tokens were fetched so far (successful token responses).
    pub fn fetched(&self) -> u64 {
        self.fetched.load(Ordering::Relaxed)
    }

    /// Removes the client secret from upstream text before it goes anywhere.
    pub fn scrub(&self, text: &str) -> String {
        scrub(text, [self.client_secret.expose()])
    }

    /// A usable token: the cached one, or a new one. The lock is held while fetching, so
    /// concurrent callers wait for one token request instead of each making their own.
    pub async fn token(&self) -> Result<AccessToken, TokenError> {
        let mut slot = self.slot.lock().await;
        if let Some(t) = slot.as_ref() {
            if Instant::now() < t.refresh_at {
                return Ok(t.clone());
            }
        }
        let fresh = self.fetch().await?;
        *slot = Some(fresh.clone());
        Ok(fresh)
    }

    /// Drops the cached token if it is still the one that failed (an upstream 401).
    pub async fn invalidate(&self, failed: &AccessToken) {
        let mut slot = self.slot.lock().await;
        if slot
            .as_ref()
            .is_some_and(|t| Arc::ptr_eq(&t.value, &failed.value))
        {
            *slot = None;
        }
    }

    async fn fetch(&self) -> Result<AccessToken, TokenError> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose()),
            ("scope", self.scope.as_str()),
        ];
        let mut attempt = 0;
        loop {
            let started = Instant::now();
            let transport = |e: reqwest::Error| match crate::ssrf::refusal(&e) {
                Some(r) => TokenError::Blocked {
                    message: format!("refused by the SSRF guard: {r}"),
                },
                None => TokenError::Transport {
                    message: transport_kind(&e).into(),
                },
            };
            let resp = self
                .http
                .post(self.token_url.clone())
                .header(ACCEPT, "application/json")
                .form(&form)
                .send()
                .await
                .map_err(transport)?;
            let status = resp.status();
            let wait = retry_after(resp.headers());
            let text = resp.text().await.map_err(transport)?;
            tracing::debug!(status = status.as_u16(), "entra id token request");
            if status.is_success() {
                let token = parse_token(&text, started)?;
                self.fetched.fetch_add(1, Ordering::Relaxed);
                return Ok(token);
            }
            if status == StatusCode::TOO_MANY_REQUESTS
                || (status == StatusCode::SERVICE_UNAVAILABLE && wait.is_some())
            {
                if let Some(d) = self.throttling.wait(attempt, wait) {
                    attempt += 1;
                    tracing::info!(wait_secs = d.as_secs(), "entra id token request throttled");
                    tokio::time::sleep(d).await;
                    continue;
                }
            }
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let code = clip(&self.scrub(v["error"].as_str().unwrap_or("")));
            let description = clip(&self.scrub(v["error_description"].as_str().unwrap_or("")));
            tracing::warn!(status = status.as_u16(), error = %code, "entra id token request refused");
            return Err(TokenError::Refused {
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
}

/// A successful token response: `access_token` and `expires_in` (a number on the v2.0
/// endpoint, a numeric string on v1.0; 300 s when absent).
fn parse_token(text: &str, started: Instant) -> Result<AccessToken, TokenError> {
    let v: Value = serde_json::from_str(text).map_err(|_| TokenError::Transport {
        message: "the token response is not JSON".into(),
    })?;
    let Some(access) = v["access_token"].as_str().filter(|s| !s.is_empty()) else {
        return Err(TokenError::Transport {
            message: "the token response has no access_token".into(),
        });
    };
    let lifetime = v["expires_in"]
        .as_u64()
        .or_else(|| v["expires_in"].as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(300);
    let margin = (lifetime / 2).min(300);
    Ok(AccessToken {
        object_id: object_id_of(access),
        value: Arc::from(access),
        refresh_at: started + Duration::from_secs(lifetime - margin),
    })
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
    fn tokens_are_refreshed_before_they_expire() {
        let now = Instant::now();
        let t = parse_token(r#"{"access_token":"a","expires_in":3599}"#, now).unwrap();
        assert_eq!(t.refresh_at, now + Duration::from_secs(3299));
        let t = parse_token(r#"{"access_token":"a","expires_in":"600"}"#, now).unwrap();
        assert_eq!(t.refresh_at, now + Duration::from_secs(300));
        let t = parse_token(r#"{"access_token":"a","expires_in":60}"#, now).unwrap();
        assert_eq!(t.refresh_at, now + Duration::from_secs(30));
        assert!(format!("{t:?}").contains("<redacted>"));
        assert!(!format!("{t:?}").contains("\"a\""));
        assert!(matches!(
            parse_token(r#"{"token_type":"Bearer"}"#, now),
            Err(TokenError::Transport { .. })
        ));
    }

    #[test]
    fn urls_and_scopes() {
        let a = Url::parse("https://login.microsoftonline.us/").unwrap();
        assert_eq!(
            token_url(&a, "contoso.onmicrosoft.com").unwrap().as_str(),
            "https://login.microsoftonline.us/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        let r = Url::parse("https://management.azure.com/").unwrap();
        assert_eq!(default_scope(&r), "https://management.azure.com/.default");
    }

    #[test]
    fn throttling_waits_within_bounds() {
        let t = Throttling {
            max_retries: 2,
            max_retry_after: Duration::from_secs(30),
        };
        assert_eq!(t.wait(0, None), Some(Duration::from_secs(2)));
        assert_eq!(t.wait(1, None), Some(Duration::from_secs(4)));
        assert_eq!(t.wait(2, None), None);
        assert_eq!(t.wait(0, Some(Duration::from_secs(31))), None);
        assert_eq!(Throttling::NONE.wait(0, Some(Duration::ZERO)), None);
    }
}
