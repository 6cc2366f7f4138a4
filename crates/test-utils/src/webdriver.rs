//! A small W3C WebDriver client over reqwest, driving Debian's `chromium` through
//! `chromedriver` (both installed by `.ci/run`), headless, for the console's browser tests.
//! One [`Browser`] is one chromedriver process with one session; dropping it ends both.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

/// The W3C element reference key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    driver: Child,
    base: String,
    http: reqwest::Client,
}

/// A found element.
#[derive(Debug, Clone)]
pub struct Element(String);

fn driver_path() -> String {
    for p in ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"] {
        if std::path::Path::new(p).exists() {
            return p.to_string();
        }
    }
    panic!(
        "chromedriver is not installed: the console's browser tests need Debian's `chromium` and \
         `chromium-driver` (`apt-get install chromium chromium-driver`, done by `.ci/run setup`)"
    )
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a headless session.
    ///
    /// The port is found by binding port 0 and letting it go, so another process (a test's
    /// server on port 0) can take it before chromedriver binds it: chromedriver then exits, or
    /// the port answers something that is not chromedriver. Either way a new port is tried;
    /// readiness is chromedriver's own `/status` answer (`value.ready: true`).
    pub async fn start() -> Browser {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        let mut failures = Vec::new();
        for _ in 0..4 {
            match Self::spawn_driver(&http).await {
                Ok((driver, root)) => return Self::open_session(driver, root, http).await,
                Err(why) => failures.push(why),
            }
        }
        panic!("chromedriver did not start: {}", failures.join("; "))
    }

    /// One attempt: chromedriver on a fresh port, ready within 30 seconds (2 shared cores
    /// running the rest of the suite can make it slow), or the reason it is not.
    async fn spawn_driver(http: &reqwest::Client) -> Result<(Child, String), String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        // Its own process group: the browser it starts is in it too, and goes with it even
        // when a test panics before `quit`.
        // Its output goes to a file, read back only to say why an attempt failed.
        let log_path = std::env::temp_dir().join(format!("palisade-chromedriver-{port}.log"));
        let log = std::fs::File::create(&log_path).expect("chromedriver log file");
        let mut driver = Command::new(driver_path())
            .process_group(0)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start chromedriver");
        let failed = |why: String| {
            let out = std::fs::read_to_string(&log_path).unwrap_or_default();
            let _ = std::fs::remove_file(&log_path);
            let tail: String = out
                .chars()
                .rev()
                .take(400)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            Err(format!("{why} [output: {}]", tail.trim()))
        };
        let root = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        loop {
            if let Ok(Some(exit)) = driver.try_wait() {
                return failed(format!("chromedriver on port {port} exited ({exit})"));
            }
            let status: Option<Value> = match http.get(format!("{root}/status")).send().await {
                Ok(r) if r.status().is_success() => r.json().await.ok(),
                _ => None,
            };
            if status.is_some_and(|s| s["value"]["ready"] == Value::Bool(true)) {
                let _ = std::fs::remove_file(&log_path);
                return Ok((driver, root));
            }
            if started.elapsed() > Duration::from_secs(30) {
                end_group(&mut driver);
                return failed(format!("chromedriver on port {port} not ready after 30 s"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn open_session(driver: Child, root: String, http: reqwest::Client) -> Browser {
        // Built first, so that a panic below still ends the driver's process group.
        let mut browser = Browser {
            driver,
            base: root.clone(),
            http,
        };
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,900", "--no-first-run", "--disable-extensions",
                         "--disable-background-networking", "--disable-sync", "--disable-default-apps",
                         "--no-default-browser-check", "--disable-component-update"]
            }
        }}});
        let r: Value = browser
            .http
            .post(format!("{root}/session"))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session JSON");
        let id = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {r}"));
        browser.base = format!("{root}/session/{id}");
        browser
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r: Value = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
            .json()
            .await
            .expect("WebDriver JSON");
        if r["value"]["error"].is_string() {
            panic!("{method} {path}: {}", r["value"]);
        }
        r["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    pub async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub async fn source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The element matching `css`, waiting up to 10 s for it.
    pub async fn find(&self, css: &str) -> Element {
        let started = Instant::now();
        loop {
            let r: Value = self
                .http
                .post(format!("{}/element", self.base))
                .json(&json!({"using": "css selector", "value": css}))
                .send()
                .await
                .expect("find")
                .json()
                .await
                .expect("find JSON");
            if let Some(id) = r["value"][ELEMENT].as_str() {
                return Element(id.to_string());
            }
            if started.elapsed() > Duration::from_secs(10) {
                let source = self.source().await;
                let shown: String = source.chars().take(3000).collect();
                panic!("no element {css} on {}: {r}\n{shown}", self.url().await);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// How many elements match `css` now.
    pub async fn count(&self, css: &str) -> usize {
        self.call(
            reqwest::Method::POST,
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )
        .await
        .as_array()
        .map(Vec::len)
        .unwrap_or(0)
    }

    pub async fn click(&self, e: &Element) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/click", e.0),
            Some(json!({})),
        )
        .await;
    }

    pub async fn type_text(&self, e: &Element, text: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/value", e.0),
            Some(json!({"text": text})),
        )
        .await;
    }

    pub async fn clear(&self, e: &Element) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/clear", e.0),
            Some(json!({})),
        )
        .await;
    }

    pub async fn text(&self, e: &Element) -> String {
        self.call(
            reqwest::Method::GET,
            &format!("/element/{}/text", e.0),
            None,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Chooses the `<option>` with `value` in the `<select>` matching `css`.
    pub async fn select(&self, css: &str, value: &str) {
        let option = self.find(&format!("{css} option[value=\"{value}\"]")).await;
        self.click(&option).await;
    }

    /// Fills the field matching `css`.
    pub async fn fill(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.clear(&e).await;
        self.type_text(&e, text).await;
    }

    /// Clicks what matches `css`.
    pub async fn press(&self, css: &str) {
        let e = self.find(css).await;
        self.click(&e).await;
    }

    /// Waits up to 10 s for the page source to contain `text`.
    pub async fn wait_for_text(&self, text: &str) {
        self.wait_for_text_within(text, Duration::from_secs(10))
            .await
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page; its return value.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Runs `script` in the page until it calls its last argument (the callback), up to
    /// 60 s; the value it was called with.
    pub async fn execute_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.call(
            reqwest::Method::POST,
            "/timeouts",
            Some(json!({"script": 60_000})),
        )
        .await;
        self.call(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Waits up to `within` for the page source to contain `text`.
    pub async fn wait_for_text_within(&self, text: &str, within: Duration) {
        let started = Instant::now();
        while !self.source().await.contains(text) {
            assert!(
                started.elapsed() < within,
                "{text:?} never appeared on {} within {within:?}",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A cookie's value.
    pub async fn cookie(&self, name: &str) -> Option<String> {
        let all = self.call(reqwest::Method::GET, "/cookie", None).await;
        all.as_array()?
            .iter()
            .find(|c| c["name"] == name)
            .and_then(|c| c["value"].as_str().map(str::to_string))
    }

    pub async fn delete_cookie(&self, name: &str) {
        self.call(reqwest::Method::DELETE, &format!("/cookie/{name}"), None)
            .await;
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        let b64 = self.call(reqwest::Method::GET, "/screenshot", None).await;
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or_default())
            .expect("PNG")
    }

    /// Writes a screenshot to `docs/console/{name}.png` when `PALISADE_SCREENSHOTS=1`.
    pub async fn screenshot_to_docs(&self, name: &str) {
        if std::env::var("PALISADE_SCREENSHOTS").as_deref() != Ok("1") {
            return;
        }
        let png = self.screenshot().await;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/console");
        std::fs::create_dir_all(&dir).expect("docs/console");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }

    /// Ends the session, the browser and chromedriver.
    pub async fn quit(self) {
        let _ = self.http.delete(&self.base).send().await;
        // Drop ends the process group.
    }
}

/// Ends chromedriver and the browser it started: the driver leads its process group (see
/// `spawn_driver`).
fn end_group(driver: &mut Child) {
    let _ = Command::new("kill")
        .arg("-KILL")
        .arg("--")
        .arg(format!("-{}", driver.id()))
        .status();
    let _ = driver.kill();
    let _ = driver.wait();
}

impl Drop for Browser {
    fn drop(&mut self) {
        end_group(&mut self.driver);
    }
}
