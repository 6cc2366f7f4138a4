//! Helpers for talking to an upstream service: its `Retry-After`, text from its answers made
//! safe to show (one line, bounded, secrets removed), what went wrong on the wire, and
//! [`Secret`].

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde::{Deserialize, Serialize};

/// A string that never shows up in `Debug` or logs (client secrets, API tokens, keys).
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("\"\"")
        } else {
            f.write_str("\"<redacted>\"")
        }
    }
}

/// A `Retry-After` value (delta-seconds or an HTTP date) as a wait from now.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?;
    let secs = (at.with_timezone(&Utc) - Utc::now()).num_seconds().max(0);
    Some(Duration::from_secs(secs as u64))
}

/// The `Retry-After` header of an answer, if it has a readable one.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    parse_retry_after(headers.get(RETRY_AFTER)?.to_str().ok()?)
}

/// Upstream text cut to its first line and at most 400 characters.
pub fn clip(s: &str) -> String {
    let line = s.lines().next().unwrap_or("").trim();
    let mut out: String = line.chars().take(400).collect();
    if line.chars().count() > 400 {
        out.push('…');
    }
    out
}

/// `text` with every non-empty secret replaced by `<redacted>`.
pub fn scrub<'a>(text: &str, secrets: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if !s.is_empty() {
            out = out.replace(s, "<redacted>");
        }
    }
    out
}

/// What went wrong on the wire, in words that carry no URL, header or body.
pub fn transport_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_decode() || e.is_body() {
        "unreadable response"
    } else {
        "request failed"
    }
}

/// A failed outbound request as one sentence naming `peer` ("receiver", "target"): a timeout,
/// or the failure with its innermost cause ("Could not connect to the receiver: Connection
/// refused (os error 111).").
pub fn describe_request_error(e: &reqwest::Error, peer: &str) -> String {
    use std::error::Error as _;
    if e.is_timeout() {
        return format!("The {peer} did not answer within the timeout.");
    }
    let mut msg = if e.is_connect() {
        format!("Could not connect to the {peer}")
    } else {
        String::from("The request failed")
    };
    let mut source = e.source();
    let mut last = None;
    while let Some(s) = source {
        last = Some(s.to_string());
        source = s.source();
    }
    if let Some(cause) = last {
        msg.push_str(": ");
        msg.push_str(&cause);
    }
    msg.push('.');
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_accepts_seconds_and_dates() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
    }

    #[test]
    fn text_is_one_bounded_line_without_secrets() {
        assert_eq!(clip("first\r\nsecond"), "first");
        let long = "x".repeat(500);
        assert_eq!(clip(&long).chars().count(), 401);
        assert_eq!(
            scrub("bad secret 's3cr3t' given", ["s3cr3t", ""]),
            "bad secret '<redacted>' given"
        );
        assert_eq!(format!("{:?}", Secret::new("s3cr3t")), "\"<redacted>\"");
        assert_eq!(format!("{:?}", Secret::default()), "\"\"");
    }
}
