//! ARM's resources as Palisade's shapes (`palisade_types::azure`, `docs/azure.md`).

use std::collections::BTreeMap;

use palisade_types::azure::{
    AnalyticsRule, AzureResourceGroup, AzureSubscription, LogAnalyticsWorkspace,
    NetworkSecurityGroup, NetworkSecurityRule,
};
use serde_json::Value;

// ---------------------------------------------------------------- ARM JSON → Palisade shapes

pub(super) fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

pub(super) fn tags(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let v = v
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string());
                    (k.clone(), v)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The segment after `key` in an ARM id (`resourceGroups` → the group's name).
pub(super) fn id_part(id: &str, key: &str) -> Option<String> {
    let mut segs = id.split('/');
    while let Some(s) = segs.next() {
        if s.eq_ignore_ascii_case(key) {
            return segs.next().map(str::to_string);
        }
    }
    None
}

pub(super) fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// ARM's plural list plus its singular field (when set).
pub(super) fn merged(props: &Value, plural: &str, singular: &str) -> Vec<String> {
    let mut out = strings(&props[plural]);
    if let Some(one) = props[singular].as_str().filter(|s| !s.is_empty()) {
        if !out.iter().any(|o| o == one) {
            out.insert(0, one.to_string());
        }
    }
    out
}

pub(super) fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().filter_map(|x| text(&x["id"])).collect())
        .unwrap_or_default()
}

pub(super) fn subscription(v: &Value) -> AzureSubscription {
    let subscription_id = text(&v["subscriptionId"])
        .or_else(|| text(&v["id"]).and_then(|id| id_part(&id, "subscriptions")))
        .unwrap_or_default();
    AzureSubscription {
        id: text(&v["id"]).unwrap_or_else(|| format!("/subscriptions/{subscription_id}")),
        subscription_id,
        display_name: text(&v["displayName"]).unwrap_or_default(),
        state: text(&v["state"]).unwrap_or_default(),
        tenant_id: text(&v["tenantId"]),
        authorization_source: text(&v["authorizationSource"]),
        tags: tags(&v["tags"]),
    }
}

pub(super) fn resource_group(v: &Value) -> AzureResourceGroup {
    AzureResourceGroup {
        id: text(&v["id"]).unwrap_or_default(),
        name: text(&v["name"]).unwrap_or_default(),
        location: text(&v["location"]).unwrap_or_default(),
        provisioning_state: text(&v["properties"]["provisioningState"]),
        managed_by: text(&v["managedBy"]),
        tags: tags(&v["tags"]),
    }
}

pub(super) fn security_rule(v: &Value) -> NetworkSecurityRule {
    let p = &v["properties"];
    NetworkSecurityRule {
        id: text(&v["id"]),
        name: text(&v["name"]).unwrap_or_default(),
        priority: p["priority"].as_i64(),
        direction: text(&p["direction"]),
        access: text(&p["access"]),
        protocol: text(&p["protocol"]),
        source_address_prefixes: merged(p, "sourceAddressPrefixes", "sourceAddressPrefix"),
        source_port_ranges: merged(p, "sourcePortRanges", "sourcePortRange"),
        destination_address_prefixes: merged(
            p,
            "destinationAddressPrefixes",
            "destinationAddressPrefix",
        ),
        destination_port_ranges: merged(p, "destinationPortRanges", "destinationPortRange"),
        description: text(&p["description"]),
    }
}

pub(super) fn network_security_group(v: &Value) -> NetworkSecurityGroup {
    let id = text(&v["id"]).unwrap_or_default();
    let p = &v["properties"];
    NetworkSecurityGroup {
        resource_group: id_part(&id, "resourceGroups"),
        name: text(&v["name"]).unwrap_or_default(),
        location: text(&v["location"]),
        provisioning_state: text(&p["provisioningState"]),
        security_rules: p["securityRules"]
            .as_array()
            .map(|a| a.iter().map(security_rule).collect())
            .unwrap_or_default(),
        network_interface_ids: ids(&p["networkInterfaces"]),
        subnet_ids: ids(&p["subnets"]),
        tags: tags(&v["tags"]),
        id,
    }
}

pub(super) fn workspace(v: &Value) -> LogAnalyticsWorkspace {
    let id = text(&v["id"]).unwrap_or_default();
    let p = &v["properties"];
    LogAnalyticsWorkspace {
        subscription_id: id_part(&id, "subscriptions"),
        resource_group: id_part(&id, "resourceGroups"),
        name: text(&v["name"]).unwrap_or_default(),
        location: text(&v["location"]),
        customer_id: text(&p["customerId"]),
        provisioning_state: text(&p["provisioningState"]),
        sku: text(&p["sku"]["name"]),
        retention_in_days: p["retentionInDays"].as_i64(),
        created_date: text(&p["createdDate"]),
        tags: tags(&v["tags"]),
        id,
    }
}

pub(super) fn analytics_rule(v: &Value, changed: bool) -> AnalyticsRule {
    let p = &v["properties"];
    AnalyticsRule {
        id: text(&v["id"]).unwrap_or_default(),
        name: text(&v["name"]).unwrap_or_default(),
        kind: text(&v["kind"]),
        display_name: text(&p["displayName"]),
        enabled: p["enabled"].as_bool().unwrap_or(false),
        severity: text(&p["severity"]),
        etag: text(&v["etag"]),
        last_modified_utc: text(&p["lastModifiedUtc"]),
        changed,
    }
}
