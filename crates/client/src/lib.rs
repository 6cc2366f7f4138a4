//! `palisade-client`: an async, typed client for the Palisade (ContraForce v2) API.
//!
//! ```no_run
//! # async fn demo() -> palisade_client::Result<()> {
//! use futures_util::TryStreamExt;
//! use palisade_client::{Client, types::incidents::AcrossWorkspacesRequest};
//!
//! let client = Client::builder("http://127.0.0.1:8080")
//!     .credentials("0c2f…client-id", "cf_sa_…secret")
//!     .build()?;
//! let mut all = client.incidents().across(AcrossWorkspacesRequest::default()).stream();
//! while let Some(incident) = all.try_next().await? {
//!     println!("{} {}", incident.id, incident.title);
//! }
//! # Ok(()) }
//! ```
//!
//! - Every route of the server has a method on a resource handle ([`Client::incidents`],
//!   [`Client::webhooks`], …), with the request and response types of `palisade-types`.
//!   [`OPERATIONS`] lists them as `(method, path template)`; a test compares that table with
//!   the server's OpenAPI document.
//! - Authentication is HTTP Basic from a client id and secret.
//! - 429 and 503 answers are retried, for idempotent operations only, after the server's
//!   `Retry-After` (plus jitter) or an exponential backoff with full jitter ([`RetryPolicy`]).
//! - Failures are [`Error::Api`] with the server's ProblemDetails and its stable `code`.
//! - Every paging style is a `futures::Stream` ([`paging`]).
//! - [`webhooks`] verifies `X-CF-Signature` and Standard Webhooks signatures.

mod error;
mod ops;
pub mod paging;
pub mod query;
mod transport;
pub mod verify;

pub use error::{ApiError, Error, Result};
pub use ops::{
    Audit, Azure, Datasources, Gamebooks, Incidents, Investigation, ServiceAccounts, System,
    Tenancy, Tickets, Users, Webhooks,
};
pub use ops::{Kind, Operation, OPERATIONS};
pub use palisade_types as types;
pub use transport::{PathArg, RetryPolicy};
/// Webhook signature verification (an alias of [`verify`]).
pub use verify as webhooks;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use reqwest::header::{HeaderValue, AUTHORIZATION};

/// The API client. Cheap to clone (the connection pool and settings are shared).
#[derive(Clone)]
pub struct Client {
    inner: Arc<transport::Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base.as_str())
            .field("client_id", &self.inner.client_id)
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

/// Settings of a [`Client`]: base URL, credentials, timeouts and retries.
pub struct ClientBuilder {
    base_url: String,
    credentials: Option<(String, String)>,
    timeout: Duration,
    connect_timeout: Duration,
    retry: RetryPolicy,
    user_agent: String,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("client_id", &self.credentials.as_ref().map(|c| &c.0))
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// The client id and secret of a service-account credential (HTTP Basic).
    pub fn credentials(mut self, client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.credentials = Some((client_id.into(), secret.into()));
        self
    }

    /// The whole-request timeout (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The connect timeout (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn user_agent(mut self, agent: impl Into<String>) -> Self {
        self.user_agent = agent.into();
        self
    }

    pub fn build(self) -> Result<Client> {
        let mut base = url::Url::parse(self.base_url.trim_end_matches('/'))
            .map_err(|e| Error::Invalid(format!("base URL '{}': {e}", self.base_url)))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(Error::Invalid(format!(
                "base URL '{}': the scheme must be http or https",
                self.base_url
            )));
        }
        base.set_query(None);
        base.set_fragment(None);
        let (client_id, auth) = match self.credentials {
            Some((id, secret)) => {
                let raw = format!("{id}:{secret}");
                let value = format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                );
                let mut value = HeaderValue::from_str(&value).map_err(|_| {
                    Error::Invalid("the credentials are not valid header text".into())
                })?;
                value.set_sensitive(true);
                (Some(id), Some(value))
            }
            None => (None, None),
        };
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .user_agent(self.user_agent)
            // The API never redirects an API call; a redirect would carry the credentials on.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Invalid(format!("HTTP client: {e}")))?;
        Ok(Client {
            inner: Arc::new(transport::Inner {
                http,
                base,
                client_id,
                auth,
                retry: self.retry,
            }),
        })
    }
}

impl Client {
    /// Starts the settings of a client of the server at `base_url` (e.g.
    /// `http://127.0.0.1:8080`; the API's paths start with `/api/v2`).
    pub fn builder(base_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.into(),
            credentials: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            user_agent: concat!("palisade-client/", env!("CARGO_PKG_VERSION")).into(),
        }
    }

    /// A client with credentials and the default settings.
    pub fn new(base_url: &str, client_id: &str, secret: &str) -> Result<Client> {
        Client::builder(base_url)
            .credentials(client_id, secret)
            .build()
    }

    /// The base URL requests are sent to.
    pub fn base_url(&self) -> &url::Url {
        &self.inner.base
    }

    /// The client id of the credentials, if any.
    pub fn client_id(&self) -> Option<&str> {
        self.inner.client_id.as_deref()
    }

    pub(crate) fn auth_header(&self) -> Option<(reqwest::header::HeaderName, HeaderValue)> {
        self.inner.auth.clone().map(|v| (AUTHORIZATION, v))
    }

    pub fn system(&self) -> System {
        System::new(self.clone())
    }
    pub fn service_accounts(&self) -> ServiceAccounts {
        ServiceAccounts::new(self.clone())
    }
    pub fn users(&self) -> Users {
        Users::new(self.clone())
    }
    /// Accounts and workspaces.
    pub fn tenancy(&self) -> Tenancy {
        Tenancy::new(self.clone())
    }
    pub fn incidents(&self) -> Incidents {
        Incidents::new(self.clone())
    }
    /// Data sources, their volume and (DESIGN §10) the connectors that poll them.
    pub fn datasources(&self) -> Datasources {
        Datasources::new(self.clone())
    }
    pub fn investigation(&self) -> Investigation {
        Investigation::new(self.clone())
    }
    pub fn webhooks(&self) -> Webhooks {
        Webhooks::new(self.clone())
    }
    pub fn gamebooks(&self) -> Gamebooks {
        Gamebooks::new(self.clone())
    }
    pub fn tickets(&self) -> Tickets {
        Tickets::new(self.clone())
    }
    pub fn azure(&self) -> Azure {
        Azure::new(self.clone())
    }
    /// The audit log of changes.
    pub fn audit(&self) -> Audit {
        Audit::new(self.clone())
    }
}
