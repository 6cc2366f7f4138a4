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

#[tokio::test]
async fn the_four_go_through_the_guard() {
    let sim = SourcesSimulation::start(SECRET, 1, Duration::from_secs(3600)).await;
    let cursor = Cursor::start(Utc::now() - chrono::Duration::hours(1));
    // `zero.test` resolves to 0.0.0.0, which the guard always refuses.
    let names = [("zero.test", "0.0.0.0")];
    for (kind, mut settings, credentials) in sim.connectors().into_iter().skip(2) {
        let kind = ConnectorKind::parse(kind).unwrap();
        let port = settings["baseUrl"]
            .as_str()
            .unwrap()
            .rsplit(':')
            .next()
            .unwrap()
            .to_string();
        // A private address is refused when private targets are not allowed, at build time.
        let config = ConnectorConfig::parse(kind, Some(&settings), Some(&credentials)).unwrap();
        match Connector::new(&config, &options(guard(false, &names))) {
            Err(palisade_connectors::SourceError::Settings { field, .. }) => {
                assert_eq!(field, "settings.baseUrl", "{kind}")
            }
            other => panic!("{kind}: {other:?}"),
        }
        // A name that resolves to a forbidden address: refused when checked and on connect.
        settings["baseUrl"] = serde_json::json!(format!("http://zero.test:{port}"));
        let config = ConnectorConfig::parse(kind, Some(&settings), Some(&credentials)).unwrap();
        let c = Connector::new(&config, &options(guard(true, &names))).unwrap();
        let e = c.check_targets().await.unwrap_err();
        assert!(e.to_validation().is_some(), "{kind}: {e:?}");
        match c.pull(&cursor, None).await {
            Err(palisade_connectors::SourceError::Settings { field, .. }) => {
                assert_eq!(field, "settings.baseUrl", "{kind}")
            }
            other => panic!("{kind}: {:?}", other.map(|p| p.items.len())),
        }
    }
}
