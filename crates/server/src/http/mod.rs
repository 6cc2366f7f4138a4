//! HTTP plumbing: request context, the one error type, envelopes, JSON extraction, the
//! route registry with its authorization, metrics.

pub mod context;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod registry;
pub mod respond;
pub mod strict;
