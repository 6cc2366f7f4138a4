//! Wire types of the Palisade (ContraForce v2) API.
//!
//! Everything here is serialized exactly as it appears on the wire: camelCase properties,
//! PascalCase enum values. The server and client SDKs share these definitions; the OpenAPI
//! document's schemas are generated from them.

pub mod audit;
pub mod azure;
pub mod datasources;
pub mod enums;
pub mod envelope;
mod examples;
pub mod gamebooks;
pub mod incidents;
pub mod investigation;
pub mod org;
pub mod spelling;
pub mod tickets;

pub use enums::{OrgRole, WorkspaceRole};
pub use envelope::{Envelope, Meta, ProblemDetails};
pub mod webhooks;
