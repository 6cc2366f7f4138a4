//! The console dashboard's figures: open incidents by severity and by workspace, and the
//! mean times to acknowledge and to close per day over the last 30 days, over the workspaces
//! the caller holds a role on.

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, NaiveDate, Utc};
use palisade_domain::vocab::Severity;
use palisade_domain::Result;
use palisade_store::Store;
use uuid::Uuid;

use crate::access::OrgCtx;

/// Days of the mean-time series.
pub const DAYS: i64 = 30;

/// One day of a mean-time series: the mean in minutes and how many incidents it averages.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DayMean {
    pub day: NaiveDate,
    pub minutes: Option<f64>,
    pub count: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Dashboard {
    /// Open (not Closed) incidents per severity, every severity listed.
    pub by_severity: Vec<(Severity, i64)>,
    /// Open incidents per workspace name, most first.
    pub by_workspace: Vec<(String, i64)>,
    /// Mean time to acknowledge, per day of acknowledgement, oldest first.
    pub mtta: Vec<DayMean>,
    /// Mean time to close, per day of closing, oldest first.
    pub mttc: Vec<DayMean>,
    /// Over the whole 30 days, in minutes.
    pub mtta_overall: Option<f64>,
    pub mttc_overall: Option<f64>,
}

/// Means per day (`DAYS` days ending today) of (day, minutes) samples.
fn per_day(samples: &[(NaiveDate, f64)], today: NaiveDate) -> (Vec<DayMean>, Option<f64>) {
    let mut sums: BTreeMap<NaiveDate, (f64, usize)> = BTreeMap::new();
    for (day, m) in samples {
        let e = sums.entry(*day).or_default();
        e.0 += m;
        e.1 += 1;
    }
    let series = (0..DAYS)
        .rev()
        .map(|back| {
            let day = today - Duration::days(back);
            let (sum, count) = sums.get(&day).copied().unwrap_or_default();
            DayMean {
                day,
                minutes: (count > 0).then(|| sum / count as f64),
                count,
            }
        })
        .collect();
    let overall = (!samples.is_empty())
        .then(|| samples.iter().map(|(_, m)| m).sum::<f64>() / samples.len() as f64);
    (series, overall)
}

pub async fn dashboard(store: &Store, ctx: &OrgCtx) -> Result<Dashboard> {
    let tenant = store.tenant(&ctx.org);
    let names = tenant.workspace_names().await?;
    let visible = |ws: &Uuid| ctx.principal.workspace(ws).is_some();
    let mut by_severity: HashMap<Severity, i64> = HashMap::new();
    let mut by_workspace: HashMap<Uuid, i64> = HashMap::new();
    for row in tenant.open_incident_counts().await? {
        if visible(&row.workspace_id) {
            *by_severity.entry(row.severity).or_default() += row.count;
            *by_workspace.entry(row.workspace_id).or_default() += row.count;
        }
    }
    let now = Utc::now();
    let since = (now - Duration::days(DAYS - 1))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
    let (mut ack, mut close) = (Vec::new(), Vec::new());
    for m in tenant.incident_milestones(since).await? {
        if !visible(&m.workspace_id) {
            continue;
        }
        let minutes =
            |t: chrono::DateTime<Utc>| (t - m.created_at).num_seconds().max(0) as f64 / 60.0;
        if let Some(a) = m.acknowledged_at.filter(|a| *a >= since) {
            ack.push((a.date_naive(), minutes(a)));
        }
        if let Some(c) = m.closed_at.filter(|c| *c >= since) {
            close.push((c.date_naive(), minutes(c)));
        }
    }
    let today = now.date_naive();
    let (mtta, mtta_overall) = per_day(&ack, today);
    let (mttc, mttc_overall) = per_day(&close, today);
    let mut by_workspace: Vec<(String, i64)> = by_workspace
        .into_iter()
        .map(|(id, n)| (names.get(&id).cloned().unwrap_or_else(|| id.to_string()), n))
        .collect();
    by_workspace.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(Dashboard {
        by_severity: Severity::ALL
            .iter()
            .rev()
            .map(|s| (*s, by_severity.get(s).copied().unwrap_or(0)))
            .collect(),
        by_workspace,
        mtta,
        mttc,
        mtta_overall,
        mttc_overall,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn means_fall_on_their_day_and_empty_days_have_none() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 31).unwrap();
        let yesterday = today - Duration::days(1);
        let (series, overall) = per_day(&[(today, 10.0), (today, 20.0), (yesterday, 60.0)], today);
        assert_eq!(series.len(), DAYS as usize);
        assert_eq!(series.last().unwrap().minutes, Some(15.0));
        assert_eq!(series[series.len() - 2].minutes, Some(60.0));
        assert_eq!(series[0].minutes, None);
        assert_eq!(overall, Some(30.0));
    }
}
