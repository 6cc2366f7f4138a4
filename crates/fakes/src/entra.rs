//! A stand-in for the Microsoft Entra ID v2.0 token endpoint (client-credentials grant):
//! `POST /{tenant}/oauth2/v2.0/token` with a form body, answering `{token_type, expires_in,
//! ext_expires_in, access_token}` or `{error, error_description, error_codes, …}` as the
//! identity platform documents. Tokens are JWT-shaped (with `oid`, `aud`, `tid`), expire after
//! `expires_in` seconds, can be revoked, and are checked by the resource fakes (audience =
//! the requested scope).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use base64::Engine;
use serde_json::{json, Value};

use crate::common::{self, Fault, Recorded, Running};

/// The object id of the fake's service principal (the tokens' `oid`).
pub const PRINCIPAL_OBJECT_ID: &str = "6d2f0c1e-0a4b-4c5d-8e9f-a0b1c2d3e4f5";

struct Issued {
    audience: String,
    expires: Instant,
}

struct Inner {
    tenant: String,
    client_id: String,
    client_secret: String,
    expires_in: AtomicU64,
    delay_ms: AtomicU64,
    requests: AtomicUsize,
    issued: Mutex<HashMap<String, Issued>>,
    ever_issued: Mutex<Vec<String>>,
    faults: Mutex<Vec<Fault>>,
    recorded: Mutex<Vec<Recorded>>,
}

/// The fake token endpoint. Cheap to clone; the server stops when the last clone is dropped.
#[derive(Clone)]
pub struct FakeEntra {
    inner: Arc<Inner>,
    running: Arc<Running>,
}

/// Why a resource fake refuses a bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    Missing,
    Unknown,
    Expired,
    WrongAudience,
}

impl FakeEntra {
    /// A token endpoint for one tenant and one app registration (client id + secret).
    pub async fn start(tenant: &str, client_id: &str, client_secret: &str) -> FakeEntra {
        let inner = Arc::new(Inner {
            tenant: tenant.to_string(),
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
            expires_in: AtomicU64::new(3599),
            delay_ms: AtomicU64::new(0),
            requests: AtomicUsize::new(0),
            issued: Mutex::new(HashMap::new()),
            ever_issued: Mutex::new(Vec::new()),
            faults: Mutex::new(Vec::new()),
            recorded: Mutex::new(Vec::new()),
        });
        let router = Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .with_state(inner.clone());
        let running = Arc::new(common::serve(router).await);
        FakeEntra { inner, running }
    }

    /// The authority host: `http://127.0.0.1:{port}`.
    pub fn authority(&self) -> String {
        self.running.base()
    }

    pub fn port(&self) -> u16 {
        self.running.addr.port()
    }

    /// Token requests answered so far (successful or not).
    pub fn token_requests(&self) -> usize {
        self.inner.requests.load(Ordering::SeqCst)
    }

    /// Every token request (form bodies included: they carry the client secret, so tests read
    /// them only to assert what was sent).
    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.recorded.lock().unwrap().clone()
    }

    /// Every token issued so far, revoked or not (to assert that none leaks into logs or
    /// errors).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.inner.ever_issued.lock().unwrap().clone()
    }

    /// The lifetime of tokens issued from now on (`expires_in`).
    pub fn set_expires_in(&self, secs: u64) {
        self.inner.expires_in.store(secs, Ordering::SeqCst);
    }

    /// Delays every token answer.
    pub fn set_delay(&self, delay: Duration) {
        self.inner
            .delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Every token issued so far stops being accepted.
    pub fn revoke_all(&self) {
        self.inner.issued.lock().unwrap().clear();
    }

    /// The next `times` token requests fail with `fault`.
    pub fn fail_next(&self, times: usize, fault: Fault) {
        let mut f = self.inner.faults.lock().unwrap();
        f.extend(std::iter::repeat_n(fault, times));
    }

    /// Checks a request's bearer token for a resource whose scope is `scope`
    /// (`{resource}/.default`).
    pub fn check(&self, headers: &HeaderMap, scope: &str) -> Result<(), TokenProblem> {
        let token = common::bearer(headers).ok_or(TokenProblem::Missing)?;
        let issued = self.inner.issued.lock().unwrap();
        let t = issued.get(&token).ok_or(TokenProblem::Unknown)?;
        if Instant::now() >= t.expires {
            return Err(TokenProblem::Expired);
        }
        if t.audience != scope {
            return Err(TokenProblem::WrongAudience);
        }
        Ok(())
    }
}

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

fn refuse(status: u16, error: &str, code: u32, description: String) -> Response {
    common::json(
        status,
        &json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {description}\r\nTrace ID: 0000\r\nCorrelation ID: 0000\r\nTimestamp: 2026-01-01 00:00:00Z"),
            "error_codes": [code],
            "timestamp": "2026-01-01 00:00:00Z",
            "trace_id": "00000000-0000-0000-0000-000000000000",
            "correlation_id": "00000000-0000-0000-0000-000000000000",
        }),
    )
}

async fn token(
    State(s): State<Arc<Inner>>,
    Path(tenant): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    s.recorded
        .lock()
        .unwrap()
        .push(Recorded::new(&method, &uri, &headers, &body));
    let n = s.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let delay = s.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let fault = {
        let mut f = s.faults.lock().unwrap();
        (!f.is_empty()).then(|| f.remove(0))
    };
    if let Some(f) = fault {
        let body = json!({"error": "temporarily_unavailable", "error_description": "AADSTS50196: The server is busy."});
        return common::error(f.status, &body, f.retry_after);
    }
    if tenant != s.tenant {
        return refuse(
            400,
            "invalid_request",
            90002,
            format!("Tenant '{tenant}' not found."),
        );
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return refuse(
            400,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.".into(),
        );
    }
    let scope = form.get("scope").cloned().unwrap_or_default();
    if !scope.ends_with("/.default") || scope.contains(' ') {
        return refuse(
            400,
            "invalid_scope",
            1002012,
            format!("The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."),
        );
    }
    if form.get("client_id") != Some(&s.client_id) {
        return refuse(
            400,
            "unauthorized_client",
            700016,
            "Application with the given identifier was not found in the directory.".into(),
        );
    }
    if form.get("client_secret") != Some(&s.client_secret) {
        // Deliberately echoes what it got, so tests prove that callers scrub it.
        let got = form.get("client_secret").cloned().unwrap_or_default();
        return refuse(
            401,
            "invalid_client",
            7000215,
            format!("Invalid client secret provided ('{got}'). Ensure the secret being sent in the request is the client secret value, not the client secret ID."),
        );
    }
    let expires_in = s.expires_in.load(Ordering::SeqCst);
    let audience = scope.trim_end_matches("/.default").to_string();
    let token = format!(
        "{}.{}.c2lnbmF0dXJl",
        b64(&json!({"typ": "JWT", "alg": "RS256"})),
        b64(
            &json!({"aud": audience, "tid": s.tenant, "oid": PRINCIPAL_OBJECT_ID,
                     "appid": s.client_id, "n": n})
        )
    );
    s.ever_issued.lock().unwrap().push(token.clone());
    s.issued.lock().unwrap().insert(
        token.clone(),
        Issued {
            audience: scope,
            expires: Instant::now() + Duration::from_secs(expires_in),
        },
    );
    common::json(
        200,
        &json!({"token_type": "Bearer", "expires_in": expires_in,
                "ext_expires_in": expires_in, "access_token": token}),
    )
}
