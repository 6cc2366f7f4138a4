//! Realistic incidents for the fakes to serve: a small catalogue of attack scenarios, each with
//! the entities (Sentinel) or alert evidence (Defender XDR) it would carry, with randomized
//! users, hosts and addresses. `palisade demo` runs a simulated source that adds one every few
//! seconds; tests and benchmarks use them to fill a fake quickly.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

/// A directory user of a scenario.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub upn: String,
    pub name: String,
    pub sid: String,
    pub aad_id: String,
}

impl User {
    /// The account name and the domain: the two halves of the UPN.
    pub fn account(&self) -> (&str, &str) {
        self.upn.split_once('@').unwrap_or((&self.upn, ""))
    }
}

/// An entity of a scenario, as data both vendors' shapes are built from.
#[derive(Debug, Clone)]
pub(crate) enum Thing {
    User(User),
    Device {
        host: String,
        device_id: String,
    },
    Address(String),
    File {
        name: String,
        dir: String,
        sha256: String,
    },
    Process {
        image: String,
        command_line: String,
        pid: u32,
    },
    Url(String),
    Mailbox {
        address: String,
        name: String,
    },
    Message {
        subject: String,
        sender: String,
        recipient: String,
        network_id: String,
    },
    App {
        name: String,
        app_id: u32,
    },
    Resource {
        id: String,
        name: String,
    },
    Domain(String),
    RegistryKey {
        hive: String,
        key: String,
    },
}

/// One generated incident.
#[derive(Debug, Clone)]
pub(crate) struct Scenario {
    pub title: &'static str,
    pub description: &'static str,
    pub severity: &'static str,
    pub tactic: &'static str,
    pub product: &'static str,
    pub service_source: &'static str,
    pub things: Vec<Thing>,
}

const USERS: [(&str, &str); 8] = [
    ("adele.vance", "Adele Vance"),
    ("alex.wilber", "Alex Wilber"),
    ("diego.siciliani", "Diego Siciliani"),
    ("grady.archie", "Grady Archie"),
    ("isaiah.langer", "Isaiah Langer"),
    ("lynne.robbins", "Lynne Robbins"),
    ("megan.bowen", "Megan Bowen"),
    ("nestor.wilke", "Nestor Wilke"),
];
const HOSTS: [&str; 6] = [
    "fin-wks-0423",
    "hr-lt-0192",
    "dev-vm-0077",
    "srv-sql-02",
    "srv-web-11",
    "exec-lt-0005",
];
const DOMAIN: &str = "contoso.com";

fn hex(rng: &mut StdRng, bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rng.gen::<u8>()))
        .collect()
}

fn guid(rng: &mut StdRng) -> String {
    uuid::Builder::from_random_bytes(rng.gen())
        .into_uuid()
        .to_string()
}

fn user(rng: &mut StdRng) -> Thing {
    let (login, name) = *USERS.choose(rng).expect("users");
    Thing::User(User {
        upn: format!("{login}@{DOMAIN}"),
        name: name.to_string(),
        sid: format!(
            "S-1-5-21-{}-{}",
            rng.gen_range(1000..9999),
            rng.gen_range(1000..9999)
        ),
        aad_id: guid(rng),
    })
}

fn device(rng: &mut StdRng) -> Thing {
    Thing::Device {
        host: HOSTS.choose(rng).expect("hosts").to_string(),
        device_id: hex(rng, 20),
    }
}

fn external_ip(rng: &mut StdRng) -> Thing {
    Thing::Address(format!("203.0.113.{}", rng.gen_range(1..255)))
}

/// A random scenario of the catalogue.
pub(crate) fn scenario(rng: &mut StdRng) -> Scenario {
    let pick = rng.gen_range(0..8);
    let s = |title, description, severity, tactic, product, service_source, things| Scenario {
        title,
        description,
        severity,
        tactic,
        product,
        service_source,
        things,
    };
    match pick {
        0 => {
            let things = vec![user(rng), external_ip(rng)];
            s("Multiple failed sign-ins followed by a successful one", "A password-spray pattern ended in a successful sign-in from an unfamiliar address.", "Medium", "CredentialAccess", "Azure Active Directory Identity Protection", "azureAdIdentityProtection", things)
        }
        1 => {
            let pid = rng.gen_range(1000..20000);
            let things = vec![
                device(rng),
                user(rng),
                Thing::Process {
                    image: "powershell.exe".into(),
                    command_line: "powershell.exe -nop -w hidden -enc SQBFAFgA".into(),
                    pid,
                },
            ];
            s(
                "Suspicious PowerShell command line",
                "An encoded PowerShell command was launched by an Office application.",
                "High",
                "Execution",
                "Microsoft Defender for Endpoint",
                "microsoftDefenderForEndpoint",
                things,
            )
        }
        2 => {
            let (login, name) = *USERS.choose(rng).expect("users");
            let address = format!("{login}@{DOMAIN}");
            let things = vec![
                Thing::Mailbox {
                    address: address.clone(),
                    name: name.into(),
                },
                Thing::Message {
                    subject: "Action required: your password expires today".into(),
                    sender: "it-support@contoso-helpdesk.example".into(),
                    recipient: address,
                    network_id: guid(rng),
                },
                Thing::Url("https://contoso-helpdesk.example/reset".into()),
            ];
            s(
                "Phishing email delivered to a mailbox",
                "A message impersonating the IT helpdesk was delivered and its link was clicked.",
                "Medium",
                "InitialAccess",
                "Microsoft Defender for Office 365",
                "microsoftDefenderForOffice365",
                things,
            )
        }
        3 => {
            let things = vec![
                user(rng),
                Thing::App {
                    name: "Microsoft SharePoint Online".into(),
                    app_id: 20892,
                },
                external_ip(rng),
            ];
            s(
                "Mass download by a single user",
                "A user downloaded an unusual number of files in a short time.",
                "Low",
                "Exfiltration",
                "Microsoft Defender for Cloud Apps",
                "microsoftDefenderForCloudApps",
                things,
            )
        }
        4 => {
            let sha = hex(rng, 32);
            let things = vec![
                device(rng),
                Thing::File {
                    name: "invoice.pdf.locked".into(),
                    dir: "C:\\Users\\Public\\Documents".into(),
                    sha256: sha,
                },
            ];
            s(
                "Ransomware behaviour detected on a device",
                "Files were renamed with a known ransomware extension.",
                "High",
                "Impact",
                "Microsoft Defender for Endpoint",
                "microsoftDefenderForEndpoint",
                things,
            )
        }
        5 => {
            let sub = guid(rng);
            let things = vec![user(rng), Thing::Resource {
                id: format!("/subscriptions/{sub}/resourceGroups/rg-prod/providers/Microsoft.KeyVault/vaults/kv-prod"),
                name: "kv-prod".into(),
            }];
            s(
                "Rare subscription-level operation",
                "A user performed an operation rarely seen in this subscription.",
                "Informational",
                "Persistence",
                "Azure Sentinel",
                "microsoftDefenderForCloud",
                things,
            )
        }
        6 => {
            let things = vec![
                device(rng),
                Thing::Domain("update-check.badcdn.example".into()),
                external_ip(rng),
            ];
            s(
                "Connection to a known command-and-control domain",
                "A device resolved and connected to a domain on a threat-intelligence list.",
                "High",
                "CommandAndControl",
                "Microsoft Defender for Endpoint",
                "microsoftDefenderForEndpoint",
                things,
            )
        }
        _ => {
            let things = vec![
                device(rng),
                Thing::RegistryKey {
                    hive: "HKEY_CURRENT_USER".into(),
                    key: "Software\\Microsoft\\Windows\\CurrentVersion\\Run".into(),
                },
            ];
            s(
                "Registry run key modified",
                "A new autostart entry points to a binary in a temporary folder.",
                "Medium",
                "Persistence",
                "Microsoft Defender for Endpoint",
                "microsoftDefenderForEndpoint",
                things,
            )
        }
    }
}

/// A seeded random source (deterministic per seed).
pub(crate) fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Sentinel's entities for a thing (`kind` and `properties` as the entities API answers): one,
/// or a File and its FileHash.
pub(crate) fn sentinel_entities(t: &Thing) -> Vec<Value> {
    let name = uuid::Uuid::new_v4().to_string();
    let mut out = vec![sentinel_entity(t, &name)];
    if let Thing::File { sha256, .. } = t {
        let hash_name = uuid::Uuid::new_v4().to_string();
        out[0]["properties"]["fileHashEntityIds"] = json!([format!("/entities/{hash_name}")]);
        out.push(json!({"id": format!("/entities/{hash_name}"), "name": hash_name,
                        "type": "Microsoft.SecurityInsights/Entities", "kind": "FileHash",
                        "properties": {"algorithm": "SHA256", "hashValue": sha256, "friendlyName": sha256}}));
    }
    out
}

fn sentinel_entity(t: &Thing, name: &str) -> Value {
    let (kind, props) = match t {
        Thing::User(u) => {
            let (acct, suffix) = u.account();
            (
                "Account",
                json!({"accountName": acct, "upnSuffix": suffix, "aadUserId": u.aad_id, "sid": u.sid, "displayName": u.name, "friendlyName": acct}),
            )
        }
        Thing::Device { host, device_id } => (
            "Host",
            json!({"hostName": host, "dnsDomain": DOMAIN, "azureID": null, "omsAgentID": device_id, "osFamily": "Windows", "friendlyName": host}),
        ),
        Thing::Address(ip) => ("Ip", json!({"address": ip, "friendlyName": ip})),
        Thing::File { name, dir, .. } => (
            "File",
            json!({"fileName": name, "directory": dir, "friendlyName": name}),
        ),
        Thing::Process {
            image,
            command_line,
            pid,
        } => (
            "Process",
            json!({"processId": pid.to_string(), "commandLine": command_line, "friendlyName": image}),
        ),
        Thing::Url(u) => ("Url", json!({"url": u, "friendlyName": u})),
        Thing::Mailbox { address, name } => (
            "Mailbox",
            json!({"mailboxPrimaryAddress": address, "displayName": name, "upn": address, "friendlyName": address}),
        ),
        Thing::Message {
            subject,
            sender,
            recipient,
            network_id,
        } => (
            "MailMessage",
            json!({"networkMessageId": network_id, "subject": subject, "sender": sender, "recipient": recipient, "friendlyName": subject}),
        ),
        Thing::App { name, app_id } => (
            "CloudApplication",
            json!({"appId": app_id, "appName": name, "friendlyName": name}),
        ),
        Thing::Resource { id, name } => (
            "AzureResource",
            json!({"resourceId": id, "friendlyName": name}),
        ),
        Thing::Domain(d) => ("DnsResolution", json!({"domainName": d, "friendlyName": d})),
        Thing::RegistryKey { hive, key } => (
            "RegistryKey",
            json!({"hive": hive, "key": key, "friendlyName": format!("{hive}\\{key}")}),
        ),
    };
    json!({"id": format!("/entities/{name}"), "name": name, "type": "Microsoft.SecurityInsights/Entities", "kind": kind, "properties": props})
}

/// Graph's alert evidence JSON for a thing (`@odata.type` and the type's properties).
pub(crate) fn graph_evidence(t: &Thing, created: &str) -> Value {
    let mut e = match t {
        Thing::User(u) => {
            let (acct, domain) = u.account();
            json!({"@odata.type": "#microsoft.graph.security.userEvidence", "userAccount": {"accountName": acct, "domainName": domain, "userSid": u.sid, "azureAdUserId": u.aad_id, "userPrincipalName": u.upn, "displayName": u.name}})
        }
        Thing::Device { host, device_id } => {
            json!({"@odata.type": "#microsoft.graph.security.deviceEvidence", "mdeDeviceId": device_id, "azureAdDeviceId": null, "deviceDnsName": format!("{host}.{DOMAIN}"), "osPlatform": "Windows11", "healthStatus": "active", "riskScore": "medium", "ipInterfaces": [], "loggedOnUsers": []})
        }
        Thing::Address(ip) => {
            json!({"@odata.type": "#microsoft.graph.security.ipEvidence", "ipAddress": ip, "countryLetterCode": "NL"})
        }
        Thing::File { name, dir, sha256 } => {
            json!({"@odata.type": "#microsoft.graph.security.fileEvidence", "detectionStatus": "detected", "fileDetails": {"sha1": null, "sha256": sha256, "fileName": name, "filePath": dir, "fileSize": 48213, "filePublisher": null, "signer": null, "issuer": null}})
        }
        Thing::Process {
            image,
            command_line,
            pid,
        } => {
            json!({"@odata.type": "#microsoft.graph.security.processEvidence", "processId": pid, "parentProcessId": 668, "processCommandLine": command_line, "detectionStatus": "detected", "imageFile": {"fileName": image, "filePath": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0", "sha256": null, "sha1": null}})
        }
        Thing::Url(u) => json!({"@odata.type": "#microsoft.graph.security.urlEvidence", "url": u}),
        Thing::Mailbox { address, name } => {
            json!({"@odata.type": "#microsoft.graph.security.mailboxEvidence", "primaryAddress": address, "displayName": name, "upn": address})
        }
        Thing::Message {
            subject,
            sender,
            recipient,
            network_id,
        } => {
            json!({"@odata.type": "#microsoft.graph.security.analyzedMessageEvidence", "networkMessageId": network_id, "subject": subject, "recipientEmailAddress": recipient, "p1Sender": {"emailAddress": sender, "displayName": "IT Support"}, "deliveryAction": "delivered", "antiSpamDirection": "inbound", "urlCount": 1})
        }
        Thing::App { name, app_id } => {
            json!({"@odata.type": "#microsoft.graph.security.cloudApplicationEvidence", "appId": app_id, "displayName": name, "instanceId": 0, "instanceName": name, "saasAppId": app_id})
        }
        Thing::Resource { id, name } => {
            json!({"@odata.type": "#microsoft.graph.security.azureResourceEvidence", "resourceId": id, "resourceName": name, "resourceType": "Key Vault"})
        }
        Thing::Domain(d) => {
            json!({"@odata.type": "#microsoft.graph.security.dnsEvidence", "domainName": d})
        }
        Thing::RegistryKey { hive, key } => {
            json!({"@odata.type": "#microsoft.graph.security.registryKeyEvidence", "registryHive": hive, "registryKey": key})
        }
    };
    let obj = e.as_object_mut().expect("an object");
    obj.insert("createdDateTime".into(), json!(created));
    obj.insert("verdict".into(), json!("suspicious"));
    obj.insert("remediationStatus".into(), json!("none"));
    obj.insert("remediationStatusDetails".into(), Value::Null);
    obj.insert("roles".into(), json!([]));
    obj.insert("detailedRoles".into(), json!([]));
    obj.insert("tags".into(), json!([]));
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_carry_things_of_every_shape() {
        let mut r = rng(7);
        let mut kinds = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let s = scenario(&mut r);
            assert!(!s.things.is_empty());
            for t in &s.things {
                for e in sentinel_entities(t) {
                    kinds.insert(e["kind"].as_str().unwrap().to_string());
                }
                assert!(graph_evidence(t, "2026-01-01T00:00:00Z")["@odata.type"]
                    .as_str()
                    .unwrap()
                    .starts_with("#microsoft.graph.security."));
            }
        }
        assert_eq!(kinds.len(), 13, "{kinds:?}");
    }
}
