//! Realistic sample incidents for `palisade demo` and the benchmarks: titles, entities, alerts
//! and evidence shaped like each source's real ones.

use chrono::{DateTime, Duration, Utc};
use palisade_types::incidents::IncidentSource;
use rand::seq::SliceRandom;
use rand::Rng;
use serde_json::{json, Value};

struct Profile {
    titles: &'static [(&'static str, &'static str)],
    products: &'static [&'static str],
    vendor: &'static str,
    evidence: &'static [&'static str],
    url: &'static str,
}

fn profile(source: IncidentSource) -> Profile {
    match source {
        IncidentSource::Sentinel => Profile {
            titles: &[
                ("Suspicious sign-in from anonymous IP address", "InitialAccess"),
                ("Impossible travel activity", "InitialAccess"),
                ("Brute force attack against Azure Portal", "CredentialAccess"),
                ("Mass download by a single user", "Exfiltration"),
                ("Rare subscription-level operations in Azure", "Persistence"),
            ],
            products: &["Microsoft Sentinel", "Microsoft Entra ID Protection", "Microsoft Defender for Cloud Apps"],
            vendor: "Microsoft",
            evidence: &["TimeGenerated", "UserPrincipalName", "IPAddress", "Location", "ResultType"],
            url: "https://portal.azure.com/#asset/Microsoft_Azure_Security_Insights/Incident/",
        },
        IncidentSource::DefenderXDR => Profile {
            titles: &[
                ("Multi-stage incident involving Initial access & Lateral movement on one endpoint", "LateralMovement"),
                ("Suspicious PowerShell command line", "Execution"),
                ("Ransomware activity detected on one endpoint", "Impact"),
                ("Phishing email delivered to a user mailbox", "InitialAccess"),
                ("Credential theft activity (Mimikatz) on one endpoint", "CredentialAccess"),
            ],
            products: &["Microsoft Defender for Endpoint", "Microsoft Defender for Office 365", "Microsoft Defender for Identity"],
            vendor: "Microsoft",
            evidence: &["Timestamp", "DeviceName", "AccountName", "ProcessCommandLine", "SHA256"],
            url: "https://security.microsoft.com/incidents/",
        },
        IncidentSource::CrowdStrike => Profile {
            titles: &[
                ("Falcon OverWatch: hands-on-keyboard activity", "Discovery"),
                ("Suspicious process: rundll32 loading an unsigned DLL", "DefenseEvasion"),
                ("Machine learning: high-confidence malicious file", "Execution"),
                ("Credential dumping via LSASS access", "CredentialAccess"),
                ("Intel detection: known malicious domain contacted", "CommandAndControl"),
            ],
            products: &["CrowdStrike Falcon Insight", "CrowdStrike Falcon OverWatch"],
            vendor: "CrowdStrike",
            evidence: &["timestamp", "hostname", "user_name", "cmdline", "sha256"],
            url: "https://falcon.crowdstrike.com/activity/detections/detail/",
        },
        IncidentSource::QRadar => Profile {
            titles: &[
                ("Multiple Login Failures for the Same User", "CredentialAccess"),
                ("Excessive Firewall Denies Between Hosts", "Discovery"),
                ("Potential Data Exfiltration: large outbound transfer", "Exfiltration"),
                ("Local Privilege Escalation Attempt", "PrivilegeEscalation"),
                ("Communication with a Watchlisted Host", "CommandAndControl"),
            ],
            products: &["IBM QRadar SIEM"],
            vendor: "IBM",
            evidence: &["startTime", "sourceIP", "destinationIP", "username", "eventCount"],
            url: "https://qradar.example.internal/console/qradar/jsp/QRadar.jsp?appName=Sem&pageId=OffenseSummary&summaryId=",
        },
        IncidentSource::Splunk => Profile {
            titles: &[
                ("Notable: Excessive Failed Logins", "CredentialAccess"),
                ("Notable: New Local Admin Account Created", "Persistence"),
                ("Notable: Suspicious Windows Registry Activity", "DefenseEvasion"),
                ("ESCU - Anomalous usage of 7zip", "Collection"),
                ("Notable: Web Server Brute Force", "InitialAccess"),
            ],
            products: &["Splunk Enterprise Security"],
            vendor: "Splunk",
            evidence: &["_time", "src", "dest", "user", "signature"],
            url: "https://splunk.example.internal/en-US/app/SplunkEnterpriseSecuritySuite/incident_review?event_id=",
        },
        IncidentSource::SentinelOne => Profile {
            titles: &[
                ("Threat detected: Ransom.Win32.LockBit", "Impact"),
                ("Storyline: Office macro spawned cmd.exe", "Execution"),
                ("Malicious PowerShell behavior", "Execution"),
                ("Potentially unwanted application detected", "Persistence"),
                ("Deep Visibility: beaconing to a rare domain", "CommandAndControl"),
            ],
            products: &["SentinelOne Singularity XDR"],
            vendor: "SentinelOne",
            evidence: &["createdAt", "agentComputerName", "fileName", "fileSha256", "mitigationStatus"],
            url: "https://usea1.sentinelone.net/incidents/threats/",
        },
    }
}

const FIRST: &[&str] = &[
    "jane", "sam", "priya", "diego", "olga", "kenji", "amara", "liam", "noor", "tomas",
];
const LAST: &[&str] = &[
    "doe",
    "rivera",
    "natarajan",
    "alvarez",
    "petrova",
    "sato",
    "okafor",
    "walsh",
    "haddad",
    "novak",
];
const HOSTS: &[&str] = &["web", "sql", "dc", "fs", "app", "vpn", "wks", "mail"];
const PROCESSES: &[&str] = &[
    "powershell.exe",
    "rundll32.exe",
    "cmd.exe",
    "mshta.exe",
    "wscript.exe",
    "7z.exe",
];
const DOMAINS: &[&str] = &[
    "update-cdn.net",
    "files-share.io",
    "login-verify.co",
    "telemetry-sync.org",
];

fn hex(rng: &mut impl Rng, n: usize) -> String {
    (0..n)
        .map(|_| format!("{:x}", rng.gen_range(0..16u8)))
        .collect()
}

fn ip(rng: &mut impl Rng) -> String {
    format!(
        "{}.{}.{}.{}",
        rng.gen_range(23..223),
        rng.gen_range(0..256),
        rng.gen_range(0..256),
        rng.gen_range(1..255)
    )
}

/// One incident in Palisade's ingest model, with its `id`.
pub fn incident(
    rng: &mut impl Rng,
    source: IncidentSource,
    id: &str,
    tenant_domain: &str,
    created_at: DateTime<Utc>,
) -> Value {
    let p = profile(source);
    let (title, tactic) = *p.titles.choose(rng).expect("titles");
    let severity = *["Informational", "Low", "Medium", "Medium", "High", "High"]
        .choose(rng)
        .expect("severities");
    let status = *["New", "New", "Active", "Closed"]
        .choose(rng)
        .expect("statuses");
    let user = format!(
        "{}.{}",
        FIRST.choose(rng).unwrap(),
        LAST.choose(rng).unwrap()
    );
    let upn = format!("{user}@{tenant_domain}");
    let host = format!("{}-{:02}", HOSTS.choose(rng).unwrap(), rng.gen_range(1..40));
    let address = ip(rng);
    let sha256 = hex(rng, 64);
    let process = *PROCESSES.choose(rng).unwrap();
    let domain = *DOMAINS.choose(rng).unwrap();
    let mut entities = vec![
        json!({"id": "account", "kind": "Account", "displayName": user,
               "properties": {"upn": upn, "objectId": uuid::Uuid::from_u128(rng.gen()).to_string()}}),
        json!({"id": "host", "kind": "Host", "displayName": host,
               "properties": {"hostName": host, "deviceId": hex(rng, 40), "osFamily": "Windows"}}),
        json!({"id": "ip", "kind": "Ip", "displayName": address, "properties": {"address": address}}),
    ];
    if rng.gen_bool(0.6) {
        entities.push(json!({"id": "process", "kind": "Process", "displayName": process,
                             "properties": {"commandLine": format!("{process} -enc {}", hex(rng, 24))}}));
        entities.push(
            json!({"id": "hash", "kind": "FileHash", "displayName": sha256,
                             "properties": {"algorithm": "SHA256", "value": sha256}}),
        );
    }
    if rng.gen_bool(0.3) {
        let url = format!("https://{domain}/{}", hex(rng, 8));
        entities.push(
            json!({"id": "url", "kind": "Url", "displayName": url, "properties": {"url": url}}),
        );
    }
    let alert_count = rng.gen_range(1..4);
    let alerts: Vec<Value> = (0..alert_count)
        .map(|i| {
            json!({
                "id": format!("{id}-alert-{}", i + 1),
                "title": if i == 0 { title.to_string() } else { format!("{title} (related activity)") },
                "severity": severity,
                "productName": p.products.choose(rng).unwrap(),
                "vendorName": p.vendor,
                "status": "New",
                "createdAt": (created_at - Duration::minutes(5 * (i as i64 + 1))).to_rfc3339(),
                "entityIds": ["account", "host"],
            })
        })
        .collect();
    let rows: Vec<Value> = (0..rng.gen_range(1..4))
        .map(|i| {
            json!([
                (created_at - Duration::minutes(i * 3)).to_rfc3339(),
                match i % 2 {
                    0 => Value::from(host.clone()),
                    _ => Value::from(upn.clone()),
                },
                address,
                process,
                sha256,
            ])
        })
        .collect();
    let mut v = json!({
        "id": id,
        "title": title,
        "description": format!("{title} involving {user} on {host} ({address})."),
        "severity": severity,
        "status": status,
        "tactics": [tactic],
        "labels": if rng.gen_bool(0.2) { json!(["vip"]) } else { json!([]) },
        "createdAt": created_at.to_rfc3339(),
        "updatedAt": created_at.to_rfc3339(),
        "firstActivityAt": (created_at - Duration::minutes(20)).to_rfc3339(),
        "lastActivityAt": created_at.to_rfc3339(),
        "providerUrl": format!("{}{id}", p.url),
        "entities": entities,
        "alerts": alerts,
        "evidence": {"columns": p.evidence, "rows": rows},
    });
    if status != "New" {
        let owner = format!(
            "{}.{}",
            FIRST.choose(rng).unwrap(),
            LAST.choose(rng).unwrap()
        );
        v["owner"] = json!({"email": format!("{owner}@soc.contoso.com"), "displayName": owner});
    }
    if status == "Closed" {
        let (c, r) = *[
            ("TruePositive", "SuspiciousActivity"),
            ("FalsePositive", "InaccurateData"),
            ("BenignPositive", "SuspiciousButExpected"),
        ]
        .choose(rng)
        .unwrap();
        v["classification"] = json!(c);
        v["classificationReason"] = json!(r);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn every_source_yields_valid_incidents() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        for source in IncidentSource::ALL {
            for i in 0..20 {
                let v = incident(
                    &mut rng,
                    *source,
                    &format!("X-{i}"),
                    "fabrikam.com",
                    Utc::now(),
                );
                let input: palisade_types::incidents::IncidentInput =
                    serde_json::from_value(v).unwrap();
                let mut val = palisade_domain::Validator::new();
                assert!(palisade_domain::incident::normalize(&mut val, "", &input).is_some());
                assert!(val.is_empty(), "{source:?}: {:?}", val.finish());
            }
        }
    }
}
