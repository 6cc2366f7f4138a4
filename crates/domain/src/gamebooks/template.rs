//! Action templates: `{{ name }}` placeholders filled from the run, the incident, the entity
//! a step acts on and the playbook's parameters, escaped for where they land.

use std::collections::HashMap;

use palisade_types::incidents::IncidentSource;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::incident::IncidentDoc;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::testing::doc;

    #[test]
    fn templates_escape_where_they_land() {
        let mut params = Map::new();
        params.insert("team".into(), Value::String("SOC & IR".into()));
        let doc = doc(serde_json::json!({"title": "Say \"hi\" / bye", "severity": "High"}));
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

    #[test]
    fn entity_values_and_unclosed_placeholders() {
        let doc = doc(serde_json::json!({
            "entities": [{"id": "h1", "kind": "Host", "displayName": "web-1"}],
            "owner": {"email": "ada@contoso.com"},
        }));
        let ctx = TemplateContext::new(
            Uuid::nil(),
            Uuid::nil(),
            IncidentSource::Splunk,
            "S-1",
            1,
            &doc,
            Some("h1"),
            &Map::new(),
        );
        assert_eq!(
            ctx.render(
                "{{entity.kind}} {{entity.displayName}} {{incident.owner.email}} {{incident.source}}",
                Escape::None
            ),
            "Host web-1 ada@contoso.com Splunk"
        );
        assert_eq!(ctx.render("a {{entity.id", Escape::None), "a {{entity.id");
    }
}
