use super::*;
use crate::kind::ConnectorKind;
use crate::mapping::{map_native, reconcile};
use palisade_domain::incident::normalize;
use palisade_domain::Validator;

/// The incident of the `Incidents - Get` example (azure-rest-api-specs, 2024-03-01).
fn example() -> Value {
    json!({
      "id": "/subscriptions/d0cfe6b2-9ac0-4464-9919-dccaee2e48c0/resourceGroups/myRg/providers/Microsoft.OperationalInsights/workspaces/myWorkspace/providers/Microsoft.SecurityInsights/incidents/73e01a99-5cd7-4139-a149-9f2736ff2ab5",
      "name": "73e01a99-5cd7-4139-a149-9f2736ff2ab5",
      "type": "Microsoft.SecurityInsights/incidents",
      "etag": "\"0300bf09-0000-0000-0000-5c37296e0000\"",
      "properties": {
        "lastModifiedTimeUtc": "2019-01-01T13:15:30Z",
        "createdTimeUtc": "2019-01-01T13:15:30Z",
        "lastActivityTimeUtc": "2019-01-01T13:05:30Z",
        "firstActivityTimeUtc": "2019-01-01T13:00:30Z",
        "description": "This is a demo incident",
        "title": "My incident",
        "owner": {"objectId": "2046feea-040d-4a46-9e2b-91c2941bfa70", "email": "john.doe@contoso.com",
                  "userPrincipalName": "john@contoso.com", "assignedTo": "john doe"},
        "severity": "High",
        "classification": "FalsePositive",
        "classificationComment": "Not a malicious activity",
        "classificationReason": "InaccurateData",
        "status": "Closed",
        "incidentUrl": "https://portal.azure.com/#asset/Microsoft_Azure_Security_Insights/Incident/subscriptions/d0cfe6b2-9ac0-4464-9919-dccaee2e48c0/resourceGroups/myRg/providers/Microsoft.OperationalInsights/workspaces/myWorkspace/providers/Microsoft.SecurityInsights/incidents/73e01a99-5cd7-4139-a149-9f2736ff2ab5",
        "incidentNumber": 3177,
        "labels": [{"labelName": "phishing-campaign", "labelType": "User"}],
        "providerName": "Azure Sentinel",
        "providerIncidentId": "3177",
        "relatedAnalyticRuleIds": ["/subscriptions/d0cfe6b2-9ac0-4464-9919-dccaee2e48c0/resourceGroups/myRg/providers/Microsoft.OperationalInsights/workspaces/myWorkspace/providers/Microsoft.SecurityInsights/alertRules/fab3d2d4-747f-46a7-8ef0-9c0be8112bf7"],
        "additionalData": {"alertsCount": 1, "bookmarksCount": 0, "commentsCount": 3,
                           "alertProductNames": [], "tactics": ["InitialAccess", "Persistence"]}
      }
    })
}

fn entities() -> Value {
    json!({"entities": [
        {"id": "/entities/e1d3d618-e11f-478b-98e3-bb381539a8e1", "name": "e1d3d618-e11f-478b-98e3-bb381539a8e1",
         "type": "Microsoft.SecurityInsights/Entities", "kind": "Account",
         "properties": {"friendlyName": "administrator", "accountName": "administrator", "ntDomain": "domain", "upnSuffix": "contoso.com"}},
        {"id": "/entities/h1", "name": "h1", "type": "Microsoft.SecurityInsights/Entities", "kind": "Host",
         "properties": {"hostName": "fin-wks-0423", "dnsDomain": "contoso.com"}},
        {"id": "/entities/d1", "name": "d1", "type": "Microsoft.SecurityInsights/Entities", "kind": "DnsResolution",
         "properties": {"domainName": "bad.example", "friendlyName": "bad.example"}},
        {"id": "/entities/n1", "name": "n1", "type": "Microsoft.SecurityInsights/Entities", "kind": "Nic",
         "properties": {"macAddress": "00:11:22:33:44:55"}},
        {"id": "/entities/a1", "name": "a1", "type": "Microsoft.SecurityInsights/Entities", "kind": "SecurityAlert",
         "properties": {"alertDisplayName": "dup"}}
    ], "metaData": [{"entityKind": "Account", "count": 1}]})
}

/// The alert of the `Incidents - List Alerts` example.
fn alerts() -> Value {
    json!({"value": [{
        "id": "/subscriptions/bd794837-4d29-4647-9105-6339bfdb4e6a/resourceGroups/myRG/providers/Microsoft.OperationalInsights/workspaces/myWorkspace/providers/Microsoft.SecurityInsights/Entities/baa8a239-6fde-4ab7-a093-d09f7b75c58c",
        "name": "baa8a239-6fde-4ab7-a093-d09f7b75c58c", "type": "Microsoft.SecurityInsights/Entities",
        "kind": "SecurityAlert",
        "properties": {"systemAlertId": "baa8a239-6fde-4ab7-a093-d09f7b75c58c", "tactics": [],
                       "alertDisplayName": "myAlert", "confidenceLevel": "Unknown", "severity": "Low",
                       "vendorName": "Microsoft", "productName": "Azure Security Center", "alertType": "myAlert",
                       "status": "New", "timeGenerated": "2020-07-20T18:21:53.6158361Z", "friendlyName": "myAlert"}
    }]})
}

/// The mapped incident must pass Palisade's own ingest validation.
fn assert_ingestible(p: &PulledIncident) {
    let mut v = Validator::new();
    let n = normalize(&mut v, "", &p.incident);
    assert!(v.is_empty(), "{v:?}");
    assert!(n.is_some());
}

#[test]
fn the_documented_example_maps_field_by_field() {
    let p = incident(&example(), Some(&entities()), Some(&alerts())).unwrap();
    assert_ingestible(&p);
    let i = &p.incident;
    assert_eq!(p.external_id, "73e01a99-5cd7-4139-a149-9f2736ff2ab5");
    assert_eq!(instant(p.version), "2019-01-01T13:15:30Z");
    assert_eq!(
        i.id.as_deref(),
        Some("73e01a99-5cd7-4139-a149-9f2736ff2ab5")
    );
    assert_eq!(i.title.as_deref(), Some("My incident"));
    assert_eq!(i.severity.as_deref(), Some("High"));
    assert_eq!(i.status.as_deref(), Some("Closed"));
    assert_eq!(i.classification.as_deref(), Some("FalsePositive"));
    assert_eq!(i.classification_reason.as_deref(), Some("InaccurateData"));
    assert_eq!(
        i.classification_comment.as_deref(),
        Some("Not a malicious activity")
    );
    let o = i.owner.as_ref().unwrap();
    assert_eq!(
        o.user_id.as_deref(),
        Some("2046feea-040d-4a46-9e2b-91c2941bfa70")
    );
    assert_eq!(o.email.as_deref(), Some("john.doe@contoso.com"));
    assert_eq!(o.display_name.as_deref(), Some("john doe"));
    assert_eq!(i.labels.as_deref().unwrap(), ["phishing-campaign"]);
    assert_eq!(
        i.tactics.as_deref().unwrap(),
        ["InitialAccess", "Persistence"]
    );
    assert_eq!(
        i.alert_product_names.as_deref().unwrap(),
        ["Azure Security Center"]
    );
    assert_eq!(i.first_activity_at.as_deref(), Some("2019-01-01T13:00:30Z"));
    assert!(i
        .provider_url
        .as_deref()
        .unwrap()
        .starts_with("https://portal.azure.com/"));
    assert_eq!(i.number, None, "Palisade numbers incidents itself");
    assert_eq!(p.source["incidentNumber"], "3177");
    assert_eq!(p.source["providerName"], "Azure Sentinel");
    // Entities: Account (with a derived UPN), Host (with its FQDN), Dns; the Nic is kept
    // aside and reported; the SecurityAlert entity is left to the alerts call.
    let es = i.entities.as_ref().unwrap();
    let kinds: Vec<&str> = es.iter().map(|e| e.kind.as_deref().unwrap()).collect();
    assert_eq!(kinds, ["Account", "Host", "Dns"]);
    assert_eq!(es[0].display_name.as_deref(), Some("administrator"));
    assert_eq!(
        es[0].properties.as_ref().unwrap()["userPrincipalName"],
        "administrator@contoso.com"
    );
    assert_eq!(es[1].display_name.as_deref(), Some("fin-wks-0423"));
    assert_eq!(
        es[1].properties.as_ref().unwrap()["fqdn"],
        "fin-wks-0423.contoso.com"
    );
    assert_eq!(p.unmapped.len(), 1);
    assert_eq!(
        (p.unmapped[0].field.as_str(), p.unmapped[0].value.as_str()),
        ("entities[].kind", "Nic")
    );
    assert_eq!(p.source["unmappedEntities"][0]["kind"], "Nic");
    assert_eq!(p.source["unmapped"]["entities[].kind"], "Nic");
    let a = &i.alerts.as_ref().unwrap()[0];
    assert_eq!(a.title.as_deref(), Some("myAlert"));
    assert_eq!(a.severity.as_deref(), Some("Low"));
    assert_eq!(a.vendor_name.as_deref(), Some("Microsoft"));
    assert_eq!(
        a.created_at.as_deref(),
        Some("2020-07-20T18:21:53.615836100Z")
    );
    assert_eq!(
        p.vendor,
        VendorState {
            status: Some("Closed".into()),
            classification: Some("FalsePositive".into()),
            reason: Some("InaccurateData".into()),
            owner: Some("john.doe@contoso.com".into()),
        }
    );
    // The native format takes the same item, with entities and alerts beside it.
    let mut native = example();
    native["entities"] = entities()["entities"].clone();
    native["alerts"] = alerts()["value"].clone();
    let n = map_native(ConnectorKind::MicrosoftSentinel, &native).unwrap();
    assert_eq!(
        serde_json::to_value(&n.incident).unwrap(),
        serde_json::to_value(&p.incident).unwrap()
    );
}

#[test]
fn values_without_an_equivalent_are_kept_and_reported() {
    let mut item = example();
    item["properties"]["severity"] = json!("Critical");
    item["properties"]["classification"] = json!("Inconclusive");
    item["properties"]["status"] = json!("Parked");
    let p = incident(&item, None, None).unwrap();
    assert_ingestible(&p);
    assert_eq!(p.incident.severity.as_deref(), Some("Medium"));
    assert_eq!(p.incident.status.as_deref(), Some("Active"));
    assert_eq!(p.incident.classification, None);
    let fields: Vec<(&str, &str)> = p
        .unmapped
        .iter()
        .map(|u| (u.field.as_str(), u.value.as_str()))
        .collect();
    assert_eq!(
        fields,
        [
            ("properties.severity", "Critical"),
            ("properties.status", "Parked"),
            ("properties.classification", "Inconclusive")
        ]
    );
    assert_eq!(p.source["unmapped"]["properties.severity"], "Critical");
}

#[test]
fn broken_items_are_refused_with_the_vendor_path() {
    let e = incident(
        &json!({"name": "a/b", "properties": {"lastModifiedTimeUtc": "yesterday"}}),
        None,
        None,
    )
    .unwrap_err();
    let keys: Vec<&str> = e.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["name", "properties.lastModifiedTimeUtc", "properties.title"]
    );
    let e = incident(&json!({"name": "x"}), None, None).unwrap_err();
    assert!(e.contains_key("properties"));
}

#[test]
fn writing_back_uses_sentinels_vocabulary() {
    for (name, c) in CLASSIFICATION {
        assert_eq!(classification_to(c), name);
    }
    for (name, s) in STATUS {
        assert_eq!(status_to(s), name);
    }
    assert_eq!(classification_to(C::PolicyViolation), "BenignPositive");
    assert_eq!(classification_to(C::QradarFalsePositive), "FalsePositive");
    assert_eq!(
        reason_to("TruePositive", Some(R::Malware)),
        Some("SuspiciousActivity")
    );
    assert_eq!(
        reason_to("FalsePositive", Some(R::IncorrectAlertLogic)),
        Some("IncorrectAlertLogic")
    );
    assert_eq!(
        reason_to("FalsePositive", Some(R::Other)),
        Some("InaccurateData")
    );
    assert_eq!(reason_to("Undetermined", Some(R::Other)), None);

    let mut props = example()["properties"].as_object().unwrap().clone();
    apply(
        &mut props,
        &Change::Status {
            status: IncidentStatus::Closed,
            classification: Some(C::TruePositive),
            reason: Some(R::Phishing),
            classification_comment: Some("Confirmed phish".into()),
        },
    );
    assert_eq!(
        (
            props["status"].as_str(),
            props["classification"].as_str(),
            props["classificationReason"].as_str()
        ),
        (
            Some("Closed"),
            Some("TruePositive"),
            Some("SuspiciousActivity")
        )
    );
    assert_eq!(
        props["title"], "My incident",
        "the rest of the incident is kept"
    );
    apply(
        &mut props,
        &Change::Status {
            status: IncidentStatus::Active,
            classification: None,
            reason: None,
            classification_comment: None,
        },
    );
    assert!(props["classification"].is_null() && props["classificationReason"].is_null());
    apply(
        &mut props,
        &Change::Assign {
            owner: Some(Owner {
                user_id: Some("u-17".into()),
                email: Some("ann@contoso.com".into()),
                display_name: Some("Ann".into()),
            }),
        },
    );
    assert_eq!(
        props["owner"],
        json!({"objectId": null, "email": "ann@contoso.com", "userPrincipalName": "ann@contoso.com", "assignedTo": "Ann"})
    );
    apply(&mut props, &Change::Assign { owner: None });
    assert!(props["owner"]
        .as_object()
        .unwrap()
        .values()
        .all(Value::is_null));
}

#[test]
fn palisades_own_write_back_is_recognized() {
    // Palisade closed the incident as a true positive because of malware; Sentinel only knows
    // "SuspiciousActivity" for true positives. The pulled result keeps Palisade's reason.
    let doc = crate::mapping::closed_doc(
        C::TruePositive,
        R::Malware,
        Owner {
            user_id: Some("u-17".into()),
            email: Some("Ann@Contoso.com".into()),
            display_name: Some("Ann".into()),
        },
    );
    let mut item = example();
    item["properties"]["classification"] = json!("TruePositive");
    item["properties"]["classificationReason"] = json!("SuspiciousActivity");
    item["properties"]["owner"] = json!({"objectId": "2046feea-040d-4a46-9e2b-91c2941bfa70", "email": "ann@contoso.com", "userPrincipalName": "ann@contoso.com", "assignedTo": "Ann Example"});
    let mut p = incident(&item, None, None).unwrap();
    reconcile(ConnectorKind::MicrosoftSentinel, &mut p, &doc);
    assert_eq!(p.incident.classification_reason.as_deref(), Some("Malware"));
    assert_eq!(
        p.incident.owner.as_ref().unwrap().display_name.as_deref(),
        Some("Ann")
    );
    // A real change at the source (someone reopened it) wins.
    item["properties"]["status"] = json!("Active");
    item["properties"]["classification"] = Value::Null;
    item["properties"]["classificationReason"] = Value::Null;
    let mut p = incident(&item, None, None).unwrap();
    reconcile(ConnectorKind::MicrosoftSentinel, &mut p, &doc);
    assert_eq!(p.incident.status.as_deref(), Some("Active"));
    assert_eq!(p.incident.classification_reason, None);
}
