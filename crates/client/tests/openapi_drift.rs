//! The client's operation table against the server's OpenAPI document (docs/openapi.json,
//! generated from the server's route table): every documented operation has exactly one
//! client method with the same method, path template, operation id, path parameters, query
//! parameters, request body and response type, and the client has no operation the document
//! lacks.

use std::collections::{BTreeMap, BTreeSet};

use palisade_client::{Kind, Operation, OPERATIONS};
use serde_json::Value;

/// Browser pages, not API operations: the client has no method for them.
const BROWSER_PAGES: &[&str] = &["root", "docs", "docs-asset"];

fn document() -> Value {
    serde_json::from_str(include_str!("../../../docs/openapi.json")).expect("docs/openapi.json")
}

fn doc_operations(doc: &Value) -> BTreeMap<(String, String), Value> {
    let mut out = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                out.insert((method.to_uppercase(), path.clone()), op.clone());
            }
        }
    }
    out
}

fn camel(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn template_params(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(str::to_string)
        .collect()
}

fn ref_name(schema: &Value) -> Option<&str> {
    schema["$ref"].as_str().and_then(|r| r.rsplit('/').next())
}

/// What the document says the operation answers, as the client spells its return type.
fn documented_return(op: &Value) -> Result<(Kind, String), String> {
    let responses = op["responses"].as_object().ok_or("no responses")?;
    let (status, success) = responses
        .iter()
        .find(|(code, _)| code.starts_with('2'))
        .ok_or("no 2xx response")?;
    let content = success["content"].as_object().cloned().unwrap_or_default();
    if content.keys().any(|k| k.starts_with("text/")) {
        return Ok((Kind::Text, "String".into()));
    }
    let schema = &content.get("application/json").ok_or("no JSON content")?["schema"];
    let Some(data) = schema["properties"].get("data") else {
        if status == "202" {
            return Ok((Kind::Accepted, "Value".into()));
        }
        return Ok((Kind::Json, "Value".into()));
    };
    let kind = if status == "202" {
        Kind::Accepted
    } else {
        Kind::Data
    };
    let name = if data["type"] == "array" {
        format!("Vec<{}>", ref_name(&data["items"]).ok_or("array of what")?)
    } else if data["type"] == "boolean" {
        "bool".into()
    } else {
        ref_name(data).ok_or("data of no named schema")?.to_string()
    };
    Ok((kind, name))
}

fn check(op: &Operation, doc_op: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut fail = |what: String| problems.push(format!("{}::{}: {what}", op.handle, op.name));
    if doc_op["operationId"] != op.id {
        fail(format!(
            "operationId {} in the document, {} in the client",
            doc_op["operationId"], op.id
        ));
    }
    let params: Vec<String> = op.params.iter().map(|p| camel(p)).collect();
    if params != template_params(op.path) {
        fail(format!(
            "path parameters {params:?} do not spell the template {}",
            op.path
        ));
    }
    let documented_query: BTreeSet<String> = doc_op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["in"] == "query")
        .map(|p| p["name"].as_str().unwrap_or_default().to_string())
        .collect();
    let query: BTreeSet<String> = op.query.iter().map(|q| q.to_string()).collect();
    if documented_query != query {
        fail(format!(
            "query parameters {query:?}, the document has {documented_query:?}"
        ));
    }
    let body = doc_op.get("requestBody");
    match (body, op.body) {
        (None, None) => {}
        (Some(b), Some(_)) => {
            if b["required"].as_bool().unwrap_or(false) != op.body_required {
                fail(format!(
                    "body required: document {}, client {}",
                    b["required"], op.body_required
                ));
            }
        }
        (b, c) => fail(format!(
            "request body: document {}, client {c:?}",
            b.is_some()
        )),
    }
    match documented_return(doc_op) {
        Ok((kind, name)) => {
            let returns: String = op.returns.chars().filter(|c| !c.is_whitespace()).collect();
            if kind != op.kind || name != returns {
                fail(format!(
                    "returns {kind:?} {name} in the document, {:?} {returns} in the client",
                    op.kind
                ));
            }
        }
        Err(e) => fail(format!("the document's response: {e}")),
    }
    problems
}

#[test]
fn the_client_has_every_documented_operation_and_no_other() {
    let doc = document();
    let documented = doc_operations(&doc);
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for op in OPERATIONS.iter() {
        let key = (op.method.to_string(), op.path.to_string());
        if !seen.insert(key.clone()) {
            problems.push(format!("{} {} is declared twice", op.method, op.path));
        }
        match documented.get(&key) {
            Some(doc_op) => problems.extend(check(op, doc_op)),
            None => problems.push(format!(
                "{}::{} ({} {}) is not in the OpenAPI document",
                op.handle, op.name, op.method, op.path
            )),
        }
    }
    for ((method, path), doc_op) in &documented {
        let id = doc_op["operationId"].as_str().unwrap_or_default();
        if BROWSER_PAGES.contains(&id) {
            continue;
        }
        if !seen.contains(&(method.clone(), path.clone())) {
            problems.push(format!("{method} {path} ({id}) has no client method"));
        }
    }
    for page in BROWSER_PAGES {
        assert!(
            documented.values().any(|o| o["operationId"] == *page),
            "{page} is no longer in the document: take it out of BROWSER_PAGES"
        );
    }
    assert!(
        problems.is_empty(),
        "client and OpenAPI document disagree:\n{}",
        problems.join("\n")
    );
    // The table is not empty by accident.
    assert!(OPERATIONS.len() >= documented.len() - BROWSER_PAGES.len());
}

#[test]
fn only_reads_and_upserts_are_retried() {
    for op in OPERATIONS.iter() {
        if op.method == "POST" && op.idempotent {
            assert!(
                op.name.starts_with("ingest")
                    || op.name.ends_with("_page")
                    || matches!(op.name, "workspace_users" | "anomalies"),
                "{}::{} is a POST marked idempotent",
                op.handle,
                op.name
            );
        }
    }
    let post_retried = OPERATIONS
        .iter()
        .filter(|o| o.method == "POST" && o.idempotent)
        .count();
    let post_not = OPERATIONS
        .iter()
        .filter(|o| o.method == "POST" && !o.idempotent)
        .count();
    assert!(
        post_retried >= 4 && post_not >= 20,
        "{post_retried} / {post_not}"
    );
}
