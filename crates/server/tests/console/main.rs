//! The analyst console: sessions, CSRF, authorization and the audit log over HTTP (`http`),
//! and the analyst's flows in a real headless Chromium (`browser`).

mod a11y;
mod browser;
mod http;
mod oidc;
mod sources;

use palisade_domain::OrgRole;
use palisade_test_utils::console::ConsoleLogin;
use palisade_test_utils::{TestApp, TestOrg};
use serde_json::json;
use uuid::Uuid;

/// An organization with one workspace, incidents in it, an analyst who may act
/// (IncidentResponder) and a reader who may only read (WorkspaceReader).
pub struct Fixture {
    pub app: TestApp,
    pub org: TestOrg,
    pub ws: Uuid,
    pub analyst: ConsoleLogin,
    pub reader: ConsoleLogin,
    pub admin: ConsoleLogin,
}

pub async fn fixture_with(configure: impl FnOnce(&mut palisade_server::Config)) -> Fixture {
    let app = TestApp::spawn_with(configure).await;
    let org = app.org("Console SOC").await;
    let ws = app.workspace(&org, "Contoso").await;
    for (id, title, severity, status) in [
        ("INC-1", "Phishing mail reported by finance", "High", "New"),
        ("INC-2", "Impossible travel for ana", "Medium", "Active"),
        ("INC-3", "Old closed malware case", "Low", "Closed"),
    ] {
        let mut body = json!({"title": title, "severity": severity, "status": status,
            "entities": [{"id": "e1", "kind": "Account", "displayName": "ana@contoso.com"}],
            "alerts": [{"id": "a1", "title": format!("Alert of {id}"), "severity": severity}]});
        if status == "Closed" {
            body["classification"] = json!("TruePositive");
            body["classificationReason"] = json!("Malware");
        }
        let r = app
            .put(
                &format!("/api/v2/workspaces/{ws}/incidents/Sentinel/{id}"),
                Some(&org.admin),
                &body,
            )
            .await;
        assert!(r.status < 300, "ingest {id}: {}", r.text);
    }
    let analyst = app
        .console_user(
            &org,
            "ana@contoso.com",
            OrgRole::Member,
            Some((ws, "IncidentResponder")),
        )
        .await;
    let reader = app
        .console_user(
            &org,
            "rob@contoso.com",
            OrgRole::Member,
            Some((ws, "WorkspaceReader")),
        )
        .await;
    let admin = app
        .console_user(&org, "ada@contoso.com", OrgRole::Admin, None)
        .await;
    Fixture {
        app,
        org,
        ws,
        analyst,
        reader,
        admin,
    }
}

pub async fn fixture() -> Fixture {
    fixture_with(|_| {}).await
}

impl Fixture {
    /// `GET …/incidents/Sentinel/{id}` of the fixture's workspace as the organization's
    /// admin, through the API: the `incident` object.
    pub async fn api_incident(&self, id: &str) -> serde_json::Value {
        let r = self
            .app
            .get(
                &format!("/api/v2/workspaces/{}/incidents/Sentinel/{id}", self.ws),
                Some(&self.org.admin),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.data()["incident"].clone()
    }

    /// The incident's comments through the API, as the answer's text.
    pub async fn api_comments(&self, id: &str) -> String {
        let r = self
            .app
            .get(
                &format!(
                    "/api/v2/workspaces/{}/incidents/Sentinel/{id}/comments",
                    self.ws
                ),
                Some(&self.org.admin),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.text
    }
}
