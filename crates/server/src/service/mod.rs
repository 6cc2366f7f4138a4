//! The service layer: validation, authorization beyond the route's scope and role, and
//! orchestration of the store. Handlers call exactly one method here.

pub mod audit;
pub mod azure;
pub mod cache;
pub mod connectors;
pub mod dashboard;
pub mod datasources;
pub mod gamebooks;
pub mod incident_actions;
mod incident_listing;
pub mod incident_native;
pub mod incident_wire;
pub mod incidents;
pub mod investigation;
mod org;
pub mod org_wire;
pub mod tickets;
mod users;
pub mod webhooks;

pub use audit::AuditService;
pub use azure::AzureService;
pub use datasources::DataSourceService;
pub use gamebooks::GamebookService;
pub use incidents::IncidentService;
pub use investigation::InvestigationService;
pub use org::OrgService;
pub use tickets::TicketService;
pub use webhooks::WebhookService;
