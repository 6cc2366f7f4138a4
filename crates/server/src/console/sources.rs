//! Data sources: every connector of the workspaces the user holds a role on
//! (`GET /datasources/across-workspaces`), its last data hour and a 7-day volume sparkline
//! (`GET …/datasources/{id}/volume`), and the anomalies of the last 7 days
//! (`POST /datasources/across-workspaces/anomalies`); a polled connector's health and last
//! poll; adding and editing connectors (`connectors.rs`), offered only on the workspaces where
//! the user may manage data sources.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::Method;
use chrono::{Duration, Utc};
use maud::html;
use palisade_types::datasources::{AnomaliesRequest, VolumeHour};
use palisade_types::incidents::TimeFilterSelection;

use super::connectors::{manageable, ONE};
use super::layout::{self, select};
use super::{encode, fail, html as page_response, ConsoleUser, Done, PageResult};
use crate::AppState;

const ACROSS: &str = "/api/v2/datasources/across-workspaces";
const ANOMALIES: &str = "/api/v2/datasources/across-workspaces/anomalies";
const VOLUME: &str = "/api/v2/workspaces/{workspaceId}/datasources/{dataConnectorId}/volume";

/// One row of the connectors table.
struct Row {
    workspace: String,
    source: palisade_types::datasources::DataSource,
    days: Vec<i64>,
    last: Option<chrono::DateTime<Utc>>,
    /// The form the user may open for it: (path, label).
    edit: Option<(String, &'static str)>,
}

/// Events per day over 7 days, oldest first.
fn daily(hours: &[VolumeHour]) -> Vec<i64> {
    let today = Utc::now().date_naive();
    let mut days: BTreeMap<i64, i64> = BTreeMap::new();
    for h in hours {
        let back = (today - h.hour_start.date_naive()).num_days();
        if (0..7).contains(&back) {
            *days.entry(back).or_default() += h.events;
        }
    }
    (0..7)
        .rev()
        .map(|b| days.get(&b).copied().unwrap_or(0))
        .collect()
}

/// A 7-point sparkline as SVG.
pub fn sparkline_svg(label: &str, values: &[i64]) -> String {
    let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    let (w, h) = (120.0, 28.0);
    let step = w / (values.len().max(2) - 1) as f64;
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "{:.1},{:.1}",
                i as f64 * step,
                h - 2.0 - (*v as f64 / max) * (h - 4.0)
            )
        })
        .collect();
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{}" viewBox="0 0 {w} {h}" width="{w}" height="{h}"><polyline fill="none" stroke="#0b4fa3" stroke-width="2" points="{}"/></svg>"##,
        maud::html! { (label) }.into_string(),
        points.join(" ")
    )
}

pub async fn page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(done): Query<Done>,
) -> PageResult {
    let f = fail(&user);
    user.authorize(&state, Method::GET, ACROSS, None)
        .await
        .map_err(&f)?;
    let listing = state
        .datasources()
        .across(&user.ctx, None)
        .await
        .map_err(&f)?;
    let anomalies = if user.may(&state, Method::POST, ANOMALIES, None).await {
        let req = AnomaliesRequest {
            workspace_ids: None,
            time_filter_selection: Some(TimeFilterSelection {
                type_: Some("SevenDays".into()),
                ..Default::default()
            }),
        };
        Some(
            state
                .datasources()
                .anomalies(&user.ctx, req)
                .await
                .map_err(&f)?,
        )
    } else {
        None
    };
    let from = (Utc::now() - Duration::days(7)).to_rfc3339();
    let mut rows = Vec::new();
    for ws in &listing {
        let wsid = ws.workspace_id.to_string();
        let ctx = user
            .authorize(&state, Method::GET, VOLUME, Some(&wsid))
            .await
            .ok()
            .flatten();
        let may_edit = user.may(&state, Method::PUT, ONE, Some(&wsid)).await;
        for d in &ws.data_sources {
            let hours = match &ctx {
                Some(ctx) => state
                    .datasources()
                    .volume(ctx, d.data_connector_id, Some(&from), None)
                    .await
                    .unwrap_or_default(),
                None => Vec::new(),
            };
            let last = hours.iter().map(|h| h.hour_start).max();
            let edit = may_edit
                .then(|| {
                    let polled = d.status.is_some();
                    let kind = palisade_connectors::ConnectorKind::parse(d.connector_type.as_str());
                    match (polled, kind) {
                        (true, _) => Some((
                            format!("/console/sources/{wsid}/{}", d.data_connector_id),
                            "Edit",
                        )),
                        (false, Some(k)) => Some((
                            format!(
                                "/console/sources/new?workspace={wsid}&type={}",
                                encode(k.as_str())
                            ),
                            "Set up polling",
                        )),
                        (false, None) => None,
                    }
                })
                .flatten();
            rows.push(Row {
                workspace: ws.workspace_name.clone(),
                source: d.clone(),
                days: daily(&hours),
                last,
                edit,
            });
        }
    }
    let workspaces = manageable(&state, &user).await;
    let ws_opts: Vec<(String, String)> = workspaces
        .iter()
        .map(|(id, name)| (id.to_string(), name.clone()))
        .collect();
    let kind_opts: Vec<(String, String)> = palisade_connectors::ConnectorKind::ALL
        .iter()
        .map(|k| {
            (
                k.as_str().to_string(),
                k.source().display_name().to_string(),
            )
        })
        .collect();
    let body = html! {
        h1 { "Data sources" }
        (layout::notice(done.done.as_deref()))
        table #sources {
            caption.visually-hidden { "Connectors of your workspaces" }
            thead {
                tr {
                    th scope="col" { "Workspace" } th scope="col" { "Connector" } th scope="col" { "Type" }
                    th scope="col" { "Health" } th scope="col" { "Last poll" } th scope="col" { "Last data" }
                    th scope="col" { "Events, 7 days" } th scope="col" { span.visually-hidden { "Actions" } }
                }
            }
            tbody {
                @if rows.is_empty() { tr { td colspan="8" { "No connectors yet." } } }
                @for r in &rows {
                    @let d = &r.source;
                    tr {
                        td { (r.workspace) }
                        td { (d.name) }
                        td { (d.connector_type.as_str()) }
                        td {
                            @match &d.status {
                                Some(st) => { (st.state.as_str()) }
                                None => { @if d.connected { "Connected (push)" } @else { "Not connected" } }
                            }
                        }
                        td {
                            @match d.status.as_ref().map(|st| st.last_poll_at) {
                                Some(Some(t)) => { (layout::time(t)) }
                                Some(None) => { "not yet" }
                                None => { "—" }
                            }
                        }
                        td { @if let Some(t) = r.last { (layout::time(t)) } @else { "never" } }
                        td {
                            (layout::svg(sparkline_svg(&format!("{} events per day: {:?}", d.name, r.days), &r.days)))
                            " " (r.days.iter().sum::<i64>())
                        }
                        td {
                            @if let Some((href, label)) = &r.edit {
                                a href=(href) aria-label={ (label) " " (d.name) " of " (r.workspace) } { (label) }
                            }
                        }
                    }
                }
            }
        }
        @if !workspaces.is_empty() {
            form.add-connector method="get" action="/console/sources/new" {
                fieldset {
                    legend { "Add a connector" }
                    (select("n-workspace", "workspace", "Workspace", &ws_opts, ""))
                    (select("n-type", "type", "Connector type", &kind_opts, ""))
                    button type="submit" { "Continue" }
                }
            }
        }
        @if let Some(a) = &anomalies {
            h2 { "Anomalies, last 7 days (" (a.anomalies.len()) ")" }
            @if a.anomalies.is_empty() { p.hint { "No anomalies in " (a.connectors_examined) " connectors." } }
            @else {
                table {
                    thead { tr { th scope="col" { "Workspace" } th scope="col" { "Connector" } th scope="col" { "Kind" } th scope="col" { "Severity" } th scope="col" { "From" } th scope="col" { "Observed / expected" } } }
                    tbody {
                        @for x in &a.anomalies {
                            tr {
                                td { (x.workspace_name) } td { (x.connector_name) }
                                td { (format!("{:?}", x.anomaly_type)) }
                                td { (layout::severity(x.severity)) }
                                td { (layout::time(x.start_time)) }
                                td { (x.observed_events) " / " (x.expected_events) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page_response(layout::page(
        Some(&user),
        "Data sources",
        "sources",
        body,
    )))
}
