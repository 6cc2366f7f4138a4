//! Palisade's domain: tenancy ids, scopes, roles, validation and the error type every layer
//! shares. No HTTP and no SQL here.

pub mod error;
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
