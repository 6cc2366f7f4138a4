//! Sign-in, sessions and CSRF.
//!
//! - The session cookie holds 32 random bytes (base64url); the database keeps only its keyed
//!   hash, so a copy of the database opens no session. The cookie is `HttpOnly`,
//!   `SameSite=Lax`, `Path=/console`, and `Secure` unless the browser reaches the server over
//!   plain HTTP on loopback (`console.force_secure_cookies` sets it there too).
//! - A session ends after `console.session_idle_secs` without use or
//!   `console.session_absolute_secs` after sign-in, at sign-out, and when the user's password
//!   changes; the next request goes to the sign-in page ("your session expired").
//! - Every form carries the session's CSRF token, compared in constant time before any
//!   handler runs; the sign-in form (before any session) carries the value of a pre-session
//!   cookie instead (double submit).
//! - Failed sign-ins count per (email, address) and per address ([`Throttle`]): over a limit
//!   that address gets 429 for that email (or for all), while the right password from
//!   elsewhere still works. An unknown email costs the same argon2 verification as a wrong
//!   password.
//!
//! [`Throttle`]: crate::auth::throttle::Throttle

use std::net::IpAddr;

use axum::body::Body;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use base64::Engine;
use chrono::{Duration, Utc};
use http_body_util::BodyExt;
use maud::html;
use palisade_store::NewSession;
use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::{layout, ConsoleUser};
use crate::access::OrgCtx;
use crate::auth::user::{decoy_hash, verify_password};
use crate::auth::Principal;
use crate::http::registry::peer_address;
use crate::AppState;

pub const SESSION_COOKIE: &str = "palisade_session";
/// The pre-session cookie whose value the sign-in form carries (double-submit CSRF).
pub const PRE_COOKIE: &str = "palisade_presession";
/// Largest form body read (a comment is at most 32 KiB of text).
const MAX_FORM_BYTES: usize = 256 * 1024;
/// Activity is written at most this often per session.
const TOUCH_EVERY_SECS: i64 = 60;

/// Marks a request whose session cookie named an ended session.
#[derive(Clone, Copy)]
pub struct Expired;

/// 32 random bytes, base64url.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn token_hash(state: &AppState, token: &str) -> String {
    state
        .auth()
        .hash_secret(&format!("console-session:{token}"))
}

/// The value of cookie `name`.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether cookies get `Secure`: always, unless the browser talks plain HTTP to a loopback
/// host (the server itself speaks plain HTTP; anywhere else a TLS proxy is in front).
fn secure_cookies(state: &AppState, headers: &HeaderMap) -> bool {
    if state.config().console.force_secure_cookies {
        return true;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host),
    };
    let loopback = name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    !loopback
}

fn set_cookie(r: &mut Response, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn cookie_text(name: &str, value: &str, max_age: Option<i64>, secure: bool) -> String {
    let mut c = format!("{name}={value}; Path=/console; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// Resolves the session cookie into a [`ConsoleUser`] (put in the request's extensions).
pub(super) async fn resolve(state: &AppState, parts: &mut Parts) -> Result<(), Response> {
    let Some(token) = cookie(&parts.headers, SESSION_COOKIE).map(str::to_string) else {
        return Ok(());
    };
    let hash = token_hash(state, &token);
    let system = state.store().system();
    let fail = |e| super::error_page(None, e);
    let Some(session) = system.find_session(&hash).await.map_err(fail)? else {
        parts.extensions.insert(Expired);
        return Ok(());
    };
    let now = Utc::now();
    let idle = Duration::seconds(state.config().console.session_idle_secs as i64);
    if session.expires_at <= now || session.last_seen_at + idle <= now {
        system.delete_session(&hash).await.map_err(fail)?;
        parts.extensions.insert(Expired);
        return Ok(());
    }
    let record = state
        .store()
        .tenant(&session.org)
        .user_auth_record(session.user_id)
        .await
        .map_err(fail)?;
    let Some(record) = record.filter(|r| r.active) else {
        system.delete_session(&hash).await.map_err(fail)?;
        parts.extensions.insert(Expired);
        return Ok(());
    };
    let email = record.description.clone();
    let principal: std::sync::Arc<Principal> = Principal::for_user(record);
    crate::http::context::set_principal(format!("user:{}", principal.service_account_id));
    // The queue's background refresh is not activity.
    let polling =
        parts.headers.contains_key("hx-request") && parts.uri.path() == "/console/incidents/rows";
    if !polling && (now - session.last_seen_at).num_seconds() >= TOUCH_EVERY_SECS {
        system.touch_session(&hash, now).await.map_err(fail)?;
    }
    parts.extensions.insert(ConsoleUser {
        ctx: OrgCtx::new(principal),
        csrf: session.csrf_token,
        address: peer_address(parts),
        email,
    });
    Ok(())
}

/// Checks the CSRF token of a form POST; hands back the body it read.
pub(super) async fn check_csrf(parts: &Parts, body: Body) -> Result<Body, Response> {
    let expected = match parts.extensions.get::<ConsoleUser>() {
        Some(user) => user.csrf.clone(),
        None if parts.uri.path() == "/console/sign-in" => cookie(&parts.headers, PRE_COOKIE)
            .unwrap_or_default()
            .to_string(),
        // No session: the handler sends the browser to the sign-in page.
        None => return Ok(body),
    };
    let bytes = match http_body_util::Limited::new(body, MAX_FORM_BYTES)
        .collect()
        .await
    {
        Ok(c) => c.to_bytes(),
        Err(_) => {
            return Err(refused(
                parts,
                StatusCode::PAYLOAD_TOO_LARGE,
                "The form is too large.",
            ))
        }
    };
    let given = url::form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let ok = !expected.is_empty() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()));
    if !ok {
        return Err(refused(
            parts,
            StatusCode::FORBIDDEN,
            "The form's CSRF token is missing or does not match your session. Reload the page and try again.",
        ));
    }
    Ok(Body::from(bytes))
}

fn refused(parts: &Parts, status: StatusCode, message: &str) -> Response {
    let user = parts.extensions.get::<ConsoleUser>();
    let body = layout::page(
        user,
        "Refused",
        "",
        html! {
            h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) }
            p { (message) }
            p { a href="/console" { "Back to the console" } }
        },
    );
    (status, Html(body.into_string())).into_response()
}

#[derive(Deserialize, Default)]
pub struct SignInQuery {
    next: Option<String>,
    expired: Option<String>,
}

/// Only a console path is a place to go back to.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/console") && !n.starts_with("//") && !n.contains('\\') => {
            n.to_string()
        }
        _ => "/console".into(),
    }
}

fn sign_in_form(pre: &str, next: &str, email: &str, message: Option<&str>) -> maud::Markup {
    layout::page(
        None,
        "Sign in",
        "",
        html! {
            h1 { "Sign in to Palisade" }
            @if let Some(m) = message { p.notice role="alert" { (m) } }
            form.signin method="post" action="/console/sign-in" {
                input type="hidden" name="csrf" value=(pre);
                input type="hidden" name="next" value=(next);
                label for="email" { "Email" }
                input #email type="email" name="email" value=(email) autocomplete="username" required autofocus;
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="current-password" required;
                button type="submit" { "Sign in" }
            }
        },
    )
}

pub async fn sign_in_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: Option<Extension<ConsoleUser>>,
    axum::extract::Query(q): axum::extract::Query<SignInQuery>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    if user.is_some() {
        return Redirect::to(&next).into_response();
    }
    let (pre, fresh) = match cookie(&headers, PRE_COOKIE) {
        Some(v) if v.len() >= 32 => (v.to_string(), false),
        _ => (random_token(), true),
    };
    let message = q
        .expired
        .is_some()
        .then_some("Your session has ended. Sign in again.");
    let mut r = Html(sign_in_form(&pre, &next, "", message).into_string()).into_response();
    if fresh {
        let secure = secure_cookies(&state, &headers);
        set_cookie(&mut r, cookie_text(PRE_COOKIE, &pre, None, secure));
    }
    r
}

#[derive(Deserialize)]
pub struct SignInForm {
    email: String,
    password: String,
    next: Option<String>,
}

/// The throttle key of an email: failures are counted per (email, address).
fn email_key(email: &str) -> Uuid {
    let digest = Sha256::digest(email.trim().to_lowercase().as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(b)
}

pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Form(form): Form<SignInForm>,
) -> Response {
    let next = safe_next(form.next.as_deref());
    let peer = Some(peer.ip());
    let key = email_key(&form.email);
    let pre = cookie(&headers, PRE_COOKIE).unwrap_or_default().to_string();
    let again = |status: StatusCode, message: &str| {
        let page = sign_in_form(&pre, &next, &form.email, Some(message));
        (status, Html(page.into_string())).into_response()
    };
    if let Err(e) = state.sign_ins().check(Some(key), peer) {
        let mut r = again(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed sign-ins from this address. Wait a few minutes and try again.",
        );
        if let palisade_domain::Error::RateLimited { retry_after_secs } = e {
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        return r;
    }
    let candidates = match state.store().system().login_candidates(&form.email).await {
        Ok(c) => c,
        Err(e) => return super::error_page(None, e),
    };
    let password = form.password.clone();
    let verified = tokio::task::spawn_blocking(move || {
        if candidates.is_empty() {
            verify_password(&password, decoy_hash());
            return None;
        }
        candidates
            .into_iter()
            .find(|c| c.active && verify_password(&password, &c.password_hash))
    })
    .await
    .ok()
    .flatten();
    let Some(found) = verified else {
        state.sign_ins().record_failure(Some(key), peer);
        return again(
            StatusCode::UNAUTHORIZED,
            "The email or password is not right.",
        );
    };
    let token = random_token();
    let csrf = random_token();
    let c = &state.config().console;
    let created = state
        .store()
        .tenant(&found.org)
        .create_session(NewSession {
            token_hash: &token_hash(&state, &token),
            user_id: found.user_id,
            csrf_token: &csrf,
            expires_at: Utc::now() + Duration::seconds(c.session_absolute_secs as i64),
            address: peer.map(|p| p.to_string()),
            method: "password",
        })
        .await;
    match created {
        Ok(true) => {}
        Ok(false) => {
            return again(
                StatusCode::UNAUTHORIZED,
                "The email or password is not right.",
            )
        }
        Err(e) => return super::error_page(None, e),
    }
    if let Ok(Some(record)) = state
        .store()
        .tenant(&found.org)
        .user_auth_record(found.user_id)
        .await
    {
        let user = ConsoleUser {
            ctx: OrgCtx::new(Principal::for_user(record)),
            csrf: String::new(),
            address: peer,
            email: None,
        };
        user.audit(&state, "sign-in", "/console/sign-in".into(), 303)
            .await;
    }
    let mut r = Redirect::to(&next).into_response();
    let secure = secure_cookies(&state, &headers);
    set_cookie(
        &mut r,
        cookie_text(
            SESSION_COOKIE,
            &token,
            Some(c.session_absolute_secs as i64),
            secure,
        ),
    );
    r
}

pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: Option<Extension<ConsoleUser>>,
) -> Response {
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        let hash = token_hash(&state, token);
        if let Err(e) = state.store().system().delete_session(&hash).await {
            return super::error_page(None, e);
        }
    }
    if let Some(Extension(user)) = user {
        user.audit(&state, "sign-out", "/console/sign-out".into(), 303)
            .await;
    }
    let mut r = Redirect::to("/console/sign-in").into_response();
    let secure = secure_cookies(&state, &headers);
    set_cookie(&mut r, cookie_text(SESSION_COOKIE, "", Some(0), secure));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_console_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/console/audit")), "/console/audit");
        assert_eq!(safe_next(Some("//evil.example/console")), "/console");
        assert_eq!(safe_next(Some("https://evil.example")), "/console");
        assert_eq!(safe_next(Some("/console\\@evil")), "/console");
        assert_eq!(safe_next(None), "/console");
    }

    #[test]
    fn cookies_are_http_only_lax_and_secure_when_asked() {
        let c = cookie_text(SESSION_COOKIE, "v", Some(60), true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.ends_with("Secure"));
        assert!(!cookie_text(SESSION_COOKIE, "v", None, false).contains("Secure"));
    }
}
