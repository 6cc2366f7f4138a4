//! Simulated sources for `palisade demo`: [`MicrosoftSimulation`] (one Entra ID app
//! registration, one Sentinel workspace and one Defender XDR tenant) and [`SourcesSimulation`]
//! (those plus CrowdStrike Falcon, IBM QRadar, Splunk Enterprise Security and SentinelOne), on
//! loopback, each producing a new incident every few seconds and accepting write-backs.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::task::JoinHandle;

use crate::{
    FakeCrowdStrike, FakeEntra, FakeGraph, FakeQRadar, FakeSentinel, FakeSentinelOne, FakeSplunk,
    SentinelWorkspace,
};

/// The demo's app registration.
pub const DEMO_TENANT: &str = "00000000-0000-4000-8000-00000000d3e0";
pub const DEMO_CLIENT_ID: &str = "00000000-0000-4000-8000-00000000c11e";
/// The demo's Falcon API client and customer.
pub const DEMO_FALCON_CLIENT_ID: &str = "0000000000000000000000000000c11e";
pub const DEMO_FALCON_CID: &str = "000000000000000000000000000000c1";

/// The running simulation; stops producing incidents (and serving) when dropped.
pub struct MicrosoftSimulation {
    pub entra: FakeEntra,
    pub sentinel: FakeSentinel,
    pub graph: FakeGraph,
    client_secret: String,
    tasks: Vec<JoinHandle<()>>,
}

impl MicrosoftSimulation {
    /// Starts the three stand-ins with `initial` incidents each, then one more every `every`.
    pub async fn start(
        client_secret: &str,
        initial: usize,
        every: Duration,
    ) -> MicrosoftSimulation {
        let entra = FakeEntra::start(DEMO_TENANT, DEMO_CLIENT_ID, client_secret).await;
        let sentinel = FakeSentinel::start(&entra, SentinelWorkspace::default()).await;
        let graph = FakeGraph::start(&entra, DEMO_TENANT).await;
        for i in 0..initial as u64 {
            sentinel.add_simulated(i);
            graph.add_simulated(i);
        }
        let tasks = vec![
            sentinel.spawn_simulation(every),
            graph.spawn_simulation(every),
        ];
        MicrosoftSimulation {
            entra,
            sentinel,
            graph,
            client_secret: client_secret.to_string(),
            tasks,
        }
    }

    /// The `settings` of a `MicrosoftSentinel` connector reading the simulated workspace.
    pub fn sentinel_settings(&self) -> Value {
        let w = self.sentinel.workspace();
        json!({"tenantId": DEMO_TENANT, "clientId": DEMO_CLIENT_ID,
               "subscriptionId": w.subscription_id, "resourceGroup": w.resource_group,
               "workspaceName": w.workspace_name, "baseUrl": self.sentinel.base(),
               "authorityUrl": self.entra.authority()})
    }

    /// The `settings` of a `MicrosoftDefenderXdr` connector reading the simulated tenant.
    pub fn defender_settings(&self) -> Value {
        json!({"tenantId": DEMO_TENANT, "clientId": DEMO_CLIENT_ID,
               "baseUrl": self.graph.base(), "authorityUrl": self.entra.authority()})
    }

    /// The `credentials` of either connector.
    pub fn credentials(&self) -> Value {
        json!({"clientSecret": self.client_secret})
    }
}

impl Drop for MicrosoftSimulation {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// All six sources of DESIGN §10, simulated: the Microsoft pair and the four others.
pub struct SourcesSimulation {
    pub microsoft: MicrosoftSimulation,
    pub crowdstrike: FakeCrowdStrike,
    pub qradar: FakeQRadar,
    pub splunk: FakeSplunk,
    pub sentinelone: FakeSentinelOne,
    secret: String,
    tasks: Vec<JoinHandle<()>>,
}

impl SourcesSimulation {
    /// Starts the six with `initial` incidents each, then one more each every `every`. The
    /// same `secret` is every source's credential (client secret or API token).
    pub async fn start(secret: &str, initial: usize, every: Duration) -> SourcesSimulation {
        let microsoft = MicrosoftSimulation::start(secret, initial, every).await;
        let crowdstrike =
            FakeCrowdStrike::start(DEMO_FALCON_CLIENT_ID, secret, DEMO_FALCON_CID).await;
        let qradar = FakeQRadar::start(secret).await;
        let splunk = FakeSplunk::start(secret).await;
        let sentinelone = FakeSentinelOne::start(secret).await;
        for i in 0..initial as u64 {
            crowdstrike.add_simulated(i);
            qradar.add_simulated(i);
            splunk.add_simulated(i);
            sentinelone.add_simulated(i);
        }
        let tasks = vec![
            crowdstrike.spawn_simulation(every),
            qradar.spawn_simulation(every),
            splunk.spawn_simulation(every),
            sentinelone.spawn_simulation(every),
        ];
        SourcesSimulation {
            microsoft,
            crowdstrike,
            qradar,
            splunk,
            sentinelone,
            secret: secret.to_string(),
            tasks,
        }
    }

    /// `(connector type, settings, credentials)` of a connector reading each source, ready
    /// for `ConnectorConfig::parse` (the connector types are `ConnectorKind` names).
    pub fn connectors(&self) -> Vec<(&'static str, Value, Value)> {
        let token = json!({"apiToken": self.secret});
        vec![
            (
                "MicrosoftSentinel",
                self.microsoft.sentinel_settings(),
                self.microsoft.credentials(),
            ),
            (
                "MicrosoftDefenderXdr",
                self.microsoft.defender_settings(),
                self.microsoft.credentials(),
            ),
            (
                "CrowdStrikeFalcon",
                json!({"clientId": DEMO_FALCON_CLIENT_ID, "baseUrl": self.crowdstrike.base()}),
                json!({"clientSecret": self.secret}),
            ),
            (
                "IbmQRadar",
                json!({"baseUrl": self.qradar.base()}),
                token.clone(),
            ),
            (
                "SplunkEnterpriseSecurity",
                json!({"baseUrl": self.splunk.base()}),
                token.clone(),
            ),
            (
                "SentinelOne",
                json!({"baseUrl": self.sentinelone.base()}),
                token,
            ),
        ]
    }
}

impl Drop for SourcesSimulation {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_simulation_keeps_producing_incidents() {
        let sim = MicrosoftSimulation::start("demo-secret", 3, Duration::from_millis(50)).await;
        assert_eq!((sim.sentinel.len(), sim.graph.len()), (3, 3));
        tokio::time::sleep(Duration::from_millis(230)).await;
        assert!(sim.sentinel.len() >= 5, "{}", sim.sentinel.len());
        assert!(sim.graph.len() >= 5, "{}", sim.graph.len());
        assert_eq!(sim.sentinel_settings()["baseUrl"], sim.sentinel.base());
        assert_eq!(sim.credentials()["clientSecret"], "demo-secret");
    }

    #[tokio::test]
    async fn six_sources_keep_producing_incidents() {
        let sim = SourcesSimulation::start("demo-secret", 2, Duration::from_millis(50)).await;
        assert_eq!(sim.connectors().len(), 6);
        assert_eq!((sim.qradar.len(), sim.splunk.len()), (2, 2));
        tokio::time::sleep(Duration::from_millis(230)).await;
        assert!(sim.crowdstrike.len() >= 4, "{}", sim.crowdstrike.len());
        assert!(sim.sentinelone.len() >= 4, "{}", sim.sentinelone.len());
        let (kind, settings, credentials) = &sim.connectors()[2];
        assert_eq!(*kind, "CrowdStrikeFalcon");
        assert_eq!(settings["baseUrl"], sim.crowdstrike.base());
        assert_eq!(credentials["clientSecret"], "demo-secret");
    }
}
