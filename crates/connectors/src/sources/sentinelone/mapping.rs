//! SentinelOne threats (`/web/api/v2.1/threats`) ↔ Palisade. A threat has no severity: it is
//! derived from `threatInfo.confidenceLevel` and `threatInfo.classification` (table in
//! `docs/connectors.md`).

use palisade_domain::incident::IncidentDoc;
use palisade_types::incidents::{
    AlertInput, Classification as C, EntityKind as K, IncidentInput, IncidentStatus as S, Severity,
};
use serde_json::{json, Value};

use crate::cursor::{PulledIncident, VendorState};
use crate::mapping::{instant, lookup, text, text_or_number, Ctx, FieldErrors};
use crate::sources::{add_unique, props, Entities};

pub const PRODUCT: &str = "SentinelOne Singularity";

pub const STATUS: [(&str, S); 3] = [
    ("unresolved", S::New),
    ("in_progress", S::Active),
    ("resolved", S::Closed),
];

pub const VERDICT: [(&str, C); 3] = [
    ("true_positive", C::TruePositive),
    ("false_positive", C::FalsePositive),
    ("suspicious", C::Suspicious),
];

/// Classifications that make a suspicious threat `High` (and keep a malicious one there).
pub const SEVERE: [&str; 9] = [
    "Ransomware",
    "Trojan",
    "Backdoor",
    "Exploit",
    "Infostealer",
    "Worm",
    "Rootkit",
    "Keylogger",
    "Lateral Movement",
];

/// Classifications that lower a threat one level (potentially unwanted, not malware).
pub const MILD: [&str; 3] = ["PUA", "Hacktool", "Benign"];

/// Severity from `confidenceLevel` and `classification`.
pub fn severity(confidence: Option<&str>, classification: Option<&str>) -> Severity {
    let is = |list: &[&str]| {
        classification.is_some_and(|c| list.iter().any(|x| x.eq_ignore_ascii_case(c)))
    };
    match confidence.map(str::to_ascii_lowercase).as_deref() {
        Some("malicious") if is(&MILD) => Severity::Medium,
        Some("malicious") => Severity::High,
        Some("suspicious") if is(&SEVERE) => Severity::High,
        Some("suspicious") if is(&MILD) => Severity::Low,
        Some("suspicious") => Severity::Medium,
        _ if is(&SEVERE) => Severity::Medium,
        _ => Severity::Low,
    }
}

pub fn status_to(s: S) -> &'static str {
    match s {
        S::New => "unresolved",
        S::Active => "in_progress",
        S::Closed => "resolved",
    }
}

/// The analyst verdict of a Palisade classification (`undefined` for none).
pub fn verdict_to(c: Option<C>) -> &'static str {
    match c {
        Some(C::TruePositive) => "true_positive",
        Some(C::FalsePositive | C::QradarFalsePositive) => "false_positive",
        Some(C::Suspicious) => "suspicious",
        Some(
            C::BenignPositive | C::InformationalExpectedActivity | C::PolicyViolation | C::NonIssue,
        ) => "false_positive",
        _ => "undefined",
    }
}

/// What SentinelOne shows after Palisade writes `doc` back.
pub(crate) fn project(doc: &IncidentDoc) -> VendorState {
    VendorState {
        status: Some(status_to(doc.status).to_string()),
        classification: Some(verdict_to(doc.classification).to_string()),
        reason: None,
        owner: None,
    }
}

/// One threat.
pub fn incident(item: &Value) -> Result<PulledIncident, FieldErrors> {
    let mut ctx = Ctx::default();
    let info = &item["threatInfo"];
    let agent = &item["agentRealtimeInfo"];
    let detection = &item["agentDetectionInfo"];
    let raw_id = text_or_number(item, "id");
    let id = ctx.id(raw_id.as_deref(), "id");
    let version = ctx.version(info, "updatedAt", "threatInfo.updatedAt");
    let name = text(info, "threatName").unwrap_or("Unknown threat");
    let host = text(agent, "agentComputerName");
    let classification = text(info, "classification");
    let confidence = text(info, "confidenceLevel");
    let sev = severity(confidence, classification);
    if let Some(c) = confidence {
        if !["malicious", "suspicious", "n/a"].contains(&c.to_ascii_lowercase().as_str()) {
            ctx.unmapped("threatInfo.confidenceLevel", c);
        }
    }
    let status = ctx
        .enum_at(info, "incidentStatus", "threatInfo.incidentStatus", &STATUS)
        .and_then(|(_, s)| s)
        .unwrap_or(S::New);
    let verdict_raw = text(info, "analystVerdict");
    let verdict = verdict_raw.and_then(|v| {
        let m = lookup(&VERDICT, v);
        if m.is_none() && !v.eq_ignore_ascii_case("undefined") {
            ctx.unmapped("threatInfo.analystVerdict", v);
        }
        m
    });
    let created = ctx.time(info, "createdAt", "threatInfo.createdAt");
    let identified = ctx.time(info, "identifiedAt", "threatInfo.identifiedAt");

    let mut es = Entities::default();
    if let Some(h) = host {
        es.add(
            K::Host,
            text(agent, "agentId").unwrap_or(h),
            h,
            props(&[
                ("hostName", Some(h)),
                ("agentId", text(agent, "agentId")),
                ("osType", text(agent, "agentOsType")),
                ("siteName", text(agent, "siteName")),
            ]),
        );
    }
    for a in text(detection, "agentIpV4").unwrap_or("").split(',') {
        es.address(a, "internal");
    }
    if let Some(a) = text(detection, "externalIp") {
        es.address(a, "external");
    }
    if let Some(u) = text(info, "processUser") {
        es.add(K::Account, u, u, props(&[("accountName", Some(u))]));
    }
    let sha256 = text(info, "sha256");
    let sha1 = text(info, "sha1");
    if let Some(path) = text(info, "filePath") {
        let file = path.rsplit(['\\', '/']).next().unwrap_or(path);
        es.add(
            K::File,
            sha256.or(sha1).unwrap_or(path),
            file,
            props(&[
                ("fileName", Some(file)),
                ("filePath", Some(path)),
                ("sha256", sha256),
                ("sha1", sha1),
            ]),
        );
    }
    if let Some(h) = sha256.or(sha1) {
        let algo = if sha256.is_some() { "SHA256" } else { "SHA1" };
        es.add(
            K::FileHash,
            h,
            h,
            props(&[("algorithm", Some(algo)), ("value", Some(h))]),
        );
    }
    let mut tactics = Vec::new();
    for ind in item["indicators"].as_array().into_iter().flatten() {
        for t in ind["tactics"].as_array().into_iter().flatten() {
            add_unique(&mut tactics, text(t, "name"));
        }
    }
    let mut labels = Vec::new();
    add_unique(&mut labels, classification);
    let alert = AlertInput {
        id: text(info, "threatId")
            .map(str::to_string)
            .or(raw_id.clone()),
        title: Some(name.to_string()),
        severity: Some(sev.as_str().into()),
        product_name: Some(PRODUCT.into()),
        vendor_name: Some("SentinelOne".into()),
        status: text(info, "mitigationStatus").map(str::to_string),
        created_at: identified.or(created).map(instant),
        entity_ids: Some(es.ids()),
    };
    let description = [
        classification.map(|c| format!("Classification: {c}.")),
        confidence.map(|c| format!("Confidence: {c}.")),
        text(info, "mitigationStatus").map(|m| format!("Mitigation: {m}.")),
        text(info, "filePath").map(|p| format!("Path: {p}.")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    for (k, v) in [
        ("threatId", info.get("threatId")),
        ("classification", info.get("classification")),
        ("confidenceLevel", info.get("confidenceLevel")),
        ("mitigationStatus", info.get("mitigationStatus")),
        ("storyline", info.get("storyline")),
        ("siteName", agent.get("siteName")),
        ("accountName", agent.get("accountName")),
    ] {
        if let Some(v) = v.filter(|v| !v.is_null()) {
            ctx.source.insert(k.into(), v.clone());
        }
    }
    let incident = IncidentInput {
        title: Some(match host {
            Some(h) => format!("{name} on {h}"),
            None => name.to_string(),
        }),
        description: Some(description).filter(|d| !d.is_empty()),
        severity: Some(sev.as_str().into()),
        status: Some(status.as_str().into()),
        classification: match (status, verdict) {
            (_, Some(c)) => Some(c.as_str().into()),
            (S::Closed, None) => Some(C::Undetermined.as_str().into()),
            _ => None,
        },
        labels: Some(labels),
        tactics: Some(tactics),
        alert_product_names: Some(vec![PRODUCT.into()]),
        created_at: created.map(instant),
        updated_at: version.map(instant),
        first_activity_at: identified.or(created).map(instant),
        // `updatedAt` moves with every analyst update (ours too): not activity.
        last_activity_at: identified.or(created).map(instant),
        entities: es.into_option(),
        alerts: Some(vec![alert]),
        ..IncidentInput::default()
    };
    let vendor = VendorState {
        status: text(info, "incidentStatus").map(str::to_string),
        classification: Some(verdict_raw.unwrap_or("undefined").to_string()),
        reason: None,
        owner: None,
    };
    ctx.finish(id, version, incident, vendor)
}

/// The `filter` of a write: this one threat.
pub(crate) fn filter(id: &str) -> Value {
    json!({"ids": [id]})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::ConnectorKind;
    use crate::mapping::{closed_doc, entity_kinds, map_native, reconcile};
    use palisade_domain::incident::normalize;
    use palisade_domain::Validator;
    use palisade_types::incidents::{ClassificationReason, Owner};

    fn example() -> Value {
        json!({
            "id": "1925476593418297543",
            "agentDetectionInfo": {"agentIpV4": "10.0.0.12,10.0.0.13", "externalIp": "203.0.113.7"},
            "agentRealtimeInfo": {"agentComputerName": "fin-wks-0423", "agentId": "1925476500000000001",
                                  "agentOsType": "windows", "siteName": "HQ", "accountName": "Contoso"},
            "indicators": [{"category": "Ransomware", "tactics": [{"name": "Impact", "techniques": []}]}],
            "threatInfo": {"threatId": "1925476593418297543", "threatName": "invoice.exe",
                           "classification": "Ransomware", "confidenceLevel": "suspicious",
                           "incidentStatus": "in_progress", "analystVerdict": "undefined",
                           "mitigationStatus": "mitigated", "createdAt": "2026-05-01T10:00:00.123456Z",
                           "updatedAt": "2026-05-01T10:05:00.654321Z", "identifiedAt": "2026-05-01T09:59:58Z",
                           "sha1": "3395856ce81f2b7382dee72602f798b642f14140",
                           "sha256": "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f",
                           "filePath": "\\Device\\HarddiskVolume2\\Users\\adele\\Downloads\\invoice.exe",
                           "processUser": "CONTOSO\\adele.vance", "storyline": "3F2A"}
        })
    }

    #[test]
    fn a_threat_maps_with_a_documented_severity() {
        let p = incident(&example()).unwrap();
        let mut v = Validator::new();
        assert!(normalize(&mut v, "", &p.incident).is_some(), "{v:?}");
        let i = &p.incident;
        assert_eq!(p.external_id, "1925476593418297543");
        assert_eq!(i.title.as_deref(), Some("invoice.exe on fin-wks-0423"));
        assert_eq!(i.severity.as_deref(), Some("High"), "suspicious ransomware");
        assert_eq!(i.status.as_deref(), Some("Active"));
        assert_eq!(i.classification, None);
        assert_eq!(i.tactics.as_ref().unwrap(), &["Impact"]);
        let kinds = entity_kinds(i);
        assert_eq!(
            kinds,
            ["Host", "Ip", "Ip", "Ip", "Account", "File", "FileHash"]
        );
        assert!(p.unmapped.is_empty(), "{:?}", p.unmapped);
        assert_eq!(p.source["storyline"], "3F2A");
        assert_eq!(severity(Some("malicious"), Some("Trojan")), Severity::High);
        assert_eq!(severity(Some("malicious"), Some("PUA")), Severity::Medium);
        assert_eq!(
            severity(Some("suspicious"), Some("Malware")),
            Severity::Medium
        );
        assert_eq!(severity(Some("n/a"), None), Severity::Low);
        assert!(map_native(ConnectorKind::SentinelOne, &json!({"id": "1"})).is_err());
    }

    #[test]
    fn a_written_back_close_round_trips() {
        let owner = Owner {
            user_id: None,
            email: Some("ann@contoso.com".into()),
            display_name: None,
        };
        let doc = closed_doc(
            C::BenignPositive,
            ClassificationReason::SuspiciousButExpected,
            owner,
        );
        // What Palisade sends…
        let (status, verdict) = (status_to(doc.status), verdict_to(doc.classification));
        assert_eq!((status, verdict), ("resolved", "false_positive"));
        // …comes back as the analyst's own values.
        let mut item = example();
        item["threatInfo"]["incidentStatus"] = json!(status);
        item["threatInfo"]["analystVerdict"] = json!(verdict);
        let mut p = incident(&item).unwrap();
        assert_eq!(p.incident.classification.as_deref(), Some("FalsePositive"));
        reconcile(ConnectorKind::SentinelOne, &mut p, &doc);
        assert_eq!(p.incident.classification.as_deref(), Some("BenignPositive"));
        assert_eq!(
            p.incident.classification_reason.as_deref(),
            Some("SuspiciousButExpected")
        );
        assert_eq!(
            p.incident.owner.unwrap().email.as_deref(),
            Some("ann@contoso.com"),
            "SentinelOne has no owner: Palisade's stays"
        );
        // A real change at the source wins.
        item["threatInfo"]["incidentStatus"] = json!("unresolved");
        let mut p = incident(&item).unwrap();
        reconcile(ConnectorKind::SentinelOne, &mut p, &doc);
        assert_eq!(p.incident.status.as_deref(), Some("New"));
        for s in [S::New, S::Active, S::Closed] {
            assert_eq!(lookup(&STATUS, status_to(s)), Some(s));
        }
    }
}
