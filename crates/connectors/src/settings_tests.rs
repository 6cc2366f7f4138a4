use super::*;

const SECRET: &str = "Zq8~connector.CLIENT-secret_value";

fn sentinel() -> Value {
    json!({
        "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "clientId": "3f1c2a9e-5b7d-4e8f-9a0b-1c2d3e4f5a6b",
        "subscriptionId": "0b1f6471-1bf0-4dda-aec3-cb9272f09590",
        "resourceGroup": "rg-sec",
        "workspaceName": "law-sentinel"
    })
}

fn errors(e: Error) -> std::collections::BTreeMap<String, Vec<String>> {
    match e {
        Error::Validation(m) => m,
        other => panic!("a validation error, got {other:?}"),
    }
}

#[test]
fn a_sentinel_connector_round_trips_and_shows_only_its_settings() {
    let c = ConnectorConfig::parse(
        ConnectorKind::MicrosoftSentinel,
        Some(&sentinel()),
        Some(&json!({"clientSecret": SECRET})),
    )
    .unwrap();
    let Settings::Sentinel(s) = &c.settings else {
        panic!("sentinel settings")
    };
    assert_eq!(s.app.cloud, AzureCloud::AzurePublic);
    assert_eq!((s.page_size, s.overlap_secs), (200, 30));
    let stored = c.settings.to_json();
    assert_eq!(
        Settings::parse(ConnectorKind::MicrosoftSentinel, Some(&stored)).unwrap(),
        c.settings
    );
    let helper: Vec<(String, String)> = c
        .settings
        .parameters_helper()
        .into_iter()
        .map(|p| (p.property_name.unwrap(), p.property_value.unwrap()))
        .collect();
    let names: Vec<&str> = helper.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "tenantId",
            "clientId",
            "cloud",
            "subscriptionId",
            "resourceGroup",
            "workspaceName",
            "pageSize",
            "overlapSecs"
        ]
    );
    assert!(helper.iter().all(|(_, v)| !v.contains(SECRET)));
    assert!(!format!("{c:?}").contains(SECRET));
    assert!(!stored.to_string().contains(SECRET));
    let sealed = c.credentials.to_sealable_json();
    assert_eq!(
        Credentials::parse(ConnectorKind::MicrosoftSentinel, Some(&sealed)).unwrap(),
        c.credentials
    );
}

#[test]
fn overrides_and_clouds() {
    let mut v = sentinel();
    v["cloud"] = json!("azureusgovernment");
    v["baseUrl"] = json!("http://127.0.0.1:9999/");
    v["authorityUrl"] = json!("https://login.example.test");
    v["pageSize"] = json!(1000);
    v["overlapSecs"] = json!(0);
    let s = Settings::parse(ConnectorKind::MicrosoftSentinel, Some(&v)).unwrap();
    let Settings::Sentinel(s) = &s else { panic!() };
    assert_eq!(s.app.cloud, AzureCloud::AzureUSGovernment);
    assert_eq!(
        url_text(s.base_url.as_ref().unwrap()),
        "http://127.0.0.1:9999"
    );
    assert_eq!(
        s.app.cloud.resource_manager(),
        "https://management.usgovcloudapi.net"
    );
    let d = Settings::parse(
        ConnectorKind::MicrosoftDefenderXdr,
        Some(&json!({"tenantId": "contoso.onmicrosoft.com", "clientId": "3f1c2a9e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"})),
    )
    .unwrap();
    assert_eq!(d.kind(), ConnectorKind::MicrosoftDefenderXdr);
    assert_eq!(d.overlap(), Duration::from_secs(30));
}

#[test]
fn every_bad_field_is_named() {
    let e = errors(
        ConnectorConfig::parse(
            ConnectorKind::MicrosoftSentinel,
            Some(&json!({})),
            Some(&json!({})),
        )
        .unwrap_err(),
    );
    let keys: Vec<&str> = e.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "credentials.clientSecret",
            "settings.clientId",
            "settings.resourceGroup",
            "settings.subscriptionId",
            "settings.tenantId",
            "settings.workspaceName"
        ]
    );
    let bad = json!({
        "tenantId": "not a tenant",
        "clientId": "3f1c2a9e",
        "subscriptionId": 42,
        "resourceGroup": "rg.",
        "workspaceName": "-ws",
        "cloud": "Mars",
        "baseUrl": "ftp://arm.example",
        "authorityUrl": "https://user:pw@login.example/",
        "pageSize": 0,
        "overlapSecs": "30",
        "subscriptionID": "typo",
        "clientSecret": SECRET
    });
    let e = errors(Settings::parse(ConnectorKind::MicrosoftSentinel, Some(&bad)).unwrap_err());
    for k in [
        "settings.tenantId",
        "settings.clientId",
        "settings.subscriptionId",
        "settings.resourceGroup",
        "settings.workspaceName",
        "settings.cloud",
        "settings.baseUrl",
        "settings.authorityUrl",
        "settings.pageSize",
        "settings.overlapSecs",
        "settings.subscriptionID",
        "settings.clientSecret",
    ] {
        assert!(e.contains_key(k), "{k} missing in {e:?}");
    }
    assert!(e["settings.clientSecret"][0].contains("give it in 'credentials'"));
    assert!(e["settings.subscriptionID"][0].contains("Known: tenantId"));
    assert!(
        !format!("{e:?}").contains(SECRET),
        "a secret is never echoed"
    );
}

#[test]
fn credentials_are_checked_without_echoing_them() {
    let long = format!("{SECRET}{}", "x".repeat(2000));
    for (c, key) in [
        (json!({"clientSecret": ""}), "credentials.clientSecret"),
        (json!({"clientSecret": long}), "credentials.clientSecret"),
        (
            json!({"clientSecret": SECRET, "apiKey": SECRET}),
            "credentials.apiKey",
        ),
        (json!("just-a-string"), "credentials"),
    ] {
        let e =
            errors(Credentials::parse(ConnectorKind::MicrosoftDefenderXdr, Some(&c)).unwrap_err());
        assert!(e.contains_key(key), "{key}: {e:?}");
        assert!(!format!("{e:?}").contains(SECRET));
    }
    assert_eq!(
        format!("{:?}", Credentials::ClientSecret(Secret::new(SECRET))),
        "ClientSecret(\"<redacted>\")"
    );
}

#[test]
fn defender_needs_graph_and_every_type_is_available() {
    let e = errors(
        Settings::parse(
            ConnectorKind::MicrosoftDefenderXdr,
            Some(&json!({"tenantId": "contoso.partner.onmschina.cn", "clientId": "3f1c2a9e-5b7d-4e8f-9a0b-1c2d3e4f5a6b", "cloud": "AzureChina", "pageSize": 51})),
        )
        .unwrap_err(),
    );
    assert!(e["settings.cloud"][0].contains("not offered in AzureChina"));
    assert!(e.contains_key("settings.pageSize"));
    let e = errors(Settings::parse(ConnectorKind::SentinelOne, Some(&json!({}))).unwrap_err());
    assert!(e["settings.baseUrl"][0].contains("required"));
    assert!(valid_resource_group("rg-(prod)_1.x"));
    assert!(!valid_resource_group(""));
    assert!(valid_workspace_name("law-1"));
    assert!(!valid_workspace_name("ws"));
}
