//! Verifying webhook deliveries (DESIGN §6): `X-CF-Signature` (`sha256=` + lowercase hex of
//! HMAC-SHA256 keyed with the signing secret's UTF-8 bytes over `"{X-CF-Timestamp}.{body}"`)
//! and Standard Webhooks (`webhook-signature: v1,<base64>` of HMAC-SHA256 keyed with the
//! base64-decoded part of a `whsec_` secret over `"{webhook-id}.{webhook-timestamp}.{body}"`).
//! Both check that the timestamp is within a tolerance of now (default five minutes), so
//! that a captured delivery cannot be replayed later. Comparisons are constant-time.
//!
//! ```
//! use palisade_client::verify::Verifier;
//! let v = Verifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
//! let ok = v.verify_standard_at(
//!     "msg_p5jXN8AQM9LWM0D4loKWxJek",
//!     "1614265330",
//!     "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
//!     br#"{"test": 2432232314}"#,
//!     1614265330,
//! );
//! assert!(ok.is_ok());
//! ```

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Why a delivery was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    #[error("the timestamp is not Unix seconds")]
    BadTimestamp,
    #[error("the timestamp is outside the tolerance ({0} s from now)")]
    OutsideTolerance(i64),
    #[error("no signature matches")]
    Mismatch,
    #[error("the signing secret is not of the whsec_ form Standard Webhooks needs")]
    NotStandardSecret,
}

/// Which scheme a delivery was verified by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    StandardWebhooks,
    ContraForce,
}

/// Verifies deliveries signed with one signing secret.
#[derive(Clone)]
pub struct Verifier {
    secret: String,
    tolerance: Duration,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("secret", &"<redacted>")
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

/// The default timestamp tolerance: five minutes either way.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

impl Verifier {
    pub fn new(secret: impl Into<String>) -> Self {
        Verifier {
            secret: secret.into(),
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Verifies by the headers of a delivery: Standard Webhooks when `webhook-signature` is
    /// present and the secret has the `whsec_` form, else `X-CF-Signature`. `header` looks a
    /// header up by its lowercase name.
    pub fn verify<'h>(
        &self,
        header: impl Fn(&str) -> Option<&'h str>,
        body: &[u8],
    ) -> Result<Scheme, VerifyError> {
        self.verify_at(header, body, now())
    }

    /// [`Verifier::verify`] with a `reqwest`/`http` header map.
    pub fn verify_headers(
        &self,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
    ) -> Result<Scheme, VerifyError> {
        self.verify(|name| headers.get(name).and_then(|v| v.to_str().ok()), body)
    }

    pub fn verify_at<'h>(
        &self,
        header: impl Fn(&str) -> Option<&'h str>,
        body: &[u8],
        now: i64,
    ) -> Result<Scheme, VerifyError> {
        if let (Some(sig), true) = (header("webhook-signature"), self.is_standard()) {
            let id = header("webhook-id").ok_or(VerifyError::MissingHeader("webhook-id"))?;
            let ts = header("webhook-timestamp")
                .ok_or(VerifyError::MissingHeader("webhook-timestamp"))?;
            self.verify_standard_at(id, ts, sig, body, now)?;
            return Ok(Scheme::StandardWebhooks);
        }
        let sig = header("x-cf-signature").ok_or(VerifyError::MissingHeader("X-CF-Signature"))?;
        let ts = header("x-cf-timestamp").ok_or(VerifyError::MissingHeader("X-CF-Timestamp"))?;
        self.verify_cf_at(ts, sig, body, now)?;
        Ok(Scheme::ContraForce)
    }

    fn is_standard(&self) -> bool {
        standard_key(&self.secret).is_some()
    }

    /// `X-CF-Signature` against `X-CF-Timestamp` and the raw body, at time `now`.
    pub fn verify_cf_at(
        &self,
        timestamp: &str,
        signature: &str,
        body: &[u8],
        now: i64,
    ) -> Result<(), VerifyError> {
        let ts = self.check_time(timestamp, now)?;
        let expected = cf_signature(&self.secret, ts, body);
        let given = signature.trim().to_ascii_lowercase();
        if bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
            Ok(())
        } else {
            Err(VerifyError::Mismatch)
        }
    }

    /// `webhook-signature` (one or more space-separated `v1,<base64>`) against `webhook-id`,
    /// `webhook-timestamp` and the raw body, at time `now`.
    pub fn verify_standard_at(
        &self,
        id: &str,
        timestamp: &str,
        signatures: &str,
        body: &[u8],
        now: i64,
    ) -> Result<(), VerifyError> {
        let ts = self.check_time(timestamp, now)?;
        let expected =
            standard_signature(&self.secret, id, ts, body).ok_or(VerifyError::NotStandardSecret)?;
        let expected = expected.as_bytes();
        let matched = signatures
            .split_whitespace()
            .filter(|s| s.starts_with("v1,"))
            .fold(false, |m, s| m | bool::from(expected.ct_eq(s.as_bytes())));
        if matched {
            Ok(())
        } else {
            Err(VerifyError::Mismatch)
        }
    }

    fn check_time(&self, timestamp: &str, now: i64) -> Result<i64, VerifyError> {
        let ts: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| VerifyError::BadTimestamp)?;
        let skew = ts.saturating_sub(now);
        if skew.unsigned_abs() > self.tolerance.as_secs() {
            return Err(VerifyError::OutsideTolerance(skew));
        }
        Ok(ts)
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn standard_key(secret: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_")?)
        .ok()
}

/// `sha256=` + lowercase hex of HMAC-SHA256(secret, `"{timestamp}.{body}"`).
pub fn cf_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// `v1,` + base64 of HMAC-SHA256(key of the `whsec_` secret, `"{id}.{timestamp}.{body}"`);
/// `None` when the secret is not of the `whsec_` form.
pub fn standard_signature(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = standard_key(secret)?;
    let mut mac = HmacSha256::new_from_slice(&key).expect("any key length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    Some(format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn the_published_standard_webhooks_vector() {
        assert_eq!(standard_signature(SECRET, ID, TS, BODY).unwrap(), SIG);
        let v = Verifier::new(SECRET);
        assert_eq!(
            v.verify_standard_at(ID, "1614265330", SIG, BODY, TS),
            Ok(())
        );
        // Among several signatures, one match is enough.
        let several = format!("v1,bm90IGl0 {SIG}");
        assert_eq!(
            v.verify_standard_at(ID, "1614265330", &several, BODY, TS),
            Ok(())
        );
    }

    #[test]
    fn a_changed_body_id_or_secret_is_refused() {
        let v = Verifier::new(SECRET);
        let err = Err(VerifyError::Mismatch);
        assert_eq!(
            v.verify_standard_at(ID, "1614265330", SIG, br#"{"test": 2432232315}"#, TS),
            err
        );
        assert_eq!(
            v.verify_standard_at("msg_other", "1614265330", SIG, BODY, TS),
            err
        );
        let other = Verifier::new("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD");
        assert_eq!(
            other.verify_standard_at(ID, "1614265330", SIG, BODY, TS),
            err
        );
        assert_eq!(
            Verifier::new("plain").verify_standard_at(ID, "1614265330", SIG, BODY, TS),
            Err(VerifyError::NotStandardSecret)
        );
    }

    #[test]
    fn timestamps_outside_the_tolerance_are_refused() {
        let v = Verifier::new(SECRET).with_tolerance(Duration::from_secs(60));
        assert_eq!(
            v.verify_standard_at(ID, "1614265330", SIG, BODY, TS + 60),
            Ok(())
        );
        assert_eq!(
            v.verify_standard_at(ID, "1614265330", SIG, BODY, TS + 61),
            Err(VerifyError::OutsideTolerance(-61))
        );
        assert_eq!(
            v.verify_standard_at(ID, "1614265330", SIG, BODY, TS - 61),
            Err(VerifyError::OutsideTolerance(61))
        );
        assert_eq!(
            v.verify_standard_at(ID, "soon", SIG, BODY, TS),
            Err(VerifyError::BadTimestamp)
        );
    }

    #[test]
    fn cf_signature_round_trip_and_header_choice() {
        let secret = "s3cret";
        let sig = cf_signature(secret, TS, BODY);
        assert!(sig.starts_with("sha256=") && sig.len() == 71);
        let v = Verifier::new(secret);
        let ts = TS.to_string();
        let headers = |name: &str| match name {
            "x-cf-signature" => Some(sig.as_str()),
            "x-cf-timestamp" => Some(ts.as_str()),
            "webhook-signature" => Some("v1,ignored-for-a-plain-secret"),
            _ => None,
        };
        assert_eq!(v.verify_at(headers, BODY, TS), Ok(Scheme::ContraForce));
        assert_eq!(v.verify_at(headers, b"{}", TS), Err(VerifyError::Mismatch));
        assert_eq!(
            v.verify_at(|_| None, BODY, TS),
            Err(VerifyError::MissingHeader("X-CF-Signature"))
        );
        // With a whsec_ secret and Standard headers, the Standard signature decides.
        let v = Verifier::new(SECRET);
        let ts = TS.to_string();
        let std_headers = |name: &str| match name {
            "webhook-signature" => Some(SIG),
            "webhook-id" => Some(ID),
            "webhook-timestamp" => Some(ts.as_str()),
            _ => None,
        };
        assert_eq!(
            v.verify_at(std_headers, BODY, TS),
            Ok(Scheme::StandardWebhooks)
        );
    }
}
