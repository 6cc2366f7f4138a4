//! An accessibility check in the browser: axe-core (Deque Systems, MPL-2.0; the file
//! `assets/axe.min.js` is vendored unchanged, with its licence header, from the npm package
//! `axe-core`), injected through WebDriver into the page the [`Browser`] shows.

use serde_json::{json, Value};

use crate::webdriver::Browser;

const AXE: &str = include_str!("../assets/axe.min.js");

/// The version of the vendored axe-core.
pub fn version() -> &'static str {
    AXE.lines()
        .next()
        .and_then(|l| l.strip_prefix("/*! axe v"))
        .unwrap_or("unknown")
}

/// One rule the page breaks.
#[derive(Debug, Clone)]
pub struct Violation {
    pub id: String,
    /// `minor`, `moderate`, `serious` or `critical`.
    pub impact: String,
    pub help: String,
    /// Each offending element's selector and what is wrong with it.
    pub nodes: Vec<String>,
}

impl Violation {
    pub fn is_serious(&self) -> bool {
        matches!(self.impact.as_str(), "serious" | "critical")
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{} ({}): {}", self.id, self.impact, self.help)?;
        for n in &self.nodes {
            writeln!(f, "    {n}")?;
        }
        Ok(())
    }
}

/// Runs axe-core's WCAG 2.x A and AA rules (and its best practices) on the current page.
pub async fn check(b: &Browser) -> Vec<Violation> {
    b.execute(&format!("{AXE}\nreturn typeof window.axe;"), vec![])
        .await;
    let script = r#"
        const done = arguments[arguments.length - 1];
        window.axe.run(document, {resultTypes: ["violations"]})
          .then(r => done(r.violations.map(v => ({
             id: v.id, impact: v.impact || "", help: v.help,
             nodes: v.nodes.map(n => n.target.join(" ") + " :: " + (n.failureSummary || "").replace(/\n/g, " "))
          }))))
          .catch(e => done({error: String(e)}));
    "#;
    let r = b.execute_async(script, vec![json!(null)]).await;
    if let Some(e) = r.get("error") {
        panic!("axe-core failed: {e}");
    }
    r.as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|v: Value| Violation {
            id: v["id"].as_str().unwrap_or_default().to_string(),
            impact: v["impact"].as_str().unwrap_or_default().to_string(),
            help: v["help"].as_str().unwrap_or_default().to_string(),
            nodes: v["nodes"]
                .as_array()
                .map(|n| {
                    n.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}
