//! Incident ingest: validating Palisade's incident model into a normalized document, and
//! diffing two documents into the `changes` of an `incident.updated` event. Incident keys
//! are in [`ids`], status changes and assignments in [`actions`].

use chrono::{DateTime, Utc};
use palisade_types::incidents::{
    Alert, Classification, ClassificationReason, Entity, EntityKind, Evidence, FieldChange,
    IncidentInput, IncidentStatus, Owner, Severity,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Validator;

pub mod actions;
pub mod ids;

pub use ids::{body_source, incident_id, parse_source};

pub const MAX_TITLE: usize = 500;
pub const MAX_TEXT: usize = 20_000;
pub const MAX_ID: usize = 200;
pub const MAX_LIST: usize = 500;
pub const MAX_EVIDENCE_ROWS: usize = 5_000;

/// The comparable content of an incident (everything but its key, number and timestamps of
/// creation and update). Stored as JSON; two equal documents mean "unchanged".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncidentDoc {
    pub title: String,
    pub description: Option<String>,
    pub severity: Severity,
    pub status: IncidentStatus,
    pub classification: Option<Classification>,
    pub classification_reason: Option<ClassificationReason>,
    pub classification_comment: Option<String>,
    pub owner: Option<Owner>,
    pub labels: Vec<String>,
    pub tactics: Vec<String>,
    pub alert_product_names: Vec<String>,
    pub first_activity_at: Option<DateTime<Utc>>,
    pub last_activity_at: Option<DateTime<Utc>>,
    pub provider_url: Option<String>,
    pub entities: Vec<Entity>,
    pub alerts: Vec<Alert>,
    pub evidence: Evidence,
    /// What a connector's source has that Palisade's model has no field for
    /// (`{source: {...}}`, docs/connectors.md); absent on pushed incidents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<serde_json::Map<String, Value>>,
}

impl IncidentDoc {
    /// A `New` incident with a title and a severity and every other field empty.
    pub fn titled(title: impl Into<String>, severity: Severity) -> Self {
        IncidentDoc {
            title: title.into(),
            description: None,
            severity,
            status: IncidentStatus::New,
            classification: None,
            classification_reason: None,
            classification_comment: None,
            owner: None,
            labels: Vec::new(),
            tactics: Vec::new(),
            alert_product_names: Vec::new(),
            first_activity_at: None,
            last_activity_at: None,
            provider_url: None,
            entities: Vec::new(),
            alerts: Vec::new(),
            evidence: Evidence::default(),
            properties: None,
        }
    }
}

/// A validated ingest: the document plus the optional key fields.
#[derive(Debug, Clone)]
pub struct NormalizedIncident {
    pub doc: IncidentDoc,
    pub number: Option<i64>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

fn enum_field<T>(
    v: &mut Validator,
    path: &str,
    s: Option<&str>,
    parse: fn(&str) -> Option<T>,
    allowed: fn() -> String,
) -> Option<T> {
    let s = s?;
    let r = parse(s);
    if r.is_none() {
        let shown: String = s.chars().take(64).collect();
        v.add(
            path,
            format!("'{shown}' is not allowed. Allowed: {}.", allowed()),
        );
    }
    r
}

fn strings(
    v: &mut Validator,
    path: &str,
    list: Option<&Vec<String>>,
    max_len: usize,
) -> Vec<String> {
    let Some(list) = list else { return Vec::new() };
    if list.len() > MAX_LIST {
        v.add(path, format!("At most {MAX_LIST} items."));
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for (i, s) in list.iter().enumerate() {
        if let Some(s) = v.optional_str(&format!("{path}[{i}]"), Some(s), max_len) {
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    out
}

/// Validates one incident of Palisade's model. Failures are added to `v` under `prefix`
/// (e.g. `incidents[3].`); `None` when anything failed.
pub fn normalize(
    v: &mut Validator,
    prefix: &str,
    input: &IncidentInput,
) -> Option<NormalizedIncident> {
    let p = |f: &str| format!("{prefix}{f}");
    let title = v.required_str(&p("title"), input.title.as_deref(), MAX_TITLE);
    let description = v.optional_text(&p("description"), input.description.as_deref(), MAX_TEXT);
    let severity = match input.severity.as_deref() {
        None => {
            v.add(
                p("severity"),
                format!("'severity' is required. Allowed: {}.", Severity::allowed()),
            );
            None
        }
        s => enum_field(v, &p("severity"), s, Severity::parse, Severity::allowed),
    };
    let status = match input.status.as_deref() {
        None => Some(IncidentStatus::New),
        s => enum_field(
            v,
            &p("status"),
            s,
            IncidentStatus::parse,
            IncidentStatus::allowed,
        ),
    };
    let classification = enum_field(
        v,
        &p("classification"),
        input.classification.as_deref(),
        Classification::parse,
        Classification::allowed,
    );
    let classification_reason = enum_field(
        v,
        &p("classificationReason"),
        input.classification_reason.as_deref(),
        ClassificationReason::parse,
        ClassificationReason::allowed,
    );
    let classification_comment = v.optional_text(
        &p("classificationComment"),
        input.classification_comment.as_deref(),
        MAX_TEXT,
    );
    if let Some(n) = input.number {
        if n < 1 {
            v.add(p("number"), "'number' must be a positive integer.");
        }
    }
    let owner = input.owner.as_ref().and_then(|o| {
        let user_id = v.optional_str(&p("owner.userId"), o.user_id.as_deref(), MAX_ID);
        let email = v.optional_str(&p("owner.email"), o.email.as_deref(), 320);
        let display_name = v.optional_str(&p("owner.displayName"), o.display_name.as_deref(), 200);
        (user_id.is_some() || email.is_some() || display_name.is_some()).then_some(Owner {
            user_id,
            email,
            display_name,
        })
    });
    let labels = strings(v, &p("labels"), input.labels.as_ref(), 200);
    let tactics = strings(v, &p("tactics"), input.tactics.as_ref(), 200);
    let mut alert_product_names = strings(
        v,
        &p("alertProductNames"),
        input.alert_product_names.as_ref(),
        200,
    );
    let created_at = v.instant(&p("createdAt"), input.created_at.as_deref());
    let updated_at = v.instant(&p("updatedAt"), input.updated_at.as_deref());
    let first_activity_at = v.instant(&p("firstActivityAt"), input.first_activity_at.as_deref());
    let last_activity_at = v.instant(&p("lastActivityAt"), input.last_activity_at.as_deref());
    let provider_url = v.optional_str(&p("providerUrl"), input.provider_url.as_deref(), 2048);

    let mut entities = Vec::new();
    let entity_inputs = input.entities.as_deref().unwrap_or_default();
    if entity_inputs.len() > MAX_LIST {
        v.add(p("entities"), format!("At most {MAX_LIST} entities."));
    }
    for (i, e) in entity_inputs.iter().enumerate().take(MAX_LIST) {
        let ep = |f: &str| format!("{prefix}entities[{i}].{f}");
        let kind = match e.kind.as_deref() {
            None => {
                v.add(
                    ep("kind"),
                    format!("'kind' is required. Allowed: {}.", EntityKind::allowed()),
                );
                None
            }
            s => enum_field(v, &ep("kind"), s, EntityKind::parse, EntityKind::allowed),
        };
        let display_name = v.required_str(&ep("displayName"), e.display_name.as_deref(), 1000);
        let id = match e.id.as_deref() {
            Some(id) => v.optional_str(&ep("id"), Some(id), MAX_ID),
            None => None,
        };
        if let (Some(kind), Some(display_name)) = (kind, display_name) {
            let id = id.unwrap_or_else(|| format!("entity-{}", i + 1));
            if entities.iter().any(|x: &Entity| x.id == id) {
                v.add(ep("id"), format!("Duplicate entity id '{id}'."));
            }
            entities.push(Entity {
                id,
                kind,
                display_name,
                properties: e.properties.clone().filter(|m| !m.is_empty()),
            });
        }
    }
    let mut alerts = Vec::new();
    let alert_inputs = input.alerts.as_deref().unwrap_or_default();
    if alert_inputs.len() > MAX_LIST {
        v.add(p("alerts"), format!("At most {MAX_LIST} alerts."));
    }
    for (i, a) in alert_inputs.iter().enumerate().take(MAX_LIST) {
        let ap = |f: &str| format!("{prefix}alerts[{i}].{f}");
        let title = v.required_str(&ap("title"), a.title.as_deref(), MAX_TITLE);
        let severity = match a.severity.as_deref() {
            None => severity,
            s => enum_field(v, &ap("severity"), s, Severity::parse, Severity::allowed),
        };
        let product_name = v.optional_str(&ap("productName"), a.product_name.as_deref(), 200);
        let vendor_name = v.optional_str(&ap("vendorName"), a.vendor_name.as_deref(), 200);
        let status = v.optional_str(&ap("status"), a.status.as_deref(), 100);
        let created = v.instant(&ap("createdAt"), a.created_at.as_deref());
        let entity_ids = strings(v, &ap("entityIds"), a.entity_ids.as_ref(), MAX_ID);
        for (j, eid) in entity_ids.iter().enumerate() {
            if !entities.iter().any(|e| &e.id == eid) {
                v.add(
                    format!("{prefix}alerts[{i}].entityIds[{j}]"),
                    format!("No entity has id '{eid}'."),
                );
            }
        }
        if let (Some(title), Some(severity)) = (title, severity) {
            if let Some(pn) = &product_name {
                if !alert_product_names.contains(pn) {
                    alert_product_names.push(pn.clone());
                }
            }
            alerts.push(Alert {
                id: a.id.clone().unwrap_or_else(|| format!("alert-{}", i + 1)),
                title,
                severity,
                product_name,
                vendor_name,
                status,
                created_at: created,
                entity_ids: (!entity_ids.is_empty()).then_some(entity_ids),
            });
        }
    }
    let evidence = input.evidence.clone().unwrap_or_default();
    if evidence.rows.len() > MAX_EVIDENCE_ROWS {
        v.add(
            p("evidence.rows"),
            format!("At most {MAX_EVIDENCE_ROWS} rows."),
        );
    }
    for (i, row) in evidence.rows.iter().enumerate().take(MAX_EVIDENCE_ROWS) {
        if row.len() != evidence.columns.len() {
            v.add(
                format!("{prefix}evidence.rows[{i}]"),
                format!(
                    "Row has {} values for {} columns.",
                    row.len(),
                    evidence.columns.len()
                ),
            );
            break;
        }
    }
    let (Some(title), Some(severity), Some(status)) = (title, severity, status) else {
        return None;
    };
    Some(NormalizedIncident {
        doc: IncidentDoc {
            title,
            description,
            severity,
            status,
            classification,
            classification_reason,
            classification_comment,
            owner,
            labels,
            tactics,
            alert_product_names,
            first_activity_at,
            last_activity_at,
            provider_url,
            entities,
            alerts,
            evidence,
            properties: None,
        },
        number: input.number,
        created_at,
        updated_at,
    })
}

/// Field-by-field differences between two documents (camelCase field names).
pub fn diff(old: &IncidentDoc, new: &IncidentDoc) -> Vec<FieldChange> {
    let (Value::Object(a), Value::Object(b)) = (
        serde_json::to_value(old).unwrap_or(Value::Null),
        serde_json::to_value(new).unwrap_or(Value::Null),
    ) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, to) in &b {
        let from = a.get(k).cloned().unwrap_or(Value::Null);
        if &from != to {
            out.push(FieldChange {
                field: k.clone(),
                from,
                to: to.clone(),
            });
        }
    }
    out
}

/// Lowercased identifiers under which an entity can be found by `by-entity`: its id, display
/// name and every short string property (UPN, email, object id, host name, device id, IP,
/// hashes, URL, …).
pub fn entity_keys(e: &Entity) -> Vec<String> {
    let mut keys = vec![e.display_name.to_lowercase()];
    if let Some(props) = &e.properties {
        for v in props.values() {
            if let Value::String(s) = v {
                if !s.is_empty() && s.len() <= 512 {
                    keys.push(s.to_lowercase());
                }
            }
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

/// What an incident event occurring now carries in `data`: see
/// [`crate::events::incident_data`].
#[allow(clippy::too_many_arguments)]
pub fn event_data(
    account: (uuid::Uuid, &str),
    workspace: uuid::Uuid,
    source: palisade_types::incidents::IncidentSource,
    id: &str,
    number: i64,
    created_at: DateTime<Utc>,
    doc: &IncidentDoc,
    changes: Option<&[FieldChange]>,
) -> Value {
    crate::events::incident_data(
        account,
        Some(workspace),
        source,
        id,
        number,
        created_at,
        doc,
        changes,
        Utc::now(),
    )
}

/// The error message for a reason that does not go with its classification, naming the
/// reasons that do.
pub fn mismatched_reason(c: Classification, r: ClassificationReason) -> String {
    format!(
        "'{}' is not a reason for '{}'. Reasons for '{}': {}.",
        r.as_str(),
        c.as_str(),
        c.as_str(),
        reasons_for(c)
    )
}

/// The reasons valid with a classification, `A, B, C` for error messages.
pub fn reasons_for(c: Classification) -> String {
    ClassificationReason::ALL
        .iter()
        .filter(|r| valid_pair(c, **r))
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which classification reasons go with which classification when closing (Sentinel's
/// pairs plus the agent-tool pairs; `Other` goes with anything).
pub fn valid_pair(c: Classification, r: ClassificationReason) -> bool {
    use Classification as C;
    use ClassificationReason as R;
    matches!(
        (c, r),
        (_, R::Other)
            | (
                C::TruePositive,
                R::SuspiciousActivity | R::ConfirmedActivity | R::Malware | R::Phishing
            )
            | (C::BenignPositive, R::SuspiciousButExpected)
            | (
                C::FalsePositive | C::QradarFalsePositive,
                R::InaccurateData | R::IncorrectAlertLogic
            )
            | (
                C::InformationalExpectedActivity | C::PolicyViolation,
                R::SuspiciousButExpected
            )
    )
}

/// Incidents for other modules' tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// A valid document from Palisade's incident model; `title` and `severity` default.
    pub(crate) fn doc(fields: Value) -> IncidentDoc {
        let mut json = serde_json::json!({"title": "An incident", "severity": "Medium"});
        json.as_object_mut()
            .unwrap()
            .extend(fields.as_object().expect("an object").clone());
        let mut v = Validator::new();
        let normalized = normalize(&mut v, "", &serde_json::from_value(json).unwrap());
        assert!(v.is_empty(), "{v:?}");
        normalized.unwrap().doc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: serde_json::Value) -> IncidentInput {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn normalizes_and_diffs() {
        let mut v = Validator::new();
        let a = normalize(
            &mut v,
            "",
            &input(serde_json::json!({
                "title": "Suspicious sign-in", "severity": "high",
                "entities": [{"id": "e1", "kind": "account", "displayName": "jane@contoso.com",
                               "properties": {"upn": "Jane@Contoso.com", "objectId": "abc"}}],
                "alerts": [{"title": "Anomalous token", "productName": "Entra ID Protection", "entityIds": ["e1"]}]
            })),
        )
        .unwrap();
        assert!(v.is_empty());
        assert_eq!(a.doc.severity, Severity::High);
        assert_eq!(a.doc.status, IncidentStatus::New);
        assert_eq!(
            a.doc.alerts[0].severity,
            Severity::High,
            "alert inherits severity"
        );
        assert_eq!(a.doc.alert_product_names, vec!["Entra ID Protection"]);
        assert_eq!(
            entity_keys(&a.doc.entities[0]),
            vec!["abc", "jane@contoso.com"]
        );

        let mut b = a.doc.clone();
        assert!(diff(&a.doc, &b).is_empty());
        b.status = IncidentStatus::Active;
        let changes = diff(&a.doc, &b);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].field, "status");
        assert_eq!(changes[0].from, "New");
        assert_eq!(changes[0].to, "Active");
    }

    #[test]
    fn classification_pairs() {
        use ClassificationReason as R;
        assert_eq!(
            reasons_for(Classification::FalsePositive),
            "InaccurateData, IncorrectAlertLogic, Other"
        );
        assert!(valid_pair(Classification::FalsePositive, R::InaccurateData));
        assert!(valid_pair(Classification::TruePositive, R::Malware));
        assert!(valid_pair(Classification::Undetermined, R::Other));
        assert!(!valid_pair(
            Classification::FalsePositive,
            R::ConfirmedActivity
        ));
        assert!(!valid_pair(
            Classification::Undetermined,
            R::SuspiciousActivity
        ));
    }

    #[test]
    fn rejects_with_paths() {
        let mut v = Validator::new();
        let r = normalize(
            &mut v,
            "incidents[2].",
            &input(serde_json::json!({
                "title": "", "severity": "Critical",
                "entities": [{"kind": "Spaceship", "displayName": "x"}],
                "alerts": [{"title": "a", "entityIds": ["nope"]}],
                "evidence": {"columns": ["a", "b"], "rows": [[1]]}
            })),
        );
        assert!(r.is_none());
        let Err(crate::Error::Validation(m)) = v.finish() else {
            panic!()
        };
        for k in [
            "incidents[2].title",
            "incidents[2].severity",
            "incidents[2].entities[0].kind",
            "incidents[2].alerts[0].entityIds[0]",
            "incidents[2].evidence.rows[0]",
        ] {
            assert!(m.contains_key(k), "{k} in {m:?}");
        }
    }
}
