//! The demo's content seeded through the public API, in process: every body is validated
//! exactly as a client's would be, by the router the server is about to serve.

use anyhow::Context;
use axum::body::Body;
use axum::http::{header, Method, Request};
use serde_json::{json, Value};
use tower::ServiceExt;
use uuid::Uuid;

/// An authenticated caller of the application's router.
pub struct Api {
    router: axum::Router,
    authorization: String,
}

impl Api {
    pub fn new(router: axum::Router, client_id: Uuid, secret: &str) -> Self {
        use base64::Engine;
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"));
        Api {
            router,
            authorization: format!("Basic {basic}"),
        }
    }

    /// Sends one request; the `data` of a success, else an error naming the call.
    pub async fn send(&self, method: Method, path: &str, body: &Value) -> anyhow::Result<Value> {
        let request = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(header::AUTHORIZATION, &self.authorization)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(serde_json::to_vec(body)?))?;
        let response = self.router.clone().oneshot(request).await?;
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 16 << 20).await?;
        let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !status.is_success() {
            anyhow::bail!("{method} {path} answered {status}: {answer}");
        }
        Ok(answer["data"].clone())
    }

    fn id(data: &Value) -> anyhow::Result<Uuid> {
        data["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .context("an id in the answer")
    }
}

/// What [`seed`] made.
pub struct Seeded {
    pub playbooks: usize,
    pub rules: usize,
    pub tickets: usize,
}

/// The playbook catalogue, rules on `rule_workspaces`, tickets of `domain` in `tickets_in`
/// (one linked to `linked_incident`, a Sentinel incident there), and one gamebook run on it.
pub async fn seed(
    api: &Api,
    rule_workspaces: &[Uuid],
    tickets_in: Uuid,
    domain: &str,
    linked_incident: &str,
) -> anyhow::Result<Seeded> {
    let mut ids = Vec::new();
    for (name, body) in palisade_demo::gamebooks::playbooks() {
        let data = api
            .send(Method::POST, "/api/v2/gamebooks/playbooks", &body)
            .await?;
        ids.push((name, Api::id(&data)?));
    }
    let playbook = |name: &str| {
        ids.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, id)| *id)
            .expect("a playbook of the catalogue")
    };
    let mut rules = 0;
    let mut first_rule = None;
    for ws in rule_workspaces {
        for body in palisade_demo::gamebooks::rules(playbook) {
            let data = api
                .send(
                    Method::POST,
                    &format!("/api/v2/workspaces/{ws}/gamebook-rules"),
                    &body,
                )
                .await?;
            first_rule.get_or_insert((*ws, Api::id(&data)?));
            rules += 1;
        }
    }
    let tickets = palisade_demo::gamebooks::tickets(domain);
    for body in &tickets {
        api.send(
            Method::POST,
            &format!("/api/v2/workspaces/{tickets_in}/tickets"),
            body,
        )
        .await?;
    }
    let incident = json!({"id": linked_incident, "source": "Sentinel", "workspaceId": tickets_in});
    api.send(
        Method::POST,
        &format!("/api/v2/workspaces/{tickets_in}/tickets/link"),
        &json!({"ticketId": tickets[0]["ticketId"], "incident": incident}),
    )
    .await?;
    // One run by hand, so the history is not empty; the workers run it once serving starts.
    api.send(
        Method::POST,
        &format!("/api/v2/workspaces/{tickets_in}/gamebooks/runs"),
        &json!({"source": "Sentinel", "incidentId": linked_incident,
                "playbookIds": [playbook("page"), playbook("label")],
                "title": "Manual triage"}),
    )
    .await?;
    Ok(Seeded {
        playbooks: ids.len(),
        rules,
        tickets: tickets.len(),
    })
}
