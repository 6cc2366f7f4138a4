//! The OpenAPI 3.1 document, generated from the route table (`routes::api`) and the wire
//! types' JSON Schemas (schemars, draft 2020-12 — the dialect OpenAPI 3.1 uses), and its 3.0.3
//! rendition ([`v30`]) for generators without 3.1.
//!
//! The error responses of an operation are derived from the route's properties: its access
//! rule (401, 403, 429), its path parameters and body (404), its body (400, 413, 415) and query
//! (400), its method (409), and the database behind every authenticated route (503).

pub mod v30;

use std::collections::BTreeMap;

use palisade_types::{Meta, ProblemDetails};
use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde_json::{json, Map, Value};

use axum::http::Method;
use palisade_types::incidents::IncidentSource;
use palisade_types::spelling::spelled_schema;

use crate::http::registry::{Access, RouteInfo};
use crate::routes;

/// The document as pretty JSON with a trailing newline (what `docs/openapi.json` holds).
pub fn document_bytes() -> Vec<u8> {
    pretty(&document())
}

/// The 3.0.3 rendition, likewise (what `docs/openapi-3.0.json` holds).
pub fn document_30_bytes() -> Vec<u8> {
    pretty(&v30::convert(&document()))
}

/// Both documents, generated once: `(3.1, 3.0.3)`.
pub fn documents_bytes() -> (Vec<u8>, Vec<u8>) {
    let doc = document();
    (pretty(&doc), pretty(&v30::convert(&doc)))
}

fn pretty(doc: &Value) -> Vec<u8> {
    let mut s = serde_json::to_string_pretty(doc).expect("document serializes");
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
            let schema = if name == "source" {
                spelled_schema::<IncidentSource>()
            } else if name == "id" || name.ends_with("Id") && name != "incidentId" {
                json!({"type": "string", "format": "uuid"})
            } else {
                json!({"type": "string"})
            };
            json!({"name": name, "in": "path", "required": true, "schema": schema})
        })
        .collect()
}

/// The error responses of a route, derived from its properties.
fn error_responses(route: &RouteInfo) -> Vec<(&'static str, String)> {
    let d = &route.doc;
    let path = d.documented_path.unwrap_or(route.path);
    let has_body = d.request.is_some();
    let has_params = path.contains('{');
    let guarded = route.access != Access::Public;
    let azure = route.path.starts_with("/api/v2/azure-resources/");
    let mut out: Vec<(&'static str, String)> = Vec::new();
    let mut bad_request = Vec::new();
    if has_body {
        bad_request.push("the body is not the JSON object described (`BAD_REQUEST`)");
    }
    if has_params {
        bad_request.push("a path parameter is not valid percent-encoded UTF-8 (`BAD_REQUEST`)");
    }
    if has_body || !d.query.is_empty() || path.contains("{source}") {
        bad_request.push(
            "a field, parameter or the source is missing, malformed or out of range; the errors map names each by its JSON path (`VALIDATION_ERROR`)",
        );
    }
    if !bad_request.is_empty() {
        out.push((
            "400",
            format!("{}.", capitalize(&bad_request.join("; or "))),
        ));
    }
    if guarded {
        out.push((
            "401",
            "Missing, malformed, unknown, expired, revoked or disabled credential (`UNAUTHORIZED`, with `WWW-Authenticate: Basic`).".into(),
        ));
    }
    match route.access {
        Access::Org(_) => out.push((
            "403",
            "The credential lacks the operation's scope (`INSUFFICIENT_SCOPE`, naming it).".into(),
        )),
        Access::Workspace(..) | Access::WorkspaceAny(..) => out.push((
            "403",
            "The credential lacks the operation's scope (`INSUFFICIENT_SCOPE`), or its account holds no (or too low a) role on the workspace (`INSUFFICIENT_WORKSPACE_ROLE`).".into(),
        )),
        _ => {}
    }
    if guarded && (has_params || has_body) {
        out.push((
            "404",
            "A resource named by the path or the body does not exist, or belongs to another organization (`NOT_FOUND`).".into(),
        ));
    } else if has_params {
        out.push(("404", "Not found (`NOT_FOUND`).".into()));
    }
    let writes = matches!(route.method, Method::POST | Method::PUT | Method::DELETE) && !d.reads;
    if guarded && writes {
        let what = if azure {
            "The resource changed in Azure meanwhile"
        } else {
            "A duplicate, or a state change that does not apply now"
        };
        out.push(("409", format!("{what} (`CONFLICT`).")));
    }
    if has_body {
        out.push((
            "413",
            match d.body_limit {
                Some(limit) => format!(
                    "The body is over this operation's limit of {} MiB (`PAYLOAD_TOO_LARGE`).",
                    limit / (1024 * 1024)
                ),
                None => "The body is over `max_body_bytes` (default 1 MiB) (`PAYLOAD_TOO_LARGE`)."
                    .into(),
            },
        ));
        out.push((
            "415",
            "The body is not sent as `application/json` (`UNSUPPORTED_MEDIA_TYPE`).".into(),
        ));
    }
    if guarded {
        let what = if azure {
            "Too many failed authentication attempts from this address, or Azure is throttling Palisade beyond the retries it makes (`RATE_LIMITED`, with `Retry-After`)."
        } else {
            "Too many failed authentication attempts from this address (`RATE_LIMITED`, with `Retry-After`)."
        };
        out.push(("429", what.into()));
    }
    if guarded || route.path == "/readyz" {
        let what = if azure {
            "No Azure credentials configured, or Azure rejected them or the principal's permissions (`INTEGRATION_NOT_CONFIGURED`); the database or Azure unreachable (`SERVICE_UNAVAILABLE`, with `Retry-After`)."
        } else {
            "The database is unreachable (`SERVICE_UNAVAILABLE`, with `Retry-After`)."
        };
        out.push(("503", what.into()));
    }
    out
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The request body schema of a route: its type's, or (for a route that requires more of a
/// shared type) a named copy requiring those fields too.
fn request_schema(route: &RouteInfo, generator: &mut schemars::SchemaGenerator) -> Option<Value> {
    let schema = route.doc.request?(generator).to_value();
    let Some((name, fields)) = route.doc.requires else {
        return Some(schema);
    };
    let base = schema["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
        .expect("a request body type with a schema of its own");
    let mut variant = generator
        .definitions()
        .get(base)
        .cloned()
        .expect("the referenced schema");
    let required = variant
        .as_object_mut()
        .expect("an object schema")
        .entry("required")
        .or_insert_with(|| json!([]));
    for field in fields {
        assert!(
            schema_has_property(generator, base, field),
            "{name}: {base} has no property {field}"
        );
        let list = required.as_array_mut().expect("a list");
        if !list.iter().any(|f| f == field) {
            list.push(json!(field));
        }
    }
    // Only the examples that hold every required field are examples of the variant.
    let required: Vec<Value> = variant["required"].as_array().cloned().unwrap_or_default();
    let object = variant.as_object_mut().expect("an object schema");
    if let Some(Value::Array(examples)) = object.get_mut("examples") {
        examples.retain(|e| {
            required
                .iter()
                .all(|f| f.as_str().is_some_and(|f| e.get(f).is_some()))
        });
        if examples.is_empty() {
            object.remove("examples");
        }
    }
    generator
        .definitions_mut()
        .insert(name.to_string(), variant);
    Some(json!({"$ref": format!("#/components/schemas/{name}")}))
}

fn schema_has_property(generator: &schemars::SchemaGenerator, name: &str, field: &str) -> bool {
    generator.definitions()[name]["properties"]
        .get(field)
        .is_some()
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
    if let Some(schema) = request_schema(route, generator) {
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
        (None, Some(_)) if d.success_status == 307 => json!({
            "description": "A redirect; `Location` names the target.",
            "headers": {"Location": {"schema": {"type": "string"}}}
        }),
        (None, Some(ct)) => json!({"description": "Success.", "content": {ct: {}}}),
        (None, None) => json!({"description": "Success."}),
    };
    if d.replaces {
        let mut replaced = success.clone();
        replaced["description"] = json!("Replaced, in the standard envelope.");
        responses.insert("200".into(), replaced);
    }
    responses.insert(d.success_status.to_string(), success);
    for (status, description) in error_responses(route) {
        responses.insert(status.into(), problem_response(&description));
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
            {"name": "Audit", "description": "The audit log of every change made through the API or the console; see [the console guide](/docs/console.md)."},
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
