//! Polled connectors as data sources (DESIGN §10, docs/connectors.md): validating `settings`
//! and `credentials` (sealed, never returned), the SSRF guard on every connector URL,
//! `parametersHelper` from the settings, `status`, `sync`, `pause`, `resume`.

use chrono::{DateTime, Duration, Utc};
use palisade_connectors::{
    Connector, ConnectorConfig, ConnectorKind, ConnectorOptions, Credentials, Cursor, Settings,
};
use palisade_domain::{Error, Result, Validator};
use palisade_store::{ConnectorEngineRow, ConnectorFields, ConnectorSetup, WorkspaceId};
use palisade_types::datasources::*;
use palisade_types::incidents::IncidentSource;
use uuid::Uuid;

use super::datasources::{not_found, DataSourceService};
use crate::access::WorkspaceCtx;

pub const DEFAULT_POLL_SECS: i64 = 60;
pub const MIN_POLL_SECS: i64 = 10;
pub const MAX_POLL_SECS: i64 = 86_400;

/// Whether a request body makes (or changes) a polled connector.
pub(super) fn is_polled(req: &DataSourceRequest) -> bool {
    req.settings.is_some()
        || req.credentials.is_some()
        || req.poll_interval_secs.is_some()
        || req.start_from.is_some()
        || req.source.is_some()
}

/// Adds a validation error's failures to `v`.
fn merge(v: &mut Validator, e: Error) -> Result<()> {
    match e {
        Error::Validation(m) => {
            for (k, msgs) in m {
                for msg in msgs {
                    v.add(k.clone(), msg);
                }
            }
            Ok(())
        }
        other => Err(other),
    }
}

fn helper_json(settings: &Settings) -> String {
    serde_json::to_string(&settings.parameters_helper()).unwrap_or_else(|_| "[]".into())
}

/// `status` of a stored connector.
pub fn status_of(e: &ConnectorEngineRow) -> ConnectorStatus {
    let state = if e.paused {
        ConnectorState::Paused
    } else {
        ConnectorState::parse(&e.state).unwrap_or(ConnectorState::Healthy)
    };
    let cursor = e
        .cursor
        .as_deref()
        .and_then(Cursor::from_json)
        .unwrap_or_else(|| Cursor::start(e.start_from));
    ConnectorStatus {
        state,
        last_poll_at: e.last_poll_at,
        last_success_at: e.last_success_at,
        last_error: e.last_error.clone(),
        cursor: cursor.display(),
        pulled_total: e.pulled_total,
        write_backs_pending: e.writebacks_pending,
        write_backs_failed: e.writebacks_failed,
        next_poll_at: (!e.paused).then_some(e.next_poll_at),
    }
}

/// A data source with its polled connector's fields.
pub fn with_engine(mut ds: DataSource, e: &ConnectorEngineRow) -> DataSource {
    ds.poll_interval_secs = Some(e.poll_interval_secs);
    ds.start_from = Some(e.start_from);
    ds.status = Some(status_of(e));
    ds
}

/// The poll interval and start of a request, with defaults (`base`: the stored ones).
fn schedule(
    v: &mut Validator,
    req: &DataSourceRequest,
    base: Option<&ConnectorEngineRow>,
) -> (i64, DateTime<Utc>) {
    let interval = match req.poll_interval_secs {
        Some(n) if !(MIN_POLL_SECS..=MAX_POLL_SECS).contains(&n) => {
            v.add(
                "pollIntervalSecs",
                format!("'pollIntervalSecs' must be from {MIN_POLL_SECS} to {MAX_POLL_SECS}."),
            );
            DEFAULT_POLL_SECS
        }
        Some(n) => n,
        None => base.map_or(DEFAULT_POLL_SECS, |b| b.poll_interval_secs),
    };
    let start = match req.start_from.as_deref() {
        Some(raw) => match v.instant("startFrom", Some(raw)) {
            Some(t) if t > Utc::now() + Duration::minutes(5) => {
                v.add("startFrom", "'startFrom' must not be in the future.");
                t
            }
            Some(t) => t,
            None => Utc::now(),
        },
        None => base.map_or_else(|| Utc::now() - Duration::hours(24), |b| b.start_from),
    };
    (interval, start)
}

/// Builds the connector (scheme, IP literals) and resolves its hosts through the SSRF guard:
/// a refusal is `VALIDATION_ERROR` naming `settings.baseUrl` / `settings.authorityUrl`.
pub(crate) async fn check_targets(
    options: &ConnectorOptions,
    config: &ConnectorConfig,
) -> Result<()> {
    let connector = Connector::new(config, options).map_err(|e| {
        e.to_validation()
            .unwrap_or_else(|| Error::field("settings", e.to_string()))
    })?;
    match connector.check_targets().await {
        Ok(()) => Ok(()),
        Err(e) => match e.to_validation() {
            Some(v) => Err(v),
            // A source that cannot be reached now is not a bad setting: the connector shows
            // it in `status` once it polls.
            None => Ok(()),
        },
    }
}

impl DataSourceService {
    async fn check(&self, config: &ConnectorConfig) -> Result<()> {
        check_targets(self.connectors.options(), config).await
    }

    fn setup(
        &self,
        ws: &WorkspaceId,
        config: &ConnectorConfig,
        new_credentials: Option<&Credentials>,
        (interval, start): (i64, DateTime<Utc>),
        reset_cursor: bool,
    ) -> ConnectorSetup {
        ConnectorSetup {
            kind: config.kind.as_str().into(),
            source: config.kind.source(),
            settings: config.settings.to_json().to_string(),
            sealed_credentials: new_credentials.map(|c| self.connectors.seal(ws, config.kind, c)),
            start_from: start,
            poll_interval_secs: interval,
            reset_cursor,
        }
    }

    /// `POST …/datasources` with `settings` and `credentials`.
    pub(super) async fn create_polled(
        &self,
        ctx: &WorkspaceCtx,
        mut req: DataSourceRequest,
    ) -> Result<DataSource> {
        let mut v = Validator::new();
        let kind = match req.connector_type.as_deref() {
            None => {
                v.add(
                    "connectorType",
                    format!(
                        "'connectorType' is required. Allowed: {}.",
                        ConnectorKind::allowed()
                    ),
                );
                None
            }
            Some(raw) => {
                let k = ConnectorKind::parse(raw);
                if k.is_none() {
                    let shown: String = raw.chars().take(64).collect();
                    v.add(
                        "connectorType",
                        format!(
                            "'{shown}' is not a connector Palisade polls. Allowed: {}.",
                            ConnectorKind::allowed()
                        ),
                    );
                }
                k
            }
        };
        if let (Some(k), Some(raw)) = (kind, req.source.as_deref()) {
            if IncidentSource::parse(raw) != Some(k.source()) {
                v.add(
                    "source",
                    format!(
                        "A {} connector feeds the {} source.",
                        k.as_str(),
                        k.source().as_str()
                    ),
                );
            }
        }
        let sched = schedule(&mut v, &req, None);
        let config = match kind {
            Some(k) => {
                match ConnectorConfig::parse(k, req.settings.as_ref(), req.credentials.as_ref()) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        merge(&mut v, e)?;
                        None
                    }
                }
            }
            None => None,
        };
        // The data source keeps its incident source's type (`Sentinel`, …).
        req.connector_type = kind.map(|k| k.connector_type().as_str().to_string());
        let fields = Self::fields(&mut v, &req, None);
        v.finish()?;
        let (config, mut fields) = (config.expect("validated"), fields.expect("validated"));
        self.check(&config).await?;
        fields.parameters = helper_json(&config.settings);
        let setup = self.setup(
            &ctx.workspace,
            &config,
            Some(&config.credentials),
            sched,
            true,
        );
        let tenant = self.store.tenant(&ctx.org);
        let id = match tenant
            .create_polled_connector(&ctx.workspace, &fields, &setup)
            .await
        {
            Ok(id) => id,
            Err(Error::Conflict(_)) => return Err(Self::duplicate(&fields.connector_type)),
            Err(e) => return Err(e),
        };
        tracing::info!(connector = %id, kind = config.kind.as_str(), "polled connector created");
        self.connectors.wake();
        self.get(ctx, id).await
    }

    /// `PUT …/datasources/{id}` of a polled connector: absent `credentials` keep the sealed
    /// ones; new `settings` or `startFrom` start the cursor again.
    pub(super) async fn update_polled(
        &self,
        ctx: &WorkspaceCtx,
        id: Uuid,
        base: &palisade_store::ConnectorRow,
        engine: &ConnectorEngineRow,
        req: DataSourceRequest,
    ) -> Result<DataSource> {
        let mut v = Validator::new();
        let stored = self
            .connectors
            .config_of(engine)
            .map_err(|e| Error::internal(format!("stored connector unreadable: {}", e.kind())))?;
        let kind = stored.kind;
        if let Some(raw) = req.connector_type.as_deref() {
            if ConnectorKind::parse(raw) != Some(kind) {
                v.add(
                    "connectorType",
                    format!("A {} connector keeps its type.", kind.as_str()),
                );
            }
        }
        if let Some(raw) = req.source.as_deref() {
            if IncidentSource::parse(raw) != Some(kind.source()) {
                v.add(
                    "source",
                    format!(
                        "A {} connector feeds the {} source.",
                        kind.as_str(),
                        kind.source().as_str()
                    ),
                );
            }
        }
        let sched = schedule(&mut v, &req, Some(engine));
        let (settings, credentials) = match (&req.settings, &req.credentials) {
            (Some(s), Some(c)) => match ConnectorConfig::parse(kind, Some(s), Some(c)) {
                Ok(cfg) => (Some(cfg.settings), Some(cfg.credentials)),
                Err(e) => {
                    merge(&mut v, e)?;
                    (None, None)
                }
            },
            (Some(s), None) => match Settings::parse(kind, Some(s)) {
                Ok(s) => (Some(s), None),
                Err(e) => {
                    merge(&mut v, e)?;
                    (None, None)
                }
            },
            (None, Some(c)) => match Credentials::parse(kind, Some(c)) {
                Ok(c) => (Some(stored.settings.clone()), Some(c)),
                Err(e) => {
                    merge(&mut v, e)?;
                    (None, None)
                }
            },
            (None, None) => (Some(stored.settings.clone()), None),
        };
        let mut plain = req.clone();
        plain.connector_type = None;
        let fields = Self::fields(&mut v, &plain, Some(base));
        v.finish()?;
        let settings = settings.expect("validated");
        let mut fields: ConnectorFields = fields.expect("validated");
        let config = ConnectorConfig {
            kind,
            settings,
            credentials: credentials.clone().unwrap_or(stored.credentials.clone()),
        };
        self.check(&config).await?;
        let reset = config.settings != stored.settings || sched.1 != engine.start_from;
        fields.parameters = helper_json(&config.settings);
        let setup = self.setup(&ctx.workspace, &config, credentials.as_ref(), sched, reset);
        let tenant = self.store.tenant(&ctx.org);
        tenant
            .update_connector(&ctx.workspace, id, &fields)
            .await?
            .ok_or_else(|| not_found(id))?;
        if !tenant
            .update_polled_connector(&ctx.workspace, id, &setup)
            .await?
        {
            return Err(not_found(id));
        }
        self.connectors.forget(id);
        self.connectors.wake();
        self.get(ctx, id).await
    }

    async fn engine(&self, ws: &WorkspaceId, id: Uuid) -> Result<ConnectorEngineRow> {
        let tenant = self.store.tenant(&ws.org());
        match tenant.connector_engine(ws, id).await? {
            Some(e) => Ok(e),
            None => {
                // The data source exists but is not polled: a conflict, not a 404.
                self.row(ws, id).await?;
                Err(Error::Conflict(
                    "This data source is not a polled connector (create one with connectorType, settings and credentials).".into(),
                ))
            }
        }
    }

    /// `GET …/datasources/{id}/status`.
    pub async fn status(&self, ctx: &WorkspaceCtx, id: Uuid) -> Result<ConnectorStatus> {
        Ok(status_of(&self.engine(&ctx.workspace, id).await?))
    }

    /// `POST …/datasources/{id}/sync`: a poll is due now (202).
    pub async fn sync(&self, ctx: &WorkspaceCtx, id: Uuid) -> Result<ConnectorStatus> {
        let e = self.engine(&ctx.workspace, id).await?;
        if e.paused {
            return Err(Error::Conflict(
                "The connector is paused; resume it to poll.".into(),
            ));
        }
        self.store
            .tenant(&ctx.org)
            .request_poll(&ctx.workspace, id)
            .await?;
        self.connectors.wake();
        self.status(ctx, id).await
    }

    /// `POST …/datasources/{id}/pause` and `…/resume`.
    pub async fn set_paused(
        &self,
        ctx: &WorkspaceCtx,
        id: Uuid,
        paused: bool,
    ) -> Result<ConnectorStatus> {
        self.engine(&ctx.workspace, id).await?;
        self.store
            .tenant(&ctx.org)
            .set_connector_paused(&ctx.workspace, id, paused)
            .await?;
        if !paused {
            self.connectors.wake();
        }
        self.status(ctx, id).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use palisade_net::ssrf::{FixedResolver, Guard};
    use serde_json::json;

    use super::*;

    fn options(allow_private: bool) -> ConnectorOptions {
        // No name query leaves the process, and nothing connects.
        let table = FixedResolver::new([
            (
                "sentinel.contoso.example",
                vec!["10.20.30.40".parse().unwrap()],
            ),
            (
                "login.contoso.example",
                vec!["169.254.169.254".parse().unwrap()],
            ),
            (
                "public.contoso.example",
                vec!["20.190.128.10".parse().unwrap()],
            ),
        ]);
        let guard = Guard::with_resolver(allow_private, false, Arc::new(table));
        ConnectorOptions::new(guard.for_section("connectors"))
    }

    fn config(base: &str, authority: &str) -> ConnectorConfig {
        ConnectorConfig::parse(
            ConnectorKind::MicrosoftSentinel,
            Some(&json!({
                "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
                "clientId": "3f1c2a9e-5b7d-4e8f-9a0b-1c2d3e4f5a6b",
                "subscriptionId": "0b1f6471-1bf0-4dda-aec3-cb9272f09590",
                "resourceGroup": "rg", "workspaceName": "law-one",
                "baseUrl": base, "authorityUrl": authority,
            })),
            Some(&json!({"clientSecret": "s"})),
        )
        .unwrap()
    }

    fn field_of(e: Error) -> String {
        match e {
            Error::Validation(m) => m.keys().cloned().collect::<Vec<_>>().join(","),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn connector_urls_resolving_to_refused_addresses_name_their_setting() {
        let public = "https://public.contoso.example";
        // A private address: refused unless connectors.allow_private_targets.
        let private = config("https://sentinel.contoso.example", public);
        let e = check_targets(&options(false), &private).await.unwrap_err();
        assert_eq!(field_of(e), "settings.baseUrl");
        check_targets(&options(true), &private).await.unwrap();
        // Metadata addresses are refused even then.
        let metadata = config(public, "https://login.contoso.example");
        for allow in [false, true] {
            let e = check_targets(&options(allow), &metadata).await.unwrap_err();
            assert_eq!(field_of(e), "settings.authorityUrl");
        }
        // An IP literal or plain http is refused before any lookup.
        let e = check_targets(&options(false), &config("https://10.0.0.1", public))
            .await
            .unwrap_err();
        assert_eq!(field_of(e), "settings.baseUrl");
        let e = check_targets(
            &options(false),
            &config("http://public.contoso.example", public),
        )
        .await
        .unwrap_err();
        assert_eq!(field_of(e), "settings.baseUrl");
        // Public names pass.
        check_targets(&options(false), &config(public, public))
            .await
            .unwrap();
    }
}
