//! Ticket sync: a small integration written with `palisade-client`.
//!
//! - Webhook in: Palisade delivers `incident.created` to `POST /palisade/events`; the
//!   signature is verified (Standard Webhooks or `X-CF-Signature`), a ticket is opened in the
//!   service desk (an in-memory stand-in here), and a comment naming the ticket is written back
//!   on the incident.
//! - Close back: when the service desk resolves the ticket (`POST /desk/tickets/{number}/resolve`
//!   with `{"resolution": "..."}`, as a PSA's own webhook would), the incident is closed with a
//!   classification and the resolution as its closing comment.
//!
//! Run against a server (e.g. `palisade demo`), then create a webhook pointing at it:
//!
//! ```sh
//! PALISADE_URL=http://127.0.0.1:8080 PALISADE_CLIENT_ID=… PALISADE_CLIENT_SECRET=… \
//! PALISADE_WEBHOOK_SECRET=whsec_… cargo run -p palisade-client --example ticket_sync
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use palisade_client::types::incidents::{CommentRequest, StatusUpdateRequest};
use palisade_client::verify::Verifier;
use palisade_client::Client;
use serde::Deserialize;

/// A ticket of the (stand-in) service desk and the incident it tracks.
#[derive(Debug, Clone)]
pub struct Ticket {
    pub number: u64,
    pub workspace_id: String,
    pub source: String,
    pub incident_id: String,
    pub title: String,
    pub resolved: bool,
}

pub struct TicketSync {
    client: Client,
    verifier: Verifier,
    tickets: Mutex<HashMap<u64, Ticket>>,
}

impl TicketSync {
    pub fn new(client: Client, signing_secret: &str) -> Arc<TicketSync> {
        Arc::new(TicketSync {
            client,
            verifier: Verifier::new(signing_secret),
            tickets: Mutex::new(HashMap::new()),
        })
    }

    pub fn tickets(&self) -> Vec<Ticket> {
        let mut all: Vec<_> = self.tickets.lock().unwrap().values().cloned().collect();
        all.sort_by_key(|t| t.number);
        all
    }

    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/palisade/events", post(event))
            .route("/desk/tickets/{number}/resolve", post(resolve))
            .with_state(self.clone())
    }

    /// Opens a ticket for a new incident (once per incident: deliveries are at-least-once).
    fn open(
        &self,
        workspace_id: &str,
        source: &str,
        incident_id: &str,
        title: &str,
    ) -> Option<Ticket> {
        let mut tickets = self.tickets.lock().unwrap();
        if tickets.values().any(|t| {
            t.workspace_id == workspace_id
                && t.incident_id == incident_id
                && t.source.eq_ignore_ascii_case(source)
        }) {
            return None;
        }
        let ticket = Ticket {
            number: 1000 + tickets.len() as u64 + 1,
            workspace_id: workspace_id.into(),
            source: source.into(),
            incident_id: incident_id.into(),
            title: title.into(),
            resolved: false,
        };
        tickets.insert(ticket.number, ticket.clone());
        Some(ticket)
    }
}

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    data: serde_json::Value,
}

async fn event(State(s): State<Arc<TicketSync>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if s.verifier.verify_headers(&headers, &body).is_err() {
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(event) = serde_json::from_slice::<Event>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    if !event.kind.starts_with("incident.created") {
        return StatusCode::NO_CONTENT;
    }
    let d = &event.data;
    let (Some(ws), Some(source), Some(id)) = (
        d["workspaceId"].as_str(),
        d["source"].as_str(),
        d["incidentId"].as_str(),
    ) else {
        // Test events carry no workspace.
        return StatusCode::NO_CONTENT;
    };
    let Some(ticket) = s.open(ws, source, id, d["title"].as_str().unwrap_or("")) else {
        return StatusCode::NO_CONTENT;
    };
    let comment = CommentRequest {
        content: Some(format!(
            "Service desk ticket #{} opened for this incident.",
            ticket.number
        )),
        ..Default::default()
    };
    // The webhook payload spells the source in lowercase; the API takes it in any case.
    match s
        .client
        .incidents()
        .add_comment(ws, source, id, &comment)
        .await
    {
        Ok(_) => StatusCode::NO_CONTENT,
        // Answering with a failure makes Palisade deliver again later.
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

#[derive(Deserialize)]
struct Resolution {
    resolution: String,
    /// Defaults to `TruePositive` / `ConfirmedActivity`.
    classification: Option<String>,
    reason: Option<String>,
}

async fn resolve(
    State(s): State<Arc<TicketSync>>,
    Path(number): Path<u64>,
    Json(r): Json<Resolution>,
) -> Result<StatusCode, (StatusCode, String)> {
    let ticket = s
        .tickets
        .lock()
        .unwrap()
        .get(&number)
        .cloned()
        .ok_or((StatusCode::NOT_FOUND, format!("no ticket #{number}")))?;
    let close = StatusUpdateRequest {
        status: Some("Closed".into()),
        classification: Some(r.classification.unwrap_or_else(|| "TruePositive".into())),
        classification_reason: Some(r.reason.unwrap_or_else(|| "ConfirmedActivity".into())),
        comment: Some(format!("Resolved in ticket #{number}: {}", r.resolution)),
        ..Default::default()
    };
    s.client
        .incidents()
        .set_status(
            &ticket.workspace_id,
            &ticket.source,
            &ticket.incident_id,
            &close,
        )
        .await
        .map_err(|e| {
            let p = e
                .problem()
                .map(|p| format!("{} ({})", p.detail, p.request_id));
            (StatusCode::BAD_GATEWAY, p.unwrap_or_else(|| e.to_string()))
        })?;
    if let Some(t) = s.tickets.lock().unwrap().get_mut(&number) {
        t.resolved = true;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[allow(dead_code)]
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = |k: &str| std::env::var(k).map_err(|_| format!("set {k}"));
    let client = Client::new(
        &env("PALISADE_URL")?,
        &env("PALISADE_CLIENT_ID")?,
        &env("PALISADE_CLIENT_SECRET")?,
    )?;
    let sync = TicketSync::new(client, &env("PALISADE_WEBHOOK_SECRET")?);
    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:8787".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("ticket sync on http://{listen}/palisade/events");
    axum::serve(listener, sync.router()).await?;
    Ok(())
}
