//! `palisadectl connectors list|status|sync` end to end: the real server (TestApp, on the
//! engine PALISADE_TEST_DATABASE names) with a Sentinel connector that polls a fake Sentinel
//! (and its fake Entra ID) on loopback. Tables for people and `-o json` for scripts.

mod common;

use std::time::{Duration, Instant};

use common::{client, Ctl, Run};
use palisade_client::types::datasources::{ConnectorState, ConnectorStatus, DataSourceRequest};
use palisade_client::types::incidents::IncidentSource;
use palisade_client::Client;
use palisade_test_utils::fakes::{FakeEntra, FakeSentinel, SentinelWorkspace};
use palisade_test_utils::TestApp;
use serde_json::json;
use uuid::Uuid;

const TENANT: &str = "5e3c1b7a-2f4d-4c8e-9b6a-0d1e2f3a4b5c";
const APP_ID: &str = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
const APP_SECRET: &str = "ctl~connector.secret_never-printed";

/// Polls the connector's status through the SDK until `done` holds, up to 15 s.
async fn wait_for(
    c: &Client,
    ws: Uuid,
    id: Uuid,
    what: &str,
    done: impl Fn(&ConnectorStatus) -> bool,
) -> ConnectorStatus {
    let started = Instant::now();
    loop {
        let s = c.datasources().status(ws, id).await.expect("status");
        if done(&s) {
            return s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "timed out waiting for {what}: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The `key  value` lines of a single object printed for people.
fn fields(r: &Run) -> Vec<(String, String)> {
    r.stdout
        .lines()
        .map(|l| {
            let (k, v) = l.split_once("  ").unwrap_or((l, ""));
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect()
}

fn field(r: &Run, key: &str) -> String {
    fields(r)
        .into_iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("no {key:?} in\n{}", r.stdout))
        .1
}

/// A table's rows split into cells at the header's column starts (every column but the
/// last is padded to its widest cell plus two spaces).
fn table(r: &Run) -> Vec<Vec<String>> {
    let mut lines = r.stdout.lines();
    let header = lines.next().expect("a header");
    let starts: Vec<usize> = header
        .char_indices()
        .filter(|&(i, c)| c != ' ' && (i == 0 || header[..i].ends_with("  ")))
        .map(|(i, _)| i)
        .collect();
    std::iter::once(header)
        .chain(lines)
        .map(|line| {
            starts
                .iter()
                .enumerate()
                .map(|(n, &from)| {
                    let to = starts.get(n + 1).copied().unwrap_or(line.len());
                    line.get(from..to.min(line.len()))
                        .unwrap_or("")
                        .trim()
                        .to_string()
                })
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connectors_list_status_and_sync_against_a_polling_connector() {
    let entra = FakeEntra::start(TENANT, APP_ID, APP_SECRET).await;
    let sentinel = FakeSentinel::start(&entra, SentinelWorkspace::default()).await;
    let app = TestApp::spawn_with(|c| {
        c.connectors.allow_private_targets = true;
        c.connectors.allow_http = true;
        c.connectors.tick_ms = 50;
        c.connectors.timeout_secs = 5;
    })
    .await;
    let org = app.org("Ctl connectors").await;
    let ws = app.workspace(&org, "Main").await;
    let other = app.workspace(&org, "Branch office").await;
    let c = client(&app, &org);
    let dir = tempfile::tempdir().unwrap();
    let ctl = Ctl::for_org(dir.path(), &app, &org);

    // A Sentinel connector polled hourly (so only `sync` makes it poll again), and a data
    // source that nothing polls in the other workspace.
    let target = sentinel.workspace();
    let created = c
        .datasources()
        .create(
            ws,
            &DataSourceRequest {
                connector_type: Some("Sentinel".into()),
                name: Some("Sentinel prod".into()),
                poll_interval_secs: Some(3600),
                start_from: Some("2020-01-01T00:00:00Z".into()),
                settings: Some(json!({
                    "tenantId": TENANT, "clientId": APP_ID,
                    "subscriptionId": target.subscription_id,
                    "resourceGroup": target.resource_group, "workspaceName": target.workspace_name,
                    "baseUrl": sentinel.base(), "authorityUrl": entra.authority(),
                })),
                credentials: Some(json!({ "clientSecret": APP_SECRET })),
                ..Default::default()
            },
        )
        .await
        .expect("create the connector");
    let id = created.data_connector_id;
    c.datasources()
        .create(
            other,
            &DataSourceRequest {
                connector_type: Some("Syslog".into()),
                name: Some("Firewall syslog".into()),
                ..Default::default()
            },
        )
        .await
        .expect("create a data source");
    let (w, i) = (ws.to_string(), id.to_string());

    // `sync` asks for a poll now (the connector is polled hourly, so nothing else would).
    let r = ctl.run(&["connectors", "sync", &w, &i]).await.ok();
    assert_eq!(r.stdout.trim(), format!("sync of {id} requested"));
    let first = wait_for(&c, ws, id, "the first poll", |s| {
        s.last_success_at.is_some()
    })
    .await;
    assert_eq!(first.pulled_total, 0, "the source was empty");
    // Twelve incidents appear at the source; `sync -o json` answers the connector's status
    // as the API sends it, and the poll brings them in.
    let names: Vec<String> = (0..12).map(|n| sentinel.add_simulated(n)).collect();
    let r = ctl
        .run(&["connectors", "sync", &w, &i, "-o", "json"])
        .await
        .ok();
    let answer: ConnectorStatus = serde_json::from_value(r.json()).expect("a ConnectorStatus");
    assert_eq!(answer.state, ConnectorState::Healthy);
    let after = wait_for(&c, ws, id, "the synced poll", |s| {
        s.pulled_total >= 12 && s.last_success_at > first.last_success_at
    })
    .await;
    assert_eq!(after.state, ConnectorState::Healthy, "{after:?}");
    for name in [&names[0], &names[11]] {
        c.incidents()
            .get(ws, IncidentSource::Sentinel, name, &Default::default())
            .await
            .expect("a pulled incident");
    }

    // `status`: one `key  value` line per field, or the document.
    let r = ctl.run(&["connectors", "status", &w, &i]).await.ok();
    assert_eq!(field(&r, "state"), "Healthy");
    assert_eq!(field(&r, "pulled"), after.pulled_total.to_string());
    assert_eq!(field(&r, "write-backs pending"), "0");
    assert_eq!(field(&r, "write-backs failed"), "0");
    assert_eq!(field(&r, "last error"), "-");
    assert_eq!(field(&r, "cursor"), after.cursor);
    assert!(field(&r, "last success").starts_with("20"), "{}", r.stdout);
    let keys: Vec<String> = fields(&r).into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        [
            "state",
            "last poll",
            "last success",
            "last error",
            "cursor",
            "next poll",
            "pulled",
            "write-backs pending",
            "write-backs failed"
        ]
    );
    let r = ctl
        .run(&["connectors", "status", &w, &i, "-o", "json"])
        .await
        .ok();
    let doc = r.json();
    assert_eq!(doc["state"], "Healthy");
    assert_eq!(doc["pulledTotal"], after.pulled_total);
    assert_eq!(doc["writeBacksPending"], 0);
    assert!(
        doc["cursor"].is_string() && doc["nextPollAt"].is_string(),
        "{doc}"
    );
    assert!(!r.stdout.contains(APP_SECRET));

    // `list` of one workspace: the connector, with its state.
    let r = ctl
        .run(&["connectors", "list", "--workspace", &w])
        .await
        .ok();
    let rows = table(&r);
    assert_eq!(
        rows[0],
        ["ID", "WORKSPACE", "TYPE", "NAME", "CONNECTED", "STATE"]
    );
    assert_eq!(
        rows[1..],
        [[
            i.clone(),
            w.clone(),
            "Sentinel".to_string(),
            "Sentinel prod".to_string(),
            "true".to_string(),
            "Healthy".to_string()
        ]],
        "{}",
        r.stdout
    );
    // Every workspace: the unpolled data source has no state.
    let r = ctl.run(&["connectors", "list"]).await.ok();
    let rows = table(&r);
    assert_eq!(rows.len(), 3, "{}", r.stdout);
    let syslog = rows
        .iter()
        .find(|row| row[2] == "Syslog")
        .unwrap_or_else(|| panic!("{}", r.stdout));
    assert_eq!(
        (syslog[1].as_str(), syslog[3].as_str(), syslog[5].as_str()),
        (other.to_string().as_str(), "Firewall syslog", "-")
    );
    // JSON lines, one data source each, with the status of a polled one.
    let r = ctl.run(&["connectors", "list", "-o", "json"]).await.ok();
    let lines = r.lines();
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    let polled = lines
        .iter()
        .find(|d| d["dataConnectorId"] == i.as_str())
        .expect("the connector");
    assert_eq!(polled["workspaceId"], w.as_str());
    assert_eq!(polled["connectorType"], "Sentinel");
    assert_eq!(polled["status"]["state"], "Healthy");
    assert_eq!(polled["status"]["pulledTotal"], after.pulled_total);
    assert!(!r.stdout.contains(APP_SECRET));
    let r = ctl
        .run(&[
            "connectors",
            "list",
            "--workspace",
            &other.to_string(),
            "-o",
            "json",
        ])
        .await
        .ok();
    let only = r.json();
    assert_eq!(only["connectorType"], "Syslog");
    assert!(only.get("status").is_none(), "{only}");

    // A paused connector: `status` says so, `sync` is an API error (exit 1, the problem).
    c.datasources().pause(ws, id).await.expect("pause");
    let r = ctl.run(&["connectors", "status", &w, &i]).await.ok();
    assert_eq!(field(&r, "state"), "Paused");
    assert_eq!(field(&r, "next poll"), "-");
    let r = ctl.run(&["connectors", "sync", &w, &i]).await;
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr.contains("CONFLICT") && r.stderr.contains("request id:"),
        "{}",
        r.stderr
    );
    // Another connector id is not found; a malformed one is a usage error.
    let r = ctl
        .run(&["connectors", "status", &w, &Uuid::new_v4().to_string()])
        .await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("NOT_FOUND"), "{}", r.stderr);
    assert_eq!(
        ctl.run(&["connectors", "sync", &w, "not-a-guid"])
            .await
            .code,
        2
    );
}
