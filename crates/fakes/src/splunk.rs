//! A stand-in for the Splunk REST API of an Enterprise Security search head:
//! - `Authorization: Bearer <token>` (or `Splunk <token>`), else 401 `{messages: [{type, text}]}`;
//! - `POST /services/search/jobs/export` (form `search`, `earliest_time`, `latest_time`,
//!   `output_mode=json`): the search must start with ``search `notable` `` and may end with
//!   `| sort <n> [+]_time`; the notables with `earliest ≤ _time < latest` are *streamed*, one
//!   `{"preview": false, "offset": i, "result": {…}}` per line, in chunks;
//! - `POST /services/notable_update` (form `ruleUIDs` (repeatable), `status`, `urgency`,
//!   `newOwner`, `comment`, `disposition`) → `{success, message, details, failure_count}`;
//!   updating a notable does not change its `_time` (the review lives beside the event);
//! - `GET /services/authentication/current-context`;
//! - faults per [`Call`] (`List` = export, `Update` = notable_update), e.g. 503 for the
//!   concurrent-search limit.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::common::{self, Call, Core, Running};
use crate::vendor;

const STATUS_LABELS: [&str; 6] = [
    "Unassigned",
    "New",
    "In Progress",
    "Pending",
    "Resolved",
    "Closed",
];
/// Rows per streamed chunk.
const ROWS_PER_CHUNK: usize = 50;

struct Inner {
    base: String,
    token: String,
    /// (time, event_id) → notable.
    notables: Mutex<BTreeMap<(DateTime<Utc>, String), Value>>,
    seq: AtomicU64,
    core: Core,
}

/// The fake search head. Cheap to clone; the server stops when the last clone is dropped.
#[derive(Clone)]
pub struct FakeSplunk {
    inner: Arc<Inner>,
    _running: Arc<Running>,
}

fn messages(status: u16, kind: &str, text: &str, retry_after: Option<u64>) -> Response {
    common::error(
        status,
        &json!({"messages": [{"type": kind, "text": text}]}),
        retry_after,
    )
}

fn splunk_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f+00:00").to_string()
}

impl FakeSplunk {
    pub async fn start(token: &str) -> FakeSplunk {
        let (inner, _running) = common::start(handle, |base| Inner {
            base,
            token: token.to_string(),
            notables: Mutex::new(BTreeMap::new()),
            seq: AtomicU64::new(0),
            core: Core::default(),
        })
        .await;
        FakeSplunk { inner, _running }
    }

    pub fn base(&self) -> String {
        self.inner.base.clone()
    }

    /// Adds a notable indexed now (or at `at`); `fields` merged over generated ones. Returns its
    /// `event_id`.
    pub fn add_at(&self, rule_title: &str, at: Option<DateTime<Utc>>, fields: Value) -> String {
        let s = &self.inner;
        let t = at.unwrap_or_else(|| s.core.clock.now());
        let t = DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t);
        let n = s.seq.fetch_add(1, Ordering::SeqCst);
        let id = format!(
            "{}@@notable@@{:032x}",
            uuid::Uuid::from_u128(0x1a08_2d7b_d5a1_4a2b_bb94_0000_0000_0000 + n as u128)
                .to_string()
                .to_ascii_uppercase(),
            n as u128 * 0x9e37_79b9
        );
        let mut v = json!({
            "event_id": id, "_time": splunk_time(t), "rule_name": rule_title, "rule_title": rule_title,
            "rule_description": format!("{rule_title}."), "search_name": format!("Threat - {rule_title} - Rule"),
            "urgency": "medium", "status": "1", "status_label": "New", "owner": "unassigned",
            "security_domain": "threat", "disposition": "disposition:0",
            "orig_sid": format!("scheduler__admin__SplunkEnterpriseSecuritySuite__RMD5{n:08x}"),
        });
        if let (Some(m), Some(f)) = (v.as_object_mut(), fields.as_object()) {
            for (k, x) in f {
                m.insert(k.clone(), x.clone());
            }
        }
        s.notables.lock().unwrap().insert((t, id.clone()), v);
        id
    }

    pub fn add(&self, rule_title: &str, fields: Value) -> String {
        self.add_at(rule_title, None, fields)
    }

    /// Adds a realistic notable (scenario from `seed`).
    pub fn add_simulated(&self, seed: u64) -> String {
        let sc = vendor::simple(seed);
        let urgency = match sc.severity {
            "High" => "high",
            "Medium" => "medium",
            "Low" => "low",
            _ => "informational",
        };
        self.add(
            sc.title,
            json!({"rule_description": sc.description, "urgency": urgency,
                   "src": sc.local_ip, "dest": sc.external_ip, "orig_host": sc.host,
                   "user": sc.user, "file_hash": sc.sha256,
                   "annotations.mitre_attack.mitre_tactic": [sc.tactic]}),
        )
    }

    pub fn notable(&self, event_id: &str) -> Option<Value> {
        let all = self.inner.notables.lock().unwrap();
        all.iter()
            .find(|((_, i), _)| i == event_id)
            .map(|(_, v)| v.clone())
    }
}

common::fake_controls!(
    FakeSplunk,
    notables,
    "The `notable_update` requests.",
    |r| r.path == "/services/notable_update"
, simulate: 0x5b);

async fn handle(State(cell): State<common::Cell<Inner>>, req: common::Req) -> Response {
    let Some(s) = cell.get().cloned() else {
        return messages(503, "ERROR", "Starting.", None);
    };
    let common::Req(method, uri, headers, body) = s.core.record(req);
    let auth = common::header(&headers, "authorization");
    let token = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("Splunk "));
    if token != Some(s.token.as_str()) {
        return messages(401, "WARN", "call not properly authenticated", None);
    }
    let call = match (&method, uri.path()) {
        (&Method::POST, "/services/search/jobs/export") => Call::List,
        (&Method::POST, "/services/notable_update") => Call::Update,
        (&Method::GET, "/services/authentication/current-context") => Call::Read,
        _ => return messages(404, "ERROR", "Not Found", None),
    };
    if let Some(f) = s.core.script.take(call) {
        let text = match f.status {
            503 => "Search not executed: The maximum number of concurrent historical searches for this user based on their role quota has been reached.",
            429 => "Too many requests.",
            _ => "Scripted failure.",
        };
        return messages(f.status, "ERROR", text, f.retry_after);
    }
    if let Some(d) = s.core.script.delay(call) {
        tokio::time::sleep(d).await;
    }
    let form: Vec<(String, String)> = vendor::form(&body);
    match call {
        Call::List => export(&s, &form),
        Call::Update => update(&s, &form),
        _ => common::json(
            200,
            &json!({"entry": [{"content": {"username": "palisade", "roles": ["ess_analyst"]}}]}),
        ),
    }
}

fn param<'a>(form: &'a [(String, String)], k: &str) -> Option<&'a str> {
    form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

fn epoch(v: &str) -> Option<DateTime<Utc>> {
    let secs: f64 = v.trim().parse().ok()?;
    DateTime::from_timestamp_micros((secs * 1e6).round() as i64)
}

fn export(s: &Inner, form: &[(String, String)]) -> Response {
    let fatal = |t: &str| messages(400, "FATAL", t, None);
    if param(form, "output_mode") != Some("json") {
        return fatal("This fake answers output_mode=json only.");
    }
    let search = param(form, "search").unwrap_or("");
    let Some(rest) = search.strip_prefix("search `notable`") else {
        return fatal("Error in 'search' command: the search must start with search `notable`.");
    };
    let mut limit = usize::MAX;
    for stage in rest.split('|').map(str::trim).filter(|p| !p.is_empty()) {
        let words: Vec<&str> = stage.split_whitespace().collect();
        match words.as_slice() {
            ["sort", n, "+_time" | "_time"] => match n.parse::<usize>() {
                Ok(0) => {}
                Ok(n) => limit = n,
                Err(_) => return fatal(&format!("Error in 'sort' command: invalid count '{n}'.")),
            },
            _ => return fatal(&format!("Unknown search command in '{stage}'.")),
        }
    }
    let earliest = match param(form, "earliest_time").map(epoch) {
        Some(Some(t)) => Some(t),
        None => None,
        Some(None) => return fatal("Invalid earliest_time."),
    };
    let latest = match param(form, "latest_time").map(epoch) {
        Some(Some(t)) => Some(t),
        None => None,
        Some(None) => return fatal("Invalid latest_time."),
    };
    let rows: Vec<String> = {
        let all = s.notables.lock().unwrap();
        all.iter()
            .filter(|((t, _), _)| earliest.is_none_or(|e| *t >= e) && latest.is_none_or(|l| *t < l))
            .take(limit)
            .enumerate()
            .map(|(i, (_, v))| json!({"preview": false, "offset": i, "result": v}).to_string())
            .collect()
    };
    let chunks: Vec<Result<String, std::convert::Infallible>> = rows
        .chunks(ROWS_PER_CHUNK)
        .map(|c| Ok(c.iter().map(|r| format!("{r}\n")).collect::<String>()))
        .collect();
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    ([("content-type", "application/json; charset=UTF-8")], body).into_response()
}

fn update(s: &Inner, form: &[(String, String)]) -> Response {
    let ids: Vec<&str> = form
        .iter()
        .filter(|(k, _)| k == "ruleUIDs")
        .map(|(_, v)| v.as_str())
        .collect();
    if ids.is_empty() && param(form, "searchID").is_none() {
        return common::json(
            400,
            &json!({"success": false, "message": "ruleUIDs or searchID is required", "details": {}, "failure_count": 0}),
        );
    }
    let status = param(form, "status");
    if let Some(st) = status {
        if st
            .parse::<usize>()
            .map_or(true, |n| n >= STATUS_LABELS.len())
        {
            return common::json(
                400,
                &json!({"success": false, "message": format!("Invalid status {st}"), "details": {}, "failure_count": 0}),
            );
        }
    }
    if let Some(d) = param(form, "disposition") {
        if !d
            .strip_prefix("disposition:")
            .is_some_and(|n| n.parse::<u8>().is_ok_and(|n| n <= 7))
        {
            return common::json(
                400,
                &json!({"success": false, "message": format!("Invalid disposition {d}"), "details": {}, "failure_count": 0}),
            );
        }
    }
    let changes = ["status", "urgency", "newOwner", "comment", "disposition"];
    if !changes.iter().any(|k| param(form, k).is_some()) {
        return common::json(
            400,
            &json!({"success": false, "message": "Nothing to update", "details": {}, "failure_count": 0}),
        );
    }
    let mut all = s.notables.lock().unwrap();
    let mut failures = 0;
    for id in &ids {
        let Some(v) = all.iter_mut().find(|((_, i), _)| i == id).map(|(_, v)| v) else {
            failures += 1;
            continue;
        };
        if let Some(st) = status {
            v["status"] = json!(st);
            v["status_label"] = json!(STATUS_LABELS[st.parse::<usize>().unwrap_or(1)]);
        }
        if let Some(u) = param(form, "urgency") {
            v["urgency"] = json!(u);
        }
        if let Some(o) = param(form, "newOwner") {
            v["owner"] = json!(o);
        }
        if let Some(d) = param(form, "disposition") {
            v["disposition"] = json!(d);
        }
        if let Some(c) = param(form, "comment") {
            v["comment"] = json!(c);
        }
    }
    let updated = ids.len() - failures;
    if failures > 0 {
        return common::json(
            200,
            &json!({"success": false, "message": format!("{failures} notable event(s) not found"), "details": {}, "failure_count": failures}),
        );
    }
    common::json(
        200,
        &json!({"success": true, "message": format!("{updated} event{} updated successfully", if updated == 1 { "" } else { "s" }), "details": {}, "failure_count": 0}),
    )
}
