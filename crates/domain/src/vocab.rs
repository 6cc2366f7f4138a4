//! Palisade's vocabulary: the enums and small value types every layer speaks (sources,
//! severities, statuses, classifications, roles, field changes).
//!
//! They are defined once, in `palisade-types`, with their wire spelling and JSON schema, so
//! the API, the OpenAPI document and the SDKs cannot drift from what is stored. The domain
//! re-exports them here as its vocabulary; the store depends only on the domain (never on the
//! wire types), and names them through this module.

pub use palisade_types::enums::{OrgRole, WorkspaceRole};
pub use palisade_types::incidents::{
    Alert, Classification, ClassificationReason, Entity, EntityKind, Evidence, FieldChange,
    IncidentSource, IncidentStatus, Owner, Severity,
};
