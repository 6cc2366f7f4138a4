//! What the two Microsoft sources share: an Entra ID app registration signing in with the
//! client-credentials grant, for a resource (Resource Manager or Graph) of a cloud, with
//! `settings.baseUrl` / `settings.authorityUrl` overriding the cloud's endpoints.

use palisade_net::entra::{self, Throttling, TokenSource};
use reqwest::Url;

use crate::error::SourceError;
use crate::http::{self, Api, ApiSpec, ConnectorOptions};
use crate::settings::{Credentials, MicrosoftApp};

/// The API of `resource` (the cloud's default, or `base_url`) for `app`. The scope is
/// `{resource}/.default`, so a `baseUrl` also decides the token's audience (as the `[azure]`
/// client does with its `resource_manager_endpoint`).
pub(crate) fn api(
    service: &'static str,
    app: &MicrosoftApp,
    cloud_resource: &str,
    base_url: Option<&Url>,
    credentials: &Credentials,
    opts: &ConnectorOptions,
) -> Result<Api, SourceError> {
    let bad = |field: &str, detail: String| SourceError::Settings {
        field: field.to_string(),
        detail,
    };
    let base = match base_url {
        Some(u) => u.clone(),
        None => Url::parse(cloud_resource).map_err(|e| bad("settings.cloud", e.to_string()))?,
    };
    let authority = match &app.authority_url {
        Some(u) => u.clone(),
        None => {
            Url::parse(app.cloud.authority()).map_err(|e| bad("settings.cloud", e.to_string()))?
        }
    };
    // Form and IP literals now; names are checked on every connection by the resolver.
    for (url, field) in [
        (&base, "settings.baseUrl"),
        (&authority, "settings.authorityUrl"),
    ] {
        opts.guard
            .check_target(url.as_str())
            .map_err(|e| bad(field, format!("is refused by the SSRF guard: {e}.")))?;
    }
    let token_url = entra::token_url(&authority, &app.tenant_id)
        .map_err(|e| bad("settings.authorityUrl", e))?;
    let (Credentials::ClientSecret(secret) | Credentials::ApiToken(secret)) = credentials;
    let client = http::client(opts)?;
    let tokens = TokenSource::new(
        client.clone(),
        token_url,
        app.client_id.to_string(),
        secret.clone(),
        entra::default_scope(&base),
        // Throttled token requests go back to the job, which waits for Retry-After.
        Throttling::NONE,
    );
    Ok(Api::new(
        ApiSpec {
            service,
            base,
            base_field: "settings.baseUrl",
            authority_field: "settings.authorityUrl",
            tokens,
            secrets: credentials
                .secrets()
                .into_iter()
                .map(str::to_string)
                .collect(),
        },
        client,
        opts,
    ))
}
