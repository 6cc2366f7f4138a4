//! Integration tests: the real application on port 0 against a real database (a fresh one per
//! test; SQLite by default, PostgreSQL when `PALISADE_TEST_DATABASE` is a postgres URL).

mod azure;
mod connectors;
mod connectors_common;
mod connectors_sources;
mod credentials;
mod datasources;
mod errors;
mod fuzz;
mod gamebooks;
mod incident_actions;
mod incidents;
mod investigation;
mod isolation;
mod openapi;
mod paging;
mod route_walk;
mod service_accounts;
mod system;
mod tenancy;
mod tickets;
mod users;
mod webhooks;
