//! The console over plain HTTP: sessions, cookies, CSRF, throttling, authorization, the
//! audit log and what every page may contain under the Content-Security-Policy.

use std::time::Duration;

use palisade_test_utils::console::{csrf_of, ConsoleClient};
use serde_json::json;

use super::{fixture, fixture_with};

const INC1: &str = "/console/incidents/{ws}/Sentinel/INC-1";

fn inc1(ws: uuid::Uuid) -> String {
    INC1.replace("{ws}", &ws.to_string())
}

#[tokio::test]
async fn sign_in_sets_safe_cookies_and_every_page_a_strict_policy() {
    let f = fixture().await;
    let mut c = ConsoleClient::new(&f.app);
    // No session: to the sign-in page, coming back afterwards.
    let r = c.get("/console").await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(
        r.header("location"),
        Some("/console/sign-in?next=%2Fconsole")
    );
    let r = c.get("/console/sign-in").await;
    assert_eq!(r.status, 200);
    let csp = r.header("content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert!(
        !r.text.contains("<script>") && !r.text.contains(" style="),
        "no inline script or style"
    );
    // A sign-in form without the pre-session token is refused.
    let mut stranger = ConsoleClient::new(&f.app);
    let r = stranger
        .post_raw(
            "/console/sign-in",
            &[
                ("email", &f.analyst.email),
                ("password", &f.analyst.password),
            ],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = c.sign_in(&f.analyst.email, &f.analyst.password).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.header("location"), Some("/console"));
    let cookie = r.header("set-cookie").unwrap();
    assert!(cookie.starts_with("palisade_session="), "{cookie}");
    for part in ["HttpOnly", "SameSite=Lax", "Path=/console"] {
        assert!(cookie.contains(part), "{cookie} lacks {part}");
    }
    // Plain HTTP on loopback: no Secure (the browser would drop the cookie).
    assert!(!cookie.contains("Secure"), "{cookie}");
    // The queue hides Closed incidents unless asked.
    let r = c.get("/console").await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("Phishing mail reported by finance"));
    assert!(!r.text.contains("Old closed malware case"));
    let r = c.get("/console?status=all").await;
    assert!(r.text.contains("Old closed malware case"));
    let r = c.get("/console?severity=Medium").await;
    assert!(r.text.contains("Impossible travel") && !r.text.contains("Phishing mail"));
    // Every page renders for an organization admin, without inline script or style.
    let mut admin = ConsoleClient::new(&f.app);
    admin.sign_in(&f.admin.email, &f.admin.password).await;
    for page in [
        "/console",
        "/console/dashboard",
        "/console/sources",
        "/console/webhooks",
        "/console/gamebooks",
        "/console/audit",
    ] {
        let r = admin.get(page).await;
        assert_eq!(r.status, 200, "{page}: {}", r.text);
        assert!(
            !r.text.contains("<script>") && !r.text.contains(" style="),
            "{page}"
        );
        assert!(r.header("content-security-policy").is_some(), "{page}");
    }
    // Signing out ends the session.
    let r = c.post_form("/console", "/console/sign-out", &[]).await;
    assert_eq!(r.status, 303);
    assert_eq!(c.get("/console").await.status, 303);
}

#[tokio::test]
async fn cookies_are_secure_off_loopback() {
    let f = fixture().await;
    let client = reqwest::Client::new();
    let r = client
        .get(f.app.url("/console/sign-in"))
        .header("host", "console.example.com")
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_without_locking_out_the_right_password() {
    let f = fixture().await;
    let mut c = ConsoleClient::new(&f.app);
    for _ in 0..5 {
        let r = c.sign_in(&f.analyst.email, "not the password").await;
        assert_eq!(r.status, 401, "{}", r.text);
        assert!(r.text.contains("not right"));
    }
    // Over the limit from this address, even the right password waits.
    let r = c.sign_in(&f.analyst.email, &f.analyst.password).await;
    assert_eq!(r.status, 429, "{}", r.text);
    assert!(r.header("retry-after").is_some());
    // Another email from the same address is not affected.
    let r = c.sign_in(&f.reader.email, &f.reader.password).await;
    assert_eq!(r.status, 303, "{}", r.text);
    // The analyst, from another address, signs in.
    let other = reqwest::Client::builder().local_address("127.0.0.2".parse().ok());
    let mut elsewhere = ConsoleClient::with(&f.app, other);
    let r = elsewhere
        .sign_in(&f.analyst.email, &f.analyst.password)
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    // An unknown email is answered like a wrong password.
    let third = reqwest::Client::builder().local_address("127.0.0.3".parse().ok());
    let r = ConsoleClient::with(&f.app, third)
        .sign_in("nobody@contoso.com", "whatever it is")
        .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn a_reader_sees_no_actions_and_forged_or_tokenless_posts_are_refused() {
    let f = fixture().await;
    let page = inc1(f.ws);
    let mut reader = ConsoleClient::new(&f.app);
    reader.sign_in(&f.reader.email, &f.reader.password).await;
    let r = reader.get(&page).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("Phishing mail reported by finance"));
    for action in ["/status", "/assign", "/comment", "/run", "/link"] {
        assert!(
            !r.text.contains(&format!("INC-1{action}\"")),
            "reader sees {action}"
        );
    }
    let queue = reader.get("/console").await;
    assert!(
        !queue.text.contains("/console/incidents/bulk"),
        "no bulk form"
    );
    // A forged POST with the reader's own valid token: refused as the API would.
    let csrf = csrf_of(&r.text);
    let r = reader
        .post_raw(
            &format!("{page}/status"),
            &[("csrf", &csrf), ("status", "Active")],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.text.contains("INSUFFICIENT_WORKSPACE_ROLE"), "{}", r.text);
    assert_eq!(f.api_incident("INC-1").await["status"], "New");

    // The analyst sees the actions; without (or with a wrong) CSRF token the form is refused.
    let mut analyst = ConsoleClient::new(&f.app);
    analyst.sign_in(&f.analyst.email, &f.analyst.password).await;
    let r = analyst.get(&page).await;
    assert!(
        r.text.contains("INC-1/status\""),
        "analyst sees the status form"
    );
    let r = analyst
        .post_raw(&format!("{page}/status"), &[("status", "Active")])
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.text.contains("CSRF"));
    let r = analyst
        .post_raw(
            &format!("{page}/status"),
            &[("csrf", &csrf), ("status", "Active")],
        )
        .await;
    assert_eq!(r.status, 403, "another session's token: {}", r.text);
    assert_eq!(f.api_incident("INC-1").await["status"], "New");
}

#[tokio::test]
async fn console_and_api_changes_are_audited_and_feed_the_dashboard() {
    let f = fixture().await;
    let page = inc1(f.ws);
    let mut analyst = ConsoleClient::new(&f.app);
    analyst.sign_in(&f.analyst.email, &f.analyst.password).await;
    let comment = "Confirmed with the mailbox owner.\nBlocked the sender domain.";
    let r = analyst
        .post_form(
            &page,
            &format!("{page}/status"),
            &[
                ("status", "Closed"),
                ("verdict", "TruePositive:Phishing"),
                ("comment", comment),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    // An invalid pair is the API's validation error, shown as a page.
    let r = analyst
        .post_form(
            &page,
            &format!("{page}/status"),
            &[("status", "Closed"), ("verdict", "FalsePositive:Malware")],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("is not a reason for"), "{}", r.text);
    let incident = f.api_incident("INC-1").await;
    assert_eq!(incident["status"], "Closed");
    assert_eq!(incident["classification"], "TruePositive");
    assert_eq!(incident["classificationReason"], "Phishing");
    let comments = f.api_comments("INC-1").await;
    assert!(
        comments.contains("Confirmed with the mailbox owner.\\nBlocked the sender domain."),
        "{comments}"
    );
    // A change through the API, by the service account.
    let r = f
        .app
        .put(
            &format!(
                "/api/v2/workspaces/{}/incidents/Sentinel/INC-2/status",
                f.ws
            ),
            Some(&f.org.admin),
            &json!({"status": "Active", "comment": "looking"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let log = f.app.get("/api/v2/audit-log", Some(&f.org.admin)).await;
    assert_eq!(log.status, 200, "{}", log.text);
    let items = log.data()["items"].as_array().unwrap().clone();
    let console = items
        .iter()
        .find(|e| e["action"] == "console.incident.status")
        .unwrap_or_else(|| panic!("no console entry: {}", log.text));
    assert_eq!(console["channel"], "Console");
    assert_eq!(console["actorKind"], "User");
    assert_eq!(console["actorId"], f.analyst.id.to_string());
    assert_eq!(console["address"], "127.0.0.1");
    let api_entry = items
        .iter()
        .find(|e| {
            e["action"]
                == "PUT /api/v2/workspaces/{workspaceId}/incidents/{source}/{incidentId}/status"
        })
        .unwrap_or_else(|| panic!("no API entry: {}", log.text));
    assert_eq!(api_entry["channel"], "Api");
    assert_eq!(api_entry["actorKind"], "ServiceAccount");
    assert_eq!(api_entry["actorId"], f.org.admin.client_id.to_string());
    assert_eq!(api_entry["status"], 200);
    assert!(api_entry["requestId"].is_string());
    // Reads are not changes; the failed (400) console attempt changed nothing either.
    assert!(items
        .iter()
        .all(|e| !e["action"].as_str().unwrap().starts_with("GET ")));
    // Pages of the log; a token of other filters is refused.
    let first = f
        .app
        .get("/api/v2/audit-log?pageSize=1", Some(&f.org.admin))
        .await;
    let token = first.data()["continuationToken"]
        .as_str()
        .unwrap()
        .to_string();
    let next = f
        .app
        .get(
            &format!("/api/v2/audit-log?pageSize=1&continuationToken={token}"),
            Some(&f.org.admin),
        )
        .await;
    assert_eq!(next.status, 200);
    assert_ne!(
        next.data()["items"][0]["id"],
        first.data()["items"][0]["id"]
    );
    let other = f
        .app
        .get(
            &format!(
                "/api/v2/audit-log?pageSize=1&actorId={}&continuationToken={token}",
                f.analyst.id
            ),
            Some(&f.org.admin),
        )
        .await;
    other.assert_problem(400, "VALIDATION_ERROR");
    // The console's audit page: for organization admins, not for members.
    let mut admin = ConsoleClient::new(&f.app);
    admin.sign_in(&f.admin.email, &f.admin.password).await;
    let r = admin.get("/console/audit").await;
    assert!(r.text.contains("console.incident.status") && r.text.contains("console.sign-in"));
    assert_eq!(analyst.get("/console/audit").await.status, 403);
    // The close feeds the mean time to close.
    let r = analyst.get("/console/dashboard").await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("<svg"), "{}", r.text);
    let close = r
        .text
        .split("Mean time to close, last 30 days: ")
        .nth(1)
        .unwrap();
    assert!(!close.starts_with("no data"), "{close}");
}

#[tokio::test]
async fn an_ended_session_goes_back_to_sign_in() {
    let f = fixture_with(|c| {
        c.console.session_idle_secs = 1;
        c.console.session_absolute_secs = 3600;
    })
    .await;
    let mut c = ConsoleClient::new(&f.app);
    c.sign_in(&f.analyst.email, &f.analyst.password).await;
    assert_eq!(c.get("/console").await.status, 200);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = c.get("/console/dashboard").await;
    assert_eq!(r.status, 303);
    assert_eq!(
        r.header("location"),
        Some("/console/sign-in?next=%2Fconsole%2Fdashboard&expired=1")
    );
    let r = c.get("/console/sign-in?expired=1").await;
    assert!(r.text.contains("Your session has ended"));
}
