//! The demo's connectors: a simulated source of each of the six kinds on loopback (Entra ID
//! with a Sentinel workspace and a Defender XDR tenant, CrowdStrike Falcon, IBM QRadar, Splunk
//! Enterprise Security and SentinelOne), each producing an incident every few seconds and
//! accepting write-backs, and one polled connector of each kind in the demo's first workspace
//! reading them (docs/connectors.md).

use std::time::Duration;

use palisade_connectors::{ConnectorConfig, ConnectorKind};
use palisade_fakes::SourcesSimulation;
use palisade_server::service::datasources::ingest_connector;
use palisade_server::Application;
use palisade_store::ConnectorSetup;
use rand::RngCore;
use uuid::Uuid;

/// Starts the simulation and points the workspace's six connectors at it (the simulation's
/// ports change with every run, so the settings are written on every run).
pub async fn start(
    application: &Application,
    organization: Uuid,
    workspace: Uuid,
) -> anyhow::Result<SourcesSimulation> {
    let err = |e: palisade_domain::Error| anyhow::anyhow!("{e}");
    let mut secret = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut secret);
    let secret: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let sim = SourcesSimulation::start(&secret, 5, Duration::from_secs(8)).await;
    let state = application.state();
    let store = state.store();
    let org = store
        .system()
        .organization(organization)
        .await
        .map_err(err)?
        .ok_or_else(|| anyhow::anyhow!("the demo organization is gone"))?
        .id;
    let tenant = store.tenant(&org);
    let ws = tenant
        .workspace(workspace)
        .await
        .map_err(err)?
        .ok_or_else(|| anyhow::anyhow!("the demo workspace is gone"))?
        .id;
    let engines = tenant.connector_engines(&ws).await.map_err(err)?;
    let plain = tenant.list_connectors(&ws).await.map_err(err)?;
    for (kind, settings, credentials) in sim.connectors() {
        let kind = ConnectorKind::parse(kind)
            .ok_or_else(|| anyhow::anyhow!("the simulation names an unknown kind {kind}"))?;
        let config =
            ConnectorConfig::parse(kind, Some(&settings), Some(&credentials)).map_err(err)?;
        let setup = ConnectorSetup {
            kind: kind.as_str().into(),
            source: kind.source(),
            settings: config.settings.to_json().to_string(),
            sealed_credentials: Some(state.connectors().seal(&ws, kind, &config.credentials)),
            start_from: chrono::Utc::now() - chrono::Duration::hours(1),
            poll_interval_secs: 10,
            reset_cursor: true,
        };
        match engines.iter().find(|e| e.kind == kind.as_str()) {
            Some(e) => {
                tenant
                    .update_polled_connector(&ws, e.datasource_id, &setup)
                    .await
                    .map_err(err)?;
            }
            None => {
                // The seeded data source of the type (synthetic volume) makes way for the
                // polled connector.
                let kind_type = kind.connector_type();
                for c in plain
                    .iter()
                    .filter(|c| c.connector_type == kind_type.as_str())
                {
                    tenant.delete_connector(&ws, c.id).await.map_err(err)?;
                }
                let mut fields = ingest_connector(kind_type);
                fields.parameters = serde_json::to_string(&config.settings.parameters_helper())?;
                tenant
                    .create_polled_connector(&ws, &fields, &setup)
                    .await
                    .map_err(err)?;
            }
        }
    }
    state.connectors().wake();
    Ok(sim)
}
