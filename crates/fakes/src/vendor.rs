//! What the fakes of the four non-Microsoft sources share: a flat view of a simulated scenario
//! (one host, user, addresses and file), query strings, and their time formats.

use std::collections::HashMap;

use axum::http::Uri;
use chrono::{DateTime, Utc};
use rand::Rng;

use crate::simulate::{self, Thing};

/// A scenario of [`simulate`], flattened to what an EDR/SIEM detection carries.
#[derive(Debug, Clone)]
pub(crate) struct Simple {
    pub title: &'static str,
    pub description: &'static str,
    /// Palisade's level: `Informational`, `Low`, `Medium`, `High`.
    pub severity: &'static str,
    pub tactic: &'static str,
    pub host: String,
    pub device_id: String,
    pub user: String,
    pub user_name: String,
    pub local_ip: String,
    pub external_ip: String,
    pub sha256: String,
    pub sha1: String,
    pub file_path: String,
    pub file_name: String,
}

/// A realistic detection for `seed` (deterministic).
pub(crate) fn simple(seed: u64) -> Simple {
    let mut rng = simulate::rng(seed);
    let sc = simulate::scenario(&mut rng);
    let hex = |rng: &mut rand::rngs::StdRng, n: usize| -> String {
        (0..n).map(|_| format!("{:02x}", rng.gen::<u8>())).collect()
    };
    let mut s = Simple {
        title: sc.title,
        description: sc.description,
        severity: sc.severity,
        tactic: sc.tactic,
        host: "fin-wks-0423".into(),
        device_id: hex(&mut rng, 16),
        user: "adele.vance@contoso.com".into(),
        user_name: "Adele Vance".into(),
        local_ip: format!("10.0.{}.{}", rng.gen_range(0..8), rng.gen_range(2..250)),
        external_ip: format!("203.0.113.{}", rng.gen_range(1..255)),
        sha256: hex(&mut rng, 32),
        sha1: hex(&mut rng, 20),
        file_path: "C:\\Users\\Public\\Downloads\\update.exe".into(),
        file_name: "update.exe".into(),
    };
    for t in &sc.things {
        match t {
            Thing::Device { host, .. } => s.host = host.clone(),
            Thing::User(u) => {
                s.user = u.upn.clone();
                s.user_name = u.name.clone();
            }
            Thing::Address(a) => s.external_ip = a.clone(),
            Thing::File { name, dir, sha256 } => {
                s.file_path = format!("{dir}\\{name}");
                s.file_name = name.clone();
                s.sha256 = sha256.clone();
            }
            _ => {}
        }
    }
    s
}

/// The decoded query parameters (the last value of a repeated one).
pub(crate) fn query(uri: &Uri) -> HashMap<String, String> {
    uri.query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default()
}

/// Decoded form fields, in order (repeated names kept).
pub(crate) fn form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// Six fractional digits and `Z` (SentinelOne's instants).
pub fn fmt_micros(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Parses an RFC 3339 instant.
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    #[test]
    fn scenarios_flatten() {
        let a = super::simple(3);
        assert_eq!(a.title, super::simple(3).title);
        assert_eq!(a.sha256.len(), 64);
    }
}
