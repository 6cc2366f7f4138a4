//! The page frame (header, navigation, sign-out) and the small pieces every page uses.
//! Markup only: what a page shows is decided by its handler through the services.

use chrono::{DateTime, Utc};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use palisade_domain::vocab::{IncidentStatus, Severity};

use super::ConsoleUser;

/// The navigation: (key, label, path).
const NAV: &[(&str, &str, &str)] = &[
    ("queue", "Incidents", "/console"),
    ("dashboard", "Dashboard", "/console/dashboard"),
    ("sources", "Data sources", "/console/sources"),
    ("webhooks", "Webhooks", "/console/webhooks"),
    ("gamebooks", "Gamebooks", "/console/gamebooks"),
    ("audit", "Audit log", "/console/audit"),
];

/// htmx's settings: no inline indicator styles (the CSP forbids them), no eval, requests
/// only to this origin.
const HTMX_CONFIG: &str = r#"{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"selfRequestsOnly":true}"#;

/// A whole page.
pub fn page(user: Option<&ConsoleUser>, title: &str, active: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="htmx-config" content=(HTMX_CONFIG);
                title { (title) " · Palisade" }
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/htmx.min.js" defer {}
                script src="/console/assets/console.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/console" { "Palisade" }
                    @if let Some(u) = user {
                        nav aria-label="Console" {
                            ul {
                                @for (key, label, path) in NAV {
                                    li {
                                        @if *key == active {
                                            a href=(path) aria-current="page" { (label) }
                                        } @else {
                                            a href=(path) { (label) }
                                        }
                                    }
                                }
                            }
                        }
                        form.signout method="post" action="/console/sign-out" {
                            (csrf(u))
                            span.who { (u.ctx.principal.name) }
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main #main { (content) }
            }
        }
    }
}

/// The CSRF field every form carries.
pub fn csrf(user: &ConsoleUser) -> Markup {
    html! { input type="hidden" name="csrf" value=(user.csrf); }
}

pub fn severity(s: Severity) -> Markup {
    html! { span class={ "sev sev-" (s.as_str().to_lowercase()) } { (s.as_str()) } }
}

pub fn status(s: IncidentStatus) -> Markup {
    html! { span class={ "st st-" (s.as_str().to_lowercase()) } { (s.as_str()) } }
}

/// An instant, machine-readable and short.
pub fn time(t: DateTime<Utc>) -> Markup {
    html! { time datetime=(t.to_rfc3339()) { (t.format("%Y-%m-%d %H:%M")) } }
}

/// A notice after an action (from the `done` query parameter).
pub fn notice(text: Option<&str>) -> Markup {
    html! {
        @if let Some(t) = text {
            p.notice role="status" { (t) }
        }
    }
}

/// Trusted, server-generated SVG.
pub fn svg(text: String) -> Markup {
    PreEscaped(text)
}

/// A `<select>` with a label; `selected` is the chosen value.
pub fn select(
    id: &str,
    name: &str,
    label: &str,
    options: &[(String, String)],
    selected: &str,
) -> Markup {
    html! {
        label for=(id) { (label) }
        select #(id) name=(name) {
            @for (value, text) in options {
                @if value == selected {
                    option value=(value) selected { (text) }
                } @else {
                    option value=(value) { (text) }
                }
            }
        }
    }
}
