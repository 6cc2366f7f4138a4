//! A kind of job and its limits.

use std::time::Duration;

/// A kind of job: its name in the queue and the bounds the runtime works it within.
#[derive(Debug, Clone)]
pub struct Kind {
    /// The name jobs are queued under (`webhook.delivery`, `connector.poll`, …).
    pub name: &'static str,
    /// Jobs of this kind worked at once by one replica.
    pub concurrency: usize,
    /// Jobs of one fairness key worked at once by one replica: a slow key (a receiver, a
    /// connector) holds only its own slots, never the whole kind's.
    pub per_key: usize,
    /// Attempts before a job is dead-lettered (at least 1).
    pub max_attempts: u32,
    /// The wait before a retry the handler did not time itself.
    pub backoff: Backoff,
    /// How long a claim holds a job; renewed every third of it while the handler runs. A
    /// replica that dies holds its jobs at most this long.
    pub lease: Duration,
    /// How often an idle replica looks for due jobs it was not woken for (other replicas'
    /// jobs, retries falling due).
    pub poll: Duration,
}

impl Kind {
    /// A kind with the defaults: 8 at once, 8 per key, 5 attempts, exponential backoff from
    /// 1 s to 1 h, a 60 s lease, a 1 s poll.
    pub fn new(name: &'static str) -> Kind {
        Kind {
            name,
            concurrency: 8,
            per_key: 8,
            max_attempts: 5,
            backoff: Backoff::Exponential {
                first: Duration::from_secs(1),
                max: Duration::from_secs(3600),
            },
            lease: Duration::from_secs(60),
            poll: Duration::from_secs(1),
        }
    }
}

/// The wait before retrying a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backoff {
    /// `first`, doubled after each further failure, at most `max`.
    Exponential { first: Duration, max: Duration },
    /// The n-th failure waits the n-th entry (the last one past the end).
    Schedule(Vec<Duration>),
}

impl Backoff {
    /// The wait after the `failures`-th failed attempt (1 for the first).
    pub fn after(&self, failures: u32) -> Duration {
        let n = failures.max(1);
        match self {
            Backoff::Exponential { first, max } => {
                let factor = 1u32.checked_shl(n - 1).unwrap_or(u32::MAX);
                first.saturating_mul(factor).min(*max)
            }
            Backoff::Schedule(steps) => steps
                .get(n as usize - 1)
                .or(steps.last())
                .copied()
                .unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_backoff_doubles_up_to_its_cap() {
        let b = Backoff::Exponential {
            first: Duration::from_secs(2),
            max: Duration::from_secs(60),
        };
        let waits: Vec<u64> = (1..=7).map(|n| b.after(n).as_secs()).collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(b.after(200), Duration::from_secs(60));
    }

    #[test]
    fn a_schedule_repeats_its_last_step() {
        let b = Backoff::Schedule(vec![Duration::from_secs(10), Duration::from_secs(60)]);
        assert_eq!(b.after(1), Duration::from_secs(10));
        assert_eq!(b.after(2), Duration::from_secs(60));
        assert_eq!(b.after(9), Duration::from_secs(60));
    }
}
