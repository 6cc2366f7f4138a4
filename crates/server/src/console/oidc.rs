//! OpenID Connect sign-in (`[console.oidc]`): the authorization code flow with PKCE (S256).
//!
//! `GET /console/oidc/start` makes a `state`, a `nonce` and a PKCE verifier, keeps them in a
//! short-lived cookie sealed with the server key (ChaCha20-Poly1305, bound to its purpose),
//! and sends the browser to the provider's authorization endpoint. `GET /console/oidc/callback`
//! checks `state`, redeems the code at the token endpoint with the verifier, and verifies the
//! ID token: RS256 signature by a key of the provider's JWKS (by `kid`), `iss`, `aud`, `exp`,
//! and the `nonce` it was sent. Its `email` must belong to exactly one active user of an
//! organization, who is then signed in as with a password. Discovery (`/.well-known/
//! openid-configuration`) and the JWKS are read once per process and again when a token names
//! a key the cached set lacks.

use std::sync::Mutex;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use base64::Engine;
use chrono::Utc;
use maud::html;
use palisade_domain::Error;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier;
use rsa::{BigUint, RsaPublicKey};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::layout;
use super::session::{
    cookie, cookie_text, open_session, random_token, safe_next, secure_cookies, set_cookie,
    SignedIn,
};
use crate::crypto::SealingKey;
use crate::AppState;

pub const FLOW_COOKIE: &str = "palisade_oidc";
/// How long a sign-in at the provider may take.
const FLOW_SECS: i64 = 600;

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

/// What the provider told us, kept for the process.
#[derive(Default)]
pub struct OidcCache {
    discovery: Mutex<Option<Discovery>>,
    jwks: Mutex<Option<Value>>,
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("HTTP client")
}

fn upstream(what: &str, e: impl std::fmt::Display) -> Error {
    Error::UpstreamUnavailable {
        detail: format!("The sign-in provider could not be reached ({what}): {e}"),
        retry_after_secs: 5,
    }
}

async fn discovery(state: &AppState) -> Result<Discovery, Error> {
    if let Some(d) = state.oidc().discovery.lock().unwrap().clone() {
        return Ok(d);
    }
    let issuer = state.config().console.oidc.issuer.trim_end_matches('/');
    let url = format!("{issuer}/.well-known/openid-configuration");
    let d: Discovery = http()
        .get(&url)
        .send()
        .await
        .map_err(|e| upstream("discovery", e))?
        .error_for_status()
        .map_err(|e| upstream("discovery", e))?
        .json()
        .await
        .map_err(|e| upstream("discovery", e))?;
    if d.issuer.trim_end_matches('/') != issuer {
        return Err(upstream("discovery", "the document names another issuer"));
    }
    *state.oidc().discovery.lock().unwrap() = Some(d.clone());
    Ok(d)
}

async fn jwks(state: &AppState, d: &Discovery, refresh: bool) -> Result<Value, Error> {
    if !refresh {
        if let Some(k) = state.oidc().jwks.lock().unwrap().clone() {
            return Ok(k);
        }
    }
    let keys: Value = http()
        .get(&d.jwks_uri)
        .send()
        .await
        .map_err(|e| upstream("keys", e))?
        .error_for_status()
        .map_err(|e| upstream("keys", e))?
        .json()
        .await
        .map_err(|e| upstream("keys", e))?;
    *state.oidc().jwks.lock().unwrap() = Some(keys.clone());
    Ok(keys)
}

fn flow_key(state: &AppState) -> &SealingKey {
    state.oidc_sealer()
}

fn redirect_uri(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(u) = &state.config().console.oidc.redirect_url {
        return u.clone();
    }
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = if secure_cookies(state, headers) {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}/console/oidc/callback")
}

#[derive(Deserialize, Default)]
pub struct StartQuery {
    next: Option<String>,
}

/// `GET /console/oidc/start`: off to the provider.
pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<StartQuery>,
) -> Response {
    if !state.config().console.oidc.enabled() {
        return super::error_page(None, Error::not_found_target("Page", "oidc", "path"));
    }
    let d = match discovery(&state).await {
        Ok(d) => d,
        Err(e) => return super::error_page(None, e),
    };
    let (flow_state, nonce, verifier) = (random_token(), random_token(), random_token());
    let challenge = b64().encode(Sha256::digest(verifier.as_bytes()));
    let next = safe_next(q.next.as_deref());
    let flow = serde_json::json!({
        "state": flow_state, "nonce": nonce, "verifier": verifier, "next": next,
        "until": Utc::now().timestamp() + FLOW_SECS,
    });
    let sealed = flow_key(&state).seal_bytes(b"oidc flow", flow.to_string().as_bytes());
    let o = &state.config().console.oidc;
    let mut url = match url::Url::parse(&d.authorization_endpoint) {
        Ok(u) => u,
        Err(e) => return super::error_page(None, upstream("authorization endpoint", e)),
    };
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &o.client_id)
        .append_pair("redirect_uri", &redirect_uri(&state, &headers))
        .append_pair("scope", "openid email profile")
        .append_pair("state", &flow_state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let mut r = Redirect::to(url.as_str()).into_response();
    let secure = secure_cookies(&state, &headers);
    set_cookie(
        &mut r,
        cookie_text(FLOW_COOKIE, &sealed, Some(FLOW_SECS), secure),
    );
    r
}

#[derive(Deserialize, Default)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

fn refused(message: &str) -> Response {
    let page = layout::page(
        None,
        "Sign-in refused",
        "",
        html! {
            h1 { "Sign-in refused" }
            p role="alert" { (message) }
            p { a href="/console/sign-in" { "Back to sign-in" } }
        },
    );
    (StatusCode::UNAUTHORIZED, Html(page.into_string())).into_response()
}

/// Verifies an ID token; its claims when valid.
async fn verify_id_token(
    state: &AppState,
    d: &Discovery,
    token: &str,
    nonce: &str,
) -> Result<Value, String> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = parts[..] else {
        return Err("the ID token is not a JWS".into());
    };
    let decode = |s: &str| {
        b64()
            .decode(s)
            .map_err(|_| "the ID token is not base64url".to_string())
    };
    let header: Value = serde_json::from_slice(&decode(header)?).map_err(|e| e.to_string())?;
    if header["alg"] != "RS256" {
        return Err(format!("unsupported ID token algorithm {}", header["alg"]));
    }
    let kid = header["kid"].as_str().unwrap_or_default();
    let find = |keys: &Value| {
        keys["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|k| k["kty"] == "RSA" && (kid.is_empty() || k["kid"] == kid))
            .cloned()
    };
    let mut key = find(&jwks(state, d, false).await.map_err(|e| e.to_string())?);
    if key.is_none() {
        key = find(&jwks(state, d, true).await.map_err(|e| e.to_string())?);
    }
    let key = key.ok_or("no key of the provider signed the ID token")?;
    let n = BigUint::from_bytes_be(&decode(key["n"].as_str().unwrap_or_default())?);
    let e = BigUint::from_bytes_be(&decode(key["e"].as_str().unwrap_or_default())?);
    let public = RsaPublicKey::new(n, e).map_err(|e| e.to_string())?;
    let signature =
        Signature::try_from(decode(signature)?.as_slice()).map_err(|e| e.to_string())?;
    let signed = &token[..token.len() - parts[2].len() - 1];
    VerifyingKey::<Sha256>::new(public)
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| "the ID token's signature is not valid".to_string())?;
    let claims: Value = serde_json::from_slice(&decode(payload)?).map_err(|e| e.to_string())?;
    let o = &state.config().console.oidc;
    if claims["iss"].as_str().map(|i| i.trim_end_matches('/'))
        != Some(d.issuer.trim_end_matches('/'))
    {
        return Err("the ID token names another issuer".into());
    }
    let aud_ok = match &claims["aud"] {
        Value::String(a) => *a == o.client_id,
        Value::Array(list) => list.iter().any(|a| *a == o.client_id.as_str()),
        _ => false,
    };
    if !aud_ok {
        return Err("the ID token is for another client".into());
    }
    let now = Utc::now().timestamp();
    if claims["exp"].as_i64().is_none_or(|exp| exp + 60 < now) {
        return Err("the ID token has expired".into());
    }
    let given = claims["nonce"].as_str().unwrap_or_default();
    if !bool::from(given.as_bytes().ct_eq(nonce.as_bytes())) {
        return Err("the ID token's nonce is not this sign-in's".into());
    }
    Ok(claims)
}

/// `GET /console/oidc/callback`: back from the provider.
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    Query(q): Query<CallbackQuery>,
) -> Response {
    if !state.config().console.oidc.enabled() {
        return super::error_page(None, Error::not_found_target("Page", "oidc", "path"));
    }
    if let Some(e) = &q.error {
        return refused(&format!("The provider answered: {e}."));
    }
    let flow = cookie(&headers, FLOW_COOKIE)
        .and_then(|c| flow_key(&state).open_bytes(b"oidc flow", c))
        .and_then(|raw| serde_json::from_slice::<Value>(&raw).ok());
    let Some(flow) = flow else {
        return refused("This sign-in was not started here, or took too long.");
    };
    let expected = flow["state"].as_str().unwrap_or_default();
    let given = q.state.as_deref().unwrap_or_default();
    let fresh = flow["until"]
        .as_i64()
        .is_some_and(|u| u >= Utc::now().timestamp());
    if expected.is_empty() || !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) || !fresh {
        return refused("The sign-in's state does not match.");
    }
    let Some(code) = q.code.as_deref() else {
        return refused("The provider sent no code.");
    };
    let d = match discovery(&state).await {
        Ok(d) => d,
        Err(e) => return super::error_page(None, e),
    };
    let o = &state.config().console.oidc;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", &redirect_uri(&state, &headers)),
        ("client_id", &o.client_id),
        ("client_secret", o.client_secret.expose()),
        (
            "code_verifier",
            flow["verifier"].as_str().unwrap_or_default(),
        ),
    ];
    let answer = http().post(&d.token_endpoint).form(&form).send().await;
    let tokens: Value = match answer {
        Ok(r) if r.status().is_success() => r.json().await.unwrap_or(Value::Null),
        Ok(r) => {
            return refused(&format!(
                "The provider refused the code (HTTP {}).",
                r.status().as_u16()
            ))
        }
        Err(e) => return super::error_page(None, upstream("token", e)),
    };
    let Some(id_token) = tokens["id_token"].as_str() else {
        return refused("The provider sent no ID token.");
    };
    let nonce = flow["nonce"].as_str().unwrap_or_default();
    let claims = match verify_id_token(&state, &d, id_token, nonce).await {
        Ok(c) => c,
        Err(why) => {
            tracing::warn!(reason = %why, "OIDC sign-in refused");
            return refused(&format!("The identity could not be verified: {why}."));
        }
    };
    let email = claims["email"].as_str().unwrap_or_default();
    if email.is_empty() || claims["email_verified"] == Value::Bool(false) {
        return refused("The provider did not vouch for an email address.");
    }
    let users = match state.store().system().active_users_by_email(email).await {
        Ok(u) => u,
        Err(e) => return super::error_page(None, e),
    };
    let [(org, user_id)] = users[..] else {
        return refused("No single active user of an organization has this email.");
    };
    let next = safe_next(flow["next"].as_str());
    let who = SignedIn {
        org,
        user_id,
        method: "oidc",
        peer: Some(peer.ip()),
        next: &next,
    };
    match open_session(&state, &headers, who).await {
        Ok(Some(mut r)) => {
            let secure = secure_cookies(&state, &headers);
            set_cookie(&mut r, cookie_text(FLOW_COOKIE, "", Some(0), secure));
            r
        }
        Ok(None) => refused("No single active user of an organization has this email."),
        Err(e) => super::error_page(None, e),
    }
}
