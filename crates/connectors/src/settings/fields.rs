//! What a form for a connector asks for: the `settings` fields of each connector type (name,
//! label, whether required, what kind of value, an example) and its one `credentials` field.
//! The parser (`settings.rs`, `vendors.rs`) stays the only judge of a value; the tests below
//! keep this description and the parser in step (same keys, same required ones, examples
//! that parse).

use serde_json::Value;

use crate::kind::ConnectorKind;
use crate::settings::vendors::CrowdStrikeCloud;
use crate::settings::AzureCloud;

/// The kind of value a settings field takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    /// An absolute http(s) URL.
    Url,
    /// A whole number from `min` to `max`; `default` when left out.
    Integer {
        min: u32,
        max: u32,
        default: u32,
    },
    /// One of these values; the first is the default.
    Choice(&'static [&'static str]),
}

/// One `settings` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettingField {
    /// The key in `settings` (errors name it `settings.{name}`).
    pub name: &'static str,
    pub label: &'static str,
    pub required: bool,
    pub kind: FieldKind,
    /// A valid value, shown as an example.
    pub example: &'static str,
}

impl SettingField {
    /// The JSON value of a form's text for this field: `None` when blank (left out); a number
    /// for an integer field when the text is one (otherwise the text, which the parser then
    /// refuses with its own message).
    pub fn value_of(&self, text: &str) -> Option<Value> {
        let t = text.trim();
        if t.is_empty() {
            return None;
        }
        match self.kind {
            FieldKind::Integer { .. } => Some(
                t.parse::<u64>()
                    .map(Value::from)
                    .unwrap_or_else(|_| Value::from(t)),
            ),
            _ => Some(Value::from(t)),
        }
    }
}

const fn field(
    name: &'static str,
    label: &'static str,
    required: bool,
    kind: FieldKind,
    example: &'static str,
) -> SettingField {
    SettingField {
        name,
        label,
        required,
        kind,
        example,
    }
}

const fn int(min: u32, max: u32, default: u32) -> FieldKind {
    FieldKind::Integer { min, max, default }
}

/// `pageSize`: items per page read from the source, from 1 to `max`.
const fn page_size(max: u32, default: u32, example: &'static str) -> SettingField {
    field(
        "pageSize",
        "Page size",
        false,
        int(1, max, default),
        example,
    )
}

/// `overlapSecs`: how far before the cursor each poll reads again (0 to 3,600 s, default 30).
const fn overlap() -> SettingField {
    field(
        "overlapSecs",
        "Overlap (seconds)",
        false,
        int(0, 3600, 30),
        "30",
    )
}

const AZURE_CLOUDS: &[&str] = &[
    AzureCloud::AzurePublic.as_str(),
    AzureCloud::AzureUSGovernment.as_str(),
    AzureCloud::AzureUSGovernmentDoD.as_str(),
    AzureCloud::AzureChina.as_str(),
];

const FALCON_CLOUDS: &[&str] = &[
    CrowdStrikeCloud::Us1.as_str(),
    CrowdStrikeCloud::Us2.as_str(),
    CrowdStrikeCloud::Eu1.as_str(),
    CrowdStrikeCloud::UsGov1.as_str(),
];

const MICROSOFT_APP: [SettingField; 4] = [
    field(
        "tenantId",
        "Directory (tenant) id",
        true,
        FieldKind::Text,
        "contoso.onmicrosoft.com",
    ),
    field(
        "clientId",
        "Application (client) id",
        true,
        FieldKind::Text,
        "00000000-0000-4000-8000-000000000001",
    ),
    field(
        "cloud",
        "Cloud",
        false,
        FieldKind::Choice(AZURE_CLOUDS),
        "AzurePublic",
    ),
    field(
        "authorityUrl",
        "Entra ID authority URL (overrides the cloud's)",
        false,
        FieldKind::Url,
        "https://login.microsoftonline.com",
    ),
];

const SENTINEL: [SettingField; 6] = [
    field(
        "subscriptionId",
        "Subscription id",
        true,
        FieldKind::Text,
        "00000000-0000-4000-8000-000000000002",
    ),
    field(
        "resourceGroup",
        "Resource group",
        true,
        FieldKind::Text,
        "soc-rg",
    ),
    field(
        "workspaceName",
        "Log Analytics workspace name",
        true,
        FieldKind::Text,
        "soc-logs",
    ),
    field(
        "baseUrl",
        "Resource Manager URL (overrides the cloud's)",
        false,
        FieldKind::Url,
        "https://management.azure.com",
    ),
    page_size(1000, 200, "200"),
    overlap(),
];

const DEFENDER: [SettingField; 3] = [
    field(
        "baseUrl",
        "Microsoft Graph URL (overrides the cloud's)",
        false,
        FieldKind::Url,
        "https://graph.microsoft.com",
    ),
    page_size(50, 50, "50"),
    overlap(),
];

const CROWDSTRIKE: [SettingField; 6] = [
    field(
        "clientId",
        "API client id",
        true,
        FieldKind::Text,
        "0123456789abcdef0123456789abcdef",
    ),
    field(
        "cloud",
        "Falcon cloud",
        false,
        FieldKind::Choice(FALCON_CLOUDS),
        "us-1",
    ),
    field(
        "baseUrl",
        "API URL (overrides the cloud's)",
        false,
        FieldKind::Url,
        "https://api.crowdstrike.com",
    ),
    field(
        "memberCid",
        "Child CID (Flight Control)",
        false,
        FieldKind::Text,
        "fedcba9876543210fedcba9876543210",
    ),
    page_size(1000, 500, "500"),
    overlap(),
];

const QRADAR: [SettingField; 4] = [
    field(
        "baseUrl",
        "Console URL",
        true,
        FieldKind::Url,
        "https://qradar.example.com",
    ),
    field("apiVersion", "API version", false, FieldKind::Text, "20.0"),
    page_size(500, 50, "50"),
    overlap(),
];

const SPLUNK: [SettingField; 3] = [
    field(
        "baseUrl",
        "Management URL",
        true,
        FieldKind::Url,
        "https://es.example.com:8089",
    ),
    page_size(10_000, 1000, "1000"),
    field(
        "overlapSecs",
        "Look-back (seconds)",
        false,
        int(0, 86_400, 300),
        "300",
    ),
];

const SENTINEL_ONE: [SettingField; 3] = [
    field(
        "baseUrl",
        "Management console URL",
        true,
        FieldKind::Url,
        "https://usea1-acme.sentinelone.net",
    ),
    page_size(1000, 100, "100"),
    overlap(),
];

/// The one `credentials` field of a connector type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialField {
    /// The key in `credentials` (`clientSecret` or `apiToken`).
    pub name: &'static str,
    pub label: &'static str,
    /// What the secret is, for messages and hints.
    pub what: &'static str,
}

impl ConnectorKind {
    /// The `settings` fields of this connector type, in the order a form shows them.
    pub fn setting_fields(self) -> Vec<SettingField> {
        match self {
            ConnectorKind::MicrosoftSentinel => {
                MICROSOFT_APP.iter().chain(&SENTINEL).copied().collect()
            }
            ConnectorKind::MicrosoftDefenderXdr => {
                MICROSOFT_APP.iter().chain(&DEFENDER).copied().collect()
            }
            ConnectorKind::CrowdStrikeFalcon => CROWDSTRIKE.to_vec(),
            ConnectorKind::IbmQRadar => QRADAR.to_vec(),
            ConnectorKind::SplunkEnterpriseSecurity => SPLUNK.to_vec(),
            ConnectorKind::SentinelOne => SENTINEL_ONE.to_vec(),
        }
    }

    /// The secret this connector type needs in `credentials`.
    pub fn credential_field(self) -> CredentialField {
        let (name, label, what) = match self {
            ConnectorKind::MicrosoftSentinel | ConnectorKind::MicrosoftDefenderXdr => (
                "clientSecret",
                "Client secret",
                "the client secret's value of the app registration",
            ),
            ConnectorKind::CrowdStrikeFalcon => (
                "clientSecret",
                "Client secret",
                "the secret of the Falcon API client",
            ),
            ConnectorKind::IbmQRadar => (
                "apiToken",
                "Authorized service token",
                "the QRadar authorized service token (SEC)",
            ),
            ConnectorKind::SplunkEnterpriseSecurity => (
                "apiToken",
                "Authentication token",
                "a Splunk authentication token",
            ),
            ConnectorKind::SentinelOne => ("apiToken", "API token", "a SentinelOne API token"),
        };
        CredentialField { name, label, what }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::{json, Map};

    use super::*;
    use crate::settings::{ConnectorConfig, Settings};

    fn example_settings(kind: ConnectorKind, leave_out: Option<&str>) -> Value {
        let mut m = Map::new();
        for f in kind.setting_fields() {
            if Some(f.name) != leave_out {
                m.insert(f.name.into(), f.value_of(f.example).expect("an example"));
            }
        }
        Value::Object(m)
    }

    fn errors(e: palisade_domain::Error) -> std::collections::BTreeMap<String, Vec<String>> {
        match e {
            palisade_domain::Error::Validation(m) => m,
            other => panic!("a validation error, got {other:?}"),
        }
    }

    #[test]
    fn every_example_parses_and_every_required_field_is_required() {
        for kind in ConnectorKind::ALL {
            let c = kind.credential_field();
            let creds = json!({ c.name: "s3cret-value" });
            ConnectorConfig::parse(kind, Some(&example_settings(kind, None)), Some(&creds))
                .unwrap_or_else(|e| panic!("{kind}: {e:?}"));
            for f in kind.setting_fields() {
                let without = example_settings(kind, Some(f.name));
                let r = Settings::parse(kind, Some(&without));
                let key = format!("settings.{}", f.name);
                if f.required {
                    let e = errors(r.expect_err(&key));
                    assert!(e.contains_key(&key), "{kind}: {key} {e:?}");
                } else {
                    assert!(r.is_ok(), "{kind}: {key} is optional: {r:?}");
                }
            }
            let e = errors(
                ConnectorConfig::parse(kind, Some(&json!({})), Some(&json!({}))).unwrap_err(),
            );
            assert!(
                e.contains_key(&format!("credentials.{}", c.name)),
                "{kind}: {e:?}"
            );
        }
    }

    #[test]
    fn the_fields_are_the_keys_the_parser_knows() {
        for kind in ConnectorKind::ALL {
            let e = errors(Settings::parse(kind, Some(&json!({"zzz": 1}))).unwrap_err());
            let message = &e["settings.zzz"][0];
            let known: BTreeSet<&str> = message
                .split("Known: ")
                .nth(1)
                .expect("the known keys")
                .trim_end_matches('.')
                .split(", ")
                .collect();
            let ours: BTreeSet<&str> = kind.setting_fields().iter().map(|f| f.name).collect();
            assert_eq!(known, ours, "{kind}");
        }
    }

    #[test]
    fn integers_and_choices_are_checked_by_the_parser() {
        let kind = ConnectorKind::SplunkEnterpriseSecurity;
        let page = kind
            .setting_fields()
            .into_iter()
            .find(|f| f.name == "pageSize")
            .unwrap();
        assert_eq!(page.value_of(" 20 "), Some(json!(20)));
        assert_eq!(page.value_of("many"), Some(json!("many")));
        assert_eq!(page.value_of("  "), None);
        let mut s = example_settings(kind, None);
        s["pageSize"] = page.value_of("many").unwrap();
        let e = errors(Settings::parse(kind, Some(&s)).unwrap_err());
        assert!(e.contains_key("settings.pageSize"), "{e:?}");
        for kind in ConnectorKind::ALL {
            for f in kind.setting_fields() {
                if let FieldKind::Choice(values) = f.kind {
                    for v in values {
                        let mut s = example_settings(kind, None);
                        s[f.name] = json!(v);
                        Settings::parse(kind, Some(&s))
                            .unwrap_or_else(|e| panic!("{kind} {}={v}: {e:?}", f.name));
                    }
                }
            }
        }
    }
}
