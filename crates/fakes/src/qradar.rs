//! A stand-in for the IBM QRadar SIEM REST API (offenses):
//! - `SEC: <token>` on every request (else 401 in QRadar's error shape `{http_response: {code,
//!   message}, code, message, description, details}`), `Version: <n.n>` (else 406);
//! - `GET /api/siem/offenses` with `filter` (`last_persisted_time`, `last_updated_time`, `id`
//!   compared to numbers, `status = OPEN`, joined by `and`), `sort` (`+`/`-` a field) and
//!   `Range: items=x-y`, answering `Content-Range: items x-y/total`. A filter that still holds
//!   `%` escapes after one decoding (encoded twice) or a sort whose `+` arrived as a space is
//!   refused with 422, as QRadar refuses syntax it cannot parse;
//! - `GET /api/siem/source_addresses` and `/local_destination_addresses` (`filter=id in (…)`);
//! - `GET /api/siem/offense_closing_reasons`;
//! - `POST /api/siem/offenses/{id}?status=&closing_reason_id=&assigned_to=` (closing needs a
//!   reason; a closed offense is not reopened: 409), notes `GET|POST …/{id}/notes?note_text=`.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use serde_json::{json, Value};

use crate::common::{self, Call, Core, Running};
use crate::vendor;

struct Inner {
    base: String,
    token: String,
    offenses: Mutex<BTreeMap<i64, Value>>,
    addresses: Mutex<(HashMap<String, i64>, BTreeMap<i64, String>)>,
    notes: Mutex<HashMap<i64, Vec<Value>>>,
    reasons: Mutex<Vec<Value>>,
    ids: AtomicI64,
    core: Core,
}

/// The fake console. Cheap to clone; the server stops when the last clone is dropped.
#[derive(Clone)]
pub struct FakeQRadar {
    inner: Arc<Inner>,
    _running: Arc<Running>,
}

fn q_error(status: u16, code: i64, message: &str, retry_after: Option<u64>) -> Response {
    let http = match status {
        401 => "You are unauthorized to access the requested resource.",
        404 => "We could not find the requested resource.",
        406 => "The server cannot produce a response matching the Accept or Version headers.",
        409 => "The request could not be completed due to a conflict with the current state of the resource.",
        422 => "The request was well-formed but was unable to be followed due to semantic errors.",
        429 => "Too many requests.",
        _ => "Unexpected internal server error",
    };
    common::error(
        status,
        &json!({"http_response": {"code": status, "message": http}, "code": code,
                "message": message, "description": "", "details": {}}),
        retry_after,
    )
}

impl FakeQRadar {
    /// A console accepting the authorized service token `token`.
    pub async fn start(token: &str) -> FakeQRadar {
        let reasons = vec![
            json!({"id": 1, "text": "Non-Issue", "is_reserved": false, "is_deleted": false}),
            json!({"id": 2, "text": "False-Positive, Tuned", "is_reserved": false, "is_deleted": false}),
            json!({"id": 3, "text": "Policy Violation", "is_reserved": false, "is_deleted": false}),
        ];
        let (inner, _running) = common::start(handle, |base| Inner {
            base,
            token: token.to_string(),
            offenses: Mutex::new(BTreeMap::new()),
            addresses: Mutex::new((HashMap::new(), BTreeMap::new())),
            notes: Mutex::new(HashMap::new()),
            reasons: Mutex::new(reasons),
            ids: AtomicI64::new(1000),
            core: Core::default(),
        })
        .await;
        FakeQRadar { inner, _running }
    }

    pub fn base(&self) -> String {
        self.inner.base.clone()
    }

    /// Adds a closing reason (e.g. a deployment's "True Positive"); returns its id.
    pub fn add_closing_reason(&self, text: &str) -> i64 {
        let mut r = self.inner.reasons.lock().unwrap();
        let id = 50 + r.len() as i64;
        r.push(json!({"id": id, "text": text, "is_reserved": false, "is_deleted": false}));
        id
    }

    fn address_id(&self, ip: &str) -> i64 {
        let mut a = self.inner.addresses.lock().unwrap();
        if let Some(id) = a.0.get(ip) {
            return *id;
        }
        let id = a.1.len() as i64 + 1;
        a.0.insert(ip.to_string(), id);
        a.1.insert(id, ip.to_string());
        id
    }

    /// Adds an offense: `fields` merged over generated ones; `sources` / `destinations` are
    /// addresses (turned into ids). Returns its id.
    pub fn add(
        &self,
        description: &str,
        sources: &[&str],
        destinations: &[&str],
        fields: Value,
    ) -> i64 {
        let s = &self.inner;
        let now = s.core.clock.now().timestamp_millis();
        let id = s.ids.fetch_add(1, Ordering::SeqCst) + 1;
        let src: Vec<i64> = sources.iter().map(|a| self.address_id(a)).collect();
        let dst: Vec<i64> = destinations.iter().map(|a| self.address_id(a)).collect();
        let mut o = json!({
            "id": id, "description": format!("{description}\n"), "offense_type": 0,
            "offense_source": sources.first().copied().unwrap_or("10.0.0.1"), "status": "OPEN",
            "severity": 5, "magnitude": 4, "credibility": 3, "relevance": 4,
            "start_time": now, "last_updated_time": now, "last_persisted_time": now,
            "first_persisted_time": now, "close_time": null, "closing_reason_id": null,
            "closing_user": null, "assigned_to": null, "categories": ["Suspicious Activity"],
            "rules": [{"id": 100_001, "type": "CRE_RULE"}], "domain_id": 0, "event_count": 12,
            "source_address_ids": src, "local_destination_address_ids": dst, "follow_up": false,
        });
        if let (Some(m), Some(f)) = (o.as_object_mut(), fields.as_object()) {
            for (k, v) in f {
                m.insert(k.clone(), v.clone());
            }
        }
        s.offenses.lock().unwrap().insert(id, o);
        id
    }

    /// Adds a realistic offense (scenario from `seed`).
    pub fn add_simulated(&self, seed: u64) -> i64 {
        let sc = vendor::simple(seed);
        let sev = match sc.severity {
            "High" => 8,
            "Medium" => 6,
            "Low" => 3,
            _ => 1,
        };
        self.add(
            sc.title,
            &[&sc.local_ip],
            &[&sc.external_ip],
            json!({"severity": sev, "magnitude": sev.max(2) - 1, "categories": [sc.tactic]}),
        )
    }

    /// Changes an offense at the source (new `last_updated_time` / `last_persisted_time`).
    pub fn modify(&self, id: i64, f: impl FnOnce(&mut Value)) {
        let now = self.inner.core.clock.now().timestamp_millis();
        let mut all = self.inner.offenses.lock().unwrap();
        let o = all.get_mut(&id).expect("a known offense");
        f(o);
        o["last_updated_time"] = json!(now);
        o["last_persisted_time"] = json!(now);
    }

    pub fn offense(&self, id: i64) -> Option<Value> {
        self.inner.offenses.lock().unwrap().get(&id).cloned()
    }

    pub fn notes(&self, id: i64) -> Vec<Value> {
        self.inner
            .notes
            .lock()
            .unwrap()
            .get(&id)
            .cloned()
            .unwrap_or_default()
    }
}

common::fake_controls!(FakeQRadar, offenses, "The `POST` requests.", |r| r.method
    == "POST", simulate: 0x9a);

async fn handle(State(cell): State<common::Cell<Inner>>, req: common::Req) -> Response {
    let Some(s) = cell.get().cloned() else {
        return q_error(503, 0, "Starting.", None);
    };
    let common::Req(method, uri, headers, _) = s.core.record(req);
    let h = |n: &str| common::header(&headers, n);
    if h("sec") != s.token {
        return q_error(
            401,
            11,
            "No SEC header present in request, or the token is not valid.",
            None,
        );
    }
    let version = h("version");
    let ok_version = version.split_once('.').is_some_and(|(a, b)| {
        !a.is_empty() && !b.is_empty() && (a.bytes().chain(b.bytes())).all(|c| c.is_ascii_digit())
    });
    if !ok_version {
        return q_error(
            406,
            9,
            &format!("Unsupported or missing Version header '{version}'."),
            None,
        );
    }
    let segs: Vec<&str> = uri.path().split('/').filter(|p| !p.is_empty()).collect();
    let call = match (&method, segs.as_slice()) {
        (&Method::GET, ["api", "siem", "offenses"]) => Call::List,
        (&Method::GET, ["api", "siem", "source_addresses" | "local_destination_addresses"]) => {
            Call::Lookup
        }
        (&Method::GET, ["api", "siem", "offense_closing_reasons"]) => Call::Read,
        (&Method::GET, ["api", "siem", "offenses", _, "notes"]) => Call::Read,
        (&Method::POST, ["api", "siem", "offenses", _]) => Call::Update,
        (&Method::POST, ["api", "siem", "offenses", _, "notes"]) => Call::Comment,
        _ => return q_error(404, 1002, "No such endpoint.", None),
    };
    if let Some(f) = s.core.script.take(call) {
        return q_error(f.status, 1020, "Scripted failure.", f.retry_after);
    }
    if let Some(d) = s.core.script.delay(call) {
        tokio::time::sleep(d).await;
    }
    let q = vendor::query(&uri);
    let range = parse_range(h("range"));
    match segs.as_slice() {
        ["api", "siem", "offenses"] => list(&s, &q, range),
        ["api", "siem", kind] if call == Call::Lookup => addresses(&s, kind, &q),
        ["api", "siem", "offense_closing_reasons"] => {
            common::json(200, &Value::Array(s.reasons.lock().unwrap().clone()))
        }
        ["api", "siem", "offenses", id, "notes"] => notes(&s, id, &method, &q),
        ["api", "siem", "offenses", id] => update(&s, id, &q),
        _ => q_error(404, 1002, "No such endpoint.", None),
    }
}

fn parse_range(v: &str) -> Option<(usize, usize)> {
    let (a, b) = v.trim().strip_prefix("items=")?.split_once('-')?;
    let (a, b) = (a.parse().ok()?, b.parse().ok()?);
    (b >= a).then_some((a, b))
}

/// One comparison of a filter: `field op value`.
/// One clause of a `filter`, read once per request.
enum Clause<'a> {
    Status {
        equal: bool,
        value: &'a str,
    },
    Number {
        field: &'a str,
        op: &'a str,
        value: i64,
    },
}

impl<'a> Clause<'a> {
    fn parse(clause: &'a str) -> Result<Clause<'a>, String> {
        let words: Vec<&str> = clause.split_whitespace().collect();
        let [field, op, value] = words.as_slice() else {
            return Err(format!("Invalid filter clause '{clause}'."));
        };
        if *field == "status" {
            let value = value.trim_matches('"');
            return match *op {
                "=" => Ok(Clause::Status { equal: true, value }),
                "!=" => Ok(Clause::Status {
                    equal: false,
                    value,
                }),
                _ => Err(format!("Operator '{op}' is not supported on status.")),
            };
        }
        if ![
            "id",
            "last_persisted_time",
            "last_updated_time",
            "start_time",
            "severity",
        ]
        .contains(field)
        {
            return Err(format!("Field '{field}' cannot be filtered."));
        }
        let value: i64 = value
            .parse()
            .map_err(|_| format!("'{value}' is not a number."))?;
        if ![">=", ">", "<=", "<", "="].contains(op) {
            return Err(format!("Unsupported operator '{op}'."));
        }
        Ok(Clause::Number { field, op, value })
    }

    fn passes(&self, o: &Value) -> bool {
        match self {
            Clause::Status { equal, value } => (o["status"].as_str() == Some(value)) == *equal,
            Clause::Number { field, op, value } => {
                let h = o[*field].as_i64().unwrap_or(0);
                match *op {
                    ">=" => h >= *value,
                    ">" => h > *value,
                    "<=" => h <= *value,
                    "<" => h < *value,
                    _ => h == *value,
                }
            }
        }
    }
}

fn list(s: &Inner, q: &HashMap<String, String>, range: Option<(usize, usize)>) -> Response {
    let filter = q.get("filter").cloned().unwrap_or_default();
    if filter.contains('%') {
        return q_error(
            422,
            1005,
            "The filter could not be parsed (is it URL-encoded twice?).",
            None,
        );
    }
    let (key, desc) = match q.get("sort").map(String::as_str) {
        None => ("id", false),
        Some(s) if s.starts_with('+') => (&s[1..], false),
        Some(s) if s.starts_with('-') => (&s[1..], true),
        Some(other) => {
            return q_error(
                422,
                1006,
                &format!("Invalid sort '{other}' (a '+' sent unencoded arrives as a space)."),
                None,
            )
        }
    };
    let key = key.to_string();
    let clauses = match filter
        .split(" and ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(Clause::parse)
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(c) => c,
        Err(m) => return q_error(422, 1005, &m, None),
    };
    let all = s.offenses.lock().unwrap();
    // Sort keys read once per offense; only the requested range is put in order (a full
    // sort per page made the fake, not the server, the bottleneck of bench/connectors.sh).
    let hits: Vec<((i64, i64), &Value)> = all
        .values()
        .filter(|o| clauses.iter().all(|c| c.passes(o)))
        .map(|o| {
            let k = (o[&key].as_i64().unwrap_or(0), o["id"].as_i64().unwrap_or(0));
            (if desc { (-k.0, -k.1) } else { k }, o)
        })
        .collect();
    let total = hits.len();
    let (a, b) = range.unwrap_or((0, total.saturating_sub(1)));
    let page: Vec<Value> = common::first_sorted(hits, b.saturating_add(1), |(k, _)| *k)
        .into_iter()
        .skip(a)
        .take(b + 1 - a)
        .map(|(_, o)| o.clone())
        .collect();
    let mut r = common::json(200, &Value::Array(page.clone()));
    let cr = if page.is_empty() {
        format!("items */{total}")
    } else {
        format!("items {a}-{}/{total}", a + page.len() - 1)
    };
    r.headers_mut()
        .insert("content-range", cr.parse().expect("a header"));
    r
}

fn addresses(s: &Inner, kind: &str, q: &HashMap<String, String>) -> Response {
    let filter = q.get("filter").map(String::as_str).unwrap_or("");
    let Some(list) = filter
        .strip_prefix("id in (")
        .and_then(|r| r.strip_suffix(')'))
    else {
        return q_error(422, 1005, &format!("Unsupported filter '{filter}'."), None);
    };
    let ids: Vec<i64> = list
        .split(',')
        .filter_map(|i| i.trim().parse().ok())
        .collect();
    let field = if kind == "source_addresses" {
        "source_ip"
    } else {
        "local_destination_ip"
    };
    let a = s.addresses.lock().unwrap();
    let out: Vec<Value> = ids
        .iter()
        .filter_map(|i| a.1.get(i).map(|ip| json!({"id": i, field: ip})))
        .collect();
    common::json(200, &Value::Array(out))
}

fn update(s: &Inner, id: &str, q: &HashMap<String, String>) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return q_error(422, 1003, "The offense id must be a number.", None);
    };
    let now = s.core.clock.now().timestamp_millis();
    let reasons: Vec<i64> = s
        .reasons
        .lock()
        .unwrap()
        .iter()
        .filter_map(|r| r["id"].as_i64())
        .collect();
    let mut all = s.offenses.lock().unwrap();
    let Some(o) = all.get_mut(&id) else {
        return q_error(404, 1002, &format!("Offense {id} does not exist."), None);
    };
    if let Some(st) = q.get("status") {
        match st.as_str() {
            "CLOSED" => {
                let Some(r) = q
                    .get("closing_reason_id")
                    .and_then(|r| r.parse::<i64>().ok())
                else {
                    return q_error(
                        422,
                        1010,
                        "closing_reason_id is required to close an offense.",
                        None,
                    );
                };
                if !reasons.contains(&r) {
                    return q_error(
                        422,
                        1011,
                        &format!("Closing reason {r} does not exist."),
                        None,
                    );
                }
                o["status"] = json!("CLOSED");
                o["closing_reason_id"] = json!(r);
                o["close_time"] = json!(now);
                o["closing_user"] = json!("palisade");
            }
            "OPEN" | "HIDDEN" if o["status"] == "CLOSED" => {
                return q_error(409, 1012, "A closed offense cannot be reopened.", None);
            }
            "OPEN" | "HIDDEN" => o["status"] = json!(st),
            other => return q_error(422, 1013, &format!("Invalid status '{other}'."), None),
        }
    }
    if let Some(a) = q.get("assigned_to") {
        o["assigned_to"] = if a.is_empty() { Value::Null } else { json!(a) };
    }
    o["last_persisted_time"] = json!(now);
    common::json(200, o)
}

fn notes(s: &Inner, id: &str, method: &Method, q: &HashMap<String, String>) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return q_error(422, 1003, "The offense id must be a number.", None);
    };
    if !s.offenses.lock().unwrap().contains_key(&id) {
        return q_error(404, 1002, &format!("Offense {id} does not exist."), None);
    }
    let mut notes = s.notes.lock().unwrap();
    let list = notes.entry(id).or_default();
    if method == Method::GET {
        return common::json(200, &Value::Array(list.clone()));
    }
    let Some(text) = q.get("note_text").filter(|t| !t.trim().is_empty()) else {
        return q_error(422, 1014, "note_text is required.", None);
    };
    let note = json!({"id": 9000 + list.len(), "note_text": text,
                      "create_time": s.core.clock.now().timestamp_millis(), "username": "palisade"});
    list.push(note.clone());
    common::json(201, &note)
}
