//! Calls to a source: every URL through the SSRF guard (the request's own URL and IP literal,
//! and names through the client's guarded resolver), bearer tokens from Entra ID refreshed once
//! on a 401, bounded answers, and failures sorted into [`SourceError`]s whose text is clipped
//! and scrubbed of the connector's secret and token.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use palisade_net::entra::{AccessToken, TokenError, TokenSource};
use palisade_net::ssrf::{self, Guard, GuardedResolver};
use palisade_net::upstream::{clip, retry_after, scrub, transport_kind};
use reqwest::header::ACCEPT;
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use crate::cursor::{Continuation, PageRequest};
use crate::error::SourceError;

pub(crate) const ENTRA: &str = "Microsoft Entra ID";
/// Waited after a 429 that carries no `Retry-After`.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(2);

/// How connectors talk to sources.
#[derive(Debug, Clone)]
pub struct ConnectorOptions {
    /// The `[connectors]` SSRF guard (its `allow_private_targets`, `allow_http`).
    pub guard: Guard,
    /// Timeout of one HTTP call.
    pub timeout: Duration,
    /// The largest answer read (a list page, an incident).
    pub max_answer_bytes: usize,
    /// Concurrent per-incident calls while enriching a page (Sentinel's entities and alerts).
    pub enrich_concurrency: usize,
    /// How often a write is re-read and re-applied after losing to a concurrent change.
    pub max_write_attempts: u32,
}

impl ConnectorOptions {
    pub fn new(guard: Guard) -> ConnectorOptions {
        ConnectorOptions {
            guard,
            timeout: Duration::from_secs(30),
            max_answer_bytes: 32 * 1024 * 1024,
            enrich_concurrency: 16,
            max_write_attempts: 3,
        }
    }
}

/// A failed call before it becomes a [`SourceError`]: the source's status and error, so that
/// each source can say which setting a 404 points at.
#[derive(Debug)]
pub(crate) enum Failure {
    Error(SourceError),
    Status {
        status: u16,
        code: String,
        message: String,
        retry_after: Option<Duration>,
    },
}

impl From<SourceError> for Failure {
    fn from(e: SourceError) -> Self {
        Failure::Error(e)
    }
}

impl Failure {
    pub fn status(&self) -> Option<u16> {
        match self {
            Failure::Status { status, .. } => Some(*status),
            Failure::Error(_) => None,
        }
    }

    pub fn code(&self) -> &str {
        match self {
            Failure::Status { code, .. } => code,
            Failure::Error(_) => "",
        }
    }

    /// `code: message` (or whichever is present).
    pub fn what(&self) -> String {
        match self {
            Failure::Status { code, message, .. } => match (code.is_empty(), message.is_empty()) {
                (false, false) => format!("{code}: {message}"),
                (false, true) => code.clone(),
                _ => message.clone(),
            },
            Failure::Error(e) => e.to_string(),
        }
    }

    /// [`Failure::into_error`], except that a status `hints` names is `Auth`, with the hint
    /// (what the source needs granted or fixed) after what it said.
    pub fn explained(self, service: &'static str, hints: &[(u16, &str)]) -> SourceError {
        match self
            .status()
            .and_then(|s| hints.iter().find(|(h, _)| *h == s))
        {
            Some((_, hint)) => SourceError::Auth {
                service,
                detail: format!("{} ({hint})", self.what()),
            },
            None => self.into_error(service),
        }
    }

    /// The default sorting of a failed call.
    pub fn into_error(self, service: &'static str) -> SourceError {
        let what = self.what();
        let (status, retry_after) = match self {
            Failure::Error(e) => return e,
            Failure::Status {
                status,
                retry_after,
                ..
            } => (status, retry_after),
        };
        match status {
            429 => SourceError::RateLimited {
                service,
                retry_after: retry_after.unwrap_or(DEFAULT_RETRY_AFTER),
                detail: what,
            },
            401 => SourceError::Auth {
                service,
                detail: format!("{what} (the access token was refused after a refresh)"),
            },
            403 => SourceError::Auth {
                service,
                detail: format!("{what} (the app registration lacks a permission or role)"),
            },
            404 => SourceError::NotFound {
                service,
                detail: what,
            },
            409 | 412 => SourceError::Conflict {
                service,
                detail: what,
            },
            500..=599 => SourceError::Unavailable {
                service,
                detail: format!("HTTP {status} ({what})"),
                retry_after,
            },
            _ => SourceError::Rejected {
                service,
                status: Some(status),
                detail: what,
            },
        }
    }
}

/// One source's API: the guarded client, its token source and base URL.
pub(crate) struct Api {
    pub service: &'static str,
    client: reqwest::Client,
    guard: Guard,
    tokens: TokenSource,
    pub base: Url,
    /// The settings that name the base URL and the authority (for errors).
    base_field: &'static str,
    authority_field: &'static str,
    secrets: Vec<String>,
    max_answer_bytes: usize,
}

/// An HTTP client for connectors: the guard resolves every name, redirects are never followed.
pub(crate) fn client(opts: &ConnectorOptions) -> Result<reqwest::Client, SourceError> {
    reqwest::Client::builder()
        .timeout(opts.timeout)
        .connect_timeout(opts.timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(GuardedResolver(opts.guard.clone())))
        .user_agent(concat!("Palisade-Connectors/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|_| SourceError::Unavailable {
            service: "Palisade",
            detail: "the HTTP client could not be built".into(),
            retry_after: None,
        })
}

pub(crate) struct ApiSpec {
    pub service: &'static str,
    pub base: Url,
    pub base_field: &'static str,
    pub authority_field: &'static str,
    pub tokens: TokenSource,
    pub secrets: Vec<String>,
}

impl Api {
    pub fn new(spec: ApiSpec, client: reqwest::Client, opts: &ConnectorOptions) -> Api {
        Api {
            service: spec.service,
            client,
            guard: opts.guard.clone(),
            tokens: spec.tokens,
            base: spec.base,
            base_field: spec.base_field,
            authority_field: spec.authority_field,
            secrets: spec.secrets,
            max_answer_bytes: opts.max_answer_bytes,
        }
    }

    pub fn token_requests(&self) -> u64 {
        self.tokens.fetched()
    }

    /// Checks the configured endpoints completely (resolving names through the guard).
    pub async fn check_targets(&self) -> Result<(), SourceError> {
        for (url, field) in [
            (&self.base, self.base_field),
            (self.tokens.token_url(), self.authority_field),
        ] {
            self.guard
                .check_url(url.as_str())
                .await
                .map_err(|e| SourceError::Settings {
                    field: field.to_string(),
                    detail: format!("is refused by the SSRF guard: {e}."),
                })?;
        }
        Ok(())
    }

    fn scrubbed(&self, text: &str, token: Option<&AccessToken>) -> String {
        let mut secrets: Vec<&str> = self.secrets.iter().map(String::as_str).collect();
        if let Some(t) = token {
            secrets.push(t.secret());
        }
        clip(&scrub(text, secrets))
    }

    fn token_error(&self, e: TokenError) -> SourceError {
        match e {
            TokenError::Refused {
                status: 429,
                code,
                retry_after,
                ..
            } => SourceError::RateLimited {
                service: ENTRA,
                retry_after: retry_after.unwrap_or(DEFAULT_RETRY_AFTER),
                detail: code,
            },
            TokenError::Refused {
                status,
                code,
                description,
                retry_after,
            } => {
                let what = format!("{code}: {description}");
                if status >= 500 {
                    SourceError::Unavailable {
                        service: ENTRA,
                        detail: format!("HTTP {status} ({what})"),
                        retry_after,
                    }
                } else if description.contains("AADSTS90002") {
                    SourceError::Settings {
                        field: "settings.tenantId".into(),
                        detail: format!("names no directory ({what})."),
                    }
                } else if description.contains("AADSTS700016") {
                    SourceError::Settings {
                        field: "settings.clientId".into(),
                        detail: format!("names no app registration in the directory ({what})."),
                    }
                } else {
                    SourceError::Auth {
                        service: ENTRA,
                        detail: what,
                    }
                }
            }
            TokenError::Transport { message } => SourceError::Unavailable {
                service: ENTRA,
                detail: message,
                retry_after: None,
            },
            TokenError::Blocked { message } => SourceError::Settings {
                field: self.authority_field.to_string(),
                detail: format!("is {message}."),
            },
        }
    }

    /// A `nextLink` the source returned: only to the same origin as the base URL (the access
    /// token goes with it) and through the guard.
    pub fn next_url(&self, link: &str) -> Result<Url, SourceError> {
        same_origin_link(
            &self.guard,
            self.service,
            &self.base,
            link,
            ("a nextLink", "the access token"),
        )
    }

    /// A `GET` whose answer only has to be a success (a settings check).
    pub async fn probe(&self, url: Url) -> Result<(), Failure> {
        self.call(Method::GET, url, None).await.map(|_| ())
    }

    /// One page of a list: the continuation's link (checked by [`Api::next_url`]), else
    /// `first` for where the request starts; see [`Api::list_page`].
    pub async fn list(
        &self,
        req: &PageRequest<'_>,
        next_key: &str,
        first: impl FnOnce(DateTime<Utc>) -> Url,
    ) -> Result<(Vec<Value>, Option<Continuation>), Failure> {
        let url = match req.continuation {
            Some(c) => self.next_url(&c.next)?,
            None => first(req.from()),
        };
        self.list_page(url, next_key).await
    }

    /// One page of a list (`{value: [...], <next_key>: link}`, as ARM and Graph answer).
    pub async fn list_page(
        &self,
        url: Url,
        next_key: &str,
    ) -> Result<(Vec<Value>, Option<Continuation>), Failure> {
        let mut body = self.call(Method::GET, url, None).await?;
        let Some(Value::Array(list)) = body.get_mut("value").map(Value::take) else {
            return Err(Failure::Error(SourceError::Rejected {
                service: self.service,
                status: None,
                detail: "the incidents list has no 'value' array".into(),
            }));
        };
        let next = body[next_key]
            .as_str()
            .filter(|s| !s.trim().is_empty())
            .map(Continuation::new);
        Ok((list, next))
    }

    /// One call with a bearer token (refreshed once on a 401). `Ok` is a 2xx answer's JSON
    /// (`null` when empty).
    pub async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<Value, Failure> {
        self.guard
            .check_target(url.as_str())
            .map_err(|e| SourceError::Settings {
                field: self.base_field.to_string(),
                detail: format!("is refused by the SSRF guard: {e}."),
            })?;
        let mut refreshed = false;
        loop {
            let token = self.tokens.token().await.map_err(|e| self.token_error(e))?;
            let mut req = self
                .client
                .request(method.clone(), url.clone())
                .bearer_auth(token.secret())
                .header(ACCEPT, "application/json");
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = req.send().await.map_err(|e| self.send_error(&e))?;
            let status = resp.status();
            let wait = retry_after(resp.headers());
            let bytes = self.read(resp).await?;
            tracing::debug!(service = self.service, %method, path = url.path(), status = status.as_u16(), "connector call");
            if status.is_success() {
                if bytes.iter().all(u8::is_ascii_whitespace) {
                    return Ok(Value::Null);
                }
                return serde_json::from_slice(&bytes).map_err(|_| {
                    Failure::Error(SourceError::Rejected {
                        service: self.service,
                        status: Some(status.as_u16()),
                        detail: "the answer is not JSON".into(),
                    })
                });
            }
            if status == StatusCode::UNAUTHORIZED && !refreshed {
                refreshed = true;
                self.tokens.invalidate(&token).await;
                continue;
            }
            let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            // ARM and Graph: {"error": {"code", "message"}}; some services answer it bare.
            let e = if v["error"].is_object() {
                &v["error"]
            } else {
                &v
            };
            return Err(Failure::Status {
                status: status.as_u16(),
                code: self.scrubbed(e["code"].as_str().unwrap_or(""), Some(&token)),
                message: self.scrubbed(e["message"].as_str().unwrap_or(""), Some(&token)),
                retry_after: wait,
            });
        }
    }

    fn send_error(&self, e: &reqwest::Error) -> Failure {
        match ssrf::refusal(e) {
            Some(r) => Failure::Error(SourceError::Settings {
                field: self.base_field.to_string(),
                detail: format!("is refused by the SSRF guard: {r}."),
            }),
            None => Failure::Error(SourceError::Unavailable {
                service: self.service,
                detail: transport_kind(e).into(),
                retry_after: None,
            }),
        }
    }

    async fn read(&self, resp: reqwest::Response) -> Result<Vec<u8>, Failure> {
        read_all(self.service, self.max_answer_bytes, resp).await
    }
}

/// A follow-up link a source returned (`noun` in errors): a URL of the same origin as `base`
/// (what is `carried`, the credentials, goes with it) that the guard allows.
pub(crate) fn same_origin_link(
    guard: &Guard,
    service: &'static str,
    base: &Url,
    link: &str,
    (noun, carried): (&str, &str),
) -> Result<Url, SourceError> {
    let refuse = |why: String| SourceError::Rejected {
        service,
        status: None,
        detail: why,
    };
    let url =
        Url::parse(link.trim()).map_err(|_| refuse(format!("{noun} is not a URL; refused")))?;
    if url.origin() != base.origin() {
        return Err(refuse(format!(
            "{noun} points at {} instead of {}; refused ({carried} would go with it)",
            url.origin().ascii_serialization(),
            base.origin().ascii_serialization()
        )));
    }
    guard
        .check_target(url.as_str())
        .map_err(|e| refuse(format!("{noun} is refused by the SSRF guard: {e}")))?;
    Ok(url)
}

/// The next piece of an answer being read (`None` at its end).
pub(crate) async fn chunk(
    service: &'static str,
    resp: &mut reqwest::Response,
) -> Result<Option<Vec<u8>>, Failure> {
    resp.chunk()
        .await
        .map(|c| c.map(|c| c.to_vec()))
        .map_err(|e| {
            Failure::Error(SourceError::Unavailable {
                service,
                detail: transport_kind(&e).into(),
                retry_after: None,
            })
        })
}

/// The whole answer, refused once it passes `max` bytes (by its length or as it is read).
pub(crate) async fn read_all(
    service: &'static str,
    max: usize,
    mut resp: reqwest::Response,
) -> Result<Vec<u8>, Failure> {
    let too_big = || {
        Failure::Error(SourceError::Rejected {
            service,
            status: None,
            detail: format!("an answer is larger than {max} bytes"),
        })
    };
    if resp.content_length().is_some_and(|n| n as usize > max) {
        return Err(too_big());
    }
    let mut out = Vec::new();
    while let Some(c) = chunk(service, &mut resp).await? {
        if out.len() + c.len() > max {
            return Err(too_big());
        }
        out.extend_from_slice(&c);
    }
    Ok(out)
}

/// `{base}/{segments…}?{query…}` with every segment percent-encoded.
pub(crate) fn url_with(base: &Url, segments: &[&str], query: &[(&str, &str)]) -> Url {
    let mut url = base.clone();
    if let Ok(mut segs) = url.path_segments_mut() {
        segs.pop_if_empty().extend(segments);
    }
    if !query.is_empty() {
        let mut q = url.query_pairs_mut();
        for (k, v) in query {
            q.append_pair(k, v);
        }
    }
    url
}
