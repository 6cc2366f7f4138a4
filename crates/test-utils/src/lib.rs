//! Test helpers shared by the integration suites.
//!
//! `PALISADE_TEST_DATABASE` selects the engine: unset or `sqlite` gives every test a fresh
//! SQLite file; a `postgres://…/db` URL gives every test a fresh PostgreSQL database created
//! through that server (and dropped afterwards).

use std::net::SocketAddr;

pub mod axe;
pub mod console;
pub mod fakes;
pub mod receiver;
pub mod webdriver;
pub use palisade_store::testing::TestDb;
pub use receiver::{Hit, Receiver, Reply};

use base64::Engine;
use palisade_server::config::{Config, DatabaseUrl, Secret};
use palisade_server::{admin, AppState, Application};
use serde_json::Value;
use tokio::sync::oneshot;
use uuid::Uuid;

/// The six incident sources as the API spells them (written out here, independent of the
/// server's own list, so that tests notice when it changes).
pub const SOURCES: [&str; 6] = [
    "Sentinel",
    "DefenderXDR",
    "CrowdStrike",
    "QRadar",
    "Splunk",
    "SentinelOne",
];

/// A service-account credential.
#[derive(Debug, Clone)]
pub struct Cred {
    pub client_id: Uuid,
    pub secret: String,
}

impl Cred {
    pub fn header(&self) -> String {
        let raw = format!("{}:{}", self.client_id, self.secret);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

/// An organization made by `admin bootstrap`, with its admin credential.
#[derive(Debug, Clone)]
pub struct TestOrg {
    pub id: Uuid,
    pub account_id: Uuid,
    pub admin: Cred,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    pub fn code(&self) -> &str {
        self.json["code"].as_str().unwrap_or("")
    }

    pub fn data(&self) -> &Value {
        &self.json["data"]
    }

    /// The string `field` of every item of a listing's `data`, in order.
    pub fn items(&self, field: &str) -> Vec<&str> {
        let Some(items) = self.data().as_array() else {
            panic!("not a listing: {} {}", self.status, self.text)
        };
        items
            .iter()
            .map(|i| match i[field].as_str() {
                Some(s) => s,
                None => panic!("an item without a string {field}: {i}"),
            })
            .collect()
    }

    /// Asserts a ProblemDetails response with this status and code and every required field.
    /// The first message of a field's error in a problem document.
    #[track_caller]
    pub fn first_error(&self, field: &str) -> &str {
        self.json["errors"][field][0]
            .as_str()
            .unwrap_or_else(|| panic!("no error for {field:?}: {}", self.text))
    }

    pub fn assert_problem(&self, status: u16, code: &str) -> &Self {
        assert_eq!(self.status, status, "status of {}", self.text);
        assert!(
            self.content_type().starts_with("application/problem+json"),
            "content type {:?} of {}",
            self.content_type(),
            self.text
        );
        assert_eq!(self.code(), code, "code of {}", self.text);
        for field in [
            "type",
            "title",
            "detail",
            "instance",
            "requestId",
            "timestamp",
        ] {
            assert!(
                self.json[field].is_string(),
                "problem lacks {field}: {}",
                self.text
            );
        }
        assert_eq!(self.json["status"], status, "{}", self.text);
        assert_eq!(
            self.json["requestId"].as_str(),
            self.header("x-request-id"),
            "requestId matches the header"
        );
        self
    }
}

/// The real application, listening on a free loopback port, on its own database.
pub struct TestApp {
    pub addr: SocketAddr,
    pub state: AppState,
    pub config: Config,
    pub db: TestDb,
    client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<anyhow_free::Result>>,
}

mod anyhow_free {
    pub type Result = std::result::Result<(), String>;
}

/// The configuration tests start from.
pub fn test_config(db: &TestDb) -> Config {
    Config {
        database_url: DatabaseUrl(db.url.clone()),
        database_max_connections: 5,
        listen: "127.0.0.1:0".into(),
        secret_key: Secret(format!("test-secret-{}", Uuid::new_v4())),
        log: std::env::var("TEST_LOG").unwrap_or_else(|_| "warn".into()),
        ..Config::default()
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(configure: impl FnOnce(&mut Config)) -> TestApp {
        let db = TestDb::new().await;
        let mut config = test_config(&db);
        configure(&mut config);
        palisade_server::telemetry::init(&config.log, &config.log_format);
        let (addr, state, tx, handle) = start(config.clone()).await;
        TestApp {
            addr,
            state,
            config,
            db,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A second replica on the same database, with the same configuration and secret.
    pub async fn replica(&self) -> Replica {
        let (addr, state, tx, handle) = start(self.config.clone()).await;
        Replica {
            addr,
            state,
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await
                .expect("server task")
                .expect("server stopped cleanly");
        }
    }

    /// `admin bootstrap`: a new organization with an Admin service account holding every scope.
    pub async fn org(&self, name: &str) -> TestOrg {
        let b = admin::bootstrap(&self.state, name)
            .await
            .expect("bootstrap");
        TestOrg {
            id: b.organization_id,
            account_id: b.account_id,
            admin: Cred {
                client_id: b.client_id,
                secret: b.client_secret,
            },
        }
    }

    /// The organization's verified id, as the store hands it out (for direct store calls).
    pub async fn org_id(&self, org: &TestOrg) -> palisade_store::OrgId {
        self.state
            .store()
            .system()
            .organization(org.id)
            .await
            .expect("read organization")
            .expect("the organization exists")
            .id
    }

    /// The organization's outbox events, oldest first, read from the store.
    pub async fn events(&self, org: &TestOrg) -> Vec<palisade_store::StoredEvent> {
        self.state
            .store()
            .tenant(&self.org_id(org).await)
            .events()
            .await
            .expect("read the outbox")
    }

    /// The payloads of the organization's outbox events of one type, oldest first.
    pub async fn event_payloads(&self, org: &TestOrg, event_type: &str) -> Vec<serde_json::Value> {
        self.events(org)
            .await
            .into_iter()
            .filter(|e| e.event_type == event_type)
            .map(|e| e.payload)
            .collect()
    }

    pub async fn workspace(&self, org: &TestOrg, name: &str) -> Uuid {
        admin::create_workspace(&self.state, org.id, name, None)
            .await
            .expect("workspace")
            .id
            .uuid()
    }

    /// Creates a service account through the API; returns its credential and the response.
    pub async fn service_account(&self, by: &Cred, body: &Value) -> (Cred, Resp) {
        let r = self.post("/api/v2/service-accounts", Some(by), body).await;
        assert_eq!(r.status, 201, "create service account: {}", r.text);
        let cred = Cred {
            client_id: r.data()["clientId"].as_str().unwrap().parse().unwrap(),
            secret: r.data()["clientSecret"].as_str().unwrap().to_string(),
        };
        (cred, r)
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        cred: Option<&Cred>,
        body: Option<&Value>,
    ) -> Resp {
        let mut req = self.client.request(method, self.url(path));
        if let Some(c) = cred {
            req = req.header("authorization", c.header());
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(serde_json::to_vec(b).unwrap());
        }
        Self::read(req.send().await.expect("request sent")).await
    }

    /// Sends raw bytes with the given content type.
    pub async fn send_raw(
        &self,
        method: reqwest::Method,
        path: &str,
        cred: Option<&Cred>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Resp {
        let mut req = self.client.request(method, self.url(path)).body(body);
        if let Some(c) = cred {
            req = req.header("authorization", c.header());
        }
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        Self::read(req.send().await.expect("request sent")).await
    }

    pub async fn read(r: reqwest::Response) -> Resp {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap_or_default();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            text,
            json,
        }
    }

    /// How many items a listing answers (the length of its `data` array).
    pub async fn count(&self, path: &str, cred: &Cred) -> usize {
        let r = self.get(path, Some(cred)).await;
        match r.data().as_array() {
            Some(items) => items.len(),
            None => panic!("{path}: not a listing: {} {}", r.status, r.text),
        }
    }

    pub async fn get(&self, path: &str, cred: Option<&Cred>) -> Resp {
        self.send(reqwest::Method::GET, path, cred, None).await
    }

    pub async fn post(&self, path: &str, cred: Option<&Cred>, body: &Value) -> Resp {
        self.send(reqwest::Method::POST, path, cred, Some(body))
            .await
    }

    pub async fn put(&self, path: &str, cred: Option<&Cred>, body: &Value) -> Resp {
        self.send(reqwest::Method::PUT, path, cred, Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, cred: Option<&Cred>) -> Resp {
        self.send(reqwest::Method::DELETE, path, cred, None).await
    }
}

type Started = (
    SocketAddr,
    AppState,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<anyhow_free::Result>,
);

async fn start(config: Config) -> Started {
    let app = Application::build(config)
        .await
        .expect("application builds");
    let addr = app.local_addr();
    let state = app.state().clone();
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        app.run_until(async {
            let _ = rx.await;
        })
        .await
        .map_err(|e| e.to_string())
    });
    (addr, state, tx, handle)
}

/// Another replica of a [`TestApp`] (same database); stops when dropped.
pub struct Replica {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<anyhow_free::Result>>,
}

impl Replica {
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await
                .expect("replica task")
                .expect("replica stopped cleanly");
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.abort();
        }
    }
}
