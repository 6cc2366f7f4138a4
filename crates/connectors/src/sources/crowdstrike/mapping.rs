//! CrowdStrike Falcon alerts (Alerts API v2 entities) ↔ Palisade. Severity 1–100 is cut into
//! Palisade's four levels along Falcon's own `severity_name` bands (`docs/connectors.md`).

use palisade_domain::incident::IncidentDoc;
use palisade_types::incidents::{
    AlertInput, Classification as C, EntityKind as K, IncidentInput, IncidentStatus as S, Owner,
    OwnerInput, Severity,
};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::cursor::{PulledIncident, VendorState};
use crate::mapping::{instant, lookup, text, verdict_note, Ctx, FieldErrors};
use crate::sources::{add_unique, props, Entities};
use crate::writeback::Change;

/// Falcon status → Palisade status. Writing back uses the first row of each Palisade status.
pub const STATUS: [(&str, S); 4] = [
    ("new", S::New),
    ("in_progress", S::Active),
    ("closed", S::Closed),
    ("reopened", S::Active),
];

/// `product` → product name.
pub const PRODUCTS: [(&str, &str); 7] = [
    ("epp", "CrowdStrike Falcon Insight XDR"),
    ("xdr", "CrowdStrike Falcon Insight XDR"),
    ("idp", "CrowdStrike Falcon Identity Protection"),
    ("mobile", "CrowdStrike Falcon for Mobile"),
    ("overwatch", "CrowdStrike Falcon OverWatch"),
    ("cwpp", "CrowdStrike Falcon Cloud Security"),
    ("ngsiem", "CrowdStrike Falcon Next-Gen SIEM"),
];

/// Severity 1–100 → Palisade: 80–100 (Critical) and 60–79 (High) → `High`, 40–59 → `Medium`,
/// 20–39 → `Low`, 1–19 → `Informational`.
pub fn severity(score: i64) -> Severity {
    match score {
        60.. => Severity::High,
        40..=59 => Severity::Medium,
        20..=39 => Severity::Low,
        _ => Severity::Informational,
    }
}

pub fn status_to(s: S) -> &'static str {
    match s {
        S::New => "new",
        S::Active => "in_progress",
        S::Closed => "closed",
    }
}

/// The assignment action of a Palisade owner: a GUID user id → `assign_to_uuid`, an email →
/// `assign_to_user_id` (Falcon's user id is the login), a name alone → `assign_to_name`, none
/// → `unassign`.
pub fn assign_action(o: Option<&Owner>) -> (&'static str, String) {
    let Some(o) = o else {
        return ("unassign", String::new());
    };
    if let Some(id) = o.user_id.as_deref().filter(|i| Uuid::parse_str(i).is_ok()) {
        return ("assign_to_uuid", id.to_ascii_lowercase());
    }
    if let Some(e) = o.email.as_deref() {
        return ("assign_to_user_id", e.to_string());
    }
    match o.display_name.as_deref().or(o.user_id.as_deref()) {
        Some(n) => ("assign_to_name", n.to_string()),
        None => ("unassign", String::new()),
    }
}

/// The owner as Falcon identifies it after [`assign_action`] (lowercased).
fn owner_key(o: Option<&Owner>) -> Option<String> {
    match assign_action(o) {
        ("unassign", _) => None,
        (_, v) => Some(v.to_ascii_lowercase()),
    }
}

/// The `action_parameters` of a change.
pub(crate) fn action_parameters(change: &Change) -> Vec<Value> {
    let p = |name: &str, value: &str| json!({"name": name, "value": value});
    match change {
        Change::Status { status, .. } => {
            let mut out = vec![p("update_status", status_to(*status))];
            // Falcon alerts have no verdict field: a comment carries it.
            if let Some(c) = change.verdict().as_ref().and_then(verdict_note) {
                out.push(p("append_comment", &c));
            }
            out
        }
        Change::Assign { owner } => {
            let (name, value) = assign_action(owner.as_ref());
            vec![p(name, &value)]
        }
        Change::Comment { text, .. } => vec![p("append_comment", text)],
    }
}

/// What Falcon shows after Palisade writes `doc` back.
pub(crate) fn project(doc: &IncidentDoc) -> VendorState {
    VendorState {
        status: Some(status_to(doc.status).to_string()),
        classification: None,
        reason: None,
        owner: owner_key(doc.owner.as_ref()),
    }
}

/// One alert (an `entities/alerts/v2` resource).
pub fn incident(a: &Value) -> Result<PulledIncident, FieldErrors> {
    let mut ctx = Ctx::default();
    let id = ctx.id(text(a, "composite_id"), "composite_id");
    let version = ctx.version(a, "updated_timestamp", "updated_timestamp");
    let created = ctx.time(a, "created_timestamp", "created_timestamp");
    let title = text(a, "display_name")
        .or(text(a, "name"))
        .unwrap_or("CrowdStrike Falcon alert");
    let score = a["severity"].as_i64();
    let sev = match score {
        Some(s) => severity(s),
        None => {
            if let Some(n) = text(a, "severity_name") {
                ctx.unmapped("severity_name", n);
            }
            Severity::Medium
        }
    };
    let status = ctx
        .enum_at(a, "status", "status", &STATUS)
        .and_then(|(_, s)| s)
        .unwrap_or(S::New);
    let product = text(a, "product").map(|p| {
        lookup(&PRODUCTS, p)
            .map(str::to_string)
            .unwrap_or_else(|| format!("CrowdStrike Falcon ({p})"))
    });
    let device = &a["device"];
    let mut es = Entities::default();
    if let Some(h) = text(device, "hostname") {
        es.add(
            K::Host,
            text(device, "device_id").unwrap_or(h),
            h,
            props(&[
                ("hostName", Some(h)),
                ("deviceId", text(device, "device_id")),
                ("platform", text(device, "platform_name")),
                ("osVersion", text(device, "os_version")),
            ]),
        );
    }
    for (k, role) in [("local_ip", "internal"), ("external_ip", "external")] {
        if let Some(ip) = text(device, k) {
            es.address(ip, role);
        }
    }
    if let Some(u) = text(a, "user_name") {
        es.add(
            K::Account,
            text(a, "user_id").unwrap_or(u),
            u,
            props(&[("accountName", Some(u)), ("sid", text(a, "user_id"))]),
        );
    }
    let sha256 = text(a, "sha256");
    if let Some(path) = text(a, "filepath").or(text(a, "filename")) {
        let name = text(a, "filename").unwrap_or(path);
        es.add(
            K::File,
            sha256.unwrap_or(path),
            name,
            props(&[
                ("fileName", Some(name)),
                ("filePath", Some(path)),
                ("sha256", sha256),
            ]),
        );
    }
    if let Some(h) = sha256 {
        es.add(
            K::FileHash,
            h,
            h,
            props(&[("algorithm", Some("SHA256")), ("value", Some(h))]),
        );
    }
    if let Some(cmd) = text(a, "cmdline") {
        let name = text(a, "filename").unwrap_or("process");
        es.add(
            K::Process,
            &format!("{}:{cmd}", text(device, "device_id").unwrap_or("")),
            name,
            props(&[
                ("commandLine", Some(cmd)),
                ("imageFileName", text(a, "filename")),
            ]),
        );
    }
    let mut tactics = Vec::new();
    add_unique(&mut tactics, text(a, "tactic"));
    let labels: Vec<String> = crate::mapping::strings(a, "tags");
    let owner = OwnerInput {
        user_id: text(a, "assigned_to_uuid").map(str::to_string),
        email: text(a, "assigned_to_uid")
            .filter(|u| u.contains('@'))
            .map(str::to_string),
        display_name: text(a, "assigned_to_name")
            .or(text(a, "assigned_to_uid"))
            .map(str::to_string),
    };
    let has_owner =
        owner.user_id.is_some() || owner.email.is_some() || owner.display_name.is_some();
    let alert = AlertInput {
        id: text(a, "composite_id").map(str::to_string),
        title: Some(title.to_string()),
        severity: Some(sev.as_str().into()),
        product_name: product.clone(),
        vendor_name: Some("CrowdStrike".into()),
        // The alert is the incident: its status is the incident's (a copy here would change
        // with every status written back, an echo).
        status: None,
        created_at: created.map(instant),
        entity_ids: Some(es.ids()),
    };
    for k in [
        "id",
        "severity",
        "severity_name",
        "technique",
        "technique_id",
        "tactic_id",
        "pattern_id",
        "cid",
        "aggregate_id",
        "type",
    ] {
        if let Some(v) = a.get(k).filter(|v| !v.is_null()) {
            ctx.source.insert(k.into(), v.clone());
        }
    }
    let vendor_owner = text(a, "assigned_to_uuid")
        .or(text(a, "assigned_to_uid"))
        .or(text(a, "assigned_to_name"))
        .map(str::to_ascii_lowercase);
    let first = ctx.time(a, "timestamp", "timestamp").or(created);
    let incident = IncidentInput {
        title: Some(title.to_string()),
        description: text(a, "description").map(str::to_string),
        severity: Some(sev.as_str().into()),
        status: Some(status.as_str().into()),
        classification: (status == S::Closed).then(|| C::Undetermined.as_str().into()),
        owner: has_owner.then_some(owner),
        labels: Some(labels),
        tactics: Some(tactics),
        alert_product_names: product.map(|p| vec![p]),
        created_at: created.map(instant),
        updated_at: version.map(instant),
        first_activity_at: first.map(instant),
        // `updated_timestamp` moves with every analyst update (ours too): not activity.
        last_activity_at: first.map(instant),
        provider_url: text(a, "falcon_host_link").map(str::to_string),
        entities: es.into_option(),
        alerts: Some(vec![alert]),
        ..IncidentInput::default()
    };
    let vendor = VendorState {
        status: text(a, "status").map(str::to_string),
        classification: None,
        reason: None,
        owner: vendor_owner,
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
    use palisade_types::incidents::ClassificationReason as R;

    fn example() -> Value {
        json!({
            "composite_id": "ab12cd34ab12cd34ab12cd34ab12cd34:ind:0123456789abcdef0123456789abcdef:4295134",
            "id": "ind:0123456789abcdef0123456789abcdef:4295134",
            "cid": "ab12cd34ab12cd34ab12cd34ab12cd34", "aggregate_id": "aggind:0123",
            "name": "MaliciousDocument", "display_name": "Malicious Office document",
            "description": "A process triggered a high severity custom rule.",
            "severity": 70, "severity_name": "High", "status": "in_progress",
            "created_timestamp": "2026-05-01T10:00:00.123456789Z",
            "updated_timestamp": "2026-05-01T10:05:00.5Z", "timestamp": "2026-05-01T09:59:00Z",
            "device": {"hostname": "FIN-WKS-0423", "device_id": "0123456789abcdef0123456789abcdef",
                       "local_ip": "10.0.0.12", "external_ip": "203.0.113.7", "platform_name": "Windows"},
            "user_name": "adele.vance", "user_id": "S-1-5-21-1004", "tactic": "Execution",
            "technique": "User Execution", "filename": "WINWORD.EXE",
            "filepath": "\\Device\\HarddiskVolume3\\Program Files\\Microsoft Office\\WINWORD.EXE",
            "sha256": "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f",
            "cmdline": "WINWORD.EXE /n invoice.docm", "product": "epp", "tags": ["finance"],
            "falcon_host_link": "https://falcon.crowdstrike.com/activity-v2/detections/x",
            "assigned_to_name": "Ann Analyst", "assigned_to_uid": "ann@contoso.com",
            "assigned_to_uuid": "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
        })
    }

    #[test]
    fn an_alert_maps_field_by_field() {
        let p = incident(&example()).unwrap();
        let mut v = Validator::new();
        assert!(normalize(&mut v, "", &p.incident).is_some(), "{v:?}");
        let i = &p.incident;
        assert!(p.external_id.ends_with(":4295134"));
        assert_eq!(i.title.as_deref(), Some("Malicious Office document"));
        assert_eq!(i.severity.as_deref(), Some("High"));
        assert_eq!(i.status.as_deref(), Some("Active"));
        assert_eq!(
            i.alert_product_names.as_ref().unwrap(),
            &["CrowdStrike Falcon Insight XDR"]
        );
        let o = i.owner.as_ref().unwrap();
        assert_eq!(o.email.as_deref(), Some("ann@contoso.com"));
        let kinds = entity_kinds(i);
        assert_eq!(
            kinds,
            ["Host", "Ip", "Ip", "Account", "File", "FileHash", "Process"]
        );
        assert!(p.unmapped.is_empty(), "{:?}", p.unmapped);
        for (score, level) in [
            (100, "High"),
            (80, "High"),
            (60, "High"),
            (59, "Medium"),
            (40, "Medium"),
            (39, "Low"),
            (20, "Low"),
            (19, "Informational"),
            (1, "Informational"),
        ] {
            assert_eq!(severity(score).as_str(), level, "{score}");
        }
        let native = map_native(ConnectorKind::CrowdStrikeFalcon, &example()).unwrap();
        assert_eq!(native.external_id, p.external_id);
        assert!(map_native(
            ConnectorKind::CrowdStrikeFalcon,
            &json!({"composite_id": "x"})
        )
        .is_err());
    }

    #[test]
    fn a_written_back_close_and_owner_round_trip() {
        let ann = Owner {
            user_id: None,
            email: Some("ann@contoso.com".into()),
            display_name: Some("Ann".into()),
        };
        let doc = closed_doc(C::TruePositive, R::Malware, ann.clone());
        let params = action_parameters(&Change::Status {
            status: S::Closed,
            classification: Some(C::TruePositive),
            reason: Some(R::Malware),
            classification_comment: Some("Wiped.".into()),
        });
        assert_eq!(
            params,
            [
                json!({"name": "update_status", "value": "closed"}),
                json!({"name": "append_comment", "value": "Closed in Palisade as TruePositive (Malware). Wiped."})
            ]
        );
        assert_eq!(
            action_parameters(&Change::Assign { owner: Some(ann) }),
            [json!({"name": "assign_to_user_id", "value": "ann@contoso.com"})]
        );
        assert_eq!(
            action_parameters(&Change::Assign { owner: None }),
            [json!({"name": "unassign", "value": ""})]
        );
        let mut item = example();
        item["status"] = json!("closed");
        for k in ["assigned_to_uuid", "assigned_to_name"] {
            item.as_object_mut().unwrap().remove(k);
        }
        let mut p = incident(&item).unwrap();
        assert_eq!(p.incident.classification.as_deref(), Some("Undetermined"));
        reconcile(ConnectorKind::CrowdStrikeFalcon, &mut p, &doc);
        assert_eq!(p.incident.classification.as_deref(), Some("TruePositive"));
        assert_eq!(p.incident.classification_reason.as_deref(), Some("Malware"));
        assert_eq!(
            p.incident.owner.unwrap().display_name.as_deref(),
            Some("Ann")
        );
        for s in [S::New, S::Active, S::Closed] {
            assert_eq!(lookup(&STATUS, status_to(s)), Some(s));
        }
    }
}
