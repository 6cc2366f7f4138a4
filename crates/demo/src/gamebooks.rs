//! The demo's SOC content, as request bodies of the public API (so they are validated exactly
//! as a client's would be): a playbook catalogue, gamebook rules for a workspace, and service
//! tickets of three PSAs with multi-line notes.

use serde_json::{json, Value};
use uuid::Uuid;

/// `POST /gamebooks/playbooks` bodies, by a short name the rules refer to.
pub fn playbooks() -> Vec<(&'static str, Value)> {
    vec![
        (
            "page",
            json!({"name": "Page the on-call analyst",
                   "description": "Leaves a note that the on-call analyst was paged.\nRuns for every matching incident.",
                   "action": {"type": "AddComment",
                              "message": "Paged the on-call analyst for incident {{incident.number}}: {{incident.title}} ({{incident.severity}})."}}),
        ),
        (
            "label",
            json!({"name": "Label as ransomware", "action": {"type": "AddLabel", "label": "ransomware"}}),
        ),
        (
            "escalate",
            json!({"name": "Escalate to High", "action": {"type": "SetSeverity", "severity": "High"}}),
        ),
        (
            "tier2",
            json!({"name": "Assign to the Tier 2 queue",
                   "action": {"type": "Assign", "email": "tier2@contoso.com", "displayName": "Tier 2 queue"}}),
        ),
        (
            "isolate",
            json!({"name": "Isolate host", "entityType": "Host", "isAdminRequired": true,
                   "description": "Asks the endpoint team to isolate each host of the incident. Needs an Owner's approval.",
                   "parameters": {"team": "Endpoint team"},
                   "action": {"type": "AddComment",
                              "message": "Isolation of {{entity.displayName}} requested from the {{parameters.team}}."}}),
        ),
    ]
}

/// `POST /workspaces/{ws}/gamebooks/rules` bodies, given the ids of [`playbooks`] by name.
pub fn rules(playbook: impl Fn(&str) -> Uuid) -> Vec<Value> {
    vec![
        json!({"title": "Ransomware response", "matchType": "Contains", "titlePattern": "ransom",
               "playbookIds": [playbook("label"), playbook("escalate"), playbook("page")],
               "isAutoRun": true}),
        json!({"title": "Phishing triage", "matchType": "Contains", "titlePattern": "phish",
               "playbookIds": [playbook("tier2"), playbook("page")], "isAutoRun": true}),
        json!({"title": "Host compromise", "matchType": "Regex",
               "titlePattern": "(?i)credential|malicious|mimikatz|lsass",
               "severities": ["High", "Medium"],
               "playbookIds": [playbook("isolate")], "isAutoRun": false}),
    ]
}

/// `POST /workspaces/{ws}/tickets` bodies for a customer's domain.
pub fn tickets(domain: &str) -> Vec<Value> {
    vec![
        json!({"ticketId": "SEC-101", "groupingId": domain,
               "jiraTicket": {"id": "10101", "number": "SEC-101", "summary": "Ransomware on a file server",
                              "description": format!("Escalated by the SOC.\n\nCustomer: {domain}\nSee the linked incident for the timeline."),
                              "priority": {"id": "1", "name": "Critical"},
                              "currentStatus": {"id": "3", "name": "In Progress"},
                              "project": {"id": "100", "name": "Security", "key": "SEC"}}}),
        json!({"ticketId": "INC0042001", "groupingId": domain,
               "serviceNowTicket": {"id": "6f1d2c", "number": "INC0042001", "urgency": "High", "state": "New",
                                    "shortDescription": "Phishing email reported by a user",
                                    "description": "A user forwarded a suspicious invoice.\nThe sender domain was registered yesterday.",
                                    "comments": [{"sysId": "c1", "value": "[ticket note by dispatcher]\n\nUser did not open the attachment."}]}}),
        json!({"ticketId": "T20261203.0007", "groupingId": domain,
               "autotaskTicket": {"id": 7, "number": "T20261203.0007", "title": "Impossible travel review",
                                  "description": "Sign-ins from two countries within an hour.",
                                  "priority": "Medium",
                                  "notes": [{"id": 1, "title": "Call with the customer",
                                             "description": "Customer confirmed the trip.\n\tClosing as benign after MFA review."}]}}),
    ]
}
