//! Accessibility: axe-core (vendored in `palisade-test-utils`) run in headless Chromium on
//! every console page; no violation of impact serious or critical is allowed.

use palisade_test_utils::axe;
use palisade_test_utils::webdriver::Browser;

use super::fixture;

/// The serious and critical violations of the page shown, labelled with `page`.
/// The lesser ones are printed (shown with `--no-capture`).
async fn serious(b: &Browser, page: &str) -> Vec<String> {
    let (serious, lesser): (Vec<_>, Vec<_>) = axe::check(b)
        .await
        .into_iter()
        .partition(|v| v.is_serious());
    for v in lesser {
        eprintln!("{page}: {v}");
    }
    serious
        .into_iter()
        .map(|v| format!("{page}: {v}"))
        .collect()
}

#[tokio::test]
async fn every_console_page_passes_the_accessibility_checker() {
    let f = fixture().await;
    let b = Browser::start().await;
    let mut found = Vec::new();

    // The sign-in page, and its answer to a wrong password.
    b.goto(&f.app.url("/console/sign-in")).await;
    b.find("form.signin").await;
    found.extend(serious(&b, "sign-in").await);
    b.fill("#email", &f.admin.email).await;
    b.fill("#password", "not the password").await;
    b.press("form.signin button[type=submit]").await;
    b.wait_for_text("not right").await;
    found.extend(serious(&b, "sign-in, refused").await);

    b.fill("#email", &f.admin.email).await;
    b.fill("#password", &f.admin.password).await;
    b.press("form.signin button[type=submit]").await;
    b.find("header.top form.signout").await;

    let ws = f.ws;
    let pages = [
        ("queue", "/console".to_string(), "#queue"),
        (
            "queue, filtered",
            "/console?status=all&severity=Low".to_string(),
            "#queue",
        ),
        (
            "incident",
            format!("/console/incidents/{ws}/Sentinel/INC-1"),
            "#status",
        ),
        ("dashboard", "/console/dashboard".to_string(), "svg"),
        ("sources", "/console/sources".to_string(), "#sources"),
        (
            "connector form",
            format!("/console/sources/new?workspace={ws}&type=MicrosoftSentinel"),
            "form.connector",
        ),
        ("webhooks", "/console/webhooks".to_string(), "form.create"),
        ("gamebooks", "/console/gamebooks".to_string(), "main h1"),
        ("audit", "/console/audit".to_string(), "#audit"),
    ];
    for (name, path, ready) in &pages {
        b.goto(&f.app.url(path)).await;
        b.find(ready).await;
        found.extend(serious(&b, name).await);
    }
    // The connector form with the service's errors beside its fields.
    b.goto(&f.app.url(&pages[5].1)).await;
    b.press("form.connector button[type=submit]").await;
    b.find("#c-settings-tenantId-error").await;
    found.extend(serious(&b, "connector form, refused").await);

    // The checker does see what it should: an unlabelled input put on the page is reported.
    b.execute(
        "const i = document.createElement('input'); i.type = 'text'; document.querySelector('main').appendChild(i); return null;",
        vec![],
    )
    .await;
    let planted = serious(&b, "planted").await;
    assert!(
        planted.iter().any(|v| v.contains("label (critical)")),
        "axe-core missed an input without a label: {planted:?}"
    );

    assert!(
        found.is_empty(),
        "axe-core {} found serious or critical violations:\n{}",
        axe::version(),
        found.join("\n")
    );
    b.quit().await;
}
