//! Microsoft Defender XDR (Graph `microsoft.graph.security.incident`, v1.0) ↔ Palisade. The
//! incident comes with `alerts` when listed with `$expand=alerts`; each alert's `evidence[]`
//! (typed by `@odata.type`) becomes the incident's entities, shared between alerts.

use palisade_domain::incident::IncidentDoc;
use palisade_types::incidents::{
    AlertInput, Classification as C, ClassificationReason as R, EntityInput, EntityKind as K,
    IncidentInput, IncidentStatus as S, Owner, OwnerInput, Severity,
};
use serde_json::{json, Map, Value};

use super::{
    bounded_id, instant, lookup, push_unique, strings, text, text_or_number, Ctx, FieldErrors,
    Timeline,
};
use crate::cursor::{PulledIncident, VendorState};
use crate::writeback::Change;

pub const SEVERITY: [(&str, Severity); 4] = [
    ("high", Severity::High),
    ("medium", Severity::Medium),
    ("low", Severity::Low),
    ("informational", Severity::Informational),
];

/// Graph status → Palisade status. Writing back uses the first row of each Palisade status.
pub const STATUS: [(&str, S); 5] = [
    ("active", S::New),
    ("inProgress", S::Active),
    ("resolved", S::Closed),
    ("awaitingAction", S::Active),
    ("redirected", S::Closed),
];

pub const CLASSIFICATION: [(&str, C); 3] = [
    ("truePositive", C::TruePositive),
    ("falsePositive", C::FalsePositive),
    (
        "informationalExpectedActivity",
        C::InformationalExpectedActivity,
    ),
];

/// Graph determination → Palisade classification reason (both generations of Graph's names).
pub const DETERMINATION: [(&str, R); 18] = [
    ("malware", R::Malware),
    ("unwantedSoftware", R::Malware),
    ("phishing", R::Phishing),
    ("apt", R::SuspiciousActivity),
    ("multiStagedAttack", R::SuspiciousActivity),
    ("compromisedAccount", R::ConfirmedActivity),
    ("compromisedUser", R::ConfirmedActivity),
    ("maliciousUserActivity", R::ConfirmedActivity),
    ("securityPersonnel", R::SuspiciousButExpected),
    ("securityTesting", R::SuspiciousButExpected),
    ("confirmedUserActivity", R::SuspiciousButExpected),
    ("confirmedActivity", R::SuspiciousButExpected),
    ("lineOfBusinessApplication", R::SuspiciousButExpected),
    ("notMalicious", R::IncorrectAlertLogic),
    ("clean", R::IncorrectAlertLogic),
    ("notEnoughDataToValidate", R::InaccurateData),
    ("insufficientData", R::InaccurateData),
    ("other", R::Other),
];

/// Evidence `@odata.type` (without `#microsoft.graph.security.`) → entity kind.
pub const EVIDENCE: [(&str, K); 20] = [
    ("userEvidence", K::Account),
    ("servicePrincipalEvidence", K::Account),
    ("deviceEvidence", K::Host),
    ("ipEvidence", K::Ip),
    ("fileEvidence", K::File),
    ("fileHashEvidence", K::FileHash),
    ("processEvidence", K::Process),
    ("urlEvidence", K::Url),
    ("mailboxEvidence", K::Mailbox),
    ("analyzedMessageEvidence", K::MailMessage),
    ("submissionMailEvidence", K::MailMessage),
    ("mailClusterEvidence", K::MailMessage),
    ("cloudApplicationEvidence", K::CloudApplication),
    ("oauthApplicationEvidence", K::CloudApplication),
    ("azureResourceEvidence", K::AzureResource),
    ("dnsEvidence", K::Dns),
    ("registryKeyEvidence", K::RegistryKey),
    ("registryValueEvidence", K::RegistryValue),
    ("securityGroupEvidence", K::SecurityGroup),
    ("malwareEvidence", K::Malware),
];

/// `ioTDeviceEvidence` (Graph's own casing) is matched case-insensitively like the others.
const IOT_EVIDENCE: &str = "ioTDeviceEvidence";

/// Alert `serviceSource` → product name.
pub const PRODUCTS: [(&str, &str); 9] = [
    (
        "microsoftDefenderForEndpoint",
        "Microsoft Defender for Endpoint",
    ),
    (
        "microsoftDefenderForIdentity",
        "Microsoft Defender for Identity",
    ),
    (
        "microsoftDefenderForCloudApps",
        "Microsoft Defender for Cloud Apps",
    ),
    (
        "microsoftDefenderForOffice365",
        "Microsoft Defender for Office 365",
    ),
    ("microsoft365Defender", "Microsoft 365 Defender"),
    ("azureAdIdentityProtection", "Microsoft Entra ID Protection"),
    ("microsoftAppGovernance", "Microsoft app governance"),
    (
        "dataLossPrevention",
        "Microsoft Purview Data Loss Prevention",
    ),
    ("microsoftDefenderForCloud", "Microsoft Defender for Cloud"),
];

// ------------------------------------------------------------------ Palisade → Graph

pub fn status_to(s: S) -> &'static str {
    match s {
        S::New => "active",
        S::Active => "inProgress",
        S::Closed => "resolved",
    }
}

pub fn classification_to(c: C) -> &'static str {
    match c {
        C::TruePositive => "truePositive",
        C::FalsePositive | C::QradarFalsePositive => "falsePositive",
        C::BenignPositive | C::InformationalExpectedActivity | C::PolicyViolation | C::NonIssue => {
            "informationalExpectedActivity"
        }
        C::Undetermined | C::Unknown | C::Undefined | C::Suspicious => "unknown",
    }
}

/// The determination sent with a Graph classification (names of the v1.0 update page).
pub fn determination_to(graph_classification: &str, r: Option<R>) -> &'static str {
    match (graph_classification, r) {
        ("truePositive", Some(R::Malware)) => "malware",
        ("truePositive", Some(R::Phishing)) => "phishing",
        ("truePositive", Some(R::ConfirmedActivity)) => "maliciousUserActivity",
        ("truePositive", _) => "other",
        ("falsePositive", Some(R::IncorrectAlertLogic)) => "notMalicious",
        ("falsePositive", Some(R::InaccurateData)) => "notEnoughDataToValidate",
        ("falsePositive", _) => "other",
        ("informationalExpectedActivity", Some(R::SuspiciousButExpected)) => {
            "confirmedUserActivity"
        }
        ("informationalExpectedActivity", _) => "other",
        _ => "unknown",
    }
}

/// `assignedTo` for a Palisade owner: its email, else its id, else its name (null unassigns).
pub fn assigned_to(o: Option<&Owner>) -> Value {
    let v = o.and_then(|o| {
        o.email
            .as_deref()
            .or(o.user_id.as_deref())
            .or(o.display_name.as_deref())
    });
    json!(v)
}

/// The `PATCH` body of a change (`None` for comments).
pub(crate) fn patch_body(change: &Change) -> Option<Value> {
    match change {
        Change::Status { status, .. } => {
            let (c, r) = match change.verdict() {
                Some(v) => (
                    classification_to(v.classification.unwrap_or(C::Undetermined)),
                    v.reason,
                ),
                None => ("unknown", None),
            };
            Some(json!({"status": status_to(*status), "classification": c,
                        "determination": determination_to(c, r)}))
        }
        Change::Assign { owner } => Some(json!({"assignedTo": assigned_to(owner.as_ref())})),
        Change::Comment { .. } => None,
    }
}

/// What Graph shows after Palisade writes `doc` back.
pub(crate) fn project(doc: &IncidentDoc) -> VendorState {
    let closed = doc.status == S::Closed;
    let c = if closed {
        classification_to(doc.classification.unwrap_or(C::Undetermined))
    } else {
        "unknown"
    };
    let r = if closed {
        doc.classification_reason
    } else {
        None
    };
    VendorState {
        status: Some(status_to(doc.status).to_string()),
        classification: Some(c.to_string()),
        reason: Some(determination_to(c, r).to_string()),
        owner: assigned_to(doc.owner.as_ref())
            .as_str()
            .map(str::to_lowercase),
    }
}

// ------------------------------------------------------------------ Graph → Palisade

/// Maps a Graph incident (with `alerts` when expanded).
pub fn incident(item: &Value) -> Result<PulledIncident, FieldErrors> {
    let mut cx = Ctx::default();
    let id = cx.id(text_or_number(item, "id").as_deref(), "id");
    let title = cx
        .required(item, "displayName", "displayName")
        .map(str::to_string);
    let version = cx.version(item, "lastUpdateDateTime", "lastUpdateDateTime");
    let mut vendor = VendorState::default();
    let severity = cx
        .enum_at(item, "severity", "severity", &SEVERITY)
        .and_then(|(_, m)| m)
        .unwrap_or(Severity::Medium);
    let status = text(item, "status").map(|s| {
        vendor.status = Some(s.to_string());
        if lookup(&STATUS, s).is_none_or(|m| status_to(m) != s) {
            // Several Graph statuses share a Palisade one: the original is kept.
            cx.source.insert("status".into(), json!(s));
        }
        lookup(&STATUS, s).unwrap_or_else(|| {
            cx.unmapped("status", s);
            S::Active
        })
    });
    let closed = status == Some(S::Closed);
    let classification = text(item, "classification").and_then(|s| {
        vendor.classification = Some(s.to_string());
        if s.eq_ignore_ascii_case("unknown") {
            return closed.then_some(C::Undetermined);
        }
        let c = lookup(&CLASSIFICATION, s);
        if c.is_none() {
            cx.unmapped("classification", s);
        }
        c
    });
    let reason = text(item, "determination").and_then(|s| {
        vendor.reason = Some(s.to_string());
        cx.source.insert("determination".into(), json!(s));
        if s.eq_ignore_ascii_case("unknown") {
            return None;
        }
        let r = lookup(&DETERMINATION, s);
        if r.is_none() {
            cx.unmapped("determination", s);
        }
        r
    });
    let owner = text(item, "assignedTo").map(|a| {
        vendor.owner = Some(a.to_lowercase());
        OwnerInput {
            user_id: None,
            email: a.contains('@').then(|| a.to_string()),
            display_name: Some(a.to_string()),
        }
    });
    let mut labels = strings(item, "customTags");
    let system_tags = strings(item, "systemTags");
    for t in &system_tags {
        push_unique(&mut labels, t.clone());
    }
    if !system_tags.is_empty() {
        cx.source.insert("systemTags".into(), json!(system_tags));
    }
    for k in ["tenantId", "redirectIncidentId"] {
        if let Some(v) = text(item, k) {
            cx.source.insert(k.into(), json!(v));
        }
    }
    let mut times = Timeline {
        created: cx.time(item, "createdDateTime", "createdDateTime"),
        updated: version,
        ..Timeline::default()
    };

    let mut entities: Vec<EntityInput> = Vec::new();
    let mut alerts = Vec::new();
    let mut tactics = Vec::new();
    let mut products = Vec::new();
    let alert_list = item
        .get("alerts")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for (i, a) in alert_list.iter().enumerate() {
        let path = format!("alerts[{i}]");
        if let Some(c) = text(a, "category") {
            push_unique(&mut tactics, c);
        }
        let product = text(a, "serviceSource").map(|s| {
            lookup(&PRODUCTS, s)
                .map(str::to_string)
                .unwrap_or_else(|| s.to_string())
        });
        if let Some(p) = &product {
            push_unique(&mut products, p.clone());
        }
        let first = cx.time(
            a,
            "firstActivityDateTime",
            &format!("{path}.firstActivityDateTime"),
        );
        let last = cx.time(
            a,
            "lastActivityDateTime",
            &format!("{path}.lastActivityDateTime"),
        );
        times.widen(first, last);
        let mut ids = Vec::new();
        for ev in a
            .get("evidence")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            if let Some(e) = evidence(&mut cx, ev) {
                let eid = e.id.clone().unwrap_or_default();
                if !ids.contains(&eid) {
                    ids.push(eid.clone());
                }
                if !entities
                    .iter()
                    .any(|x| x.id.as_deref() == Some(eid.as_str()))
                {
                    entities.push(e);
                }
            }
        }
        let alert_severity = cx
            .enum_at(a, "severity", "alerts[].severity", &SEVERITY)
            .map(|(_, m)| m.unwrap_or(severity));
        alerts.push(AlertInput {
            id: Some(bounded_id(
                text(a, "id")
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("alert-{}", i + 1)),
            )),
            title: text(a, "title").map(str::to_string),
            severity: alert_severity.map(|s| s.as_str().to_string()),
            product_name: product,
            vendor_name: Some("Microsoft".into()),
            status: text(a, "status").map(str::to_string),
            created_at: cx
                .time(a, "createdDateTime", &format!("{path}.createdDateTime"))
                .map(instant),
            entity_ids: (!ids.is_empty()).then_some(ids),
        });
    }
    let input = IncidentInput {
        title,
        description: text(item, "description").map(str::to_string),
        severity: Some(severity.as_str().to_string()),
        status: status.map(|s| s.as_str().to_string()),
        classification: classification.map(|c| c.as_str().to_string()),
        classification_reason: reason.map(|r| r.as_str().to_string()),
        owner,
        labels: Some(labels),
        tactics: Some(tactics),
        alert_product_names: Some(products),
        provider_url: text(item, "incidentWebUrl").map(str::to_string),
        entities: Some(entities),
        alerts: Some(alerts),
        ..times.input()
    };
    cx.finish(id, version, input, vendor)
}

/// Copies `fields` of the nested object `key` to the top level (for by-entity matching).
fn lift(props: &mut Map<String, Value>, key: &str, fields: &[(&str, &str)]) {
    let Some(nested) = props.get(key).and_then(Value::as_object).cloned() else {
        return;
    };
    for (from, to) in fields {
        if let Some(v) = nested.get(*from).filter(|v| !v.is_null()) {
            props.entry(to.to_string()).or_insert(v.clone());
        }
    }
}

fn first_text(p: &Value, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| text_or_number(p, k))
}

/// One evidence item as an entity (id `{kind}:{identifier}`), or `None` when its type has no
/// Palisade kind (kept aside and reported).
fn evidence(cx: &mut Ctx, ev: &Value) -> Option<EntityInput> {
    let t = text(ev, "@odata.type").unwrap_or("");
    let short = t
        .trim_start_matches('#')
        .trim_start_matches("microsoft.graph.security.");
    let kind = lookup(&EVIDENCE, short).or_else(|| {
        short
            .eq_ignore_ascii_case(IOT_EVIDENCE)
            .then_some(K::IoTDevice)
    });
    let Some(kind) = kind else {
        cx.keep_entity(
            "alerts[].evidence[].@odata.type",
            if t.is_empty() { "(none)" } else { t },
            ev,
        );
        return None;
    };
    let mut props: Map<String, Value> = ev.as_object().cloned().unwrap_or_default();
    props.remove("@odata.type");
    lift(
        &mut props,
        "userAccount",
        &[
            ("accountName", "accountName"),
            ("domainName", "domainName"),
            ("userPrincipalName", "userPrincipalName"),
            ("azureAdUserId", "azureAdUserId"),
            ("userSid", "userSid"),
            ("displayName", "userDisplayName"),
        ],
    );
    lift(
        &mut props,
        "fileDetails",
        &[
            ("fileName", "fileName"),
            ("filePath", "filePath"),
            ("sha1", "sha1"),
            ("sha256", "sha256"),
        ],
    );
    lift(
        &mut props,
        "imageFile",
        &[
            ("fileName", "imageFileName"),
            ("filePath", "imageFilePath"),
            ("sha1", "sha1"),
            ("sha256", "sha256"),
        ],
    );
    let p = Value::Object(props.clone());
    let (key, name) = match kind {
        K::Account => (
            first_text(
                &p,
                &[
                    "azureAdUserId",
                    "userSid",
                    "userPrincipalName",
                    "servicePrincipalObjectId",
                    "appId",
                    "accountName",
                ],
            ),
            first_text(
                &p,
                &[
                    "userPrincipalName",
                    "servicePrincipalName",
                    "accountName",
                    "userDisplayName",
                    "appId",
                ],
            ),
        ),
        K::Host => (
            first_text(
                &p,
                &[
                    "mdeDeviceId",
                    "azureAdDeviceId",
                    "deviceDnsName",
                    "hostName",
                ],
            ),
            first_text(&p, &["deviceDnsName", "hostName", "mdeDeviceId"]),
        ),
        K::Ip => (
            first_text(&p, &["ipAddress"]),
            first_text(&p, &["ipAddress"]),
        ),
        K::File => (
            first_text(&p, &["sha256", "sha1"]).or_else(|| file_path(&p)),
            first_text(&p, &["fileName"]),
        ),
        K::FileHash => (first_text(&p, &["value"]), first_text(&p, &["value"])),
        K::Process => {
            let key = match (
                first_text(&p, &["mdeDeviceId"]),
                first_text(&p, &["processId"]),
            ) {
                (Some(d), Some(pid)) => Some(format!(
                    "{d}/{pid}/{}",
                    first_text(&p, &["processCreationDateTime"]).unwrap_or_default()
                )),
                (None, Some(pid)) => Some(pid),
                _ => first_text(&p, &["processCommandLine"]),
            };
            let name = match (
                first_text(&p, &["imageFileName"]),
                first_text(&p, &["processId"]),
            ) {
                (Some(f), Some(pid)) => Some(format!("{f} ({pid})")),
                (f, pid) => f.or(pid),
            };
            (key, name)
        }
        K::Url => (first_text(&p, &["url"]), first_text(&p, &["url"])),
        K::Mailbox => (
            first_text(&p, &["primaryAddress", "upn"]),
            first_text(&p, &["primaryAddress", "upn", "displayName"]),
        ),
        K::MailMessage => (
            first_text(
                &p,
                &["networkMessageId", "submissionId", "urn", "clusterByValue"],
            ),
            first_text(&p, &["subject", "query", "networkMessageId"]),
        ),
        K::CloudApplication => (
            first_text(&p, &["appId", "objectId", "saasAppId"]),
            first_text(&p, &["displayName", "instanceName", "appId"]),
        ),
        K::AzureResource => (
            first_text(&p, &["resourceId"]),
            first_text(&p, &["resourceName", "resourceId"]),
        ),
        K::Dns => (
            first_text(&p, &["domainName"]),
            first_text(&p, &["domainName"]),
        ),
        K::RegistryKey => {
            let k = match (
                first_text(&p, &["registryHive"]),
                first_text(&p, &["registryKey"]),
            ) {
                (Some(h), Some(k)) => Some(format!("{h}\\{k}")),
                (h, k) => k.or(h),
            };
            (k.clone(), k)
        }
        K::RegistryValue => {
            let k = match (
                first_text(&p, &["registryKey"]),
                first_text(&p, &["registryValueName"]),
            ) {
                (Some(k), Some(n)) => Some(format!("{k}\\{n}")),
                (k, n) => n.or(k),
            };
            (k, first_text(&p, &["registryValueName", "registryKey"]))
        }
        K::SecurityGroup => (
            first_text(
                &p,
                &[
                    "securityGroupId",
                    "activeDirectoryObjectGuid",
                    "sid",
                    "displayName",
                ],
            ),
            first_text(&p, &["displayName", "friendlyName", "distinguishedName"]),
        ),
        K::Malware => (first_text(&p, &["name"]), first_text(&p, &["name"])),
        K::IoTDevice => (
            first_text(&p, &["deviceId", "ioTSecurityAgentId", "deviceName"]),
            first_text(&p, &["deviceName", "deviceId"]),
        ),
    };
    let key = key.unwrap_or_else(|| super::short_hash(&ev.to_string()));
    let id = bounded_id(format!("{}:{key}", kind.as_str()));
    Some(EntityInput {
        id: Some(id.clone()),
        kind: Some(kind.as_str().to_string()),
        display_name: name.or(Some(id)),
        properties: Some(props),
    })
}

fn file_path(p: &Value) -> Option<String> {
    match (first_text(p, &["filePath"]), first_text(p, &["fileName"])) {
        (Some(d), Some(f)) => Some(format!("{d}\\{f}")),
        (d, f) => f.or(d),
    }
}

#[cfg(test)]
#[path = "defender_tests.rs"]
mod tests;
