use super::access::*;
use super::arm::*;
use super::*;
use serde_json::json;

#[test]
fn rule_ids_parse_in_any_case() {
    let id = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourcegroups/rg-sec/providers/microsoft.operationalinsights/workspaces/ws-1/providers/Microsoft.SecurityInsights/alertRules/73e01a99-5cd7-4139-a149-9f2736ff2ab5";
    let a = RuleAddress::parse(id).unwrap();
    assert_eq!(a.resource_group, "rg-sec");
    assert_eq!(a.workspace, "ws-1");
    assert_eq!(a.rule, "73e01a99-5cd7-4139-a149-9f2736ff2ab5");
    assert_eq!(RuleAddress::parse(&id[1..]).unwrap(), a);
    for bad in [
        "",
        "73e01a99-5cd7-4139-a149-9f2736ff2ab5",
        &id.replace("alertRules", "watchlists"),
        &id.replace("rg-sec", "rg/../x"),
        &id.replace("0b1f6471-1bf0-4dda-aec3-cb9272f09590", "sub"),
        &format!("{id}/extra"),
    ] {
        assert!(RuleAddress::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn permissions_follow_actions_minus_not_actions() {
    let perms = vec![
        json!({"actions": ["*/read"], "notActions": []}),
        json!({"actions": ["Microsoft.SecurityInsights/*"], "notActions": ["Microsoft.SecurityInsights/alertRules/write"]}),
    ];
    assert!(allowed(&perms, "Microsoft.SecurityInsights/incidents/read"));
    assert!(allowed(
        &perms,
        "microsoft.operationalinsights/workspaces/read"
    ));
    assert!(allowed(
        &perms,
        "Microsoft.SecurityInsights/incidents/write"
    ));
    assert!(!allowed(
        &perms,
        "Microsoft.SecurityInsights/alertRules/write"
    ));
    assert!(allowed(&[json!({"actions": ["*"]})], "Anything/at/all"));
    assert!(!allowed(&[], "Microsoft.SecurityInsights/incidents/read"));
    assert!(glob("a*c*e", "abcde") && !glob("a*c*f", "abcde"));
}

#[test]
fn nsg_rules_merge_singular_and_plural_fields() {
    let nsg = network_security_group(&json!({
        "id": "/subscriptions/s/resourceGroups/rg-net/providers/Microsoft.Network/networkSecurityGroups/nsg-web",
        "name": "nsg-web", "location": "westeurope",
        "properties": {
            "provisioningState": "Succeeded",
            "securityRules": [{"name": "allow-https", "properties": {
                "priority": 100, "direction": "Inbound", "access": "Allow", "protocol": "Tcp",
                "sourceAddressPrefix": "*", "sourcePortRange": "*",
                "destinationAddressPrefixes": ["10.0.0.4", "10.0.0.5"], "destinationPortRange": "443"}}],
            "networkInterfaces": [{"id": "/nic/1"}]
        }
    }));
    assert_eq!(nsg.resource_group.as_deref(), Some("rg-net"));
    let r = &nsg.security_rules[0];
    assert_eq!(r.source_address_prefixes, vec!["*"]);
    assert_eq!(r.destination_address_prefixes, vec!["10.0.0.4", "10.0.0.5"]);
    assert_eq!(r.destination_port_ranges, vec!["443"]);
    assert_eq!(nsg.network_interface_ids, vec!["/nic/1"]);
    assert!(nsg.subnet_ids.is_empty());
}
