//! Anomaly detection over a data connector's hourly volume (docs/datasources.md): each hour
//! is judged against the same hour on the previous days with a robust z-score (median and
//! MAD), and consecutive anomalous hours of one type merge into a run.

use std::collections::HashMap;

use chrono::{DateTime, Duration, DurationRound, Utc};
use palisade_types::datasources::AnomalyType;
use palisade_types::incidents::{Severity, TimeFilterSelection};

use crate::Validator;

/// The baseline of hour H: the same hour on each of the previous 7 days.
pub const BASELINE_DAYS: i64 = 7;
/// Hours with fewer baseline days (the connector is newer) are not judged.
pub const MIN_BASELINE_DAYS: usize = 3;
/// Robust z-score a deviation must reach (median and MAD, sigma = 1.4826·MAD, floored at
/// 10% of the median and at 1 event).
pub const MIN_Z: f64 = 3.0;
/// Silence: nothing observed where the median expects at least this many events.
pub const SILENCE_MIN_EXPECTED: f64 = 5.0;
/// Drop: at most half the median, and at least 5 events short.
pub const DROP_MAX_RATIO: f64 = 0.5;
pub const DROP_MIN_DEFICIT: f64 = 5.0;
/// Spike: at least twice the median, and at least 10 events above it.
pub const SPIKE_MIN_RATIO: f64 = 2.0;
pub const SPIKE_MIN_EXCESS: f64 = 10.0;
/// The longest `Custom` window, in days.
pub const MAX_RANGE_DAYS: i64 = 31;

/// One hour in microseconds.
pub const HOUR_US: i64 = 3_600_000_000;

/// The start of `t`'s UTC hour.
pub fn hour_floor(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::hours(1)).unwrap_or(t)
}

/// One examined hour's verdict.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Finding {
    pub kind: AnomalyType,
    pub severity: Severity,
    pub expected: f64,
}

/// The median of sorted values (not empty).
fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Judges one hour's observed events against its baseline (the same hour on previous days).
/// `None`: normal, or too little baseline to judge.
pub fn classify(observed: i64, baseline: &[i64]) -> Option<Finding> {
    if baseline.len() < MIN_BASELINE_DAYS {
        return None;
    }
    let mut xs: Vec<f64> = baseline.iter().map(|&x| x as f64).collect();
    xs.sort_by(|a, b| a.total_cmp(b));
    let m = median(&xs);
    let mut dev: Vec<f64> = xs.iter().map(|x| (x - m).abs()).collect();
    dev.sort_by(|a, b| a.total_cmp(b));
    let sigma = (1.4826 * median(&dev)).max(0.1 * m).max(1.0);
    let o = observed as f64;
    let z = (o - m) / sigma;
    let finding = |kind, severity| {
        Some(Finding {
            kind,
            severity,
            expected: m,
        })
    };
    if observed == 0 && m >= SILENCE_MIN_EXPECTED {
        return finding(AnomalyType::Silence, Severity::High);
    }
    if o < m && -z >= MIN_Z && o <= DROP_MAX_RATIO * m && m - o >= DROP_MIN_DEFICIT {
        let ratio = o / m;
        let severity = if ratio <= 0.1 {
            Severity::High
        } else if ratio <= 0.25 {
            Severity::Medium
        } else {
            Severity::Low
        };
        return finding(AnomalyType::Drop, severity);
    }
    if o > m && z >= MIN_Z && o >= SPIKE_MIN_RATIO * m && o - m >= SPIKE_MIN_EXCESS {
        let ratio = o / m.max(1.0);
        let severity = if ratio >= 10.0 {
            Severity::High
        } else if ratio >= 5.0 {
            Severity::Medium
        } else {
            Severity::Low
        };
        return finding(AnomalyType::Spike, severity);
    }
    None
}

/// A run of anomalous hours of one connector.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub kind: AnomalyType,
    pub severity: Severity,
    pub start: i64,
    pub hours: u32,
    pub expected: f64,
    pub observed: i64,
    pub baseline_days: u32,
}

impl Run {
    /// The end of the run (exclusive), in microseconds.
    pub fn end(&self) -> i64 {
        self.start + self.hours as i64 * HOUR_US
    }

    /// Observed over expected events, to three decimals (0 when nothing was expected).
    pub fn ratio(&self) -> f64 {
        if self.expected > 0.0 {
            ((self.observed as f64 / self.expected) * 1000.0).round() / 1000.0
        } else {
            0.0
        }
    }
}

/// Examines the hours `[from, until)` (microseconds, on the hour) of one connector's series
/// (hour → events; absent hours are 0), whose first recorded hour is `first`. Consecutive
/// hours of the same anomaly type merge into one run.
pub fn detect(series: &HashMap<i64, i64>, first: i64, from: i64, until: i64) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    let mut h = from;
    while h < until {
        let baseline: Vec<i64> = (1..=BASELINE_DAYS)
            .map(|d| h - d * 24 * HOUR_US)
            .filter(|&b| b >= first)
            .map(|b| series.get(&b).copied().unwrap_or(0))
            .collect();
        let observed = series.get(&h).copied().unwrap_or(0);
        if let Some(f) = classify(observed, &baseline) {
            match runs.last_mut() {
                Some(r) if r.kind == f.kind && r.end() == h => {
                    r.hours += 1;
                    r.expected += f.expected;
                    r.observed += observed;
                    r.severity = r.severity.max(f.severity);
                    r.baseline_days = r.baseline_days.min(baseline.len() as u32);
                }
                _ => runs.push(Run {
                    kind: f.kind,
                    severity: f.severity,
                    start: h,
                    hours: 1,
                    expected: f.expected,
                    observed,
                    baseline_days: baseline.len() as u32,
                }),
            }
        }
        h += HOUR_US;
    }
    runs
}

/// The examined hours of an anomaly request: whole UTC hours before the current one (the
/// hour of `now`), `TwentyFourHours` when no type is given.
pub fn examined_window(
    v: &mut Validator,
    sel: Option<&TimeFilterSelection>,
    now: DateTime<Utc>,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let current = hour_floor(now);
    let kind = sel.and_then(|s| s.type_.as_deref()).map(str::trim);
    let hours = match kind {
        None | Some("TwentyFourHours") => 24,
        Some("OneHour") => 1,
        Some("ThreeHours") => 3,
        Some("SixHours") => 6,
        Some("TwelveHours") => 12,
        Some("FourtyEightHours") => 48,
        Some("SevenDays") => 24 * 7,
        Some("ThirtyDays") => 24 * 30,
        Some("Custom") => return custom_window(v, sel.expect("type given"), current),
        Some(other) => {
            let shown: String = other.chars().take(64).collect();
            v.add(
                "timeFilterSelection.type",
                format!("'{shown}' is not allowed. Allowed: OneHour, ThreeHours, SixHours, TwelveHours, TwentyFourHours, FourtyEightHours, SevenDays, ThirtyDays, Custom."),
            );
            return None;
        }
    };
    Some((current - Duration::hours(hours), current))
}

/// A `Custom` window: its hours from the start's through the end's, before `current`.
fn custom_window(
    v: &mut Validator,
    s: &TimeFilterSelection,
    current: DateTime<Utc>,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    const START: &str = "timeFilterSelection.customStartUtc";
    const END: &str = "timeFilterSelection.customEndUtc";
    let start = v.query_instant(START, s.custom_start_utc.as_deref());
    let end = v.query_instant(END, s.custom_end_utc.as_deref());
    for (path, given) in [(START, &s.custom_start_utc), (END, &s.custom_end_utc)] {
        if given.is_none() {
            v.add(
                path,
                format!("'{path}' is required when the type is Custom."),
            );
        }
    }
    let (start, end) = (start?, end?);
    let from = hour_floor(start);
    // Partial hours at the end are examined whole; the current hour never is.
    let mut until = hour_floor(end);
    if until < end {
        until += Duration::hours(1);
    }
    let until = until.min(current);
    if until <= from {
        v.add(
            END,
            "The window must end after it starts and contain a completed hour.",
        );
        return None;
    }
    if until - from > Duration::days(MAX_RANGE_DAYS) {
        v.add(
            END,
            format!("A Custom window may span at most {MAX_RANGE_DAYS} days."),
        );
        return None;
    }
    Some((from, until))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn steady_baseline_is_normal_and_deviations_are_classified() {
        let base = [98, 102, 100, 97, 103, 101, 99];
        for o in [90, 100, 110, 120] {
            assert_eq!(classify(o, &base), None, "{o}");
        }
        let silence = classify(0, &base).unwrap();
        assert_eq!(
            (silence.kind, silence.severity),
            (AnomalyType::Silence, Severity::High)
        );
        let drop = classify(30, &base).unwrap();
        assert_eq!(
            (drop.kind, drop.severity),
            (AnomalyType::Drop, Severity::Low)
        );
        assert_eq!(classify(5, &base).unwrap().severity, Severity::High);
        let spike = classify(600, &base).unwrap();
        assert_eq!(
            (spike.kind, spike.severity),
            (AnomalyType::Spike, Severity::Medium)
        );
        // Too little baseline, or too little volume to matter.
        assert_eq!(classify(0, &[100, 100]), None);
        assert_eq!(classify(0, &[2, 3, 2, 3]), None);
        assert_eq!(classify(8, &[0, 0, 0, 0, 0, 0, 0]), None);
    }

    #[test]
    fn the_median_of_an_even_baseline_is_the_mean_of_its_middle_pair() {
        assert_eq!(median(&[1.0, 2.0, 4.0, 9.0]), 3.0);
        assert_eq!(median(&[1.0, 2.0, 9.0]), 2.0);
        assert_eq!(classify(0, &[4, 4, 6, 6]).map(|f| f.expected), Some(5.0));
    }

    #[test]
    fn consecutive_hours_merge_into_one_run() {
        let first = 0;
        let mut s = HashMap::new();
        for h in 0..(8 * 24) {
            s.insert(h * HOUR_US, 100);
        }
        let from = 7 * 24 * HOUR_US;
        s.remove(&(from + 3 * HOUR_US));
        s.remove(&(from + 4 * HOUR_US));
        let runs = detect(&s, first, from, from + 24 * HOUR_US);
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].kind, AnomalyType::Silence);
        assert_eq!((runs[0].start, runs[0].hours), (from + 3 * HOUR_US, 2));
        assert_eq!(runs[0].expected, 200.0);
        assert_eq!(runs[0].end(), from + 5 * HOUR_US);
        assert_eq!(runs[0].ratio(), 0.0);
    }

    fn window(sel: serde_json::Value, now: DateTime<Utc>) -> Result<(i64, i64), Vec<String>> {
        let sel: TimeFilterSelection = serde_json::from_value(sel).unwrap();
        let mut v = Validator::new();
        let w = examined_window(&mut v, Some(&sel), now);
        v.outcome(w)
            .map(|(from, until)| ((now - from).num_hours(), (now - until).num_minutes()))
    }

    #[test]
    fn windows_are_whole_hours_before_the_current_one() {
        let now = Utc.with_ymd_and_hms(2026, 3, 10, 12, 30, 0).unwrap();
        let mut v = Validator::new();
        assert_eq!(
            examined_window(&mut v, None, now),
            Some((
                now - Duration::minutes(24 * 60 + 30),
                now - Duration::minutes(30)
            ))
        );
        // (hours from the start to now, minutes from the end to now)
        assert_eq!(
            window(serde_json::json!({"type": "ThreeHours"}), now),
            Ok((3, 30))
        );
        assert_eq!(
            window(
                serde_json::json!({"type": "Custom", "customStartUtc": "2026-03-10T08:10:00 00:00",
                                   "customEndUtc": "2026-03-10T10:05:00Z"}),
                now
            ),
            Ok((4, 90)),
            "the end's partial hour is examined whole; a space stands for '+'"
        );
        assert_eq!(
            window(
                serde_json::json!({"type": "Custom", "customStartUtc": "2026-03-10T11:00:00Z",
                                   "customEndUtc": "2026-03-10T18:00:00Z"}),
                now
            ),
            Ok((1, 30)),
            "the current hour never is"
        );
        for (sel, paths) in [
            (
                serde_json::json!({"type": "Fortnight"}),
                vec!["timeFilterSelection.type"],
            ),
            (
                serde_json::json!({"type": "Custom"}),
                vec![
                    "timeFilterSelection.customEndUtc",
                    "timeFilterSelection.customStartUtc",
                ],
            ),
            (
                serde_json::json!({"type": "Custom", "customStartUtc": "2026-03-10T12:00:00Z", "customEndUtc": "2026-03-10T13:00:00Z"}),
                vec!["timeFilterSelection.customEndUtc"],
            ),
            (
                serde_json::json!({"type": "Custom", "customStartUtc": "2026-01-01T00:00:00Z", "customEndUtc": "2026-03-01T00:00:00Z"}),
                vec!["timeFilterSelection.customEndUtc"],
            ),
            (
                serde_json::json!({"type": "Custom", "customStartUtc": "yesterday", "customEndUtc": "2026-03-01T00:00:00Z"}),
                vec!["timeFilterSelection.customStartUtc"],
            ),
        ] {
            assert_eq!(window(sel.clone(), now).unwrap_err(), paths, "{sel}");
        }
    }
}
