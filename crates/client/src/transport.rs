//! One call: the URL from the operation's path template, the Basic credentials, the body,
//! retries of idempotent operations on 429/503, and the answer decoded (envelope or problem).

use std::borrow::Cow;
use std::time::Duration;

use bytes::Bytes;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rand::Rng;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use reqwest::Method;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, Error, Result};
use crate::ops::{Kind, Operation};
use crate::Client;

pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) base: url::Url,
    pub(crate) client_id: Option<String>,
    pub(crate) auth: Option<HeaderValue>,
    pub(crate) retry: RetryPolicy,
}

/// When and how often 429 and 503 answers of idempotent operations are retried.
///
/// The wait before retry `n` (from 0) is the server's `Retry-After` plus a jitter of up to
/// `base_delay`, or without `Retry-After` a random time between zero and
/// `base_delay × 2ⁿ` (full jitter), capped at `max_delay`. A `Retry-After` longer than
/// `max_delay` is not waited for: the error is returned at once.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// The wait before retry `attempt` (0-based), or `None` when the server asks for longer
    /// than `max_delay`.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Option<Duration> {
        let mut rng = rand::thread_rng();
        match retry_after {
            Some(d) if d > self.max_delay => None,
            Some(d) => {
                let jitter = rng.gen_range(0..=self.base_delay.as_millis() as u64);
                Some((d + Duration::from_millis(jitter)).min(self.max_delay.max(d)))
            }
            None => {
                let cap = self
                    .base_delay
                    .saturating_mul(2u32.saturating_pow(attempt.min(16)))
                    .min(self.max_delay);
                Some(Duration::from_millis(
                    rng.gen_range(0..=cap.as_millis() as u64),
                ))
            }
        }
    }
}

/// A value that fills a `{…}` segment of a path template (percent-encoded).
pub trait PathArg {
    fn path_arg(&self) -> Cow<'_, str>;
}

impl PathArg for str {
    fn path_arg(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}
impl PathArg for String {
    fn path_arg(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}
impl PathArg for uuid::Uuid {
    fn path_arg(&self) -> Cow<'_, str> {
        Cow::Owned(self.to_string())
    }
}
impl PathArg for i64 {
    fn path_arg(&self) -> Cow<'_, str> {
        Cow::Owned(self.to_string())
    }
}
impl PathArg for palisade_types::incidents::IncidentSource {
    fn path_arg(&self) -> Cow<'_, str> {
        Cow::Borrowed(self.as_str())
    }
}
impl<T: PathArg + ?Sized> PathArg for &T {
    fn path_arg(&self) -> Cow<'_, str> {
        (**self).path_arg()
    }
}

/// Everything but the unreserved characters of RFC 3986.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Fills the template's `{…}` segments in order.
pub(crate) fn render_path(template: &str, args: &[Cow<'_, str>]) -> Result<String> {
    let mut out = String::with_capacity(template.len() + 64);
    let mut args = args.iter();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..]
            .find('}')
            .map(|c| open + c)
            .unwrap_or(rest.len());
        let arg = args
            .next()
            .ok_or_else(|| Error::Invalid(format!("missing path parameter in {template}")))?;
        if arg.is_empty() {
            return Err(Error::Invalid(format!(
                "empty path parameter {} in {template}",
                &rest[open..=close.min(rest.len() - 1)]
            )));
        }
        out.extend(utf8_percent_encode(arg, SEGMENT));
        rest = &rest[(close + 1).min(rest.len())..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The encoded parts of one request, kept so that a retry sends the same bytes.
pub(crate) struct Call {
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) body: Option<Bytes>,
}

/// The success answer of one call, before decoding.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Bytes,
}

impl Client {
    /// Sends `call` as `op`, retrying 429/503 when the operation is idempotent.
    pub(crate) async fn send(&self, op: &Operation, call: Call) -> Result<Answer> {
        let inner = &self.inner;
        let method = Method::from_bytes(op.method.as_bytes())
            .map_err(|_| Error::Invalid(format!("method {}", op.method)))?;
        let mut url = inner.base.clone();
        let base_path = inner.base.path().trim_end_matches('/');
        url.set_path(&format!("{base_path}{}", call.path));
        url.set_query(call.query.as_deref());
        let mut attempt = 0u32;
        loop {
            let mut req = inner.http.request(method.clone(), url.clone());
            if let Some((name, value)) = self.auth_header() {
                req = req.header(name, value);
            }
            if let Some(body) = &call.body {
                req = req
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let resp = req.send().await?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let body = resp.bytes().await?;
            if (200..300).contains(&status) {
                return Ok(Answer { status, body });
            }
            let err = failure(status, &headers, &body);
            let retryable = matches!(status, 429 | 503) && op.idempotent;
            if retryable && attempt < inner.retry.max_retries {
                if let Some(wait) = inner.retry.delay(attempt, retry_after(&headers)) {
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                    continue;
                }
            }
            return Err(err);
        }
    }

    /// Sends and decodes the answer by the operation's kind.
    pub(crate) async fn execute<T: DeserializeOwned>(
        &self,
        op: &Operation,
        call: Call,
    ) -> Result<T> {
        let answer = self.send(op, call).await?;
        decode(op, answer)
    }
}

pub(crate) fn decode<T: DeserializeOwned>(op: &Operation, answer: Answer) -> Result<T> {
    let decode_err = |source| Error::Decode {
        operation: op.id,
        source,
    };
    match op.kind {
        Kind::Data => {
            #[derive(serde::Deserialize)]
            struct Enveloped<T> {
                data: T,
            }
            serde_json::from_slice::<Enveloped<T>>(&answer.body)
                .map(|e| e.data)
                .map_err(decode_err)
        }
        Kind::Json => serde_json::from_slice(&answer.body).map_err(decode_err),
        Kind::Text => {
            let text = String::from_utf8_lossy(&answer.body).into_owned();
            serde_json::from_value(serde_json::Value::String(text)).map_err(decode_err)
        }
        Kind::Accepted => {
            // A 202 may carry an envelope, or nothing.
            if answer.body.is_empty() || answer.status == 204 {
                return serde_json::from_value(serde_json::Value::Null).map_err(decode_err);
            }
            let v: serde_json::Value = serde_json::from_slice(&answer.body).map_err(decode_err)?;
            let data = v.get("data").cloned().unwrap_or(v);
            serde_json::from_value(data).map_err(decode_err)
        }
    }
}

/// `Retry-After` as delay-seconds or an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

fn failure(status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match serde_json::from_slice::<palisade_types::ProblemDetails>(body) {
        Ok(problem) => Error::Api(Box::new(ApiError {
            status,
            problem,
            retry_after: retry_after(headers),
        })),
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let mut end = text.len().min(1024);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            Error::Status {
                status,
                request_id,
                body: text[..end].to_string(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_filled_in_order_and_encoded() {
        let p = render_path(
            "/api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}",
            &["w".into(), "Sentinel".into(), "INC 1/2".into()],
        )
        .unwrap();
        assert_eq!(p, "/api/v2/workspaces/w/incidents/Sentinel/INC%201%2F2");
        assert!(render_path("/a/{x}", &[]).is_err());
        assert!(render_path("/a/{x}", &["".into()]).is_err());
    }

    #[test]
    fn retry_delays_honour_retry_after_and_cap() {
        let p = RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
        };
        for _ in 0..50 {
            let d = p.delay(0, Some(Duration::from_secs(2))).unwrap();
            assert!(
                d >= Duration::from_secs(2) && d <= Duration::from_millis(2100),
                "{d:?}"
            );
            let d = p.delay(3, None).unwrap();
            assert!(d <= Duration::from_millis(800), "{d:?}");
        }
        assert_eq!(p.delay(0, Some(Duration::from_secs(6))), None);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let later = std::time::SystemTime::now() + Duration::from_secs(120);
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_str(&httpdate::fmt_http_date(later)).unwrap(),
        );
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(100) && d <= Duration::from_secs(120),
            "{d:?}"
        );
    }
}
