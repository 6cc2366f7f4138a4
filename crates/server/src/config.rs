//! Configuration (DESIGN §7): embedded defaults, then the TOML file given by `--config`
//! (default `palisade.toml` if present), then `PALISADE_*` environment variables (nested keys
//! joined by `__`), then command-line flags. Validated once at start.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

mod console;
pub use console::{ConsoleConfig, OidcConfig};

/// A string that never shows up in `Debug` or logs.
pub use palisade_net::Secret;

mod connectors;
pub use connectors::ConnectorsConfig;

mod azure;
use azure::validate_azure;
pub use azure::AzureConfig;

/// The database URL. Its password (if any) is redacted in `Debug`.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct DatabaseUrl(pub String);

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", redact_url(&self.0))
    }
}

/// `postgres://user:pw@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let Some(at) = rest.find('@') else {
        return url.to_string();
    };
    let userinfo = &rest[..at];
    match userinfo.find(':') {
        Some(colon) => format!(
            "{}://{}:***{}",
            &url[..scheme_end],
            &userinfo[..colon],
            &rest[at..]
        ),
        None => url.to_string(),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `sqlite://palisade.db` (default) or `postgres://…`.
    pub database_url: DatabaseUrl,
    /// Maximum database connections of this process.
    pub database_max_connections: u32,
    /// Address the API listens on.
    pub listen: String,
    /// Server secret (≥ 32 characters): keys credential hashing and token sealing. When
    /// empty, a random key is generated once and kept in the database, shared by every replica.
    pub secret_key: Secret,
    /// Request body limit in bytes.
    pub max_body_bytes: usize,
    /// `tracing` filter, e.g. `info` or `palisade=debug`.
    pub log: String,
    /// `text` or `json`.
    pub log_format: String,
    pub auth: AuthConfig,
    pub incidents: IncidentsConfig,
    pub webhooks: WebhooksConfig,
    pub gamebooks: GamebooksConfig,
    pub azure: AzureConfig,
    pub connectors: ConnectorsConfig,
    pub console: ConsoleConfig,
}

/// Gamebook runs (`docs/gamebooks.md`): each run is a durable job claimed with a lease.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GamebooksConfig {
    /// How long a claimed run stays leased to one replica without progress; a crashed
    /// replica's runs are resumed by another after it. Each finished step renews it, so it
    /// must exceed `http_timeout_secs`.
    pub lease_secs: u64,
    /// How often idle workers look for due runs and new events (other replicas' work).
    pub poll_interval_ms: u64,
    /// Runs worked at once per replica.
    pub max_concurrent_runs: usize,
    /// Timeout of a playbook's HTTP request.
    pub http_timeout_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IncidentsConfig {
    /// Page size of `POST /incidents/across-workspaces` (server-controlled, 1–500).
    pub page_size: usize,
    /// How long an incident read by id is served from memory (0 disables). Writes through this
    /// process invalidate at once; this bounds how stale another replica's write can look.
    /// Unset: 60 s on SQLite (one process owns the file, so every write invalidates), 1 s on
    /// PostgreSQL (replicas).
    pub cache_ttl_ms: Option<u64>,
    /// At most this many incidents are cached.
    pub cache_entries: usize,
    /// At most this many bytes are cached: incidents (an estimate of their size in memory) and
    /// the detail documents rendered from them. The bound that keeps the process small.
    pub cache_bytes: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// How long a verified credential is trusted from memory before it is read again. Bounds
    /// how long a revocation made on another replica takes to apply everywhere.
    pub cache_ttl_secs: u64,
    /// Failed attempts allowed per client id *from one peer address* within
    /// `failure_window_secs` (client ids are not secret: a limit per client id alone would let
    /// anyone lock an integration out).
    pub max_failures_per_client: u32,
    /// Failed attempts allowed per peer address (IPv6: per /64) within `failure_window_secs`.
    pub max_failures_per_address: u32,
    pub failure_window_secs: u64,
    /// How often `lastUsedAt` values are written to the database.
    pub last_used_flush_secs: u64,
    /// Default and maximum credential lifetime, in days.
    pub default_credential_days: i64,
    pub max_credential_days: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhooksConfig {
    pub allow_private_targets: bool,
    pub allow_http: bool,
    pub retry_schedule_secs: Vec<u64>,
    pub timeout_secs: u64,
    pub disable_after_consecutive_failures: u32,
    /// How long a claimed delivery stays leased to one replica; a crashed replica's
    /// deliveries are retaken after it. Must exceed `timeout_secs`.
    pub lease_secs: u64,
    /// How often idle workers look for due deliveries (other replicas' events, retries).
    pub poll_interval_ms: u64,
    /// Deliveries in flight per replica, and per webhook.
    pub max_in_flight: usize,
    pub max_in_flight_per_webhook: usize,
    /// Upper bound on a receiver's `Retry-After`.
    pub max_retry_after_secs: u64,
    /// Delivery logs (and delivered outbox events) older than this are purged.
    pub delivery_log_retention_days: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: DatabaseUrl("sqlite://palisade.db".into()),
            database_max_connections: 16,
            listen: "127.0.0.1:8080".into(),
            secret_key: Secret::default(),
            max_body_bytes: 1024 * 1024,
            log: "info".into(),
            log_format: "text".into(),
            auth: AuthConfig {
                cache_ttl_secs: 5,
                max_failures_per_client: 10,
                max_failures_per_address: 50,
                failure_window_secs: 60,
                last_used_flush_secs: 15,
                default_credential_days: 365,
                max_credential_days: 730,
            },
            incidents: IncidentsConfig {
                page_size: 50,
                cache_ttl_ms: None,
                cache_entries: 100_000,
                cache_bytes: 64 * 1024 * 1024,
            },
            webhooks: WebhooksConfig {
                allow_private_targets: false,
                allow_http: false,
                retry_schedule_secs: vec![5, 300, 1800, 7200, 18000, 36000, 36000],
                timeout_secs: 15,
                disable_after_consecutive_failures: 20,
                lease_secs: 60,
                poll_interval_ms: 250,
                max_in_flight: 256,
                max_in_flight_per_webhook: 32,
                max_retry_after_secs: 3600,
                delivery_log_retention_days: 30,
            },
            gamebooks: GamebooksConfig {
                lease_secs: 60,
                poll_interval_ms: 250,
                max_concurrent_runs: 16,
                http_timeout_secs: 15,
            },
            azure: AzureConfig::default(),
            connectors: ConnectorsConfig::default(),
            console: ConsoleConfig::default(),
        }
    }
}

/// Flags that override configuration (the last layer).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub database_url: Option<String>,
    pub listen: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("invalid configuration: {0}")]
    Parse(String),
    #[error("invalid configuration value for '{key}': {message}")]
    Invalid { key: &'static str, message: String },
}

/// The top-level configuration keys (also the `PALISADE_*` variables read).
const TOP_LEVEL_KEYS: &[&str] = &[
    "database_url",
    "database_max_connections",
    "listen",
    "secret_key",
    "max_body_bytes",
    "log",
    "log_format",
    "auth",
    "incidents",
    "webhooks",
    "gamebooks",
    "azure",
    "connectors",
    "console",
];

impl IncidentsConfig {
    /// The effective cache TTL for a database URL (see `cache_ttl_ms`).
    pub fn cache_ttl(&self, database_url: &str) -> std::time::Duration {
        let ms = self
            .cache_ttl_ms
            .unwrap_or(if database_url.starts_with("sqlite:") {
                60_000
            } else {
                // Replicas broadcast invalidations (LISTEN/NOTIFY); the TTL only bounds a
                // write whose broadcast was lost with a crashed replica.
                30_000
            });
        std::time::Duration::from_millis(ms)
    }
}

impl Config {
    /// Loads the layered configuration from the process environment.
    pub fn load(overrides: &Overrides) -> Result<Config, ConfigError> {
        // Only variables naming a configuration key are read: other `PALISADE_*` variables
        // (e.g. the test suite's `PALISADE_TEST_DATABASE`) belong to other tools.
        let env = Env::prefixed("PALISADE_")
            .filter(|key| {
                let top = key.as_str().split("__").next().unwrap_or("");
                TOP_LEVEL_KEYS.iter().any(|k| k.eq_ignore_ascii_case(top))
            })
            .split("__");
        Self::load_from(overrides, env)
    }

    fn load_from(overrides: &Overrides, env: Env) -> Result<Config, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        match &overrides.config_file {
            Some(path) => {
                if !path.exists() {
                    return Err(ConfigError::MissingFile(path.clone()));
                }
                fig = fig.merge(Toml::file(path));
            }
            None => {
                if Path::new("palisade.toml").exists() {
                    fig = fig.merge(Toml::file("palisade.toml"));
                }
            }
        }
        fig = fig.merge(env);
        if let Some(db) = &overrides.database_url {
            fig = fig.merge(Serialized::default("database_url", db));
        }
        if let Some(listen) = &overrides.listen {
            fig = fig.merge(Serialized::default("listen", listen));
        }
        // figment's messages name the key and the source but never echo the value.
        let config: Config = fig
            .extract()
            .map_err(|e| ConfigError::Parse(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| ConfigError::Invalid {
            key,
            message: message.to_string(),
        };
        let db = &self.database_url.0;
        if !(db.starts_with("sqlite:")
            || db.starts_with("postgres://")
            || db.starts_with("postgresql://"))
        {
            return Err(invalid(
                "database_url",
                "must start with sqlite:// or postgres://",
            ));
        }
        if self.listen.parse::<SocketAddr>().is_err() {
            return Err(invalid(
                "listen",
                "must be an address with a port, e.g. 127.0.0.1:8080",
            ));
        }
        let key = self.secret_key.expose();
        if !key.is_empty() && key.len() < 32 {
            return Err(invalid(
                "secret_key",
                "must be at least 32 characters (or empty to use a generated key)",
            ));
        }
        if self.database_max_connections == 0 {
            return Err(invalid("database_max_connections", "must be at least 1"));
        }
        if self.max_body_bytes < 1024 {
            return Err(invalid("max_body_bytes", "must be at least 1024"));
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            return Err(invalid("log_format", "must be 'text' or 'json'"));
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log).is_err() {
            return Err(invalid("log", "is not a valid tracing filter"));
        }
        let a = &self.auth;
        if a.default_credential_days < 1 || a.max_credential_days < a.default_credential_days {
            return Err(invalid(
                "auth.max_credential_days",
                "credential lifetimes must satisfy 1 <= default_credential_days <= max_credential_days",
            ));
        }
        if a.failure_window_secs == 0 || a.last_used_flush_secs == 0 {
            return Err(invalid(
                "auth",
                "failure_window_secs and last_used_flush_secs must be positive",
            ));
        }
        if !(1..=500).contains(&self.incidents.page_size) {
            return Err(invalid("incidents.page_size", "must be between 1 and 500"));
        }
        if self.incidents.cache_ttl_ms.is_some_and(|t| t > 600_000) {
            return Err(invalid("incidents.cache_ttl_ms", "must be at most 600000"));
        }
        if self.incidents.cache_entries == 0 {
            return Err(invalid("incidents.cache_entries", "must be at least 1"));
        }
        if self.incidents.cache_bytes < 64 * 1024 {
            return Err(invalid(
                "incidents.cache_bytes",
                "must be at least 65536 (turn the cache off with cache_ttl_ms = 0)",
            ));
        }
        let w = &self.webhooks;
        if w.retry_schedule_secs.is_empty() {
            return Err(invalid(
                "webhooks.retry_schedule_secs",
                "must list at least one delay",
            ));
        }
        if w.timeout_secs == 0 || w.timeout_secs > 300 {
            return Err(invalid(
                "webhooks.timeout_secs",
                "must be between 1 and 300",
            ));
        }
        if w.lease_secs < w.timeout_secs + 5 {
            return Err(invalid(
                "webhooks.lease_secs",
                "must be at least timeout_secs + 5",
            ));
        }
        if w.poll_interval_ms == 0 || w.poll_interval_ms > 60_000 {
            return Err(invalid(
                "webhooks.poll_interval_ms",
                "must be between 1 and 60000",
            ));
        }
        if w.max_in_flight == 0 || w.max_in_flight_per_webhook == 0 {
            return Err(invalid(
                "webhooks.max_in_flight",
                "max_in_flight and max_in_flight_per_webhook must be at least 1",
            ));
        }
        if w.delivery_log_retention_days == 0 {
            return Err(invalid(
                "webhooks.delivery_log_retention_days",
                "must be at least 1",
            ));
        }
        if w.disable_after_consecutive_failures == 0 {
            return Err(invalid(
                "webhooks.disable_after_consecutive_failures",
                "must be at least 1",
            ));
        }
        self.console.validate()?;
        let g = &self.gamebooks;
        if g.http_timeout_secs == 0 || g.http_timeout_secs > 300 {
            return Err(invalid(
                "gamebooks.http_timeout_secs",
                "must be between 1 and 300",
            ));
        }
        if g.lease_secs <= g.http_timeout_secs {
            return Err(invalid(
                "gamebooks.lease_secs",
                "must be greater than http_timeout_secs",
            ));
        }
        if g.poll_interval_ms == 0 || g.poll_interval_ms > 60_000 {
            return Err(invalid(
                "gamebooks.poll_interval_ms",
                "must be between 1 and 60000",
            ));
        }
        if g.max_concurrent_runs == 0 {
            return Err(invalid(
                "gamebooks.max_concurrent_runs",
                "must be at least 1",
            ));
        }
        validate_azure(&self.azure)?;
        self.connectors.validate()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::result_large_err)] // figment's own error type
    fn load(toml: Option<&str>, env: &[(&str, &str)], o: Overrides) -> Result<Config, ConfigError> {
        let mut out = None;
        figment::Jail::expect_with(|jail| {
            let mut o = o.clone();
            if let Some(t) = toml {
                jail.create_file("custom.toml", t)?;
                o.config_file = Some("custom.toml".into());
            }
            for (k, v) in env {
                jail.set_env(k, v);
            }
            out = Some(Config::load(&o));
            Ok(())
        });
        out.expect("jail ran")
    }

    #[test]
    fn layers_apply_in_order() {
        let c = load(None, &[], Overrides::default()).unwrap();
        assert_eq!(c, Config::default());

        let toml = "listen = \"127.0.0.1:9000\"\n[webhooks]\ntimeout_secs = 20\n";
        let c = load(Some(toml), &[], Overrides::default()).unwrap();
        assert_eq!(c.listen, "127.0.0.1:9000");
        assert_eq!(c.webhooks.timeout_secs, 20);

        let env = [
            ("PALISADE_LISTEN", "127.0.0.1:9100"),
            ("PALISADE_WEBHOOKS__TIMEOUT_SECS", "30"),
        ];
        let c = load(Some(toml), &env, Overrides::default()).unwrap();
        assert_eq!(c.listen, "127.0.0.1:9100");
        assert_eq!(c.webhooks.timeout_secs, 30);

        let flags = Overrides {
            listen: Some("127.0.0.1:9200".into()),
            database_url: Some("postgres://u:pw@h/db".into()),
            ..Default::default()
        };
        let c = load(Some(toml), &env, flags).unwrap();
        assert_eq!(c.listen, "127.0.0.1:9200");
        assert_eq!(c.database_url.0, "postgres://u:pw@h/db");
    }

    #[test]
    fn every_section_is_read_from_the_environment() {
        let sections = serde_json::to_value(Config::default()).unwrap();
        for key in sections.as_object().unwrap().keys() {
            assert!(
                TOP_LEVEL_KEYS.contains(&key.as_str()),
                "{key} is not in TOP_LEVEL_KEYS"
            );
        }
        let env = [("PALISADE_GAMEBOOKS__MAX_CONCURRENT_RUNS", "3")];
        let c = load(None, &env, Overrides::default()).unwrap();
        assert_eq!(c.gamebooks.max_concurrent_runs, 3);
    }

    #[test]
    fn bad_values_are_named() {
        let err = load(
            None,
            &[("PALISADE_LISTEN", "nowhere")],
            Overrides::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("'listen'"), "{err}");
        let err = load(Some("secret_key = \"short\"\n"), &[], Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("secret_key"), "{err}");
        assert!(!err.to_string().contains("short\""), "{err}");
        let err = load(Some("bogus = 1\n"), &[], Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");
        // A misspelled nested key in the environment is reported too…
        let err = load(
            None,
            &[("PALISADE_WEBHOOKS__TIMEOUT", "3")],
            Overrides::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("timeout"), "{err}");
        // …while variables of other tools sharing the prefix are left alone.
        assert!(load(
            None,
            &[("PALISADE_TEST_DATABASE", "x")],
            Overrides::default()
        )
        .is_ok());
        let err = load(
            None,
            &[("PALISADE_WEBHOOKS__TIMEOUT_SECS", "0")],
            Overrides::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("timeout_secs"), "{err}");
        let err = load(
            None,
            &[("PALISADE_INCIDENTS__CACHE_BYTES", "1000")],
            Overrides::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("incidents.cache_bytes"), "{err}");
        let c = load(
            Some("[incidents]\ncache_bytes = 16777216\ncache_entries = 5000\n"),
            &[],
            Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            (c.incidents.cache_bytes, c.incidents.cache_entries),
            (16 << 20, 5000)
        );
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let c = Config {
            secret_key: Secret("k".repeat(40)),
            database_url: DatabaseUrl("postgres://palisade:hunter2@db:5432/p".into()),
            ..Config::default()
        };
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("kkkk"), "{dbg}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(dbg.contains("postgres://palisade:***@db:5432/p"), "{dbg}");
    }

    #[test]
    fn azure_section_from_env_and_file() {
        let c = load(None, &[], Overrides::default()).unwrap();
        assert!(c.azure.credentials().is_none());
        assert_eq!(c.azure.authority_host, "https://login.microsoftonline.com");
        assert_eq!(
            c.azure.resource_manager_endpoint,
            "https://management.azure.com"
        );
        let env = [
            (
                "PALISADE_AZURE__TENANT_ID",
                "72f988bf-86f1-41af-91ab-2d7cd011db47",
            ),
            (
                "PALISADE_AZURE__CLIENT_ID",
                "00000000-1111-2222-3333-444444444444",
            ),
            ("PALISADE_AZURE__CLIENT_SECRET", "s3cr3t~value.Z"),
            (
                "PALISADE_AZURE__AUTHORITY_HOST",
                "https://login.microsoftonline.us",
            ),
            ("PALISADE_AZURE__MAX_RETRIES", "1"),
        ];
        let c = load(None, &env, Overrides::default()).unwrap();
        let (tenant, client, secret) = c.azure.credentials().expect("configured");
        assert_eq!(tenant, "72f988bf-86f1-41af-91ab-2d7cd011db47");
        assert_eq!(client, "00000000-1111-2222-3333-444444444444");
        assert_eq!(secret.expose(), "s3cr3t~value.Z");
        assert_eq!(c.azure.authority_host, "https://login.microsoftonline.us");
        assert_eq!(c.azure.max_retries, 1);
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("s3cr3t"), "{dbg}");

        let toml = "[azure]\ntenant_id = \"contoso.onmicrosoft.com\"\nclient_id = \"00000000-1111-2222-3333-444444444444\"\nclient_secret = \"x\"\nresource_manager_endpoint = \"http://127.0.0.1:9999\"\n";
        let c = load(Some(toml), &[], Overrides::default()).unwrap();
        assert_eq!(
            c.azure.tenant_id.as_deref(),
            Some("contoso.onmicrosoft.com")
        );
        assert_eq!(c.azure.resource_manager_endpoint, "http://127.0.0.1:9999");
        assert!(c.azure.credentials().is_some());
    }

    #[test]
    fn azure_values_are_validated_by_key() {
        let cases: &[(&str, &str)] = &[
            ("[azure]\nclient_id = \"not-a-guid\"\n", "azure.client_id"),
            ("[azure]\ntenant_id = \"bad tenant\"\n", "azure.tenant_id"),
            (
                "[azure]\nauthority_host = \"http://login.example.com\"\n",
                "azure.authority_host",
            ),
            (
                "[azure]\nresource_manager_endpoint = \"not a url\"\n",
                "azure.resource_manager_endpoint",
            ),
            ("[azure]\ntimeout_secs = 0\n", "azure.timeout_secs"),
            ("[azure]\nmax_pages = 0\n", "azure.max_pages"),
            ("[azure]\nmax_retry_after_secs = 0\n", "azure.max_retry_after_secs"),
            (
                "[azure]\ntenant_id = \"72f988bf-86f1-41af-91ab-2d7cd011db47\"\nclient_secret = \"hunter2-secret\"\n",
                "azure.client_id",
            ),
        ];
        for (toml, key) in cases {
            let err = load(Some(toml), &[], Overrides::default()).unwrap_err();
            assert!(err.to_string().contains(key), "{toml}: {err}");
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
    }
}
