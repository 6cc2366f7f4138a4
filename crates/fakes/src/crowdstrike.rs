//! A stand-in for the CrowdStrike Falcon Alerts API:
//! - `POST /oauth2/token` (form `client_id`, `client_secret`, optional `member_cid`) answering
//!   `201 {access_token, token_type: "bearer", expires_in: 1799}`, or `401 {errors}`;
//! - `GET /alerts/queries/alerts/v2?filter=updated_timestamp:>='…'&sort=updated_timestamp|asc&
//!   limit&offset` → `{meta: {pagination: {offset, limit, total}}, resources: [composite ids]}`,
//!   refusing `offset + limit` beyond 10,000 and `limit` over 10,000;
//! - `POST /alerts/entities/alerts/v2` `{composite_ids}` (at most 1,000) → `{resources}`;
//! - `POST /alerts/combined/alerts/v1` `{filter, sort, limit (≤ 1,000), after}` →
//!   `{meta: {pagination: {total, limit, after}}, resources}`;
//! - `PATCH /alerts/entities/alerts/v3` `{composite_ids, action_parameters: [{name, value}]}`;
//! - every answer carries `X-RateLimit-Limit` and `X-RateLimit-Remaining` of a fixed window
//!   (`set_rate_limit`); a 429 carries `X-RateLimit-RetryAfter` (epoch seconds);
//! - errors `{meta, errors: [{code, message}], resources: []}`; faults and delays per [`Call`].

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::common::{self, Call, Core, Running};
use crate::vendor::{self, parse_time};

pub const OFFSET_WINDOW: usize = 10_000;
const ACTIONS: [&str; 11] = [
    "add_tag",
    "remove_tag",
    "remove_tags_by_prefix",
    "append_comment",
    "assign_to_name",
    "assign_to_user_id",
    "assign_to_uuid",
    "unassign",
    "update_status",
    "new_behavior_processed",
    "show_in_ui",
];
const STATUSES: [&str; 4] = ["new", "in_progress", "closed", "reopened"];

struct Alert {
    modified: DateTime<Utc>,
    body: Value,
}

struct Window {
    limit: u64,
    period: Duration,
    started: Instant,
    used: u64,
}

struct Inner {
    base: String,
    client_id: String,
    secret: String,
    cid: String,
    tokens: Mutex<HashMap<String, Instant>>,
    expires_in: AtomicU64,
    alerts: Mutex<BTreeMap<String, Alert>>,
    seq: AtomicU64,
    window: Mutex<Window>,
    throttled: AtomicU64,
    core: Core,
}

/// The fake Falcon API. Cheap to clone; the server stops when the last clone is dropped.
#[derive(Clone)]
pub struct FakeCrowdStrike {
    inner: Arc<Inner>,
    _running: Arc<Running>,
}

fn cs_error(status: u16, message: &str) -> Response {
    common::json(
        status,
        &json!({"meta": {"query_time": 0.001, "trace_id": uuid::Uuid::new_v4().to_string()},
                "errors": [{"code": status, "message": message}], "resources": []}),
    )
}

fn epoch(d: Duration) -> u64 {
    (SystemTime::now() + d)
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl FakeCrowdStrike {
    /// An API client `client_id` / `secret` of customer `cid`.
    pub async fn start(client_id: &str, secret: &str, cid: &str) -> FakeCrowdStrike {
        let (inner, _running) = common::start(handle, |base| Inner {
            base,
            client_id: client_id.to_string(),
            secret: secret.to_string(),
            cid: cid.to_ascii_lowercase(),
            tokens: Mutex::new(HashMap::new()),
            expires_in: AtomicU64::new(1799),
            alerts: Mutex::new(BTreeMap::new()),
            seq: AtomicU64::new(4_295_000),
            window: Mutex::new(Window {
                limit: 6000,
                period: Duration::from_secs(60),
                started: Instant::now(),
                used: 0,
            }),
            throttled: AtomicU64::new(0),
            core: Core::default(),
        })
        .await;
        FakeCrowdStrike { inner, _running }
    }

    pub fn base(&self) -> String {
        self.inner.base.clone()
    }

    /// `limit` requests per fixed window of `period` (default 6,000 per minute).
    pub fn set_rate_limit(&self, limit: u64, period: Duration) {
        let mut w = self.inner.window.lock().unwrap();
        *w = Window {
            limit,
            period,
            started: Instant::now(),
            used: 0,
        };
    }

    /// 429s answered because the window was spent (not scripted ones).
    pub fn throttled(&self) -> u64 {
        self.inner.throttled.load(Ordering::Relaxed)
    }

    pub fn set_expires_in(&self, secs: u64) {
        self.inner.expires_in.store(secs, Ordering::Relaxed);
    }

    /// Forgets every issued token (the next call with one answers 401).
    pub fn revoke_all(&self) {
        self.inner.tokens.lock().unwrap().clear();
    }

    /// Adds an alert: `fields` are merged over generated ones; returns its composite id.
    pub fn add(&self, name: &str, fields: Value) -> String {
        let s = &self.inner;
        let now = s.core.clock.now();
        let n = s.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let agg = format!("{:032x}", n as u128 * 7_919);
        let id = format!("ind:{agg}:{n}");
        let composite = format!("{}:{id}", s.cid);
        let t = ts(now);
        let mut body = json!({
            "composite_id": composite, "id": id, "cid": s.cid, "aggregate_id": format!("aggind:{agg}"),
            "type": "ldt", "product": "epp", "name": name, "display_name": name,
            "description": format!("{name} was detected."), "severity": 50, "severity_name": "Medium",
            "status": "new", "created_timestamp": t, "timestamp": t, "updated_timestamp": t,
            "tactic": "Execution", "technique": "Command and Scripting Interpreter",
            "device": {"hostname": "FIN-WKS-0423", "device_id": agg, "local_ip": "10.0.0.12",
                       "external_ip": "203.0.113.9", "platform_name": "Windows"},
            "falcon_host_link": format!("https://falcon.crowdstrike.com/activity-v2/detections/{agg}"),
            "tags": [], "comments": [],
        });
        if let (Some(b), Some(f)) = (body.as_object_mut(), fields.as_object()) {
            for (k, v) in f {
                b.insert(k.clone(), v.clone());
            }
        }
        body["updated_timestamp"] = json!(t);
        s.alerts.lock().unwrap().insert(
            composite.clone(),
            Alert {
                modified: now,
                body,
            },
        );
        composite
    }

    /// Adds a realistic alert (scenario from `seed`).
    pub fn add_simulated(&self, seed: u64) -> String {
        let sc = vendor::simple(seed);
        let score = match sc.severity {
            "High" => 70 + (seed % 30) as i64,
            "Medium" => 40 + (seed % 20) as i64,
            "Low" => 20 + (seed % 20) as i64,
            _ => 10,
        };
        self.add(
            sc.title,
            json!({"description": sc.description, "severity": score, "tactic": sc.tactic,
                   "device": {"hostname": sc.host.to_ascii_uppercase(), "device_id": sc.device_id,
                              "local_ip": sc.local_ip, "external_ip": sc.external_ip,
                              "platform_name": "Windows"},
                   "user_name": sc.user.split('@').next().unwrap_or(""),
                   "filename": sc.file_name, "filepath": sc.file_path, "sha256": sc.sha256}),
        )
    }

    /// Changes an alert at the source (a new `updated_timestamp`).
    pub fn modify(&self, id: &str, f: impl FnOnce(&mut Value)) {
        let now = self.inner.core.clock.now();
        let mut all = self.inner.alerts.lock().unwrap();
        let a = all.get_mut(id).expect("a known alert");
        f(&mut a.body);
        a.modified = now;
        a.body["updated_timestamp"] = json!(ts(now));
    }

    pub fn alert(&self, id: &str) -> Option<Value> {
        self.inner
            .alerts
            .lock()
            .unwrap()
            .get(id)
            .map(|a| a.body.clone())
    }
}

common::fake_controls!(FakeCrowdStrike, alerts, "The `PATCH` requests.", |r| r
    .method
    == "PATCH", simulate: 0xc5);

/// Nanosecond precision, as Falcon writes its timestamps.
fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

impl Inner {
    /// Counts a request against the window: `Err(retry_after)` when it is spent.
    fn spend(&self) -> (u64, u64, Option<Duration>) {
        let mut w = self.window.lock().unwrap();
        if w.started.elapsed() >= w.period {
            w.started = Instant::now();
            w.used = 0;
        }
        let left = w.period.saturating_sub(w.started.elapsed());
        if w.used >= w.limit {
            return (w.limit, 0, Some(left));
        }
        w.used += 1;
        (w.limit, w.limit - w.used, None)
    }
}

fn with_limits(mut r: Response, limit: u64, remaining: u64) -> Response {
    let h = r.headers_mut();
    h.insert("x-ratelimit-limit", limit.into());
    h.insert("x-ratelimit-remaining", remaining.into());
    r
}

fn throttled(limit: u64, wait: Duration) -> Response {
    let mut r = with_limits(cs_error(429, "API rate limit exceeded."), limit, 0);
    r.headers_mut().insert(
        "x-ratelimit-retryafter",
        epoch(wait.max(Duration::from_secs(1))).into(),
    );
    r
}

async fn handle(State(cell): State<common::Cell<Inner>>, req: common::Req) -> Response {
    let Some(s) = cell.get().cloned() else {
        return cs_error(503, "Starting.");
    };
    let common::Req(method, uri, headers, body) = s.core.record(req);
    let path = uri.path().to_string();
    let call = match (&method, path.as_str()) {
        (&Method::POST, "/oauth2/token") => Call::Token,
        (&Method::GET, "/alerts/queries/alerts/v2") => Call::List,
        (&Method::POST, "/alerts/combined/alerts/v1") => Call::List,
        (&Method::POST, "/alerts/entities/alerts/v2") => Call::Lookup,
        (&Method::PATCH, "/alerts/entities/alerts/v3") => Call::Update,
        _ => return cs_error(404, "Not Found"),
    };
    if let Some(f) = s.core.script.take(call) {
        return match f.status {
            429 => throttled(6000, Duration::from_secs(f.retry_after.unwrap_or(1))),
            st => cs_error(st, "Scripted failure."),
        };
    }
    if let Some(d) = s.core.script.delay(call) {
        tokio::time::sleep(d).await;
    }
    let (limit, remaining, spent) = s.spend();
    if let Some(wait) = spent {
        s.throttled.fetch_add(1, Ordering::Relaxed);
        return throttled(limit, wait);
    }
    let r = if call == Call::Token {
        token(&s, &body)
    } else {
        match authorized(&s, &headers) {
            false => cs_error(401, "access denied, authorization failed"),
            true => match call {
                Call::List if method == Method::GET => query(&s, &vendor::query(&uri)),
                Call::List => combined(&s, &body),
                Call::Lookup => entities(&s, &body),
                _ => update(&s, &body),
            },
        }
    };
    with_limits(r, limit, remaining)
}

fn authorized(s: &Inner, headers: &HeaderMap) -> bool {
    let Some(tok) = common::bearer(headers) else {
        return false;
    };
    s.tokens
        .lock()
        .unwrap()
        .get(&tok)
        .is_some_and(|until| Instant::now() < *until)
}

fn token(s: &Inner, body: &[u8]) -> Response {
    let form: HashMap<String, String> = vendor::form(body).into_iter().collect();
    if form.get("client_id") != Some(&s.client_id) || form.get("client_secret") != Some(&s.secret) {
        return cs_error(401, "access denied, invalid client");
    }
    if form.get("member_cid").is_some_and(|m| m.len() != 32) {
        return cs_error(400, "invalid member_cid");
    }
    let tok = format!("cs-{}", uuid::Uuid::new_v4().simple());
    let life = s.expires_in.load(Ordering::Relaxed);
    s.tokens
        .lock()
        .unwrap()
        .insert(tok.clone(), Instant::now() + Duration::from_secs(life));
    common::json(
        201,
        &json!({"access_token": tok, "token_type": "bearer", "expires_in": life}),
    )
}

/// `updated_timestamp:>='…'` (also `>`, `<=`, `<`), clauses joined by `+`.
fn parse_filter(f: &str) -> Result<Vec<(String, DateTime<Utc>)>, String> {
    let mut out = Vec::new();
    for clause in f.split('+').map(str::trim).filter(|c| !c.is_empty()) {
        let Some(rest) = clause.strip_prefix("updated_timestamp:") else {
            return Err(format!("invalid filter clause {clause}"));
        };
        let op: String = rest.chars().take_while(|c| "<>=".contains(*c)).collect();
        let value = rest[op.len()..].trim();
        let value = value
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .ok_or_else(|| format!("a timestamp must be quoted: {clause}"))?;
        let t = parse_time(value).ok_or_else(|| format!("not a timestamp: {value}"))?;
        if !matches!(op.as_str(), ">=" | ">" | "<=" | "<") {
            return Err(format!("invalid operator in {clause}"));
        }
        out.push((op, t));
    }
    Ok(out)
}

/// The alerts matching `filter`, sorted by `sort`.
fn select(
    s: &Inner,
    filter: Option<&str>,
    sort: Option<&str>,
) -> Result<Vec<(DateTime<Utc>, String)>, String> {
    let f = match filter {
        None => Vec::new(),
        Some(f) => parse_filter(f)?,
    };
    let desc = match sort {
        None | Some("updated_timestamp|asc") | Some("updated_timestamp.asc") => false,
        Some("updated_timestamp|desc") | Some("updated_timestamp.desc") => true,
        Some(o) => return Err(format!("invalid sort {o}")),
    };
    let all = s.alerts.lock().unwrap();
    let mut keys: Vec<(DateTime<Utc>, String)> = all
        .iter()
        .map(|(id, a)| (a.modified, id.clone()))
        .filter(|(t, _)| {
            f.iter().all(|(op, v)| match op.as_str() {
                ">=" => t >= v,
                ">" => t > v,
                "<=" => t <= v,
                _ => t < v,
            })
        })
        .collect();
    keys.sort();
    if desc {
        keys.reverse();
    }
    Ok(keys)
}

fn query(s: &Inner, q: &HashMap<String, String>) -> Response {
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => 100,
        Some(Ok(n)) if (1..=OFFSET_WINDOW).contains(&n) => n,
        _ => return cs_error(400, "limit must be between 1 and 10000"),
    };
    let offset = match q.get("offset").map(|o| o.parse::<usize>()) {
        None => 0,
        Some(Ok(n)) => n,
        _ => return cs_error(400, "invalid offset"),
    };
    if offset + limit > OFFSET_WINDOW {
        return cs_error(
            400,
            "offset + limit must be at most 10000; use the combined endpoint with 'after'",
        );
    }
    let keys = match select(
        s,
        q.get("filter").map(String::as_str),
        q.get("sort").map(String::as_str),
    ) {
        Ok(k) => k,
        Err(m) => return cs_error(400, &m),
    };
    let ids: Vec<&String> = keys
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(_, id)| id)
        .collect();
    common::json(
        200,
        &json!({"meta": {"query_time": 0.002, "pagination": {"offset": offset, "limit": limit, "total": keys.len()}},
                "resources": ids, "errors": []}),
    )
}

fn entities(s: &Inner, body: &[u8]) -> Response {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let Some(ids) = v["composite_ids"].as_array() else {
        return cs_error(400, "composite_ids is required");
    };
    if ids.len() > 1000 {
        return cs_error(400, "at most 1000 composite_ids per request");
    }
    let all = s.alerts.lock().unwrap();
    let found: Vec<Value> = ids
        .iter()
        .filter_map(|i| i.as_str().and_then(|i| all.get(i)).map(|a| a.body.clone()))
        .collect();
    common::json(
        200,
        &json!({"meta": {"query_time": 0.003}, "resources": found, "errors": []}),
    )
}

fn combined(s: &Inner, body: &[u8]) -> Response {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let limit = match v["limit"].as_u64() {
        None => 100,
        Some(n) if (1..=1000).contains(&n) => n as usize,
        Some(_) => return cs_error(400, "limit must be between 1 and 1000"),
    };
    let keys = match select(s, v["filter"].as_str(), v["sort"].as_str()) {
        Ok(k) => k,
        Err(m) => return cs_error(400, &m),
    };
    let total = keys.len();
    let start = match v["after"].as_str() {
        None | Some("") => 0,
        Some(a) => match common::parse_page_token(a) {
            Some((t, id)) => {
                keys.partition_point(|(kt, kid)| (*kt, kid.as_str()) <= (t, id.as_str()))
            }
            None => return cs_error(400, "invalid after token"),
        },
    };
    let page: Vec<&(DateTime<Utc>, String)> = keys.iter().skip(start).take(limit).collect();
    let after = match page.last() {
        Some((t, id)) if start + page.len() < total => common::page_token(*t, id),
        _ => String::new(),
    };
    let all = s.alerts.lock().unwrap();
    let resources: Vec<Value> = page.iter().map(|(_, id)| all[id].body.clone()).collect();
    common::json(
        200,
        &json!({"meta": {"query_time": 0.004, "pagination": {"total": total, "limit": limit, "after": after}},
                "resources": resources, "errors": []}),
    )
}

fn update(s: &Inner, body: &[u8]) -> Response {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let (Some(ids), Some(params)) = (
        v["composite_ids"].as_array(),
        v["action_parameters"].as_array(),
    ) else {
        return cs_error(400, "composite_ids and action_parameters are required");
    };
    for p in params {
        let (Some(name), Some(value)) = (p["name"].as_str(), p["value"].as_str()) else {
            return cs_error(400, "each action parameter needs a name and a value");
        };
        if !ACTIONS.contains(&name) {
            return cs_error(400, &format!("unknown action parameter {name}"));
        }
        if name == "update_status" && !STATUSES.contains(&value) {
            return cs_error(400, &format!("invalid status {value}"));
        }
    }
    let now = s.core.clock.now();
    let mut all = s.alerts.lock().unwrap();
    let missing: Vec<&str> = ids
        .iter()
        .filter_map(Value::as_str)
        .filter(|i| !all.contains_key(*i))
        .collect();
    if !missing.is_empty() {
        return cs_error(404, &format!("alerts not found: {}", missing.join(", ")));
    }
    for id in ids.iter().filter_map(Value::as_str) {
        let a = all.get_mut(id).expect("checked");
        for p in params {
            let value = p["value"].as_str().unwrap_or("");
            let b = &mut a.body;
            match p["name"].as_str().unwrap_or("") {
                "update_status" => b["status"] = json!(value),
                "append_comment" => {
                    if let Some(c) = b["comments"].as_array_mut() {
                        c.push(json!({"value": value, "timestamp": ts(now)}));
                    }
                }
                "assign_to_name" => b["assigned_to_name"] = json!(value),
                "assign_to_user_id" => b["assigned_to_uid"] = json!(value),
                "assign_to_uuid" => b["assigned_to_uuid"] = json!(value),
                "unassign" => {
                    for k in ["assigned_to_name", "assigned_to_uid", "assigned_to_uuid"] {
                        if let Some(o) = b.as_object_mut() {
                            o.remove(k);
                        }
                    }
                }
                "add_tag" => {
                    if let Some(t) = b["tags"].as_array_mut() {
                        t.push(json!(value));
                    }
                }
                _ => {}
            }
        }
        a.modified = now;
        a.body["updated_timestamp"] = json!(ts(now));
    }
    common::json(
        200,
        &json!({"meta": {"query_time": 0.01, "writes": {"resources_affected": ids.len()}}, "resources": [], "errors": []}),
    )
}
