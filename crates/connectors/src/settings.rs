//! A connector's `settings` (non-secret, echoed as `parametersHelper`) and `credentials`
//! (sealed at rest, never shown), validated per connector type with errors that name the field
//! (`settings.subscriptionId`, `credentials.clientSecret`).

use std::fmt;
use std::time::Duration;

use palisade_domain::{Error, Validator};
use palisade_net::Secret;
use palisade_types::datasources::ParameterHelper;
use reqwest::Url;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::kind::ConnectorKind;

mod fields;
mod vendors;
pub use fields::{CredentialField, FieldKind, SettingField};
pub use vendors::{
    CrowdStrikeCloud, CrowdStrikeSettings, QRadarSettings, SentinelOneSettings, SplunkSettings,
};

/// A Microsoft cloud: where its Entra ID authority, Resource Manager and Graph live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AzureCloud {
    AzurePublic,
    AzureUSGovernment,
    AzureUSGovernmentDoD,
    AzureChina,
}

impl AzureCloud {
    pub const ALL: [AzureCloud; 4] = [
        AzureCloud::AzurePublic,
        AzureCloud::AzureUSGovernment,
        AzureCloud::AzureUSGovernmentDoD,
        AzureCloud::AzureChina,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            AzureCloud::AzurePublic => "AzurePublic",
            AzureCloud::AzureUSGovernment => "AzureUSGovernment",
            AzureCloud::AzureUSGovernmentDoD => "AzureUSGovernmentDoD",
            AzureCloud::AzureChina => "AzureChina",
        }
    }

    pub fn parse(s: &str) -> Option<AzureCloud> {
        AzureCloud::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s.trim()))
    }

    pub fn authority(self) -> &'static str {
        match self {
            AzureCloud::AzurePublic => "https://login.microsoftonline.com",
            AzureCloud::AzureUSGovernment | AzureCloud::AzureUSGovernmentDoD => {
                "https://login.microsoftonline.us"
            }
            AzureCloud::AzureChina => "https://login.chinacloudapi.cn",
        }
    }

    pub fn resource_manager(self) -> &'static str {
        match self {
            AzureCloud::AzurePublic => "https://management.azure.com",
            AzureCloud::AzureUSGovernment | AzureCloud::AzureUSGovernmentDoD => {
                "https://management.usgovcloudapi.net"
            }
            AzureCloud::AzureChina => "https://management.chinacloudapi.cn",
        }
    }

    /// Microsoft Graph, where its security incidents are offered (not in Azure China).
    pub fn graph(self) -> Option<&'static str> {
        match self {
            AzureCloud::AzurePublic => Some("https://graph.microsoft.com"),
            AzureCloud::AzureUSGovernment => Some("https://graph.microsoft.us"),
            AzureCloud::AzureUSGovernmentDoD => Some("https://dod-graph.microsoft.us"),
            AzureCloud::AzureChina => None,
        }
    }
}

/// The Entra ID app registration a Microsoft connector signs in as.
#[derive(Debug, Clone, PartialEq)]
pub struct MicrosoftApp {
    /// A GUID or a verified domain (`contoso.onmicrosoft.com`).
    pub tenant_id: String,
    pub client_id: Uuid,
    pub cloud: AzureCloud,
    /// Overrides the cloud's Entra ID authority.
    pub authority_url: Option<Url>,
}

/// Microsoft Sentinel: one Log Analytics workspace's incidents through Resource Manager.
#[derive(Debug, Clone, PartialEq)]
pub struct SentinelSettings {
    pub app: MicrosoftApp,
    pub subscription_id: Uuid,
    pub resource_group: String,
    pub workspace_name: String,
    /// Overrides the cloud's Resource Manager endpoint.
    pub base_url: Option<Url>,
    /// `$top` of each list page (1–1,000; default 200).
    pub page_size: u32,
    /// How far before the cursor each poll re-reads (0–3,600 s; default 30).
    pub overlap_secs: u32,
}

/// Microsoft Defender XDR: the tenant's incidents through Microsoft Graph.
#[derive(Debug, Clone, PartialEq)]
pub struct DefenderSettings {
    pub app: MicrosoftApp,
    /// Overrides the cloud's Microsoft Graph endpoint.
    pub base_url: Option<Url>,
    /// `$top` of each list page (1–50; default 50).
    pub page_size: u32,
    /// How far before the cursor each poll re-reads (0–3,600 s; default 30).
    pub overlap_secs: u32,
}

/// A connector's non-secret settings.
#[derive(Debug, Clone, PartialEq)]
pub enum Settings {
    Sentinel(SentinelSettings),
    Defender(DefenderSettings),
    CrowdStrike(CrowdStrikeSettings),
    QRadar(QRadarSettings),
    Splunk(SplunkSettings),
    SentinelOne(SentinelOneSettings),
}

/// A connector's secret credentials. `Debug` never shows them.
#[derive(Clone, PartialEq)]
pub enum Credentials {
    /// An OAuth2 client secret (the value, not its id): Entra ID, CrowdStrike Falcon.
    ClientSecret(Secret),
    /// An API token sent with every request: QRadar's authorized service token (`SEC`),
    /// a Splunk authentication token (`Bearer`), a SentinelOne API token (`ApiToken`).
    ApiToken(Secret),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::ClientSecret(s) => f.debug_tuple("ClientSecret").field(s).finish(),
            Credentials::ApiToken(s) => f.debug_tuple("ApiToken").field(s).finish(),
        }
    }
}

/// Everything a connector needs to reach its source.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorConfig {
    pub kind: ConnectorKind,
    pub settings: Settings,
    pub credentials: Credentials,
}

const DEFAULT_OVERLAP: u32 = 30;
const MICROSOFT_APP_KEYS: [&str; 4] = ["tenantId", "clientId", "cloud", "authorityUrl"];
const SENTINEL_KEYS: [&str; 6] = [
    "subscriptionId",
    "resourceGroup",
    "workspaceName",
    "baseUrl",
    "pageSize",
    "overlapSecs",
];
const DEFENDER_KEYS: [&str; 3] = ["baseUrl", "pageSize", "overlapSecs"];
/// Names that say "secret": refused in `settings` with a pointer to `credentials`.
const SECRET_WORDS: [&str; 6] = ["secret", "password", "token", "apikey", "key", "credential"];

impl ConnectorConfig {
    /// Validates the `settings` and `credentials` of a connector of `kind`; every failure is
    /// reported (`VALIDATION_ERROR` keyed by `settings.*` / `credentials.*`).
    pub fn parse(
        kind: ConnectorKind,
        settings: Option<&Value>,
        credentials: Option<&Value>,
    ) -> Result<ConnectorConfig, Error> {
        let mut v = Validator::new();
        let s = parse_settings(&mut v, kind, settings);
        let c = parse_credentials(&mut v, kind, credentials);
        v.finish()?;
        match (s, c) {
            (Some(settings), Some(credentials)) => Ok(ConnectorConfig {
                kind,
                settings,
                credentials,
            }),
            _ => Err(Error::internal("validation failed without an error")),
        }
    }
}

impl Settings {
    /// Validates `settings` alone (an update that keeps the sealed credentials).
    pub fn parse(kind: ConnectorKind, settings: Option<&Value>) -> Result<Settings, Error> {
        let mut v = Validator::new();
        let s = parse_settings(&mut v, kind, settings);
        v.finish()?;
        s.ok_or_else(|| Error::internal("validation failed without an error"))
    }

    pub fn kind(&self) -> ConnectorKind {
        match self {
            Settings::Sentinel(_) => ConnectorKind::MicrosoftSentinel,
            Settings::Defender(_) => ConnectorKind::MicrosoftDefenderXdr,
            Settings::CrowdStrike(_) => ConnectorKind::CrowdStrikeFalcon,
            Settings::QRadar(_) => ConnectorKind::IbmQRadar,
            Settings::Splunk(_) => ConnectorKind::SplunkEnterpriseSecurity,
            Settings::SentinelOne(_) => ConnectorKind::SentinelOne,
        }
    }

    pub fn overlap(&self) -> Duration {
        Duration::from_secs(match self {
            Settings::Sentinel(s) => s.overlap_secs,
            Settings::Defender(s) => s.overlap_secs,
            Settings::CrowdStrike(s) => s.overlap_secs,
            Settings::QRadar(s) => s.overlap_secs,
            Settings::Splunk(s) => s.overlap_secs,
            Settings::SentinelOne(s) => s.overlap_secs,
        } as u64)
    }

    /// The canonical JSON to store; [`Settings::parse`] reads it back unchanged.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        for p in self.parameters() {
            m.insert(p.0.into(), p.1);
        }
        Value::Object(m)
    }

    /// The settings as `parametersHelper` entries (every value as text).
    pub fn parameters_helper(&self) -> Vec<ParameterHelper> {
        self.parameters()
            .into_iter()
            .map(|(k, v)| ParameterHelper {
                property_name: Some(k.to_string()),
                property_value: Some(match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                }),
            })
            .collect()
    }

    fn parameters(&self) -> Vec<(&'static str, Value)> {
        let app = |a: &MicrosoftApp, out: &mut Vec<(&'static str, Value)>| {
            out.push(("tenantId", json!(a.tenant_id)));
            out.push(("clientId", json!(a.client_id.to_string())));
            out.push(("cloud", json!(a.cloud.as_str())));
            if let Some(u) = &a.authority_url {
                out.push(("authorityUrl", json!(url_text(u))));
            }
        };
        let mut out = Vec::new();
        match self {
            Settings::Sentinel(s) => {
                app(&s.app, &mut out);
                out.push(("subscriptionId", json!(s.subscription_id.to_string())));
                out.push(("resourceGroup", json!(s.resource_group)));
                out.push(("workspaceName", json!(s.workspace_name)));
                if let Some(u) = &s.base_url {
                    out.push(("baseUrl", json!(url_text(u))));
                }
                out.push(("pageSize", json!(s.page_size)));
                out.push(("overlapSecs", json!(s.overlap_secs)));
            }
            Settings::Defender(s) => {
                app(&s.app, &mut out);
                if let Some(u) = &s.base_url {
                    out.push(("baseUrl", json!(url_text(u))));
                }
                out.push(("pageSize", json!(s.page_size)));
                out.push(("overlapSecs", json!(s.overlap_secs)));
            }
            other => vendors::parameters(other, &mut out),
        }
        out
    }
}

impl Credentials {
    /// Validates `credentials` alone.
    pub fn parse(kind: ConnectorKind, credentials: Option<&Value>) -> Result<Credentials, Error> {
        let mut v = Validator::new();
        let c = parse_credentials(&mut v, kind, credentials);
        v.finish()?;
        c.ok_or_else(|| Error::internal("validation failed without an error"))
    }

    /// The JSON to seal at rest (it carries the secret: never log, return or store it in clear);
    /// [`Credentials::parse`] reads it back.
    pub fn to_sealable_json(&self) -> Value {
        match self {
            Credentials::ClientSecret(s) => json!({"clientSecret": s.expose()}),
            Credentials::ApiToken(s) => json!({"apiToken": s.expose()}),
        }
    }

    /// Every secret value (for scrubbing upstream text).
    pub(crate) fn secrets(&self) -> Vec<&str> {
        match self {
            Credentials::ClientSecret(s) | Credentials::ApiToken(s) => vec![s.expose()],
        }
    }
}

/// A URL as stored and shown: without the trailing slash of an empty path.
pub(crate) fn url_text(u: &Url) -> String {
    let s = u.as_str();
    if u.path() == "/" && u.query().is_none() {
        s.trim_end_matches('/').to_string()
    } else {
        s.to_string()
    }
}

pub(crate) fn object<'a>(
    v: &mut Validator,
    path: &str,
    value: Option<&'a Value>,
) -> Option<&'a Map<String, Value>> {
    match value {
        None | Some(Value::Null) => {
            v.add(path, format!("'{path}' is required."));
            None
        }
        Some(Value::Object(m)) => Some(m),
        Some(_) => {
            v.add(path, format!("'{path}' must be an object."));
            None
        }
    }
}

/// Keys not in `known` are errors; a secret-looking one is pointed at `credentials`.
pub(crate) fn unknown_keys(
    v: &mut Validator,
    path: &str,
    m: &Map<String, Value>,
    known: &[&str],
    kind: ConnectorKind,
) {
    for k in m.keys() {
        if known.contains(&k.as_str()) {
            continue;
        }
        let lower = k.to_ascii_lowercase();
        let shown: String = k.chars().take(64).collect();
        let msg = if path == "settings" && SECRET_WORDS.iter().any(|w| lower.contains(w)) {
            format!("'{shown}' looks like a secret: give it in 'credentials', which is sealed and never shown.")
        } else {
            format!(
                "'{shown}' is not a {path} field of {kind}. Known: {}.",
                known.join(", ")
            )
        };
        v.add(format!("{path}.{shown}"), msg);
    }
}

pub(crate) fn string<'a>(
    v: &mut Validator,
    m: &'a Map<String, Value>,
    path: &str,
    key: &str,
) -> Option<&'a str> {
    match m.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => {
            v.add(
                format!("{path}.{key}"),
                format!("'{path}.{key}' must be a string."),
            );
            None
        }
    }
}

fn required_guid(v: &mut Validator, m: &Map<String, Value>, path: &str, key: &str) -> Option<Uuid> {
    let p = format!("{path}.{key}");
    match string(v, m, path, key) {
        None if !m.contains_key(key) || m[key].is_null() => {
            v.add(&p, format!("'{p}' is required."));
            None
        }
        None => None,
        Some(s) => v.uuid(&p, Some(s)),
    }
}

pub(crate) fn integer(
    v: &mut Validator,
    m: &Map<String, Value>,
    path: &str,
    key: &str,
    range: (u32, u32),
    default: u32,
) -> u32 {
    let p = format!("{path}.{key}");
    match m.get(key) {
        None | Some(Value::Null) => default,
        Some(x) => match x
            .as_u64()
            .filter(|n| (range.0 as u64..=range.1 as u64).contains(n))
        {
            Some(n) => n as u32,
            None => {
                v.add(
                    &p,
                    format!("'{p}' must be an integer from {} to {}.", range.0, range.1),
                );
                default
            }
        },
    }
}

pub(crate) fn endpoint(
    v: &mut Validator,
    m: &Map<String, Value>,
    path: &str,
    key: &str,
) -> Option<Url> {
    let p = format!("{path}.{key}");
    let raw = string(v, m, path, key)?.trim();
    let fail = |v: &mut Validator, why: &str| {
        v.add(&p, format!("'{p}' {why}"));
        None
    };
    let Ok(mut url) = Url::parse(raw) else {
        return fail(v, "must be an absolute http(s) URL.");
    };
    if !matches!(url.scheme(), "https" | "http") {
        return fail(v, "must be an absolute http(s) URL.");
    }
    if url.host().is_none() || url.cannot_be_a_base() {
        return fail(v, "must name a host.");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return fail(v, "must not embed credentials.");
    }
    if url.query().is_some() || url.fragment().is_some() {
        return fail(v, "must not carry a query or a fragment.");
    }
    if let Ok(mut segs) = url.path_segments_mut() {
        segs.pop_if_empty();
    }
    Some(url)
}

fn is_domain(s: &str) -> bool {
    s.len() <= 253
        && s.contains('.')
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn microsoft_app(v: &mut Validator, m: &Map<String, Value>, path: &str) -> Option<MicrosoftApp> {
    let tp = format!("{path}.tenantId");
    let tenant = match string(v, m, path, "tenantId").map(str::trim) {
        None if m.get("tenantId").is_none_or(Value::is_null) => {
            v.add(&tp, format!("'{tp}' is required."));
            None
        }
        None => None,
        Some(t) if Uuid::parse_str(t).is_ok() => Some(t.to_ascii_lowercase()),
        Some(t) if is_domain(t) => Some(t.to_ascii_lowercase()),
        Some(_) => {
            v.add(&tp, format!("'{tp}' must be a directory (tenant) id: a GUID or a verified domain such as contoso.onmicrosoft.com."));
            None
        }
    };
    let client_id = required_guid(v, m, path, "clientId");
    let cloud = match string(v, m, path, "cloud") {
        None => Some(AzureCloud::AzurePublic),
        Some(c) => {
            let r = AzureCloud::parse(c);
            if r.is_none() {
                let p = format!("{path}.cloud");
                let allowed = AzureCloud::ALL.map(|c| c.as_str()).join(", ");
                v.add(&p, format!("'{p}' must be one of {allowed}."));
            }
            r
        }
    };
    let authority_url = endpoint(v, m, path, "authorityUrl");
    Some(MicrosoftApp {
        tenant_id: tenant?,
        client_id: client_id?,
        cloud: cloud?,
        authority_url,
    })
}

fn parse_settings(
    v: &mut Validator,
    kind: ConnectorKind,
    value: Option<&Value>,
) -> Option<Settings> {
    if !kind.is_available() {
        v.add(
            "connectorType",
            format!("Connector type {kind} is not available in this build yet."),
        );
        return None;
    }
    let m = object(v, "settings", value)?;
    let path = "settings";
    let before = v.is_empty();
    match kind {
        ConnectorKind::MicrosoftSentinel => {
            let known: Vec<&str> = MICROSOFT_APP_KEYS
                .iter()
                .chain(&SENTINEL_KEYS)
                .copied()
                .collect();
            unknown_keys(v, path, m, &known, kind);
            let app = microsoft_app(v, m, path);
            let subscription_id = required_guid(v, m, path, "subscriptionId");
            let rg = required_name(
                v,
                m,
                path,
                "resourceGroup",
                valid_resource_group,
                "must be 1 to 90 letters, digits, '_', '-', '.', '(' or ')', not ending in '.'",
            );
            let ws = required_name(v, m, path, "workspaceName", valid_workspace_name,
                "must be 4 to 63 letters, digits or '-', starting and ending with a letter or digit");
            let base_url = endpoint(v, m, path, "baseUrl");
            let page_size = integer(v, m, path, "pageSize", (1, 1000), 200);
            let overlap_secs = integer(v, m, path, "overlapSecs", (0, 3600), DEFAULT_OVERLAP);
            let s = SentinelSettings {
                app: app?,
                subscription_id: subscription_id?,
                resource_group: rg?,
                workspace_name: ws?,
                base_url,
                page_size,
                overlap_secs,
            };
            (before && v.is_empty()).then_some(Settings::Sentinel(s))
        }
        ConnectorKind::MicrosoftDefenderXdr => {
            let known: Vec<&str> = MICROSOFT_APP_KEYS
                .iter()
                .chain(&DEFENDER_KEYS)
                .copied()
                .collect();
            unknown_keys(v, path, m, &known, kind);
            let app = microsoft_app(v, m, path);
            let base_url = endpoint(v, m, path, "baseUrl");
            if let Some(a) = &app {
                if a.cloud.graph().is_none() && base_url.is_none() {
                    v.add("settings.cloud", format!("Microsoft Graph security incidents are not offered in {}; give 'settings.baseUrl' if your tenant has them elsewhere.", a.cloud.as_str()));
                }
            }
            let page_size = integer(v, m, path, "pageSize", (1, 50), 50);
            let overlap_secs = integer(v, m, path, "overlapSecs", (0, 3600), DEFAULT_OVERLAP);
            let s = DefenderSettings {
                app: app?,
                base_url,
                page_size,
                overlap_secs,
            };
            (before && v.is_empty()).then_some(Settings::Defender(s))
        }
        other => {
            let s = vendors::parse(v, other, m);
            (before && v.is_empty()).then_some(s).flatten()
        }
    }
}

pub(crate) fn required_name(
    v: &mut Validator,
    m: &Map<String, Value>,
    path: &str,
    key: &str,
    valid: fn(&str) -> bool,
    rule: &str,
) -> Option<String> {
    let p = format!("{path}.{key}");
    match string(v, m, path, key).map(str::trim) {
        None if m.get(key).is_none_or(Value::is_null) => {
            v.add(&p, format!("'{p}' is required."));
            None
        }
        None => None,
        Some(s) if valid(s) => Some(s.to_string()),
        Some(_) => {
            v.add(&p, format!("'{p}' {rule}."));
            None
        }
    }
}

/// Resource Manager's rule for resource group names.
pub(crate) fn valid_resource_group(s: &str) -> bool {
    let n = s.chars().count();
    (1..=90).contains(&n)
        && !s.ends_with('.')
        && s.chars()
            .all(|c| c.is_alphanumeric() || "_-.()".contains(c))
}

/// Log Analytics' rule for workspace names.
pub(crate) fn valid_workspace_name(s: &str) -> bool {
    let b = s.as_bytes();
    (4..=63).contains(&b.len())
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

fn parse_credentials(
    v: &mut Validator,
    kind: ConnectorKind,
    value: Option<&Value>,
) -> Option<Credentials> {
    if !kind.is_available() {
        return None;
    }
    let m = object(v, "credentials", value)?;
    let CredentialField {
        name: key, what, ..
    } = kind.credential_field();
    unknown_keys(v, "credentials", m, &[key], kind);
    let p = format!("credentials.{key}");
    // Client secrets are short; API tokens (JWTs among them) may be longer.
    let max = if key == "apiToken" { 4096 } else { 1024 };
    let secret = match m.get(key) {
        None | Some(Value::Null) => {
            v.add(&p, format!("'{p}' is required: {what}."));
            None
        }
        Some(Value::String(s)) if s.trim().is_empty() => {
            v.add(&p, format!("'{p}' is required: {what}."));
            None
        }
        Some(Value::String(s)) if s.len() > max || s.chars().any(char::is_control) => {
            // Never echo the value: it is a secret, even when malformed.
            v.add(
                &p,
                format!("'{p}' must be at most {max} characters without control characters."),
            );
            None
        }
        Some(Value::String(s)) => Some(Secret::new(s.clone())),
        Some(_) => {
            v.add(&p, format!("'{p}' must be a string."));
            None
        }
    };
    secret.map(|s| {
        if key == "apiToken" {
            Credentials::ApiToken(s)
        } else {
            Credentials::ClientSecret(s)
        }
    })
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
