//! A stand-in for Microsoft Sentinel's incidents on Azure Resource Manager, under
//! `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.OperationalInsights/workspaces/
//! {ws}/providers/Microsoft.SecurityInsights/incidents`:
//! - `GET …/incidents` with `$filter` on `properties/lastModifiedTimeUtc` (ge/gt/le/lt),
//!   `$orderby` on it (asc/desc), `$top` (default 50, at most 1,000) and `nextLink` carrying
//!   `$skipToken` (written with its query unescaped, as ARM does);
//! - `GET|PUT …/incidents/{id}`: the `PUT` replaces the writable properties and needs the
//!   current `etag` (absent: 409 `Conflict`; stale: 412 `PreconditionFailed`); closing needs a
//!   classification, and a reason unless `Undetermined`;
//! - `POST …/incidents/{id}/entities` → `{entities, metaData}`, `POST …/incidents/{id}/alerts`
//!   → `{value}`, `PUT …/incidents/{id}/comments/{commentId}` with `{properties: {message}}`;
//! - a `$skipToken` refused as expired when [`FakeSentinel::expire_skip_tokens_next`] says so;
//! - ARM error bodies `{error: {code, message}}`, bearer tokens of [`FakeEntra`] for the scope
//!   `{base}/.default`, scripted faults and delays per [`Call`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::common::{self, Core, Running};
use crate::entra::FakeEntra;
use crate::simulate;

mod handlers;
use handlers::handle;

/// Where the fake's workspace is.
#[derive(Debug, Clone)]
pub struct SentinelWorkspace {
    pub subscription_id: String,
    pub resource_group: String,
    pub workspace_name: String,
}

impl Default for SentinelWorkspace {
    fn default() -> Self {
        SentinelWorkspace {
            subscription_id: "0b1f6471-1bf0-4dda-aec3-cb9272f09590".into(),
            resource_group: "rg-sec".into(),
            workspace_name: "law-sentinel".into(),
        }
    }
}

/// An incident to add: `properties` are merged over generated defaults (title, severity
/// `Medium`, status `New`, times, number, …).
#[derive(Debug, Clone, Default)]
pub struct SentinelSeed {
    pub name: Option<String>,
    pub properties: Map<String, Value>,
    /// Entity resources (`{id, name, type, kind, properties}`).
    pub entities: Vec<Value>,
    /// Alert resources (`{id, name, type, kind: "SecurityAlert", properties}`).
    pub alerts: Vec<Value>,
}

impl SentinelSeed {
    pub fn new(title: &str, severity: &str) -> SentinelSeed {
        let mut properties = Map::new();
        properties.insert("title".into(), json!(title));
        properties.insert("severity".into(), json!(severity));
        SentinelSeed {
            properties,
            ..SentinelSeed::default()
        }
    }

    pub fn with(mut self, key: &str, value: Value) -> SentinelSeed {
        self.properties.insert(key.into(), value);
        self
    }
}

struct Incident {
    version: u64,
    modified: DateTime<Utc>,
    props: Map<String, Value>,
    entities: Vec<Value>,
    alerts: Vec<Value>,
    comments: BTreeMap<String, Value>,
}

struct Inner {
    entra: FakeEntra,
    ws: SentinelWorkspace,
    base: String,
    scope: Mutex<String>,
    incidents: Mutex<BTreeMap<String, Incident>>,
    numbers: AtomicI64,
    core: Core,
    next_link_base: Mutex<Option<String>>,
    stale_next: AtomicUsize,
    expire_tokens_next: AtomicUsize,
}

/// The fake Sentinel. Cheap to clone; the server stops when the last clone is dropped.
#[derive(Clone)]
pub struct FakeSentinel {
    inner: Arc<Inner>,
    _running: Arc<Running>,
}

fn arm_error(status: u16, code: &str, message: &str) -> Response {
    common::json(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

const SEVERITIES: [&str; 4] = ["High", "Medium", "Low", "Informational"];
const STATUSES: [&str; 3] = ["New", "Active", "Closed"];
const CLASSIFICATIONS: [&str; 4] = [
    "Undetermined",
    "TruePositive",
    "BenignPositive",
    "FalsePositive",
];

impl FakeSentinel {
    pub async fn start(entra: &FakeEntra, ws: SentinelWorkspace) -> FakeSentinel {
        let (inner, _running) = common::start(handle, |base| Inner {
            entra: entra.clone(),
            ws,
            scope: Mutex::new(format!("{base}/.default")),
            base,
            incidents: Mutex::new(BTreeMap::new()),
            numbers: AtomicI64::new(0),
            core: Core::default(),
            next_link_base: Mutex::new(None),
            stale_next: AtomicUsize::new(0),
            expire_tokens_next: AtomicUsize::new(0),
        })
        .await;
        FakeSentinel { inner, _running }
    }

    /// The Resource Manager endpoint: `http://127.0.0.1:{port}`.
    pub fn base(&self) -> String {
        self.inner.base.clone()
    }

    pub fn workspace(&self) -> &SentinelWorkspace {
        &self.inner.ws
    }

    /// The scope tokens must have been issued for (default `{base}/.default`).
    pub fn expect_scope(&self, scope: &str) {
        *self.inner.scope.lock().unwrap() = scope.to_string();
    }

    /// Adds an incident; returns its name (the incident id).
    pub fn add(&self, seed: SentinelSeed) -> String {
        self.inner.add(seed)
    }

    /// Adds a realistic incident (random scenario from `seed`), entities and alerts included.
    pub fn add_simulated(&self, seed: u64) -> String {
        let mut rng = simulate::rng(seed);
        let sc = simulate::scenario(&mut rng);
        let now = common::fmt_time(Utc::now());
        let entities: Vec<Value> = sc
            .things
            .iter()
            .flat_map(simulate::sentinel_entities)
            .collect();
        let alert_name = uuid::Uuid::new_v4().to_string();
        let alert = json!({
            "id": format!("/alerts/{alert_name}"), "name": alert_name,
            "type": "Microsoft.SecurityInsights/Entities", "kind": "SecurityAlert",
            "properties": {"systemAlertId": alert_name, "alertDisplayName": sc.title, "severity": sc.severity,
                           "vendorName": "Microsoft", "productName": sc.product, "status": "New",
                           "tactics": [sc.tactic], "timeGenerated": now, "startTimeUtc": now,
                           "endTimeUtc": now, "friendlyName": sc.title, "confidenceLevel": "Unknown"}
        });
        self.add(SentinelSeed {
            name: None,
            properties: json!({"title": sc.title, "description": sc.description,
                               "severity": sc.severity, "tactics": [sc.tactic]})
            .as_object()
            .cloned()
            .unwrap_or_default(),
            entities,
            alerts: vec![alert],
        })
    }

    /// Changes an incident at the source (as an analyst in the portal would): a new
    /// `lastModifiedTimeUtc` and `etag`.
    pub fn modify(&self, name: &str, f: impl FnOnce(&mut Map<String, Value>)) {
        let now = self.inner.core.clock.now();
        let mut all = self.inner.incidents.lock().unwrap();
        let i = all.get_mut(name).expect("a known incident");
        f(&mut i.props);
        bump(i, now);
    }

    /// The incident as ARM returns it.
    pub fn incident(&self, name: &str) -> Option<Value> {
        let all = self.inner.incidents.lock().unwrap();
        all.get(name).map(|i| self.inner.resource(name, i))
    }

    pub fn comments(&self, name: &str) -> Vec<Value> {
        let all = self.inner.incidents.lock().unwrap();
        all.get(name)
            .map(|i| i.comments.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The next `times` incident `PUT`s find the incident changed by someone else first.
    pub fn stale_etag_next(&self, times: usize) {
        self.inner.stale_next.store(times, Ordering::SeqCst);
    }

    /// The next `times` list requests carrying a `$skipToken` are answered `400 BadRequest`
    /// (a skip token that outlived its listing).
    pub fn expire_skip_tokens_next(&self, times: usize) {
        self.inner.expire_tokens_next.store(times, Ordering::SeqCst);
    }

    /// `nextLink`s point at this origin instead of the fake's own (to test that clients
    /// refuse them).
    pub fn set_next_link_base(&self, base: Option<&str>) {
        *self.inner.next_link_base.lock().unwrap() = base.map(str::to_string);
    }
}

common::fake_controls!(
    FakeSentinel,
    incidents,
    "The requests that change something (`PUT`, `PATCH`, `DELETE`).",
    |r| matches!(r.method.as_str(), "PUT" | "PATCH" | "DELETE")
, simulate: 0x5e47_1e11);

impl Inner {
    fn add(&self, seed: SentinelSeed) -> String {
        let s = self;
        let now = s.core.clock.now();
        let number = s.numbers.fetch_add(1, Ordering::SeqCst) + 1;
        let name = seed
            .name
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let mut props = Map::new();
        props.insert("title".into(), json!(format!("Incident {number}")));
        props.insert("description".into(), Value::Null);
        props.insert("severity".into(), json!("Medium"));
        props.insert("status".into(), json!("New"));
        props.insert("classification".into(), Value::Null);
        props.insert("classificationReason".into(), Value::Null);
        props.insert("classificationComment".into(), Value::Null);
        props.insert(
            "owner".into(),
            json!({"objectId": null, "email": null, "assignedTo": null, "userPrincipalName": null}),
        );
        props.insert("labels".into(), json!([]));
        props.insert("incidentNumber".into(), json!(number));
        props.insert(
            "incidentUrl".into(),
            json!(format!(
                "https://portal.azure.com/#asset/Microsoft_Azure_Security_Insights/Incident{}",
                s.incident_path(&name)
            )),
        );
        props.insert("providerName".into(), json!("Azure Sentinel"));
        props.insert("providerIncidentId".into(), json!(number.to_string()));
        props.insert("relatedAnalyticRuleIds".into(), json!([]));
        props.insert(
            "firstActivityTimeUtc".into(),
            json!(common::fmt_time(now - chrono::Duration::minutes(30))),
        );
        props.insert(
            "lastActivityTimeUtc".into(),
            json!(common::fmt_time(now - chrono::Duration::minutes(5))),
        );
        props.insert("createdTimeUtc".into(), json!(common::fmt_time(now)));
        props.extend(seed.properties);
        let products: Vec<Value> = seed
            .alerts
            .iter()
            .filter_map(|a| a["properties"]["productName"].as_str().map(|p| json!(p)))
            .collect();
        props.insert(
            "additionalData".into(),
            json!({"alertsCount": seed.alerts.len(), "bookmarksCount": 0, "commentsCount": 0,
                   "alertProductNames": products, "tactics": props.get("tactics").cloned().unwrap_or(json!([]))}),
        );
        props.remove("tactics");
        props.insert("lastModifiedTimeUtc".into(), json!(common::fmt_time(now)));
        s.incidents.lock().unwrap().insert(
            name.clone(),
            Incident {
                version: 1,
                modified: now,
                props,
                entities: seed.entities,
                alerts: seed.alerts,
                comments: BTreeMap::new(),
            },
        );
        name
    }

    fn incident_path(&self, name: &str) -> String {
        let w = &self.ws;
        format!("/subscriptions/{}/resourceGroups/{}/providers/Microsoft.OperationalInsights/workspaces/{}/providers/Microsoft.SecurityInsights/Incidents/{name}", w.subscription_id, w.resource_group, w.workspace_name)
    }

    fn resource(&self, name: &str, i: &Incident) -> Value {
        json!({"id": self.incident_path(name), "name": name,
               "type": "Microsoft.SecurityInsights/Incidents",
               "etag": etag(name, i.version), "properties": i.props})
    }
}

fn etag(name: &str, version: u64) -> String {
    let short: String = name.chars().take(8).collect();
    format!("\"{short}-{version:04x}\"")
}

fn bump(i: &mut Incident, now: DateTime<Utc>) {
    i.version += 1;
    i.modified = now;
    i.props
        .insert("lastModifiedTimeUtc".into(), json!(common::fmt_time(now)));
}
