//! `palisadectl` end to end against the real server (TestApp, on the engine
//! PALISADE_TEST_DATABASE names): profiles, incidents, webhooks (and the local receiver),
//! connectors, gamebooks, service accounts, signatures, completions, exit codes and errors.

mod common;

use std::time::Duration;

use common::{app_delivering_to_loopback, client, Ctl};
use palisade_client::types::gamebooks::PlaybookRequest;
use palisade_client::types::incidents::{IncidentInput, IncidentSource};
use palisade_client::types::webhooks::WebhookRequest;
use palisade_test_utils::TestApp;
use serde_json::json;

fn incident(title: &str, severity: &str) -> IncidentInput {
    serde_json::from_value(json!({"title": title, "severity": severity})).unwrap()
}

/// `login` of a profile to `url` as the client `id` (the secret comes from elsewhere).
fn login_args<'a>(profile: &'a str, url: &'a str, id: &'a str) -> [&'a str; 7] {
    [
        "--profile",
        profile,
        "login",
        "--base-url",
        url,
        "--client-id",
        id,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_saves_a_private_profile_and_errors_exit_1_or_2() {
    let app = TestApp::spawn().await;
    let org = app.org("Login").await;
    let dir = tempfile::tempdir().unwrap();
    let ctl = Ctl::new(dir.path());
    let url = format!("http://{}", app.addr);
    let id = org.admin.client_id.to_string();
    let login = |profile| login_args(profile, &url, &id);
    // The secret comes from standard input, never an argument.
    let r = ctl
        .run_stdin(
            &[&login("lab")[..], &["--secret-stdin"]].concat(),
            Some(&format!("{}\n", org.admin.secret)),
        )
        .await
        .ok();
    assert!(!r.stdout.contains(&org.admin.secret) && !r.stderr.contains(&org.admin.secret));
    let file = dir.path().join("config/profiles.toml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{mode:o}");
    }
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(saved.contains(&url) && saved.contains(&id), "{saved}");
    let r = ctl.run(&["profiles", "-o", "json"]).await.ok();
    assert_eq!(r.json()["name"], "lab");
    assert_eq!(r.json()["default"], true);
    // The saved profile is used (it is the default).
    ctl.run(&["incidents", "list"]).await.ok();

    // A wrong secret is refused at login: exit 1 with title, detail and request id.
    let r = ctl
        .clone()
        .with("PALISADE_CLIENT_SECRET", "cf_sa_not-the-secret")
        .run(&login("bad"))
        .await;
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("UNAUTHORIZED") && r.stderr.contains("request id:"),
        "{}",
        r.stderr
    );
    // Usage errors exit 2: an unknown flag, a missing argument, an unknown profile.
    assert_eq!(ctl.run(&["incidents", "list", "--bogus"]).await.code, 2);
    assert_eq!(ctl.run(&["login", "--base-url", &url]).await.code, 2);
    let r = ctl.run(&["--profile", "nope", "incidents", "list"]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    // No secret at all: usage.
    let r = Ctl::new(dir.path()).run(&login("x")).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incident_commands() {
    let app = TestApp::spawn_with(|c| c.incidents.page_size = 3).await;
    let org = app.org("Incidents").await;
    let c = client(&app, &org);
    let ws = app.workspace(&org, "Contoso").await;
    for i in 0..8 {
        let sev = if i % 2 == 0 { "High" } else { "Low" };
        c.incidents()
            .ingest_one(
                ws,
                IncidentSource::Sentinel,
                format!("INC-{i}"),
                &incident(&format!("Alert {i}"), sev),
            )
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let ctl = Ctl::for_org(dir.path(), &app, &org);
    let w = ws.to_string();

    let r = ctl
        .run(&["incidents", "list", "--limit", "5", "-o", "json"])
        .await
        .ok();
    assert_eq!(r.lines().len(), 5);
    let r = ctl.run(&["incidents", "list"]).await.ok();
    assert!(
        r.stdout.starts_with("CREATED") && r.stdout.contains("Alert 7"),
        "{}",
        r.stdout
    );
    // `across` streams every page (page size 3) as JSON lines.
    let r = ctl
        .run(&["incidents", "across", "--severity", "High", "-o", "json"])
        .await
        .ok();
    let ids: Vec<_> = r
        .lines()
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 4, "{ids:?}");
    assert!(ids
        .iter()
        .all(|id| ["INC-0", "INC-2", "INC-4", "INC-6"].contains(&id.as_str())));

    let r = ctl
        .run(&["incidents", "get", &w, "sentinel", "INC-3"])
        .await
        .ok();
    assert!(
        r.stdout.contains("Alert 3") && r.stdout.contains("Low"),
        "{}",
        r.stdout
    );
    let r = ctl
        .run(&[
            "incidents",
            "status",
            &w,
            "Sentinel",
            "INC-3",
            "Closed",
            "--classification",
            "FalsePositive",
            "--reason",
            "InaccurateData",
            "-o",
            "json",
        ])
        .await
        .ok();
    assert_eq!(r.json()["status"], "Closed");
    let r = ctl
        .run(&[
            "incidents",
            "assign",
            &w,
            "Sentinel",
            "INC-3",
            "--email",
            "ada@contoso.com",
            "-o",
            "json",
        ])
        .await
        .ok();
    assert_eq!(r.json()["owner"]["email"], "ada@contoso.com");
    ctl.run_stdin(
        &["incidents", "comment", &w, "Sentinel", "INC-3", "-"],
        Some("from stdin"),
    )
    .await
    .ok();
    let comments = c
        .incidents()
        .comments(ws, "Sentinel", "INC-3")
        .await
        .unwrap();
    assert!(comments.iter().any(|m| m.message == "from stdin"));

    // An API error: exit 1, title, detail and request id on standard error.
    let r = ctl
        .run(&["incidents", "get", &w, "Sentinel", "INC-404"])
        .await;
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("NOT_FOUND")
            && r.stderr.contains("detail:")
            && r.stderr.contains("request id:"),
        "{}",
        r.stderr
    );
    let r = ctl
        .run(&["incidents", "status", &w, "Sentinel", "INC-1", "Closed"])
        .await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("VALIDATION_ERROR"), "{}", r.stderr);
    let r = ctl
        .run(&["incidents", "assign", &w, "Sentinel", "INC-1"])
        .await;
    assert_eq!(r.code, 2);

    // Connectors: the data source the first ingest created.
    let r = ctl
        .run(&["connectors", "list", "--workspace", &w, "-o", "json"])
        .await
        .ok();
    assert!(!r.lines().is_empty(), "{}", r.stdout);
    let r = ctl.run(&["connectors", "list"]).await.ok();
    assert!(r.stdout.starts_with("ID"), "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_commands_and_the_local_receiver() {
    let app = app_delivering_to_loopback().await;
    let org = app.org("Hooks").await;
    let c = client(&app, &org);
    let dir = tempfile::tempdir().unwrap();
    let ctl = Ctl::for_org(dir.path(), &app, &org);

    // The receiver on a free port, verifying with a secret we choose.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let mut listen = ctl
        .clone()
        .with("PALISADE_WEBHOOK_SECRET", secret)
        .command(&[
            "webhooks",
            "listen",
            "--port",
            &port.to_string(),
            "--count",
            "2",
            "-o",
            "json",
        ]);
    listen
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = listen.spawn().unwrap();
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let hook = c
        .webhooks()
        .create(&WebhookRequest {
            name: Some("listener".into()),
            url: Some(format!("http://127.0.0.1:{port}/events")),
            event_types: Some(vec!["incident.created".into()]),
            signing_token: Some(secret.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let id = hook.webhook.id.to_string();
    let r = ctl.run(&["webhooks", "test", &id, "-o", "json"]).await.ok();
    assert_eq!(r.json()["success"], true, "{}", r.stdout);
    let ws = app.workspace(&org, "W").await;
    c.incidents()
        .ingest_one(
            ws,
            IncidentSource::Splunk,
            "S-1",
            &incident("Brute force", "High"),
        )
        .await
        .unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 2, "{stdout}");
    assert!(events
        .iter()
        .all(|e| e["verified"] == true && e["scheme"] == "StandardWebhooks"));
    assert!(events
        .iter()
        .any(|e| e["type"] == "incident.created.v1" && e["test"] == false));

    // list, create (prints the secret once), logs, redeliver.
    let r = ctl.run(&["webhooks", "list"]).await.ok();
    assert!(r.stdout.contains("listener"), "{}", r.stdout);
    let r = ctl
        .run(&[
            "webhooks",
            "create",
            "--name",
            "second",
            "--url",
            "http://127.0.0.1:9/x",
            "--event",
            "incident.updated",
            "-o",
            "json",
        ])
        .await
        .ok();
    assert!(r.json()["signingSecret"]
        .as_str()
        .unwrap()
        .starts_with("whsec_"));
    let r = ctl.run(&["webhooks", "logs", &id, "-o", "json"]).await.ok();
    let logs = r.lines();
    assert_eq!(logs.len(), 2, "{}", r.stdout);
    let log_id = logs[0]["id"].as_str().unwrap();
    let r = ctl
        .run(&["webhooks", "redeliver", &id, log_id, "-o", "json"])
        .await
        .ok();
    assert_eq!(r.json()["originalDeliveryId"], log_id);
    let r = ctl.run(&["webhooks", "logs", &id]).await.ok();
    assert!(r.stdout.starts_with("ID"), "{}", r.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_accounts_gamebooks_signatures_and_completions() {
    let app = TestApp::spawn().await;
    let org = app.org("Admin").await;
    let c = client(&app, &org);
    let dir = tempfile::tempdir().unwrap();
    let ctl = Ctl::for_org(dir.path(), &app, &org);
    let ws = app.workspace(&org, "W").await;
    let w = ws.to_string();

    // service-accounts create, then rotate: the new secret works, the old one no longer.
    let r = ctl
        .run(&[
            "service-accounts",
            "create",
            "--name",
            "siem-bot",
            "--scope",
            "incidents:read",
            "--workspace",
            &format!("{w}:WorkspaceReader"),
            "-o",
            "json",
        ])
        .await
        .ok();
    let created = r.json();
    let sa = created["id"].as_str().unwrap().to_string();
    let old = (
        created["clientId"].as_str().unwrap().to_string(),
        created["clientSecret"].as_str().unwrap().to_string(),
    );
    let base = format!("http://{}", app.addr);
    let bot = |id: &str, secret: &str| palisade_client::Client::new(&base, id, secret).unwrap();
    let r = ctl
        .run(&[
            "service-accounts",
            "rotate",
            &sa,
            "--revoke-old",
            "-o",
            "json",
        ])
        .await
        .ok();
    let rotated = r.json();
    assert_eq!(rotated["revoked"].as_array().unwrap().len(), 1, "{rotated}");
    let new_secret = rotated["issued"]["clientSecret"].as_str().unwrap();
    let across = palisade_client::types::incidents::AcrossWorkspacesRequest::default();
    let new_id = rotated["issued"]["clientId"].as_str().unwrap();
    bot(new_id, new_secret)
        .incidents()
        .across_page(&across)
        .await
        .expect("new secret works");
    let err = bot(&old.0, &old.1)
        .incidents()
        .across_page(&across)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("UNAUTHORIZED"));

    // gamebooks run, then approve (the playbook needs an Owner).
    let pb = c
        .gamebooks()
        .create_playbook(&PlaybookRequest {
            name: Some("Note".into()),
            is_admin_required: Some(true),
            action: Some(
                serde_json::from_value(json!({"type": "AddComment", "message": "approved note"}))
                    .unwrap(),
            ),
            ..Default::default()
        })
        .await
        .unwrap();
    c.incidents()
        .ingest_one(
            ws,
            IncidentSource::QRadar,
            "Q-1",
            &incident("Port scan", "Medium"),
        )
        .await
        .unwrap();
    let r = ctl
        .run(&[
            "gamebooks",
            "run",
            &w,
            "QRadar",
            "Q-1",
            "--playbook",
            &pb.id.to_string(),
            "-o",
            "json",
        ])
        .await
        .ok();
    let run_id = r.json()["id"].as_str().unwrap().to_string();
    let mut status = String::new();
    for _ in 0..200 {
        status = format!(
            "{:?}",
            c.gamebooks().get_run(ws, &run_id).await.unwrap().status
        );
        if status == "AwaitingApproval" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, "AwaitingApproval");
    ctl.run(&["gamebooks", "approve", &w, &run_id]).await.ok();
    let mut noted = false;
    for _ in 0..200 {
        let comments = c.incidents().comments(ws, "QRadar", "Q-1").await.unwrap();
        if comments.iter().any(|m| m.message.contains("approved note")) {
            noted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(noted, "the approved playbook did not run");
    assert_eq!(
        ctl.run(&["gamebooks", "run", &w, "QRadar", "Q-1"])
            .await
            .code,
        2
    );

    // signature verify: the published Standard Webhooks vector, then a changed body.
    let body = dir.path().join("body.json");
    std::fs::write(&body, br#"{"test": 2432232314}"#).unwrap();
    let b = body.to_str().unwrap();
    let args = [
        "signature",
        "verify",
        "-H",
        "webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek",
        "-H",
        "webhook-timestamp: 1614265330",
        "-H",
        "webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        "--body",
        b,
        "--at",
        "1614265330",
    ];
    let signer = ctl.clone().with(
        "PALISADE_WEBHOOK_SECRET",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    );
    let r = signer.run(&args).await.ok();
    assert!(
        r.stdout.contains("valid (StandardWebhooks)"),
        "{}",
        r.stdout
    );
    std::fs::write(&body, br#"{"test": 2432232315}"#).unwrap();
    let r = signer.run(&args).await;
    assert_eq!(r.code, 1, "{}", r.stderr);
    // Outside the tolerance.
    std::fs::write(&body, br#"{"test": 2432232314}"#).unwrap();
    let mut late = args.to_vec();
    let last = late.len() - 1;
    late[last] = "1614269999";
    assert_eq!(signer.run(&late).await.code, 1);

    for shell in ["bash", "zsh", "fish"] {
        let r = ctl.run(&["completion", shell]).await.ok();
        assert!(
            r.stdout.contains("palisadectl") && r.stdout.contains("ingest"),
            "{shell}"
        );
    }
}
