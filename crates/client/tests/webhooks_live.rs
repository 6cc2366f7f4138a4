//! The verifier against live deliveries of the real server: a generated `whsec_` secret
//! (both schemes on every delivery) and a secret of the caller's own (`X-CF-Signature` only).

mod common;

use std::time::Duration;

use common::{app_delivering_to_loopback, client};
use palisade_client::types::incidents::{IncidentInput, IncidentSource};
use palisade_client::types::webhooks::WebhookRequest;
use palisade_client::verify::{Scheme, Verifier, VerifyError};
use palisade_test_utils::{Hit, Receiver};
use serde_json::json;

async fn deliveries(signing_token: Option<&str>) -> (String, Vec<Hit>) {
    let app = app_delivering_to_loopback().await;
    let org = app.org("Hooks").await;
    let c = client(&app, &org);
    let ws = app.workspace(&org, "W").await;
    let receiver = Receiver::start().await;
    let created = c
        .webhooks()
        .create(&WebhookRequest {
            name: Some("live".into()),
            url: Some(receiver.url("/hook")),
            event_types: Some(vec!["incident.created".into()]),
            signing_token: signing_token.map(str::to_string),
            ..Default::default()
        })
        .await
        .expect("create webhook");
    let incident: IncidentInput =
        serde_json::from_value(json!({"title": "Impossible travel", "severity": "High"})).unwrap();
    c.incidents()
        .ingest_one(ws, IncidentSource::DefenderXDR, "INC-LIVE", &incident)
        .await
        .expect("ingest");
    c.webhooks()
        .test(created.webhook.id)
        .await
        .expect("test event");
    let hits = receiver.wait_for(2, Duration::from_secs(20)).await;
    assert!(hits.len() >= 2, "{} deliveries", hits.len());
    (created.signing_secret, hits)
}

#[tokio::test]
async fn live_deliveries_verify_with_both_schemes() {
    let (secret, hits) = deliveries(None).await;
    assert!(secret.starts_with("whsec_"));
    let v = Verifier::new(&secret);
    for hit in &hits {
        let body = hit.body.as_bytes();
        let all = |name: &str| hit.header(name);
        assert_eq!(
            v.verify(all, body),
            Ok(Scheme::StandardWebhooks),
            "{:?}",
            hit.headers
        );
        // Each scheme alone verifies too.
        let cf_only = |name: &str| {
            if name.starts_with("webhook-") {
                None
            } else {
                hit.header(name)
            }
        };
        assert_eq!(v.verify(cf_only, body), Ok(Scheme::ContraForce));
        // A changed body, or another secret, does not.
        let changed = hit.body.replace("INC-LIVE", "INC-EVIL");
        if changed != hit.body {
            assert_eq!(
                v.verify(all, changed.as_bytes()),
                Err(VerifyError::Mismatch)
            );
        }
        let other = Verifier::new("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD");
        assert_eq!(other.verify(all, body), Err(VerifyError::Mismatch));
        assert_eq!(other.verify(cf_only, body), Err(VerifyError::Mismatch));
        // A delivery replayed an hour later is outside the tolerance.
        let ts: i64 = hit.header("webhook-timestamp").unwrap().parse().unwrap();
        assert!(matches!(
            v.verify_at(all, body, ts + 3600),
            Err(VerifyError::OutsideTolerance(_))
        ));
    }
    assert!(hits.iter().any(|h| h.header("x-cf-test") == Some("true")));
}

#[tokio::test]
async fn a_secret_of_ones_own_is_checked_by_x_cf_signature() {
    let (secret, hits) = deliveries(Some("my-own-signing-secret-0123456789")).await;
    assert_eq!(secret, "my-own-signing-secret-0123456789");
    let v = Verifier::new(&secret);
    for hit in &hits {
        assert!(hit.header("webhook-signature").is_none());
        assert_eq!(
            v.verify(|n| hit.header(n), hit.body.as_bytes()),
            Ok(Scheme::ContraForce)
        );
    }
}
