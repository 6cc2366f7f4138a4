//! Every route, with its access rule next to it. Each resource's module holds its thin
//! handlers and, at its end, its route table (`routes`); `api()` chains those tables into the
//! single table the router, the authorization layer, the OpenAPI document and the
//! route-walking test are built from. The order of the chain is the order of the document.

pub mod audit;
pub mod azure;
pub mod datasources;
pub mod gamebooks;
pub mod incidents;
pub mod investigation;
pub mod service_accounts;
pub mod system;
pub mod tenancy;
pub mod tickets;
pub mod users;
pub mod webhooks;

use crate::http::registry::Api;

/// What every resource's route table names.
mod table {
    pub(super) use crate::http::registry::{doc, Access, Doc, PAGE_TOKENS_BODY_BYTES};
    pub(super) use axum::http::Method;
    pub(super) use palisade_domain::Scope::*;
    pub(super) use palisade_domain::WorkspaceRole::*;
    pub(super) use palisade_types::spelling::spelled_schema;
    pub(super) use serde_json::json;
    pub(super) use Access::{Org, Public};
}

/// The route table: each resource's routes, in this order.
pub fn api() -> Api {
    [
        system::routes,
        service_accounts::routes,
        users::routes,
        tenancy::routes,
        incidents::routes,
        datasources::routes,
        investigation::routes,
        webhooks::routes,
        gamebooks::routes,
        tickets::routes,
        azure::routes,
        audit::routes,
    ]
    .into_iter()
    .fold(Api::new(), |api, routes| routes(api))
}
