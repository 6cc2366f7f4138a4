//! Palisade's domain: its vocabulary (`vocab`), scopes, roles, validation, incident
//! normalisation and the error type every layer shares. No HTTP and no SQL here.

pub mod error;
pub mod incident;
pub mod scope;
pub mod time;
pub mod validate;
pub mod vocab;

pub use error::{Error, Result};
pub use scope::{Scope, ScopeSet};
pub use validate::Validator;
pub use vocab::{OrgRole, WorkspaceRole};
