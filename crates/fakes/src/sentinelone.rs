//! A stand-in for the SentinelOne Management API v2.1 threats:
//! - `GET /web/api/v2.1/threats` with `updatedAt__gte` / `updatedAt__gt` / `updatedAt__lte`,
//!   `sortBy=updatedAt`, `sortOrder=asc|desc`, `limit` (1–1,000) and `cursor`, answering
//!   `{data: [...], pagination: {nextCursor, totalItems}}`;
//! - `POST /web/api/v2.1/threats/incident` `{filter: {ids}, data: {incidentStatus}}`,
//!   `POST …/threats/analyst-verdict` `{filter, data: {analystVerdict}}`, `POST …/threats/notes`
//!   `{filter, data: {text}}`, each answering `{data: {affected}}`; `GET …/threats/{id}/notes`;
//! - `Authorization: ApiToken <token>` (else 401), errors `{errors: [{code, detail, title}]}`,
//!   429 with `Retry-After`, scripted faults and delays per [`Call`].

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::common::{self, Call, Core, Running};
use crate::vendor::{self, fmt_micros, parse_time};

const STATUSES: [&str; 3] = ["unresolved", "in_progress", "resolved"];
const VERDICTS: [&str; 4] = ["true_positive", "suspicious", "false_positive", "undefined"];

struct Threat {
    modified: DateTime<Utc>,
    body: Value,
}

struct Inner {
    base: String,
    token: String,
    threats: Mutex<BTreeMap<String, Threat>>,
    notes: Mutex<HashMap<String, Vec<Value>>>,
    ids: AtomicU64,
    core: Core,
}

/// The fake console. Cheap to clone; the server stops when the last clone is dropped.
#[derive(Clone)]
pub struct FakeSentinelOne {
    inner: Arc<Inner>,
    _running: Arc<Running>,
}

fn s1_error(
    status: u16,
    code: u64,
    title: &str,
    detail: &str,
    retry_after: Option<u64>,
) -> Response {
    common::error(
        status,
        &json!({"errors": [{"code": code, "title": title, "detail": detail}]}),
        retry_after,
    )
}

impl FakeSentinelOne {
    /// A console accepting `api_token`.
    pub async fn start(api_token: &str) -> FakeSentinelOne {
        let (inner, _running) = common::start(handle, |base| Inner {
            base,
            token: api_token.to_string(),
            threats: Mutex::new(BTreeMap::new()),
            notes: Mutex::new(HashMap::new()),
            ids: AtomicU64::new(1_925_476_593_418_297_000),
            core: Core::default(),
        })
        .await;
        FakeSentinelOne { inner, _running }
    }

    pub fn base(&self) -> String {
        self.inner.base.clone()
    }

    /// Adds a threat: `threat_info` is merged over generated `threatInfo` fields; returns its id.
    pub fn add(&self, threat_name: &str, threat_info: Value) -> String {
        let s = &self.inner;
        let now = s.core.clock.now();
        let id = (s.ids.fetch_add(1, Ordering::SeqCst) + 1).to_string();
        let t = fmt_micros(now);
        let mut info = json!({
            "threatId": id, "threatName": threat_name, "classification": "Malware",
            "confidenceLevel": "malicious", "incidentStatus": "unresolved",
            "analystVerdict": "undefined", "mitigationStatus": "not_mitigated",
            "createdAt": t, "identifiedAt": t, "updatedAt": t,
        });
        if let (Some(i), Some(extra)) = (info.as_object_mut(), threat_info.as_object()) {
            for (k, v) in extra {
                i.insert(k.clone(), v.clone());
            }
        }
        info["updatedAt"] = json!(t);
        let body = json!({
            "id": id,
            "agentRealtimeInfo": {"agentComputerName": "fin-wks-0423", "agentId": format!("{id}0"),
                                  "agentOsType": "windows", "siteName": "Default site",
                                  "accountName": "Contoso"},
            "agentDetectionInfo": {"agentIpV4": "10.0.0.12", "externalIp": "203.0.113.9"},
            "indicators": [],
            "threatInfo": info,
        });
        s.threats.lock().unwrap().insert(
            id.clone(),
            Threat {
                modified: now,
                body,
            },
        );
        id
    }

    /// Adds a realistic threat (scenario from `seed`).
    pub fn add_simulated(&self, seed: u64) -> String {
        let sc = vendor::simple(seed);
        let (confidence, classification) = match sc.severity {
            "High" => ("malicious", "Ransomware"),
            "Medium" => ("malicious", "Trojan"),
            "Low" => ("suspicious", "Malware"),
            _ => ("n/a", "PUA"),
        };
        let id = self.add(
            &sc.file_name,
            json!({"classification": classification, "confidenceLevel": confidence,
                   "sha256": sc.sha256, "sha1": sc.sha1, "filePath": sc.file_path,
                   "processUser": sc.user, "storyline": &sc.sha1[..8]}),
        );
        self.set(&id, |b| {
            b["agentRealtimeInfo"]["agentComputerName"] = json!(sc.host);
            b["agentDetectionInfo"] =
                json!({"agentIpV4": sc.local_ip, "externalIp": sc.external_ip});
            b["indicators"] = json!([{"category": sc.title, "description": sc.description,
                                       "tactics": [{"name": sc.tactic, "techniques": []}]}]);
        });
        id
    }

    fn set(&self, id: &str, f: impl FnOnce(&mut Value)) {
        let mut all = self.inner.threats.lock().unwrap();
        if let Some(t) = all.get_mut(id) {
            f(&mut t.body);
        }
    }

    /// Changes a threat at the source (a new `updatedAt`).
    pub fn modify(&self, id: &str, f: impl FnOnce(&mut Value)) {
        let now = self.inner.core.clock.now();
        let mut all = self.inner.threats.lock().unwrap();
        let t = all.get_mut(id).expect("a known threat");
        f(&mut t.body);
        touch(t, now);
    }

    pub fn threat(&self, id: &str) -> Option<Value> {
        self.inner
            .threats
            .lock()
            .unwrap()
            .get(id)
            .map(|t| t.body.clone())
    }

    pub fn notes(&self, id: &str) -> Vec<Value> {
        self.inner
            .notes
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .unwrap_or_default()
    }
}

common::fake_controls!(FakeSentinelOne, threats, "The `POST` requests.", |r| r
    .method
    == "POST", simulate: 0x51);

fn touch(t: &mut Threat, now: DateTime<Utc>) {
    t.modified = now;
    t.body["threatInfo"]["updatedAt"] = json!(fmt_micros(now));
}

async fn handle(State(cell): State<common::Cell<Inner>>, req: common::Req) -> Response {
    let Some(s) = cell.get().cloned() else {
        return s1_error(503, 5030010, "Service Unavailable", "Starting.", None);
    };
    let common::Req(method, uri, headers, body) = s.core.record(req);
    let auth = common::header(&headers, "authorization");
    if auth != format!("ApiToken {}", s.token) {
        return s1_error(401, 4010010, "Authentication Failed", "", None);
    }
    let Some(rest) = uri.path().strip_prefix("/web/api/v2.1/threats") else {
        return s1_error(404, 4040010, "Not Found", "No such endpoint.", None);
    };
    let segs: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    let call = match (&method, segs.as_slice()) {
        (&Method::GET, []) => Call::List,
        (&Method::GET, [_, "notes"]) => Call::Read,
        (&Method::POST, ["incident" | "analyst-verdict"]) => Call::Update,
        (&Method::POST, ["notes"]) => Call::Comment,
        _ => return s1_error(405, 4050010, "Method Not Allowed", "", None),
    };
    if let Some(f) = s.core.script.take(call) {
        let (code, title) = match f.status {
            429 => (4290010, "Too Many Requests"),
            401 => (4010010, "Authentication Failed"),
            403 => (4030010, "Forbidden"),
            _ => (5000010, "Server Error"),
        };
        return s1_error(f.status, code, title, "Scripted failure.", f.retry_after);
    }
    if let Some(d) = s.core.script.delay(call) {
        tokio::time::sleep(d).await;
    }
    match segs.as_slice() {
        [] => list(&s, &vendor::query(&uri)),
        [id, "notes"] => {
            let notes = s
                .notes
                .lock()
                .unwrap()
                .get(*id)
                .cloned()
                .unwrap_or_default();
            common::json(
                200,
                &json!({"data": notes, "pagination": {"nextCursor": null, "totalItems": notes.len()}}),
            )
        }
        [action] => write(&s, action, &body),
        _ => s1_error(404, 4040010, "Not Found", "", None),
    }
}

fn list(s: &Inner, q: &HashMap<String, String>) -> Response {
    let bad = |d: String| s1_error(400, 4000010, "Validation Error", &d, None);
    let mut bounds: Vec<(&str, DateTime<Utc>)> = Vec::new();
    for op in [
        "updatedAt__gte",
        "updatedAt__gt",
        "updatedAt__lte",
        "updatedAt__lt",
    ] {
        if let Some(v) = q.get(op) {
            match parse_time(v) {
                Some(t) => bounds.push((op, t)),
                None => return bad(format!("{op}: Not a valid datetime.")),
            }
        }
    }
    if let Some(sb) = q.get("sortBy") {
        if sb != "updatedAt" && sb != "createdAt" && sb != "id" {
            return bad(format!(
                "sortBy: Must be one of: updatedAt, createdAt, id (got {sb})."
            ));
        }
    }
    let asc = match q.get("sortOrder").map(String::as_str) {
        None | Some("asc") => true,
        Some("desc") => false,
        Some(o) => return bad(format!("sortOrder: Must be one of: asc, desc (got {o}).")),
    };
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => 10,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        _ => return bad("limit: Must be between 1 and 1000.".into()),
    };
    let after = match q.get("cursor") {
        None => None,
        Some(c) => match common::parse_page_token(c) {
            Some(a) => Some(a),
            None => return bad("cursor: Invalid cursor.".into()),
        },
    };
    let all = s.threats.lock().unwrap();
    let mut keys: Vec<(DateTime<Utc>, &String)> = all
        .iter()
        .map(|(id, t)| (t.modified, id))
        .filter(|(t, _)| {
            bounds.iter().all(|(op, b)| match *op {
                "updatedAt__gte" => t >= b,
                "updatedAt__gt" => t > b,
                "updatedAt__lte" => t <= b,
                _ => t < b,
            })
        })
        .collect();
    keys.sort();
    if !asc {
        keys.reverse();
    }
    let total = keys.len();
    if let Some((t, id)) = &after {
        keys.retain(|(kt, kid)| {
            let k = (*kt, kid.as_str());
            if asc {
                k > (*t, id.as_str())
            } else {
                k < (*t, id.as_str())
            }
        });
    }
    let more = keys.len() > limit;
    keys.truncate(limit);
    let data: Vec<Value> = keys.iter().map(|(_, id)| all[*id].body.clone()).collect();
    let next = more.then(|| {
        let (t, id) = keys.last().expect("a full page");
        common::page_token(*t, id)
    });
    common::json(
        200,
        &json!({"data": data, "pagination": {"nextCursor": next, "totalItems": total}}),
    )
}

fn write(s: &Inner, action: &str, body: &[u8]) -> Response {
    let bad = |d: &str| s1_error(400, 4000010, "Validation Error", d, None);
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return bad("Invalid JSON body.");
    };
    let ids: Vec<String> = match v["filter"]["ids"].as_array() {
        Some(a) if !a.is_empty() && a.iter().all(Value::is_string) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => return bad("filter: At least one filter is required (ids)."),
    };
    let data = &v["data"];
    let field = match action {
        "incident" => match data["incidentStatus"].as_str() {
            Some(x) if STATUSES.contains(&x) => ("incidentStatus", x.to_string()),
            _ => return bad("data.incidentStatus: Must be one of: unresolved, in_progress, resolved."),
        },
        "analyst-verdict" => match data["analystVerdict"].as_str() {
            Some(x) if VERDICTS.contains(&x) => ("analystVerdict", x.to_string()),
            _ => return bad("data.analystVerdict: Must be one of: true_positive, suspicious, false_positive, undefined."),
        },
        _ => match data["text"].as_str() {
            Some(t) if !t.trim().is_empty() => ("text", t.to_string()),
            _ => return bad("data.text: Missing data for required field."),
        },
    };
    let now = s.core.clock.now();
    let mut all = s.threats.lock().unwrap();
    let mut affected = 0;
    for id in &ids {
        let Some(t) = all.get_mut(id) else { continue };
        affected += 1;
        if field.0 == "text" {
            s.notes
                .lock()
                .unwrap()
                .entry(id.clone())
                .or_default()
                .push(json!({
                "id": format!("{}", now.timestamp_micros()), "text": field.1,
                "createdAt": fmt_micros(now), "creator": "Palisade (API user)"}));
        } else {
            t.body["threatInfo"][field.0] = json!(field.1);
            touch(t, now);
        }
    }
    common::json(200, &json!({"data": {"affected": affected}}))
}
