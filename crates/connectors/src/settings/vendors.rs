//! Settings of the four non-Microsoft sources: CrowdStrike Falcon, IBM QRadar, Splunk
//! Enterprise Security and SentinelOne (`docs/connectors.md` has the table).

use palisade_domain::Validator;
use reqwest::Url;
use serde_json::{json, Map, Value};

use super::{endpoint, integer, string, unknown_keys, url_text, Settings};
use crate::kind::ConnectorKind;

/// A Falcon cloud: where its API lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrowdStrikeCloud {
    Us1,
    Us2,
    Eu1,
    UsGov1,
}

impl CrowdStrikeCloud {
    pub const ALL: [CrowdStrikeCloud; 4] = [
        CrowdStrikeCloud::Us1,
        CrowdStrikeCloud::Us2,
        CrowdStrikeCloud::Eu1,
        CrowdStrikeCloud::UsGov1,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            CrowdStrikeCloud::Us1 => "us-1",
            CrowdStrikeCloud::Us2 => "us-2",
            CrowdStrikeCloud::Eu1 => "eu-1",
            CrowdStrikeCloud::UsGov1 => "us-gov-1",
        }
    }

    pub fn parse(s: &str) -> Option<CrowdStrikeCloud> {
        CrowdStrikeCloud::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s.trim()))
    }

    pub fn api(self) -> &'static str {
        match self {
            CrowdStrikeCloud::Us1 => "https://api.crowdstrike.com",
            CrowdStrikeCloud::Us2 => "https://api.us-2.crowdstrike.com",
            CrowdStrikeCloud::Eu1 => "https://api.eu-1.crowdstrike.com",
            CrowdStrikeCloud::UsGov1 => "https://api.laggar.gcw.crowdstrike.com",
        }
    }
}

/// CrowdStrike Falcon: the Alerts API of one customer (CID), through an API client.
#[derive(Debug, Clone, PartialEq)]
pub struct CrowdStrikeSettings {
    /// The API client's id (the secret is in `credentials.clientSecret`).
    pub client_id: String,
    pub cloud: CrowdStrikeCloud,
    /// Overrides the cloud's API endpoint.
    pub base_url: Option<Url>,
    /// A child CID of a Flight Control parent (`member_cid` of the token request).
    pub member_cid: Option<String>,
    /// Alerts per page (1–1,000; default 500).
    pub page_size: u32,
    /// How far before the cursor each poll re-reads (0–3,600 s; default 30).
    pub overlap_secs: u32,
}

/// IBM QRadar: the SIEM offenses of one console.
#[derive(Debug, Clone, PartialEq)]
pub struct QRadarSettings {
    /// The console, e.g. `https://qradar.example.com`.
    pub base_url: Url,
    /// The `Version` header (e.g. `20.0`).
    pub api_version: String,
    /// Offenses per `Range` (1–500; default 50).
    pub page_size: u32,
    /// How far before the cursor each poll re-reads (0–3,600 s; default 30).
    pub overlap_secs: u32,
}

/// Splunk Enterprise Security: the notable events of one search head.
#[derive(Debug, Clone, PartialEq)]
pub struct SplunkSettings {
    /// The management port, e.g. `https://es.example.com:8089`.
    pub base_url: Url,
    /// Notables per pull (1–10,000; default 1,000).
    pub page_size: u32,
    /// The look-back for index lag (0–86,400 s; default 300).
    pub overlap_secs: u32,
}

/// SentinelOne: the threats of one management console.
#[derive(Debug, Clone, PartialEq)]
pub struct SentinelOneSettings {
    /// The console, e.g. `https://usea1-acme.sentinelone.net`.
    pub base_url: Url,
    /// Threats per page (1–1,000; default 100).
    pub page_size: u32,
    /// How far before the cursor each poll re-reads (0–3,600 s; default 30).
    pub overlap_secs: u32,
}

const CROWDSTRIKE_KEYS: [&str; 6] = [
    "clientId",
    "cloud",
    "baseUrl",
    "memberCid",
    "pageSize",
    "overlapSecs",
];
const QRADAR_KEYS: [&str; 4] = ["baseUrl", "apiVersion", "pageSize", "overlapSecs"];
const PLAIN_KEYS: [&str; 3] = ["baseUrl", "pageSize", "overlapSecs"];

fn required_url(
    v: &mut Validator,
    m: &Map<String, Value>,
    key: &str,
    example: &str,
) -> Option<Url> {
    let p = format!("settings.{key}");
    if m.get(key).is_none_or(Value::is_null) {
        v.add(
            &p,
            format!("'{p}' is required: the API endpoint, e.g. {example}."),
        );
        return None;
    }
    endpoint(v, m, "settings", key)
}

fn hex_id(
    v: &mut Validator,
    m: &Map<String, Value>,
    key: &str,
    required: bool,
    what: &str,
) -> Option<String> {
    let p = format!("settings.{key}");
    match string(v, m, "settings", key).map(str::trim) {
        None if required && m.get(key).is_none_or(Value::is_null) => {
            v.add(&p, format!("'{p}' is required: {what}."));
            None
        }
        None => None,
        Some(s) if s.len() == 32 && s.chars().all(|c| c.is_ascii_hexdigit()) => {
            Some(s.to_ascii_lowercase())
        }
        Some(_) => {
            v.add(&p, format!("'{p}' must be {what}: 32 hexadecimal digits."));
            None
        }
    }
}

/// Parses the settings of one of the four (the Microsoft pair is parsed by the caller).
pub(super) fn parse(
    v: &mut Validator,
    kind: ConnectorKind,
    m: &Map<String, Value>,
) -> Option<Settings> {
    let path = "settings";
    match kind {
        ConnectorKind::CrowdStrikeFalcon => {
            unknown_keys(v, path, m, &CROWDSTRIKE_KEYS, kind);
            let client_id = hex_id(v, m, "clientId", true, "the Falcon API client's id");
            let member_cid = hex_id(v, m, "memberCid", false, "a child CID");
            let cloud = match string(v, m, path, "cloud") {
                None => Some(CrowdStrikeCloud::Us1),
                Some(c) => {
                    let r = CrowdStrikeCloud::parse(c);
                    if r.is_none() {
                        let allowed = CrowdStrikeCloud::ALL.map(|c| c.as_str()).join(", ");
                        v.add(
                            "settings.cloud",
                            format!("'settings.cloud' must be one of {allowed}."),
                        );
                    }
                    r
                }
            };
            let base_url = endpoint(v, m, path, "baseUrl");
            let page_size = integer(v, m, path, "pageSize", (1, 1000), 500);
            let overlap_secs = integer(v, m, path, "overlapSecs", (0, 3600), 30);
            Some(Settings::CrowdStrike(CrowdStrikeSettings {
                client_id: client_id?,
                cloud: cloud?,
                base_url,
                member_cid,
                page_size,
                overlap_secs,
            }))
        }
        ConnectorKind::IbmQRadar => {
            unknown_keys(v, path, m, &QRADAR_KEYS, kind);
            let base_url = required_url(v, m, "baseUrl", "https://qradar.example.com");
            let api_version = match string(v, m, path, "apiVersion").map(str::trim) {
                None => Some("20.0".to_string()),
                Some(s) if valid_version(s) => Some(s.to_string()),
                Some(_) => {
                    v.add(
                        "settings.apiVersion",
                        "'settings.apiVersion' must be a QRadar API version such as 20.0.",
                    );
                    None
                }
            };
            let page_size = integer(v, m, path, "pageSize", (1, 500), 50);
            let overlap_secs = integer(v, m, path, "overlapSecs", (0, 3600), 30);
            Some(Settings::QRadar(QRadarSettings {
                base_url: base_url?,
                api_version: api_version?,
                page_size,
                overlap_secs,
            }))
        }
        ConnectorKind::SplunkEnterpriseSecurity => {
            unknown_keys(v, path, m, &PLAIN_KEYS, kind);
            let base_url = required_url(v, m, "baseUrl", "https://es.example.com:8089");
            let page_size = integer(v, m, path, "pageSize", (1, 10_000), 1000);
            let overlap_secs = integer(v, m, path, "overlapSecs", (0, 86_400), 300);
            Some(Settings::Splunk(SplunkSettings {
                base_url: base_url?,
                page_size,
                overlap_secs,
            }))
        }
        ConnectorKind::SentinelOne => {
            unknown_keys(v, path, m, &PLAIN_KEYS, kind);
            let base_url = required_url(v, m, "baseUrl", "https://usea1-acme.sentinelone.net");
            let page_size = integer(v, m, path, "pageSize", (1, 1000), 100);
            let overlap_secs = integer(v, m, path, "overlapSecs", (0, 3600), 30);
            Some(Settings::SentinelOne(SentinelOneSettings {
                base_url: base_url?,
                page_size,
                overlap_secs,
            }))
        }
        ConnectorKind::MicrosoftSentinel | ConnectorKind::MicrosoftDefenderXdr => None,
    }
}

/// `20.0`, `19.1`: digits, a dot, digits.
fn valid_version(s: &str) -> bool {
    let mut parts = s.split('.');
    let ok = |p: Option<&str>| {
        p.is_some_and(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
    };
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

/// The parameters of the four, in a fixed order.
pub(super) fn parameters(s: &Settings, out: &mut Vec<(&'static str, Value)>) {
    match s {
        Settings::CrowdStrike(s) => {
            out.push(("clientId", json!(s.client_id)));
            out.push(("cloud", json!(s.cloud.as_str())));
            if let Some(u) = &s.base_url {
                out.push(("baseUrl", json!(url_text(u))));
            }
            if let Some(c) = &s.member_cid {
                out.push(("memberCid", json!(c)));
            }
            out.push(("pageSize", json!(s.page_size)));
            out.push(("overlapSecs", json!(s.overlap_secs)));
        }
        Settings::QRadar(s) => {
            out.push(("baseUrl", json!(url_text(&s.base_url))));
            out.push(("apiVersion", json!(s.api_version)));
            out.push(("pageSize", json!(s.page_size)));
            out.push(("overlapSecs", json!(s.overlap_secs)));
        }
        Settings::Splunk(s) => {
            out.push(("baseUrl", json!(url_text(&s.base_url))));
            out.push(("pageSize", json!(s.page_size)));
            out.push(("overlapSecs", json!(s.overlap_secs)));
        }
        Settings::SentinelOne(s) => {
            out.push(("baseUrl", json!(url_text(&s.base_url))));
            out.push(("pageSize", json!(s.page_size)));
            out.push(("overlapSecs", json!(s.overlap_secs)));
        }
        Settings::Sentinel(_) | Settings::Defender(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use serde_json::json;

    fn errors(e: palisade_domain::Error) -> std::collections::BTreeMap<String, Vec<String>> {
        match e {
            palisade_domain::Error::Validation(m) => m,
            other => panic!("a validation error, got {other:?}"),
        }
    }

    #[test]
    fn the_four_round_trip_and_name_every_bad_field() {
        let cases = [
            (
                ConnectorKind::CrowdStrikeFalcon,
                json!({"clientId": "0123456789abcdef0123456789ABCDEF", "cloud": "EU-1"}),
                json!({"clientSecret": "cs-secret-value"}),
            ),
            (
                ConnectorKind::IbmQRadar,
                json!({"baseUrl": "https://qradar.example.com/", "apiVersion": "19.0"}),
                json!({"apiToken": "4a1b-sec"}),
            ),
            (
                ConnectorKind::SplunkEnterpriseSecurity,
                json!({"baseUrl": "https://es.example.com:8089", "overlapSecs": 600}),
                json!({"apiToken": "eyJraWQiOi"}),
            ),
            (
                ConnectorKind::SentinelOne,
                json!({"baseUrl": "https://usea1-acme.sentinelone.net", "pageSize": 1000}),
                json!({"apiToken": "s1-token"}),
            ),
        ];
        for (kind, settings, credentials) in cases {
            assert!(kind.is_available());
            let c = ConnectorConfig::parse(kind, Some(&settings), Some(&credentials)).unwrap();
            assert_eq!(c.settings.kind(), kind);
            let stored = c.settings.to_json();
            assert_eq!(Settings::parse(kind, Some(&stored)).unwrap(), c.settings);
            assert_eq!(c.credentials.to_sealable_json(), credentials);
            let secret = credentials.as_object().unwrap().values().next().unwrap();
            let secret = secret.as_str().unwrap();
            assert!(!format!("{c:?}").contains(secret), "{kind}");
            assert!(c.settings.parameters_helper().iter().all(|p| !p
                .property_value
                .as_deref()
                .unwrap_or("")
                .contains(secret)));
        }
        let e = errors(
            ConnectorConfig::parse(
                ConnectorKind::CrowdStrikeFalcon,
                Some(&json!({"clientId": "nope", "cloud": "mars", "pageSize": 0, "apiKey": "x"})),
                Some(&json!({"clientSecret": 5})),
            )
            .unwrap_err(),
        );
        for k in [
            "settings.clientId",
            "settings.cloud",
            "settings.pageSize",
            "settings.apiKey",
            "credentials.clientSecret",
        ] {
            assert!(e.contains_key(k), "{k}: {e:?}");
        }
        assert!(e["settings.apiKey"][0].contains("credentials"));
        let e = errors(
            ConnectorConfig::parse(
                ConnectorKind::IbmQRadar,
                Some(&json!({"apiVersion": "latest", "pageSize": 501})),
                Some(&json!({"clientSecret": "x"})),
            )
            .unwrap_err(),
        );
        for k in [
            "settings.baseUrl",
            "settings.apiVersion",
            "settings.pageSize",
            "credentials.clientSecret",
            "credentials.apiToken",
        ] {
            assert!(e.contains_key(k), "{k}: {e:?}");
        }
        let e = errors(
            Settings::parse(
                ConnectorKind::SplunkEnterpriseSecurity,
                Some(&json!({"baseUrl": "ftp://es", "overlapSecs": 90_000})),
            )
            .unwrap_err(),
        );
        assert!(e.contains_key("settings.baseUrl") && e.contains_key("settings.overlapSecs"));
        let e = errors(
            Settings::parse(
                ConnectorKind::SentinelOne,
                Some(&json!({"baseUrl": "https://u:p@s1.example"})),
            )
            .unwrap_err(),
        );
        assert!(e["settings.baseUrl"][0].contains("credentials"));
    }
}
