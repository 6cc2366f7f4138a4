//! The incident queue: the cross-workspace listing of `POST /incidents/across-workspaces`
//! with the console's filters (Closed hidden unless asked for), columns sorted within the
//! page, select-and-act bulk status and assignment (`PUT …/incidents/{source}/bulk` per
//! workspace and source), keyboard navigation (console.js), and new incidents appearing
//! without a reload (htmx polls the first page's rows every `console.queue_refresh_secs`;
//! reads work without JavaScript). "Older incidents" is a link carrying the position of the
//! page's last row (`after`), not the API's per-stream tokens (thousands of them for a large
//! MSSP: far too heavy for a page).

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::Method;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use palisade_domain::vocab::{IncidentSource, IncidentStatus, Severity};
use palisade_store::Cursor;
use palisade_types::incidents::{
    AcrossWorkspacesPage, AcrossWorkspacesRequest, AssignRequest, BulkUpdateRequest,
    IncidentListItem, TimeFilterSelection,
};
use serde::{Deserialize, Serialize};

use super::incident::verdicts;
use super::layout::{self, csrf, select};
use super::{encode, fail, html as page_response, ConsoleUser, PageResult};
use crate::AppState;

const ACROSS: &str = "/api/v2/incidents/across-workspaces";
const BULK: &str = "/api/v2/workspaces/{workspaceId}/incidents/{source}/bulk";

/// The queue's filters, from the query string (or the next-page form).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Filters {
    #[serde(default)]
    pub workspace: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub severity: String,
    /// `open` (default: New and Active), `all`, or one status.
    #[serde(default)]
    pub status: String,
    /// Empty, `me`, `unassigned`, or an email.
    #[serde(default)]
    pub assignee: String,
    /// Empty, `TwentyFourHours`, `SevenDays` or `ThirtyDays`.
    #[serde(default)]
    pub window: String,
    #[serde(default)]
    pub q: String,
    /// `created` (default), `severity`, `status`, `title`, `workspace`, `owner`.
    #[serde(default)]
    pub sort: String,
    /// `desc` (default) or `asc`.
    #[serde(default)]
    pub dir: String,
    /// The position after which this page starts (`micros.workspace.source.id` of the
    /// previous page's last row); empty: the newest.
    #[serde(default)]
    pub after: String,
    #[serde(default)]
    pub done: String,
}

/// A row's position in the listing's order, as `after` carries it.
fn position(r: &IncidentListItem) -> String {
    format!(
        "{}.{}.{}.{}",
        palisade_domain::time::to_micros(r.created_at),
        r.workspace_id,
        r.source.as_str(),
        r.id
    )
}

/// Reads `after`; anything else than a position starts from the newest.
fn parse_position(s: &str) -> Option<Cursor> {
    let mut it = s.splitn(4, '.');
    let created_at = it.next()?.parse().ok()?;
    let workspace_id = uuid::Uuid::parse_str(it.next()?).ok()?;
    let source = IncidentSource::parse(it.next()?)?;
    let id = it.next()?.to_string();
    Some(Cursor {
        created_at,
        workspace_id,
        source,
        id,
    })
}

impl Filters {
    fn query_string(&self) -> String {
        let pairs = [
            ("workspace", &self.workspace),
            ("source", &self.source),
            ("severity", &self.severity),
            ("status", &self.status),
            ("assignee", &self.assignee),
            ("window", &self.window),
            ("q", &self.q),
            ("sort", &self.sort),
            ("dir", &self.dir),
        ];
        pairs
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// The listing request these filters make.
    fn request(&self, user: &ConsoleUser) -> AcrossWorkspacesRequest {
        let one = |s: &str| (!s.is_empty()).then(|| vec![s.to_string()]);
        let statuses = match self.status.as_str() {
            "" | "open" => Some(vec!["New".into(), "Active".into()]),
            "all" => None,
            s => Some(vec![s.to_string()]),
        };
        let (assignee_emails, include_unassigned) = match self.assignee.as_str() {
            "" => (None, None),
            "unassigned" => (None, Some(true)),
            "me" => (
                Some(vec![user.email.clone().unwrap_or_else(|| "-".into())]),
                None,
            ),
            email => (Some(vec![email.to_string()]), None),
        };
        AcrossWorkspacesRequest {
            severities: one(&self.severity),
            statuses,
            sources: one(&self.source),
            time_filter_selection: (!self.window.is_empty()).then(|| TimeFilterSelection {
                type_: Some(self.window.clone()),
                ..Default::default()
            }),
            is_first_call: Some(true),
            workspace_page_tokens: None,
            query: (!self.q.trim().is_empty()).then(|| self.q.trim().to_string()),
            assignee_emails,
            include_unassigned,
            workspace_ids: one(&self.workspace),
        }
    }
}

/// Sorts the page's rows by the chosen column (the listing itself is newest first).
fn sort(rows: &mut [IncidentListItem], by: &str, ascending: bool) {
    let rank = |s: Severity| Severity::ALL.iter().position(|x| *x == s).unwrap_or(0);
    match by {
        "severity" => rows.sort_by_key(|r| (rank(r.severity), r.created_at)),
        "status" => rows.sort_by_key(|r| r.status.as_str()),
        "title" => rows.sort_by_key(|r| r.title.to_lowercase()),
        "workspace" => rows.sort_by(|a, b| a.workspace_name.cmp(&b.workspace_name)),
        "owner" => rows.sort_by_key(|r| r.owner.as_ref().and_then(|o| o.email.clone())),
        _ => rows.sort_by_key(|r| r.created_at),
    }
    if !ascending {
        rows.reverse();
    }
}

async fn listing(
    state: &AppState,
    user: &ConsoleUser,
    f: &Filters,
) -> Result<(AcrossWorkspacesPage, Option<String>), Response> {
    user.authorize(state, Method::POST, ACROSS, None)
        .await
        .map_err(fail(user))?;
    let mut page = state
        .incidents()
        .across_workspaces_after(&user.ctx, f.request(user), parse_position(&f.after))
        .await
        .map_err(fail(user))?;
    // Where the next page starts: the last row in the listing's order (before sorting).
    let next = page
        .more_incidents_available
        .then(|| page.incidents.last().map(position))
        .flatten();
    sort(&mut page.incidents, &f.sort, f.dir == "asc");
    Ok((page, next))
}

pub async fn page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(f): Query<Filters>,
) -> PageResult {
    let (listing, next) = listing(&state, &user, &f).await?;
    render(&state, &user, &f, listing, next).await
}

/// The rows alone (the queue's background refresh).
pub async fn rows(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(f): Query<Filters>,
) -> PageResult {
    let (listing, _) = listing(&state, &user, &f).await?;
    let every = state.config().console.queue_refresh_secs;
    Ok(Html(rows_markup(&f, &listing.incidents, every).into_string()).into_response())
}

/// The rows; those of the first page poll for new incidents every `every` seconds.
fn rows_markup(f: &Filters, rows: &[IncidentListItem], every: u64) -> Markup {
    let live = f.after.is_empty();
    let poll = format!("/console/incidents/rows?{}", f.query_string());
    let trigger = format!("every {every}s");
    html! {
        tbody #rows hx-get=[live.then_some(&poll)] hx-trigger=[live.then_some(&trigger)] hx-swap=[live.then_some("outerHTML")] {
            @if rows.is_empty() {
                tr { td colspan="8" { "No incidents match these filters." } }
            }
            @for r in rows {
                @let href = format!("/console/incidents/{}/{}/{}", r.workspace_id, r.source.as_str(), encode(&r.id));
                @let key = format!("{}|{}|{}", r.workspace_id, r.source.as_str(), r.id);
                tr.row {
                    td {
                        input.pick type="checkbox" form="bulk" name="pick" value=(key)
                            aria-label={ "Select incident " (r.number) };
                    }
                    td { (layout::severity(r.severity)) }
                    td { a.open href=(href) { "#" (r.number) " " (r.title) } }
                    td { (layout::status(r.status)) }
                    td { (r.workspace_name) }
                    td { (r.source.as_str()) }
                    td { (r.owner.as_ref().and_then(|o| o.email.clone().or(o.display_name.clone())).unwrap_or_else(|| "Unassigned".into())) }
                    td { (layout::time(r.created_at)) }
                }
            }
        }
    }
}

fn sort_link(f: &Filters, column: &str, label: &str) -> Markup {
    let current = if f.sort.is_empty() {
        "created"
    } else {
        &f.sort
    };
    let asc = f.dir == "asc";
    let next_dir = if current == column && !asc {
        "asc"
    } else {
        "desc"
    };
    let mut g = f.clone();
    g.sort = column.into();
    g.dir = next_dir.into();
    let sorted = if current == column {
        if asc {
            "ascending"
        } else {
            "descending"
        }
    } else {
        "none"
    };
    html! {
        th aria-sort=(sorted) scope="col" {
            a href={ "/console?" (g.query_string()) } { (label) }
        }
    }
}

async fn render(
    state: &AppState,
    user: &ConsoleUser,
    f: &Filters,
    listing: AcrossWorkspacesPage,
    next: Option<String>,
) -> PageResult {
    let workspaces = state
        .org()
        .list_workspaces(&user.ctx)
        .await
        .unwrap_or_default();
    // Bulk actions are offered when the user may use them on one of the page's workspaces.
    let mut may_bulk = false;
    let mut asked = std::collections::HashSet::new();
    for r in &listing.incidents {
        if asked.insert(r.workspace_id)
            && user
                .may(state, Method::PUT, BULK, Some(&r.workspace_id.to_string()))
                .await
        {
            may_bulk = true;
            break;
        }
    }
    let opts = |all: &str, items: Vec<(String, String)>| {
        let mut v = vec![(String::new(), all.to_string())];
        v.extend(items);
        v
    };
    let ws_opts = opts(
        "All workspaces",
        workspaces
            .iter()
            .map(|w| (w.id.to_string(), w.name.clone()))
            .collect(),
    );
    let src_opts = opts(
        "All sources",
        IncidentSource::ALL
            .iter()
            .map(|s| (s.as_str().to_string(), s.display_name().to_string()))
            .collect(),
    );
    let sev_opts = opts(
        "All severities",
        Severity::ALL
            .iter()
            .rev()
            .map(|s| (s.as_str().into(), s.as_str().into()))
            .collect(),
    );
    let mut status_opts = vec![
        ("open".to_string(), "Open (New, Active)".to_string()),
        ("all".into(), "All, with Closed".into()),
    ];
    status_opts.extend(
        IncidentStatus::ALL
            .iter()
            .map(|s| (s.as_str().to_string(), s.as_str().to_string())),
    );
    let assignee_opts = vec![
        (String::new(), "Anyone".to_string()),
        ("me".into(), "Assigned to me".into()),
        ("unassigned".into(), "Unassigned".into()),
    ];
    let window_opts = vec![
        (String::new(), "Any time".to_string()),
        ("TwentyFourHours".into(), "Last 24 hours".into()),
        ("SevenDays".into(), "Last 7 days".into()),
        ("ThirtyDays".into(), "Last 30 days".into()),
    ];
    let status_value = if f.status.is_empty() {
        "open"
    } else {
        &f.status
    };
    let body = html! {
        h1 { "Incidents" }
        (layout::notice((!f.done.is_empty()).then_some(f.done.as_str())))
        form.filters method="get" action="/console" role="search" {
            (select("f-workspace", "workspace", "Workspace", &ws_opts, &f.workspace))
            (select("f-source", "source", "Source", &src_opts, &f.source))
            (select("f-severity", "severity", "Severity", &sev_opts, &f.severity))
            (select("f-status", "status", "Status", &status_opts, status_value))
            (select("f-assignee", "assignee", "Assignee", &assignee_opts, &f.assignee))
            (select("f-window", "window", "Created", &window_opts, &f.window))
            label for="f-q" { "Text" }
            input #f-q type="search" name="q" value=(f.q) placeholder="id, number, title";
            input type="hidden" name="sort" value=(f.sort);
            input type="hidden" name="dir" value=(f.dir);
            button type="submit" { "Filter" }
        }
        p.hint { "Keys: j/k move, Enter opens, x selects, / searches." }
        @if may_bulk {
            form #bulk.bulk method="post" action="/console/incidents/bulk" {
                (csrf(user))
                input type="hidden" name="back" value=(f.query_string());
                fieldset {
                    legend { "Selected incidents" }
                    label for="b-status" { "Set status" }
                    select #b-status name="status" {
                        option value="" { "(unchanged)" }
                        @for s in IncidentStatus::ALL { option value=(s.as_str()) { (s.as_str()) } }
                    }
                    label for="b-verdict" { "Classification when closing" }
                    select #b-verdict name="verdict" {
                        option value="" { "(none)" }
                        @for (v, label) in verdicts() { option value=(v) { (label) } }
                    }
                    label for="b-assignee" { "Assign to (email)" }
                    input #b-assignee type="email" name="assignee" placeholder="analyst@example.com";
                    button type="submit" { "Apply to selected" }
                }
            }
        }
        table.queue #queue {
            caption.visually-hidden { "Incidents, newest first" }
            thead {
                tr {
                    th scope="col" { span.visually-hidden { "Select" } }
                    (sort_link(f, "severity", "Severity"))
                    (sort_link(f, "title", "Incident"))
                    (sort_link(f, "status", "Status"))
                    (sort_link(f, "workspace", "Workspace"))
                    th scope="col" { "Source" }
                    (sort_link(f, "owner", "Owner"))
                    (sort_link(f, "created", "Created"))
                }
            }
            (rows_markup(f, &listing.incidents, state.config().console.queue_refresh_secs))
        }
        @if let Some(next) = &next {
            @let sep = if f.query_string().is_empty() { "" } else { "&" };
            p.more {
                a #older href={ "/console?" (f.query_string()) (sep) "after=" (encode(next)) } { "Older incidents" }
            }
        }
    };
    Ok(page_response(layout::page(
        Some(user),
        "Incidents",
        "queue",
        body,
    )))
}

/// Bulk status/assignment of the selected incidents, one API call per workspace and source.
pub async fn bulk(
    State(state): State<AppState>,
    user: ConsoleUser,
    Form(form): Form<Vec<(String, String)>>,
) -> PageResult {
    let get = |k: &str| {
        form.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let status = get("status");
    let (classification, reason) = match get("verdict").split_once(':') {
        Some((c, r)) => (Some(c.to_string()), Some(r.to_string())),
        None => (None, None),
    };
    let assignee = get("assignee");
    let mut groups: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (k, v) in &form {
        if k != "pick" {
            continue;
        }
        let mut it = v.splitn(3, '|');
        if let (Some(ws), Some(src), Some(id)) = (it.next(), it.next(), it.next()) {
            groups
                .entry((ws.to_string(), src.to_string()))
                .or_default()
                .push(id.to_string());
        }
    }
    if groups.is_empty() {
        return Err(fail(&user)(palisade_domain::Error::field(
            "pick",
            "Select at least one incident.",
        )));
    }
    let (mut ok, mut failed) = (0, 0);
    for ((ws, src), ids) in groups {
        let ctx = user
            .authorize(&state, Method::PUT, BULK, Some(&ws))
            .await
            .map_err(fail(&user))?
            .expect("a workspace route");
        let source = palisade_domain::incident::parse_source(&src).map_err(fail(&user))?;
        let req = BulkUpdateRequest {
            incident_ids: Some(ids),
            status: (!status.is_empty()).then(|| status.clone()),
            classification: classification.clone(),
            classification_reason: reason.clone(),
            classification_comment: None,
            comment: None,
            assignee: (!assignee.is_empty()).then(|| AssignRequest {
                email: Some(assignee.clone()),
                ..Default::default()
            }),
        };
        let result = state
            .incidents()
            .bulk(&ctx, source, req)
            .await
            .map_err(fail(&user))?;
        ok += result.succeeded;
        failed += result.failed;
        let target = format!("/console/incidents/bulk?workspace={ws}&source={src}");
        user.audit(&state, "incident.bulk", target, 303).await;
    }
    let back = get("back");
    let done = format!("Updated {ok} incident(s); {failed} failed.");
    let sep = if back.is_empty() { "" } else { "&" };
    Ok(Redirect::to(&format!("/console?{back}{sep}done={}", encode(&done))).into_response())
}
