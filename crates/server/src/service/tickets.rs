//! Service tickets: create or replace, link and unlink incidents, priority, search.

use palisade_domain::time::from_micros;
use palisade_domain::{Error, Result, Validator};
use palisade_store::{IncidentKey, Store, TicketFields, TicketRow, WorkspaceId};
use palisade_types::incidents::IncidentSource;
use palisade_types::tickets::*;
use serde_json::Value;
use uuid::Uuid;

use crate::access::WorkspaceCtx;

const MAX_TICKET_ID: usize = 200;
const SEARCH_LIMIT: i64 = 100;
/// The priorities, in the order the OpenAPI document lists them.
const PRIORITIES: &[&str] = palisade_types::spelling::TicketPriority::VALUES;

#[derive(Clone)]
pub struct TicketService {
    store: Store,
}

fn parse_priority(v: &mut Validator, path: &str, raw: Option<&str>) -> Option<String> {
    let raw = raw?;
    let found = PRIORITIES
        .iter()
        .find(|p| p.eq_ignore_ascii_case(raw.trim()));
    if found.is_none() {
        v.add(path, format!("Allowed: {}.", PRIORITIES.join(", ")));
    }
    found.map(|p| p.to_string())
}

fn not_found(id: &str) -> Error {
    Error::NotFound {
        detail: format!("Service ticket '{id}' not found."),
        target: Some("ticketId".into()),
    }
}

/// The PSA sub-object a ticket carries, as JSON under its wire name.
fn psa_doc(t: &ServiceTicketInput) -> Vec<(&'static str, &'static str, Value)> {
    let mut out = Vec::new();
    let mut put = |name, field, v: Option<Value>| {
        if let Some(v) = v {
            out.push((name, field, v));
        }
    };
    let ser = |x| serde_json::to_value(x).ok();
    put(
        "Autotask",
        "autotaskTicket",
        t.autotask_ticket.as_ref().and_then(ser),
    );
    put(
        "ServiceNow",
        "serviceNowTicket",
        t.service_now_ticket
            .as_ref()
            .and_then(|x| serde_json::to_value(x).ok()),
    );
    put(
        "Jira",
        "jiraTicket",
        t.jira_ticket
            .as_ref()
            .and_then(|x| serde_json::to_value(x).ok()),
    );
    put(
        "ConnectWise",
        "connectWiseTicket",
        t.connect_wise_ticket
            .as_ref()
            .and_then(|x| serde_json::to_value(x).ok()),
    );
    put(
        "HaloPSA",
        "haloPsaTicket",
        t.halo_psa_ticket
            .as_ref()
            .and_then(|x| serde_json::to_value(x).ok()),
    );
    out
}

/// The PSA ticket's own number and priority.
fn own_number_and_priority(psa: &str, doc: &Value) -> (Option<String>, Option<String>) {
    let s = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let get = |path: &[&str]| {
        let mut cur = doc;
        for p in path {
            cur = cur.get(p)?;
        }
        s(cur)
    };
    match psa {
        "Autotask" => (get(&["number"]), get(&["priority"])),
        "ServiceNow" => (get(&["number"]), get(&["urgency"])),
        "Jira" => (get(&["number"]), get(&["priority", "name"])),
        "ConnectWise" => (
            get(&["number"]).or(get(&["id"])),
            get(&["priority", "name"]),
        ),
        _ => (get(&["number"]).or(get(&["id"])), get(&["priority"])),
    }
}

/// Writes the priority into the PSA ticket's own priority field.
fn set_own_priority(psa: &str, doc: &mut Value, priority: &str) {
    let Some(obj) = doc.as_object_mut() else {
        return;
    };
    let named = |obj: &mut serde_json::Map<String, Value>| {
        let entry = obj
            .entry("priority")
            .or_insert_with(|| Value::Object(Default::default()));
        if !entry.is_object() {
            *entry = Value::Object(Default::default());
        }
        entry
            .as_object_mut()
            .expect("object")
            .insert("name".into(), Value::String(priority.into()));
    };
    match psa {
        "Autotask" | "HaloPSA" => {
            obj.insert("priority".into(), Value::String(priority.into()));
        }
        "ServiceNow" => {
            obj.insert("urgency".into(), Value::String(priority.into()));
        }
        _ => named(obj),
    }
}

fn field_of(psa: &str) -> &'static str {
    match psa {
        "Autotask" => "autotaskTicket",
        "ServiceNow" => "serviceNowTicket",
        "Jira" => "jiraTicket",
        "ConnectWise" => "connectWiseTicket",
        _ => "haloPsaTicket",
    }
}

impl TicketService {
    pub fn new(store: Store) -> Self {
        TicketService { store }
    }

    /// Tickets of the workspace `ws` as the API shows them, with their linked incidents.
    async fn to_wire(&self, ws: &WorkspaceId, rows: Vec<TicketRow>) -> Result<Vec<ServiceTicket>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = rows.iter().map(|r| r.ticket_id.clone()).collect();
        let mut links = self.store.tenant(&ws.org()).ticket_links(ws, &ids).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let doc: Value = serde_json::from_str(&r.doc).unwrap_or(Value::Null);
            let mut wire = serde_json::json!({});
            wire[field_of(&r.psa)] = doc;
            let parsed: ServiceTicketInput = serde_json::from_value(wire).unwrap_or_default();
            out.push(ServiceTicket {
                id: r.id,
                ticket_id: r.ticket_id.clone(),
                workspace_id: r.workspace_id,
                psa: r.psa.clone(),
                number: r.number.clone(),
                grouping_id: r.grouping_id.clone(),
                priority: r.priority.clone(),
                linked_incidents: links
                    .remove(&r.ticket_id)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|l| {
                        Some(LinkedIncident {
                            id: l.incident_id,
                            source: IncidentSource::parse(&l.source)?,
                            workspace_id: r.workspace_id,
                            number: l.number.to_string(),
                            linked_at: from_micros(l.linked_at),
                        })
                    })
                    .collect(),
                created_at: from_micros(r.created_at),
                last_modified_at: from_micros(r.modified_at),
                autotask_ticket: parsed.autotask_ticket,
                service_now_ticket: parsed.service_now_ticket,
                jira_ticket: parsed.jira_ticket,
                connect_wise_ticket: parsed.connect_wise_ticket,
                halo_psa_ticket: parsed.halo_psa_ticket,
            });
        }
        Ok(out)
    }

    async fn one(&self, ws: &WorkspaceId, ticket_id: &str) -> Result<ServiceTicket> {
        let row = self
            .store
            .tenant(&ws.org())
            .get_ticket(ws, ticket_id)
            .await?
            .ok_or_else(|| not_found(ticket_id))?;
        Ok(self.to_wire(ws, vec![row]).await?.remove(0))
    }

    /// Creates or replaces a ticket; `true` when created.
    pub async fn upsert(
        &self,
        ctx: &WorkspaceCtx,
        req: ServiceTicketInput,
    ) -> Result<(ServiceTicket, bool)> {
        let mut v = Validator::new();
        let ticket_id = v.required_str("ticketId", req.ticket_id.as_deref(), MAX_TICKET_ID);
        let number = v.optional_str("number", req.number.as_deref(), 100);
        let grouping_id = v.optional_str("groupingId", req.grouping_id.as_deref(), 200);
        let priority = parse_priority(&mut v, "priority", req.priority.as_deref());
        let docs = psa_doc(&req);
        // The PSA ticket is kept as given: its notes and descriptions may span lines, but no
        // string in it may hold NUL or another C0 control.
        for (_, field, doc) in &docs {
            v.text_in_document(field, doc);
        }
        if docs.len() != 1 {
            v.add(
                "",
                "Exactly one of autotaskTicket, serviceNowTicket, jiraTicket, connectWiseTicket and haloPsaTicket is required.",
            );
        }
        v.finish()?;
        let (psa, _, doc) = docs.into_iter().next().expect("one");
        let doc_text = doc.to_string();
        if doc_text.len() > 256 * 1024 {
            return Err(Error::field(
                "",
                "The ticket must be at most 256 KiB of JSON.",
            ));
        }
        let (own_number, own_priority) = own_number_and_priority(psa, &doc);
        let fields = TicketFields {
            psa: psa.to_string(),
            number: number.or(own_number),
            grouping_id,
            priority: priority.or(own_priority),
            doc: doc_text,
        };
        let ticket_id = ticket_id.expect("valid");
        let (_, created) = self
            .store
            .tenant(&ctx.org)
            .upsert_ticket(&ctx.workspace, &ticket_id, &fields)
            .await?;
        Ok((self.one(&ctx.workspace, &ticket_id).await?, created))
    }

    /// Validates a link/unlink body: `(ticketId, source, incidentId)`.
    fn link_target(
        ctx: &WorkspaceCtx,
        req: &LinkServiceTicketRequest,
    ) -> Result<(String, IncidentKey)> {
        let ws = ctx.workspace.uuid();
        let mut v = Validator::new();
        let ticket_id = v.required_str("ticketId", req.ticket_id.as_deref(), MAX_TICKET_ID);
        let (mut source, mut id) = (None, None);
        match &req.incident {
            None => v.add(
                "incident",
                "'incident' is required: {id, source, workspaceId, number}.",
            ),
            Some(i) => {
                id = v.required_str("incident.id", i.id.as_deref(), 200);
                source = match i.source.as_deref().map(IncidentSource::parse) {
                    Some(Some(s)) => Some(s),
                    _ => {
                        v.add(
                            "incident.source",
                            format!("Allowed: {}.", IncidentSource::allowed()),
                        );
                        None
                    }
                };
                if let Some(w) = &i.workspace_id {
                    if Uuid::parse_str(w.trim()).ok() != Some(ws) {
                        v.add(
                            "incident.workspaceId",
                            "'incident.workspaceId' must be the workspace in the path.",
                        );
                    }
                }
                if let Some(n) = &i.number {
                    if !(n.is_i64() || n.is_string() || n.is_null()) {
                        v.add(
                            "incident.number",
                            "'incident.number' must be a string or an integer.",
                        );
                    }
                }
            }
        }
        v.finish()?;
        Ok((
            ticket_id.expect("valid"),
            ctx.incident(source.expect("valid"), &id.expect("valid")),
        ))
    }

    pub async fn link(
        &self,
        ctx: &WorkspaceCtx,
        req: LinkServiceTicketRequest,
    ) -> Result<ServiceTicket> {
        let (ticket_id, incident) = Self::link_target(ctx, &req)?;
        self.store
            .tenant(&ctx.org)
            .link_ticket(&incident, &ticket_id, &ctx.principal.name)
            .await?;
        self.one(&ctx.workspace, &ticket_id).await
    }

    pub async fn unlink(&self, ctx: &WorkspaceCtx, req: LinkServiceTicketRequest) -> Result<bool> {
        let (ticket_id, incident) = Self::link_target(ctx, &req)?;
        self.store
            .tenant(&ctx.org)
            .unlink_ticket(&incident, &ticket_id, &ctx.principal.name)
            .await?;
        Ok(true)
    }

    pub async fn priority(
        &self,
        ctx: &WorkspaceCtx,
        req: TicketPriorityRequest,
    ) -> Result<ServiceTicket> {
        let mut v = Validator::new();
        let ticket_id = v.required_str("ticketId", req.ticket_id.as_deref(), MAX_TICKET_ID);
        let priority = match req.priority.as_deref() {
            None => {
                v.add(
                    "priority",
                    format!(
                        "'priority' is required. Allowed: {}.",
                        PRIORITIES.join(", ")
                    ),
                );
                None
            }
            some => parse_priority(&mut v, "priority", some),
        };
        v.finish()?;
        let (ticket_id, priority) = (ticket_id.expect("valid"), priority.expect("valid"));
        let tenant = self.store.tenant(&ctx.org);
        let row = tenant
            .get_ticket(&ctx.workspace, &ticket_id)
            .await?
            .ok_or_else(|| not_found(&ticket_id))?;
        let mut doc: Value = serde_json::from_str(&row.doc).unwrap_or(Value::Null);
        set_own_priority(&row.psa, &mut doc, &priority);
        tenant
            .set_ticket_priority(&ctx.workspace, &ticket_id, &priority, &doc.to_string())
            .await?
            .ok_or_else(|| not_found(&ticket_id))?;
        self.one(&ctx.workspace, &ticket_id).await
    }

    /// `GET …/tickets/search?groupingId=&ticketNumber=` (both optional; newest first, at most
    /// 100).
    pub async fn search(
        &self,
        ctx: &WorkspaceCtx,
        grouping_id: Option<&str>,
        number: Option<&str>,
    ) -> Result<Vec<ServiceTicket>> {
        let mut v = Validator::new();
        let grouping_id = v.optional_str("groupingId", grouping_id, 200);
        let number = v.optional_str("ticketNumber", number, 100);
        v.finish()?;
        let rows = self
            .store
            .tenant(&ctx.org)
            .search_tickets(
                &ctx.workspace,
                grouping_id.as_deref(),
                number.as_deref(),
                SEARCH_LIMIT,
            )
            .await?;
        self.to_wire(&ctx.workspace, rows).await
    }
}
