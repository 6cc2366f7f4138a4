//! `palisade-bench`: the load side of `bench/incidents.sh`. Talks only to the server URL it is
//! given (loopback in the scripts).
//!
//! - `seed`: creates workspaces and ingests incidents (all six sources) through the batch
//!   ingest API; prints ingest throughput and writes sample detail paths for wrk.
//! - `listing`: measures `POST /incidents/across-workspaces`: first-page latency (p50/p99) and
//!   the time to page through everything, with and without a `query` filter.
//! - `gamebooks`: an auto-run rule with simple playbooks (comment, label, severity) and a batch
//!   of matching incidents; measures gamebook runs completed per second, from the ingest until
//!   the last run has succeeded (`bench/gamebooks.sh`).

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
    Gamebooks {
        /// Matching incidents ingested (one run each).
        #[arg(long, default_value_t = 1000)]
        runs: usize,
    },
}

struct Client {
    http: reqwest::Client,
    base: String,
    auth: String,
}

impl Client {
    async fn post(&self, path: &str, body: &Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("authorization", &self.auth)
            .json(body)
            .send()
            .await
            .expect("request");
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
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
        Command::Gamebooks { runs } => gamebooks(&client, runs).await,
    }
}

impl Client {
    async fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("authorization", &self.auth)
            .send()
            .await
            .expect("request");
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {v}");
        v
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
                                palisade_server::sample::incident(
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
                let r = client
                    .http
                    .post(url)
                    .header("authorization", &client.auth)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("request");
                let status = r.status();
                let v: Value = r.json().await.unwrap_or(Value::Null);
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
