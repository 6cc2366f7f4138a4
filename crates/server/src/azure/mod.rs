//! The Azure integration's HTTP client (Microsoft Entra ID tokens, Azure Resource Manager
//! calls). The routes' logic lives in `service::azure`; see `docs/azure.md`.

mod client;

pub use client::{AzureClient, AzureError};
