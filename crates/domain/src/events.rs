//! The event catalogue: every event Palisade emits to webhooks, its versioned schema name,
//! the delivered envelope and the shape of an incident event's `data`.

use chrono::{DateTime, Utc};
use palisade_types::incidents::{FieldChange, IncidentSource, Severity};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::incident::IncidentDoc;

/// `(subscription name, description)` of every event Palisade emits. The schema name sent
/// on the wire is the name with `.v1`.
pub const EVENT_TYPES: &[(&str, &str)] = &[
    (
        "incident.created",
        "An incident was ingested for the first time.",
    ),
    (
        "incident.updated",
        "An incident changed (ingest with different content, status, assignment, classification, comments); `data.changes` lists the changed fields.",
    ),
    (
        "gamebook.completed",
        "A gamebook run finished (Succeeded, PartiallySucceeded, Failed or Cancelled); `data` carries the run and each playbook's outcome.",
    ),
    (
        "ticket.linked",
        "A service ticket was linked to an incident.",
    ),
];

/// The versioned schema name of an event type.
pub fn schema_name(event_type: &str) -> String {
    format!("{event_type}.v1")
}

/// The catalogue name for a subscription entry (`incident.created.v1` → `incident.created`),
/// or `None` when unknown.
pub fn normalize_event_type(raw: &str) -> Option<&'static str> {
    let lower = raw.trim().to_ascii_lowercase();
    let base = lower.strip_suffix(".v1").unwrap_or(&lower);
    EVENT_TYPES
        .iter()
        .map(|(name, _)| *name)
        .find(|name| *name == base)
}

/// The delivered body: `{type, timestamp, isTest, occurredAt, data}`, with `data` copied
/// verbatim from the outbox.
pub fn event_body(
    event_type: &str,
    timestamp: DateTime<Utc>,
    occurred_at: DateTime<Utc>,
    is_test: bool,
    data: &str,
) -> String {
    let ts = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    format!(
        r#"{{"type":"{}","timestamp":"{}","isTest":{},"occurredAt":"{}","data":{}}}"#,
        schema_name(event_type),
        ts(timestamp),
        is_test,
        ts(occurred_at),
        data
    )
}

/// What an incident event carries in `data` (facts §11.7; `incident.updated.v1` adds
/// `changes`). Source is lowercase here, as the webhook payloads document.
#[allow(clippy::too_many_arguments)]
pub fn incident_data(
    account: (Uuid, &str),
    workspace: Option<Uuid>,
    source: IncidentSource,
    id: &str,
    number: i64,
    created_at: DateTime<Utc>,
    doc: &IncidentDoc,
    changes: Option<&[FieldChange]>,
    occurred_at: DateTime<Utc>,
) -> Value {
    let mut data = json!({
        "accountId": account.0,
        "accountName": account.1,
        "workspaceId": workspace,
        "incidentId": id,
        "incidentNumber": number,
        "title": doc.title,
        "description": doc.description,
        "severity": doc.severity,
        "status": doc.status,
        "source": source.lowercase(),
        "sourceDisplayName": source.display_name(),
        "owner": doc.owner.as_ref().map(|o| json!({"displayName": o.display_name, "email": o.email})),
        "createdAt": created_at,
        "lastActivityAt": doc.last_activity_at,
        "occurredAt": occurred_at,
        "alertProductNames": doc.alert_product_names,
        "alerts": doc.alerts.iter().map(|a| json!({
            "title": a.title, "severity": a.severity, "productName": a.product_name, "vendorName": a.vendor_name
        })).collect::<Vec<_>>(),
        "entities": doc.entities.iter().map(|e| json!({
            "type": e.kind, "displayName": e.display_name
        })).collect::<Vec<_>>(),
    });
    if let Some(changes) = changes {
        data["changes"] = serde_json::to_value(changes).unwrap_or(Value::Null);
    }
    data
}

/// The `data` of a test delivery (`POST /webhooks/{id}/test`): an `incident.created` of a
/// made-up Sentinel incident, in the shape of a real one, for the webhook's account and
/// workspace (`null` for an organization-wide webhook).
pub fn test_incident_data(
    account: (Uuid, &str),
    workspace: Option<Uuid>,
    incident_id: &str,
    now: DateTime<Utc>,
) -> Value {
    let doc = IncidentDoc {
        description: Some("A test delivery sent from POST /webhooks/{id}/test.".into()),
        first_activity_at: Some(now),
        last_activity_at: Some(now),
        ..IncidentDoc::titled("Palisade test event", Severity::Informational)
    };
    incident_data(
        account,
        workspace,
        IncidentSource::Sentinel,
        incident_id,
        0,
        now,
        &doc,
        None,
        now,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::testing::doc;

    #[test]
    fn event_types_accept_versioned_names() {
        assert_eq!(
            normalize_event_type("incident.created.v1"),
            Some("incident.created")
        );
        assert_eq!(
            normalize_event_type("Incident.Updated"),
            Some("incident.updated")
        );
        assert_eq!(normalize_event_type("incident.deleted"), None);
        assert_eq!(normalize_event_type("incident.created.v2"), None);
        for (name, _) in EVENT_TYPES {
            assert_eq!(normalize_event_type(&schema_name(name)), Some(*name));
        }
    }

    #[test]
    fn body_is_valid_json_with_the_versioned_type() {
        let t = Utc::now();
        let b = event_body("incident.created", t, t, true, r#"{"a":1}"#);
        let v: Value = serde_json::from_str(&b).unwrap();
        assert_eq!(v["type"], "incident.created.v1");
        assert_eq!(v["isTest"], true);
        assert_eq!(v["data"]["a"], 1);
    }

    /// The keys of a JSON object, sorted.
    fn keys(v: &Value) -> Vec<&str> {
        let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        k.sort();
        k
    }

    #[test]
    fn a_test_delivery_has_the_shape_of_a_real_incident_event() {
        let now = crate::time::now();
        let account = (Uuid::new_v4(), "Contoso");
        let ws = Uuid::new_v4();
        let real = incident_data(
            account,
            Some(ws),
            IncidentSource::Splunk,
            "S-1",
            4,
            now,
            &doc(serde_json::json!({
                "entities": [{"id": "h1", "kind": "Host", "displayName": "web-1"}],
                "owner": {"email": "ada@contoso.com"},
            })),
            Some(&[]),
            now,
        );
        assert_eq!(real["source"], "splunk");
        assert_eq!(real["entities"][0]["type"], "Host");
        assert_eq!(real["owner"]["email"], "ada@contoso.com");
        assert_eq!(real["changes"], serde_json::json!([]));
        let test = test_incident_data(account, None, "TEST-1", now);
        assert_eq!(test["workspaceId"], Value::Null);
        assert_eq!(test["sourceDisplayName"], "Microsoft Sentinel");
        assert_eq!(test["severity"], "Informational");
        let mut real_keys = keys(&real);
        real_keys.retain(|k| *k != "changes");
        assert_eq!(keys(&test), real_keys);
    }
}
