//! `incidents list|get|status|assign|comment|across|ingest`.

use std::io::Read;

use futures_util::TryStreamExt;
use palisade_client::query::DetailQuery;
use palisade_client::types::incidents::{
    AcrossWorkspacesRequest, AssignRequest, CommentRequest, Incident, IncidentListItem,
    StatusUpdateRequest, TimeFilterSelection,
};
use palisade_client::Client;

use crate::cli::{IncidentFilter, IncidentsCmd};
use crate::output::{cut, opt, print_table, Output};
use crate::{CmdResult, Failure};

pub async fn run(client: &Client, cmd: IncidentsCmd, out: &Output) -> CmdResult {
    let incidents = client.incidents();
    match cmd {
        IncidentsCmd::List { filter, limit } => {
            let only = filter.workspace;
            let mut stream = incidents.across(request(&filter)).stream();
            let mut rows = Vec::new();
            while rows.len() < limit {
                match stream.try_next().await? {
                    Some(i) if only.is_none_or(|w| w == i.workspace_id) => rows.push(i),
                    Some(_) => {}
                    None => break,
                }
            }
            out.list(&rows, LIST_HEADERS, list_row);
        }
        IncidentsCmd::Across { filter } => {
            let only = filter.workspace;
            let mut stream = incidents.across(request(&filter)).stream();
            let mut rows = Vec::new();
            while let Some(i) = stream.try_next().await? {
                if only.is_some_and(|w| w != i.workspace_id) {
                    continue;
                }
                if out.json() {
                    // JSON lines as the pages arrive.
                    out.line(&i);
                } else {
                    rows.push(list_row(&i));
                }
            }
            if !out.json() {
                let n = rows.len();
                print_table(LIST_HEADERS, rows);
                eprintln!("{n} incidents");
            }
        }
        IncidentsCmd::Get { incident, details } => {
            let q = DetailQuery {
                with_details: details.then_some(true),
            };
            let (ws, source, id) = incident.path();
            let d = incidents.get(ws, source, id, &q).await?;
            let i = &d.incident;
            let mut fields = incident_fields(i);
            fields.push((
                "entities",
                d.investigation_details.entities.len().to_string(),
            ));
            fields.push(("alerts", d.investigation_details.alerts.len().to_string()));
            fields.push(("evidence rows", d.evidence.rows.len().to_string()));
            out.object(&d, &fields);
        }
        IncidentsCmd::Status {
            incident,
            status,
            classification,
            reason,
            comment,
        } => {
            let body = StatusUpdateRequest {
                status: Some(status),
                classification,
                classification_reason: reason,
                comment,
                ..Default::default()
            };
            let (ws, source, id) = incident.path();
            let i = incidents.set_status(ws, source, id, &body).await?;
            out.object(&i, &incident_fields(&i));
        }
        IncidentsCmd::Assign {
            incident,
            email,
            user_id,
            name,
            unassign,
        } => {
            if !unassign && email.is_none() && user_id.is_none() {
                return crate::usage("give --email or --user-id, or --unassign");
            }
            let body = AssignRequest {
                email,
                user_id,
                display_name: name,
                ..Default::default()
            };
            let (ws, source, id) = incident.path();
            let i = incidents.assign(ws, source, id, &body).await?;
            out.object(&i, &incident_fields(&i));
        }
        IncidentsCmd::Comment { incident, text } => {
            let content = if text == "-" {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .map_err(|e| Failure::Runtime(format!("reading standard input: {e}")))?;
                s
            } else {
                text
            };
            let body = CommentRequest {
                content: Some(content),
                ..Default::default()
            };
            let (ws, source, id) = incident.path();
            let c = incidents.add_comment(ws, source, id, &body).await?;
            out.object(
                &c,
                &[
                    ("id", c.id.clone()),
                    ("created", c.created_time.to_rfc3339()),
                    ("author", opt(&c.author_email)),
                    ("message", c.message.clone()),
                ],
            );
        }
        IncidentsCmd::Ingest(args) => crate::ingest::run(client, args, out).await?,
    }
    Ok(())
}

const LIST_HEADERS: &[&str] = &[
    "CREATED",
    "WORKSPACE",
    "SOURCE",
    "ID",
    "SEVERITY",
    "STATUS",
    "OWNER",
    "TITLE",
];

fn list_row(i: &IncidentListItem) -> Vec<String> {
    vec![
        i.created_at.format("%Y-%m-%d %H:%M").to_string(),
        cut(&i.workspace_name, 20),
        i.source.as_str().into(),
        i.id.clone(),
        i.severity.as_str().into(),
        i.status.as_str().into(),
        i.owner
            .as_ref()
            .and_then(|o| o.email.clone().or(o.display_name.clone()))
            .unwrap_or_else(|| "-".into()),
        cut(&i.title, 60),
    ]
}

fn incident_fields(i: &Incident) -> Vec<(&'static str, String)> {
    vec![
        ("id", i.id.clone()),
        ("number", i.number.to_string()),
        ("title", i.title.clone()),
        ("source", i.source.as_str().into()),
        ("workspace", i.workspace_id.to_string()),
        ("severity", i.severity.as_str().into()),
        ("status", i.status.as_str().into()),
        (
            "classification",
            i.classification
                .map(|c| c.as_str().to_string())
                .unwrap_or_else(|| "-".into()),
        ),
        (
            "owner",
            i.owner
                .as_ref()
                .and_then(|o| o.email.clone().or(o.display_name.clone()))
                .unwrap_or_else(|| "-".into()),
        ),
        ("created", i.created_at.to_rfc3339()),
        ("updated", i.updated_at.to_rfc3339()),
    ]
}

fn request(f: &IncidentFilter) -> AcrossWorkspacesRequest {
    let list = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    AcrossWorkspacesRequest {
        severities: list(&f.severities),
        statuses: list(&f.statuses),
        sources: list(&f.sources),
        query: f.query.clone(),
        assignee_emails: list(&f.assignees),
        time_filter_selection: f.window.as_ref().map(|w| TimeFilterSelection {
            type_: Some(w.clone()),
            ..Default::default()
        }),
        ..Default::default()
    }
}
