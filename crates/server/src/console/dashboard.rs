//! The dashboard: open incidents by severity and by workspace, and the mean times to
//! acknowledge and to close over 30 days, drawn on the server as SVG (no chart library).

use axum::extract::{Path, State};
use axum::http::{header, Method};
use axum::response::IntoResponse;
use maud::html;
use palisade_domain::Error;

use super::layout;
use super::{fail, html as page_response, ConsoleUser, PageResult};
use crate::service::dashboard::{dashboard, Dashboard, DayMean};
use crate::AppState;

/// The dashboard reads what the cross-workspace listing reads.
const ACROSS: &str = "/api/v2/incidents/across-workspaces";

async fn figures(
    state: &AppState,
    user: &ConsoleUser,
) -> Result<Dashboard, axum::response::Response> {
    user.authorize(state, Method::POST, ACROSS, None)
        .await
        .map_err(fail(user))?;
    dashboard(state.store(), &user.ctx)
        .await
        .map_err(fail(user))
}

fn minutes_text(m: Option<f64>) -> String {
    match m {
        None => "no data".into(),
        Some(m) if m < 120.0 => format!("{m:.0} min"),
        Some(m) => format!("{:.1} h", m / 60.0),
    }
}

/// Horizontal bars: one per (label, value).
pub fn bars_svg(title: &str, items: &[(String, i64)]) -> String {
    let max = items.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1) as f64;
    let row = 22.0;
    let height = (items.len().max(1) as f64) * row + 10.0;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{}" viewBox="0 0 420 {height}" width="420" height="{height}">"#,
        maud::html! { (title) }.into_string()
    );
    for (i, (label, value)) in items.iter().enumerate() {
        let y = i as f64 * row + 4.0;
        let w = (*value as f64 / max) * 250.0;
        let label = maud::html! { (label) }.into_string();
        s.push_str(&format!(
            r##"<text x="0" y="{ty}">{label}</text><rect x="140" y="{y}" width="{w:.1}" height="16" fill="#0b4fa3"/><text x="{tx:.1}" y="{ty}">{value}</text>"##,
            ty = y + 12.0,
            tx = 145.0 + w,
        ));
    }
    s.push_str("</svg>");
    s
}

/// A daily series as columns, with the day's mean in each column's tooltip.
pub fn series_svg(title: &str, series: &[DayMean]) -> String {
    let max = series
        .iter()
        .filter_map(|d| d.minutes)
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let (w, h, left, bottom) = (620.0, 180.0, 44.0, 20.0);
    let step = (w - left) / series.len().max(1) as f64;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{}" viewBox="0 0 {w} {h}" width="{w}" height="{h}">"#,
        maud::html! { (title) }.into_string()
    );
    s.push_str(&format!(
        r##"<line x1="{left}" y1="{y0}" x2="{w}" y2="{y0}" stroke="#4a5260"/><text x="0" y="12">{top}</text><text x="0" y="{y0}">0</text>"##,
        y0 = h - bottom,
        top = minutes_text(Some(max)),
    ));
    for (i, d) in series.iter().enumerate() {
        let x = left + i as f64 * step + 1.0;
        if let Some(m) = d.minutes {
            let bh = (m / max) * (h - bottom - 16.0);
            s.push_str(&format!(
                r##"<rect x="{x:.1}" y="{y:.1}" width="{bw:.1}" height="{bh:.1}" fill="#6a2fa0"><title>{day}: {text} ({n} incidents)</title></rect>"##,
                y = h - bottom - bh,
                bw = (step - 2.0).max(1.0),
                day = d.day,
                text = minutes_text(Some(m)),
                n = d.count,
            ));
        }
        if i % 7 == 0 {
            s.push_str(&format!(
                r#"<text x="{x:.1}" y="{ty}">{label}</text>"#,
                ty = h - 4.0,
                label = d.day.format("%m-%d"),
            ));
        }
    }
    s.push_str("</svg>");
    s
}

pub async fn page(State(state): State<AppState>, user: ConsoleUser) -> PageResult {
    let d = figures(&state, &user).await?;
    let severity: Vec<(String, i64)> = d
        .by_severity
        .iter()
        .map(|(s, n)| (s.as_str().to_string(), *n))
        .collect();
    let workspaces: Vec<(String, i64)> = d.by_workspace.iter().take(15).cloned().collect();
    let body = html! {
        h1 { "Dashboard" }
        div.grid {
            section.panel aria-labelledby="d-sev" {
                h2 #d-sev { "Open incidents by severity" }
                (layout::svg(bars_svg("Open incidents by severity", &severity)))
                table.visually-hidden {
                    caption { "Open incidents by severity" }
                    @for (s, n) in &severity { tr { th scope="row" { (s) } td { (n) } } }
                }
            }
            section.panel aria-labelledby="d-ws" {
                h2 #d-ws { "Open incidents by workspace" }
                (layout::svg(bars_svg("Open incidents by workspace", &workspaces)))
                table.visually-hidden {
                    caption { "Open incidents by workspace" }
                    @for (s, n) in &workspaces { tr { th scope="row" { (s) } td { (n) } } }
                }
            }
        }
        section.panel aria-labelledby="d-mtta" {
            h2 #d-mtta { "Mean time to acknowledge, last 30 days: " (minutes_text(d.mtta_overall)) }
            (layout::svg(series_svg("Mean time to acknowledge per day", &d.mtta)))
        }
        section.panel aria-labelledby="d-mttc" {
            h2 #d-mttc { "Mean time to close, last 30 days: " (minutes_text(d.mttc_overall)) }
            (layout::svg(series_svg("Mean time to close per day", &d.mttc)))
        }
    };
    Ok(page_response(layout::page(
        Some(&user),
        "Dashboard",
        "dashboard",
        body,
    )))
}

/// A chart alone, as an SVG document (`mtta`, `mttc`, `severity`, `workspaces`).
pub async fn chart(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(chart): Path<String>,
) -> PageResult {
    let d = figures(&state, &user).await?;
    let svg = match chart.trim_end_matches(".svg") {
        "mtta" => series_svg("Mean time to acknowledge per day", &d.mtta),
        "mttc" => series_svg("Mean time to close per day", &d.mttc),
        "severity" => bars_svg(
            "Open incidents by severity",
            &d.by_severity
                .iter()
                .map(|(s, n)| (s.as_str().to_string(), *n))
                .collect::<Vec<_>>(),
        ),
        "workspaces" => bars_svg("Open incidents by workspace", &d.by_workspace),
        _ => {
            return Err(fail(&user)(Error::not_found_target(
                "Chart", &chart, "chart",
            )))
        }
    };
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_escape_their_labels() {
        let svg = bars_svg("t", &[("<script>".into(), 3)]);
        assert!(svg.contains("&lt;script&gt;") && !svg.contains("<script>"));
    }
}
