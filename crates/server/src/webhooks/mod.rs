//! Webhook delivery: sealed delivery credentials, one delivery attempt ([`Deliverer`]) and
//! the background work ([`delivery`]: a job kind on the runtime of `crates/jobs`, and the
//! dispatcher that fans outbox events out to webhooks), over the event catalogue of [`palisade_domain::events`]. See
//! `docs/webhooks.md`.

pub mod delivery;
pub mod signing;
pub use palisade_net::ssrf;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use palisade_store::OrgId;
use palisade_store::{Delivery, PendingEvent, WebhookRow};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::config::WebhooksConfig;
use crate::crypto::SealingKey;

pub use palisade_domain::events::{event_body, normalize_event_type, schema_name, EVENT_TYPES};

/// Delivery credentials, sealed at rest. `Debug` never shows them.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Credentials {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(<redacted>)")
    }
}

/// Seals and opens webhook secrets with a key derived from the server secret.
pub struct SecretBox(SealingKey);

impl SecretBox {
    pub fn new(server_secret: &str) -> Self {
        SecretBox(SealingKey::derive(
            server_secret,
            "palisade webhook secrets v1",
        ))
    }
    fn aad(org: Uuid, what: &str) -> Vec<u8> {
        let mut v = org.as_bytes().to_vec();
        v.extend_from_slice(what.as_bytes());
        v
    }
    pub fn seal_credentials(&self, org: &OrgId, c: &Credentials) -> Option<String> {
        if c.token.is_none() && c.username.is_none() && c.password.is_none() {
            return None;
        }
        let bytes = serde_json::to_vec(c).expect("serializes");
        Some(
            self.0
                .seal_bytes(&Self::aad(org.uuid(), "credentials"), &bytes),
        )
    }
    pub fn seal_signing(&self, org: &OrgId, secret: &str) -> String {
        self.0
            .seal_bytes(&Self::aad(org.uuid(), "signing"), secret.as_bytes())
    }
    pub fn open_credentials(&self, org: Uuid, sealed: Option<&str>) -> Credentials {
        sealed
            .and_then(|s| self.0.open_bytes(&Self::aad(org, "credentials"), s))
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }
    pub fn open_signing(&self, org: Uuid, sealed: Option<&str>) -> Option<String> {
        sealed
            .and_then(|s| self.0.open_bytes(&Self::aad(org, "signing"), s))
            .and_then(|b| String::from_utf8(b).ok())
    }
}

/// How a delivery authenticates.
#[derive(Clone)]
pub enum DeliveryAuth {
    None,
    Bearer(String),
    Basic(String, String),
    ApiKey { header: String, key: String },
}

/// A webhook ready to deliver to: secrets opened.
#[derive(Clone)]
pub struct Target {
    pub id: Uuid,
    pub url: String,
    pub auth: DeliveryAuth,
    pub signing_secret: Option<String>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("id", &self.id)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Target {
    pub fn open(row: &WebhookRow, secrets: &SecretBox) -> Target {
        let creds = secrets.open_credentials(row.org, row.sealed_credentials.as_deref());
        let auth = match row.authentication_type.as_str() {
            "Bearer" => DeliveryAuth::Bearer(creds.token.unwrap_or_default()),
            "Basic" => DeliveryAuth::Basic(
                creds.username.unwrap_or_default(),
                creds.password.unwrap_or_default(),
            ),
            "ApiKey" => DeliveryAuth::ApiKey {
                header: row
                    .api_key_header
                    .clone()
                    .unwrap_or_else(|| "X-API-Key".into()),
                key: creds.token.unwrap_or_default(),
            },
            _ => DeliveryAuth::None,
        };
        Target {
            id: row.id,
            url: row.url.clone(),
            auth,
            signing_secret: secrets.open_signing(row.org, row.sealed_signing_secret.as_deref()),
        }
    }
}

/// What one attempt produced.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub status: Option<u16>,
    pub error: Option<String>,
    pub latency_ms: u64,
    pub request_headers: Map<String, Value>,
    pub response_snippet: Option<String>,
    pub retry_after: Option<Duration>,
    pub started_at: DateTime<Utc>,
    pub completed_at: DateTime<Utc>,
}

impl Attempt {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

const SNIPPET_BYTES: usize = 1024;
const DRAIN_BYTES: usize = 64 * 1024;

/// Sends deliveries: one shared keep-alive client whose resolver is the SSRF guard.
#[derive(Clone)]
pub struct Deliverer {
    client: reqwest::Client,
    guard: ssrf::Guard,
}

impl Deliverer {
    pub fn new(config: &WebhooksConfig, guard: ssrf::Guard) -> Deliverer {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(config.timeout_secs))
            .connect_timeout(Duration::from_secs(config.timeout_secs.min(10)))
            .pool_max_idle_per_host(config.max_in_flight_per_webhook.max(8))
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .user_agent(concat!("Palisade-Webhooks/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(ssrf::GuardedResolver(guard.clone())))
            .build()
            .expect("HTTP client builds");
        Deliverer { client, guard }
    }

    pub fn guard(&self) -> &ssrf::Guard {
        &self.guard
    }

    /// One attempt: sign, send, read the first bytes of the answer.
    pub async fn attempt(
        &self,
        target: &Target,
        event_id: Uuid,
        schema: &str,
        body: &str,
        is_test: bool,
    ) -> Attempt {
        let started_at = Utc::now();
        let clock = Instant::now();
        let timestamp = started_at.timestamp();
        let mut headers: Vec<(String, String)> = vec![
            ("Content-Type".into(), "application/json".into()),
            ("X-CF-Event-Id".into(), event_id.to_string()),
            ("X-CF-Schema".into(), schema.to_string()),
            ("X-CF-Timestamp".into(), timestamp.to_string()),
        ];
        if is_test {
            headers.push(("X-CF-Test".into(), "true".into()));
        }
        if let Some(secret) = &target.signing_secret {
            headers.push((
                "X-CF-Signature".into(),
                signing::cf_signature(secret, timestamp, body.as_bytes()),
            ));
            let id = event_id.to_string();
            if let Some(sig) = signing::standard_signature(secret, &id, timestamp, body.as_bytes())
            {
                headers.push(("webhook-id".into(), id));
                headers.push(("webhook-timestamp".into(), timestamp.to_string()));
                headers.push(("webhook-signature".into(), sig));
            }
        }
        let mut masked = Map::new();
        for (k, v) in &headers {
            masked.insert(k.clone(), Value::String(v.clone()));
        }
        match &target.auth {
            DeliveryAuth::None => {}
            DeliveryAuth::Bearer(token) => {
                headers.push(("Authorization".into(), format!("Bearer {token}")));
                masked.insert("Authorization".into(), json!("Bearer ****"));
            }
            DeliveryAuth::Basic(user, password) => {
                use base64::Engine;
                let enc =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                headers.push(("Authorization".into(), format!("Basic {enc}")));
                masked.insert("Authorization".into(), json!("Basic ****"));
            }
            DeliveryAuth::ApiKey { header, key } => {
                headers.push((header.clone(), key.clone()));
                masked.insert(header.clone(), json!("****"));
            }
        }
        let result = self.send(target, &headers, body).await;
        let latency_ms = clock.elapsed().as_millis() as u64;
        let (status, error, snippet, retry_after) = match result {
            Ok((status, snippet, retry_after)) => {
                let error = (!(200..300).contains(&status))
                    .then(|| format!("The receiver answered HTTP {status}."));
                (Some(status), error, Some(snippet), retry_after)
            }
            Err(e) => (None, Some(e), None, None),
        };
        Attempt {
            status,
            error,
            latency_ms,
            request_headers: masked,
            response_snippet: snippet,
            retry_after,
            started_at,
            completed_at: Utc::now(),
        }
    }

    async fn send(
        &self,
        target: &Target,
        headers: &[(String, String)],
        body: &str,
    ) -> Result<(u16, String, Option<Duration>), String> {
        // The guard again, at delivery: the URL's form, and an IP-literal host (names are
        // checked by the client's resolver on the address it connects to).
        let url = self
            .guard
            .check_form(&target.url)
            .map_err(|e| format!("The webhook URL {e}."))?;
        self.guard
            .check_literal_host(&url)
            .map_err(|e| format!("Refused by the SSRF guard: {e}."))?;
        let mut req = self.client.post(url).body(body.to_string());
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let mut resp = req
            .send()
            .await
            .map_err(|e| palisade_net::upstream::describe_request_error(&e, "receiver"))?;
        let status = resp.status().as_u16();
        let retry_after = palisade_net::upstream::retry_after(resp.headers());
        let mut snippet = Vec::new();
        let mut read = 0usize;
        while read < DRAIN_BYTES {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    read += chunk.len();
                    if snippet.len() < SNIPPET_BYTES {
                        let take = (SNIPPET_BYTES - snippet.len()).min(chunk.len());
                        snippet.extend_from_slice(&chunk[..take]);
                    }
                }
                Ok(None) => break,
                Err(_) => break,
            }
        }
        Ok((
            status,
            String::from_utf8_lossy(&snippet).into_owned(),
            retry_after,
        ))
    }
}

/// Does a webhook receive this event?
pub fn matches(hook: &WebhookRow, e: &PendingEvent) -> bool {
    hook.status != "Disabled"
        && hook.created_at <= e.created_at
        && hook
            .event_types
            .iter()
            .any(|t| normalize_event_type(t) == Some(e.event_type.as_str()))
        && hook.workspace_id.is_none_or(|w| Some(w) == e.workspace_id)
        && (hook.monitored_account_ids.is_empty()
            || e.account_id
                .is_some_and(|a| hook.monitored_account_ids.contains(&a)))
}

/// The jobs an event fans out to.
pub fn plan(e: &PendingEvent, hooks: &[WebhookRow]) -> Vec<Delivery> {
    let targets: Vec<&WebhookRow> = hooks.iter().filter(|h| matches(h, e)).collect();
    if targets.is_empty() {
        return Vec::new();
    }
    let at = palisade_domain::time::from_micros;
    let body = event_body(
        &e.event_type,
        at(e.created_at),
        at(e.occurred_at),
        false,
        &e.payload,
    );
    let data: Value = serde_json::from_str(&e.payload).unwrap_or(Value::Null);
    let display = data
        .get("title")
        .and_then(Value::as_str)
        .map(str::to_string);
    let attributes = json!({
        "source": data.get("source"),
        "incidentNumber": data.get("incidentNumber"),
        "workspaceId": e.workspace_id,
    })
    .to_string();
    targets
        .into_iter()
        .map(|h| Delivery {
            org: e.org,
            webhook_id: h.id,
            event_id: e.id,
            event_type: e.event_type.clone(),
            body: body.clone(),
            account_id: e.account_id,
            subject_id: Some(e.subject_id.clone()),
            subject_display_name: display.clone(),
            subject_attributes: Some(attributes.clone()),
            occurred_at: Some(e.occurred_at),
            original_delivery_id: None,
            pending_log_id: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Secrets sealed before the AEAD moved to `crypto` still open.
    #[test]
    fn secrets_sealed_before_the_move_still_open() {
        let b = SecretBox::new("fixture server secret, at least thirty-two bytes");
        let org = Uuid::parse_str("7d2b6a40-2f0e-4c43-9d7e-0c6c1f1c9a11").unwrap();
        let creds = "gytjh5Y2zDh39fOWQ6V3S7LXpLV1K9fGA1FiI0A5Yy5IQq3WhESLZOWmluILIYU";
        assert_eq!(
            b.open_credentials(org, Some(creds)).token.as_deref(),
            Some("tok-123")
        );
        let signing = "PCUWUqt_ZrSSGPzgJyKe6Ebpt2Yht6xAbWV5dZumhcf_baQ2d4iJN2o";
        assert_eq!(
            b.open_signing(org, Some(signing)).as_deref(),
            Some("whsec_fixture")
        );
        assert_eq!(b.open_signing(Uuid::new_v4(), Some(signing)), None);
    }

    #[tokio::test]
    async fn secrets_round_trip_and_stay_bound_to_their_organization() {
        let orgs = crate::test_support::orgs(1).await;
        let b = SecretBox::new("a server secret of some length........");
        let org = orgs.ids[0];
        let c = Credentials {
            token: Some("tok".into()),
            ..Default::default()
        };
        let sealed = b.seal_credentials(&org, &c).unwrap();
        assert!(!sealed.contains("tok"));
        assert_eq!(
            b.open_credentials(org.uuid(), Some(&sealed))
                .token
                .as_deref(),
            Some("tok")
        );
        assert!(b
            .open_credentials(Uuid::new_v4(), Some(&sealed))
            .token
            .is_none());
        let s = b.seal_signing(&org, "whsec_x");
        assert_eq!(
            b.open_signing(org.uuid(), Some(&s)).as_deref(),
            Some("whsec_x")
        );
        assert_eq!(format!("{c:?}"), "Credentials(<redacted>)");
    }

    /// The guard applies at delivery too, whatever was stored: IP literals are checked before
    /// sending, names by the client's resolver. Only loopback addresses are named here, and
    /// nothing listens on port 1.
    #[tokio::test]
    async fn delivery_refuses_private_targets_without_connecting() {
        let config = crate::config::Config::default().webhooks;
        let d = Deliverer::new(&config, ssrf::Guard::new(false, true));
        for url in [
            "http://127.0.0.1:1/hook",
            "http://localhost:1/hook",
            "http://[::1]:1/",
        ] {
            let target = Target {
                id: Uuid::new_v4(),
                url: url.into(),
                auth: DeliveryAuth::None,
                signing_secret: None,
            };
            let a = d
                .attempt(&target, Uuid::new_v4(), "incident.created.v1", "{}", false)
                .await;
            assert!(!a.success());
            assert_eq!(a.status, None, "{url}: nothing was answered");
            let e = a.error.unwrap();
            assert!(e.contains("SSRF") || e.contains("loopback"), "{url}: {e}");
        }
    }
}
