//! The Palisade HTTP server: a ContraForce v2 compatible, multi-tenant security-operations
//! API. See `docs/ARCHITECTURE.md` for the map.

pub mod access;
pub mod admin;
pub mod app;
pub mod auth;
pub mod azure;
pub mod config;
pub mod connectors;
pub mod console;
pub mod crypto;
pub mod gamebooks;
pub mod http;
pub mod openapi;
pub mod paging;
pub mod routes;
pub mod service;
pub mod telemetry;
#[cfg(test)]
mod test_support;
pub mod webhooks;

use std::sync::Arc;

use palisade_store::Store;

pub use app::Application;
pub use config::Config;

/// Shared application state (cheap to clone).
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    config: Config,
    store: Store,
    auth: Arc<auth::Authenticator>,
    org: service::OrgService,
    incidents: service::IncidentService,
    webhooks: service::WebhookService,
    datasources: service::DataSourceService,
    investigation: service::InvestigationService,
    jobs: palisade_jobs::Jobs,
    gamebooks: service::GamebookService,
    tickets: service::TicketService,
    audit: service::AuditService,
    sign_ins: auth::throttle::Throttle,
    oidc: console::oidc::OidcCache,
    oidc_sealer: crypto::SealingKey,
    azure: Option<service::AzureService>,
    connectors: connectors::Connectors,
    metrics: http::metrics::Metrics,
    openapi: Arc<Vec<u8>>,
    openapi_30: Arc<Vec<u8>>,
}

impl AppState {
    pub fn new(config: Config, store: Store, server_secret: &str) -> Self {
        let auth = Arc::new(auth::Authenticator::new(
            server_secret,
            store.clone(),
            config.auth.clone(),
        ));
        let cache = Arc::new(service::cache::IncidentCache::new(
            config.incidents.cache_ttl(&config.database_url.0),
            config.incidents.cache_entries,
            config.incidents.cache_bytes,
        ));
        let org = service::OrgService::new(
            store.clone(),
            auth.clone(),
            config.auth.clone(),
            cache.clone(),
        );
        let incidents = service::IncidentService::new(
            store.clone(),
            paging::PageSealer::new(server_secret),
            config.incidents.page_size,
            cache.clone(),
        );
        let guard = webhooks::ssrf::Guard::new(
            config.webhooks.allow_private_targets,
            config.webhooks.allow_http,
        );
        let jobs = palisade_jobs::Jobs::new(store.clone());
        let connectors = connectors::Connectors::new(
            jobs.clone(),
            config.connectors.clone(),
            server_secret,
            cache.clone(),
        );
        connectors::register(&jobs, &connectors);
        gamebooks::runner::register(&jobs, config.gamebooks.clone(), guard.clone(), cache);
        let gamebooks = service::GamebookService::new(store.clone(), jobs.clone(), server_secret);
        let tickets = service::TicketService::new(store.clone());
        let deliverer = webhooks::Deliverer::new(&config.webhooks, guard);
        let secrets = Arc::new(webhooks::SecretBox::new(server_secret));
        webhooks::delivery::register(
            &jobs,
            config.webhooks.clone(),
            secrets.clone(),
            deliverer.clone(),
        );
        let webhooks = service::WebhookService::new(
            store.clone(),
            secrets,
            deliverer,
            jobs.clone(),
            server_secret,
        );
        let azure = match azure::AzureClient::from_config(&config.azure) {
            Ok(client) => client.map(service::AzureService::new),
            Err(e) => {
                tracing::error!(error = %e, "the Azure integration could not be set up");
                None
            }
        };
        let datasources = service::DataSourceService::new(store.clone(), connectors.clone());
        let investigation = service::InvestigationService::new(
            store.clone(),
            server_secret,
            service::investigation::PAGE_SIZE,
        );
        let audit = service::AuditService::new(store.clone(), server_secret);
        let sign_ins = auth::throttle::Throttle::new(
            config.console.max_failed_sign_ins_per_user,
            config.console.max_failed_sign_ins_per_address,
            std::time::Duration::from_secs(config.console.failed_sign_in_window_secs),
        );
        let (openapi_31, openapi_30) = openapi::documents_bytes();
        AppState(Arc::new(Inner {
            config,
            datasources,
            investigation,
            incidents,
            webhooks,
            jobs,
            gamebooks,
            tickets,
            audit,
            sign_ins,
            oidc: Default::default(),
            oidc_sealer: crypto::SealingKey::derive(server_secret, "palisade console oidc flow v1"),
            azure,
            connectors,
            store,
            auth,
            org,
            metrics: Default::default(),
            openapi: Arc::new(openapi_31),
            openapi_30: Arc::new(openapi_30),
        }))
    }

    pub fn config(&self) -> &Config {
        &self.0.config
    }
    pub fn store(&self) -> &Store {
        &self.0.store
    }
    pub fn auth(&self) -> &auth::Authenticator {
        &self.0.auth
    }
    pub fn org(&self) -> &service::OrgService {
        &self.0.org
    }
    pub fn incidents(&self) -> &service::IncidentService {
        &self.0.incidents
    }
    pub fn webhooks(&self) -> &service::WebhookService {
        &self.0.webhooks
    }
    pub fn datasources(&self) -> &service::DataSourceService {
        &self.0.datasources
    }
    pub fn investigation(&self) -> &service::InvestigationService {
        &self.0.investigation
    }
    /// The background-job runtime (webhook deliveries, gamebook runs, connector polls and
    /// write-backs; docs/jobs.md).
    pub fn jobs(&self) -> &palisade_jobs::Jobs {
        &self.0.jobs
    }
    pub fn gamebooks(&self) -> &service::GamebookService {
        &self.0.gamebooks
    }
    pub fn tickets(&self) -> &service::TicketService {
        &self.0.tickets
    }
    pub fn audit(&self) -> &service::AuditService {
        &self.0.audit
    }
    /// Failed console sign-ins, per (email, address) and per address.
    pub fn sign_ins(&self) -> &auth::throttle::Throttle {
        &self.0.sign_ins
    }
    /// The OpenID Connect provider's discovery document and keys, as read.
    pub fn oidc(&self) -> &console::oidc::OidcCache {
        &self.0.oidc
    }
    /// Seals the OpenID Connect flow cookie.
    pub fn oidc_sealer(&self) -> &crypto::SealingKey {
        &self.0.oidc_sealer
    }
    /// The Azure integration, or 503 `INTEGRATION_NOT_CONFIGURED` without Azure credentials.
    pub fn azure(&self) -> palisade_domain::Result<&service::AzureService> {
        self.0.azure.as_ref().ok_or_else(|| {
            palisade_domain::Error::IntegrationNotConfigured(
                "The Azure integration is not configured: set azure.tenant_id, azure.client_id and azure.client_secret (PALISADE_AZURE__TENANT_ID, PALISADE_AZURE__CLIENT_ID, PALISADE_AZURE__CLIENT_SECRET).".into(),
            )
        })
    }
    /// The connector engine (polls and write-backs).
    pub fn connectors(&self) -> &connectors::Connectors {
        &self.0.connectors
    }
    pub fn metrics(&self) -> &http::metrics::Metrics {
        &self.0.metrics
    }
    pub fn openapi(&self) -> &Arc<Vec<u8>> {
        &self.0.openapi
    }
    /// The document's OpenAPI 3.0.3 rendition.
    pub fn openapi_30(&self) -> &Arc<Vec<u8>> {
        &self.0.openapi_30
    }
}
