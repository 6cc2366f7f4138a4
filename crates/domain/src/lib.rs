//! Palisade's domain: its vocabulary (`vocab`), scopes, roles, validation and the error type
//! every layer shares, and the pure rules of the product (incident normalisation, gamebook rule
//! matching and planning, anomaly classification, the event catalogue). No HTTP and no SQL here.

pub mod anomaly;
pub mod error;
pub mod events;
pub mod gamebooks;
pub mod incident;
pub mod scope;
pub mod time;
pub mod validate;
pub mod vocab;

pub use error::{Error, Result};
pub use scope::{Scope, ScopeSet};
pub use validate::Validator;
pub use vocab::{OrgRole, WorkspaceRole};
