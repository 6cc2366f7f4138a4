//! `[console]`: the analyst console served at `/console` (docs/console.md).

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Serve the console at `/console` (and redirect `/` to it); when false `/` goes to `/docs`.
    pub enabled: bool,
    /// A session unused this long ends (seconds).
    pub session_idle_secs: u64,
    /// A session ends this long after sign-in, used or not (seconds).
    pub session_absolute_secs: u64,
    /// Failed sign-ins allowed per (email, address) in a window before that address is
    /// refused for that email (the right password from elsewhere still works).
    pub max_failed_sign_ins_per_user: u32,
    /// Failed sign-ins allowed per address in a window, whatever the email.
    pub max_failed_sign_ins_per_address: u32,
    pub failed_sign_in_window_secs: u64,
    /// Mark cookies `Secure` even on plain HTTP (they always are unless the server listens on
    /// loopback over plain HTTP, which browsers treat as a secure context).
    pub force_secure_cookies: bool,
    /// How often an open incident queue asks for new incidents (seconds).
    pub queue_refresh_secs: u64,
    /// OpenID Connect sign-in (`[console.oidc]`); off while `issuer` is empty.
    pub oidc: OidcConfig,
}

/// `[console.oidc]`: sign-in through an OpenID Connect provider (authorization code + PKCE).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct OidcConfig {
    /// The issuer (its `/.well-known/openid-configuration` is read); empty: OIDC is off.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// The redirect URI registered with the provider; default: this server's
    /// `/console/oidc/callback` as the browser addresses it.
    pub redirect_url: Option<String>,
    /// The provider's button label on the sign-in page.
    pub display_name: Option<String>,
    /// Accept an `http://` issuer (a provider on loopback in tests); https otherwise.
    pub allow_http: bool,
}

impl OidcConfig {
    pub fn enabled(&self) -> bool {
        !self.issuer.is_empty()
    }
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            enabled: true,
            session_idle_secs: 30 * 60,
            session_absolute_secs: 12 * 3600,
            max_failed_sign_ins_per_user: 5,
            max_failed_sign_ins_per_address: 50,
            failed_sign_in_window_secs: 15 * 60,
            force_secure_cookies: false,
            queue_refresh_secs: 10,
            oidc: OidcConfig::default(),
        }
    }
}

impl ConsoleConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| ConfigError::Invalid {
            key,
            message: message.to_string(),
        };
        if self.session_idle_secs < 60 || self.session_idle_secs > self.session_absolute_secs {
            return Err(invalid(
                "console.session_idle_secs",
                "must be at least 60 and at most session_absolute_secs",
            ));
        }
        if self.session_absolute_secs > 30 * 86_400 {
            return Err(invalid(
                "console.session_absolute_secs",
                "must be at most 30 days (2592000)",
            ));
        }
        if self.max_failed_sign_ins_per_user == 0
            || self.max_failed_sign_ins_per_address == 0
            || self.failed_sign_in_window_secs == 0
        {
            return Err(invalid(
                "console",
                "max_failed_sign_ins_per_user, max_failed_sign_ins_per_address and failed_sign_in_window_secs must be positive",
            ));
        }
        if !(1..=3600).contains(&self.queue_refresh_secs) {
            return Err(invalid(
                "console.queue_refresh_secs",
                "must be from 1 to 3600",
            ));
        }
        let o = &self.oidc;
        if o.enabled() {
            let scheme_ok = o.issuer.starts_with("https://")
                || (o.allow_http && o.issuer.starts_with("http://"));
            if !scheme_ok || url::Url::parse(&o.issuer).is_err() {
                return Err(invalid(
                    "console.oidc.issuer",
                    "must be an https:// URL (http:// only with allow_http)",
                ));
            }
            if o.client_id.is_empty() {
                return Err(invalid(
                    "console.oidc.client_id",
                    "is required with an issuer",
                ));
            }
        }
        Ok(())
    }
}
