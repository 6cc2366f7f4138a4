//! IBM QRadar offenses (`/api/siem/offenses`) ↔ Palisade. Times are epoch milliseconds;
//! addresses are ids resolved by the connector (or given as `source_addresses` /
//! `local_destination_addresses` lists of IPs in the native format); a closed offense's
//! `closing_reason_id` is read through the `offense_closing_reasons` texts.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use palisade_domain::incident::IncidentDoc;
use palisade_types::incidents::{
    AlertInput, Classification as C, EntityKind as K, IncidentInput, IncidentStatus as S, Owner,
    OwnerInput, Severity,
};
use serde_json::Value;

use crate::cursor::{PulledIncident, VendorState};
use crate::mapping::{instant, text, text_or_number, verdict_note, Ctx, FieldErrors};
use crate::sources::{props, Entities};
use crate::writeback::Verdict;

pub const PRODUCT: &str = "IBM QRadar SIEM";

/// What the connector knows beside the offense: address ids → addresses, closing reason ids
/// → their texts, and the console (for the offense's link).
#[derive(Debug, Default, Clone)]
pub struct Lookups {
    pub source_addresses: HashMap<i64, String>,
    pub destination_addresses: HashMap<i64, String>,
    pub closing_reasons: HashMap<i64, String>,
    pub console: Option<String>,
}

/// Severity 0–10 → Palisade: 8–10 `High`, 5–7 `Medium`, 3–4 `Low`, 0–2 `Informational`.
pub fn severity(score: i64) -> Severity {
    match score {
        8.. => Severity::High,
        5..=7 => Severity::Medium,
        3..=4 => Severity::Low,
        _ => Severity::Informational,
    }
}

/// A closing reason's text → classification (QRadar's three built-in reasons by name; others
/// by the words they contain).
pub fn classification_of_reason(text: &str) -> C {
    let t = text.to_ascii_lowercase();
    if t.starts_with("false-positive") || t.starts_with("false positive, tuned") {
        C::QradarFalsePositive
    } else if t.starts_with("non-issue") || t.starts_with("non issue") {
        C::NonIssue
    } else if t.starts_with("policy violation") {
        C::PolicyViolation
    } else if t.contains("true") && t.contains("positive") {
        C::TruePositive
    } else if t.contains("false") && t.contains("positive") {
        C::FalsePositive
    } else if t.contains("benign") {
        C::BenignPositive
    } else {
        C::Undetermined
    }
}

/// The closing reason to send for a Palisade classification: the first of `reasons`
/// (`(id, text)`, the deployment's list) whose text maps back to it, else to its family,
/// else the lowest id. `None` when the list is empty.
pub fn closing_reason_for(c: Option<C>, reasons: &[(i64, String)]) -> Option<i64> {
    let c = c.unwrap_or(C::Undetermined);
    let family = |x: C| match x {
        C::FalsePositive | C::QradarFalsePositive => 1,
        C::NonIssue | C::BenignPositive | C::InformationalExpectedActivity => 2,
        C::PolicyViolation => 3,
        C::TruePositive => 4,
        _ => 5,
    };
    let mut sorted: Vec<&(i64, String)> = reasons.iter().collect();
    sorted.sort();
    sorted
        .iter()
        .find(|(_, t)| classification_of_reason(t) == c)
        .or_else(|| {
            sorted
                .iter()
                .find(|(_, t)| family(classification_of_reason(t)) == family(c))
        })
        .or_else(|| sorted.first())
        .map(|(id, _)| *id)
}

pub fn status_to(s: S) -> &'static str {
    match s {
        S::New | S::Active => "OPEN",
        S::Closed => "CLOSED",
    }
}

/// `assigned_to` for a Palisade owner: its email, else its id, else its name (QRadar user
/// names); empty unassigns.
pub fn assigned_to(o: Option<&Owner>) -> String {
    o.and_then(|o| {
        o.email
            .as_deref()
            .or(o.user_id.as_deref())
            .or(o.display_name.as_deref())
    })
    .unwrap_or("")
    .to_string()
}

/// What QRadar shows after Palisade writes `doc` back. `New` and `Active` are both `OPEN`;
/// Palisade's own choice between them is kept.
pub(crate) fn project(doc: &IncidentDoc) -> VendorState {
    VendorState {
        status: Some(status_to(doc.status).to_string()),
        classification: None,
        reason: None,
        owner: Some(assigned_to(doc.owner.as_ref()).to_ascii_lowercase()).filter(|o| !o.is_empty()),
    }
}

/// An epoch-milliseconds field.
pub fn millis(obj: &Value, key: &str) -> Option<DateTime<Utc>> {
    obj.get(key)?
        .as_i64()
        .filter(|n| *n > 0)
        .and_then(DateTime::from_timestamp_millis)
}

/// The version stamp: `last_persisted_time` (changes with any update), else
/// `last_updated_time`.
pub fn version_of(o: &Value) -> Option<DateTime<Utc>> {
    millis(o, "last_persisted_time").or_else(|| millis(o, "last_updated_time"))
}

fn ids(o: &Value, key: &str) -> Vec<i64> {
    o[key]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default()
}

/// The address ids of an offense that `lookups` does not know yet: (source, destination).
pub fn unknown_addresses(o: &Value, l: &Lookups) -> (Vec<i64>, Vec<i64>) {
    let s = ids(o, "source_address_ids")
        .into_iter()
        .filter(|i| !l.source_addresses.contains_key(i))
        .collect();
    let d = ids(o, "local_destination_address_ids")
        .into_iter()
        .filter(|i| !l.destination_addresses.contains_key(i))
        .collect();
    (s, d)
}

/// One offense.
pub fn incident(o: &Value, l: &Lookups) -> Result<PulledIncident, FieldErrors> {
    let mut ctx = Ctx::default();
    let raw_id = text_or_number(o, "id");
    let id = ctx.id(raw_id.as_deref(), "id");
    let version = version_of(o);
    if version.is_none() {
        ctx.error(
            "last_persisted_time",
            "'last_persisted_time' (or 'last_updated_time') is required: epoch milliseconds.",
        );
    }
    let desc = text(o, "description").unwrap_or("QRadar offense");
    let title = desc.lines().next().unwrap_or(desc).trim().to_string();
    let sev = match o["severity"].as_i64() {
        Some(s) => severity(s),
        None => Severity::Medium,
    };
    let assigned = text(o, "assigned_to");
    let raw_status = text(o, "status").unwrap_or("OPEN");
    let status = match raw_status.to_ascii_uppercase().as_str() {
        "OPEN" if assigned.is_some() => S::Active,
        "OPEN" => S::New,
        "HIDDEN" => {
            ctx.source.insert("status".into(), Value::from("HIDDEN"));
            S::Active
        }
        "CLOSED" => S::Closed,
        other => {
            ctx.unmapped("status", other);
            S::Active
        }
    };
    let classification = (status == S::Closed).then(|| {
        let reason = o["closing_reason_id"]
            .as_i64()
            .and_then(|r| l.closing_reasons.get(&r));
        let reason = reason.map(String::as_str).or(text(o, "closing_reason"));
        // The reason is read into the classification; its text (and `closing_user`) is not
        // kept in `properties.source`: a close written back would come back as a change.
        reason.map_or(C::Undetermined, classification_of_reason)
    });
    let start = millis(o, "start_time");
    let mut es = Entities::default();
    if let Some(src) = text(o, "offense_source") {
        // offense_type 3 is "Username"; addresses become Ip, other names Host.
        if o["offense_type"].as_i64() == Some(3) {
            es.add(K::Account, src, src, props(&[("accountName", Some(src))]));
        } else {
            es.address(src, "offense source");
        }
    }
    let addresses = |key: &str, known: &HashMap<i64, String>| -> Vec<String> {
        ids(o, key)
            .iter()
            .filter_map(|i| known.get(i).cloned())
            .collect()
    };
    for a in addresses("source_address_ids", &l.source_addresses) {
        es.address(&a, "source");
    }
    for a in crate::mapping::strings(o, "source_addresses") {
        es.address(&a, "source");
    }
    for a in addresses("local_destination_address_ids", &l.destination_addresses) {
        es.address(&a, "destination");
    }
    for a in crate::mapping::strings(o, "local_destination_addresses") {
        es.address(&a, "destination");
    }
    let categories = crate::mapping::strings(o, "categories");
    for (k, key) in [
        ("offenseType", "offense_type"),
        ("magnitude", "magnitude"),
        ("credibility", "credibility"),
        ("relevance", "relevance"),
        ("severity", "severity"),
        ("domainId", "domain_id"),
        ("eventCount", "event_count"),
        ("rules", "rules"),
    ] {
        if let Some(v) = o.get(key).filter(|v| !v.is_null()) {
            ctx.source.insert(k.into(), v.clone());
        }
    }
    let owner = assigned.map(|a| OwnerInput {
        user_id: None,
        email: a.contains('@').then(|| a.to_string()),
        display_name: Some(a.to_string()),
    });
    let description = format!(
        "{desc} Magnitude {}, credibility {}, relevance {}.",
        o["magnitude"].as_i64().unwrap_or(0),
        o["credibility"].as_i64().unwrap_or(0),
        o["relevance"].as_i64().unwrap_or(0)
    );
    let alert = AlertInput {
        id: raw_id.clone(),
        title: Some(title.clone()),
        severity: Some(sev.as_str().into()),
        product_name: Some(PRODUCT.into()),
        vendor_name: Some("IBM".into()),
        // The offense's status is the incident's (a copy here would echo a close).
        status: None,
        created_at: start.map(instant),
        entity_ids: Some(es.ids()),
    };
    let provider_url = match (&l.console, &raw_id) {
        (Some(c), Some(i)) => Some(format!(
            "{}/console/qradar/jsp/QRadar.jsp?appName=Sem&pageId=OffenseSummary&summaryId={i}",
            c.trim_end_matches('/')
        )),
        _ => None,
    };
    let incident = IncidentInput {
        title: Some(title),
        description: Some(description),
        severity: Some(sev.as_str().into()),
        status: Some(status.as_str().into()),
        classification: classification.map(|c| c.as_str().into()),
        owner,
        labels: Some(categories),
        alert_product_names: Some(vec![PRODUCT.into()]),
        created_at: start.map(instant),
        updated_at: version.map(instant),
        first_activity_at: start.map(instant),
        last_activity_at: millis(o, "last_updated_time").or(version).map(instant),
        provider_url,
        entities: es.into_option(),
        alerts: Some(vec![alert]),
        ..IncidentInput::default()
    };
    let vendor = VendorState {
        status: Some(raw_status.to_ascii_uppercase()),
        classification: None,
        reason: None,
        owner: assigned.map(str::to_ascii_lowercase),
    };
    ctx.finish(id, version, incident, vendor)
}

/// The note that carries a Palisade verdict when an offense is closed.
pub fn closing_note(v: &Verdict<'_>) -> String {
    verdict_note(v).unwrap_or_else(|| "Closed in Palisade.".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::ConnectorKind;
    use crate::mapping::{closed_doc, map_native, reconcile};
    use palisade_domain::incident::normalize;
    use palisade_domain::Validator;
    use palisade_types::incidents::ClassificationReason as R;
    use serde_json::json;

    fn example() -> Value {
        json!({
            "id": 42, "description": "Excessive Firewall Denies Between Hosts\n",
            "offense_type": 0, "offense_source": "10.0.0.12", "status": "OPEN",
            "severity": 8, "magnitude": 6, "credibility": 2, "relevance": 5,
            "start_time": 1_777_628_400_000_i64, "last_updated_time": 1_777_628_700_000_i64,
            "last_persisted_time": 1_777_628_760_000_i64, "close_time": null,
            "assigned_to": null, "categories": ["Access Denied", "ACL Deny"],
            "rules": [{"id": 100_270, "type": "CRE_RULE"}], "domain_id": 0,
            "source_address_ids": [7], "local_destination_address_ids": [14, 15],
            "closing_reason_id": null, "event_count": 1200
        })
    }

    fn lookups() -> Lookups {
        Lookups {
            source_addresses: HashMap::from([(7, "10.0.0.12".into())]),
            destination_addresses: HashMap::from([
                (14, "10.0.5.20".into()),
                (15, "10.0.5.21".into()),
            ]),
            closing_reasons: HashMap::from([
                (1, "Non-Issue".into()),
                (2, "False-Positive, Tuned".into()),
                (3, "Policy Violation".into()),
                (54, "True Positive - Escalated".into()),
            ]),
            console: Some("https://qradar.example.com".into()),
        }
    }

    #[test]
    fn an_offense_maps_with_resolved_addresses() {
        let p = incident(&example(), &lookups()).unwrap();
        let mut v = Validator::new();
        assert!(normalize(&mut v, "", &p.incident).is_some(), "{v:?}");
        let i = &p.incident;
        assert_eq!(p.external_id, "42");
        assert_eq!(p.version.timestamp_millis(), 1_777_628_760_000);
        assert_eq!(
            i.title.as_deref(),
            Some("Excessive Firewall Denies Between Hosts")
        );
        assert_eq!(i.severity.as_deref(), Some("High"));
        assert_eq!(i.status.as_deref(), Some("New"));
        let names: Vec<&str> = i
            .entities
            .as_ref()
            .unwrap()
            .iter()
            .map(|e| e.display_name.as_deref().unwrap())
            .collect();
        assert_eq!(names, ["10.0.0.12", "10.0.5.20", "10.0.5.21"]);
        assert!(i.provider_url.as_deref().unwrap().ends_with("summaryId=42"));
        assert_eq!(i.labels.as_ref().unwrap(), &["Access Denied", "ACL Deny"]);
        let (s, d) = unknown_addresses(&example(), &Lookups::default());
        assert_eq!((s, d), (vec![7], vec![14, 15]));
        // The native format may carry the addresses themselves.
        let mut native = example();
        native["source_addresses"] = json!(["192.0.2.1"]);
        let n = map_native(ConnectorKind::IbmQRadar, &native).unwrap();
        assert_eq!(n.incident.entities.unwrap().len(), 2);
        for (s, l) in [
            (10, "High"),
            (8, "High"),
            (7, "Medium"),
            (5, "Medium"),
            (4, "Low"),
            (3, "Low"),
            (2, "Informational"),
            (0, "Informational"),
        ] {
            assert_eq!(severity(s).as_str(), l);
        }
    }

    #[test]
    fn closing_reasons_both_ways() {
        let l = lookups();
        let reasons: Vec<(i64, String)> = l.closing_reasons.clone().into_iter().collect();
        assert_eq!(
            closing_reason_for(Some(C::QradarFalsePositive), &reasons),
            Some(2)
        );
        assert_eq!(
            closing_reason_for(Some(C::FalsePositive), &reasons),
            Some(2)
        );
        assert_eq!(
            closing_reason_for(Some(C::BenignPositive), &reasons),
            Some(1)
        );
        assert_eq!(
            closing_reason_for(Some(C::PolicyViolation), &reasons),
            Some(3)
        );
        assert_eq!(
            closing_reason_for(Some(C::TruePositive), &reasons),
            Some(54)
        );
        assert_eq!(
            closing_reason_for(Some(C::Undetermined), &reasons[..0]),
            None
        );
        let builtin: Vec<(i64, String)> = vec![
            (1, "Non-Issue".into()),
            (2, "False-Positive, Tuned".into()),
            (3, "Policy Violation".into()),
        ];
        assert_eq!(
            closing_reason_for(Some(C::TruePositive), &builtin),
            Some(1),
            "the lowest id when nothing fits"
        );

        let owner = Owner {
            user_id: None,
            email: None,
            display_name: Some("ann".into()),
        };
        let doc = closed_doc(C::BenignPositive, R::SuspiciousButExpected, owner);
        let mut o = example();
        o["status"] = json!("CLOSED");
        o["closing_reason_id"] = json!(1);
        o["assigned_to"] = json!("ann");
        let mut p = incident(&o, &l).unwrap();
        assert_eq!(p.incident.classification.as_deref(), Some("NonIssue"));
        reconcile(ConnectorKind::IbmQRadar, &mut p, &doc);
        assert_eq!(p.incident.classification.as_deref(), Some("BenignPositive"));
        assert_eq!(
            p.incident.classification_reason.as_deref(),
            Some("SuspiciousButExpected")
        );
        assert_eq!(
            closing_note(&Verdict {
                classification: Some(C::TruePositive),
                reason: Some(R::Malware),
                comment: Some("x"),
            }),
            "Closed in Palisade as TruePositive (Malware). x"
        );
    }
}
