//! The four non-Microsoft connectors through the server's own routes (issue 14,
//! docs/connectors.md): CrowdStrike Falcon, IBM QRadar, Splunk Enterprise Security and
//! SentinelOne, each against its fake vendor on loopback and the real server. One scenario
//! function per behaviour, run for each kind: create (bad settings named, credentials never
//! shown), backfill from `startFrom`, incremental changes, another organization's 404;
//! throttling and 5xx bursts in the middle of a poll without losing or duplicating an
//! incident, then the source going away (`Failing`, the server healthy); write-back of a close,
//! an assignment and a comment in the vendor's documented call, without echo; and native
//! ingest through the same mapper, never written back.

use std::time::Duration;

use crate::connectors_common::*;
use palisade_test_utils::fakes::{
    Call, FakeCrowdStrike, FakeQRadar, FakeSentinelOne, FakeSplunk, Fault, LogCapture, Recorded,
};
use palisade_test_utils::{TestApp, TestOrg};
use serde_json::{json, Value};
use uuid::Uuid;

const SECRET: &str = "Vq3~vendor.API-token_value-never-shown-7c1d";
const FALCON_CLIENT: &str = "5e1f0a4c9b8d47e2a3c6b1d0e9f8a7b6";
const FALCON_CID: &str = "0c4e8a2b6d1f4e3a9b7c5d2e1f0a9b8c";
const ANALYST: &str = "ann.lee@contoso.example";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Falcon,
    QRadar,
    Splunk,
    S1,
}

/// A running fake of one kind (the server stops when this is dropped).
enum Fake {
    Falcon(FakeCrowdStrike),
    QRadar(FakeQRadar),
    Splunk(FakeSplunk),
    S1(FakeSentinelOne),
}

/// What an analyst's change looks like at the source.
#[derive(Debug, Clone, Copy)]
enum Written<'a> {
    Close,
    Assign,
    Comment(&'a str),
}

impl Kind {
    fn connector_type(self) -> &'static str {
        match self {
            Kind::Falcon => "CrowdStrikeFalcon",
            Kind::QRadar => "IbmQRadar",
            Kind::Splunk => "SplunkEnterpriseSecurity",
            Kind::S1 => "SentinelOne",
        }
    }

    /// The incident `{source}` (and the data source's `connectorType`).
    fn source(self) -> &'static str {
        match self {
            Kind::Falcon => "CrowdStrike",
            Kind::QRadar => "QRadar",
            Kind::Splunk => "Splunk",
            Kind::S1 => "SentinelOne",
        }
    }

    async fn start(self) -> Fake {
        match self {
            Kind::Falcon => {
                Fake::Falcon(FakeCrowdStrike::start(FALCON_CLIENT, SECRET, FALCON_CID).await)
            }
            Kind::QRadar => Fake::QRadar(FakeQRadar::start(SECRET).await),
            Kind::Splunk => Fake::Splunk(FakeSplunk::start(SECRET).await),
            Kind::S1 => Fake::S1(FakeSentinelOne::start(SECRET).await),
        }
    }

    fn credentials(self) -> Value {
        match self {
            Kind::Falcon => json!({"clientSecret": SECRET}),
            _ => json!({"apiToken": SECRET}),
        }
    }

    /// The settings field without which the kind cannot work.
    fn required(self) -> &'static str {
        match self {
            Kind::Falcon => "clientId",
            _ => "baseUrl",
        }
    }
}

impl Fake {
    fn kind(&self) -> Kind {
        match self {
            Fake::Falcon(_) => Kind::Falcon,
            Fake::QRadar(_) => Kind::QRadar,
            Fake::Splunk(_) => Kind::Splunk,
            Fake::S1(_) => Kind::S1,
        }
    }

    fn base(&self) -> String {
        match self {
            Fake::Falcon(f) => f.base(),
            Fake::QRadar(f) => f.base(),
            Fake::Splunk(f) => f.base(),
            Fake::S1(f) => f.base(),
        }
    }

    fn settings(&self, extra: Value) -> Value {
        let mut s = json!({"baseUrl": self.base()});
        if self.kind() == Kind::Falcon {
            s["clientId"] = json!(FALCON_CLIENT);
        }
        s.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        s
    }

    /// Adds a realistic incident at the source; its id.
    fn add(&self, seed: u64) -> String {
        match self {
            Fake::Falcon(f) => f.add_simulated(seed),
            Fake::QRadar(f) => f.add_simulated(seed).to_string(),
            Fake::Splunk(f) => f.add_simulated(seed),
            Fake::S1(f) => f.add_simulated(seed),
        }
    }

    /// The incident as the vendor's API returns it.
    fn item(&self, id: &str) -> Value {
        match self {
            Fake::Falcon(f) => f.alert(id),
            Fake::QRadar(f) => f.offense(id.parse().unwrap()),
            Fake::Splunk(f) => f.notable(id),
            Fake::S1(f) => f.threat(id),
        }
        .expect("a known incident")
    }

    /// Changes an incident at the source as its console would (a new version). Splunk's
    /// notables keep their `_time` when reviewed (docs/connectors.md): `false`, nothing done.
    fn change(&self, id: &str) -> bool {
        match self {
            Fake::Falcon(f) => f.modify(id, |a| a["status"] = json!("in_progress")),
            Fake::QRadar(f) => f.modify(id.parse().unwrap(), |o| o["assigned_to"] = json!("jdoe")),
            Fake::S1(f) => f.modify(id, |t| {
                t["threatInfo"]["incidentStatus"] = json!("in_progress")
            }),
            Fake::Splunk(_) => return false,
        }
        true
    }

    fn fail_next(&self, call: Call, times: usize, fault: Fault) {
        match self {
            Fake::Falcon(f) => f.fail_next(call, times, fault),
            Fake::QRadar(f) => f.fail_next(call, times, fault),
            Fake::Splunk(f) => f.fail_next(call, times, fault),
            Fake::S1(f) => f.fail_next(call, times, fault),
        }
    }

    fn set_delay(&self, call: Call, d: Duration) {
        match self {
            Fake::Falcon(f) => f.set_delay(call, d),
            Fake::QRadar(f) => f.set_delay(call, d),
            Fake::Splunk(f) => f.set_delay(call, d),
            Fake::S1(f) => f.set_delay(call, d),
        }
    }

    fn requests(&self) -> Vec<Recorded> {
        match self {
            Fake::Falcon(f) => f.requests(),
            Fake::QRadar(f) => f.requests(),
            Fake::Splunk(f) => f.requests(),
            Fake::S1(f) => f.requests(),
        }
    }

    /// The writes the fake received (Falcon `PATCH`, QRadar and SentinelOne `POST`, Splunk
    /// `notable_update`).
    fn writes(&self) -> Vec<Recorded> {
        match self {
            Fake::Falcon(f) => f.writes(),
            Fake::QRadar(f) => f.writes(),
            Fake::Splunk(f) => f.writes(),
            Fake::S1(f) => f.writes(),
        }
    }

    /// The vendor's documented authentication on a request.
    fn authenticated(&self, r: &Recorded) -> bool {
        let auth = r.header("authorization").unwrap_or("");
        match self {
            Fake::Falcon(_) => auth.starts_with("Bearer cs-"),
            Fake::QRadar(_) => r.header("sec") == Some(SECRET) && r.header("version").is_some(),
            Fake::Splunk(_) => auth == format!("Bearer {SECRET}"),
            Fake::S1(_) => auth == format!("ApiToken {SECRET}"),
        }
    }

    /// Whether the vendor's documented call for `what` on incident `id` reached the fake,
    /// authenticated, and the source shows it.
    fn landed(&self, id: &str, what: Written) -> bool {
        let writes = self.writes();
        let found = writes.iter().any(|w| {
            self.authenticated(w)
                && match self {
                    Fake::Falcon(_) => falcon_write(w, id, what),
                    Fake::QRadar(_) => qradar_write(w, id, what),
                    Fake::Splunk(_) => splunk_write(w, id, what),
                    Fake::S1(_) => s1_write(w, id, what),
                }
        });
        let item = self.item(id);
        let shown = match (self, what) {
            (Fake::Falcon(_), Written::Close) => item["status"] == "closed",
            (Fake::Falcon(_), Written::Assign) => item["assigned_to_uid"] == ANALYST,
            (Fake::QRadar(_), Written::Close) => item["status"] == "CLOSED",
            (Fake::QRadar(_), Written::Assign) => item["assigned_to"] == ANALYST,
            (Fake::QRadar(f), Written::Comment(t)) => f
                .notes(id.parse().unwrap())
                .iter()
                .any(|n| n.to_string().contains(t)),
            (Fake::Splunk(_), Written::Close) => item["status"] == "5",
            (Fake::Splunk(_), Written::Assign) => item["owner"] == ANALYST,
            (Fake::S1(_), Written::Close) => {
                item["threatInfo"]["incidentStatus"] == "resolved"
                    && item["threatInfo"]["analystVerdict"] == "true_positive"
            }
            (Fake::S1(f), Written::Comment(t)) => {
                f.notes(id).iter().any(|n| n.to_string().contains(t))
            }
            _ => true,
        };
        found && shown
    }
}

fn form(r: &Recorded) -> Vec<(String, String)> {
    url::form_urlencoded::parse(r.body.as_bytes())
        .into_owned()
        .collect()
}

/// `PATCH /alerts/entities/alerts/v3 {composite_ids, action_parameters}`.
fn falcon_write(w: &Recorded, id: &str, what: Written) -> bool {
    let b = w.json();
    let action = |name: &str, value: &dyn Fn(&str) -> bool| {
        b["action_parameters"].as_array().is_some_and(|a| {
            a.iter()
                .any(|p| p["name"] == name && p["value"].as_str().is_some_and(value))
        })
    };
    w.path == "/alerts/entities/alerts/v3"
        && b["composite_ids"] == json!([id])
        && match what {
            Written::Close => {
                action("update_status", &|v| v == "closed")
                    && action("append_comment", &|v| v.contains("TruePositive"))
            }
            Written::Assign => action("assign_to_user_id", &|v| v == ANALYST),
            Written::Comment(t) => action("append_comment", &|v| v.contains(t)),
        }
}

/// `POST /api/siem/offenses/{id}?status=CLOSED&closing_reason_id=…`, `?assigned_to=`, notes.
fn qradar_write(w: &Recorded, id: &str, what: Written) -> bool {
    let offense = format!("/api/siem/offenses/{id}");
    match what {
        Written::Close => {
            w.path == offense
                && w.param("status").as_deref() == Some("CLOSED")
                && w.param("closing_reason_id").is_some()
        }
        Written::Assign => w.path == offense && w.param("assigned_to").as_deref() == Some(ANALYST),
        Written::Comment(t) => {
            w.path == format!("{offense}/notes")
                && w.param("note_text").is_some_and(|n| n.contains(t))
        }
    }
}

/// `POST /services/notable_update` form `ruleUIDs`, `status`, `disposition`, `newOwner`,
/// `comment`.
fn splunk_write(w: &Recorded, id: &str, what: Written) -> bool {
    let f = form(w);
    let has = |k: &str, v: &dyn Fn(&str) -> bool| f.iter().any(|(n, x)| n == k && v(x.as_str()));
    w.path == "/services/notable_update"
        && has("ruleUIDs", &|v| v == id)
        && match what {
            Written::Close => {
                has("status", &|v| v == "5") && has("disposition", &|v| v == "disposition:1")
            }
            Written::Assign => has("newOwner", &|v| v == ANALYST),
            Written::Comment(t) => has("comment", &|v| v.contains(t)),
        }
}

/// `POST /web/api/v2.1/threats/{incident,analyst-verdict,notes}` `{filter: {ids}, data}`.
fn s1_write(w: &Recorded, id: &str, what: Written) -> bool {
    let b = w.json();
    let path = |p: &str| w.path == format!("/web/api/v2.1/threats/{p}");
    b["filter"]["ids"] == json!([id])
        && match what {
            Written::Close => path("incident") && b["data"]["incidentStatus"] == "resolved",
            Written::Assign => {
                path("notes")
                    && b["data"]["text"]
                        .as_str()
                        .is_some_and(|t| t.contains(ANALYST))
            }
            Written::Comment(t) => {
                path("notes") && b["data"]["text"].as_str().is_some_and(|x| x.contains(t))
            }
        }
}

/// The app of these tests: loopback targets, a quick scheduler, `Failing` after two failures.
async fn source_app() -> TestApp {
    TestApp::spawn_with(|c| {
        quick(c);
        c.connectors.failing_after = 2;
    })
    .await
}

async fn create(
    app: &TestApp,
    org: &TestOrg,
    ws: Uuid,
    fake: &Fake,
    start_from: &str,
    extra: Value,
) -> String {
    let kind = fake.kind();
    let r = app
        .post(
            &base(ws),
            Some(&org.admin),
            &json!({"connectorType": kind.connector_type(), "name": format!("{kind:?}"),
                    "pollIntervalSecs": 3600, "startFrom": start_from,
                    "settings": fake.settings(extra), "credentials": kind.credentials()}),
        )
        .await;
    assert_eq!(r.status, 201, "{kind:?}: {}", r.text);
    assert!(!r.text.contains(SECRET), "{}", r.text);
    assert_eq!(r.data()["connectorType"], kind.source(), "{}", r.text);
    r.data()["dataConnectorId"].as_str().unwrap().to_string()
}

/// Asks for a poll and waits until one more has succeeded.
async fn poll_once(app: &TestApp, org: &TestOrg, ws: Uuid, id: &str) -> Value {
    let before = status(app, &org.admin, ws, id).await["lastSuccessAt"].clone();
    until("another poll", || async {
        sync(app, &org.admin, ws, id).await;
        let s = status(app, &org.admin, ws, id).await;
        (s["lastSuccessAt"] != before && s["lastSuccessAt"].is_string()).then_some(s)
    })
    .await
}

/// The ids of the incidents an event kind names, in order.
fn event_ids(events: &[palisade_store::StoredEvent], kind: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.event_type == kind)
        .map(|e| e.payload.to_string())
        .collect()
}

fn mentions(events: &[String], id: &str) -> usize {
    let quoted = serde_json::to_string(id).unwrap();
    events.iter().filter(|e| e.contains(&quoted)).count()
}

macro_rules! each_kind {
    ($scenario:ident: $($name:ident => $kind:expr),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                $scenario($kind).await
            }
        )+
    };
}

// ---- create, backfill, follow, isolate ----

async fn create_backfill_and_follow(kind: Kind) {
    let capture = LogCapture::default();
    let _guard = capture.install();
    let fake = kind.start().await;
    let app = source_app().await;
    let org = app.org("Sources").await;
    let ws = app.workspace(&org, "Main").await;
    let url = base(ws);

    // Bad settings name the field; a secret in settings points at credentials; nothing echoes it.
    let mut settings = fake.settings(json!({"pageSize": 100_000, "apiToken": SECRET}));
    settings.as_object_mut().unwrap().remove(kind.required());
    let r = app
        .post(
            &url,
            Some(&org.admin),
            &json!({"connectorType": kind.connector_type(), "settings": settings,
                    "credentials": {}}),
        )
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    let secret_key = if kind == Kind::Falcon {
        "clientSecret"
    } else {
        "apiToken"
    };
    for field in [
        format!("settings.{}", kind.required()),
        "settings.pageSize".into(),
        "settings.apiToken".into(),
        format!("credentials.{secret_key}"),
    ] {
        assert!(r.text.contains(&field), "{kind:?} {field}: {}", r.text);
    }
    assert!(!r.text.contains(SECRET), "{}", r.text);
    assert!(fake.requests().is_empty(), "nothing was called");

    // Backfill from startFrom: what changed before it stays at the source.
    let old = fake.add(1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let start_at = chrono::Utc::now();
    let start = start_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let ids: Vec<String> = (2..9).map(|i| fake.add(i)).collect();
    let id = create(&app, &org, ws, &fake, &start, json!({"pageSize": 3})).await;
    let s = pulled(&app, &org.admin, ws, &id, ids.len() as i64).await;
    assert_eq!(s["state"], "Healthy", "{s}");
    assert!(
        fake.requests()
            .iter()
            .all(|r| fake.authenticated(r) || r.path == "/oauth2/token"),
        "the vendor's own authentication on every call"
    );
    let events = app.events(&org).await;
    let created = event_ids(&events, "incident.created");
    assert_eq!(created.len(), ids.len(), "{kind:?}: {created:?}");
    for i in &ids {
        assert_eq!(mentions(&created, i), 1, "{kind:?}: {i} once");
        let r = incident(&app, &org.admin, ws, kind.source(), i).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(
            r.data()["incident"]["properties"]["source"].is_object(),
            "{}",
            r.text
        );
        assert!(r.data().get("sync").is_none(), "nothing written back yet");
    }
    assert_eq!(mentions(&created, &old), 0, "before startFrom");

    // Incremental: new incidents arrive; a change at the source arrives as incident.updated.
    let newer = fake.add(20);
    let changed = fake.change(&ids[1]);
    let late = match &fake {
        // Splunk's incremental is a window on `_time` with a look-back for index lag: a notable
        // indexed late, with a `_time` before the newest one already pulled, still arrives.
        Fake::Splunk(f) => Some(f.add_at(
            "Late indexed notable",
            Some(start_at + chrono::Duration::milliseconds(20)),
            json!({"urgency": "high"}),
        )),
        _ => None,
    };
    // (The poll that ends next may have started before the changes: wait for the outcome.)
    until("the new incidents and the change", || async {
        sync(&app, &org.admin, ws, &id).await;
        let events = app.events(&org).await;
        let created = event_ids(&events, "incident.created");
        let updated = event_ids(&events, "incident.updated");
        (mentions(&created, &newer) == 1
            && late.as_ref().is_none_or(|l| mentions(&created, l) == 1)
            && (!changed || mentions(&updated, &ids[1]) == 1))
            .then_some(())
    })
    .await;
    poll_once(&app, &org, ws, &id).await;
    let events = app.events(&org).await;
    let created = event_ids(&events, "incident.created");
    let updated = event_ids(&events, "incident.updated");
    assert_eq!(mentions(&created, &newer), 1, "{kind:?}");
    if let Some(late) = &late {
        assert_eq!(mentions(&created, late), 1, "the late notable");
    }
    assert_eq!(
        created.len(),
        ids.len() + 1 + late.iter().count(),
        "{created:?}"
    );
    if changed {
        assert_eq!(updated.len(), 1, "{kind:?}: {updated:?}");
        assert_eq!(mentions(&updated, &ids[1]), 1, "{updated:?}");
    } else {
        assert!(updated.is_empty(), "{updated:?}");
    }
    // An unchanged re-read emits nothing.
    poll_once(&app, &org, ws, &id).await;
    let again = app.events(&org).await;
    assert_eq!(
        again.len(),
        events.len(),
        "{kind:?}: re-reads changed nothing"
    );

    // Another organization sees none of it.
    let other = app.org("Other").await;
    for path in [format!("{url}/{id}"), format!("{url}/{id}/status")] {
        app.get(&path, Some(&other.admin))
            .await
            .assert_problem(404, "NOT_FOUND");
    }
    app.post(&format!("{url}/{id}/sync"), Some(&other.admin), &json!({}))
        .await
        .assert_problem(404, "NOT_FOUND");
    app.get(
        &format!(
            "/api/v2/workspaces/{ws}/incidents/{}/{}",
            kind.source(),
            ids[0]
        ),
        Some(&other.admin),
    )
    .await
    .assert_problem(404, "NOT_FOUND");

    // The credential is in no response and no log line; an update without it keeps it.
    let r = app
        .put(
            &format!("{url}/{id}"),
            Some(&org.admin),
            &json!({"pollIntervalSecs": 600}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut texts = vec![r.text];
    texts.push(app.get(&url, Some(&org.admin)).await.text);
    texts.push(app.get(&format!("{url}/{id}"), Some(&org.admin)).await.text);
    texts.push(status(&app, &org.admin, ws, &id).await.to_string());
    texts.push(
        app.get("/api/v2/datasources/across-workspaces", Some(&org.admin))
            .await
            .text,
    );
    for t in &texts {
        assert!(!t.contains(SECRET), "{t}");
    }
    let s = poll_once(&app, &org, ws, &id).await;
    assert_eq!(
        s["state"], "Healthy",
        "the kept credential still works: {s}"
    );
    assert!(
        !capture.text().contains(SECRET),
        "the credential reached the logs"
    );
}

each_kind!(create_backfill_and_follow:
    crowdstrike_create_backfill_and_follow => Kind::Falcon,
    qradar_create_backfill_and_follow => Kind::QRadar,
    splunk_create_backfill_and_follow => Kind::Splunk,
    sentinelone_create_backfill_and_follow => Kind::S1,
);

// ---- throttling, outages, the source going away ----

async fn throttling_and_outages_lose_nothing(kind: Kind) {
    let fake = kind.start().await;
    let app = source_app().await;
    let org = app.org("Trouble").await;
    let ws = app.workspace(&org, "Main").await;
    let mut ids: Vec<String> = (0..12).map(|i| fake.add(i)).collect();
    // Slow pages, so that the trouble below lands in the middle of the poll.
    fake.set_delay(Call::List, Duration::from_millis(250));
    let id = create(
        &app,
        &org,
        ws,
        &fake,
        "2020-01-01T00:00:00Z",
        json!({"pageSize": 3}),
    )
    .await;
    sync(&app, &org.admin, ws, &id).await;
    until("the first page", || async {
        let s = status(&app, &org.admin, ws, &id).await;
        (s["pulledTotal"].as_i64() >= Some(3)).then_some(())
    })
    .await;
    // A 429 with the vendor's rate-limit headers, then a burst of 5xx.
    fake.fail_next(Call::List, 1, Fault::throttle(2));
    fake.fail_next(Call::List, 2, Fault::status(503));
    let s = until("Degraded by the throttling", || async {
        let s = status(&app, &org.admin, ws, &id).await;
        (s["state"] == "Degraded").then_some(s)
    })
    .await;
    let err = s["lastError"].as_str().unwrap_or("").to_lowercase();
    assert!(
        err.contains("429") || err.contains("rate") || err.contains("throttl"),
        "{s}"
    );
    let throttled_at = std::time::Instant::now();
    until("the 5xx", || async {
        let s = status(&app, &org.admin, ws, &id).await;
        let e = s["lastError"].as_str().unwrap_or("").to_lowercase();
        (e.contains("503") || e.contains("unavailable")).then_some(())
    })
    .await;
    assert!(
        throttled_at.elapsed() >= Duration::from_millis(800),
        "the vendor's wait was honoured"
    );
    fake.set_delay(Call::List, Duration::ZERO);
    // Recovers by itself (no `sync`: it would not wait for the source).
    let s = until("Healthy again", || async {
        let s = status(&app, &org.admin, ws, &id).await;
        (s["state"] == "Healthy").then_some(s)
    })
    .await;
    assert_eq!(s["lastError"], Value::Null, "{s}");
    ids.extend((12..15).map(|i| fake.add(i)));
    until("the incidents added since", || async {
        sync(&app, &org.admin, ws, &id).await;
        let created = event_ids(&app.events(&org).await, "incident.created");
        (created.len() >= ids.len()).then_some(())
    })
    .await;
    poll_once(&app, &org, ws, &id).await;
    let created = event_ids(&app.events(&org).await, "incident.created");
    assert_eq!(created.len(), ids.len(), "{kind:?}: nothing duplicated");
    for i in &ids {
        assert_eq!(mentions(&created, i), 1, "{kind:?}: {i} exactly once");
    }

    // The source goes away: Failing with lastError, the server healthy.
    drop(fake);
    let s = sync_until_failing(&app, &org.admin, ws, &id).await;
    let err = s["lastError"].as_str().unwrap_or("");
    assert!(!err.is_empty() && !err.contains(SECRET), "{s}");
    assert_eq!(app.get("/healthz", None).await.status, 200);
    let r = incident(&app, &org.admin, ws, kind.source(), &ids[0]).await;
    assert_eq!(r.status, 200, "what was pulled stays readable");
}

each_kind!(throttling_and_outages_lose_nothing:
    crowdstrike_throttling_and_outages_lose_nothing => Kind::Falcon,
    qradar_throttling_and_outages_lose_nothing => Kind::QRadar,
    splunk_throttling_and_outages_lose_nothing => Kind::Splunk,
    sentinelone_throttling_and_outages_lose_nothing => Kind::S1,
);

// ---- write-back ----

async fn analysts_changes_are_written_back(kind: Kind) {
    let fake = kind.start().await;
    let app = source_app().await;
    let org = app.org("Write").await;
    let ws = app.workspace(&org, "Main").await;
    let inc = fake.add(3);
    let id = create(&app, &org, ws, &fake, "2020-01-01T00:00:00Z", json!({})).await;
    pulled(&app, &org.admin, ws, &id, 1).await;
    let path = format!("/api/v2/workspaces/{ws}/incidents/{}/{inc}", kind.source());
    let note = "Host isolated, ticket INC-4411";

    let r = app
        .put(
            &format!("{path}/assign"),
            Some(&org.admin),
            &json!({"email": ANALYST, "displayName": "Ann Lee"}),
        )
        .await;
    assert!(r.status < 300, "{}", r.text);
    let r = app
        .post(
            &format!("{path}/comments"),
            Some(&org.admin),
            &json!({"content": note}),
        )
        .await;
    assert!(r.status < 300, "{}", r.text);
    let r = app
        .put(
            &format!("{path}/status"),
            Some(&org.admin),
            &json!({"status": "Closed", "classification": "TruePositive",
                    "classificationReason": "Malware", "comment": "contained"}),
        )
        .await;
    assert!(r.status < 300, "{}", r.text);
    for what in [Written::Assign, Written::Comment(note), Written::Close] {
        until(&format!("{kind:?} {what:?} at the source"), || async {
            fake.landed(&inc, what).then_some(())
        })
        .await;
    }
    let synced = until("Synced", || async {
        let r = incident(&app, &org.admin, ws, kind.source(), &inc).await;
        (r.data()["sync"]["state"] == "Synced").then_some(r)
    })
    .await;
    let detail = &synced.data()["incident"];
    assert_eq!(detail["status"], "Closed", "{}", synced.text);
    let s = status(&app, &org.admin, ws, &id).await;
    assert_eq!(
        (
            s["writeBacksPending"].as_i64(),
            s["writeBacksFailed"].as_i64()
        ),
        (Some(0), Some(0)),
        "{s}"
    );

    // No echo: the source now shows Palisade's own changes; polls take none of them as a
    // change, and nothing is written back for them.
    let events = app.events(&org).await.len();
    let writes = fake.writes().len();
    poll_once(&app, &org, ws, &id).await;
    poll_once(&app, &org, ws, &id).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = app.events(&org).await;
    let updates: Vec<_> = after[events..]
        .iter()
        .filter(|e| e.event_type == "incident.updated")
        .map(|e| e.payload["changes"].clone())
        .collect();
    assert!(updates.is_empty(), "{kind:?} echo: {updates:?}");
    assert_eq!(
        fake.writes().len(),
        writes,
        "nothing written back for a pulled change"
    );
    let r = incident(&app, &org.admin, ws, kind.source(), &inc).await;
    let kept = &r.data()["incident"];
    assert_eq!(kept["classification"], "TruePositive", "{}", r.text);
    assert_eq!(
        kept["classificationReason"], "Malware",
        "the analyst's reason is kept"
    );
    assert_eq!(kept["owner"]["email"], ANALYST, "{}", r.text);
}

each_kind!(analysts_changes_are_written_back:
    crowdstrike_analysts_changes_are_written_back => Kind::Falcon,
    qradar_analysts_changes_are_written_back => Kind::QRadar,
    splunk_analysts_changes_are_written_back => Kind::Splunk,
    sentinelone_analysts_changes_are_written_back => Kind::S1,
);

// ---- native ingest ----

/// The vendor's own list answer around `items`.
fn list_answer(kind: Kind, items: Vec<Value>) -> Value {
    match kind {
        Kind::Falcon => {
            json!({"meta": {"query_time": 0.01, "pagination": {"total": items.len(), "after": ""}},
                               "resources": items, "errors": []})
        }
        Kind::QRadar => json!(items),
        Kind::Splunk => {
            json!({"preview": false, "init_offset": 0, "messages": [], "results": items})
        }
        Kind::S1 => {
            json!({"data": items, "pagination": {"nextCursor": null, "totalItems": 2}, "errors": null})
        }
    }
}

async fn native_ingest_uses_the_connectors_mapping(kind: Kind) {
    let fake = kind.start().await;
    let app = source_app().await;
    let org = app.org("Native").await;
    let (pushed_ws, polled_ws) = (
        app.workspace(&org, "Pushed").await,
        app.workspace(&org, "Polled").await,
    );
    // QRadar's offenses carry address ids that only the console resolves: the native format
    // takes the addresses themselves beside them.
    let mut addresses = std::collections::HashMap::new();
    let (a, b) = match &fake {
        Fake::QRadar(f) => {
            let mut add = |title: &str, src: &str, dst: &str| {
                let id = f
                    .add(title, &[src], &[dst], json!({"severity": 7}))
                    .to_string();
                addresses.insert(id.clone(), (src.to_string(), dst.to_string()));
                id
            };
            (
                add("Port scan from a workstation", "10.0.3.7", "192.0.2.10"),
                add("Repeated failed logins", "10.0.3.8", "192.0.2.11"),
            )
        }
        _ => (fake.add(5), fake.add(6)),
    };
    let native = |id: &str| {
        let mut v = fake.item(id);
        if let Some((src, dst)) = addresses.get(id) {
            v["source_addresses"] = json!([src]);
            v["local_destination_addresses"] = json!([dst]);
        }
        v
    };
    let url = format!(
        "/api/v2/workspaces/{pushed_ws}/incidents/{}/ingest?format=native",
        kind.source()
    );

    // One item in the source's own JSON, and one that cannot be mapped.
    let bad = match kind {
        Kind::Falcon => json!({"composite_id": "x:ind:1", "display_name": "No timestamps"}),
        Kind::QRadar => json!({"id": "not-a-number", "description": "Broken"}),
        Kind::Splunk => json!({"rule_title": "No event id"}),
        Kind::S1 => json!({"id": "77", "threatInfo": {"threatName": "no times"}}),
    };
    let r = app
        .post(
            &url,
            Some(&org.admin),
            &json!({"incidents": [native(&a), bad]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (r.data()["created"].as_i64(), r.data()["rejected"].as_i64()),
        (Some(1), Some(1)),
        "{}",
        r.text
    );
    assert!(r.text.contains("incidents[1]."), "{}", r.text);
    // The vendor's list answer as it comes.
    let r = app
        .post(
            &url,
            Some(&org.admin),
            &list_answer(kind, vec![native(&a), native(&b)]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (r.data()["created"].as_i64(), r.data()["unchanged"].as_i64()),
        (Some(1), Some(1)),
        "{}",
        r.text
    );

    // The same items pulled by a connector in another workspace map to the same incident.
    let id = create(
        &app,
        &org,
        polled_ws,
        &fake,
        "2020-01-01T00:00:00Z",
        json!({}),
    )
    .await;
    pulled(&app, &org.admin, polled_ws, &id, 2).await;
    for inc in [&a, &b] {
        let pushed = incident(&app, &org.admin, pushed_ws, kind.source(), inc).await;
        let polled = incident(&app, &org.admin, polled_ws, kind.source(), inc).await;
        assert_eq!(pushed.status, 200, "{}", pushed.text);
        let (p, q) = (&pushed.data()["incident"], &polled.data()["incident"]);
        for field in [
            "title",
            "description",
            "severity",
            "status",
            "labels",
            "owner",
            "properties",
        ] {
            assert_eq!(p[field], q[field], "{kind:?} {field}");
        }
        let entities =
            |r: &palisade_test_utils::Resp| r.data()["investigationDetails"]["entities"].clone();
        assert_eq!(entities(&pushed), entities(&polled), "{kind:?} entities");
    }

    // Pushed: an analyst's change is never written back.
    let r = app
        .put(
            &format!(
                "/api/v2/workspaces/{pushed_ws}/incidents/{}/{a}/status",
                kind.source()
            ),
            Some(&org.admin),
            &json!({"status": "Active"}),
        )
        .await;
    assert!(r.status < 300, "{}", r.text);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(fake.writes().is_empty(), "{:?}", fake.writes());
    let r = incident(&app, &org.admin, pushed_ws, kind.source(), &a).await;
    assert!(r.data().get("sync").is_none(), "{}", r.text);
}

each_kind!(native_ingest_uses_the_connectors_mapping:
    crowdstrike_native_ingest_uses_the_connectors_mapping => Kind::Falcon,
    qradar_native_ingest_uses_the_connectors_mapping => Kind::QRadar,
    splunk_native_ingest_uses_the_connectors_mapping => Kind::Splunk,
    sentinelone_native_ingest_uses_the_connectors_mapping => Kind::S1,
);
