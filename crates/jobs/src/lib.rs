//! Palisade's background jobs: one runtime for every kind of work that runs behind the API
//! (webhook deliveries, gamebook runs, connector polls and write-backs). See `docs/jobs.md`.
//!
//! - A **kind** ([`Kind`]) names the work and bounds it: concurrency per replica, slots per
//!   fairness key, attempts, backoff, lease.
//! - A **handler** ([`Handler`]) works one job and says how it went ([`Outcome`]).
//! - Jobs are queued by the change that causes them, in its transaction (the store's
//!   `jobs::enqueue_in`; [`palisade_store::System::enqueue`] outside one), and claimed with a
//!   lease the runtime renews while the handler runs. A lapsed lease (a crashed replica) makes
//!   the job due again: at least once, never lost.
//! - [`Jobs`] is the runtime: register kinds and loops, [`Jobs::start`], [`Running::stop`]
//!   (in-flight jobs finish), [`Jobs::wake`] after queueing, [`Jobs::render_metrics`].

mod kind;
mod metrics;
mod runtime;
mod worker;

pub use kind::{Backoff, Kind};
pub use metrics::Counters;
pub use palisade_store::{JobEnd, JobSpec};
pub use runtime::{Jobs, Running};
pub use worker::{Finished, Handler, Job, Outcome};
