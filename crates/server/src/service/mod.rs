//! The service layer: validation, authorization beyond the route's scope and role, and
//! orchestration of the store. Handlers call exactly one method here.

mod org;
mod users;

pub use org::OrgService;
