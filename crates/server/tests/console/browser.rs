//! The analyst's flows in a real browser: Debian's headless Chromium through chromedriver
//! (installed by `.ci/run`), against the real server on port 0. One browser per test.
//! With `PALISADE_SCREENSHOTS=1` the pages are also saved under `docs/console/`.

use std::time::Duration;

use palisade_test_utils::webdriver::Browser;
use palisade_test_utils::Receiver;

use super::{fixture, fixture_with, Fixture};

async fn sign_in(b: &Browser, f: &Fixture, email: &str, password: &str) {
    b.goto(&f.app.url("/console")).await;
    // Without a session the console sends the browser to the sign-in page.
    b.find("form.signin").await;
    b.fill("#email", email).await;
    b.fill("#password", password).await;
    b.press("form.signin button[type=submit]").await;
    b.find("header.top form.signout").await;
}

#[tokio::test]
async fn an_analyst_filters_the_queue_and_closes_an_incident() {
    let f = fixture().await;
    let b = Browser::start().await;
    b.goto(&f.app.url("/console/dashboard")).await;
    b.find("form.signin").await;
    b.screenshot_to_docs("sign-in").await;
    b.fill("#email", &f.analyst.email).await;
    b.fill("#password", &f.analyst.password).await;
    b.press("form.signin button[type=submit]").await;
    // Back where the browser wanted to go.
    b.wait_for_text("Mean time to close").await;
    assert!(b.url().await.ends_with("/console/dashboard"));
    b.screenshot_to_docs("dashboard").await;

    // The queue, filtered to High.
    b.goto(&f.app.url("/console")).await;
    b.wait_for_text("Impossible travel for ana").await;
    assert!(!b.source().await.contains("Old closed malware case"));
    b.screenshot_to_docs("queue").await;
    b.select("#f-severity", "High").await;
    b.press("form.filters button[type=submit]").await;
    b.wait_for_text("severity=High").await;
    let source = b.source().await;
    assert!(source.contains("Phishing mail reported by finance"));
    assert!(!source.contains("Impossible travel for ana"));

    // Open it and close it with a classification and a multi-line comment.
    b.press("a.open").await;
    b.find("#a-status").await;
    b.select("#a-status", "Closed").await;
    b.select("#a-verdict", "TruePositive:Phishing").await;
    let comment = "Reported by finance.\nSender domain blocked at the gateway.";
    b.fill("#a-close-comment", comment).await;
    b.press("form[action$='/status'] button[type=submit]").await;
    b.wait_for_text("Status set to Closed.").await;
    let status = b.text(&b.find("#status").await).await;
    assert_eq!(status, "Closed");
    let classification = b.text(&b.find("#classification").await).await;
    assert_eq!(classification, "TruePositive — Phishing");
    let timeline = b.text(&b.find("ol.timeline").await).await;
    assert!(
        timeline.contains("Reported by finance.\nSender domain blocked at the gateway."),
        "{timeline}"
    );
    b.screenshot_to_docs("incident").await;

    // The same through the API.
    let incident = f.api_incident("INC-1").await;
    assert_eq!(incident["status"], "Closed");
    assert_eq!(incident["classification"], "TruePositive");
    assert!(f
        .api_comments("INC-1")
        .await
        .contains("Reported by finance.\\nSender domain blocked at the gateway."));
    b.quit().await;

    // The audit log shows the change, to an organization admin.
    let b = Browser::start().await;
    sign_in(&b, &f, &f.admin.email, &f.admin.password).await;
    b.goto(&f.app.url("/console/audit")).await;
    b.wait_for_text("console.incident.status").await;
    let audit = b.text(&b.find("#audit").await).await;
    assert!(
        audit.contains("ana") && audit.contains("Console"),
        "{audit}"
    );
    b.screenshot_to_docs("audit").await;
    b.quit().await;
}

#[tokio::test]
async fn a_webhook_is_created_with_its_secret_shown_once_and_fires() {
    let f = fixture_with(|c| {
        c.webhooks.allow_private_targets = true;
        c.webhooks.allow_http = true;
    })
    .await;
    let receiver = Receiver::start().await;
    let b = Browser::start().await;
    sign_in(&b, &f, &f.admin.email, &f.admin.password).await;
    b.goto(&f.app.url("/console/webhooks")).await;
    b.fill("#w-name", "SOAR intake").await;
    b.fill("#w-url", &receiver.url("/hook")).await;
    b.press("form.create button[type=submit]").await;
    let secret = b.text(&b.find("#secret").await).await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    b.screenshot_to_docs("webhook-created").await;
    // The webhook's page never shows it again.
    b.press("main a[href^='/console/webhooks/']").await;
    b.find("#wh-status").await;
    assert!(!b.source().await.contains(&secret));
    // A test event reaches the receiver, signed with that secret, and is logged.
    b.press("form[action$='/test'] button").await;
    b.wait_for_text("Test event sent").await;
    let hits = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(hits[0].header("x-cf-test"), Some("true"));
    assert!(hits[0].header("x-cf-signature").is_some());
    b.find("#deliveries tbody tr form[action$='/redeliver']")
        .await;
    // Pause and resume.
    b.press("form[action$='/pause'] button").await;
    b.wait_for_text("Paused (Paused).").await;
    b.press("form[action$='/resume'] button").await;
    b.wait_for_text("Resumed (Active).").await;
    b.quit().await;
}

#[tokio::test]
async fn a_reader_sees_no_action_buttons_and_a_forged_post_is_refused() {
    let f = fixture().await;
    let b = Browser::start().await;
    sign_in(&b, &f, &f.reader.email, &f.reader.password).await;
    let page = format!("/console/incidents/{}/Sentinel/INC-1", f.ws);
    b.goto(&f.app.url(&page)).await;
    b.wait_for_text("Phishing mail reported by finance").await;
    assert_eq!(b.count("main form").await, 0, "no action forms");
    assert_eq!(b.count("#a-status, #a-comment, #a-assignee").await, 0);
    b.goto(&f.app.url("/console")).await;
    b.wait_for_text("Impossible travel for ana").await;
    assert_eq!(b.count("form#bulk").await, 0, "no bulk actions");
    // A forged POST with the browser's own session and token is refused as by the API.
    let session = b.cookie("palisade_session").await.expect("session cookie");
    let source = b.source().await;
    let csrf = palisade_test_utils::console::csrf_of(&source);
    let r = reqwest::Client::new()
        .post(f.app.url(&format!("{page}/status")))
        .header("cookie", format!("palisade_session={session}"))
        .form(&[("csrf", csrf.as_str()), ("status", "Active")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // And the session's token is required: a form without it is refused.
    let r = reqwest::Client::new()
        .post(f.app.url(&format!("{page}/comment")))
        .header("cookie", format!("palisade_session={session}"))
        .form(&[("content", "hello")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // An ended session goes back to the sign-in page.
    b.delete_cookie("palisade_session").await;
    b.goto(&f.app.url("/console/dashboard")).await;
    b.find("form.signin").await;
    b.quit().await;
}

#[tokio::test]
async fn new_incidents_appear_in_the_open_queue_without_a_reload() {
    let f = fixture_with(|c| c.console.queue_refresh_secs = 1).await;
    let b = Browser::start().await;
    sign_in(&b, &f, &f.analyst.email, &f.analyst.password).await;
    b.goto(&f.app.url("/console")).await;
    b.wait_for_text("Impossible travel for ana").await;
    assert!(!b
        .source()
        .await
        .contains("Fresh ransomware on the file server"));
    // A mark on this page: a reload would lose it.
    b.execute(
        "window.palisadeMark = 'still this page'; return null;",
        vec![],
    )
    .await;
    let r = f
        .app
        .put(
            &format!("/api/v2/workspaces/{}/incidents/Sentinel/INC-9", f.ws),
            Some(&f.org.admin),
            &serde_json::json!({"title": "Fresh ransomware on the file server", "severity": "High"}),
        )
        .await;
    assert!(r.status < 300, "{}", r.text);
    b.wait_for_text_within(
        "Fresh ransomware on the file server",
        Duration::from_secs(20),
    )
    .await;
    let mark = b
        .execute("return window.palisadeMark || null;", vec![])
        .await;
    assert_eq!(mark, "still this page", "the page was not reloaded");
    // Newest first: the new incident is the first row.
    let first = b.text(&b.find("#queue tbody tr.row a.open").await).await;
    assert!(first.contains("Fresh ransomware"), "{first}");
    b.quit().await;
}

#[tokio::test]
async fn a_connector_is_added_with_its_errors_shown_and_edited_in_the_browser() {
    use super::sources::{connector_fixture, fake_sentinel, CLIENT_ID, SECRET, TENANT};
    let f = connector_fixture().await;
    let (entra, sentinel) = fake_sentinel().await;
    let b = Browser::start().await;
    sign_in(&b, &f, &f.admin.email, &f.admin.password).await;
    b.goto(&f.app.url("/console/sources")).await;
    b.select("#n-workspace", &f.ws.to_string()).await;
    b.select("#n-type", "MicrosoftSentinel").await;
    b.press("form.add-connector button[type=submit]").await;
    b.find("#c-settings-tenantId").await;
    let w = sentinel.workspace();
    b.fill("#c-name", "Sentinel prod").await;
    b.fill("#c-startFrom", "2020-01-01T00:00:00Z").await;
    b.fill("#c-settings-tenantId", "not a tenant!").await;
    b.fill("#c-settings-clientId", CLIENT_ID).await;
    b.fill("#c-settings-authorityUrl", &entra.authority()).await;
    b.fill("#c-settings-subscriptionId", &w.subscription_id)
        .await;
    b.fill("#c-settings-resourceGroup", &w.resource_group).await;
    b.fill("#c-settings-workspaceName", &w.workspace_name).await;
    b.fill("#c-settings-baseUrl", &sentinel.base()).await;
    b.press("form.connector button[type=submit]").await;
    // The service's messages beside their fields.
    let tenant = b.text(&b.find("#c-settings-tenantId-error").await).await;
    assert!(
        tenant.contains("must be a directory (tenant) id"),
        "{tenant}"
    );
    let secret = b
        .text(&b.find("#c-credentials-clientSecret-error").await)
        .await;
    assert!(secret.contains("is required"), "{secret}");
    b.screenshot_to_docs("connector-errors").await;
    // What was typed is kept (not the secret); fix it and add the secret.
    b.fill("#c-settings-tenantId", TENANT).await;
    b.fill("#c-credentials-clientSecret", SECRET).await;
    b.press("form.connector button[type=submit]").await;
    b.wait_for_text("Connector Sentinel prod added.").await;
    let table = b.text(&b.find("#sources").await).await;
    assert!(table.contains("Sentinel prod"), "{table}");
    // Its form again: filled in, the secret never shown.
    b.press("#sources a[href^='/console/sources/']").await;
    b.find("#c-health").await;
    let source = b.source().await;
    assert!(!source.contains(SECRET));
    assert!(source.contains(&w.workspace_name));
    b.fill("#c-name", "Sentinel production").await;
    b.press("form.connector button[type=submit]").await;
    b.wait_for_text("Connector Sentinel production saved.")
        .await;
    b.quit().await;
}
