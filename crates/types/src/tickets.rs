//! Service tickets (facts §9, `docs/tickets.md`): one sub-object per PSA, of which exactly
//! one is set.

use crate::examples::example;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::incidents::IncidentSource;
use crate::spelling::{Spelled, TicketPriority};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutotaskNote {
    pub id: Option<i64>,
    pub description: Option<String>,
    pub ticket_id: Option<i64>,
    pub title: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutotaskTicket {
    pub id: Option<i64>,
    pub company_id: Option<i64>,
    pub project_id: Option<i64>,
    pub assigned_resource_id: Option<i64>,
    pub assigned_resource_role_id: Option<i64>,
    pub billing_code_id: Option<i64>,
    pub category_id: Option<i64>,
    pub number: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<i64>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub priority: Option<String>,
    pub status: Option<i64>,
    pub queue_id: Option<i64>,
    pub due_date_time: Option<DateTime<Utc>>,
    pub notes: Option<Vec<AutotaskNote>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceNowComment {
    pub sys_id: Option<String>,
    pub element_id: Option<String>,
    pub value: Option<String>,
    pub created_on: Option<String>,
    pub created_by: Option<String>,
    pub element: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceNowTicket {
    pub id: Option<String>,
    pub description: Option<String>,
    pub short_description: Option<String>,
    pub number: Option<String>,
    pub state: Option<String>,
    pub urgency: Option<String>,
    pub comments: Option<Vec<ServiceNowComment>>,
}

/// `{id, name}` reference used by Jira and ConnectWise.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamedRef {
    pub id: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JiraUser {
    pub account_id: Option<String>,
    pub display_name: Option<String>,
    pub active: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JiraProject {
    pub id: Option<String>,
    pub name: Option<String>,
    pub key: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JiraTicket {
    pub id: Option<String>,
    pub description: Option<String>,
    pub summary: Option<String>,
    pub number: Option<String>,
    pub current_status: Option<NamedRef>,
    pub priority: Option<NamedRef>,
    pub assignee: Option<JiraUser>,
    pub project: Option<JiraProject>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectWiseCompany {
    pub id: Option<i64>,
    pub identifier: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectWiseNote {
    pub id: Option<i64>,
    pub text: Option<String>,
    pub created_by: Option<String>,
    pub date_created: Option<String>,
}

/// A ConnectWise Manage service ticket (Palisade's design, in the documented style).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectWiseTicket {
    pub id: Option<i64>,
    pub summary: Option<String>,
    pub initial_description: Option<String>,
    pub number: Option<String>,
    pub board: Option<NamedRef>,
    pub status: Option<NamedRef>,
    pub priority: Option<NamedRef>,
    pub company: Option<ConnectWiseCompany>,
    pub contact_name: Option<String>,
    pub notes: Option<Vec<ConnectWiseNote>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HaloPsaNote {
    pub id: Option<i64>,
    pub note: Option<String>,
    pub who: Option<String>,
    pub date_time: Option<String>,
}

/// A HaloPSA ticket (Palisade's design, in the documented style).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HaloPsaTicket {
    pub id: Option<i64>,
    pub summary: Option<String>,
    pub details: Option<String>,
    pub number: Option<String>,
    pub ticket_type_id: Option<i64>,
    pub status_id: Option<i64>,
    pub priority_id: Option<i64>,
    pub priority: Option<String>,
    pub client_id: Option<i64>,
    pub client_name: Option<String>,
    pub agent_id: Option<i64>,
    pub notes: Option<Vec<HaloPsaNote>>,
}

/// The incident a ticket is linked to (link body and `linkedIncidents[]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketIncidentRef {
    #[schemars(required)]
    pub id: Option<String>,
    #[schemars(with = "Option<Spelled<IncidentSource>>")]
    pub source: Option<String>,
    #[schemars(with = "Option<Uuid>")]
    pub workspace_id: Option<String>,
    /// The incident number (string or integer on input; a string on output).
    pub number: Option<serde_json::Value>,
}

/// `ServiceTicketDto`: exactly one of the PSA sub-objects is set.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("ServiceTicket"))]
pub struct ServiceTicket {
    /// Palisade's id of the record.
    pub id: Uuid,
    /// The PSA's ticket id (what link, unlink and priority address).
    pub ticket_id: String,
    pub workspace_id: Uuid,
    /// `Autotask`, `ServiceNow`, `Jira`, `ConnectWise` or `HaloPSA`.
    pub psa: String,
    pub number: Option<String>,
    pub grouping_id: Option<String>,
    pub priority: Option<String>,
    pub linked_incidents: Vec<LinkedIncident>,
    pub created_at: DateTime<Utc>,
    pub last_modified_at: DateTime<Utc>,
    pub autotask_ticket: Option<AutotaskTicket>,
    pub service_now_ticket: Option<ServiceNowTicket>,
    pub jira_ticket: Option<JiraTicket>,
    pub connect_wise_ticket: Option<ConnectWiseTicket>,
    pub halo_psa_ticket: Option<HaloPsaTicket>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkedIncident {
    pub id: String,
    pub source: IncidentSource,
    pub workspace_id: Uuid,
    pub number: String,
    pub linked_at: DateTime<Utc>,
}

/// Body of `POST /workspaces/{ws}/tickets`: create or replace the ticket `ticketId`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("ServiceTicketInput"))]
pub struct ServiceTicketInput {
    #[schemars(required)]
    pub ticket_id: Option<String>,
    /// Default: the PSA ticket's own number.
    pub number: Option<String>,
    pub grouping_id: Option<String>,
    /// Default: the PSA ticket's own priority.
    #[schemars(with = "Option<Spelled<TicketPriority>>")]
    pub priority: Option<String>,
    pub autotask_ticket: Option<AutotaskTicket>,
    pub service_now_ticket: Option<ServiceNowTicket>,
    pub jira_ticket: Option<JiraTicket>,
    pub connect_wise_ticket: Option<ConnectWiseTicket>,
    pub halo_psa_ticket: Option<HaloPsaTicket>,
}

/// `LinkServiceTicketRequest` (and, with the same fields, `UnlinkServiceTicketRequest`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("LinkServiceTicketRequest"))]
pub struct LinkServiceTicketRequest {
    #[schemars(required)]
    pub ticket_id: Option<String>,
    #[schemars(required)]
    pub incident: Option<TicketIncidentRef>,
}

/// Body of `PUT /workspaces/{ws}/tickets/priority`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("TicketPriorityRequest"))]
pub struct TicketPriorityRequest {
    #[schemars(required)]
    pub ticket_id: Option<String>,
    /// `Critical`, `High`, `Medium` or `Low`.
    #[schemars(with = "Spelled<TicketPriority>")]
    pub priority: Option<String>,
}
