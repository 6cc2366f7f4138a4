//! Palisade's domain: tenancy ids, scopes, roles, validation and the error type every layer
//! shares, and the pure rules of the product (incident normalisation, gamebook rule matching
//! and planning, anomaly classification, the event catalogue). No HTTP and no SQL here.

pub mod anomaly;
pub mod error;
pub mod events;
pub mod gamebooks;
pub mod ids;
pub mod incident;
pub mod scope;
pub mod time;
pub mod validate;

pub use error::{Error, Result};
pub use ids::OrgId;
pub use palisade_types::{OrgRole, WorkspaceRole};
pub use scope::{Scope, ScopeSet};
pub use validate::Validator;
