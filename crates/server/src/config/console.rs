//! `[console]`: the analyst console served at `/console` (docs/console.md).

use serde::{Deserialize, Serialize};

use super::ConfigError;

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
        Ok(())
    }
}
