//! OpenID Connect sign-in against a fake provider on loopback that speaks the protocol:
//! discovery, JWKS, an authorization endpoint that records the nonce and PKCE challenge, and a
//! token endpoint that checks the verifier and the client and answers an RS256 ID token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use palisade_server::config::{OidcConfig, Secret};
use palisade_test_utils::console::ConsoleClient;
use palisade_test_utils::webdriver::Browser;
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{fixture_with, Fixture};

const CLIENT: &str = "palisade-console";
const SECRET: &str = "provider-client-secret";

/// What the fake provider does wrong, when asked to.
#[derive(Clone, Copy, PartialEq)]
enum Fault {
    None,
    WrongNonce,
    ForeignKey,
}

struct Idp {
    issuer: String,
    key: RsaPrivateKey,
    foreign: RsaPrivateKey,
    email: String,
    fault: Fault,
    /// code → (nonce, PKCE challenge)
    codes: HashMap<String, (String, String)>,
}

type Shared = Arc<Mutex<Idp>>;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

async fn discovery(State(s): State<Shared>) -> Json<Value> {
    let issuer = s.lock().unwrap().issuer.clone();
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks(State(s): State<Shared>) -> Json<Value> {
    let idp = s.lock().unwrap();
    let public = idp.key.to_public_key();
    Json(json!({"keys": [{
        "kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
        "n": b64(&public.n().to_bytes_be()), "e": b64(&public.e().to_bytes_be()),
    }]}))
}

async fn authorize(State(s): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], CLIENT);
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q["scope"].split(' ').any(|s| s == "openid"));
    let code = uuid::Uuid::new_v4().to_string();
    s.lock().unwrap().codes.insert(
        code.clone(),
        (q["nonce"].clone(), q["code_challenge"].clone()),
    );
    let mut to = url::Url::parse(&q["redirect_uri"]).unwrap();
    to.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &q["state"]);
    Redirect::to(to.as_str()).into_response()
}

async fn token(State(s): State<Shared>, Form(f): Form<HashMap<String, String>>) -> Response {
    let mut idp = s.lock().unwrap();
    let Some((nonce, challenge)) = idp.codes.remove(&f["code"]) else {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant"})),
        )
            .into_response();
    };
    // PKCE: the verifier must hash to the challenge the browser carried.
    let verifier = f.get("code_verifier").cloned().unwrap_or_default();
    if b64(&Sha256::digest(verifier.as_bytes())) != challenge
        || f["client_id"] != CLIENT
        || f["client_secret"] != SECRET
        || f["grant_type"] != "authorization_code"
    {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant"})),
        )
            .into_response();
    }
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "iss": idp.issuer, "aud": CLIENT, "sub": "user-1", "email": idp.email, "email_verified": true,
        "iat": now, "exp": now + 300,
        "nonce": if idp.fault == Fault::WrongNonce { "another-nonce".to_string() } else { nonce },
    });
    let header = json!({"alg": "RS256", "kid": "k1", "typ": "JWT"});
    let signed = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let key = if idp.fault == Fault::ForeignKey {
        idp.foreign.clone()
    } else {
        idp.key.clone()
    };
    let signature = SigningKey::<Sha256>::new(key)
        .sign(signed.as_bytes())
        .to_vec();
    Json(json!({"id_token": format!("{signed}.{}", b64(&signature)), "access_token": "at", "token_type": "Bearer"}))
        .into_response()
}

async fn provider(email: &str) -> (String, Shared) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let mut rng = rand::thread_rng();
    let shared = Arc::new(Mutex::new(Idp {
        issuer: issuer.clone(),
        key: RsaPrivateKey::new(&mut rng, 2048).unwrap(),
        foreign: RsaPrivateKey::new(&mut rng, 2048).unwrap(),
        email: email.to_string(),
        fault: Fault::None,
        codes: HashMap::new(),
    }));
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .with_state(shared.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (issuer, shared)
}

async fn with_provider() -> (Fixture, Shared) {
    let (issuer, idp) = provider("ana@contoso.com").await;
    let f = fixture_with(move |c| {
        c.console.oidc = OidcConfig {
            issuer,
            client_id: CLIENT.into(),
            client_secret: Secret::new(SECRET),
            display_name: Some("Contoso ID".into()),
            allow_http: true,
            ..Default::default()
        };
    })
    .await;
    (f, idp)
}

/// Start → provider → callback, over HTTP; the callback's answer.
async fn round_trip(c: &mut ConsoleClient) -> palisade_test_utils::Resp {
    let r = c
        .get("/console/oidc/start?next=%2Fconsole%2Fdashboard")
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let to_provider = r.header("location").unwrap().to_string();
    let back = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&to_provider)
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 303);
    let callback = url::Url::parse(back.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(callback.path(), "/console/oidc/callback");
    c.get(&format!(
        "{}?{}",
        callback.path(),
        callback.query().unwrap()
    ))
    .await
}

#[tokio::test]
async fn oidc_signs_in_with_pkce_and_a_verified_id_token() {
    let (f, idp) = with_provider().await;
    let mut c = ConsoleClient::new(&f.app);
    let page = c.get("/console/sign-in").await;
    assert!(
        page.text.contains("Sign in with Contoso ID"),
        "{}",
        page.text
    );
    let r = round_trip(&mut c).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.header("location"), Some("/console/dashboard"));
    assert_eq!(c.get("/console/dashboard").await.status, 200);
    let log = f.app.get("/api/v2/audit-log", Some(&f.org.admin)).await;
    assert!(log.text.contains("console.sign-in.oidc"), "{}", log.text);

    // A token whose nonce is not this sign-in's is refused, as is one signed by another key.
    for fault in [Fault::WrongNonce, Fault::ForeignKey] {
        idp.lock().unwrap().fault = fault;
        let mut c = ConsoleClient::new(&f.app);
        let r = round_trip(&mut c).await;
        assert_eq!(r.status, 401, "{}", r.text);
        assert_eq!(c.get("/console").await.status, 303, "no session");
    }
    idp.lock().unwrap().fault = Fault::None;
    // A callback whose state is not the flow's is refused.
    let mut c = ConsoleClient::new(&f.app);
    c.get("/console/oidc/start").await;
    let r = c.get("/console/oidc/callback?code=x&state=forged").await;
    assert_eq!(r.status, 401, "{}", r.text);
    // An identity no user has is refused.
    idp.lock().unwrap().email = "stranger@elsewhere.example".into();
    let mut c = ConsoleClient::new(&f.app);
    let r = round_trip(&mut c).await;
    assert_eq!(r.status, 401, "{}", r.text);
}

#[tokio::test]
async fn oidc_sign_in_in_the_browser() {
    let (f, _idp) = with_provider().await;
    let b = Browser::start().await;
    b.goto(&f.app.url("/console/sign-in")).await;
    b.press("#sso").await;
    // The browser went to the provider and came back signed in.
    b.find("header.top form.signout").await;
    assert!(b.source().await.contains("Incidents"));
    b.quit().await;
}
