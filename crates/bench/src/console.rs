//! `console` (bench/console.sh): signs a console user in and measures the queue page (default
//! filters and a filtered one) and the incident page, one request at a time: the server's
//! time (the console's `Server-Timing: app;dur=…`), the time seen by the client, and the
//! queue page's weight.

use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};

use crate::pct;

/// What `console` is given.
pub struct Args {
    pub base: String,
    pub email: String,
    pub password: String,
    /// Detail paths written by `seed` (`/api/v2/workspaces/{ws}/incidents/{source}/{id}`).
    pub paths: String,
    pub samples: usize,
}

struct Session {
    http: reqwest::Client,
    base: String,
    cookie: String,
}

/// The value of `name="csrf"` in a page.
fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a CSRF field") + marker.len();
    let end = html[start..].find('"').expect("end of the value") + start;
    html[start..end].to_string()
}

/// `name=value` of the `Set-Cookie` named `name`.
fn cookie(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|pair| pair.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie"))
        .to_string()
}

async fn sign_in(base: &str, email: &str, password: &str) -> Session {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .expect("client");
    let page = http
        .get(format!("{base}/console/sign-in"))
        .send()
        .await
        .expect("sign-in page");
    let presession = cookie(&page, "palisade_presession");
    let csrf = csrf_of(&page.text().await.expect("page"));
    let r = http
        .post(format!("{base}/console/sign-in"))
        .header("cookie", presession)
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", email),
            ("password", password),
            ("next", "/console"),
        ])
        .send()
        .await
        .expect("sign in");
    assert_eq!(r.status(), 303, "sign-in refused: {}", r.status());
    Session {
        cookie: cookie(&r, "palisade_session"),
        http,
        base: base.to_string(),
    }
}

/// One page: (server ms, client ms, bytes).
async fn fetch(s: &Session, path: &str) -> (f64, Duration, usize) {
    let started = Instant::now();
    let r = s
        .http
        .get(format!("{}{path}", s.base))
        .header("cookie", &s.cookie)
        .send()
        .await
        .expect("request");
    let status = r.status();
    let server = r
        .headers()
        .get("server-timing")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("dur=").nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(f64::NAN);
    let body = r.bytes().await.expect("body");
    let client = started.elapsed();
    assert!(status.is_success(), "{path}: {status}");
    (server, client, body.len())
}

fn p99_ms(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let i = ((values.len() as f64 - 1.0) * 0.99).round() as usize;
    values[i]
}

/// Measures `samples` requests of the paths `path_of` gives; prints the figures.
/// `key` names the figure in the machine-readable line.
async fn measure(
    s: &Session,
    key: &str,
    label: &str,
    samples: usize,
    mut path_of: impl FnMut(usize) -> String,
) -> usize {
    for i in 0..samples.min(10) {
        fetch(s, &path_of(i)).await;
    }
    let (mut server, mut client, mut bytes) = (Vec::new(), Vec::new(), 0);
    for i in 0..samples {
        let (sv, cl, n) = fetch(s, &path_of(i)).await;
        server.push(sv);
        client.push(cl);
        bytes = bytes.max(n);
    }
    client.sort();
    let server_p99 = p99_ms(&mut server);
    let server_p50 = server[server.len() / 2];
    println!(
        "{label}: server p50 {server_p50:.1} ms, p99 {server_p99:.1} ms; client p50 {:.1} ms, p99 {:.1} ms; largest {bytes} bytes ({samples} requests)",
        pct(&client, 0.5),
        pct(&client, 0.99)
    );
    println!(
        "CONSOLE_P99 {key} {server_p99:.2} {:.2}",
        pct(&client, 0.99)
    );
    bytes
}

pub async fn run(a: Args) {
    let s = sign_in(&a.base, &a.email, &a.password).await;
    let incidents: Vec<String> = std::fs::read_to_string(&a.paths)
        .expect("paths")
        .lines()
        .filter_map(|l| l.strip_prefix("/api/v2/workspaces/"))
        .filter_map(|rest| {
            let mut it = rest.splitn(4, '/');
            let (ws, _, source, id) = (it.next()?, it.next()?, it.next()?, it.next()?);
            Some(format!("/console/incidents/{ws}/{source}/{id}"))
        })
        .collect();
    assert!(!incidents.is_empty(), "no incident paths in {}", a.paths);
    let workspaces: Vec<String> = incidents
        .iter()
        .filter_map(|p| p.split('/').nth(3).map(str::to_string))
        .collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let bytes = measure(&s, "queue", "queue (default filters)", a.samples, |_| {
        "/console".into()
    })
    .await;
    println!("CONSOLE_QUEUE_BYTES {bytes}");
    measure(
        &s,
        "queue_filtered",
        "queue (one workspace, High)",
        a.samples,
        |_| {
            let ws = &workspaces[rng.gen_range(0..workspaces.len())];
            format!("/console?workspace={ws}&severity=High")
        },
    )
    .await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    measure(&s, "incident", "incident page", a.samples, |_| {
        incidents[rng.gen_range(0..incidents.len())].clone()
    })
    .await;
}
