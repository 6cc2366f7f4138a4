//! Microsoft Sentinel ↔ Palisade. Sentinel's incident resource is `{name, etag, properties}`
//! (Azure REST API `Incidents - Get`, api-version 2024-03-01); entities come from
//! `POST …/entities` (`{entities: [{id, name, kind, properties}], metaData}`) and alerts from
//! `POST …/alerts` (`{value: [SecurityAlert entities]}`).

use palisade_domain::incident::IncidentDoc;
use palisade_types::incidents::{
    AlertInput, Classification as C, ClassificationReason as R, EntityInput, EntityKind as K,
    IncidentInput, IncidentStatus, Owner, OwnerInput, Severity,
};
use serde_json::{json, Map, Value};

use super::{
    bounded_id, instant, lookup, push_unique, strings, text, text_or_number, Ctx, FieldErrors,
    Timeline,
};
use crate::cursor::{PulledIncident, VendorState};
use crate::writeback::Change;

pub const SEVERITY: [(&str, Severity); 4] = [
    ("High", Severity::High),
    ("Medium", Severity::Medium),
    ("Low", Severity::Low),
    ("Informational", Severity::Informational),
];

pub const STATUS: [(&str, IncidentStatus); 3] = [
    ("New", IncidentStatus::New),
    ("Active", IncidentStatus::Active),
    ("Closed", IncidentStatus::Closed),
];

pub const CLASSIFICATION: [(&str, C); 4] = [
    ("Undetermined", C::Undetermined),
    ("TruePositive", C::TruePositive),
    ("BenignPositive", C::BenignPositive),
    ("FalsePositive", C::FalsePositive),
];

pub const REASON: [(&str, R); 4] = [
    ("SuspiciousActivity", R::SuspiciousActivity),
    ("SuspiciousButExpected", R::SuspiciousButExpected),
    ("IncorrectAlertLogic", R::IncorrectAlertLogic),
    ("InaccurateData", R::InaccurateData),
];

/// Entity kinds of the entities call. `SecurityAlert` is not here: alerts are read by their
/// own call. `Bookmark` and `Nic` have no Palisade kind.
pub const ENTITY_KINDS: [(&str, K); 19] = [
    ("Account", K::Account),
    ("Host", K::Host),
    ("Ip", K::Ip),
    ("File", K::File),
    ("FileHash", K::FileHash),
    ("Process", K::Process),
    ("Url", K::Url),
    ("Mailbox", K::Mailbox),
    ("MailMessage", K::MailMessage),
    ("MailCluster", K::MailMessage),
    ("SubmissionMail", K::MailMessage),
    ("CloudApplication", K::CloudApplication),
    ("AzureResource", K::AzureResource),
    ("DnsResolution", K::Dns),
    ("RegistryKey", K::RegistryKey),
    ("RegistryValue", K::RegistryValue),
    ("SecurityGroup", K::SecurityGroup),
    ("Malware", K::Malware),
    ("IoTDevice", K::IoTDevice),
];

fn name_of<T: Copy + PartialEq>(table: &[(&'static str, T)], v: T) -> Option<&'static str> {
    table.iter().find(|(_, x)| *x == v).map(|(k, _)| *k)
}

// ------------------------------------------------------------------ Palisade → Sentinel

pub fn status_to(s: IncidentStatus) -> &'static str {
    name_of(&STATUS, s).unwrap_or("Active")
}

/// Sentinel has four classifications; Palisade's wider list folds onto them.
pub fn classification_to(c: C) -> &'static str {
    match c {
        C::TruePositive => "TruePositive",
        C::FalsePositive | C::QradarFalsePositive => "FalsePositive",
        C::BenignPositive | C::InformationalExpectedActivity | C::PolicyViolation | C::NonIssue => {
            "BenignPositive"
        }
        C::Undetermined | C::Unknown | C::Undefined | C::Suspicious => "Undetermined",
    }
}

/// The reason Sentinel takes with a classification (`Undetermined` takes none).
pub fn reason_to(sentinel_classification: &str, r: Option<R>) -> Option<&'static str> {
    match sentinel_classification {
        "TruePositive" => Some("SuspiciousActivity"),
        "BenignPositive" => Some("SuspiciousButExpected"),
        "FalsePositive" => Some(match r {
            Some(R::IncorrectAlertLogic) => "IncorrectAlertLogic",
            _ => "InaccurateData",
        }),
        _ => None,
    }
}

/// Sentinel's `owner` for a Palisade owner (all null to unassign).
pub fn owner_to(o: Option<&Owner>) -> Value {
    let Some(o) = o else {
        return json!({"objectId": null, "email": null, "userPrincipalName": null, "assignedTo": null});
    };
    let object_id = o
        .user_id
        .as_deref()
        .filter(|u| uuid::Uuid::parse_str(u).is_ok());
    json!({
        "objectId": object_id,
        "email": o.email,
        "userPrincipalName": o.email,
        "assignedTo": o.display_name.as_deref().or(o.email.as_deref()).or(o.user_id.as_deref()),
    })
}

/// The owner as Sentinel identifies it.
fn owner_key(owner: &Value) -> Option<String> {
    ["email", "userPrincipalName", "objectId", "assignedTo"]
        .iter()
        .find_map(|k| text(owner, k))
        .map(str::to_lowercase)
}

/// What Sentinel shows after Palisade writes `doc` back.
pub(crate) fn project(doc: &IncidentDoc) -> VendorState {
    let closed = doc.status == IncidentStatus::Closed;
    let classification = doc.classification.filter(|_| closed).map(classification_to);
    VendorState {
        status: Some(status_to(doc.status).to_string()),
        classification: classification.map(str::to_string),
        reason: classification
            .and_then(|c| reason_to(c, doc.classification_reason))
            .map(str::to_string),
        owner: owner_key(&owner_to(doc.owner.as_ref())),
    }
}

/// Applies a change to the incident's properties (as read) for the `PUT`.
pub(crate) fn apply(props: &mut Map<String, Value>, change: &Change) {
    match change {
        Change::Status { status, .. } => {
            props.insert("status".into(), json!(status_to(*status)));
            if let Some(v) = change.verdict() {
                let c = classification_to(v.classification.unwrap_or(C::Undetermined));
                props.insert("classification".into(), json!(c));
                props.insert("classificationReason".into(), json!(reason_to(c, v.reason)));
                props.insert("classificationComment".into(), json!(v.comment));
            } else {
                for k in [
                    "classification",
                    "classificationReason",
                    "classificationComment",
                ] {
                    props.insert(k.into(), Value::Null);
                }
            }
        }
        Change::Assign { owner } => {
            props.insert("owner".into(), owner_to(owner.as_ref()));
        }
        Change::Comment { .. } => {}
    }
}

// ------------------------------------------------------------------ Sentinel → Palisade

/// Items of a list answer: `{value: [...]}`, `{entities: [...]}` or a bare array.
fn items<'a>(v: Option<&'a Value>, key: &str) -> &'a [Value] {
    match v {
        Some(Value::Array(a)) => a,
        Some(o) => o
            .get(key)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]),
        None => &[],
    }
}

/// Maps an incident resource with its entities and alerts answers.
pub fn incident(
    item: &Value,
    entities: Option<&Value>,
    alerts: Option<&Value>,
) -> Result<PulledIncident, FieldErrors> {
    let mut cx = Ctx::default();
    let id = cx.id(text(item, "name"), "name");
    let Some(p) = item.get("properties").filter(|p| p.is_object()) else {
        cx.error("properties", "'properties' is required.");
        return Err(cx.errors);
    };
    let title = cx
        .required(p, "title", "properties.title")
        .map(str::to_string);
    let version = cx.version(p, "lastModifiedTimeUtc", "properties.lastModifiedTimeUtc");
    let mut vendor = VendorState::default();
    let severity = cx
        .enum_at(p, "severity", "properties.severity", &SEVERITY)
        .and_then(|(_, m)| m)
        .unwrap_or(Severity::Medium);
    let status = cx
        .enum_at(p, "status", "properties.status", &STATUS)
        .map(|(raw, m)| {
            vendor.status = Some(raw.to_string());
            m.unwrap_or(IncidentStatus::Active)
        });
    let classification = cx
        .enum_at(
            p,
            "classification",
            "properties.classification",
            &CLASSIFICATION,
        )
        .and_then(|(raw, m)| {
            vendor.classification = Some(raw.to_string());
            m
        });
    let reason = cx
        .enum_at(
            p,
            "classificationReason",
            "properties.classificationReason",
            &REASON,
        )
        .and_then(|(raw, m)| {
            vendor.reason = Some(raw.to_string());
            m
        });
    let owner = p.get("owner").filter(|o| o.is_object()).and_then(|o| {
        vendor.owner = owner_key(o);
        let email = text(o, "email").or_else(|| text(o, "userPrincipalName"));
        let out = OwnerInput {
            user_id: text(o, "objectId").map(str::to_string),
            email: email.map(str::to_string),
            display_name: text(o, "assignedTo").map(str::to_string),
        };
        (out.user_id.is_some() || out.email.is_some() || out.display_name.is_some()).then_some(out)
    });
    let labels: Vec<String> = p
        .get("labels")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|l| text(l, "labelName").map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let extra = p.get("additionalData").cloned().unwrap_or(Value::Null);
    let mut tactics = strings(&extra, "tactics");
    let mut products = strings(&extra, "alertProductNames");
    let times = Timeline {
        created: cx.time(p, "createdTimeUtc", "properties.createdTimeUtc"),
        updated: version,
        first: cx.time(p, "firstActivityTimeUtc", "properties.firstActivityTimeUtc"),
        last: cx.time(p, "lastActivityTimeUtc", "properties.lastActivityTimeUtc"),
    };

    let mapped_entities = map_entities(&mut cx, items(entities, "entities"));
    let mut mapped_alerts = Vec::new();
    for (i, a) in items(alerts, "value").iter().enumerate() {
        let ap = a.get("properties").cloned().unwrap_or(Value::Null);
        let name = text(a, "name")
            .map(str::to_string)
            .unwrap_or_else(|| format!("alert-{}", i + 1));
        let severity = cx
            .enum_at(&ap, "severity", "alerts[].properties.severity", &SEVERITY)
            .map(|(_, m)| m.unwrap_or(severity));
        for t in strings(&ap, "tactics") {
            push_unique(&mut tactics, t);
        }
        if let Some(pn) = text(&ap, "productName") {
            push_unique(&mut products, pn);
        }
        mapped_alerts.push(AlertInput {
            id: Some(bounded_id(name)),
            title: text(&ap, "alertDisplayName")
                .or_else(|| text(&ap, "friendlyName"))
                .or_else(|| text(&ap, "alertType"))
                .map(str::to_string),
            severity: severity.map(|s| s.as_str().to_string()),
            product_name: text(&ap, "productName").map(str::to_string),
            vendor_name: text(&ap, "vendorName").map(str::to_string),
            status: text(&ap, "status").map(str::to_string),
            created_at: text(&ap, "timeGenerated")
                .or_else(|| text(&ap, "startTimeUtc"))
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| instant(t.with_timezone(&chrono::Utc))),
            entity_ids: None,
        });
    }

    for k in [
        "providerName",
        "providerIncidentId",
        "relatedAnalyticRuleIds",
    ] {
        if let Some(v) = p.get(k).filter(|v| !v.is_null()) {
            cx.source.insert(k.into(), v.clone());
        }
    }
    if let Some(n) = text_or_number(p, "incidentNumber") {
        cx.source.insert("incidentNumber".into(), json!(n));
    }
    let input = IncidentInput {
        title,
        description: text(p, "description").map(str::to_string),
        severity: Some(severity.as_str().to_string()),
        status: status.map(|s| s.as_str().to_string()),
        classification: classification.map(|c| c.as_str().to_string()),
        classification_reason: reason.map(|r| r.as_str().to_string()),
        classification_comment: text(p, "classificationComment").map(str::to_string),
        owner,
        labels: Some(labels),
        tactics: Some(tactics),
        alert_product_names: Some(products),
        provider_url: text(p, "incidentUrl").map(str::to_string),
        entities: Some(mapped_entities),
        alerts: Some(mapped_alerts),
        ..times.input()
    };
    cx.finish(id, version, input, vendor)
}

/// The display name of a Sentinel entity: its `friendlyName`, else its kind's identifier.
fn display_name(kind: &str, p: &Value) -> Option<String> {
    if let Some(f) = text(p, "friendlyName") {
        return Some(f.to_string());
    }
    let key = match kind {
        "Account" => {
            return text(p, "accountName")
                .or_else(|| text(p, "aadUserId"))
                .map(str::to_string)
        }
        "Host" => "hostName",
        "Ip" => "address",
        "File" => "fileName",
        "FileHash" => "hashValue",
        "Process" => "commandLine",
        "Url" => "url",
        "Mailbox" => "mailboxPrimaryAddress",
        "MailMessage" | "SubmissionMail" => "subject",
        "CloudApplication" => "appName",
        "AzureResource" => "resourceId",
        "DnsResolution" => "domainName",
        "RegistryKey" => "key",
        "RegistryValue" => "valueName",
        "SecurityGroup" => "distinguishedName",
        "Malware" => "malwareName",
        "IoTDevice" => "deviceName",
        _ => return None,
    };
    text(p, key).map(str::to_string)
}

fn map_entities(cx: &mut Ctx, list: &[Value]) -> Vec<EntityInput> {
    let mut out: Vec<EntityInput> = Vec::new();
    for (i, e) in list.iter().enumerate() {
        let kind_raw = text(e, "kind").unwrap_or("");
        if kind_raw.eq_ignore_ascii_case("SecurityAlert") {
            continue;
        }
        let Some(kind) = lookup(&ENTITY_KINDS, kind_raw) else {
            cx.keep_entity("entities[].kind", kind_raw, e);
            continue;
        };
        let mut props: Map<String, Value> = e
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        // Identifiers that by-entity matches on, derived where Sentinel splits them.
        if let (Some(a), Some(s)) = (
            props.get("accountName").and_then(Value::as_str),
            props.get("upnSuffix").and_then(Value::as_str),
        ) {
            let upn = format!("{a}@{s}");
            props.entry("userPrincipalName").or_insert(json!(upn));
        }
        if let (Some(h), Some(d)) = (
            props.get("hostName").and_then(Value::as_str),
            props.get("dnsDomain").and_then(Value::as_str),
        ) {
            let fqdn = format!("{h}.{d}");
            props.entry("fqdn").or_insert(json!(fqdn));
        }
        let pv = Value::Object(props.clone());
        let name = text(e, "name")
            .map(str::to_string)
            .unwrap_or_else(|| format!("entity-{}", i + 1));
        let id = bounded_id(name);
        if out.iter().any(|x| x.id.as_deref() == Some(id.as_str())) {
            continue;
        }
        out.push(EntityInput {
            id: Some(id.clone()),
            kind: Some(kind.as_str().to_string()),
            display_name: display_name(kind_raw, &pv).or(Some(id)),
            properties: Some(props),
        });
    }
    out
}

#[cfg(test)]
#[path = "sentinel_tests.rs"]
mod tests;
