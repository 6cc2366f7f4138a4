//! The `palisade` binary end to end: migrate, admin bootstrap, admin workspace create, serve
//! (with SIGTERM), demo, and a bad configuration. Runs on the engine the suite is set to.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use palisade_test_utils::{Cred, TestDb};
use serde_json::Value;

fn palisade(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .env("PALISADE_LOG", "info")
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run palisade")
}

fn json_stdout(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(
        text.lines()
            .find(|l| l.starts_with('{'))
            .expect("a JSON line"),
    )
    .expect("valid JSON")
}

/// Waits for the line of a child's stream that satisfies `pick`.
fn wait_line(reader: &mut impl BufRead, pick: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut line = String::new();
    while Instant::now() < deadline {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            panic!("stream ended before the expected line");
        }
        if pick(&line) {
            return line.trim().to_string();
        }
    }
    panic!("timed out waiting for a line");
}

fn terminate(mut child: Child) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn get(url: &str, cred: &Cred) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(url)
        .header("authorization", cred.header())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The credential `admin bootstrap` or `demo` printed.
fn printed_cred(out: &Value) -> Cred {
    Cred {
        client_id: out["clientId"].as_str().unwrap().parse().unwrap(),
        secret: out["clientSecret"].as_str().unwrap().into(),
    }
}

/// `palisade admin bootstrap` of an organization named `org_name`: what it printed.
fn bootstrap(db_url: &str, org_name: &str) -> Value {
    json_stdout(&palisade(&[
        "admin",
        "bootstrap",
        "--org-name",
        org_name,
        "--database",
        db_url,
    ]))
}

/// `palisade admin workspace create`.
fn create_workspace(db_url: &str, org: &str, name: &str) -> std::process::Output {
    palisade(&[
        "admin",
        "workspace",
        "create",
        "--org",
        org,
        "--name",
        name,
        "--database",
        db_url,
    ])
}

#[tokio::test]
async fn migrate_bootstrap_workspace_and_serve() {
    let db = TestDb::new().await;
    let out = json_stdout(&palisade(&["migrate", "--database", &db.url]));
    assert_eq!(
        out["applied"],
        serde_json::json!([1, 2, 3, 4, 5, 6]),
        "every migration, in order"
    );
    let out = json_stdout(&palisade(&["migrate", "--database", &db.url]));
    assert_eq!(out["applied"], serde_json::json!([]), "idempotent");

    let boot = bootstrap(&db.url, "Contoso MSSP");
    for key in ["organizationId", "accountId", "clientId", "clientSecret"] {
        assert!(boot[key].is_string(), "{key} in {boot}");
    }
    let org = boot["organizationId"].as_str().unwrap();
    let ws = json_stdout(&create_workspace(&db.url, org, "Contoso SOC"));
    assert_eq!(ws["name"], "Contoso SOC");
    assert_eq!(ws["accountId"], boot["accountId"]);
    let bad = create_workspace(&db.url, &uuid::Uuid::new_v4().to_string(), "x");
    assert!(!bad.status.success());

    let (child, addr) = serve(&db.url, None);
    let cred = printed_cred(&boot);
    let (status, body) = get(&format!("http://{addr}/api/v2/workspaces"), &cred).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][0]["id"], ws["id"]);
    let status = terminate(child);
    assert!(status.success(), "graceful exit on SIGTERM: {status:?}");
}

#[tokio::test]
async fn demo_prints_a_working_credential() {
    let db = TestDb::new().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["demo", "--database", &db.url, "--listen", "127.0.0.1:0"])
        .env("PALISADE_LOG", "warn")
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let line = wait_line(&mut stdout, |l| l.starts_with('{'));
    let curl = wait_line(&mut stdout, |l| l.contains("curl"));
    let demo: Value = serde_json::from_str(&line).unwrap();
    let base = demo["baseUrl"].as_str().unwrap().to_string();
    assert!(curl.contains(&format!("{base}/users/profile")), "{curl}");
    let cred = printed_cred(&demo);
    let (status, profile) = get(&format!("{base}/users/profile"), &cred).await;
    assert_eq!(status, 200, "{profile}");
    assert_eq!(profile["data"]["isServiceAccount"], true);
    let (_, accounts) = get(&format!("{base}/accounts"), &cred).await;
    assert_eq!(
        accounts["data"].as_array().unwrap().len(),
        5,
        "own + 4 customers"
    );
    let (_, workspaces) = get(&format!("{base}/workspaces"), &cred).await;
    assert_eq!(workspaces["data"].as_array().unwrap().len(), 13);
    let total = demo["incidents"].as_u64().unwrap();
    assert!(total >= 2000, "{total}");
    // Every source is represented, and the incidents read back.
    let r = reqwest::Client::new()
        .post(format!("{base}/incidents/across-workspaces"))
        .header("authorization", cred.header())
        .json(&serde_json::json!({"isFirstCall": true}))
        .send()
        .await
        .unwrap();
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["data"]["incidents"].as_array().unwrap().len(), 50);
    assert_eq!(page["data"]["moreIncidentsAvailable"], true);
    let ws = demo["workspaces"][0].as_str().unwrap();
    for source in palisade_test_utils::SOURCES {
        let (status, detail) = get(
            &format!(
                "{base}/workspaces/{ws}/incidents/{source}/{}-00001",
                &source[..2].to_uppercase()
            ),
            &cred,
        )
        .await;
        assert_eq!(status, 200, "{source}: {detail}");
        assert!(!detail["data"]["investigationDetails"]["entities"]
            .as_array()
            .unwrap()
            .is_empty());
    }
    let (_, accounts) = get(&format!("{base}/service-accounts"), &cred).await;
    assert_eq!(accounts["data"].as_array().unwrap().len(), 2);
    assert!(terminate(child).success());
}

#[test]
fn a_bad_configuration_value_is_named_and_refused() {
    let out = palisade(&[
        "serve",
        "--listen",
        "not-an-address",
        "--database",
        "sqlite://unused.db",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("listen"), "{err}");
    let out = palisade(&["migrate", "--database", "mysql://nope"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("database_url"));
}

/// Starts `palisade serve` (with a configuration file, if given) and returns the child and
/// its address.
fn serve(db_url: &str, config: Option<&std::path::Path>) -> (Child, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_palisade"));
    cmd.args(["serve", "--database", db_url, "--listen", "127.0.0.1:0"]);
    if let Some(config) = config {
        cmd.arg("--config").arg(config);
    }
    let mut child = cmd
        .env("PALISADE_LOG", "info")
        .current_dir(std::env::temp_dir())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let line = wait_line(&mut stderr, |l| l.contains("palisade listening"));
    let addr = line
        .split("address=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in stderr.lines() {});
    (child, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_loses_no_webhook_event() {
    use palisade_test_utils::{Receiver, Reply};
    use std::collections::HashSet;

    let db = TestDb::new().await;
    let boot = bootstrap(&db.url, "Crash");
    let org = boot["organizationId"].as_str().unwrap();
    let ws = json_stdout(&create_workspace(&db.url, org, "w"));
    let ws = ws["id"].as_str().unwrap().to_string();
    let cred = printed_cred(&boot);
    // A slow receiver, so a backlog is queued and in flight when the server dies.
    let rx = Receiver::with_plan(|_, _| Reply::ok().after(Duration::from_millis(20))).await;
    let config = std::env::temp_dir().join(format!("palisade-crash-{}.toml", uuid::Uuid::new_v4()));
    std::fs::write(
        &config,
        "[webhooks]\nallow_private_targets = true\nallow_http = true\ntimeout_secs = 2\n\
         lease_secs = 7\npoll_interval_ms = 100\nmax_in_flight_per_webhook = 4\nretry_schedule_secs = [1]\n",
    )
    .unwrap();

    let (child, addr) = serve(&db.url, Some(&config));
    let client = reqwest::Client::new();
    let r = client
        .post(format!("http://{addr}/api/v2/webhooks"))
        .header("authorization", cred.header())
        .json(&serde_json::json!({"name": "r", "url": rx.url("/"), "eventTypes": ["incident.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    const EVENTS: usize = 600;
    for batch in 0..6 {
        let incidents: Vec<Value> = (0..100)
            .map(|i| serde_json::json!({"id": format!("K-{batch}-{i}"), "title": "t", "severity": "Low"}))
            .collect();
        let r = client
            .post(format!(
                "http://{addr}/api/v2/workspaces/{ws}/incidents/Splunk/ingest"
            ))
            .header("authorization", cred.header())
            .json(&serde_json::json!({"incidents": incidents}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    rx.wait_for(40, Duration::from_secs(20)).await;
    // SIGKILL: no graceful shutdown, leases held, deliveries in flight.
    let mut child = child;
    Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    let before = rx.hits().len();
    assert!(
        before < EVENTS,
        "the kill must leave a backlog ({before} delivered)"
    );

    let (child, addr) = serve(&db.url, Some(&config));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ids: HashSet<String> = rx.hits().iter().map(|h| h.event_id()).collect();
        if ids.len() == EVENTS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {EVENTS} events delivered after the restart",
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Every event is also recorded as delivered: the jobs the killed process had leased
    // were taken over once their lease lapsed, not left behind.
    let hook = client
        .get(format!("http://{addr}/api/v2/webhooks"))
        .header("authorization", cred.header())
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    loop {
        let mut delivered = HashSet::new();
        let mut token: Option<String> = None;
        loop {
            let mut url =
                format!("http://{addr}/api/v2/webhooks/{hook}/delivery-logs?pageSize=100");
            if let Some(t) = &token {
                url.push_str(&format!("&continuationToken={t}"));
            }
            let page: Value = client
                .get(url)
                .header("authorization", cred.header())
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            for item in page["data"]["items"].as_array().unwrap() {
                if item["success"] == true {
                    delivered.insert(item["eventId"].as_str().unwrap().to_string());
                }
            }
            match page["data"]["continuationToken"].as_str() {
                Some(t) => token = Some(t.to_string()),
                None => break,
            }
        }
        if delivered.len() == EVENTS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {EVENTS} events logged as delivered",
            delivered.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let status = terminate(child);
    assert!(status.success());
    let _ = std::fs::remove_file(&config);
}
