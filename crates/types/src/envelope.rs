use std::collections::BTreeMap;

use crate::examples::example;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Standard v2 response envelope: `{data, meta}`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Envelope<T> {
    pub data: T,
    pub meta: Meta,
}

/// Response metadata carried by every envelope.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    /// The request id, also sent as the `X-Request-Id` response header.
    pub request_id: String,
    /// Server time, e.g. `2026-04-15T20:00:00.0000000+00:00`.
    pub timestamp: String,
}

/// RFC 7807 / RFC 9457 problem document, served as `application/problem+json`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("ProblemDetails"))]
pub struct ProblemDetails {
    /// URI of the problem class.
    #[serde(rename = "type")]
    pub type_: String,
    /// Short summary, stable per `code`.
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// Human-readable explanation of this occurrence.
    pub detail: String,
    /// Path of the failing request.
    pub instance: String,
    /// Stable machine-readable code, e.g. `VALIDATION_ERROR`.
    pub code: String,
    pub request_id: String,
    pub timestamp: String,
    /// The field or identifier the error refers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Validation failures keyed by JSON path (`""` for the whole object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<BTreeMap<String, Vec<String>>>,
}
