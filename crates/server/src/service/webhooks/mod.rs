//! Webhook configurations; their delivery logs, test events and redelivery are in `logs.rs`.

pub mod logs;

pub use logs::LogQuery;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use palisade_domain::time::{from_micros, to_micros};
use palisade_domain::{Error, Result, Validator};
use palisade_store::{OrgId, Store, WebhookFields, WebhookRow, WebhookSecrets};
use palisade_types::webhooks::*;
use uuid::Uuid;

use crate::access::OrgCtx;
use crate::crypto::SealingKey;
use crate::webhooks::{
    normalize_event_type, schema_name, signing, Credentials, Deliverer, SecretBox, Target,
    EVENT_TYPES,
};

const MAX_NAME: usize = 200;
const MAX_URL: usize = 2048;
const MAX_SECRET: usize = 1024;
const MIN_SIGNING_SECRET: usize = 16;

#[derive(Clone)]
pub struct WebhookService {
    store: Store,
    secrets: Arc<SecretBox>,
    deliverer: Deliverer,
    jobs: palisade_jobs::Jobs,
    sealer: Arc<SealingKey>,
}

fn not_found(id: Uuid) -> Error {
    Error::not_found_target("Webhook", id, "id")
}

fn to_wire(w: &WebhookRow) -> Webhook {
    Webhook {
        id: w.id,
        service_provider_id: w.org,
        target_account_id: w.target_account_id,
        target_account_name: w.target_account_name.clone(),
        workspace_id: w.workspace_id,
        name: w.name.clone(),
        url: w.url.clone(),
        status: WebhookStatus::parse(&w.status).unwrap_or(WebhookStatus::Disabled),
        event_types: w.event_types.clone(),
        monitored_account_ids: w.monitored_account_ids.clone(),
        authentication_type: WebhookAuthType::parse(&w.authentication_type)
            .unwrap_or(WebhookAuthType::None),
        api_key_header: (w.authentication_type == "ApiKey").then(|| {
            w.api_key_header
                .clone()
                .unwrap_or_else(|| "X-API-Key".into())
        }),
        has_signing_token: w.sealed_signing_secret.is_some(),
        disable_reason: w.disable_reason.clone(),
        disabled_at: w.disabled_at.map(from_micros),
        created_at: from_micros(w.created_at),
        last_modified_at: from_micros(w.last_modified_at),
    }
}

/// Delivery credentials as validated from a request.
struct AuthInput {
    kind: WebhookAuthType,
    credentials: Credentials,
    api_key_header: Option<String>,
}

/// Headers a credential may not be sent in: they carry the delivery's own meaning.
const RESERVED_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "host",
    "user-agent",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "transfer-encoding",
    "connection",
];

/// The authentication fields of a webhook request and of a credentials update (one spelling).
struct AuthFields<'a> {
    kind: Option<&'a str>,
    token: Option<&'a str>,
    username: Option<&'a str>,
    password: Option<&'a str>,
    api_key_header: Option<&'a str>,
}

/// The [`AuthFields`] of a `WebhookRequest` or a `WebhookCredentialsRequest`.
macro_rules! auth_fields {
    ($req:expr) => {
        AuthFields {
            kind: $req.authentication_type.as_deref(),
            token: $req.token.as_deref(),
            username: $req.username.as_deref(),
            password: $req.password.as_deref(),
            api_key_header: $req.api_key_header.as_deref(),
        }
    };
}

fn validate_auth(v: &mut Validator, fields: AuthFields<'_>, required: bool) -> Option<AuthInput> {
    let AuthFields {
        kind,
        token,
        username,
        password,
        api_key_header,
    } = fields;
    let kind = match kind {
        None if required => {
            v.add(
                "authenticationType",
                "authenticationType is required: one of None, Bearer, Basic, ApiKey.",
            );
            return None;
        }
        None => WebhookAuthType::None,
        Some(k) => match WebhookAuthType::parse(k) {
            Some(k) => k,
            None => {
                v.add(
                    "authenticationType",
                    format!(
                        "'{}' is not an authentication type; allowed: {}.",
                        k.chars().take(40).collect::<String>(),
                        WebhookAuthType::NAMES.join(", ")
                    ),
                );
                return None;
            }
        },
    };
    let secret = |v: &mut Validator, path: &str, value: Option<&str>, need: bool| match value {
        Some(s) if !s.is_empty() && s.len() <= MAX_SECRET => Some(s.to_string()),
        Some(s) if s.len() > MAX_SECRET => {
            v.add(
                path,
                format!("{path} must be at most {MAX_SECRET} characters."),
            );
            None
        }
        _ if need => {
            v.add(
                path,
                format!("{path} is required for this authenticationType."),
            );
            None
        }
        _ => None,
    };
    let mut credentials = Credentials::default();
    let mut header = None;
    match kind {
        WebhookAuthType::None => {}
        WebhookAuthType::Bearer => credentials.token = secret(v, "token", token, true),
        WebhookAuthType::Basic => {
            credentials.username = secret(v, "username", username, true);
            credentials.password = secret(v, "password", password, true);
            if credentials
                .username
                .as_deref()
                .is_some_and(|u| u.contains(':'))
            {
                v.add("username", "username must not contain ':'.");
            }
        }
        WebhookAuthType::ApiKey => {
            credentials.token = secret(v, "token", token, true);
            let name = api_key_header.unwrap_or("X-API-Key");
            let valid = reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_ok();
            let lower = name.to_ascii_lowercase();
            if !valid || name.len() > 100 {
                v.add("apiKeyHeader", "apiKeyHeader is not a valid header name.");
            } else if RESERVED_HEADERS.contains(&lower.as_str()) || lower.starts_with("x-cf-") {
                v.add(
                    "apiKeyHeader",
                    format!("apiKeyHeader may not be {name}: the delivery sets it itself."),
                );
            } else {
                header = Some(name.to_string());
            }
        }
    }
    Some(AuthInput {
        kind,
        credentials,
        api_key_header: header,
    })
}

fn validate_signing(v: &mut Validator, raw: Option<&str>) -> Option<String> {
    let s = raw?;
    if s.len() < MIN_SIGNING_SECRET || s.len() > MAX_SECRET {
        v.add(
            "signingToken",
            format!("signingToken must be {MIN_SIGNING_SECRET} to {MAX_SECRET} characters."),
        );
        return None;
    }
    if s.starts_with("whsec_") && !signing::is_standard_secret(s) {
        v.add(
            "signingToken",
            "A signingToken starting with whsec_ must continue with base64.",
        );
        return None;
    }
    Some(s.to_string())
}

fn parse_instant(v: &mut Validator, path: &str, raw: Option<&str>) -> Option<i64> {
    let raw = raw?;
    match DateTime::parse_from_rfc3339(&raw.trim().replace(' ', "+")) {
        Ok(t) => Some(to_micros(t.with_timezone(&Utc))),
        Err(_) => {
            v.add(path, format!("{path} must be an ISO 8601 date-time."));
            None
        }
    }
}

impl WebhookService {
    pub fn new(
        store: Store,
        secrets: Arc<SecretBox>,
        deliverer: Deliverer,
        jobs: palisade_jobs::Jobs,
        server_secret: &str,
    ) -> Self {
        WebhookService {
            store,
            secrets,
            deliverer,
            jobs,
            sealer: Arc::new(SealingKey::derive(
                server_secret,
                "palisade delivery-log token v1",
            )),
        }
    }

    pub fn event_types(&self) -> Vec<EventTypeInfo> {
        EVENT_TYPES
            .iter()
            .map(|(name, description)| EventTypeInfo {
                name: name.to_string(),
                schema: schema_name(name),
                description: description.to_string(),
            })
            .collect()
    }

    pub async fn list(&self, ctx: &OrgCtx) -> Result<Vec<Webhook>> {
        Ok(self
            .store
            .tenant(&ctx.org)
            .list_webhooks()
            .await?
            .iter()
            .map(to_wire)
            .collect())
    }

    async fn row(&self, org: &OrgId, id: Uuid) -> Result<WebhookRow> {
        self.store
            .tenant(org)
            .get_webhook(id)
            .await?
            .ok_or_else(|| not_found(id))
    }

    pub async fn get(&self, ctx: &OrgCtx, id: Uuid) -> Result<Webhook> {
        Ok(to_wire(&self.row(&ctx.org, id).await?))
    }

    /// Validates the editable fields, starting from `base` on update.
    async fn fields(
        &self,
        ctx: &OrgCtx,
        v: &mut Validator,
        req: &WebhookRequest,
        base: Option<&WebhookRow>,
    ) -> Result<Option<WebhookFields>> {
        let name = match (&req.name, base) {
            (None, Some(b)) => Some(b.name.clone()),
            (n, _) => v.required_str("name", n.as_deref(), MAX_NAME),
        };
        let url = match (&req.url, base) {
            (None, Some(b)) => Some(b.url.clone()),
            (None, None) => {
                v.add("url", "url is required.");
                None
            }
            (Some(u), _) if u.len() > MAX_URL => {
                v.add("url", format!("url must be at most {MAX_URL} characters."));
                None
            }
            (Some(u), _) => match self.deliverer.guard().check_url(u.trim()).await {
                Ok(parsed) => Some(parsed.to_string()),
                Err(e) => {
                    v.add("url", format!("The url {e}."));
                    None
                }
            },
        };
        let event_types = match (&req.event_types, base) {
            (None, Some(b)) => Some(b.event_types.clone()),
            (None, None) => {
                v.add(
                    "eventTypes",
                    "eventTypes is required: at least one event type.",
                );
                None
            }
            (Some(list), _) => {
                let mut out: Vec<String> = Vec::new();
                if list.is_empty() {
                    v.add(
                        "eventTypes",
                        "eventTypes must name at least one event type.",
                    );
                }
                for (i, t) in list.iter().enumerate() {
                    match normalize_event_type(t) {
                        Some(n) => {
                            if !out.iter().any(|o| o == n) {
                                out.push(n.to_string())
                            }
                        }
                        None => v.add(
                            format!("eventTypes[{i}]"),
                            format!(
                                "'{}' is not an event type; see GET /api/v2/webhooks/event-types (allowed: {}).",
                                t.chars().take(80).collect::<String>(),
                                EVENT_TYPES.iter().map(|e| e.0).collect::<Vec<_>>().join(", ")
                            ),
                        ),
                    }
                }
                Some(out)
            }
        };
        let accounts = self.store.tenant(&ctx.org).list_accounts().await?;
        let monitored = match (&req.monitored_account_ids, base) {
            (None, Some(b)) => Some(b.monitored_account_ids.clone()),
            (None, None) => Some(Vec::new()),
            (Some(list), _) => {
                let mut out = Vec::new();
                for (i, raw) in list.iter().enumerate() {
                    let path = format!("monitoredAccountIds[{i}]");
                    if let Some(id) = v.uuid(&path, Some(raw)) {
                        if accounts.iter().any(|a| a.id == id) {
                            if !out.contains(&id) {
                                out.push(id);
                            }
                        } else {
                            v.add(
                                path,
                                format!("Account {id} is not an account of this organization."),
                            );
                        }
                    }
                }
                Some(out)
            }
        };
        let target = match (&req.target_account_id, base) {
            (None, Some(b)) => Some(b.target_account_id),
            (None, None) => Some(self.store.tenant(&ctx.org).own_account_id().await?),
            (Some(raw), _) => match v.uuid("targetAccountId", Some(raw)) {
                Some(id) if accounts.iter().any(|a| a.id == id) => Some(id),
                Some(id) => {
                    v.add(
                        "targetAccountId",
                        format!("Account {id} is not an account of this organization."),
                    );
                    None
                }
                None => None,
            },
        };
        let workspace = match (&req.workspace_id, base) {
            // Unchanged: the webhook's workspace, if it still exists.
            (None, Some(b)) => {
                match b.workspace_id {
                    None => Some(None),
                    Some(id) => match self.store.tenant(&ctx.org).workspace(id).await? {
                        Some(w) => Some(Some(w.id)),
                        None => {
                            v.add(
                            "workspaceId",
                            format!("The webhook's workspace {id} no longer exists; give workspaceId."),
                        );
                            None
                        }
                    },
                }
            }
            (None, None) | (Some(None), _) => Some(None),
            (Some(Some(raw)), _) => match v.uuid("workspaceId", Some(raw)) {
                Some(id) => match ctx.principal.workspace(&id) {
                    Some((ws, _)) => Some(Some(ws)),
                    None => {
                        v.add(
                            "workspaceId",
                            format!("Workspace {id} is not a workspace you hold a role on."),
                        );
                        None
                    }
                },
                None => None,
            },
        };
        // A webhook without a workspace receives every workspace's incidents: only a caller
        // whose organizational role covers every workspace may set one up.
        if let Some(None) = workspace {
            if ctx.principal.org_role.implied_workspace_role().is_none() {
                v.add(
                    "workspaceId",
                    "workspaceId is required: an organization-wide webhook needs the Admin or WorkspaceAdmin role.",
                );
            }
        }
        match (name, url, event_types, monitored, target, workspace) {
            (Some(name), Some(url), Some(event_types), Some(monitored), Some(target), Some(ws)) => {
                Ok(Some(WebhookFields {
                    target_account_id: target,
                    workspace_id: ws,
                    name,
                    url,
                    event_types,
                    monitored_account_ids: monitored,
                }))
            }
            _ => Ok(None),
        }
    }

    fn sealed(&self, org: &OrgId, auth: &AuthInput, signing: Option<String>) -> WebhookSecrets {
        WebhookSecrets {
            authentication_type: auth.kind.as_str().into(),
            api_key_header: auth.api_key_header.clone(),
            sealed_credentials: self.secrets.seal_credentials(org, &auth.credentials),
            sealed_signing_secret: signing.map(|s| self.secrets.seal_signing(org, &s)),
        }
    }

    pub async fn create(&self, ctx: &OrgCtx, req: WebhookRequest) -> Result<WebhookCreated> {
        let mut v = Validator::new();
        let fields = self.fields(ctx, &mut v, &req, None).await?;
        let auth = validate_auth(&mut v, auth_fields!(req), false);
        let own_secret = validate_signing(&mut v, req.signing_token.as_deref());
        v.finish()?;
        let (fields, auth) = (fields.expect("validated"), auth.expect("validated"));
        let secret = own_secret.unwrap_or_else(signing::generate_secret);
        let row = self
            .store
            .tenant(&ctx.org)
            .create_webhook(&fields, &self.sealed(&ctx.org, &auth, Some(secret.clone())))
            .await?;
        Ok(WebhookCreated {
            webhook: to_wire(&row),
            signing_secret: secret,
        })
    }

    pub async fn update(&self, ctx: &OrgCtx, id: Uuid, req: WebhookRequest) -> Result<Webhook> {
        let base = self.row(&ctx.org, id).await?;
        let mut v = Validator::new();
        let fields = self.fields(ctx, &mut v, &req, Some(&base)).await?;
        let auth = if req.authentication_type.is_some() {
            validate_auth(&mut v, auth_fields!(req), true)
        } else {
            for (path, present) in [
                ("token", req.token.is_some()),
                ("username", req.username.is_some()),
                ("password", req.password.is_some()),
                ("apiKeyHeader", req.api_key_header.is_some()),
            ] {
                if present {
                    v.add(
                        path,
                        format!("{path} is accepted only together with authenticationType."),
                    );
                }
            }
            None
        };
        let signing = validate_signing(&mut v, req.signing_token.as_deref());
        v.finish()?;
        let row = self
            .store
            .tenant(&ctx.org)
            .update_webhook(id, &fields.expect("validated"))
            .await?
            .ok_or_else(|| not_found(id))?;
        if auth.is_some() || signing.is_some() {
            return self
                .apply_credentials(ctx, &row, auth, signing)
                .await
                .map(|r| to_wire(&r));
        }
        Ok(to_wire(&row))
    }

    async fn apply_credentials(
        &self,
        ctx: &OrgCtx,
        row: &WebhookRow,
        auth: Option<AuthInput>,
        signing: Option<String>,
    ) -> Result<WebhookRow> {
        let current = Target::open(row, &self.secrets);
        let auth = auth.unwrap_or_else(|| AuthInput {
            kind: WebhookAuthType::parse(&row.authentication_type).unwrap_or(WebhookAuthType::None),
            credentials: self
                .secrets
                .open_credentials(row.org, row.sealed_credentials.as_deref()),
            api_key_header: row.api_key_header.clone(),
        });
        let signing = signing.or(current.signing_secret);
        self.store
            .tenant(&ctx.org)
            .set_webhook_secrets(row.id, &self.sealed(&ctx.org, &auth, signing))
            .await?
            .ok_or_else(|| not_found(row.id))
    }

    pub async fn credentials(
        &self,
        ctx: &OrgCtx,
        id: Uuid,
        req: WebhookCredentialsRequest,
    ) -> Result<WebhookCredentialsResult> {
        let row = self.row(&ctx.org, id).await?;
        let mut v = Validator::new();
        let auth = validate_auth(&mut v, auth_fields!(req), true);
        let signing = validate_signing(&mut v, req.signing_token.as_deref());
        v.finish()?;
        let row = self.apply_credentials(ctx, &row, auth, signing).await?;
        let w = to_wire(&row);
        Ok(WebhookCredentialsResult {
            id: w.id,
            authentication_type: w.authentication_type,
            has_signing_token: w.has_signing_token,
        })
    }

    pub async fn delete(&self, ctx: &OrgCtx, id: Uuid) -> Result<bool> {
        if !self.store.tenant(&ctx.org).delete_webhook(id).await? {
            return Err(not_found(id));
        }
        Ok(true)
    }

    async fn transition(
        &self,
        ctx: &OrgCtx,
        id: Uuid,
        from: WebhookStatus,
        to: WebhookStatus,
    ) -> Result<Webhook> {
        match self
            .store
            .tenant(&ctx.org)
            .transition_webhook(id, from.as_str(), to.as_str(), None)
            .await?
        {
            None => Err(not_found(id)),
            Some(true) => {
                if to == WebhookStatus::Active {
                    self.jobs.wake(palisade_store::DELIVERY_KIND);
                }
                self.get(ctx, id).await
            }
            Some(false) => {
                let now = self.row(&ctx.org, id).await?;
                Err(Error::Conflict(format!(
                    "The webhook is {}; this operation applies to a {} webhook.",
                    now.status,
                    from.as_str()
                )))
            }
        }
    }

    pub async fn pause(&self, ctx: &OrgCtx, id: Uuid) -> Result<Webhook> {
        self.transition(ctx, id, WebhookStatus::Active, WebhookStatus::Paused)
            .await
    }

    pub async fn resume(&self, ctx: &OrgCtx, id: Uuid) -> Result<Webhook> {
        self.transition(ctx, id, WebhookStatus::Paused, WebhookStatus::Active)
            .await
    }

    pub async fn enable(&self, ctx: &OrgCtx, id: Uuid) -> Result<Webhook> {
        self.transition(ctx, id, WebhookStatus::Disabled, WebhookStatus::Active)
            .await
    }
}
