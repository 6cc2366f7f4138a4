//! Calls to the four non-Microsoft sources: the same guarantees as [`crate::http::Api`] (every
//! URL through the SSRF guard, names through the guarded resolver, bounded answers, text clipped
//! and scrubbed of the connector's secret and token), with each vendor's own authentication
//! (a fixed header, or CrowdStrike's OAuth2 tokens refreshed once on a 401), its error bodies,
//! and rate-limit headers read *before* a 429 happens (`X-RateLimit-Remaining` /
//! `X-RateLimit-RetryAfter`, CrowdStrike).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use palisade_net::ssrf::{self, Guard};
use palisade_net::upstream::{clip, retry_after, scrub, transport_kind};
use palisade_net::Secret;
use reqwest::header::{HeaderMap, ACCEPT};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;
use tokio::sync::Mutex;

use crate::error::SourceError;
use crate::http::{ConnectorOptions, Failure};
use crate::settings::Credentials;

/// Waited after a 429 that says nothing about when to come back.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(2);
/// Below this many requests left in the window, the next call waits for the window to reset.
const RATE_RESERVE: u64 = 2;
/// The longest such wait taken inside a call; a longer one is returned as `RateLimited`.
const MAX_PACING_WAIT: Duration = Duration::from_secs(5);
/// Waited when the window is nearly spent and the source did not say when it resets.
const UNKNOWN_RESET_WAIT: Duration = Duration::from_secs(1);

/// How a source authenticates a request.
pub(crate) enum Auth {
    /// A fixed header: QRadar `SEC: <token>`, SentinelOne `Authorization: ApiToken <token>`,
    /// Splunk `Authorization: Bearer <token>`.
    Header {
        name: &'static str,
        prefix: &'static str,
        token: Secret,
    },
    /// OAuth2 client credentials (CrowdStrike `POST /oauth2/token`).
    OAuth(OAuthTokens),
}

impl Auth {
    /// The connector's token (or secret) as the header `{name}: {prefix}{token}`.
    pub fn header(name: &'static str, prefix: &'static str, credentials: &Credentials) -> Auth {
        let (Credentials::ApiToken(token) | Credentials::ClientSecret(token)) = credentials;
        Auth::Header {
            name,
            prefix,
            token: token.clone(),
        }
    }
}

/// CrowdStrike's tokens: `POST {base}/oauth2/token` with the form `client_id`, `client_secret`
/// (and `member_cid`), answering `{access_token, token_type, expires_in}`; reused until five
/// minutes before they expire (halfway for short ones), one fetch for concurrent callers.
pub(crate) struct OAuthTokens {
    pub url: Url,
    pub client_id: String,
    pub secret: Secret,
    pub member_cid: Option<String>,
    slot: Mutex<Option<(Arc<str>, Instant)>>,
    fetched: AtomicU64,
}

impl OAuthTokens {
    pub fn new(url: Url, client_id: String, secret: Secret, member_cid: Option<String>) -> Self {
        OAuthTokens {
            url,
            client_id,
            secret,
            member_cid,
            slot: Mutex::new(None),
            fetched: AtomicU64::new(0),
        }
    }
}

/// The window of a rate limit as the last answer told it.
#[derive(Default)]
struct Window {
    remaining: Option<u64>,
    reset_at: Option<SystemTime>,
}

/// One source's API.
pub(crate) struct VendorApi {
    pub service: &'static str,
    client: reqwest::Client,
    guard: Guard,
    pub base: Url,
    auth: Auth,
    /// Sent with every request (QRadar's `Version`).
    headers: Vec<(&'static str, String)>,
    /// What a 401 or 403 of this source means: see [`Failure::explained`].
    auth_hints: &'static [(u16, &'static str)],
    secrets: Vec<String>,
    max_answer_bytes: usize,
    window: StdMutex<Window>,
    calls: AtomicU64,
}

/// A request body.
pub(crate) enum Body<'a> {
    Empty,
    Json(&'a Value),
    Form(&'a [(&'a str, String)]),
}

/// `X-RateLimit-RetryAfter` (epoch seconds) as a wait from now.
fn epoch_wait(headers: &HeaderMap) -> Option<Duration> {
    let at: u64 = headers
        .get("x-ratelimit-retryafter")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(at.saturating_sub(now).max(1)))
}

/// `(code, message)` of a vendor's error body: CrowdStrike and SentinelOne `{errors: [{code,
/// message | detail | title}]}`, QRadar `{code, message, description, http_response}`, Splunk
/// `{messages: [{type, text}]}`, or OData `{error: {code, message}}`.
pub(crate) fn vendor_error(v: &Value) -> (String, String) {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    if let Some(e) = v["errors"].as_array().and_then(|a| a.first()) {
        let msg = [&e["message"], &e["detail"], &e["title"]]
            .into_iter()
            .map(text)
            .find(|s| !s.is_empty())
            .unwrap_or_default();
        return (text(&e["code"]), msg);
    }
    if let Some(m) = v["messages"].as_array().and_then(|a| a.first()) {
        return (text(&m["type"]), text(&m["text"]));
    }
    if v["error"].is_object() {
        return (text(&v["error"]["code"]), text(&v["error"]["message"]));
    }
    let mut msg = text(&v["message"]);
    let desc = text(&v["description"]);
    if !desc.is_empty() && desc != msg {
        msg = if msg.is_empty() {
            desc
        } else {
            format!("{msg} {desc}")
        };
    }
    (text(&v["code"]), msg)
}

impl VendorApi {
    /// The API at `base` (checked now for form and IP literals; names on every connection).
    pub fn new(
        service: &'static str,
        base: Url,
        auth: Auth,
        credentials: &Credentials,
        opts: &ConnectorOptions,
    ) -> Result<VendorApi, SourceError> {
        opts.guard
            .check_target(base.as_str())
            .map_err(|e| SourceError::Settings {
                field: "settings.baseUrl".into(),
                detail: format!("is refused by the SSRF guard: {e}."),
            })?;
        Ok(VendorApi {
            service,
            client: crate::http::client(opts)?,
            guard: opts.guard.clone(),
            base,
            auth,
            headers: Vec::new(),
            auth_hints: &[],
            secrets: credentials
                .secrets()
                .into_iter()
                .map(str::to_string)
                .collect(),
            max_answer_bytes: opts.max_answer_bytes,
            window: StdMutex::new(Window::default()),
            calls: AtomicU64::new(0),
        })
    }

    /// Sends `headers` with every request.
    pub fn with_headers(mut self, headers: Vec<(&'static str, String)>) -> VendorApi {
        self.headers = headers;
        self
    }

    /// What a 401 or 403 of this source means (`(status, hint)`): see [`VendorApi::error`].
    pub fn with_auth_hints(mut self, hints: &'static [(u16, &'static str)]) -> VendorApi {
        self.auth_hints = hints;
        self
    }

    /// Tokens fetched so far (OAuth sources; 0 for a fixed token).
    pub fn token_requests(&self) -> u64 {
        match &self.auth {
            Auth::OAuth(t) => t.fetched.load(Ordering::Relaxed),
            Auth::Header { .. } => 0,
        }
    }

    /// Requests sent so far (for the cost figures of `docs/connectors.md`).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    pub async fn check_targets(&self) -> Result<(), SourceError> {
        self.guard
            .check_url(self.base.as_str())
            .await
            .map(|_| ())
            .map_err(|e| SourceError::Settings {
                field: "settings.baseUrl".into(),
                detail: format!("is refused by the SSRF guard: {e}."),
            })
    }

    /// A follow-up link the source returned: same origin as the base URL, through the guard.
    pub fn next_url(&self, link: &str) -> Result<Url, SourceError> {
        crate::http::same_origin_link(
            &self.guard,
            self.service,
            &self.base,
            link,
            ("a next-page link", "the credentials"),
        )
    }

    /// A failed call as this source's error ([`Failure::explained`] with its hints).
    pub fn error(&self, f: Failure) -> SourceError {
        f.explained(self.service, self.auth_hints)
    }

    /// A `GET` whose answer only has to be a JSON success (a settings check).
    pub async fn probe(&self, url: Url, extra: &[(&str, String)]) -> Result<(), Failure> {
        self.json(Method::GET, url, Body::Empty, extra)
            .await
            .map(|_| ())
    }

    fn scrubbed(&self, text: &str, token: Option<&str>) -> String {
        let mut secrets: Vec<&str> = self.secrets.iter().map(String::as_str).collect();
        if let Some(t) = token {
            secrets.push(t);
        }
        clip(&scrub(text, secrets))
    }

    fn settings_error(&self, detail: String) -> Failure {
        Failure::Error(SourceError::Settings {
            field: "settings.baseUrl".into(),
            detail,
        })
    }

    fn send_error(&self, e: &reqwest::Error) -> Failure {
        match ssrf::refusal(e) {
            Some(r) => self.settings_error(format!("is refused by the SSRF guard: {r}.")),
            None => Failure::Error(SourceError::Unavailable {
                service: self.service,
                detail: transport_kind(e).into(),
                retry_after: None,
            }),
        }
    }

    /// Waits for (or reports) an exhausted rate-limit window before sending.
    async fn pace(&self) -> Result<(), Failure> {
        let wait = {
            let w = self.window.lock().unwrap();
            match (w.remaining, w.reset_at) {
                (Some(r), Some(at)) if r < RATE_RESERVE => {
                    at.duration_since(SystemTime::now()).ok()
                }
                (Some(r), None) if r < RATE_RESERVE => Some(UNKNOWN_RESET_WAIT),
                _ => None,
            }
        };
        match wait {
            None => Ok(()),
            Some(d) if d <= MAX_PACING_WAIT => {
                tracing::info!(
                    service = self.service,
                    wait_ms = d.as_millis() as u64,
                    "rate-limit window nearly spent: waiting"
                );
                tokio::time::sleep(d).await;
                let mut w = self.window.lock().unwrap();
                w.remaining = None;
                Ok(())
            }
            Some(d) => Err(Failure::Error(SourceError::RateLimited {
                service: self.service,
                retry_after: d,
                detail: "X-RateLimit-Remaining is spent; not sending until the window resets"
                    .into(),
            })),
        }
    }

    fn observe(&self, headers: &HeaderMap) {
        let remaining = headers
            .get("x-ratelimit-remaining")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(r) = remaining {
            let mut w = self.window.lock().unwrap();
            w.remaining = Some(r);
            w.reset_at = epoch_wait(headers).map(|d| SystemTime::now() + d);
        }
    }

    async fn oauth_token(&self, t: &OAuthTokens) -> Result<Arc<str>, Failure> {
        let mut slot = t.slot.lock().await;
        if let Some((tok, until)) = slot.as_ref() {
            if Instant::now() < *until {
                return Ok(tok.clone());
            }
        }
        let mut form = vec![
            ("client_id", t.client_id.clone()),
            ("client_secret", t.secret.expose().to_string()),
        ];
        if let Some(m) = &t.member_cid {
            form.push(("member_cid", m.clone()));
        }
        self.guard
            .check_target(t.url.as_str())
            .map_err(|e| self.settings_error(format!("is refused by the SSRF guard: {e}.")))?;
        let started = Instant::now();
        self.calls.fetch_add(1, Ordering::Relaxed);
        let resp = self
            .client
            .post(t.url.clone())
            .header(ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| self.send_error(&e))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = self.read(resp).await?;
        tracing::debug!(
            service = self.service,
            status = status.as_u16(),
            "token request"
        );
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            let Some(tok) = v["access_token"].as_str().filter(|s| !s.is_empty()) else {
                return Err(Failure::Error(SourceError::Unavailable {
                    service: self.service,
                    detail: "the token response has no access_token".into(),
                    retry_after: None,
                }));
            };
            let life = v["expires_in"].as_u64().unwrap_or(1799);
            let until = started + Duration::from_secs(life - (life / 2).min(300));
            let tok: Arc<str> = Arc::from(tok);
            *slot = Some((tok.clone(), until));
            t.fetched.fetch_add(1, Ordering::Relaxed);
            return Ok(tok);
        }
        let (code, message) = vendor_error(&v);
        let what = self.scrubbed(format!("{code} {message}").trim(), None);
        Err(Failure::Error(match status.as_u16() {
            429 => SourceError::RateLimited {
                service: self.service,
                retry_after: epoch_wait(&headers)
                    .or_else(|| retry_after(&headers))
                    .unwrap_or(DEFAULT_RETRY_AFTER),
                detail: format!("token requests: {what}"),
            },
            s @ 500..=599 => SourceError::Unavailable {
                service: self.service,
                detail: format!("HTTP {s} from the token endpoint ({what})"),
                retry_after: retry_after(&headers),
            },
            s => SourceError::Auth {
                service: self.service,
                detail: format!("the token endpoint answered HTTP {s} ({what})"),
            },
        }))
    }

    /// Sends one request; `Ok` is a 2xx response, unread (for streaming answers).
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        body: Body<'_>,
        extra: &[(&str, String)],
    ) -> Result<reqwest::Response, Failure> {
        self.guard
            .check_target(url.as_str())
            .map_err(|e| self.settings_error(format!("is refused by the SSRF guard: {e}.")))?;
        let mut refreshed = false;
        loop {
            self.pace().await?;
            let (name, value, token) = match &self.auth {
                Auth::Header {
                    name,
                    prefix,
                    token,
                } => (*name, format!("{prefix}{}", token.expose()), None),
                Auth::OAuth(t) => {
                    let tok = self.oauth_token(t).await?;
                    ("authorization", format!("Bearer {tok}"), Some(tok))
                }
            };
            let mut req = self
                .client
                .request(method.clone(), url.clone())
                .header(name, value)
                .header(ACCEPT, "application/json");
            for (k, v) in self.headers.iter().chain(extra.iter()) {
                req = req.header(*k, v);
            }
            req = match &body {
                Body::Empty => req,
                Body::Json(v) => req.json(v),
                Body::Form(f) => req.form(f),
            };
            self.calls.fetch_add(1, Ordering::Relaxed);
            let resp = req.send().await.map_err(|e| self.send_error(&e))?;
            let status = resp.status();
            self.observe(resp.headers());
            tracing::debug!(service = self.service, %method, path = url.path(), status = status.as_u16(), "connector call");
            if status.is_success() {
                return Ok(resp);
            }
            if status == StatusCode::UNAUTHORIZED && !refreshed {
                if let (Auth::OAuth(t), Some(tok)) = (&self.auth, &token) {
                    refreshed = true;
                    let mut slot = t.slot.lock().await;
                    if slot.as_ref().is_some_and(|(s, _)| Arc::ptr_eq(s, tok)) {
                        *slot = None;
                    }
                    continue;
                }
            }
            let headers = resp.headers().clone();
            let wait = if status == StatusCode::TOO_MANY_REQUESTS {
                epoch_wait(&headers).or_else(|| retry_after(&headers))
            } else {
                retry_after(&headers)
            };
            let bytes = self.read(resp).await.unwrap_or_default();
            let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let (code, message) = vendor_error(&v);
            let token = token.as_deref();
            return Err(Failure::Status {
                status: status.as_u16(),
                code: self.scrubbed(&code, token),
                message: self.scrubbed(&message, token),
                retry_after: wait,
            });
        }
    }

    /// One call whose answer is JSON (`null` when empty), with the answer's headers.
    pub async fn json(
        &self,
        method: Method,
        url: Url,
        body: Body<'_>,
        extra: &[(&str, String)],
    ) -> Result<(Value, HeaderMap), Failure> {
        let resp = self.send(method, url, body, extra).await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = self.read(resp).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok((Value::Null, headers));
        }
        let v = serde_json::from_slice(&bytes).map_err(|_| {
            Failure::Error(SourceError::Rejected {
                service: self.service,
                status: Some(status),
                detail: "the answer is not JSON".into(),
            })
        })?;
        Ok((v, headers))
    }

    /// The whole answer, at most `max_answer_bytes`.
    pub async fn read(&self, resp: reqwest::Response) -> Result<Vec<u8>, Failure> {
        crate::http::read_all(self.service, self.max_answer_bytes, resp).await
    }

    /// The next piece of a streamed answer.
    pub async fn chunk(&self, resp: &mut reqwest::Response) -> Result<Option<Vec<u8>>, Failure> {
        crate::http::chunk(self.service, resp).await
    }

    /// The largest line a streamed answer may have.
    pub fn max_line(&self) -> usize {
        self.max_answer_bytes
    }
}

/// `{base}/{segments…}` with every segment percent-encoded, and the query pairs.
pub(crate) fn url_at(base: &Url, segments: &[&str], query: &[(&str, &str)]) -> Url {
    crate::http::url_with(base, segments, query)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_bodies_of_each_vendor() {
        assert_eq!(
            vendor_error(
                &json!({"meta": {}, "errors": [{"code": 429, "message": "API rate limit exceeded."}]})
            ),
            ("429".into(), "API rate limit exceeded.".into())
        );
        assert_eq!(
            vendor_error(
                &json!({"errors": [{"code": 4010010, "detail": null, "title": "Authentication Failed"}]})
            ),
            ("4010010".into(), "Authentication Failed".into())
        );
        assert_eq!(
            vendor_error(
                &json!({"http_response": {"code": 401, "message": "Unauthorized"}, "code": 11, "message": "No SEC header present in request.", "description": ""})
            ),
            ("11".into(), "No SEC header present in request.".into())
        );
        assert_eq!(
            vendor_error(
                &json!({"messages": [{"type": "ERROR", "text": "Unknown search command 'notabl'."}]})
            ),
            ("ERROR".into(), "Unknown search command 'notabl'.".into())
        );
    }
}
