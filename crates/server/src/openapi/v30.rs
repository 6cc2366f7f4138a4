//! The OpenAPI 3.0.3 rendition of the 3.1 document, for generators that lack 3.1
//! (progenitor, openapi-generator's Rust client). Served at `/api/v2/openapi-3.0.json` and
//! committed as `docs/openapi-3.0.json`.
//!
//! 3.1 schemas are JSON Schema 2020-12; 3.0 schemas are an older, extended subset. Every
//! schema of the document (components, parameters, bodies, responses) is rewritten:
//! - `type: [T, "null"]` becomes `type: T` with `nullable: true` (several non-null types become
//!   an `anyOf` of each);
//! - `anyOf`/`oneOf` with a `{type: "null"}` branch loses it and becomes `nullable: true`;
//! - `const: v` becomes `enum: [v]`; `examples: [a, …]` becomes `example: a`;
//! - a numeric `exclusiveMinimum`/`exclusiveMaximum` becomes `minimum`/`maximum` with the
//!   boolean flag;
//! - `prefixItems` (tuples) becomes `items` of `anyOf` the item schemas, with `minItems` and
//!   `maxItems`;
//! - the boolean schemas `true` and `false` become `{}` and `{not: {}}`;
//! - a `$ref` with sibling keywords (which 3.0 ignores) becomes `allOf: [{$ref}]` beside them;
//! - `$schema`, `$id`, `$comment`, `contentEncoding` and `contentMediaType` are dropped.

use serde_json::{json, Map, Value};

/// The 3.0.3 rendition of a 3.1 document.
pub fn convert(doc: &Value) -> Value {
    let mut out = doc.clone();
    out["openapi"] = json!("3.0.3");
    if let Some(schemas) = out
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for schema in schemas.values_mut() {
            *schema = schema_30(schema);
        }
    }
    if let Some(paths) = out.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            for op in item
                .as_object_mut()
                .into_iter()
                .flat_map(|m| m.values_mut())
            {
                operation_30(op);
            }
        }
    }
    out
}

fn operation_30(op: &mut Value) {
    for param in op
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if let Some(schema) = param.get_mut("schema") {
            *schema = schema_30(schema);
        }
    }
    if let Some(content) = op.pointer_mut("/requestBody/content") {
        media_30(content);
    }
    for response in op
        .get_mut("responses")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|m| m.values_mut())
    {
        if let Some(content) = response.get_mut("content") {
            media_30(content);
        }
        for header in response
            .get_mut("headers")
            .and_then(Value::as_object_mut)
            .into_iter()
            .flat_map(|m| m.values_mut())
        {
            if let Some(schema) = header.get_mut("schema") {
                *schema = schema_30(schema);
            }
        }
    }
}

fn media_30(content: &mut Value) {
    for media in content
        .as_object_mut()
        .into_iter()
        .flat_map(|m| m.values_mut())
    {
        if let Some(schema) = media.get_mut("schema") {
            *schema = schema_30(schema);
        }
    }
}

const DROPPED: [&str; 5] = [
    "$schema",
    "$id",
    "$comment",
    "contentEncoding",
    "contentMediaType",
];

/// One schema, rewritten for OpenAPI 3.0 (recursively).
pub fn schema_30(schema: &Value) -> Value {
    let map = match schema {
        Value::Bool(true) => return json!({}),
        Value::Bool(false) => return json!({"not": {}}),
        Value::Object(map) => map,
        other => return other.clone(),
    };
    let mut out = Map::new();
    let mut nullable = false;
    for (key, value) in map {
        match key.as_str() {
            k if DROPPED.contains(&k) => {}
            "type" => match value {
                Value::Array(types) => {
                    let kinds: Vec<&Value> = types.iter().filter(|t| *t != "null").collect();
                    nullable |= kinds.len() < types.len();
                    match kinds.as_slice() {
                        [] => {}
                        [one] => {
                            out.insert("type".into(), (*one).clone());
                        }
                        many => {
                            let any: Vec<Value> = many.iter().map(|t| json!({"type": t})).collect();
                            out.insert("anyOf".into(), Value::Array(any));
                        }
                    }
                }
                Value::String(t) if t == "null" => nullable = true,
                other => {
                    out.insert("type".into(), other.clone());
                }
            },
            "const" => {
                out.insert("enum".into(), json!([value]));
            }
            "examples" => {
                if let Some(first) = value.as_array().and_then(|a| a.first()) {
                    out.insert("example".into(), first.clone());
                }
            }
            "exclusiveMinimum" | "exclusiveMaximum" if value.is_number() => {
                let bound = if key == "exclusiveMinimum" {
                    "minimum"
                } else {
                    "maximum"
                };
                out.insert(bound.into(), value.clone());
                out.insert(key.clone(), json!(true));
            }
            "anyOf" | "oneOf" => {
                let branches: Vec<&Value> = value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|b| !is_null_schema(b))
                    .collect();
                let all = value.as_array().map_or(0, Vec::len);
                nullable |= branches.len() < all;
                match branches.as_slice() {
                    [] => {}
                    [one] => merge(&mut out, schema_30(one)),
                    many => {
                        out.insert(
                            key.clone(),
                            Value::Array(many.iter().map(|b| schema_30(b)).collect()),
                        );
                    }
                }
            }
            "allOf" => {
                let parts = value.as_array().into_iter().flatten().map(schema_30);
                out.insert(key.clone(), Value::Array(parts.collect()));
            }
            "prefixItems" => {
                let items: Vec<Value> = value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(schema_30)
                    .collect();
                out.insert("minItems".into(), json!(items.len()));
                out.insert("maxItems".into(), json!(items.len()));
                out.insert("items".into(), json!({"anyOf": items}));
            }
            "items" | "additionalProperties" | "not" => {
                if key == "items" && out.contains_key("items") {
                    continue; // `prefixItems` already made them
                }
                match value {
                    Value::Bool(b) if key == "additionalProperties" => {
                        out.insert(key.clone(), json!(b));
                    }
                    other => {
                        out.insert(key.clone(), schema_30(other));
                    }
                }
            }
            "properties" | "patternProperties" | "$defs" | "definitions" => {
                let props: Map<String, Value> = value
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), schema_30(v)))
                    .collect();
                if key == "properties" {
                    out.insert(key.clone(), Value::Object(props));
                }
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    if nullable {
        out.insert("nullable".into(), json!(true));
    }
    // 3.0 ignores anything beside a `$ref`: keep the siblings by referring through `allOf`.
    if out.contains_key("$ref") && out.len() > 1 {
        let reference = out.remove("$ref").expect("present");
        out.insert("allOf".into(), json!([{"$ref": reference}]));
    }
    // `nullable` needs a type (or a composition) to qualify in 3.0.
    if out.get("nullable") == Some(&json!(true))
        && !["type", "allOf", "anyOf", "oneOf", "enum"]
            .iter()
            .any(|k| out.contains_key(*k))
    {
        out.insert("enum".into(), json!([null]));
    }
    Value::Object(out)
}

/// Merges `part` (a rewritten schema) into `out`, keeping `out`'s own keys.
fn merge(out: &mut Map<String, Value>, part: Value) {
    if let Value::Object(part) = part {
        for (k, v) in part {
            if k == "nullable" {
                out.insert(k, v);
            } else {
                out.entry(k).or_insert(v);
            }
        }
    }
}

fn is_null_schema(schema: &Value) -> bool {
    schema.get("type") == Some(&json!("null")) || schema.get("const") == Some(&Value::Null)
}

/// Keywords and forms OpenAPI 3.0 schemas do not have, found anywhere in `doc` (for the
/// test of the rendition): `(JSON pointer, problem)`.
pub fn violations(doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if doc["openapi"] != "3.0.3" {
        out.push(("/openapi".into(), "not 3.0.3".into()));
    }
    let mut schemas = Vec::new();
    collect_schemas(doc, "", &mut schemas);
    for (at, schema) in schemas {
        check(schema, &at, &mut out);
    }
    out
}

/// Every schema position of a document: component schemas and the `schema` of parameters,
/// media types and headers.
fn collect_schemas<'a>(v: &'a Value, at: &str, out: &mut Vec<(String, &'a Value)>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let here = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                if k == "schema" || (at == "/components/schemas") {
                    out.push((here, child));
                } else {
                    collect_schemas(child, &here, out);
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                collect_schemas(child, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn check(schema: &Value, at: &str, out: &mut Vec<(String, String)>) {
    let Value::Object(map) = schema else {
        out.push((at.into(), format!("not a schema object: {schema}")));
        return;
    };
    for (key, value) in map {
        let here = format!("{at}/{key}");
        match key.as_str() {
            "type" if !value.is_string() => out.push((here, "type is not a string".into())),
            "type" if value == "null" => out.push((here, "type null".into())),
            "const"
            | "examples"
            | "prefixItems"
            | "$defs"
            | "$schema"
            | "$id"
            | "dependentRequired"
            | "dependentSchemas"
            | "unevaluatedProperties"
            | "contentEncoding"
            | "contentMediaType"
            | "if"
            | "then"
            | "else" => out.push((here, format!("{key} is not OpenAPI 3.0"))),
            "exclusiveMinimum" | "exclusiveMaximum" if !value.is_boolean() => {
                out.push((here, format!("{key} must be a boolean in 3.0")))
            }
            "$ref" if map.len() > 1 => out.push((here, "$ref with siblings".into())),
            "$ref"
                if !value
                    .as_str()
                    .is_some_and(|r| r.starts_with("#/components/schemas/")) =>
            {
                out.push((here, format!("unexpected $ref {value}")))
            }
            "nullable" if !value.is_boolean() => out.push((here, "nullable not a boolean".into())),
            "properties" => {
                for (name, prop) in value.as_object().into_iter().flatten() {
                    check(prop, &format!("{here}/{name}"), out);
                }
            }
            "items" | "not" => check(value, &here, out),
            "additionalProperties" if !value.is_boolean() => check(value, &here, out),
            "allOf" | "anyOf" | "oneOf" => {
                for (i, part) in value.as_array().into_iter().flatten().enumerate() {
                    check(part, &format!("{here}/{i}"), out);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_31_forms_into_30_ones() {
        let s = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {
                "a": {"type": ["string", "null"], "format": "uuid"},
                "b": {"anyOf": [{"$ref": "#/components/schemas/B"}, {"type": "null"}]},
                "c": {"const": "x"},
                "d": {"type": "integer", "exclusiveMinimum": 0},
                "e": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]},
                "f": true,
                "g": {"$ref": "#/components/schemas/G", "description": "documented"},
                "h": {"type": ["string", "integer"]},
                "i": {"type": "null"},
            },
            "examples": [{"a": "x"}, {"a": "y"}],
        });
        let out = schema_30(&s);
        assert_eq!(
            out["properties"]["a"],
            json!({"type": "string", "format": "uuid", "nullable": true})
        );
        assert_eq!(
            out["properties"]["b"],
            json!({"allOf": [{"$ref": "#/components/schemas/B"}], "nullable": true})
        );
        assert_eq!(out["properties"]["c"], json!({"enum": ["x"]}));
        assert_eq!(
            out["properties"]["d"],
            json!({"type": "integer", "minimum": 0, "exclusiveMinimum": true})
        );
        assert_eq!(out["properties"]["e"]["maxItems"], 2);
        assert_eq!(out["properties"]["f"], json!({}));
        assert_eq!(
            out["properties"]["g"],
            json!({"allOf": [{"$ref": "#/components/schemas/G"}], "description": "documented"})
        );
        assert_eq!(
            out["properties"]["h"],
            json!({"anyOf": [{"type": "string"}, {"type": "integer"}]})
        );
        assert_eq!(
            out["properties"]["i"],
            json!({"nullable": true, "enum": [null]})
        );
        assert_eq!(out["example"], json!({"a": "x"}));
        assert!(out.get("$schema").is_none() && out.get("examples").is_none());
        let doc = json!({"openapi": "3.0.3", "components": {"schemas": {"S": out}}});
        assert_eq!(violations(&doc), vec![]);
        let doc = json!({"openapi": "3.0.3", "components": {"schemas": {"S": s}}});
        assert!(violations(&doc).len() >= 5, "{:?}", violations(&doc));
    }
}
