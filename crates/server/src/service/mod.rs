//! The service layer: validation, authorization beyond the route's scope and role, and
//! orchestration of the store. Handlers call exactly one method here.

pub mod azure;
pub mod cache;
pub mod gamebooks;
pub mod incident_actions;
pub mod incidents;
mod org;
pub mod tickets;
mod users;
pub mod webhooks;

pub use azure::AzureService;
pub use gamebooks::GamebookService;
pub use incidents::IncidentService;
pub use org::OrgService;
pub use tickets::TicketService;
pub use webhooks::WebhookService;
