//! The ticket-sync example (examples/ticket_sync.rs) against the real server: a delivered
//! `incident.created` opens a ticket and comments back; resolving the ticket closes the
//! incident.

#[allow(dead_code)]
#[path = "../examples/ticket_sync.rs"]
mod ticket_sync;

mod common;

use std::time::Duration;

use common::{app_delivering_to_loopback, client};
use palisade_client::query::DetailQuery;
use palisade_client::types::incidents::{IncidentInput, IncidentSource, IncidentStatus};
use palisade_client::types::webhooks::WebhookRequest;
use serde_json::json;

#[tokio::test]
async fn a_delivered_incident_gets_a_ticket_and_is_closed_back() {
    let app = app_delivering_to_loopback().await;
    let org = app.org("Desk").await;
    let c = client(&app, &org);
    let ws = app.workspace(&org, "W").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hook = c
        .webhooks()
        .create(&WebhookRequest {
            name: Some("desk".into()),
            url: Some(format!("http://{addr}/palisade/events")),
            event_types: Some(vec!["incident.created".into()]),
            ..Default::default()
        })
        .await
        .unwrap();
    let sync = ticket_sync::TicketSync::new(c.clone(), &hook.signing_secret);
    let router = sync.router();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let incident: IncidentInput =
        serde_json::from_value(json!({"title": "Ransomware note found", "severity": "High"}))
            .unwrap();
    c.incidents()
        .ingest_one(ws, IncidentSource::SentinelOne, "S1-42", &incident)
        .await
        .unwrap();
    let mut ticket = None;
    for _ in 0..200 {
        if let Some(t) = sync.tickets().into_iter().next() {
            let comments = c
                .incidents()
                .comments(ws, "SentinelOne", "S1-42")
                .await
                .unwrap();
            if comments
                .iter()
                .any(|m| m.message.contains(&format!("#{}", t.number)))
            {
                ticket = Some(t);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ticket = ticket.expect("a ticket and its comment");
    assert_eq!(ticket.incident_id, "S1-42");
    assert_eq!(sync.tickets().len(), 1);

    // The desk resolves the ticket; the incident is closed back.
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/desk/tickets/{}/resolve", ticket.number))
        .json(&json!({"resolution": "Host reimaged", "classification": "TruePositive", "reason": "Malware"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    let d = c
        .incidents()
        .get(ws, "SentinelOne", "S1-42", &DetailQuery::default())
        .await
        .unwrap();
    assert_eq!(d.incident.status, IncidentStatus::Closed);
    assert_eq!(
        d.incident.classification.map(|c| c.as_str()),
        Some("TruePositive")
    );
    let comments = c
        .incidents()
        .comments(ws, "SentinelOne", "S1-42")
        .await
        .unwrap();
    assert!(
        comments.iter().any(|m| m.message.contains("Host reimaged")),
        "{comments:?}"
    );
    // A forged delivery is refused.
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/palisade/events"))
        .body(r#"{"type":"incident.created.v1","data":{}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}
