//! Per-kind counters of this replica, and their rendering with the queue's figures.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use palisade_store::KindStats;

/// What one replica's workers did with one kind's jobs since it started.
#[derive(Debug, Default)]
pub struct Counters {
    /// Attempts that ended the job (`Outcome::Done`).
    pub succeeded: AtomicU64,
    /// Attempts that failed (retried or dead-lettered).
    pub failed: AtomicU64,
    /// Failed attempts queued again.
    pub retried: AtomicU64,
    /// Jobs dead-lettered.
    pub dead: AtomicU64,
    /// Jobs put back unattempted (`Outcome::Release`).
    pub released: AtomicU64,
}

impl Counters {
    pub(crate) fn add(n: &AtomicU64) {
        n.fetch_add(1, Ordering::Relaxed);
    }

    fn get(n: &AtomicU64) -> u64 {
        n.load(Ordering::Relaxed)
    }
}

#[derive(Default)]
pub(crate) struct Registry {
    kinds: Mutex<BTreeMap<&'static str, Arc<Counters>>>,
    /// What the kinds' handlers report of their work, by (kind, outcome).
    outcomes: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
}

impl Registry {
    pub(crate) fn counters(&self, kind: &'static str) -> Arc<Counters> {
        self.kinds
            .lock()
            .expect("lock")
            .entry(kind)
            .or_default()
            .clone()
    }

    pub(crate) fn outcome(&self, kind: &'static str, outcome: &'static str) {
        *self
            .outcomes
            .lock()
            .expect("lock")
            .entry((kind, outcome))
            .or_default() += 1;
    }

    pub(crate) fn outcomes(&self) -> BTreeMap<(&'static str, &'static str), u64> {
        self.outcomes.lock().expect("lock").clone()
    }

    /// The Prometheus text of every registered kind, with the queue's figures `stats`.
    pub(crate) fn render(&self, stats: &[KindStats], now_micros: i64) -> String {
        let kinds: Vec<(&'static str, Arc<Counters>)> = self
            .kinds
            .lock()
            .expect("lock")
            .iter()
            .map(|(k, c)| (*k, c.clone()))
            .collect();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP palisade_jobs_total Jobs worked by this replica, by kind and outcome \
             (succeeded, failed, retried, dead, released).\n# TYPE palisade_jobs_total counter"
        );
        for (kind, c) in &kinds {
            for (outcome, n) in [
                ("succeeded", &c.succeeded),
                ("failed", &c.failed),
                ("retried", &c.retried),
                ("dead", &c.dead),
                ("released", &c.released),
            ] {
                let _ = writeln!(
                    out,
                    "palisade_jobs_total{{kind=\"{kind}\",outcome=\"{outcome}\"}} {}",
                    Counters::get(n)
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP palisade_job_outcomes_total What this replica's jobs came to, as their kinds \
             name it (deliveries: delivered, failed, abandoned, gone; gamebook runs: their final \
             status).\n# TYPE palisade_job_outcomes_total counter"
        );
        for ((kind, outcome), n) in self.outcomes() {
            let _ = writeln!(
                out,
                "palisade_job_outcomes_total{{kind=\"{kind}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        let stat = |kind: &str| stats.iter().find(|s| s.kind == kind).cloned();
        for (name, help, kind_of) in [
            (
                "palisade_jobs_queued",
                "Jobs queued and not leased (due, or waiting for a retry), by kind.",
                0,
            ),
            ("palisade_jobs_running", "Jobs leased now, by kind.", 1),
            (
                "palisade_jobs_dead",
                "Dead-lettered jobs not purged yet, by kind.",
                2,
            ),
            (
                "palisade_jobs_oldest_age_seconds",
                "Age of the oldest queued or running job, by kind (0 when none).",
                3,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for (kind, _) in &kinds {
                let s = stat(kind).unwrap_or_default();
                let value = match kind_of {
                    0 => s.queued as f64,
                    1 => s.running as f64,
                    2 => s.dead as f64,
                    _ => s
                        .oldest_created_at
                        .map(|t| ((now_micros - t).max(0) as f64) / 1e6)
                        .unwrap_or(0.0),
                };
                let _ = writeln!(out, "{name}{{kind=\"{kind}\"}} {value}");
            }
        }
        out
    }
}
