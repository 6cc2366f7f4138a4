use super::*;
use crate::kind::ConnectorKind;
use crate::mapping::{map_native, reconcile};
use palisade_domain::incident::normalize;
use palisade_domain::Validator;

/// The second example of `List incidents` (microsoft-graph-docs-contrib, v1.0), with a user,
/// a mailbox, an IP and an unmappable evidence added to its alert.
fn example() -> Value {
    serde_json::from_str(
        r##"{
      "@odata.type": "#microsoft.graph.security.incident",
      "id": "2972395",
      "incidentWebUrl": "https://security.microsoft.com/incidents/2972395?tid=12f988bf-16f1-11af-11ab-1d7cd011db47",
      "redirectIncidentId": null,
      "tenantId": "b3c1b5fc-828c-45fa-a1e1-10d74f6d6e9c",
      "displayName": "Multi-stage incident involving Initial access & Command and control on multiple endpoints reported by multiple sources",
      "createdDateTime": "2021-08-13T08:43:35.5533333Z",
      "lastUpdateDateTime": "2021-09-30T09:35:45.1133333Z",
      "assignedTo": "KaiC@contoso.onmicrosoft.com",
      "classification": "truePositive",
      "determination": "multiStagedAttack",
      "status": "active",
      "severity": "medium",
      "customTags": ["Demo"],
      "comments": [{"comment": "Demo incident", "createdBy": "DavidS@contoso.onmicrosoft.com", "createdTime": "2021-09-30T12:07:37.2756993Z"}],
      "systemTags": ["Defender Experts"],
      "description": "Microsoft observed Raspberry Robin worm activity spreading through infected USB on multiple devices in your environment.",
      "alerts": [{
        "@odata.type": "#microsoft.graph.security.alert",
        "id": "da637551227677560813_-961444813",
        "providerAlertId": "da637551227677560813_-961444813",
        "incidentId": "28282", "status": "new", "severity": "low",
        "classification": "unknown", "determination": "unknown",
        "serviceSource": "microsoftDefenderForEndpoint", "detectionSource": "antivirus",
        "title": "Suspicious execution of hidden file",
        "category": "DefenseEvasion",
        "createdDateTime": "2021-04-27T12:19:27.7211305Z",
        "lastUpdateDateTime": "2021-05-02T14:19:01.3266667Z",
        "firstActivityDateTime": "2021-04-26T07:45:50.116Z",
        "lastActivityDateTime": "2021-05-02T07:56:58.222Z",
        "evidence": [
          {"@odata.type": "#microsoft.graph.security.deviceEvidence", "createdDateTime": "2021-04-27T12:19:27.7211305Z",
           "verdict": "unknown", "remediationStatus": "none", "mdeDeviceId": "73e7e2de709dff64ef64b1d0c30e67fab63279db",
           "azureAdDeviceId": null, "deviceDnsName": "tempDns", "osPlatform": "Windows10", "roles": ["compromised"], "tags": ["Test Machine"]},
          {"@odata.type": "#microsoft.graph.security.fileEvidence", "detectionStatus": "detected",
           "mdeDeviceId": "73e7e2de709dff64ef64b1d0c30e67fab63279db",
           "fileDetails": {"sha1": "5f1e8acedc065031aad553b710838eb366cfee9a", "sha256": "8963a19fb992ad9a76576c5638fd68292cffb9aaac29eb8285f9abf6196a7dec",
                           "fileName": "MsSense.exe", "filePath": "C:\\Program Files\\temp", "fileSize": 6136392}},
          {"@odata.type": "#microsoft.graph.security.processEvidence", "processId": 4780, "parentProcessId": 668,
           "processCommandLine": "\"MsSense.exe\"", "processCreationDateTime": "2021-08-12T12:43:19.0772577Z",
           "mdeDeviceId": "73e7e2de709dff64ef64b1d0c30e67fab63279db",
           "imageFile": {"sha1": "5f1e8acedc065031aad553b710838eb366cfee9a", "fileName": "MsSense.exe", "filePath": "C:\\Program Files\\temp"},
           "userAccount": {"accountName": "SYSTEM", "domainName": "NT AUTHORITY", "userSid": "S-1-5-18"}},
          {"@odata.type": "#microsoft.graph.security.registryKeyEvidence",
           "registryKey": "SYSTEM\\CONTROLSET001\\CONTROL\\WMI\\AUTOLOGGER\\SENSEAUDITLOGGER", "registryHive": "HKEY_LOCAL_MACHINE"},
          {"@odata.type": "#microsoft.graph.security.userEvidence",
           "userAccount": {"accountName": "kai", "domainName": "contoso", "userSid": "S-1-5-21-1", "azureAdUserId": "0b9a7d8c-1111-4222-8333-944455556666", "userPrincipalName": "KaiC@contoso.onmicrosoft.com"}},
          {"@odata.type": "#microsoft.graph.security.ipEvidence", "ipAddress": "203.0.113.7", "countryLetterCode": "NL"},
          {"@odata.type": "#microsoft.graph.security.kubernetesPodEvidence", "name": "pod-1"}
        ]
      }, {
        "@odata.type": "#microsoft.graph.security.alert", "id": "da2", "status": "inProgress", "severity": "high",
        "serviceSource": "someNewService", "title": "Second alert", "category": "CommandAndControl",
        "createdDateTime": "2021-04-28T12:00:00Z",
        "evidence": [{"@odata.type": "#microsoft.graph.security.deviceEvidence", "mdeDeviceId": "73e7e2de709dff64ef64b1d0c30e67fab63279db", "deviceDnsName": "tempDns"}]
      }]
    }"##,
    )
    .expect("the example is JSON")
}

#[test]
fn the_documented_example_maps_field_by_field() {
    let p = incident(&example()).unwrap();
    let mut v = Validator::new();
    assert!(normalize(&mut v, "", &p.incident).is_some(), "{v:?}");
    let i = &p.incident;
    assert_eq!(p.external_id, "2972395");
    assert_eq!(instant(p.version), "2021-09-30T09:35:45.113333300Z");
    assert_eq!(i.severity.as_deref(), Some("Medium"));
    assert_eq!(i.status.as_deref(), Some("New"));
    assert_eq!(i.classification.as_deref(), Some("TruePositive"));
    assert_eq!(
        i.classification_reason.as_deref(),
        Some("SuspiciousActivity")
    );
    let o = i.owner.as_ref().unwrap();
    assert_eq!(
        (o.email.as_deref(), o.display_name.as_deref()),
        (
            Some("KaiC@contoso.onmicrosoft.com"),
            Some("KaiC@contoso.onmicrosoft.com")
        )
    );
    assert_eq!(i.labels.as_deref().unwrap(), ["Demo", "Defender Experts"]);
    assert_eq!(
        i.tactics.as_deref().unwrap(),
        ["DefenseEvasion", "CommandAndControl"]
    );
    assert_eq!(
        i.alert_product_names.as_deref().unwrap(),
        ["Microsoft Defender for Endpoint", "someNewService"]
    );
    assert_eq!(
        i.first_activity_at.as_deref(),
        Some("2021-04-26T07:45:50.116Z")
    );
    assert_eq!(
        i.last_activity_at.as_deref(),
        Some("2021-05-02T07:56:58.222Z")
    );
    assert_eq!(p.source["determination"], "multiStagedAttack");
    assert_eq!(p.source["systemTags"], json!(["Defender Experts"]));
    // Evidence → entities, shared by both alerts.
    let es = i.entities.as_ref().unwrap();
    let got: Vec<(&str, &str)> = es
        .iter()
        .map(|e| {
            (
                e.kind.as_deref().unwrap(),
                e.display_name.as_deref().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, [
        ("Host", "tempDns"),
        ("File", "MsSense.exe"),
        ("Process", "MsSense.exe (4780)"),
        ("RegistryKey", "HKEY_LOCAL_MACHINE\\SYSTEM\\CONTROLSET001\\CONTROL\\WMI\\AUTOLOGGER\\SENSEAUDITLOGGER"),
        ("Account", "KaiC@contoso.onmicrosoft.com"),
        ("Ip", "203.0.113.7"),
    ]);
    assert_eq!(
        es[0].id.as_deref(),
        Some("Host:73e7e2de709dff64ef64b1d0c30e67fab63279db")
    );
    assert_eq!(
        es[1].id.as_deref(),
        Some("File:8963a19fb992ad9a76576c5638fd68292cffb9aaac29eb8285f9abf6196a7dec")
    );
    assert_eq!(
        es[4].properties.as_ref().unwrap()["azureAdUserId"],
        "0b9a7d8c-1111-4222-8333-944455556666"
    );
    let alerts = i.alerts.as_ref().unwrap();
    assert_eq!(alerts[0].entity_ids.as_ref().unwrap().len(), 6);
    assert_eq!(
        alerts[1].entity_ids.as_deref().unwrap(),
        ["Host:73e7e2de709dff64ef64b1d0c30e67fab63279db"]
    );
    assert_eq!(
        alerts[0].product_name.as_deref(),
        Some("Microsoft Defender for Endpoint")
    );
    assert_eq!(alerts[1].severity.as_deref(), Some("High"));
    // The pod has no entity kind: kept whole and reported.
    assert_eq!(p.unmapped.len(), 1);
    assert_eq!(
        p.unmapped[0].value,
        "#microsoft.graph.security.kubernetesPodEvidence"
    );
    assert_eq!(p.source["unmappedEntities"][0]["name"], "pod-1");
    let n = map_native(ConnectorKind::MicrosoftDefenderXdr, &example()).unwrap();
    assert_eq!(
        serde_json::to_value(&n.incident).unwrap(),
        serde_json::to_value(&p.incident).unwrap()
    );
}

#[test]
fn statuses_verdicts_and_unknowns() {
    let mut item = example();
    item["status"] = json!("redirected");
    item["redirectIncidentId"] = json!("2972400");
    item["classification"] = json!("unknown");
    item["determination"] = json!("unknown");
    item["severity"] = json!("unknown");
    let p = incident(&item).unwrap();
    assert_eq!(p.incident.status.as_deref(), Some("Closed"));
    assert_eq!(p.incident.classification.as_deref(), Some("Undetermined"));
    assert_eq!(p.incident.classification_reason, None);
    assert_eq!(p.incident.severity.as_deref(), Some("Medium"));
    assert_eq!(p.source["status"], "redirected");
    assert_eq!(p.source["redirectIncidentId"], "2972400");
    assert!(p
        .unmapped
        .iter()
        .any(|u| u.field == "severity" && u.value == "unknown"));
    item["status"] = json!("inProgress");
    item["classification"] = json!("unknown");
    let p = incident(&item).unwrap();
    assert_eq!(p.incident.status.as_deref(), Some("Active"));
    assert_eq!(
        p.incident.classification, None,
        "an open incident is not classified yet"
    );
    assert!(
        !p.source.contains_key("status"),
        "inProgress maps back exactly"
    );
    for (name, r) in DETERMINATION {
        item["determination"] = json!(name);
        item["status"] = json!("resolved");
        let p = incident(&item).unwrap();
        assert_eq!(
            p.incident.classification_reason.as_deref(),
            Some(r.as_str()),
            "{name}"
        );
    }
    let e = incident(&json!({"id": "ingest", "lastUpdateDateTime": "2021-01-01T00:00:00Z"}))
        .unwrap_err();
    assert_eq!(e.keys().collect::<Vec<_>>(), ["displayName", "id"]);
}

#[test]
fn writing_back_uses_graphs_vocabulary() {
    let close = |c, r| Change::Status {
        status: S::Closed,
        classification: Some(c),
        reason: Some(r),
        classification_comment: None,
    };
    for (c, r, body) in [
        (
            C::TruePositive,
            R::Malware,
            json!({"status": "resolved", "classification": "truePositive", "determination": "malware"}),
        ),
        (
            C::TruePositive,
            R::Phishing,
            json!({"status": "resolved", "classification": "truePositive", "determination": "phishing"}),
        ),
        (
            C::TruePositive,
            R::SuspiciousActivity,
            json!({"status": "resolved", "classification": "truePositive", "determination": "other"}),
        ),
        (
            C::FalsePositive,
            R::IncorrectAlertLogic,
            json!({"status": "resolved", "classification": "falsePositive", "determination": "notMalicious"}),
        ),
        (
            C::FalsePositive,
            R::InaccurateData,
            json!({"status": "resolved", "classification": "falsePositive", "determination": "notEnoughDataToValidate"}),
        ),
        (
            C::BenignPositive,
            R::SuspiciousButExpected,
            json!({"status": "resolved", "classification": "informationalExpectedActivity", "determination": "confirmedUserActivity"}),
        ),
        (
            C::Undetermined,
            R::Other,
            json!({"status": "resolved", "classification": "unknown", "determination": "unknown"}),
        ),
    ] {
        assert_eq!(patch_body(&close(c, r)).unwrap(), body, "{c:?} {r:?}");
    }
    let reopen = Change::Status {
        status: S::Active,
        classification: None,
        reason: None,
        classification_comment: None,
    };
    assert_eq!(
        patch_body(&reopen).unwrap(),
        json!({"status": "inProgress", "classification": "unknown", "determination": "unknown"})
    );
    let assign = Change::Assign {
        owner: Some(Owner {
            user_id: Some("u-1".into()),
            email: Some("ann@contoso.com".into()),
            display_name: None,
        }),
    };
    assert_eq!(
        patch_body(&assign).unwrap(),
        json!({"assignedTo": "ann@contoso.com"})
    );
    assert_eq!(
        patch_body(&Change::Assign { owner: None }).unwrap(),
        json!({"assignedTo": null})
    );
    assert_eq!(
        patch_body(&Change::Comment {
            id: "c".into(),
            text: "t".into()
        }),
        None
    );
    for (name, s) in STATUS {
        if status_to(s) == name {
            assert_eq!(lookup(&STATUS, status_to(s)), Some(s));
        }
    }
}

#[test]
fn palisades_own_write_back_is_recognized() {
    let doc = crate::mapping::closed_doc(
        C::TruePositive,
        R::SuspiciousActivity,
        Owner {
            user_id: None,
            email: Some("ann@contoso.com".into()),
            display_name: Some("Ann".into()),
        },
    );
    let mut item = example();
    item["status"] = json!("resolved");
    item["classification"] = json!("truePositive");
    item["determination"] = json!("other");
    item["assignedTo"] = json!("ann@contoso.com");
    let mut p = incident(&item).unwrap();
    assert_eq!(p.incident.classification_reason.as_deref(), Some("Other"));
    reconcile(ConnectorKind::MicrosoftDefenderXdr, &mut p, &doc);
    assert_eq!(
        p.incident.classification_reason.as_deref(),
        Some("SuspiciousActivity")
    );
    assert_eq!(
        p.incident.owner.as_ref().unwrap().display_name.as_deref(),
        Some("Ann")
    );
}
