//! The six simulated sources of `palisade demo`, each read by its connector.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::*;
use palisade_connectors::{Connector, ConnectorConfig, ConnectorKind, Cursor};
use palisade_fakes::SourcesSimulation;

#[tokio::test]
async fn every_simulated_source_is_pulled_by_its_connector() {
    let start = Utc::now() - chrono::Duration::seconds(5);
    let sim = SourcesSimulation::start(SECRET, 3, Duration::from_secs(3600)).await;
    let connectors = sim.connectors();
    assert_eq!(connectors.len(), 6);
    for (kind, settings, credentials) in connectors {
        let kind = ConnectorKind::parse(kind).unwrap();
        assert!(kind.is_available());
        let config = ConnectorConfig::parse(kind, Some(&settings), Some(&credentials)).unwrap();
        let c = Connector::new(&config, &options(guard(true, &[]))).unwrap();
        c.check().await.unwrap_or_else(|e| panic!("{kind}: {e}"));
        let mut cursor = Cursor::start(start);
        let pages = poll(&c, &mut cursor)
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(ids(&pages).len(), 3, "{kind}");
    }
}
