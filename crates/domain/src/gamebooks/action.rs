//! Validation of a playbook's action: its type, the fields that type uses, and the form of
//! an `HttpRequest` (the SSRF guard checks the rendered URL again at every request).

use palisade_types::gamebooks::{ActionType, PlaybookAction};
use palisade_types::incidents::{Classification, ClassificationReason, IncidentStatus, Severity};

use super::template::{Escape, TemplateContext};
use crate::incident::{mismatched_reason, reasons_for, valid_pair};
use crate::Validator;

/// The longest comment template, in characters.
const MAX_TEMPLATE: usize = 10_000;
const MAX_URL: usize = 2048;
const MAX_HEADER_VALUE: usize = 4096;
const MAX_BODY: usize = 64 * 1024;
/// The longest header name the HTTP client accepts.
const MAX_HEADER_NAME: usize = (1 << 16) - 1;

/// Is `name` an HTTP header name (RFC 9110 `token`) the client accepts?
pub fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_HEADER_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Headers an action may not set: the client derives them from the request.
fn is_reserved_header(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "host" | "content-length" | "transfer-encoding" | "connection"
    )
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
            // A comment: line breaks and tabs are ordinary in it.
            out.message = v.required_text("action.message", a.message.as_deref(), MAX_TEMPLATE)
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
        ActionType::SetStatus => set_status(v, a, &mut out),
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
        ActionType::HttpRequest => http_request(v, a, &mut out),
    }
    Some(out)
}

fn set_status(v: &mut Validator, a: &PlaybookAction, out: &mut PlaybookAction) {
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
                mismatched_reason(c, r),
            ),
            (Some(Some(c)), _) => v.add(
                "action.classificationReason",
                format!(
                    "Closing an incident requires a valid classificationReason. Reasons for '{}': {}.",
                    c.as_str(),
                    reasons_for(c)
                ),
            ),
            _ => v.add(
                "action.classification",
                format!(
                    "Closing an incident requires a valid classification and classificationReason. Classifications: {}.",
                    Classification::allowed()
                ),
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

fn http_request(v: &mut Validator, a: &PlaybookAction, out: &mut PlaybookAction) {
    let method = a.method.as_deref().unwrap_or("POST").to_ascii_uppercase();
    if !matches!(method.as_str(), "GET" | "POST" | "PUT" | "PATCH" | "DELETE") {
        v.add("action.method", "Allowed: GET, POST, PUT, PATCH, DELETE.");
    }
    out.method = Some(method);
    out.url = v.required_str("action.url", a.url.as_deref(), MAX_URL);
    if let Some(u) = &out.url {
        // The form is checked now, with placeholders standing in for values; the SSRF guard
        // checks the rendered URL again at every request.
        let probe = TemplateContext::default().render(u, Escape::None);
        if url::Url::parse(&probe).map_or(true, |p| !matches!(p.scheme(), "http" | "https")) {
            v.add(
                "action.url",
                "'action.url' must be an absolute http(s) URL (templates allowed in the path and query).",
            );
        }
    }
    if let Some(h) = &a.headers {
        for (name, value) in h {
            if !is_header_name(name) || is_reserved_header(name) {
                v.add(
                    format!("action.headers.{name}"),
                    "Not an allowed header name.",
                );
            } else if value.len() > MAX_HEADER_VALUE || value.chars().any(|c| c.is_control()) {
                v.add(
                    format!("action.headers.{name}"),
                    "A header value must be at most 4096 characters without control characters.",
                );
            }
        }
        out.headers = Some(h.clone());
    }
    if let Some(b) = &a.body {
        if b.len() > MAX_BODY {
            v.add(
                "action.body",
                "'action.body' must be at most 65536 characters.",
            );
        }
        out.body = Some(b.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(json: serde_json::Value) -> PlaybookAction {
        serde_json::from_value(json).unwrap()
    }

    /// The normalized action, or the failed paths.
    fn check(json: serde_json::Value) -> Result<PlaybookAction, Vec<String>> {
        let mut v = Validator::new();
        let out = validate_action(&mut v, Some(&action(json)));
        v.outcome(out)
    }

    #[test]
    fn header_names_are_tokens_as_the_http_client_parses_them() {
        let mut names: Vec<String> = (0u8..=255)
            .map(|b| String::from_utf8_lossy(&[b]).into_owned())
            .collect();
        names.extend(
            ["", "X-Api-Key", "x y", "a:b", "Ünï", "tab\t"]
                .iter()
                .map(|s| s.to_string()),
        );
        names.push("a".repeat(MAX_HEADER_NAME));
        names.push("a".repeat(MAX_HEADER_NAME + 1));
        for name in names {
            assert_eq!(
                is_header_name(&name),
                http::HeaderName::from_bytes(name.as_bytes()).is_ok(),
                "{:?} ({} bytes)",
                name.chars().take(20).collect::<String>(),
                name.len()
            );
        }
    }

    #[test]
    fn actions_are_normalized_to_their_type() {
        let a = check(serde_json::json!({
            "type": "setstatus", "status": "closed", "classification": "truepositive",
            "classificationReason": "malware", "label": "dropped"
        }))
        .unwrap();
        assert_eq!(a.kind.as_deref(), Some("SetStatus"));
        assert_eq!(
            (
                a.status.as_deref(),
                a.classification.as_deref(),
                a.classification_reason.as_deref()
            ),
            (Some("Closed"), Some("TruePositive"), Some("Malware"))
        );
        assert_eq!(a.label, None, "fields the type does not use are dropped");
        let h = check(serde_json::json!({
            "type": "HttpRequest", "method": "put",
            "url": "https://example.com/{{incident.id}}?t={{incident.title}}",
            "headers": {"X-Team": "{{parameters.team}}"}
        }))
        .unwrap();
        assert_eq!(h.method.as_deref(), Some("PUT"));
    }

    #[test]
    fn invalid_actions_name_their_fields() {
        let mut v = Validator::new();
        assert!(validate_action(&mut v, None).is_none());
        assert_eq!(v.failed_paths(), ["action"]);
        for (json, paths) in [
            (serde_json::json!({}), vec!["action.type"]),
            (serde_json::json!({"type": "Launch"}), vec!["action.type"]),
            (
                serde_json::json!({"type": "SetSeverity", "severity": "Dire"}),
                vec!["action.severity"],
            ),
            (
                serde_json::json!({"type": "SetStatus", "status": "Closed", "classification": "FalsePositive", "classificationReason": "Malware"}),
                vec!["action.classificationReason"],
            ),
            (
                serde_json::json!({"type": "SetStatus", "status": "Active", "classification": "FalsePositive"}),
                vec!["action.classification"],
            ),
            (
                serde_json::json!({"type": "Assign", "email": "nobody"}),
                vec!["action.email"],
            ),
            (
                serde_json::json!({"type": "HttpRequest", "method": "TRACE", "url": "ftp://x/"}),
                vec!["action.method", "action.url"],
            ),
            (
                serde_json::json!({"type": "HttpRequest", "url": "https://x/", "headers": {"Host": "y", "Bad Name": "z", "X-Ok": "a\nb"}}),
                vec![
                    "action.headers.Bad Name",
                    "action.headers.Host",
                    "action.headers.X-Ok",
                ],
            ),
            (
                serde_json::json!({"type": "HttpRequest", "url": "https://x/", "body": "a".repeat(MAX_BODY + 1)}),
                vec!["action.body"],
            ),
        ] {
            assert_eq!(check(json.clone()).unwrap_err(), paths, "{json}");
        }
    }
}
