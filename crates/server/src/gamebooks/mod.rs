//! Gamebooks: rule matching, run planning, action templates and validation, and the
//! background engine ([`engine::Engine`]) that starts auto-run gamebooks from the outbox
//! and works runs as leased jobs. See `docs/gamebooks.md`.

pub mod engine;

use std::collections::HashMap;

use palisade_domain::incident::{valid_pair, IncidentDoc};
use palisade_domain::Validator;
use palisade_store::{NewStep, PlaybookRow, RuleRow};
use palisade_types::gamebooks::{ActionType, PlaybookAction, TitleMatch};
use palisade_types::incidents::{
    Classification, ClassificationReason, EntityKind, IncidentSource, IncidentStatus, Severity,
};
use regex_automata::meta::Regex;
use serde_json::{Map, Value};
use uuid::Uuid;

const MAX_TEMPLATE: usize = 10_000;
const MAX_PATTERN: usize = 1_000;

/// Compiles a rule's regular expression (case-insensitive, bounded in size).
pub fn compile_regex(pattern: &str) -> Result<Regex, String> {
    Regex::builder()
        .syntax(regex_automata::util::syntax::Config::new().case_insensitive(true))
        .configure(Regex::config().nfa_size_limit(Some(1 << 20)))
        .build(pattern)
        .map_err(|e| e.to_string())
}

/// Does a rule's title pattern match this title? (Case-insensitive; an invalid stored
/// regular expression matches nothing.)
pub fn title_matches(match_type: &str, pattern: &str, title: &str) -> bool {
    match TitleMatch::parse(match_type) {
        Some(TitleMatch::Exact) => title.trim().to_lowercase() == pattern.trim().to_lowercase(),
        Some(TitleMatch::Contains) => title.to_lowercase().contains(&pattern.to_lowercase()),
        Some(TitleMatch::Regex) => compile_regex(pattern).is_ok_and(|r| r.is_match(title)),
        None => false,
    }
}

/// The entity kind a playbook's `entityType` selects: `None` for `Incident`.
pub fn entity_kind(entity_type: &str) -> Result<Option<EntityKind>, String> {
    if entity_type.eq_ignore_ascii_case("Incident") {
        return Ok(None);
    }
    if entity_type.eq_ignore_ascii_case("User") {
        return Ok(Some(EntityKind::Account));
    }
    EntityKind::parse(entity_type).map(Some).ok_or_else(|| {
        format!(
            "'{}' is not an entity type. Allowed: Incident, User, {}.",
            entity_type.chars().take(60).collect::<String>(),
            EntityKind::allowed()
        )
    })
}

/// The canonical spelling of an `entityType`.
pub fn canonical_entity_type(entity_type: &str) -> Result<String, String> {
    if entity_type.eq_ignore_ascii_case("User") {
        return Ok("User".into());
    }
    Ok(match entity_kind(entity_type)? {
        None => "Incident".into(),
        Some(k) => k.as_str().into(),
    })
}

/// The steps of a run: each playbook in order, once per affected entity of its type (once
/// for `Incident`); a playbook without such an entity is one `Skipped` step. Playbooks no
/// longer in the catalogue are left out.
pub fn plan_steps(
    doc: &IncidentDoc,
    playbook_ids: &[Uuid],
    playbooks: &HashMap<Uuid, PlaybookRow>,
) -> Vec<NewStep> {
    let mut steps = Vec::new();
    for id in playbook_ids {
        let Some(p) = playbooks.get(id) else { continue };
        let step = |entity_id: Option<String>,
                    affected: Option<String>,
                    status: &'static str,
                    error: Option<String>| NewStep {
            playbook_id: p.id,
            name: p.name.clone(),
            description: p.description.clone(),
            entity_type: p.entity_type.clone(),
            entity_id,
            affected_entity: affected,
            is_admin_required: p.is_admin_required,
            parameters: p.parameters.clone(),
            action: p.action.clone(),
            status,
            error_message: error,
        };
        match entity_kind(&p.entity_type) {
            Ok(None) => steps.push(step(None, Some(doc.title.clone()), "Pending", None)),
            Ok(Some(kind)) => {
                let matching: Vec<_> = doc.entities.iter().filter(|e| e.kind == kind).collect();
                if matching.is_empty() {
                    steps.push(step(
                        None,
                        None,
                        "Skipped",
                        Some(format!("The incident has no {} entity.", p.entity_type)),
                    ));
                }
                for e in matching {
                    steps.push(step(
                        Some(e.id.clone()),
                        Some(e.display_name.clone()),
                        "Pending",
                        None,
                    ));
                }
            }
            Err(e) => steps.push(step(None, None, "Skipped", Some(e))),
        }
    }
    steps
}

/// How a template value is escaped where it lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    None,
    /// Percent-encoded (URLs).
    Url,
    /// Escaped for the inside of a JSON string.
    Json,
}

/// The values templates can name.
#[derive(Debug, Clone, Default)]
pub struct TemplateContext {
    values: HashMap<String, String>,
}

impl TemplateContext {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        run_id: Uuid,
        workspace_id: Uuid,
        source: IncidentSource,
        incident_id: &str,
        number: i64,
        doc: &IncidentDoc,
        entity_id: Option<&str>,
        parameters: &Map<String, Value>,
    ) -> Self {
        let mut v = HashMap::new();
        let mut put = |k: &str, s: String| {
            v.insert(k.to_string(), s);
        };
        put("run.id", run_id.to_string());
        put("workspace.id", workspace_id.to_string());
        put("incident.id", incident_id.to_string());
        put("incident.number", number.to_string());
        put("incident.title", doc.title.clone());
        put(
            "incident.description",
            doc.description.clone().unwrap_or_default(),
        );
        put("incident.severity", doc.severity.as_str().to_string());
        put("incident.status", doc.status.as_str().to_string());
        put("incident.source", source.as_str().to_string());
        put(
            "incident.owner.email",
            doc.owner
                .as_ref()
                .and_then(|o| o.email.clone())
                .unwrap_or_default(),
        );
        if let Some(e) = entity_id.and_then(|id| doc.entities.iter().find(|e| e.id == id)) {
            put("entity.id", e.id.clone());
            put("entity.displayName", e.display_name.clone());
            put("entity.kind", e.kind.as_str().to_string());
        }
        for (k, val) in parameters {
            let s = match val {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            put(&format!("parameters.{k}"), s);
        }
        TemplateContext { values: v }
    }

    /// Replaces every `{{ name }}` with its value (unknown names with nothing).
    pub fn render(&self, template: &str, escape: Escape) -> String {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                out.push_str(&rest[start..]);
                return out;
            };
            let name = after[..end].trim();
            let value = self.values.get(name).map(String::as_str).unwrap_or("");
            match escape {
                Escape::None => out.push_str(value),
                Escape::Url => out.push_str(
                    &url::form_urlencoded::byte_serialize(value.as_bytes())
                        .collect::<String>()
                        .replace('+', "%20"),
                ),
                Escape::Json => {
                    let quoted = serde_json::to_string(value).expect("strings serialize");
                    out.push_str(&quoted[1..quoted.len() - 1]);
                }
            }
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        out
    }
}

/// Validates a playbook action, returning it normalized (canonical `type` and enum
/// spellings; fields the type does not use dropped).
pub fn validate_action(v: &mut Validator, a: Option<&PlaybookAction>) -> Option<PlaybookAction> {
    let Some(a) = a else {
        v.add("action", "'action' is required.");
        return None;
    };
    let kind = match a.kind.as_deref().map(ActionType::parse) {
        None => {
            v.add(
                "action.type",
                format!(
                    "'action.type' is required. Allowed: {}.",
                    ActionType::allowed()
                ),
            );
            return None;
        }
        Some(None) => {
            v.add(
                "action.type",
                format!("Allowed: {}.", ActionType::allowed()),
            );
            return None;
        }
        Some(Some(k)) => k,
    };
    let mut out = PlaybookAction {
        kind: Some(kind.as_str().to_string()),
        ..Default::default()
    };
    let text =
        |v: &mut Validator, path: &str, s: Option<&str>, max: usize| v.required_str(path, s, max);
    match kind {
        ActionType::AddComment => {
            out.message = text(v, "action.message", a.message.as_deref(), MAX_TEMPLATE)
        }
        ActionType::AddLabel => out.label = text(v, "action.label", a.label.as_deref(), 200),
        ActionType::LinkTicket => {
            out.ticket_id = text(v, "action.ticketId", a.ticket_id.as_deref(), 200)
        }
        ActionType::SetSeverity => match a.severity.as_deref().map(Severity::parse) {
            Some(Some(s)) => out.severity = Some(s.as_str().into()),
            _ => v.add(
                "action.severity",
                format!("Allowed: {}.", Severity::allowed()),
            ),
        },
        ActionType::SetStatus => {
            let status = a.status.as_deref().and_then(IncidentStatus::parse);
            let classification = a.classification.as_deref().map(Classification::parse);
            let reason = a
                .classification_reason
                .as_deref()
                .map(ClassificationReason::parse);
            match status {
                None => v.add(
                    "action.status",
                    format!("Allowed: {}.", IncidentStatus::allowed()),
                ),
                Some(IncidentStatus::Closed) => match (classification, reason) {
                    (Some(Some(c)), Some(Some(r))) if valid_pair(c, r) => {
                        out.classification = Some(c.as_str().into());
                        out.classification_reason = Some(r.as_str().into());
                    }
                    (Some(Some(c)), Some(Some(r))) => v.add(
                        "action.classificationReason",
                        format!("'{}' is not a reason for '{}'.", r.as_str(), c.as_str()),
                    ),
                    _ => v.add(
                        "action.classification",
                        "Closing an incident requires a valid classification and classificationReason.",
                    ),
                },
                Some(_) if classification.is_some() || reason.is_some() => v.add(
                    "action.classification",
                    "A classification is given only when closing an incident.",
                ),
                Some(_) => {}
            }
            out.status = status.map(|s| s.as_str().into());
        }
        ActionType::Assign => {
            out.email = v.optional_str("action.email", a.email.as_deref(), 320);
            out.user_id = v.optional_str("action.userId", a.user_id.as_deref(), 200);
            out.display_name = v.optional_str("action.displayName", a.display_name.as_deref(), 200);
            if out.email.is_none() && out.user_id.is_none() {
                v.add("action.email", "Assign needs 'email' or 'userId'.");
            }
            if out.email.as_deref().is_some_and(|e| !e.contains('@')) {
                v.add("action.email", "'action.email' must be an email address.");
            }
        }
        ActionType::HttpRequest => {
            let method = a.method.as_deref().unwrap_or("POST").to_ascii_uppercase();
            if !matches!(method.as_str(), "GET" | "POST" | "PUT" | "PATCH" | "DELETE") {
                v.add("action.method", "Allowed: GET, POST, PUT, PATCH, DELETE.");
            }
            out.method = Some(method);
            out.url = text(v, "action.url", a.url.as_deref(), 2048);
            if let Some(u) = &out.url {
                // The form is checked now, with placeholders standing in for values; the
                // SSRF guard checks the rendered URL again at every request.
                let probe = TemplateContext::default().render(u, Escape::None);
                if url::Url::parse(&probe).map_or(true, |p| !matches!(p.scheme(), "http" | "https"))
                {
                    v.add(
                        "action.url",
                        "'action.url' must be an absolute http(s) URL (templates allowed in the path and query).",
                    );
                }
            }
            if let Some(h) = &a.headers {
                for (name, value) in h {
                    let lower = name.to_ascii_lowercase();
                    if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err()
                        || matches!(
                            lower.as_str(),
                            "host" | "content-length" | "transfer-encoding" | "connection"
                        )
                    {
                        v.add(
                            format!("action.headers.{name}"),
                            "Not an allowed header name.",
                        );
                    } else if value.len() > 4096 || value.chars().any(|c| c.is_control()) {
                        v.add(
                            format!("action.headers.{name}"),
                            "A header value must be at most 4096 characters without control characters.",
                        );
                    }
                }
                out.headers = Some(h.clone());
            }
            if let Some(b) = &a.body {
                if b.len() > 64 * 1024 {
                    v.add(
                        "action.body",
                        "'action.body' must be at most 65536 characters.",
                    );
                }
                out.body = Some(b.clone());
            }
        }
    }
    Some(out)
}

/// Validates a rule's match type and pattern.
pub fn validate_pattern(
    v: &mut Validator,
    match_type: Option<&str>,
    pattern: Option<&str>,
) -> Option<(TitleMatch, String)> {
    let kind = match match_type.map(TitleMatch::parse) {
        None => TitleMatch::Contains,
        Some(Some(k)) => k,
        Some(None) => {
            v.add("matchType", format!("Allowed: {}.", TitleMatch::allowed()));
            return None;
        }
    };
    let pattern = match pattern {
        Some(p) if !p.trim().is_empty() && p.chars().count() <= MAX_PATTERN => p.to_string(),
        Some(p) if !p.trim().is_empty() => {
            v.add(
                "titlePattern",
                format!("'titlePattern' must be at most {MAX_PATTERN} characters."),
            );
            return None;
        }
        _ => {
            v.add("titlePattern", "'titlePattern' is required.");
            return None;
        }
    };
    if kind == TitleMatch::Regex {
        if let Err(e) = compile_regex(&pattern) {
            v.add(
                "titlePattern",
                format!(
                    "'titlePattern' is not a valid regular expression: {}",
                    e.chars().take(300).collect::<String>()
                ),
            );
            return None;
        }
    }
    Some((kind, pattern))
}

/// The rules among `rules` that apply, with the playbooks they name (in rule order).
pub fn applicable<'a>(
    rules: &'a [RuleRow],
    title: &str,
    severity: Option<Severity>,
    source: Option<IncidentSource>,
) -> Vec<&'a RuleRow> {
    rules
        .iter()
        .filter(|r| {
            r.fields.is_enabled
                && severity.is_none_or(|s| {
                    r.fields.severities.is_empty()
                        || r.fields
                            .severities
                            .iter()
                            .any(|x| x.eq_ignore_ascii_case(s.as_str()))
                })
                && source.is_none_or(|s| {
                    r.fields.sources.is_empty()
                        || r.fields
                            .sources
                            .iter()
                            .any(|x| x.eq_ignore_ascii_case(s.as_str()))
                })
                && title_matches(&r.fields.match_type, &r.fields.pattern, title)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_match_by_kind() {
        assert!(title_matches("Exact", "Brute force", " brute FORCE "));
        assert!(!title_matches(
            "Exact",
            "Brute force",
            "Brute force on host"
        ));
        assert!(title_matches("Contains", "phish", "Possible PHISHING mail"));
        assert!(title_matches(
            "Regex",
            r"^mal\w+ on host-\d+$",
            "Malware on HOST-12"
        ));
        assert!(!title_matches("Regex", r"(", "("));
    }

    #[test]
    fn templates_escape_where_they_land() {
        let mut params = Map::new();
        params.insert("team".into(), Value::String("SOC & IR".into()));
        let doc: IncidentDoc = serde_json::from_value(serde_json::json!({
            "title": "Say \"hi\" / bye", "description": null, "severity": "High", "status": "New",
            "classification": null, "classificationReason": null, "classificationComment": null,
            "owner": null, "labels": [], "tactics": [], "alertProductNames": [],
            "firstActivityAt": null, "lastActivityAt": null, "providerUrl": null,
            "entities": [], "alerts": [], "evidence": {"columns": [], "rows": []}
        }))
        .unwrap();
        let ctx = TemplateContext::new(
            Uuid::nil(),
            Uuid::nil(),
            IncidentSource::Sentinel,
            "INC-1",
            7,
            &doc,
            None,
            &params,
        );
        assert_eq!(
            ctx.render("/x/{{incident.id}}?t={{ incident.title }}", Escape::Url),
            "/x/INC-1?t=Say%20%22hi%22%20%2F%20bye"
        );
        assert_eq!(
            ctx.render(r#"{"t":"{{incident.title}}","n":{{incident.number}},"p":"{{parameters.team}}","u":"{{nope}}"}"#, Escape::Json),
            r#"{"t":"Say \"hi\" / bye","n":7,"p":"SOC & IR","u":""}"#
        );
    }
}
