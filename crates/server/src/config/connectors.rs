//! `[connectors]`: the connector engine (docs/connectors.md).

use serde::{Deserialize, Serialize};

use super::ConfigError;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConnectorsConfig {
    /// Allow connector URLs (`settings.baseUrl`, `settings.authorityUrl`) that resolve to
    /// private, loopback or link-local addresses (on-premises sources, local stand-ins).
    pub allow_private_targets: bool,
    /// Allow `http://` connector URLs.
    pub allow_http: bool,
    /// Timeout of one HTTP call to a source.
    pub timeout_secs: u64,
    /// How long a claimed poll or write-back stays leased to one replica; a crashed replica's
    /// work is taken over after it. Renewed after every page.
    pub lease_secs: u64,
    /// Pages committed per poll run before the poll is put back in the queue (due at once),
    /// so a long backfill does not hold one lease for long.
    pub max_pages_per_run: u32,
    /// How often idle workers look for due polls and write-backs.
    pub tick_ms: u64,
    /// Polls and write-backs worked at once per replica.
    pub max_concurrent_polls: usize,
    pub max_concurrent_writebacks: usize,
    /// Consecutive failed polls after which a throttled or unavailable source shows
    /// `Failing` rather than `Degraded`.
    pub failing_after: u32,
    /// Upper bound of the exponential backoff (and of a source's `Retry-After`).
    pub max_backoff_secs: u64,
    /// Attempts of one write-back before it is given up (`sync: Failed`).
    pub writeback_max_attempts: u32,
}

impl Default for ConnectorsConfig {
    fn default() -> Self {
        ConnectorsConfig {
            allow_private_targets: false,
            allow_http: false,
            timeout_secs: 30,
            lease_secs: 120,
            max_pages_per_run: 20,
            tick_ms: 250,
            max_concurrent_polls: 4,
            max_concurrent_writebacks: 8,
            failing_after: 3,
            max_backoff_secs: 900,
            writeback_max_attempts: 10,
        }
    }
}

impl ConnectorsConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| {
            Err(ConfigError::Invalid {
                key,
                message: message.to_string(),
            })
        };
        if self.timeout_secs == 0 || self.timeout_secs > 300 {
            return invalid("connectors.timeout_secs", "must be between 1 and 300");
        }
        if self.lease_secs < self.timeout_secs * 2 {
            return invalid("connectors.lease_secs", "must be at least 2 × timeout_secs");
        }
        if self.max_pages_per_run == 0 {
            return invalid("connectors.max_pages_per_run", "must be at least 1");
        }
        if self.tick_ms == 0 || self.tick_ms > 60_000 {
            return invalid("connectors.tick_ms", "must be between 1 and 60000");
        }
        if self.max_concurrent_polls == 0 || self.max_concurrent_writebacks == 0 {
            return invalid(
                "connectors.max_concurrent_polls",
                "max_concurrent_polls and max_concurrent_writebacks must be at least 1",
            );
        }
        if self.failing_after == 0 || self.writeback_max_attempts == 0 {
            return invalid(
                "connectors.failing_after",
                "failing_after and writeback_max_attempts must be at least 1",
            );
        }
        if self.max_backoff_secs == 0 {
            return invalid("connectors.max_backoff_secs", "must be at least 1");
        }
        Ok(())
    }
}
