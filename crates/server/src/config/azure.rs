//! `[azure]`: the Entra ID application behind the `/azure-resources` routes (docs/azure.md).

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret};

/// The Azure integration (`/azure-resources/...`): one Microsoft Entra ID application
/// (client-credentials grant) whose permissions in Azure Resource Manager every organization's
/// Azure routes use. Configured only when `tenant_id`, `client_id` and `client_secret` are all
/// set; otherwise those routes answer 503 `INTEGRATION_NOT_CONFIGURED`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AzureConfig {
    /// Directory (tenant) id: a GUID or a verified domain such as `contoso.onmicrosoft.com`.
    pub tenant_id: Option<String>,
    /// Application (client) id of the app registration (a GUID).
    pub client_id: Option<String>,
    /// A client secret of that app registration (the secret's value, not its id).
    pub client_secret: Secret,
    /// Microsoft Entra ID authority, e.g. `https://login.microsoftonline.us` for Azure
    /// Government.
    pub authority_host: String,
    /// Azure Resource Manager endpoint, e.g. `https://management.usgovcloudapi.net`.
    pub resource_manager_endpoint: String,
    /// Timeout of one HTTP call to Entra ID or ARM.
    pub timeout_secs: u64,
    /// How often a throttled (429, or 503 with `Retry-After`) call is retried.
    pub max_retries: u32,
    /// The longest `Retry-After` waited for; a longer one is passed to the caller as 429.
    pub max_retry_after_secs: u64,
    /// At most this many pages of one list are followed through `nextLink`.
    pub max_pages: u32,
}

impl AzureConfig {
    /// `(tenant_id, client_id, client_secret)` when the integration is configured.
    pub fn credentials(&self) -> Option<(&str, &str, &Secret)> {
        match (&self.tenant_id, &self.client_id) {
            (Some(t), Some(c))
                if !t.is_empty() && !c.is_empty() && !self.client_secret.expose().is_empty() =>
            {
                Some((t, c, &self.client_secret))
            }
            _ => None,
        }
    }
}

impl Default for AzureConfig {
    fn default() -> Self {
        AzureConfig {
            tenant_id: None,
            client_id: None,
            client_secret: Secret::default(),
            authority_host: "https://login.microsoftonline.com".into(),
            resource_manager_endpoint: "https://management.azure.com".into(),
            timeout_secs: 30,
            max_retries: 2,
            max_retry_after_secs: 30,
            max_pages: 100,
        }
    }
}

/// A GUID, or (tenants only) a domain name.
fn is_guid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok() && s.len() == 36
}

fn is_domain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.contains('.')
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// An endpoint URL: `https://host[:port]`, or `http://` to a loopback address only (a local
/// stand-in), since the client secret and access tokens travel to it.
fn check_endpoint(key: &'static str, value: &str) -> Result<(), ConfigError> {
    let invalid = |message: &str| ConfigError::Invalid {
        key,
        message: message.to_string(),
    };
    let url = reqwest::Url::parse(value).map_err(|_| invalid("must be an absolute URL"))?;
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(invalid("must not carry credentials, a query or a fragment"));
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| invalid("must name a host"))?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(invalid(
            "must be an https:// URL (http:// only to a loopback address)",
        )),
    }
}

pub(super) fn validate_azure(a: &AzureConfig) -> Result<(), ConfigError> {
    let invalid = |key, message: &str| ConfigError::Invalid {
        key,
        message: message.to_string(),
    };
    let tenant = a.tenant_id.as_deref().unwrap_or("");
    let client = a.client_id.as_deref().unwrap_or("");
    let secret = a.client_secret.expose();
    if !(tenant.is_empty() || is_guid(tenant) || is_domain(tenant)) {
        return Err(invalid(
            "azure.tenant_id",
            "must be a directory (tenant) GUID or a domain such as contoso.onmicrosoft.com",
        ));
    }
    if !client.is_empty() && !is_guid(client) {
        return Err(invalid(
            "azure.client_id",
            "must be the application (client) GUID",
        ));
    }
    if secret.chars().any(char::is_control) {
        return Err(invalid(
            "azure.client_secret",
            "must not contain control characters",
        ));
    }
    let set = [!tenant.is_empty(), !client.is_empty(), !secret.is_empty()];
    if set.iter().any(|s| *s) && !set.iter().all(|s| *s) {
        let missing = if tenant.is_empty() {
            "azure.tenant_id"
        } else if client.is_empty() {
            "azure.client_id"
        } else {
            "azure.client_secret"
        };
        return Err(invalid(
            missing,
            "must be set: the Azure integration needs tenant_id, client_id and client_secret together (or none of them)",
        ));
    }
    check_endpoint("azure.authority_host", &a.authority_host)?;
    check_endpoint(
        "azure.resource_manager_endpoint",
        &a.resource_manager_endpoint,
    )?;
    if a.timeout_secs == 0 || a.timeout_secs > 300 {
        return Err(invalid("azure.timeout_secs", "must be between 1 and 300"));
    }
    if a.max_retries > 10 {
        return Err(invalid("azure.max_retries", "must be at most 10"));
    }
    if a.max_retry_after_secs == 0 || a.max_retry_after_secs > 300 {
        return Err(invalid(
            "azure.max_retry_after_secs",
            "must be between 1 and 300",
        ));
    }
    if a.max_pages == 0 || a.max_pages > 10_000 {
        return Err(invalid("azure.max_pages", "must be between 1 and 10000"));
    }
    Ok(())
}
