//! `palisade-bench`: the load side of `bench/incidents.sh`. Talks only to the server URL it is
//! given (loopback in the scripts).
//!
//! - `seed`: creates workspaces and ingests incidents (all six sources) through the batch
//!   ingest API; prints ingest throughput and writes sample detail paths for wrk.
//! - `webhooks`: webhook delivery throughput and latency with an in-process receiver.
//! - `listing`: measures `POST /incidents/across-workspaces`: first-page latency (p50/p99) and
//!   the time to page through everything, with and without a `query` filter.
//! - `investigation` (bench/investigation.sh): seeds sign-in logs through the ingest API and
//!   measures `GET …/investigation/users/signin-logs` for one user over 24 hours.
//! - `gamebooks`: an auto-run rule with simple playbooks (comment, label, severity) and a batch
//!   of matching incidents; measures gamebook runs completed per second, from the ingest until
//!   the last run has succeeded (`bench/gamebooks.sh`).
//! - `connectors`: serves a fake source with generated incidents and measures a connector's
//!   backfill, change-to-webhook and write-back latency (`bench/connectors.sh`).
//! - `console` (bench/console.sh): signs a console user in and measures the queue and
//!   incident pages' server time and the queue page's weight.

mod connectors;
mod console;
mod webhooks;

use std::time::{Duration, Instant};

use base64::Engine;
use clap::{Parser, Subcommand};
use palisade_types::incidents::IncidentSource;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

#[derive(Parser)]
struct Cli {
    /// e.g. http://127.0.0.1:18081
    #[arg(long)]
    base: String,
    #[arg(long)]
    client_id: String,
    #[arg(long)]
    client_secret: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Seed {
        #[arg(long, default_value_t = 1000)]
        workspaces: usize,
        /// Incidents per workspace and source.
        #[arg(long, default_value_t = 167)]
        per_stream: usize,
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// File to write sample detail paths to (one per line).
        #[arg(long)]
        paths: String,
    },
    Listing {
        #[arg(long, default_value_t = 50)]
        samples: usize,
        /// Measure first pages only (no full scan).
        #[arg(long)]
        first_only: bool,
        /// A label for the printed figures (e.g. the page size).
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Webhook delivery throughput and latency (bench/webhooks.sh).
    Webhooks {
        #[arg(long, default_value_t = 20)]
        webhooks: usize,
        #[arg(long, default_value_t = 50_000)]
        events: usize,
        /// Events per second in the latency phase.
        #[arg(long, default_value_t = 1000)]
        rate: usize,
        #[arg(long, default_value_t = 10)]
        latency_secs: u64,
    },
    Investigation(InvestigationArgs),
    Gamebooks {
        /// Matching incidents ingested (one run each).
        #[arg(long, default_value_t = 1000)]
        runs: usize,
    },
    /// A connector's backfill from a fake source, and its latencies (bench/connectors.sh).
    Connectors {
        /// The connector kind (MicrosoftSentinel, MicrosoftDefenderXdr, CrowdStrikeFalcon,
        /// IbmQRadar, SplunkEnterpriseSecurity, SentinelOne).
        #[arg(long)]
        kind: String,
        /// Incidents the fake source holds.
        #[arg(long, default_value_t = 100_000)]
        incidents: usize,
        /// The connector's `pageSize`.
        #[arg(long)]
        page_size: usize,
        /// Latency samples after the backfill (MicrosoftSentinel only; 0: none).
        #[arg(long, default_value_t = 0)]
        samples: usize,
    },
    /// Console page times and weight (bench/console.sh).
    Console {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
        /// Detail paths written by `seed`.
        #[arg(long)]
        paths: String,
        #[arg(long, default_value_t = 200)]
        samples: usize,
    },
}

/// Sign-in log seeding and query latency (bench/investigation.sh).
#[derive(clap::Args)]
struct InvestigationArgs {
    /// Sign-in rows to seed in one workspace.
    #[arg(long, default_value_t = 1_000_000)]
    rows: usize,
    /// Distinct users the rows belong to.
    #[arg(long, default_value_t = 1000)]
    users: usize,
    /// Rows of the measured user (spread like the others over `days`).
    #[arg(long, default_value_t = 10_000)]
    target_rows: usize,
    #[arg(long, default_value_t = 30)]
    days: i64,
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Query samples.
    #[arg(long, default_value_t = 200)]
    samples: usize,
}

struct Client {
    http: reqwest::Client,
    base: String,
    auth: String,
}

impl Client {
    /// Sends a request as the organization; the status and the JSON answer (null if none).
    async fn send(&self, req: reqwest::RequestBuilder) -> (reqwest::StatusCode, Value) {
        let r = req
            .header("authorization", &self.auth)
            .send()
            .await
            .expect("request");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// POSTs a JSON body already serialized to a full URL.
    async fn post_bytes(&self, url: String, body: Vec<u8>) -> (reqwest::StatusCode, Value) {
        let req = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .body(body);
        self.send(req).await
    }

    async fn post(&self, path: &str, body: &Value) -> Value {
        let url = format!("{}{path}", self.base);
        let (status, v) = self
            .post_bytes(url, serde_json::to_vec(body).expect("JSON"))
            .await;
        assert!(status.is_success(), "{path}: {status} {v}");
        v
    }

    async fn get(&self, path: &str) -> Value {
        let req = self.http.get(format!("{}{path}", self.base));
        let (status, v) = self.send(req).await;
        assert!(status.is_success(), "{path}: {status} {v}");
        v
    }
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", cli.client_id, cli.client_secret))
    );
    let client = std::sync::Arc::new(Client {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .unwrap(),
        base: cli.base.clone(),
        auth,
    });
    match cli.command {
        Command::Seed {
            workspaces,
            per_stream,
            concurrency,
            paths,
        } => seed(client, workspaces, per_stream, concurrency, &paths).await,
        Command::Listing {
            samples,
            first_only,
            label,
        } => listing(&client, samples, first_only, &label).await,
        Command::Webhooks {
            webhooks,
            events,
            rate,
            latency_secs,
        } => webhooks::run(client, webhooks, events, rate, latency_secs).await,
        Command::Investigation(args) => investigation(client, args).await,
        Command::Gamebooks { runs } => gamebooks(&client, runs).await,
        Command::Connectors {
            kind,
            incidents,
            page_size,
            samples,
        } => connectors::run(client, &kind, incidents, page_size, samples).await,
        Command::Console {
            email,
            password,
            paths,
            samples,
        } => {
            console::run(console::Args {
                base: cli.base.clone(),
                email,
                password,
                paths,
                samples,
            })
            .await
        }
    }
}

async fn gamebooks(client: &Client, runs: usize) {
    let ws = client
        .post("/api/v2/workspaces", &json!({"name": "Gamebook bench"}))
        .await["data"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut ids = Vec::new();
    for action in [
        json!({"type": "AddComment", "message": "Triage of {{incident.title}}"}),
        json!({"type": "AddLabel", "label": "gamebook"}),
        json!({"type": "SetSeverity", "severity": "High"}),
    ] {
        let v = client
            .post(
                "/api/v2/gamebooks/playbooks",
                &json!({"name": action["type"], "action": action}),
            )
            .await;
        ids.push(v["data"]["id"].clone());
    }
    client
        .post(
            &format!("/api/v2/workspaces/{ws}/gamebook-rules"),
            &json!({"title": "Bench", "titlePattern": "bench incident", "playbookIds": ids, "isAutoRun": true}),
        )
        .await;
    let started = Instant::now();
    for chunk in (0..runs).collect::<Vec<_>>().chunks(500) {
        let items: Vec<Value> = chunk
            .iter()
            .map(|i| json!({"id": format!("GB-{i}"), "title": format!("Bench incident {i}"), "severity": "Low"}))
            .collect();
        client
            .post(
                &format!("/api/v2/workspaces/{ws}/incidents/Sentinel/ingest"),
                &json!({"incidents": items}),
            )
            .await;
    }
    let ingested = started.elapsed();
    let path = format!(
        "/api/v2/gamebooks/across-workspaces/history?currentPage=1&pageSize=1&workspaces={ws}&statuses=Succeeded"
    );
    loop {
        let done = client.get(&path).await["data"]["totalCount"]
            .as_u64()
            .unwrap_or(0) as usize;
        if done >= runs {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let total = started.elapsed().as_secs_f64();
    println!(
        "gamebooks: {runs} runs of 3 playbooks (comment, label, severity); ingest took {:.2}s",
        ingested.as_secs_f64()
    );
    println!("GAMEBOOK_RUNS_PER_SEC {:.1}", runs as f64 / total);
}

async fn seed(
    client: std::sync::Arc<Client>,
    workspaces: usize,
    per_stream: usize,
    concurrency: usize,
    paths: &str,
) {
    let started = Instant::now();
    let mut ids = Vec::with_capacity(workspaces);
    for i in 0..workspaces {
        let v = client
            .post(
                "/api/v2/workspaces",
                &json!({"name": format!("Customer workspace {i:04}")}),
            )
            .await;
        ids.push(v["data"]["id"].as_str().unwrap().to_string());
    }
    eprintln!(
        "created {workspaces} workspaces in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    // 64 pre-rendered batches (each with its own random timestamps and content), reused
    // across streams — incident ids only need to be unique within a workspace and source — so
    // the client spends its CPU on sending, not on generating JSON.
    let now = chrono::Utc::now();
    let templates: Vec<std::sync::Arc<Vec<Vec<u8>>>> = (0..64u64)
        .map(|t| {
            std::sync::Arc::new(
                IncidentSource::ALL
                    .iter()
                    .map(|source| {
                        let mut rng = rand::rngs::StdRng::seed_from_u64(t * 6 + *source as u64);
                        let incidents: Vec<Value> = (0..per_stream)
                            .map(|n| {
                                let created = now
                                    - chrono::Duration::seconds(rng.gen_range(60..90 * 24 * 3600));
                                palisade_demo::incidents::incident(
                                    &mut rng,
                                    *source,
                                    &format!("INC-{n:05}"),
                                    "contoso.com",
                                    created,
                                )
                            })
                            .collect();
                        serde_json::to_vec(&json!({"incidents": incidents})).unwrap()
                    })
                    .collect(),
            )
        })
        .collect();
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (w, ws) in ids.iter().enumerate() {
        for (s, source) in IncidentSource::ALL.iter().enumerate() {
            let permit = sem.clone().acquire_owned().await.unwrap();
            let client = client.clone();
            let url = format!(
                "{}/api/v2/workspaces/{ws}/incidents/{}/ingest",
                client.base,
                source.as_str()
            );
            let body = templates[w % templates.len()][s].clone();
            tasks.push(tokio::spawn(async move {
                let (status, v) = client.post_bytes(url, body).await;
                assert!(
                    status.is_success() && v["data"]["rejected"] == 0,
                    "{status} {v}"
                );
                drop(permit);
            }));
        }
        if w % 100 == 99 {
            let n = (w + 1) * 6 * per_stream;
            eprintln!(
                "  … {n} incidents sent, {:.0}/s",
                n as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let total = workspaces * 6 * per_stream;
    let secs = started.elapsed().as_secs_f64();
    println!("ingest: {total} incidents in {secs:.1}s = {:.0} incidents/s (batches of {per_stream}, {concurrency} in flight)", total as f64 / secs);
    println!("INGEST_RATE {:.0}", total as f64 / secs);
    let mut rng = rand::rngs::StdRng::seed_from_u64(99);
    let lines: Vec<String> = (0..20_000)
        .map(|_| {
            let ws = &ids[rng.gen_range(0..ids.len())];
            let source = IncidentSource::ALL[rng.gen_range(0..6)];
            format!(
                "/api/v2/workspaces/{ws}/incidents/{}/INC-{:05}",
                source.as_str(),
                rng.gen_range(0..per_stream)
            )
        })
        .collect();
    std::fs::write(paths, lines.join("\n") + "\n").unwrap();
}

async fn first_pages(client: &Client, filters: &Value, samples: usize) -> (f64, f64) {
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        let mut body = filters.clone();
        body["isFirstCall"] = json!(true);
        let t = Instant::now();
        client
            .post("/api/v2/incidents/across-workspaces", &body)
            .await;
        times.push(t.elapsed());
    }
    times.sort();
    (pct(&times, 0.5), pct(&times, 0.99))
}

async fn full_scan(client: &Client, filters: &Value) -> (usize, usize, f64, f64) {
    let mut body = filters.clone();
    body["isFirstCall"] = json!(true);
    let started = Instant::now();
    let (mut pages, mut items) = (0, 0);
    let mut times = Vec::new();
    loop {
        let t = Instant::now();
        let v = client
            .post("/api/v2/incidents/across-workspaces", &body)
            .await;
        times.push(t.elapsed());
        pages += 1;
        items += v["data"]["incidents"].as_array().unwrap().len();
        if !v["data"]["moreIncidentsAvailable"].as_bool().unwrap() {
            break;
        }
        body["isFirstCall"] = json!(false);
        body["workspacePageTokens"] = v["data"]["sourcePageTokens"].clone();
    }
    times.sort();
    (
        pages,
        items,
        started.elapsed().as_secs_f64(),
        pct(&times, 0.99),
    )
}

async fn listing(client: &Client, samples: usize, first_only: bool, tag: &str) {
    for (label, filters) in [
        ("no filter", json!({})),
        ("query=ransomware", json!({"query": "ransomware"})),
    ] {
        let (p50, p99) = first_pages(client, &filters, samples).await;
        println!("across-workspaces first page ({label}{tag}): p50 {p50:.1} ms, p99 {p99:.1} ms over {samples} calls");
        println!("LISTING_FIRST_P99 {label}{tag} {p99:.2}");
        if first_only {
            continue;
        }
        let (pages, items, secs, page_p99) = full_scan(client, &filters).await;
        println!(
            "across-workspaces full scan ({label}): {items} incidents in {pages} pages, {secs:.1}s, page p99 {page_p99:.1} ms"
        );
        println!("LISTING_SCAN {label} {items} {pages} {secs:.2} {page_p99:.2}");
    }
}

const TARGET_USER: &str = "0b5e1f3a-7c2d-4e8f-9a6b-000000000001";

fn signin_row(
    rng: &mut rand::rngs::StdRng,
    id: String,
    user: &str,
    n: usize,
    at: chrono::DateTime<chrono::Utc>,
) -> Value {
    let failed = rng.gen_range(0..10) == 0;
    let app = [
        "Microsoft Graph",
        "Office 365 Exchange Online",
        "Azure Portal",
        "Microsoft Teams",
    ][rng.gen_range(0..4)];
    json!({
        "id": id,
        "createdDateTime": at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "userId": user,
        "userPrincipalName": format!("user{n}@contoso.com"),
        "userDisplayName": format!("User {n}"),
        "appId": "00000003-0000-0000-c000-000000000000",
        "appDisplayName": app,
        "ipAddress": format!("198.51.{}.{}", rng.gen_range(0..255), rng.gen_range(1..255)),
        "location": {"city": "Seattle", "state": "Washington", "countryOrRegion": "US"},
        "status": if failed { json!({"errorCode": 50126, "failureReason": "Invalid username or password or Invalid on-premise username or password."}) } else { json!({"errorCode": 0}) },
        "clientAppUsed": "Browser",
        "deviceDetail": {"deviceId": "", "operatingSystem": "Windows 10", "browser": "Edge 120.0.0", "isCompliant": false, "isManaged": false},
        "riskLevelDuringSignIn": if failed { "medium" } else { "none" },
        "riskLevelAggregated": "none",
        "conditionalAccessStatus": if failed { "failure" } else { "success" },
        "isInteractive": rng.gen_bool(0.7),
        "correlationId": uuid_like(rng),
    })
}

fn uuid_like(rng: &mut rand::rngs::StdRng) -> String {
    let a: u128 = rng.gen();
    let h = format!("{a:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

async fn investigation(client: std::sync::Arc<Client>, args: InvestigationArgs) {
    let InvestigationArgs {
        rows,
        users,
        target_rows,
        days,
        batch,
        concurrency,
        samples,
    } = args;
    let v = client
        .post("/api/v2/workspaces", &json!({"name": "Sign-in benchmark"}))
        .await;
    let ws = v["data"]["id"].as_str().unwrap().to_string();
    let now = chrono::Utc::now();
    let span = days * 24 * 3600 * 1_000_000;
    let batches = rows.div_ceil(batch);
    let per_batch_target = target_rows.div_ceil(batches);
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency));
    let started = Instant::now();
    let mut tasks = Vec::new();
    let mut sent = 0;
    for b in 0..batches {
        let n = batch.min(rows - sent);
        sent += n;
        let permit = sem.clone().acquire_owned().await.unwrap();
        let client = client.clone();
        let url = format!(
            "{}/api/v2/workspaces/{ws}/investigation/users/signin-logs/ingest",
            client.base
        );
        tasks.push(tokio::spawn(async move {
            let body = {
                let mut rng = rand::rngs::StdRng::seed_from_u64(b as u64);
                let items: Vec<Value> = (0..n)
                    .map(|i| {
                        let at =
                            now - chrono::Duration::microseconds(rng.gen_range(1_000_000..span));
                        let (user, k) = if i < per_batch_target {
                            (TARGET_USER.to_string(), 0)
                        } else {
                            let k = rng.gen_range(1..users.max(2));
                            (format!("0b5e1f3a-7c2d-4e8f-9a6b-{k:012}"), k)
                        };
                        signin_row(&mut rng, format!("b{b}-{i}"), &user, k, at)
                    })
                    .collect();
                serde_json::to_vec(&json!({"items": items})).unwrap()
            };
            let (status, v) = client.post_bytes(url, body).await;
            assert!(status.is_success(), "{status} {v}");
            drop(permit);
        }));
        if b % 100 == 99 {
            eprintln!(
                "  … {sent} sign-ins sent, {:.0}/s",
                sent as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "seed: {rows} sign-ins ({users} users, {} of them the measured user's, over {days} days) through the ingest API in {secs:.1}s = {:.0} rows/s",
        per_batch_target * batches,
        rows as f64 / secs
    );

    let first = format!(
        "/api/v2/workspaces/{ws}/investigation/users/signin-logs?UserId={TARGET_USER}&TimeFilteringType=TwentyFourHours"
    );
    // Warm-up, then first pages.
    for _ in 0..5 {
        client.get(&first).await;
    }
    let mut times = Vec::with_capacity(samples);
    let mut first_items = 0;
    for _ in 0..samples {
        let t = Instant::now();
        let v = client.get(&first).await;
        times.push(t.elapsed());
        first_items = v["data"]["items"].as_array().unwrap().len();
    }
    times.sort();
    println!(
        "first page (one user, 24 hours, {first_items} items): p50 {:.2} ms, p99 {:.2} ms over {samples} calls",
        pct(&times, 0.5),
        pct(&times, 0.99)
    );
    println!(
        "INVESTIGATION_FIRST {:.3} {:.3}",
        pct(&times, 0.5),
        pct(&times, 0.99)
    );
    // Every page of the 24-hour window, repeatedly: per-page latency and the whole walk.
    let mut pages_t = Vec::new();
    let mut walks = Vec::new();
    let mut total_items = 0;
    for _ in 0..(samples / 10).max(3) {
        let started = Instant::now();
        let mut next = Some(first.clone());
        total_items = 0;
        while let Some(path) = next {
            let t = Instant::now();
            let v = client.get(&path).await;
            pages_t.push(t.elapsed());
            total_items += v["data"]["items"].as_array().unwrap().len();
            next = v["data"]["nextPageLink"].as_str().map(str::to_string);
        }
        walks.push(started.elapsed());
    }
    pages_t.sort();
    walks.sort();
    println!(
        "every page (24 hours, {total_items} items): page p50 {:.2} ms, p99 {:.2} ms; whole window p50 {:.2} ms over {} walks",
        pct(&pages_t, 0.5),
        pct(&pages_t, 0.99),
        pct(&walks, 0.5),
        walks.len()
    );
    println!(
        "INVESTIGATION_PAGES {:.3} {:.3}",
        pct(&pages_t, 0.5),
        pct(&pages_t, 0.99)
    );
    // Other users (about rows/users rows each).
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        let k = rng.gen_range(1..users.max(2));
        let path = format!(
            "/api/v2/workspaces/{ws}/investigation/users/signin-logs?UserId=0b5e1f3a-7c2d-4e8f-9a6b-{k:012}&TimeFilteringType=TwentyFourHours"
        );
        let t = Instant::now();
        client.get(&path).await;
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "first page (random other users, 24 hours): p50 {:.2} ms, p99 {:.2} ms over {samples} calls",
        pct(&times, 0.5),
        pct(&times, 0.99)
    );
}
