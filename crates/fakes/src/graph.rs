//! A stand-in for the Microsoft Graph security incidents of Defender XDR (`/v1.0/security/
//! incidents`):
//! - `GET /v1.0/security/incidents` with `$filter` on `lastUpdateDateTime` (ge/gt/le/lt),
//!   `$orderby` on it (asc/desc), `$expand=alerts`, `$top` (at most 50) and
//!   `@odata.nextLink` carrying `$skiptoken`;
//! - `GET|PATCH /v1.0/security/incidents/{id}`: the `PATCH` takes `status`,
//!   `classification`, `determination`, `assignedTo`, `customTags` (and `description`) and
//!   answers the updated incident;
//! - `POST /v1.0/security/incidents/{id}/comments` with `{"@odata.type":
//!   "microsoft.graph.security.alertComment", "comment"}`, answering every comment;
//! - Graph error bodies `{error: {code, message, innerError}}`, bearer tokens of
//!   [`FakeEntra`] for the scope `{base}/.default`, scripted faults and delays per [`Call`].

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::common::{self, Call, Core, ListQuery, Running};
use crate::entra::{FakeEntra, TokenProblem};
use crate::simulate;

const FIELD: &str = "lastUpdateDateTime";
const STATUSES: [&str; 6] = [
    "active",
    "resolved",
    "inProgress",
    "redirected",
    "awaitingAction",
    "unknownFutureValue",
];
const CLASSIFICATIONS: [&str; 5] = [
    "unknown",
    "falsePositive",
    "truePositive",
    "informationalExpectedActivity",
    "unknownFutureValue",
];
/// The determinations of the update page and of the resource page (Graph renamed several).
const DETERMINATIONS: [&str; 19] = [
    "unknown",
    "apt",
    "malware",
    "securityPersonnel",
    "securityTesting",
    "unwantedSoftware",
    "other",
    "multiStagedAttack",
    "compromisedAccount",
    "compromisedUser",
    "phishing",
    "maliciousUserActivity",
    "notMalicious",
    "clean",
    "notEnoughDataToValidate",
    "insufficientData",
    "confirmedUserActivity",
    "lineOfBusinessApplication",
    "unknownFutureValue",
];

/// An incident to add: `incident` fields are merged over generated defaults.
#[derive(Debug, Clone, Default)]
pub struct GraphSeed {
    pub id: Option<String>,
    pub incident: Map<String, Value>,
    /// Alert objects (with their `evidence`).
    pub alerts: Vec<Value>,
}

impl GraphSeed {
    pub fn new(display_name: &str, severity: &str) -> GraphSeed {
        let mut incident = Map::new();
        incident.insert("displayName".into(), json!(display_name));
        incident.insert("severity".into(), json!(severity));
        GraphSeed {
            incident,
            ..GraphSeed::default()
        }
    }

    pub fn with(mut self, key: &str, value: Value) -> GraphSeed {
        self.incident.insert(key.into(), value);
        self
    }
}

struct Incident {
    modified: DateTime<Utc>,
    fields: Map<String, Value>,
    alerts: Vec<Value>,
}

struct Inner {
    entra: FakeEntra,
    base: String,
    tenant: String,
    scope: Mutex<String>,
    incidents: Mutex<BTreeMap<String, Incident>>,
    ids: AtomicI64,
    core: Core,
}

/// The fake Graph. Cheap to clone; the server stops when the last clone is dropped.
#[derive(Clone)]
pub struct FakeGraph {
    inner: Arc<Inner>,
    _running: Arc<Running>,
}

fn graph_error(status: u16, code: &str, message: &str) -> Response {
    common::json(
        status,
        &json!({"error": {"code": code, "message": message,
                "innerError": {"date": common::fmt_time(Utc::now()),
                               "request-id": uuid::Uuid::new_v4().to_string(),
                               "client-request-id": uuid::Uuid::new_v4().to_string()}}}),
    )
}

impl FakeGraph {
    pub async fn start(entra: &FakeEntra, tenant: &str) -> FakeGraph {
        let (inner, _running) = common::start(handle, |base| Inner {
            entra: entra.clone(),
            scope: Mutex::new(format!("{base}/.default")),
            base,
            tenant: tenant.to_string(),
            incidents: Mutex::new(BTreeMap::new()),
            ids: AtomicI64::new(2_972_394),
            core: Core::default(),
        })
        .await;
        FakeGraph { inner, _running }
    }

    /// The Graph endpoint: `http://127.0.0.1:{port}` (paths start with `/v1.0`).
    pub fn base(&self) -> String {
        self.inner.base.clone()
    }

    pub fn expect_scope(&self, scope: &str) {
        *self.inner.scope.lock().unwrap() = scope.to_string();
    }

    /// Adds an incident; returns its id.
    pub fn add(&self, seed: GraphSeed) -> String {
        let s = &self.inner;
        let now = s.core.clock.now();
        let id = seed
            .id
            .unwrap_or_else(|| (s.ids.fetch_add(1, Ordering::SeqCst) + 1).to_string());
        let t = common::fmt_time(now);
        let mut f = Map::new();
        f.insert(
            "@odata.type".into(),
            json!("#microsoft.graph.security.incident"),
        );
        f.insert("id".into(), json!(id));
        f.insert(
            "incidentWebUrl".into(),
            json!(format!(
                "https://security.microsoft.com/incidents/{id}?tid={}",
                s.tenant
            )),
        );
        f.insert("redirectIncidentId".into(), Value::Null);
        f.insert("tenantId".into(), json!(s.tenant));
        f.insert("displayName".into(), json!(format!("Incident {id}")));
        f.insert("description".into(), Value::Null);
        f.insert("createdDateTime".into(), json!(t));
        f.insert("assignedTo".into(), Value::Null);
        f.insert("classification".into(), json!("unknown"));
        f.insert("determination".into(), json!("unknown"));
        f.insert("status".into(), json!("active"));
        f.insert("severity".into(), json!("medium"));
        f.insert("customTags".into(), json!([]));
        f.insert("systemTags".into(), json!([]));
        f.insert("comments".into(), json!([]));
        f.extend(seed.incident);
        f.insert(FIELD.into(), json!(t));
        let alerts = seed
            .alerts
            .into_iter()
            .map(|mut a| {
                if let Some(o) = a.as_object_mut() {
                    o.entry("incidentId").or_insert(json!(id));
                }
                a
            })
            .collect();
        s.incidents.lock().unwrap().insert(
            id.clone(),
            Incident {
                modified: now,
                fields: f,
                alerts,
            },
        );
        id
    }

    /// Adds a realistic incident (random scenario from `seed`) with one alert and its evidence.
    pub fn add_simulated(&self, seed: u64) -> String {
        let mut rng = simulate::rng(seed);
        let sc = simulate::scenario(&mut rng);
        let now = common::fmt_time(Utc::now());
        let alert_id = format!("da{}_{}", Utc::now().timestamp_micros(), seed % 1_000_000);
        let evidence: Vec<Value> = sc
            .things
            .iter()
            .map(|t| simulate::graph_evidence(t, &now))
            .collect();
        let severity = sc.severity.to_ascii_lowercase();
        let alert = json!({
            "@odata.type": "#microsoft.graph.security.alert", "id": alert_id,
            "providerAlertId": alert_id, "status": "new", "severity": severity,
            "classification": null, "determination": null, "serviceSource": sc.service_source,
            "detectionSource": "customTi", "title": sc.title, "description": sc.description,
            "category": sc.tactic, "createdDateTime": now, "lastUpdateDateTime": now,
            "firstActivityDateTime": now, "lastActivityDateTime": now, "mitreTechniques": [],
            "evidence": evidence
        });
        self.add(GraphSeed {
            id: None,
            incident: json!({"displayName": sc.title, "description": sc.description, "severity": severity})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            alerts: vec![alert],
        })
    }

    /// Changes an incident at the source: a new `lastUpdateDateTime`.
    pub fn modify(&self, id: &str, f: impl FnOnce(&mut Map<String, Value>)) {
        let now = self.inner.core.clock.now();
        let mut all = self.inner.incidents.lock().unwrap();
        let i = all.get_mut(id).expect("a known incident");
        f(&mut i.fields);
        touch(i, now);
    }

    /// The incident as Graph returns it with `$expand=alerts`.
    pub fn incident(&self, id: &str) -> Option<Value> {
        let all = self.inner.incidents.lock().unwrap();
        all.get(id).map(|i| render(i, true))
    }
}

common::fake_controls!(
    FakeGraph,
    incidents,
    "The requests that change something (`POST`, `PATCH`).",
    |r| matches!(r.method.as_str(), "POST" | "PATCH")
, simulate: 0x00de_fe4d);

fn touch(i: &mut Incident, now: DateTime<Utc>) {
    i.modified = now;
    i.fields.insert(FIELD.into(), json!(common::fmt_time(now)));
}

fn render(i: &Incident, expand: bool) -> Value {
    let mut v = Value::Object(i.fields.clone());
    if expand {
        v["alerts"] = json!(i.alerts);
    }
    v
}

async fn handle(State(cell): State<common::Cell<Inner>>, req: common::Req) -> Response {
    let Some(s) = cell.get().cloned() else {
        return graph_error(503, "serviceNotAvailable", "Starting.");
    };
    let common::Req(method, uri, headers, body) = s.core.record(req);
    let scope = s.scope.lock().unwrap().clone();
    match s.entra.check(&headers, &scope) {
        Ok(()) => {}
        Err(TokenProblem::Missing) => {
            return graph_error(401, "InvalidAuthenticationToken", "Access token is empty.")
        }
        Err(_) => {
            return graph_error(
                401,
                "InvalidAuthenticationToken",
                "Access token has expired or is not yet valid.",
            )
        }
    }
    let query = crate::vendor::query(&uri);
    let Some(rest) = uri.path().strip_prefix("/v1.0/security/incidents") else {
        return graph_error(
            400,
            "BadRequest",
            &format!("Resource not found for the segment '{}'.", uri.path()),
        );
    };
    let segs: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    let call = match (&method, segs.as_slice()) {
        (&Method::GET, []) => Call::List,
        (&Method::GET, [_]) => Call::Read,
        (&Method::PATCH, [_]) => Call::Update,
        (&Method::POST, [_, "comments"]) => Call::Comment,
        _ => {
            return graph_error(
                405,
                "Request_BadRequest",
                "The method is not allowed on this resource.",
            )
        }
    };
    if let Some(f) = s.core.script.take(call) {
        let code = match f.status {
            429 => "TooManyRequests",
            503 => "serviceNotAvailable",
            504 => "gatewayTimeout",
            _ => "generalException",
        };
        let body = json!({"error": {"code": code, "message": format!("Scripted failure {}.", f.status), "innerError": {}}});
        return common::error(f.status, &body, f.retry_after);
    }
    if let Some(d) = s.core.script.delay(call) {
        tokio::time::sleep(d).await;
    }
    let expand = match query.get("$expand").map(String::as_str) {
        None => false,
        Some("alerts") => true,
        Some(other) => {
            return graph_error(
                400,
                "BadRequest",
                &format!("Could not find a property named '{other}' to expand."),
            )
        }
    };
    match segs.as_slice() {
        [] => list(&s, uri.path(), &query, expand),
        [id] if call == Call::Read => {
            let all = s.incidents.lock().unwrap();
            match all.get(*id) {
                Some(i) => common::json(200, &with_context(&s, render(i, expand))),
                None => graph_error(404, "NotFound", &format!("Incident {id} was not found.")),
            }
        }
        [id] => patch(&s, id, &body),
        [id, _] => comment(&s, id, &body),
        _ => graph_error(404, "NotFound", "Not found."),
    }
}

fn with_context(s: &Inner, mut v: Value) -> Value {
    v["@odata.context"] = json!(format!(
        "{}/v1.0/$metadata#security/incidents/$entity",
        s.base
    ));
    v
}

fn list(s: &Inner, path: &str, q: &HashMap<String, String>, expand: bool) -> Response {
    let lq = match ListQuery::parse(q, FIELD, 50, &["$skiptoken", "$skipToken"]) {
        Ok(lq) => lq,
        Err(m) => return graph_error(400, "BadRequest", &m),
    };
    let top = lq.top;
    let all = s.incidents.lock().unwrap();
    let (keys, more) = lq.page(all.iter().map(|(n, i)| (i.modified, n)));
    let value: Vec<Value> = keys.iter().map(|(_, n)| render(&all[*n], expand)).collect();
    let mut body = json!({"@odata.context": format!("{}/v1.0/$metadata#security/incidents", s.base), "value": value});
    if more {
        let (t, n) = keys.last().expect("a full page");
        let mut link = url::Url::parse(&format!("{}{path}", s.base)).expect("a URL");
        {
            let mut qp = link.query_pairs_mut();
            for k in ["$filter", "$orderby", "$expand"] {
                if let Some(v) = q.get(k) {
                    qp.append_pair(k, v);
                }
            }
            qp.append_pair("$top", &top.to_string());
            qp.append_pair("$skiptoken", &common::page_token(*t, n));
        }
        body["@odata.nextLink"] = json!(link.as_str());
    }
    common::json(200, &body)
}

fn patch(s: &Inner, id: &str, body: &[u8]) -> Response {
    let Ok(Value::Object(b)) = serde_json::from_slice::<Value>(body) else {
        return graph_error(400, "BadRequest", "Empty Payload. JSON content expected.");
    };
    for (k, v) in &b {
        let ok = match k.as_str() {
            "status" => v.as_str().is_some_and(|x| STATUSES.contains(&x)),
            "classification" => v.as_str().is_some_and(|x| CLASSIFICATIONS.contains(&x)),
            "determination" => v.as_str().is_some_and(|x| DETERMINATIONS.contains(&x)),
            "assignedTo" => v.is_null() || v.is_string(),
            "description" => v.is_null() || v.is_string(),
            "customTags" => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
            other => {
                return graph_error(400, "BadRequest", &format!("The property '{other}' does not exist on type 'microsoft.graph.security.incident' or is not writable."))
            }
        };
        if !ok {
            return graph_error(
                400,
                "BadRequest",
                &format!("Invalid value {v} for property '{k}'."),
            );
        }
    }
    let now = s.core.clock.now();
    let mut all = s.incidents.lock().unwrap();
    let Some(i) = all.get_mut(id) else {
        return graph_error(404, "NotFound", &format!("Incident {id} was not found."));
    };
    for (k, v) in b {
        i.fields.insert(k, v);
    }
    touch(i, now);
    common::json(200, &with_context(s, render(i, false)))
}

fn comment(s: &Inner, id: &str, body: &[u8]) -> Response {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    if let Some(t) = v.get("@odata.type") {
        let t = t.as_str().unwrap_or("").trim_start_matches('#');
        if t != "microsoft.graph.security.alertComment" {
            return graph_error(400, "BadRequest", &format!("Invalid @odata.type '{t}'."));
        }
    }
    let Some(text) = v["comment"].as_str().filter(|c| !c.trim().is_empty()) else {
        return graph_error(400, "BadRequest", "The comment property is required.");
    };
    let now = s.core.clock.now();
    let mut all = s.incidents.lock().unwrap();
    let Some(i) = all.get_mut(id) else {
        return graph_error(404, "NotFound", &format!("Incident {id} was not found."));
    };
    let c = json!({"comment": text, "createdByDisplayName": "Palisade (app)", "createdDateTime": common::fmt_time(now)});
    let comments = i.fields.entry("comments").or_insert(json!([]));
    if let Some(a) = comments.as_array_mut() {
        a.push(c);
    }
    let list = i.fields["comments"].clone();
    touch(i, now);
    common::json(
        200,
        &json!({"@odata.context": format!("{}/v1.0/$metadata#security/incidents('{id}')/comments", s.base), "value": list}),
    )
}
