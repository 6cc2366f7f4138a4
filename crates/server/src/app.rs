//! Building and running the application: connect, migrate, bind, serve, shut down gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::Router;
use base64::Engine;
use palisade_store::Store;
use rand::RngCore;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;

use crate::config::Config;
use crate::http::context::request_context;
use crate::{routes, AppState};

/// Connects to the configured database and applies pending migrations.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let store = Store::connect(&config.database_url.0, config.database_max_connections)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    store
        .system()
        .migrate()
        .await
        .map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
    Ok(store)
}

/// The configured `secret_key`, or the generated one every replica shares via the database.
pub async fn server_secret(config: &Config, store: &Store) -> anyhow::Result<String> {
    if !config.secret_key.expose().is_empty() {
        return Ok(config.secret_key.expose().to_string());
    }
    store
        .system()
        .server_key("secret_key", || {
            let mut bytes = [0u8; 32];
            rand::thread_rng().fill_bytes(&mut bytes);
            base64::engine::general_purpose::STANDARD.encode(bytes)
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// Builds the full router for a state.
pub fn router(state: AppState) -> Router {
    let (mut api, _) = routes::api().into_parts();
    if state.config().console.enabled {
        api = api.merge(crate::console::router(state.clone()));
    }
    api.fallback(routes::system::not_found)
        .layer(DefaultBodyLimit::max(state.config().max_body_bytes))
        .layer(CatchPanicLayer::new())
        .layer(from_fn_with_state(state.clone(), request_context))
        .with_state(state)
}

pub struct Application {
    listener: TcpListener,
    state: AppState,
    api: bool,
    workers: bool,
}

/// The router of a workers-only replica: health, readiness and metrics.
fn workers_router(state: AppState) -> Router {
    use axum::routing::get;
    Router::new()
        .route("/healthz", get(routes::system::healthz))
        .route("/readyz", get(routes::system::readyz))
        .route("/metrics", get(routes::system::metrics))
        .fallback(routes::system::not_found)
        .layer(CatchPanicLayer::new())
        .layer(from_fn_with_state(state.clone(), request_context))
        .with_state(state)
}

impl Application {
    /// Binds `config.listen` (port 0 picks a free port), then connects and migrates: a server
    /// that cannot listen leaves no new database (file) behind.
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(&config.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
        let store = open_store(&config).await?;
        let secret = server_secret(&config, &store).await?;
        let state = AppState::new(config, store, &secret);
        Ok(Application {
            listener,
            state,
            api: true,
            workers: true,
        })
    }

    /// What this replica runs: the API, the background workers (webhook delivery), or both
    /// (the default). A workers-only replica still answers `/healthz`, `/readyz`, `/metrics`.
    pub fn roles(mut self, api: bool, workers: bool) -> Self {
        self.api = api;
        self.workers = workers;
        self
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then stops accepting, finishes in-flight requests and
    /// writes pending `lastUsedAt` values.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let state = self.state.clone();
        let flusher = {
            let state = state.clone();
            let every = Duration::from_secs(state.config().auth.last_used_flush_secs);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    if let Err(e) = state.auth().flush_last_used().await {
                        tracing::warn!(error = %e, "could not record lastUsedAt");
                    }
                }
            })
        };
        let checkpoints = {
            let store = state.store().clone();
            tokio::spawn(async move { store.run_checkpoints(Duration::from_millis(50)).await })
        };
        let jobs = self.workers.then(|| state.jobs().start());
        if self.api {
            state.incidents().cache().sync(state.store().clone());
        }
        tracing::info!(address = %self.local_addr(), api = self.api, workers = self.workers, "palisade listening");
        let app = if self.api {
            router(state.clone())
        } else {
            workers_router(state.clone())
        };
        let served = axum::serve(
            self.listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        flusher.abort();
        checkpoints.abort();
        if let Some(jobs) = jobs {
            // In-flight jobs finish and are recorded: deliveries (bounded by the delivery
            // timeout), gamebook steps (bounded by the playbook HTTP timeout), connector polls
            // and write-backs (bounded by the source timeout).
            jobs.stop().await;
        }
        if let Err(e) = state.auth().flush_last_used().await {
            tracing::warn!(error = %e, "could not record lastUsedAt at shutdown");
        }
        state.store().close().await;
        tracing::info!("palisade stopped");
        served.map_err(Into::into)
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
