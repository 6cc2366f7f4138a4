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
    // The versions of crates/store/migrations/NNNN_*.sql, in order.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../store/migrations");
    let mut versions: Vec<i64> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".sql")?.split('_').next()?.parse().ok()
        })
        .collect();
    versions.sort_unstable();
    assert!(versions.len() >= 6, "{versions:?}");
    assert_eq!(
        out["applied"],
        serde_json::json!(versions),
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
    let (child, demo, mut stdout) =
        start_demo(&std::env::temp_dir(), &["--database", &db.url]).expect("seeded");
    let curl = wait_line(&mut stdout, |l| l.contains("curl"));
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
    assert_eq!(demo["kept"], false);

    // The read-only credential lists the workspaces it holds a role on.
    let read_only = Cred {
        client_id: demo["readOnlyClientId"].as_str().unwrap().parse().unwrap(),
        secret: demo["readOnlyClientSecret"].as_str().unwrap().into(),
    };
    let (status, listed) = get(&format!("{base}/workspaces"), &read_only).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["data"].as_array().unwrap().len(), 2, "{listed}");

    // Playbooks, rules, tickets (one linked) and a gamebook run that the workers complete.
    let (_, playbooks) = get(&format!("{base}/gamebooks/playbooks"), &cred).await;
    assert_eq!(
        playbooks["data"].as_array().unwrap().len(),
        5,
        "{playbooks}"
    );
    assert_eq!(demo["playbooks"], 5);
    let (_, rules) = get(&format!("{base}/workspaces/{ws}/gamebook-rules"), &cred).await;
    assert_eq!(rules["data"].as_array().unwrap().len(), 3, "{rules}");
    let (_, tickets) = get(
        &format!("{base}/workspaces/{ws}/tickets/search?groupingId=fabrikam.com"),
        &cred,
    )
    .await;
    let tickets = tickets["data"].as_array().unwrap().clone();
    assert_eq!(tickets.len(), 3, "{tickets:?}");
    assert!(tickets
        .iter()
        .any(|t| t["linkedIncidents"][0]["id"] == "SE-00001"));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, runs) = get(
            &format!("{base}/workspaces/{ws}/gamebooks/by-incident/SE-00001"),
            &cred,
        )
        .await;
        if runs["data"][0]["status"] == "Succeeded" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the seeded run did not finish: {runs}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The workspace with sign-in logs is named, and the printed query answers them.
    assert_eq!(demo["signInLogsWorkspaceId"], demo["workspaces"][0]);
    let hint = wait_line(&mut stdout, |l| l.contains("signin-logs"));
    let url = hint.split('\'').nth(3).expect("a quoted URL in the hint");
    let (status, logs) = get(url, &cred).await;
    assert_eq!(status, 200, "{url}: {logs}");
    assert!(
        !logs["data"]["items"].as_array().unwrap().is_empty(),
        "{logs}"
    );

    // A simulated source of each of the six kinds feeds the first workspace's connectors, and
    // an analyst's close reaches each of them.
    let line = wait_line(&mut stdout, |l| l.starts_with("# Connectors"));
    for name in [
        "Sentinel",
        "Defender XDR",
        "CrowdStrike Falcon",
        "IBM QRadar",
        "Splunk ES",
        "SentinelOne",
    ] {
        assert!(
            line.contains(&format!("{name} (http://127.0.0.1:")),
            "{name}: {line}"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut arrived = Vec::new();
    for source in palisade_test_utils::SOURCES {
        let id = loop {
            let (_, page) = send(
                reqwest::Method::POST,
                &format!("{base}/incidents/across-workspaces"),
                &cred,
                serde_json::json!({"isFirstCall": true, "sources": [source], "workspaceIds": [ws]}),
            )
            .await;
            let newest = page["data"]["incidents"][0]["id"]
                .as_str()
                .unwrap_or("")
                .to_string();
            let url = format!("{base}/workspaces/{ws}/incidents/{source}/{newest}");
            let (_, detail) = get(&url, &cred).await;
            // Pulled incidents keep the source's own fields; the seeded ones have none.
            if detail["data"]["incident"]["properties"]["source"].is_object() {
                break newest;
            }
            assert!(
                Instant::now() < deadline,
                "nothing pulled from {source}: {page}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        let (status, closed) = send(
            reqwest::Method::PUT,
            &format!("{base}/workspaces/{ws}/incidents/{source}/{id}/status"),
            &cred,
            serde_json::json!({"status": "Closed", "classification": "TruePositive",
                               "classificationReason": "SuspiciousActivity"}),
        )
        .await;
        assert!(status < 300, "{source}: {closed}");
        arrived.push((source, id));
    }
    for (source, id) in &arrived {
        let url = format!("{base}/workspaces/{ws}/incidents/{source}/{id}");
        loop {
            let (_, detail) = get(&url, &cred).await;
            if detail["data"]["sync"]["state"] == "Synced" {
                assert_eq!(detail["data"]["incident"]["status"], "Closed");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the close did not reach {source}: {detail}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    let (_, sources) = get(&format!("{base}/workspaces/{ws}/datasources"), &cred).await;
    let polled: Vec<&Value> = sources["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["status"].is_object())
        .collect();
    assert_eq!(polled.len(), 6, "{sources}");
    for d in polled {
        assert!(d["status"]["pulledTotal"].as_i64() > Some(0), "{d}");
    }
    assert!(terminate(child).success());
}

async fn send(method: reqwest::Method, url: &str, cred: &Cred, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .request(method, url)
        .header("authorization", cred.header())
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Returns once the server at `addr` answers `/healthz` (so it is serving, and handles SIGTERM).
fn wait_serving(addr: &str) {
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    std::io::Write::write_all(&mut conn, b"GET /healthz HTTP/1.0\r\n\r\n").unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut conn, &mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
}

/// Starts `palisade demo` with `args` in `dir`; returns the child, the JSON line it printed and
/// its stdout (to read further lines), or its exit status and stderr if it ended.
#[allow(clippy::zombie_processes)] // the caller terminates the child it is given
fn start_demo(
    dir: &std::path::Path,
    args: &[&str],
) -> Result<(Child, Value, BufReader<std::process::ChildStdout>), String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .arg("demo")
        .args(args)
        .args(["--listen", "127.0.0.1:0"])
        .env("PALISADE_LOG", "warn")
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        if stdout.read_line(&mut line).unwrap_or(0) == 0 {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            let status = child.wait().unwrap();
            return Err(format!("{status}: {err}"));
        }
        if line.starts_with('{') {
            let stderr = child.stderr.take().unwrap();
            std::thread::spawn(move || for _ in BufReader::new(stderr).lines() {});
            let out: Value = serde_json::from_str(&line).unwrap();
            let addr = out["baseUrl"].as_str().unwrap()["http://".len()..]
                .split('/')
                .next()
                .unwrap()
                .to_string();
            wait_serving(&addr);
            return Ok((child, out, stdout));
        }
    }
}

#[tokio::test]
async fn demo_refuses_a_database_holding_other_organizations_unless_forced() {
    let db = TestDb::new().await;
    bootstrap(&db.url, "Real MSSP");
    let dir = std::env::temp_dir();
    let refused = start_demo(&dir, &["--database", &db.url]).expect_err("refused");
    assert!(refused.contains("--force"), "{refused}");
    assert!(refused.contains("1 organization"), "{refused}");
    let (child, out, _stdout) =
        start_demo(&dir, &["--database", &db.url, "--force"]).expect("forced");
    assert_eq!(out["kept"], false);
    assert!(out["clientSecret"].is_string());
    assert!(terminate(child).success());
    // --reset wipes only the default demo file.
    let refused = start_demo(&dir, &["--database", &db.url, "--reset"]).expect_err("refused");
    assert!(refused.contains("--reset"), "{refused}");
}

/// Without `--database` the demo keeps `palisade-demo.db` between runs, with what was added
/// to it; `--reset` seeds it afresh.
#[tokio::test]
async fn the_default_demo_database_is_kept_until_reset() {
    let dir = std::env::temp_dir().join(format!("palisade-demo-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let (child, first, _stdout) = start_demo(&dir, &[]).expect("seeded");
    assert!(dir.join("palisade-demo.db").exists());
    let cred = printed_cred(&first);
    let base = first["baseUrl"].as_str().unwrap().to_string();
    // A webhook and a credential added to the demo.
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{base}/webhooks"))
        .header("authorization", cred.header())
        .json(&serde_json::json!({"name": "mine", "url": "http://127.0.0.1:9/hook", "eventTypes": ["incident.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert!(terminate(child).success());

    let (child, second, mut stdout) = start_demo(&dir, &[]).expect("kept");
    assert_eq!(second["kept"], true, "{second}");
    assert_eq!(second["organizationId"], first["organizationId"]);
    assert!(
        second["clientSecret"].is_null(),
        "no secret is stored to show"
    );
    let note = wait_line(&mut stdout, |l| l.starts_with('#'));
    assert!(note.contains("--reset"), "{note}");
    let base = second["baseUrl"].as_str().unwrap().to_string();
    let (status, hooks) = get(&format!("{base}/webhooks"), &cred).await;
    assert_eq!(
        status, 200,
        "the first run's credential still works: {hooks}"
    );
    assert_eq!(hooks["data"][0]["name"], "mine", "{hooks}");
    assert!(terminate(child).success());

    let (child, third, _stdout) = start_demo(&dir, &["--reset"]).expect("reset");
    assert_eq!(third["kept"], false);
    assert_ne!(third["organizationId"], first["organizationId"]);
    let base = third["baseUrl"].as_str().unwrap().to_string();
    let (status, _) = get(&format!("{base}/users/profile"), &cred).await;
    assert_eq!(status, 401, "the old demo is gone");
    let (status, hooks) = get(&format!("{base}/webhooks"), &printed_cred(&third)).await;
    assert_eq!(status, 200);
    assert_eq!(hooks["data"].as_array().unwrap().len(), 0, "{hooks}");
    assert!(terminate(child).success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn serve_on_an_empty_database_says_how_to_bootstrap() {
    let db = TestDb::new().await;
    let (child, _, before) = serve_logged(&db.url, None);
    let hint = before
        .iter()
        .find(|l| l.contains("admin bootstrap"))
        .unwrap_or_else(|| panic!("no bootstrap hint in {before:?}"));
    // The exact command, runnable as printed (the test databases carry no password).
    assert!(
        hint.starts_with("palisade admin bootstrap --org-name \"Your Organization\" --database '"),
        "{hint}"
    );
    let url = hint.split('\'').nth(1).unwrap();
    assert_eq!(url, db.url);
    assert!(terminate(child).success());
    // With an organization, nothing is said.
    bootstrap(&db.url, "Now there is one");
    let (child, _, before) = serve_logged(&db.url, None);
    assert!(
        !before.iter().any(|l| l.contains("admin bootstrap")),
        "{before:?}"
    );
    assert!(terminate(child).success());
}

#[test]
fn serve_that_cannot_listen_leaves_no_database_behind() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = std::env::temp_dir().join(format!("palisade-bind-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("new.db");
    let url = format!("sqlite://{}", file.display());
    for command in ["serve", "demo"] {
        let out = palisade(&[command, "--database", &url, "--listen", &addr]);
        assert!(!out.status.success(), "{command}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("cannot listen"), "{command}: {err}");
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert!(left.is_empty(), "{command} left {left:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every flag of every command has help text; every optional flag taking a value shows its
/// default.
#[test]
fn every_flag_has_help_and_shows_its_default() {
    let commands: &[&[&str]] = &[
        &["serve"],
        &["demo"],
        &["migrate"],
        &["admin", "bootstrap"],
        &["admin", "workspace", "create"],
        &["openapi"],
    ];
    let mut flags = 0;
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let out = palisade(&args);
        assert!(out.status.success(), "{command:?}");
        let help = String::from_utf8_lossy(&out.stdout).to_string();
        let usage = help
            .lines()
            .find(|l| l.starts_with("Usage:"))
            .unwrap_or_default()
            .to_string();
        // Option entries start with "-"; a description may wrap onto indented lines.
        let mut entries: Vec<String> = Vec::new();
        for line in help.lines() {
            let trimmed = line.trim_start();
            if trimmed.starts_with('-') {
                entries.push(trimmed.to_string());
            } else if line.starts_with("          ") && !trimmed.is_empty() {
                if let Some(last) = entries.last_mut() {
                    last.push(' ');
                    last.push_str(trimmed);
                }
            }
        }
        for entry in &entries {
            let (spec, text) = match entry.split_once("  ") {
                Some((spec, text)) => (spec.trim(), text.trim()),
                None => (entry.as_str(), ""),
            };
            assert!(!text.is_empty(), "{command:?}: {spec} has no help text");
            let name = spec
                .split_whitespace()
                .find(|w| w.starts_with("--"))
                .unwrap();
            let name = name.trim_end_matches(',');
            let required = usage.contains(&format!("{name} <"));
            if spec.contains('<') && !required {
                assert!(
                    text.contains("[default:"),
                    "{command:?}: {spec} does not show its default: {text}"
                );
            }
            flags += 1;
        }
    }
    assert!(flags >= 20, "{flags}");
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
    let (child, addr, _) = serve_logged(db_url, config);
    (child, addr)
}

/// [`serve`], also returning what the server wrote to stderr before it listened, and once it
/// answers `/healthz` (so it handles SIGTERM).
fn serve_logged(db_url: &str, config: Option<&std::path::Path>) -> (Child, String, Vec<String>) {
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
    let mut before = Vec::new();
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 && !line.contains("palisade listening") {
        before.push(line.trim().to_string());
        line.clear();
    }
    assert!(line.contains("palisade listening"), "{before:?}");
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
    wait_serving(&addr);
    (child, addr, before)
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
