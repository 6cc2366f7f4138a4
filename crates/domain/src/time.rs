//! Timestamps are stored as microseconds since the Unix epoch (portable across SQLite and
//! PostgreSQL, and totally ordered).

use chrono::{DateTime, Duration, TimeZone, Utc};
use palisade_types::incidents::TimeFilteringType;

pub fn now() -> DateTime<Utc> {
    // Truncate to microseconds so a value survives a round trip through the store unchanged.
    from_micros(to_micros(Utc::now()))
}

pub fn to_micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub fn from_micros(us: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(us).single().unwrap_or_default()
}

/// `2026-04-15T20:00:00.0000000+00:00`: the envelope's documented timestamp format.
pub fn envelope_timestamp(t: DateTime<Utc>) -> String {
    let frac = t.timestamp_subsec_nanos() / 100;
    format!("{}.{:07}+00:00", t.format("%Y-%m-%dT%H:%M:%S"), frac)
}

/// The window a relative `TimeFilteringType` selects, ending at `now`; `None` for `Custom`
/// (its bounds are given).
pub fn relative_window(
    filter: TimeFilteringType,
    now: DateTime<Utc>,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let hours = match filter {
        TimeFilteringType::ThreeHours => 3,
        TimeFilteringType::SixHours => 6,
        TimeFilteringType::TwelveHours => 12,
        TimeFilteringType::TwentyFourHours => 24,
        TimeFilteringType::FourtyEightHours => 48,
        TimeFilteringType::Custom => return None,
    };
    Some((now - Duration::hours(hours), now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_windows_end_now() {
        let now = now();
        assert_eq!(
            relative_window(TimeFilteringType::SixHours, now),
            Some((now - Duration::hours(6), now))
        );
        assert_eq!(
            relative_window(TimeFilteringType::FourtyEightHours, now).map(|w| now - w.0),
            Some(Duration::hours(48))
        );
        assert_eq!(relative_window(TimeFilteringType::Custom, now), None);
    }

    #[test]
    fn envelope_timestamp_has_seven_fraction_digits_and_offset() {
        let t = Utc.with_ymd_and_hms(2026, 4, 15, 20, 0, 0).unwrap();
        assert_eq!(envelope_timestamp(t), "2026-04-15T20:00:00.0000000+00:00");
        let t = t + chrono::Duration::microseconds(123_456);
        assert_eq!(envelope_timestamp(t), "2026-04-15T20:00:00.1234560+00:00");
    }

    #[test]
    fn micros_round_trip() {
        let t = now();
        assert_eq!(from_micros(to_micros(t)), t);
    }
}
