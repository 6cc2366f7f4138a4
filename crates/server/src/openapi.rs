//! The OpenAPI 3.1 document, generated from the route table (`routes::api`) and the wire
//! types' JSON Schemas (schemars, draft 2020-12 — the dialect OpenAPI 3.1 uses).

use std::collections::BTreeMap;

use palisade_types::{Meta, ProblemDetails};
use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde_json::{json, Map, Value};

use crate::http::registry::{Access, RouteInfo};
use crate::routes;

/// The document as pretty JSON with a trailing newline (what `docs/openapi.json` holds).
pub fn document_bytes() -> Vec<u8> {
    let mut s = serde_json::to_string_pretty(&document()).expect("document serializes");
    s.push('\n');
    s.into_bytes()
}

fn problem_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}
    })
}

fn path_params(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            let schema = if name == "id" || name.ends_with("Id") {
                json!({"type": "string", "format": "uuid"})
            } else {
                json!({"type": "string"})
            };
            json!({"name": name, "in": "path", "required": true, "schema": schema})
        })
        .collect()
}

fn operation(route: &RouteInfo, generator: &mut schemars::SchemaGenerator) -> Value {
    let d = &route.doc;
    let mut op = Map::new();
    let mut tags = vec![json!(d.tag)];
    if d.extension {
        tags.push(json!("Extensions"));
    }
    op.insert("tags".into(), Value::Array(tags));
    op.insert("operationId".into(), json!(d.operation_id));
    op.insert("summary".into(), json!(d.summary));
    let mut description = d.description.to_string();
    match route.access {
        Access::Public => {
            op.insert("security".into(), json!([]));
        }
        Access::Authenticated => {}
        Access::Org(scope) => {
            op.insert("x-required-scope".into(), json!(scope.as_str()));
            description = format!("Requires scope `{}`. {description}", scope.as_str());
        }
        Access::Workspace(..) | Access::WorkspaceAny(..) => {
            let scopes: Vec<&str> = route.access.scopes().iter().map(|s| s.as_str()).collect();
            let role = route.access.role().map(|r| r.as_str()).unwrap_or_default();
            op.insert("x-required-scope".into(), json!(scopes[0]));
            if scopes.len() > 1 {
                op.insert("x-required-scopes-any".into(), json!(scopes));
            }
            op.insert("x-required-workspace-role".into(), json!(role));
            let named: Vec<String> = scopes.iter().map(|s| format!("`{s}`")).collect();
            description = format!(
                "Requires scope {} and at least the `{role}` role on the workspace. {description}",
                named.join(" or ")
            );
        }
    }
    let description = description.trim();
    if !description.is_empty() {
        op.insert("description".into(), json!(description));
    }
    let mut params = path_params(d.documented_path.unwrap_or(route.path));
    for q in &d.query {
        params.push(json!({
            "name": q.name, "in": "query", "required": q.required,
            "description": q.description, "schema": q.schema,
        }));
    }
    if !params.is_empty() {
        op.insert("parameters".into(), Value::Array(params));
    }
    if let Some(req) = d.request {
        let schema = req(generator);
        op.insert(
            "requestBody".into(),
            json!({
                "required": !d.request_optional,
                "content": {"application/json": {"schema": schema}}
            }),
        );
    }
    let mut responses = Map::new();
    let success = match (d.response, d.raw_response) {
        (Some(data), _) => {
            let data = data(generator);
            json!({
                "description": "Success, in the standard envelope.",
                "content": {"application/json": {"schema": {
                    "type": "object",
                    "required": ["data", "meta"],
                    "properties": {"data": data, "meta": {"$ref": "#/components/schemas/Meta"}}
                }}}
            })
        }
        (None, Some(ct)) => json!({"description": "Success.", "content": {ct: {}}}),
        (None, None) => json!({"description": "Success."}),
    };
    responses.insert(d.success_status.to_string(), success);
    if d.request.is_some() || !d.query.is_empty() {
        responses.insert(
            "400".into(),
            problem_response(
                "Validation or parameter binding failed (`VALIDATION_ERROR`, `BAD_REQUEST`).",
            ),
        );
    }
    if route.access != Access::Public {
        responses.insert(
            "401".into(),
            problem_response("Missing, malformed, unknown, expired, revoked or disabled credential (`UNAUTHORIZED`)."),
        );
        responses.insert(
            "403".into(),
            problem_response("Insufficient scope or workspace access (`INSUFFICIENT_SCOPE`, `INSUFFICIENT_WORKSPACE_ROLE`)."),
        );
        responses.insert(
            "429".into(),
            problem_response("Too many failed authentication attempts (`RATE_LIMITED`)."),
        );
    }
    if route.path.contains('{') || route.path.contains("/incidents/") {
        responses.insert("404".into(), problem_response("Not found (`NOT_FOUND`)."));
    }
    if route.path.starts_with("/api/v2/azure-resources/") {
        responses.insert(
            "429".into(),
            problem_response("Too many failed authentication attempts, or Azure is throttling Palisade beyond the retries it makes (`RATE_LIMITED`, with `Retry-After`)."),
        );
        if route.method == axum::http::Method::PUT {
            responses.insert(
                "409".into(),
                problem_response("The resource changed in Azure meanwhile (`CONFLICT`)."),
            );
        }
        responses.insert(
            "503".into(),
            problem_response("No Azure credentials configured, or Azure rejected them or the principal's permissions (`INTEGRATION_NOT_CONFIGURED`); Azure unreachable or failing (`SERVICE_UNAVAILABLE`, with `Retry-After`)."),
        );
    }
    op.insert("responses".into(), Value::Object(responses));
    Value::Object(op)
}

/// Builds the whole document.
pub fn document() -> Value {
    let (_, table) = routes::api().into_parts();
    let mut generator = SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = "/components/schemas".into())
        .into_generator();
    let mut paths: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    for route in &table {
        let op = operation(route, &mut generator);
        paths
            .entry(route.doc.documented_path.unwrap_or(route.path))
            .or_default()
            .insert(route.method.as_str().to_ascii_lowercase(), op);
    }
    // Always-present components.
    let _ = <Meta as JsonSchema>::schema_name();
    generator.subschema_for::<Meta>();
    generator.subschema_for::<ProblemDetails>();
    let schemas = generator.take_definitions(true);
    let schemas: BTreeMap<String, Value> = schemas.into_iter().collect();
    json!({
        "openapi": "3.1.1",
        "info": {
            "title": "Palisade — ContraForce v2 compatible API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Self-hosted, multi-tenant security-operations API speaking the ContraForce v2 API. \
    Every success is wrapped in `{data, meta}`; every failure is RFC 7807 ProblemDetails (`application/problem+json`) with a stable `code`. \
    Authenticate with HTTP Basic `clientId:clientSecret` of a service-account credential.\n\n\
    Guides, served by this server: [incidents](/docs/incidents.md), [webhooks](/docs/webhooks.md), \
    [gamebooks](/docs/gamebooks.md), [tickets](/docs/tickets.md), [data sources](/docs/datasources.md), \
    [investigation](/docs/investigation.md), [Azure](/docs/azure.md), [configuration](/docs/configuration.md), \
    [design decisions](/docs/decisions.md), [architecture](/docs/ARCHITECTURE.md)."
        },
        "servers": [{"url": "/"}],
        "security": [{"basicAuth": []}],
        "tags": [
            {"name": "Service Accounts"},
            {"name": "Users"},
            {"name": "Accounts & Workspaces"},
            {"name": "Incidents"},
            {"name": "Webhooks", "description": "Webhook configurations and delivery logs. Deliveries are signed (`X-CF-Signature`, and Standard Webhooks headers for `whsec_` secrets), retried with the same `X-CF-Event-Id`, and logged per attempt; see [the webhooks guide](/docs/webhooks.md)."},
            {"name": "Azure Resources", "description": "Azure subscriptions, network security groups, Log Analytics workspaces and Microsoft Sentinel through Azure Resource Manager, with the Azure credentials configured under `[azure]`."},
            {"name": "System"},
            {"name": "Extensions", "description": "Beyond the documented ContraForce v2 surface."}
        ],
        "paths": paths,
        "components": {
            "securitySchemes": {"basicAuth": {"type": "http", "scheme": "basic"}},
            "schemas": schemas
        }
    })
}
