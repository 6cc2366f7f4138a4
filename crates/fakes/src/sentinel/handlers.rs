//! The fake Sentinel's HTTP side: authentication, routing, faults, and each call.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::Method;
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::{arm_error, bump, etag, Inner, CLASSIFICATIONS, SEVERITIES, STATUSES};
use crate::common::{self, Call, ListQuery};
use crate::entra::TokenProblem;

const FIELD: &str = "properties/lastModifiedTimeUtc";
const REASONS: [&str; 4] = [
    "SuspiciousActivity",
    "SuspiciousButExpected",
    "IncorrectAlertLogic",
    "InaccurateData",
];

pub(super) async fn handle(State(cell): State<common::Cell<Inner>>, req: common::Req) -> Response {
    let Some(s) = cell.get().cloned() else {
        return arm_error(503, "ServiceUnavailable", "The service is starting.");
    };
    let common::Req(method, uri, headers, body) = s.core.record(req);
    let scope = s.scope.lock().unwrap().clone();
    match s.entra.check(&headers, &scope) {
        Ok(()) => {}
        Err(TokenProblem::Missing) => {
            return arm_error(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
            )
        }
        Err(TokenProblem::Expired) => {
            return arm_error(
                401,
                "ExpiredAuthenticationToken",
                "The access token expiry UTC time is earlier than current UTC time.",
            )
        }
        Err(_) => {
            return arm_error(
                401,
                "InvalidAuthenticationToken",
                "The access token is invalid.",
            )
        }
    }
    let query = crate::vendor::query(&uri);
    let Some(api) = query.get("api-version").cloned() else {
        return arm_error(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        );
    };
    let rest = match route(&s, uri.path()) {
        Ok(rest) => rest,
        Err(r) => return *r,
    };
    let segs: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    let call = match (&method, segs.as_slice()) {
        (&Method::GET, []) => Call::List,
        (&Method::GET, [_]) => Call::Read,
        (&Method::PUT, [_]) => Call::Update,
        (&Method::POST, [_, "entities"]) => Call::Entities,
        (&Method::POST, [_, "alerts"]) => Call::Alerts,
        (&Method::PUT, [_, "comments", _]) => Call::Comment,
        _ => {
            return arm_error(
                404,
                "NotFound",
                "The requested resource or operation was not found.",
            )
        }
    };
    if let Some(f) = s.core.script.take(call) {
        let code = match f.status {
            429 => "TooManyRequests",
            500 => "InternalServerError",
            502 => "BadGateway",
            503 => "ServiceUnavailable",
            504 => "GatewayTimeout",
            _ => "Error",
        };
        let body =
            json!({"error": {"code": code, "message": format!("Scripted failure {}.", f.status)}});
        return common::error(f.status, &body, f.retry_after);
    }
    if let Some(d) = s.core.script.delay(call) {
        tokio::time::sleep(d).await;
    }
    match (call, segs.as_slice()) {
        (Call::List, _) => list(&s, uri.path(), &api, &query),
        (Call::Read, [id]) => read(&s, id),
        (Call::Update, [id]) => put_incident(&s, id, &body),
        (Call::Entities, [id, _]) => related(&s, id, true),
        (Call::Alerts, [id, _]) => related(&s, id, false),
        (Call::Comment, [id, _, cid]) => put_comment(&s, id, cid, &body),
        _ => arm_error(404, "NotFound", "Not found."),
    }
}

/// The part of the path after `…/incidents`, or the ARM error for a wrong scope.
fn route(s: &Inner, path: &str) -> Result<String, Box<Response>> {
    let parts: Vec<&str> = path.split('/').collect();
    // "", subscriptions, {s}, resourceGroups, {rg}, providers, Microsoft.OperationalInsights,
    // workspaces, {ws}, providers, Microsoft.SecurityInsights, incidents, …
    let fixed = [
        (1, "subscriptions"),
        (3, "resourceGroups"),
        (5, "providers"),
        (6, "Microsoft.OperationalInsights"),
        (7, "workspaces"),
        (9, "providers"),
        (10, "Microsoft.SecurityInsights"),
        (11, "incidents"),
    ];
    let shape_ok =
        parts.len() >= 12 && fixed.iter().all(|(i, w)| parts[*i].eq_ignore_ascii_case(w));
    if !shape_ok {
        return Err(Box::new(arm_error(
            404,
            "NotFound",
            "The requested resource was not found.",
        )));
    }
    let w = &s.ws;
    if !parts[2].eq_ignore_ascii_case(&w.subscription_id) {
        return Err(Box::new(arm_error(
            404,
            "SubscriptionNotFound",
            &format!("The subscription '{}' could not be found.", parts[2]),
        )));
    }
    if !parts[4].eq_ignore_ascii_case(&w.resource_group) {
        return Err(Box::new(arm_error(
            404,
            "ResourceGroupNotFound",
            &format!("Resource group '{}' could not be found.", parts[4]),
        )));
    }
    if !parts[8].eq_ignore_ascii_case(&w.workspace_name) {
        return Err(Box::new(arm_error(404, "ResourceNotFound", &format!("The Resource 'Microsoft.OperationalInsights/workspaces/{}' under resource group '{}' was not found.", parts[8], parts[4]))));
    }
    Ok(parts[12..].join("/"))
}

fn list(s: &Inner, path: &str, api: &str, q: &HashMap<String, String>) -> Response {
    let expire = |n: usize| n.checked_sub(1);
    if q.contains_key("$skipToken")
        && s.expire_tokens_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, expire)
            .is_ok()
    {
        return arm_error(
            400,
            "BadRequest",
            "The skip token is invalid or has expired.",
        );
    }
    let lq = match ListQuery::parse(q, FIELD, 1000, &["$skipToken"]) {
        Ok(lq) => lq,
        Err(m) => return arm_error(400, "BadRequest", &m),
    };
    let top = lq.top;
    let all = s.incidents.lock().unwrap();
    let (keys, more) = lq.page(all.iter().map(|(n, i)| (i.modified, n)));
    let value: Vec<Value> = keys.iter().map(|(_, n)| s.resource(n, &all[*n])).collect();
    let mut body = json!({ "value": value });
    if more {
        let (t, n) = keys.last().expect("a full page");
        let origin = s
            .next_link_base
            .lock()
            .unwrap()
            .clone()
            .unwrap_or_else(|| s.base.clone());
        // ARM writes the query of its nextLink unescaped (spaces and all).
        let mut link = format!("{origin}{path}?api-version={api}");
        for k in ["$filter", "$orderby"] {
            if let Some(v) = q.get(k) {
                link.push_str(&format!("&{k}={v}"));
            }
        }
        link.push_str(&format!(
            "&$top={top}&$skipToken={}",
            common::page_token(*t, n)
        ));
        body["nextLink"] = json!(link);
    }
    common::json(200, &body)
}

fn read(s: &Inner, id: &str) -> Response {
    let all = s.incidents.lock().unwrap();
    match all.get(id) {
        Some(i) => common::json(200, &s.resource(id, i)),
        None => arm_error(404, "NotFound", &format!("Incident '{id}' was not found.")),
    }
}

fn related(s: &Inner, id: &str, entities: bool) -> Response {
    let all = s.incidents.lock().unwrap();
    let Some(i) = all.get(id) else {
        return arm_error(404, "NotFound", &format!("Incident '{id}' was not found."));
    };
    if !entities {
        return common::json(200, &json!({ "value": i.alerts }));
    }
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for e in &i.entities {
        *counts
            .entry(e["kind"].as_str().unwrap_or("").to_string())
            .or_default() += 1;
    }
    let meta: Vec<Value> = counts
        .into_iter()
        .map(|(k, n)| json!({"entityKind": k, "count": n}))
        .collect();
    common::json(200, &json!({"entities": i.entities, "metaData": meta}))
}

fn one_of(v: &Value, allowed: &[&str]) -> bool {
    v.is_null() || v.as_str().is_some_and(|s| allowed.contains(&s))
}

/// What a `PUT` body must satisfy, as ARM and Sentinel enforce it.
fn validate(props: &Map<String, Value>) -> Result<(), String> {
    if props["title"].as_str().is_none_or(|t| t.trim().is_empty()) {
        return Err("The title field is required.".into());
    }
    let null = Value::Null;
    let get = |k: &str| props.get(k).unwrap_or(&null);
    if get("severity").is_null() || !one_of(get("severity"), &SEVERITIES) {
        return Err(format!("Invalid severity {}.", get("severity")));
    }
    if get("status").is_null() || !one_of(get("status"), &STATUSES) {
        return Err(format!("Invalid status {}.", get("status")));
    }
    if !one_of(get("classification"), &CLASSIFICATIONS) {
        return Err(format!("Invalid classification {}.", get("classification")));
    }
    if !one_of(get("classificationReason"), &REASONS) {
        return Err(format!(
            "Invalid classificationReason {}.",
            get("classificationReason")
        ));
    }
    if get("status") == "Closed" {
        match get("classification").as_str() {
            None => return Err("Classification is required when closing an incident.".into()),
            Some("Undetermined") if !get("classificationReason").is_null() => {
                return Err(
                    "Undetermined classification must not have a classification reason.".into(),
                )
            }
            Some("Undetermined") => {}
            Some(_) if get("classificationReason").is_null() => {
                return Err("Classification reason is required for this classification.".into())
            }
            Some(_) => {}
        }
    }
    if !(get("owner").is_null() || get("owner").is_object()) {
        return Err("owner must be an object.".into());
    }
    if let Some(labels) = props.get("labels").filter(|l| !l.is_null()) {
        let ok = labels
            .as_array()
            .is_some_and(|a| a.iter().all(|l| l["labelName"].is_string()));
        if !ok {
            return Err("labels must be a list of {labelName, labelType}.".into());
        }
    }
    Ok(())
}

const WRITABLE: [&str; 11] = [
    "title",
    "description",
    "severity",
    "status",
    "classification",
    "classificationReason",
    "classificationComment",
    "owner",
    "labels",
    "firstActivityTimeUtc",
    "lastActivityTimeUtc",
];

fn put_incident(s: &Inner, id: &str, body: &[u8]) -> Response {
    let Ok(Value::Object(b)) = serde_json::from_slice::<Value>(body) else {
        return arm_error(
            400,
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized.",
        );
    };
    let Some(props) = b.get("properties").and_then(Value::as_object) else {
        return arm_error(400, "BadRequest", "The properties field is required.");
    };
    if let Err(m) = validate(props) {
        return arm_error(400, "BadRequest", &m);
    }
    let now = s.core.clock.now();
    let mut all = s.incidents.lock().unwrap();
    let Some(i) = all.get_mut(id) else {
        drop(all);
        let mut seed = super::SentinelSeed {
            name: Some(id.to_string()),
            ..Default::default()
        };
        for k in WRITABLE {
            if let Some(v) = props.get(k) {
                seed.properties.insert(k.into(), v.clone());
            }
        }
        let name = s.add(seed);
        let all = s.incidents.lock().unwrap();
        return common::json(201, &s.resource(&name, &all[&name]));
    };
    if s.stale_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        // Someone else changed the incident just before this write.
        i.props.insert(
            "description".into(),
            json!("Edited in the portal meanwhile."),
        );
        bump(i, now);
    }
    let current = etag(id, i.version);
    match b.get("etag").and_then(Value::as_str) {
        None => {
            return arm_error(
                409,
                "Conflict",
                &format!("Newer version of resource '{id}' exists. Data was not saved."),
            )
        }
        Some(e) if e != current => {
            return arm_error(
                412,
                "PreconditionFailed",
                &format!("The specified etag {e} does not match the current etag {current}."),
            )
        }
        Some(_) => {}
    }
    for k in WRITABLE {
        let v = props.get(k).cloned().unwrap_or(match k {
            "labels" => json!([]),
            _ => Value::Null,
        });
        i.props.insert(k.into(), v);
    }
    let now = s.core.clock.now();
    bump(i, now);
    common::json(200, &s.resource(id, i))
}

fn put_comment(s: &Inner, id: &str, cid: &str, body: &[u8]) -> Response {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let Some(message) = v["properties"]["message"]
        .as_str()
        .filter(|m| !m.trim().is_empty())
    else {
        return arm_error(400, "BadRequest", "The message field is required.");
    };
    if message.chars().count() > 30_000 {
        return arm_error(
            400,
            "BadRequest",
            "The message is longer than 30000 characters.",
        );
    }
    let now = s.core.clock.now();
    let mut all = s.incidents.lock().unwrap();
    let Some(i) = all.get_mut(id) else {
        return arm_error(404, "NotFound", &format!("Incident '{id}' was not found."));
    };
    let fresh = !i.comments.contains_key(cid);
    let created_at = i
        .comments
        .get(cid)
        .and_then(|c| {
            c["properties"]["createdTimeUtc"]
                .as_str()
                .map(str::to_string)
        })
        .unwrap_or_else(|| common::fmt_time(now));
    let comment = json!({
        "id": format!("{}/comments/{cid}", s.incident_path(id)), "name": cid,
        "type": "Microsoft.SecurityInsights/Incidents/Comments",
        "etag": format!("\"{}\"", uuid::Uuid::new_v4()),
        "properties": {"message": message, "createdTimeUtc": created_at,
                       "lastModifiedTimeUtc": common::fmt_time(now),
                       "author": {"objectId": crate::entra::PRINCIPAL_OBJECT_ID, "name": "Palisade",
                                  "email": null, "userPrincipalName": null}}
    });
    i.comments.insert(cid.to_string(), comment.clone());
    let count = i.comments.len();
    if let Some(d) = i
        .props
        .get_mut("additionalData")
        .and_then(Value::as_object_mut)
    {
        d.insert("commentsCount".into(), json!(count));
    }
    bump(i, now);
    common::json(if fresh { 201 } else { 200 }, &comment)
}
