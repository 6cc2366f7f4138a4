//! The connector form of the data-sources page over HTTP: errors beside their fields, the
//! credentials never shown back and kept when left blank, and the form hidden from (and
//! refused to) those who may not manage data sources.

use std::time::{Duration, Instant};

use palisade_domain::OrgRole;
use palisade_test_utils::console::{csrf_of, ConsoleClient};
use palisade_test_utils::fakes::{FakeEntra, FakeSentinel, SentinelWorkspace};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{fixture_with, Fixture};

pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const CLIENT_ID: &str = "3f1c2a9e-5b7d-4e8f-9a0b-1c2d3e4f5a6b";
pub const SECRET: &str = "Zq8~console.CLIENT-secret_value-never-shown";

/// The fixture with connector targets on loopback allowed and a quick poller.
pub async fn connector_fixture() -> Fixture {
    fixture_with(|c| {
        c.connectors.allow_private_targets = true;
        c.connectors.allow_http = true;
        c.connectors.tick_ms = 50;
        c.connectors.timeout_secs = 5;
    })
    .await
}

/// A fake Entra ID and Sentinel workspace on loopback that accept [`SECRET`].
pub async fn fake_sentinel() -> (FakeEntra, FakeSentinel) {
    let entra = FakeEntra::start(TENANT, CLIENT_ID, SECRET).await;
    let sentinel = FakeSentinel::start(&entra, SentinelWorkspace::default()).await;
    (entra, sentinel)
}

/// The form fields of a Sentinel connector on the fakes.
fn sentinel_form(entra: &FakeEntra, sentinel: &FakeSentinel) -> Vec<(String, String)> {
    let w = sentinel.workspace();
    [
        ("name", "Sentinel prod"),
        ("pollIntervalSecs", ""),
        ("startFrom", "2020-01-01T00:00:00Z"),
        ("settings.tenantId", TENANT),
        ("settings.clientId", CLIENT_ID),
        ("settings.cloud", "AzurePublic"),
        ("settings.authorityUrl", &entra.authority()),
        ("settings.subscriptionId", &w.subscription_id),
        ("settings.resourceGroup", &w.resource_group),
        ("settings.workspaceName", &w.workspace_name),
        ("settings.baseUrl", &sentinel.base()),
        ("settings.pageSize", ""),
        ("settings.overlapSecs", ""),
        ("credentials.clientSecret", SECRET),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn set(form: &mut [(String, String)], key: &str, value: &str) {
    for (k, v) in form.iter_mut() {
        if k == key {
            *v = value.to_string();
        }
    }
}

/// The "add a connector" form's fields for a Sentinel connector in `ws`.
fn new_sentinel(ws: Uuid, form: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut all = vec![
        ("workspace".to_string(), ws.to_string()),
        ("connectorType".into(), "MicrosoftSentinel".into()),
    ];
    all.extend(form);
    all
}

fn pairs(form: &[(String, String)]) -> Vec<(&str, &str)> {
    form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// The text of the error list beside input `id` (empty when there is none).
fn errors_beside(html: &str, id: &str) -> String {
    let marker = format!("id=\"{id}-error\"");
    let Some(start) = html.find(&marker) else {
        return String::new();
    };
    let end = html[start..]
        .find("</ul>")
        .map_or(html.len(), |e| start + e);
    html[start..end].to_string()
}

/// The input named `name`, as the page has it.
fn input_tag<'a>(html: &'a str, name: &str) -> &'a str {
    let marker = format!("name=\"{name}\"");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no input {name}"));
    let start = html[..at].rfind('<').unwrap();
    let end = at + html[at..].find('>').unwrap();
    &html[start..=end]
}

/// The workspace's polled connectors through the API.
async fn polled(f: &Fixture) -> Vec<Value> {
    let r = f
        .app
        .get(
            &format!("/api/v2/workspaces/{}/datasources", f.ws),
            Some(&f.org.admin),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.data()
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["status"].is_object())
        .cloned()
        .collect()
}

async fn status(f: &Fixture, id: &str) -> Value {
    let r = f
        .app
        .get(
            &format!("/api/v2/workspaces/{}/datasources/{id}/status", f.ws),
            Some(&f.org.admin),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.data().clone()
}

/// Syncs through the API and waits for a poll that succeeds after `after` (a `lastSuccessAt`).
async fn succeeds_after(f: &Fixture, id: &str, after: Option<&str>) -> Value {
    let r = f
        .app
        .post(
            &format!("/api/v2/workspaces/{}/datasources/{id}/sync", f.ws),
            Some(&f.org.admin),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    let started = Instant::now();
    loop {
        let s = status(f, id).await;
        if let Some(t) = s["lastSuccessAt"].as_str() {
            if after.is_none_or(|a| t > a) {
                return s;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no successful poll: {s}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_content_admin_adds_and_edits_a_connector_with_errors_beside_the_fields() {
    let f = connector_fixture().await;
    let (entra, sentinel) = fake_sentinel().await;
    let curator = f
        .app
        .console_user(
            &f.org,
            "cai@contoso.com",
            OrgRole::Member,
            Some((f.ws, "ContentAdmin")),
        )
        .await;
    let mut c = ConsoleClient::new(&f.app);
    c.sign_in(&curator.email, &curator.password).await;
    let r = c.get("/console/sources").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.text.contains("action=\"/console/sources/new\""),
        "{}",
        r.text
    );
    let new = format!(
        "/console/sources/new?workspace={}&type=MicrosoftSentinel",
        f.ws
    );
    let r = c.get(&new).await;
    assert_eq!(r.status, 200, "{}", r.text);
    for name in [
        "settings.tenantId",
        "settings.subscriptionId",
        "settings.workspaceName",
        "credentials.clientSecret",
        "pollIntervalSecs",
    ] {
        assert!(r.text.contains(&format!("name=\"{name}\"")), "{name}");
    }

    // Wrong values: the service's messages, each beside its input, the values kept (never
    // the secret), nothing created.
    let mut form = sentinel_form(&entra, &sentinel);
    set(&mut form, "settings.tenantId", "not a tenant!");
    set(&mut form, "settings.subscriptionId", "");
    set(&mut form, "settings.pageSize", "5000");
    set(&mut form, "credentials.clientSecret", "");
    set(&mut form, "pollIntervalSecs", "5");
    let r = c
        .post_form(
            &new,
            "/console/sources/new",
            &pairs(&new_sentinel(f.ws, form.clone())),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    for (id, says) in [
        ("c-settings-tenantId", "must be a directory (tenant) id"),
        ("c-settings-subscriptionId", "is required"),
        ("c-settings-pageSize", "must be an integer from 1 to 1000"),
        ("c-credentials-clientSecret", "is required"),
        ("c-pollIntervalSecs", "must be from 10"),
    ] {
        let beside = errors_beside(&r.text, id);
        assert!(beside.contains(says), "{id}: {beside:?}\n{}", r.text);
    }
    assert!(errors_beside(&r.text, "c-settings-resourceGroup").is_empty());
    let tenant = input_tag(&r.text, "settings.tenantId");
    assert!(
        tenant.contains("value=\"not a tenant!\"") && tenant.contains("aria-invalid=\"true\""),
        "{tenant}"
    );
    assert!(
        tenant.contains("c-settings-tenantId-error"),
        "described by its errors: {tenant}"
    );
    assert!(r.text.contains("role=\"alert\""), "an error summary");
    assert!(polled(&f).await.is_empty());

    // Right values: added, through the same service as the API.
    let r = c
        .post_form(
            &new,
            "/console/sources/new",
            &pairs(&new_sentinel(f.ws, sentinel_form(&entra, &sentinel))),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert!(r
        .header("location")
        .unwrap()
        .starts_with("/console/sources?done="));
    let list = polled(&f).await;
    assert_eq!(list.len(), 1, "{list:?}");
    let d = &list[0];
    assert_eq!(d["name"], "Sentinel prod");
    assert_eq!(d["connectorType"], "Sentinel");
    assert!(d.to_string().contains(TENANT));
    assert!(!d.to_string().contains(SECRET));
    let id = d["dataConnectorId"].as_str().unwrap().to_string();
    let first = succeeds_after(&f, &id, None).await;

    // The list shows it with its health, and an edit link; no page shows the secret.
    let r = c.get("/console/sources").await;
    let edit = format!("/console/sources/{}/{id}", f.ws);
    assert!(r.text.contains(&format!("href=\"{edit}\"")), "{}", r.text);
    assert!(r.text.contains("Healthy"), "{}", r.text);
    let r = c.get(&edit).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!r.text.contains(SECRET));
    assert!(input_tag(&r.text, "credentials.clientSecret").contains("value=\"\""));
    assert!(
        input_tag(&r.text, "settings.workspaceName").contains(&sentinel.workspace().workspace_name)
    );
    assert!(input_tag(&r.text, "name").contains("value=\"Sentinel prod\""));

    // An edit with the secret left blank keeps the sealed one: the next poll still signs in.
    let mut form = sentinel_form(&entra, &sentinel);
    set(&mut form, "name", "Sentinel production");
    set(&mut form, "pollIntervalSecs", "30");
    set(&mut form, "credentials.clientSecret", "");
    let r = c.post_form(&edit, &edit, &pairs(&form)).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let d = &polled(&f).await[0];
    assert_eq!(d["name"], "Sentinel production");
    assert_eq!(d["pollIntervalSecs"], 30);
    let s = succeeds_after(&f, &id, first["lastSuccessAt"].as_str()).await;
    assert_eq!(s["state"], "Healthy", "{s}");

    // A bad value on the edit: beside its field, nothing changed.
    set(&mut form, "settings.overlapSecs", "forever");
    let r = c.post_form(&edit, &edit, &pairs(&form)).await;
    assert_eq!(r.status, 400, "{}", r.text);
    let beside = errors_beside(&r.text, "c-settings-overlapSecs");
    assert!(
        beside.contains("must be an integer from 0 to 3600"),
        "{beside}"
    );
    assert_eq!(polled(&f).await[0]["name"], "Sentinel production");

    // Both changes are in the audit log, as console actions of this user.
    let log = f.app.get("/api/v2/audit-log", Some(&f.org.admin)).await;
    for action in ["console.datasource.create", "console.datasource.update"] {
        let e = log.data()["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("no {action}: {}", log.text));
        assert_eq!(e["actorId"], curator.id.to_string());
    }
    assert!(!log.text.contains(SECRET));
}

#[tokio::test]
async fn the_connector_form_is_hidden_from_those_who_may_not_manage_and_a_forged_post_is_refused() {
    let f = connector_fixture().await;
    // A connector made through the API, to try to edit.
    let r = f
        .app
        .post(
            &format!("/api/v2/workspaces/{}/datasources", f.ws),
            Some(&f.org.admin),
            &json!({"connectorType": "SplunkEnterpriseSecurity", "name": "Splunk ES",
                    "settings": {"baseUrl": "http://127.0.0.1:9"}, "credentials": {"apiToken": "tok-1"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.data()["dataConnectorId"].as_str().unwrap().to_string();
    let edit = format!("/console/sources/{}/{id}", f.ws);

    // An IncidentResponder reads the page but is offered no form and no edit link.
    let mut analyst = ConsoleClient::new(&f.app);
    analyst.sign_in(&f.analyst.email, &f.analyst.password).await;
    let page = analyst.get("/console/sources").await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("Splunk ES"));
    assert!(!page.text.contains("/console/sources/new"), "{}", page.text);
    assert!(!page.text.contains(&format!("href=\"{edit}\"")));
    let new = format!("/console/sources/new?workspace={}&type=IbmQRadar", f.ws);
    let r = analyst.get(&new).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(analyst.get(&edit).await.status, 403);

    // Forged POSTs with the analyst's own valid token: refused as the API would.
    let csrf = csrf_of(&page.text);
    let r = analyst
        .post_raw(
            "/console/sources/new",
            &[
                ("csrf", &csrf),
                ("workspace", &f.ws.to_string()),
                ("connectorType", "IbmQRadar"),
                ("settings.baseUrl", "http://127.0.0.1:9"),
                ("credentials.apiToken", "sec-token"),
            ],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.text.contains("INSUFFICIENT_WORKSPACE_ROLE"), "{}", r.text);
    let r = analyst
        .post_raw(
            &edit,
            &[
                ("csrf", &csrf),
                ("name", "Hijacked"),
                ("settings.baseUrl", "http://127.0.0.1:10"),
            ],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let list = polled(&f).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["name"], "Splunk ES");

    // Without the token, even the organization admin's form is refused.
    let mut admin = ConsoleClient::new(&f.app);
    admin.sign_in(&f.admin.email, &f.admin.password).await;
    let r = admin
        .post_raw(
            &edit,
            &[
                ("name", "No token"),
                ("settings.baseUrl", "http://127.0.0.1:9"),
            ],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.text.contains("CSRF"));
    // The admin is offered the edit link; the token is never shown back on the edit page.
    let r = admin.get("/console/sources").await;
    assert!(r.text.contains(&format!("href=\"{edit}\"")), "{}", r.text);
    let r = admin.get(&edit).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!r.text.contains("tok-1"));
    assert!(input_tag(&r.text, "settings.baseUrl").contains("http://127.0.0.1:9"));
    // A workspace of another organization is not found.
    let other = f.app.org("Elsewhere").await;
    let theirs = f.app.workspace(&other, "Theirs").await;
    let r = admin
        .get(&format!(
            "/console/sources/new?workspace={theirs}&type=IbmQRadar"
        ))
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
}
