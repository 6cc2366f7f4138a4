//! Splunk Enterprise Security notable events (results of the `` `notable` `` macro) ↔
//! Palisade. Fields may be single values or lists (multivalue fields); entity fields depend
//! on the correlation search.

use chrono::{DateTime, Utc};
use palisade_domain::incident::IncidentDoc;
use palisade_types::incidents::{
    AlertInput, Classification as C, ClassificationReason as R, EntityKind as K, IncidentInput,
    IncidentStatus as S, Owner, OwnerInput, Severity,
};
use serde_json::Value;

use crate::cursor::{PulledIncident, VendorState};
use crate::mapping::{instant, lookup, Ctx, FieldErrors};
use crate::sources::{add_unique, props, Entities};

pub const PRODUCT: &str = "Splunk Enterprise Security";

pub const URGENCY: [(&str, Severity); 5] = [
    ("critical", Severity::High),
    ("high", Severity::High),
    ("medium", Severity::Medium),
    ("low", Severity::Low),
    ("informational", Severity::Informational),
];

/// ES review statuses (`status` is the number) → Palisade.
pub const STATUS: [(&str, S); 6] = [
    ("0", S::New),
    ("1", S::New),
    ("2", S::Active),
    ("3", S::Active),
    ("4", S::Closed),
    ("5", S::Closed),
];

/// ES 7.3+ default dispositions → classification and reason.
pub const DISPOSITION: [(&str, (C, Option<R>)); 6] = [
    (
        "disposition:1",
        (C::TruePositive, Some(R::SuspiciousActivity)),
    ),
    (
        "disposition:2",
        (C::BenignPositive, Some(R::SuspiciousButExpected)),
    ),
    (
        "disposition:3",
        (C::FalsePositive, Some(R::IncorrectAlertLogic)),
    ),
    ("disposition:4", (C::FalsePositive, Some(R::InaccurateData))),
    ("disposition:5", (C::Undetermined, Some(R::Other))),
    ("disposition:6", (C::Undetermined, None)),
];

/// Palisade status → ES status number: `New` 1, `Active` 2 (In Progress), `Closed` 5.
pub fn status_to(s: S) -> &'static str {
    match s {
        S::New => "1",
        S::Active => "2",
        S::Closed => "5",
    }
}

/// The disposition of a Palisade verdict.
pub fn disposition_to(c: Option<C>, r: Option<R>) -> &'static str {
    match (c, r) {
        (Some(C::TruePositive), _) => "disposition:1",
        (
            Some(
                C::BenignPositive
                | C::InformationalExpectedActivity
                | C::NonIssue
                | C::PolicyViolation,
            ),
            _,
        ) => "disposition:2",
        (Some(C::FalsePositive | C::QradarFalsePositive), Some(R::InaccurateData)) => {
            "disposition:4"
        }
        (Some(C::FalsePositive | C::QradarFalsePositive), _) => "disposition:3",
        (_, Some(R::Other)) => "disposition:5",
        _ => "disposition:6",
    }
}

/// `newOwner` for a Palisade owner (a Splunk user name); `unassigned` when none.
pub fn owner_to(o: Option<&Owner>) -> String {
    o.and_then(|o| {
        o.email
            .as_deref()
            .or(o.user_id.as_deref())
            .or(o.display_name.as_deref())
    })
    .unwrap_or("unassigned")
    .to_string()
}

/// What ES shows after Palisade writes `doc` back.
pub(crate) fn project(doc: &IncidentDoc) -> VendorState {
    let closed = doc.status == S::Closed;
    VendorState {
        status: Some(status_to(doc.status).to_string()),
        classification: closed
            .then(|| disposition_to(doc.classification, doc.classification_reason).to_string()),
        reason: None,
        owner: Some(owner_to(doc.owner.as_ref()).to_ascii_lowercase())
            .filter(|o| o != "unassigned"),
    }
}

/// The values of a field: a string or a list of strings.
pub fn values(obj: &Value, key: &str) -> Vec<String> {
    match obj.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => vec![s.trim().to_string()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::trim).filter(|s| !s.is_empty()))
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

fn first(obj: &Value, key: &str) -> Option<String> {
    values(obj, key).into_iter().next()
}

/// `_time`: RFC 3339 (the export's JSON) or epoch seconds.
pub fn time_of(n: &Value) -> Option<DateTime<Utc>> {
    let t = first(n, "_time")?;
    if let Ok(d) = DateTime::parse_from_rfc3339(&t) {
        return Some(d.with_timezone(&Utc));
    }
    let secs: f64 = t.parse().ok()?;
    DateTime::from_timestamp_micros((secs * 1e6) as i64)
}

/// One notable event.
pub fn incident(n: &Value) -> Result<PulledIncident, FieldErrors> {
    let mut ctx = Ctx::default();
    let raw_id = first(n, "event_id");
    let id = ctx.id(raw_id.as_deref(), "event_id");
    let version = time_of(n);
    if version.is_none() {
        ctx.error(
            "_time",
            "'_time' is required: an RFC 3339 instant or epoch seconds.",
        );
    }
    let title = first(n, "rule_title")
        .or_else(|| first(n, "rule_name"))
        .or_else(|| first(n, "search_name"))
        .unwrap_or_else(|| "Notable event".into());
    let urgency = first(n, "urgency");
    let sev = match urgency.as_deref() {
        Some(u) => lookup(&URGENCY, u).unwrap_or_else(|| {
            ctx.unmapped("urgency", u);
            Severity::Medium
        }),
        None => Severity::Medium,
    };
    let raw_status = first(n, "status");
    let status = match raw_status.as_deref() {
        Some(s) => lookup(&STATUS, s).unwrap_or_else(|| {
            // Custom statuses: by their label's end state, else open.
            let label = first(n, "status_label")
                .unwrap_or_default()
                .to_ascii_lowercase();
            if label.contains("closed") || label.contains("resolved") {
                S::Closed
            } else {
                ctx.unmapped("status", s);
                S::Active
            }
        }),
        None => S::New,
    };
    let disposition = first(n, "disposition");
    let verdict = disposition.as_deref().and_then(|d| {
        let v = lookup(&DISPOSITION, d);
        if v.is_none() && d != "disposition:0" {
            ctx.unmapped("disposition", d);
        }
        v
    });
    let (classification, reason) = match (status, verdict) {
        (_, Some((c, r))) => (Some(c), r),
        (S::Closed, None) => (Some(C::Undetermined), None),
        _ => (None, None),
    };
    let owner_raw = first(n, "owner").filter(|o| !o.eq_ignore_ascii_case("unassigned"));
    let mut es = Entities::default();
    for (key, role) in [
        ("src", "source"),
        ("dest", "destination"),
        ("src_ip", "source"),
        ("dest_ip", "destination"),
    ] {
        for a in values(n, key) {
            es.address(&a, role);
        }
    }
    for key in ["orig_host", "dvc", "src_host", "dest_host"] {
        for h in values(n, key) {
            es.add(K::Host, &h, &h, props(&[("hostName", Some(&h))]));
        }
    }
    for key in ["user", "src_user", "dest_user"] {
        for u in values(n, key) {
            es.add(K::Account, &u, &u, props(&[("accountName", Some(&u))]));
        }
    }
    for h in values(n, "file_hash") {
        es.add(K::FileHash, &h, &h, props(&[("value", Some(&h))]));
    }
    for f in values(n, "file_name") {
        es.add(K::File, &f, &f, props(&[("fileName", Some(&f))]));
    }
    for u in values(n, "url") {
        es.add(K::Url, &u, &u, props(&[("url", Some(&u))]));
    }
    let mut labels = Vec::new();
    add_unique(&mut labels, first(n, "security_domain").as_deref());
    let mut tactics = Vec::new();
    for t in values(n, "annotations.mitre_attack.mitre_tactic") {
        add_unique(&mut tactics, Some(&t));
    }
    for k in [
        "rule_name",
        "search_name",
        "orig_sid",
        "status_label",
        "disposition_label",
        "urgency",
        "security_domain",
    ] {
        if let Some(v) = n.get(k).filter(|v| !v.is_null()) {
            ctx.source.insert(k.into(), v.clone());
        }
    }
    let alert = AlertInput {
        id: raw_id.clone(),
        title: Some(title.clone()),
        severity: Some(sev.as_str().into()),
        product_name: Some(PRODUCT.into()),
        vendor_name: Some("Splunk".into()),
        status: first(n, "status_label"),
        created_at: version.map(instant),
        entity_ids: Some(es.ids()),
    };
    let incident = IncidentInput {
        title: Some(title),
        description: first(n, "rule_description").or_else(|| first(n, "description")),
        severity: Some(sev.as_str().into()),
        status: Some(status.as_str().into()),
        classification: classification.map(|c| c.as_str().into()),
        classification_reason: reason.map(|r| r.as_str().into()),
        owner: owner_raw.as_ref().map(|o| OwnerInput {
            user_id: None,
            email: o.contains('@').then(|| o.clone()),
            display_name: Some(o.clone()),
        }),
        labels: Some(labels),
        tactics: Some(tactics),
        alert_product_names: Some(vec![PRODUCT.into()]),
        created_at: version.map(instant),
        first_activity_at: version.map(instant),
        last_activity_at: version.map(instant),
        entities: es.into_option(),
        alerts: Some(vec![alert]),
        ..IncidentInput::default()
    };
    let vendor = VendorState {
        status: raw_status.clone(),
        classification: (status == S::Closed).then(|| disposition.clone().unwrap_or_default()),
        reason: None,
        owner: owner_raw.map(|o| o.to_ascii_lowercase()),
    };
    ctx.finish(id, version, incident, vendor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::ConnectorKind;
    use crate::mapping::{closed_doc, entity_kinds, map_native, reconcile};
    use palisade_domain::incident::normalize;
    use palisade_domain::Validator;
    use serde_json::json;

    fn example() -> Value {
        json!({
            "event_id": "1A082D7B-D5A1-4A2B-BB94-41C439BE3EB7@@notable@@cb87390ae72763679d3f6f8f097ebe2b",
            "_time": "2026-05-01T10:00:00.000+00:00", "rule_name": "Excessive Failed Logins",
            "rule_title": "Excessive failed logins for adele.vance",
            "rule_description": "A user failed to log in many times.", "urgency": "high",
            "status": "2", "status_label": "In Progress", "owner": "ann", "security_domain": "access",
            "src": ["10.0.0.12", "10.0.0.13"], "dest": "srv-web-11", "user": "adele.vance",
            "orig_sid": "scheduler__admin__SplunkEnterpriseSecuritySuite__RMD5", "disposition": "disposition:0"
        })
    }

    #[test]
    fn a_notable_maps_field_by_field() {
        let p = incident(&example()).unwrap();
        let mut v = Validator::new();
        assert!(normalize(&mut v, "", &p.incident).is_some(), "{v:?}");
        let i = &p.incident;
        assert!(p.external_id.contains("@@notable@@"));
        assert_eq!(
            i.title.as_deref(),
            Some("Excessive failed logins for adele.vance")
        );
        assert_eq!(i.severity.as_deref(), Some("High"));
        assert_eq!(i.status.as_deref(), Some("Active"));
        assert_eq!(
            i.owner.as_ref().unwrap().display_name.as_deref(),
            Some("ann")
        );
        let kinds = entity_kinds(i);
        assert_eq!(kinds, ["Ip", "Ip", "Host", "Account"]);
        assert!(p.unmapped.is_empty(), "{:?}", p.unmapped);
        let mut epoch = example();
        epoch["_time"] = json!("1777629600.250");
        assert_eq!(
            time_of(&epoch).unwrap().timestamp_millis(),
            1_777_629_600_250
        );
        assert!(map_native(
            ConnectorKind::SplunkEnterpriseSecurity,
            &json!({"event_id": "x"})
        )
        .is_err());
    }

    #[test]
    fn dispositions_round_trip() {
        for (d, (c, r)) in DISPOSITION {
            if c != C::Undetermined || r.is_some() {
                assert_eq!(disposition_to(Some(c), r), d);
            }
        }
        let doc = closed_doc(
            C::QradarFalsePositive,
            R::IncorrectAlertLogic,
            Owner {
                user_id: None,
                email: None,
                display_name: Some("ann".into()),
            },
        );
        let mut n = example();
        n["status"] = json!(status_to(S::Closed));
        n["disposition"] = json!(disposition_to(
            doc.classification,
            doc.classification_reason
        ));
        let mut p = incident(&n).unwrap();
        assert_eq!(p.incident.classification.as_deref(), Some("FalsePositive"));
        reconcile(ConnectorKind::SplunkEnterpriseSecurity, &mut p, &doc);
        assert_eq!(
            p.incident.classification.as_deref(),
            Some("QradarFalsePositive")
        );
        assert_eq!(
            p.incident.owner.unwrap().display_name.as_deref(),
            Some("ann")
        );
    }
}
