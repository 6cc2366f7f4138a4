//! A simulated Microsoft tenant for `palisade demo`: one Entra ID app registration, one
//! Sentinel workspace and one Defender XDR tenant on loopback, each producing a new incident
//! every few seconds and accepting write-backs.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::task::JoinHandle;

use crate::{FakeEntra, FakeGraph, FakeSentinel, SentinelWorkspace};

/// The demo's app registration.
pub const DEMO_TENANT: &str = "00000000-0000-4000-8000-00000000d3e0";
pub const DEMO_CLIENT_ID: &str = "00000000-0000-4000-8000-00000000c11e";

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
}
