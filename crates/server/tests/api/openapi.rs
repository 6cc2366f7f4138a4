use std::path::PathBuf;

use palisade_test_utils::TestApp;
use serde_json::{json, Value};

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

/// The committed `docs/openapi.json` must equal the document generated from the code.
/// Regenerate with `UPDATE_OPENAPI=1 cargo test -p palisade-server --test api openapi`
/// (or `palisade openapi > docs/openapi.json`).
#[test]
fn committed_document_matches_the_code() {
    let generated = palisade_server::openapi::document_bytes();
    if std::env::var("UPDATE_OPENAPI").is_ok() {
        std::fs::write(committed_path(), &generated).unwrap();
    }
    let committed = std::fs::read(committed_path()).expect("docs/openapi.json is committed");
    assert!(
        committed == generated,
        "docs/openapi.json drifted from the code; regenerate it with `cargo run -p palisade -- openapi > docs/openapi.json`"
    );
}

#[tokio::test]
async fn document_is_served_and_describes_every_route() {
    let app = TestApp::spawn().await;
    let r = app.get("/api/v2/openapi.json", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["openapi"], "3.1.1");
    let (_, table) = palisade_server::routes::api().into_parts();
    for route in &table {
        let path = route.doc.documented_path.unwrap_or(route.path);
        let op = &r.json["paths"][path][route.method.as_str().to_ascii_lowercase()];
        assert!(op.is_object(), "{} {} missing", route.method, route.path);
        if let Some(scope) = route.access.scopes().first() {
            assert_eq!(op["x-required-scope"], scope.as_str());
        }
    }
    // Every $ref resolves.
    let text = r.text.clone();
    for part in text.split("\"$ref\": \"#/components/schemas/").skip(1) {
        let name = &part[..part.find('"').unwrap()];
        assert!(
            r.json["components"]["schemas"][name].is_object(),
            "dangling $ref {name}"
        );
    }
}

fn committed_30_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi-3.0.json")
}

/// The committed `docs/openapi-3.0.json` must equal the 3.0.3 rendition of the code's document
/// (`palisade openapi --spec-version 3.0 > docs/openapi-3.0.json`).
#[test]
fn committed_30_document_matches_the_code() {
    let generated = palisade_server::openapi::document_30_bytes();
    if std::env::var("UPDATE_OPENAPI").is_ok() {
        std::fs::write(committed_30_path(), &generated).unwrap();
    }
    let committed = std::fs::read(committed_30_path()).expect("docs/openapi-3.0.json is committed");
    assert!(
        committed == generated,
        "docs/openapi-3.0.json drifted from the code; regenerate it with `cargo run -p palisade -- openapi --spec-version 3.0 > docs/openapi-3.0.json`"
    );
}

/// Every `$ref` of a document names one of its component schemas.
fn dangling_refs(doc: &Value) -> Vec<String> {
    let text = doc.to_string();
    text.split("\"$ref\":\"#/components/schemas/")
        .skip(1)
        .map(|part| part[..part.find('"').unwrap()].to_string())
        .filter(|name| !doc["components"]["schemas"][name].is_object())
        .collect()
}

#[tokio::test]
async fn the_30_rendition_is_served_and_is_openapi_30() {
    let app = TestApp::spawn().await;
    let r = app.get("/api/v2/openapi-3.0.json", None).await;
    assert_eq!(r.status, 200);
    let doc30 = &r.json;
    assert_eq!(doc30["openapi"], "3.0.3");
    let problems = palisade_server::openapi::v30::violations(doc30);
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(dangling_refs(doc30), Vec::<String>::new());
    // No 3.1-only form anywhere in the text either.
    let text = doc30.to_string();
    for form in ["\"type\":[", "\"const\":", "\"prefixItems\"", "\"$schema\""] {
        assert!(!text.contains(form), "{form} in the 3.0 rendition");
    }
    // The same operations, parameters and responses as the 3.1 document.
    let doc31 = palisade_server::openapi::document();
    for (path, item) in doc31["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let op30 = &doc30["paths"][path][method];
            assert_eq!(op30["operationId"], op["operationId"], "{method} {path}");
            let codes = |o: &Value| {
                o["responses"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
            };
            assert_eq!(codes(op30), codes(op), "{method} {path}");
        }
    }
    // Nullable fields say so; examples became `example`.
    let schemas = &doc30["components"]["schemas"];
    assert_eq!(
        schemas["Incident"]["properties"]["description"]["nullable"],
        true
    );
    assert!(schemas["CommentRequest"]["example"].is_object());
}

/// The operations of the 3.1 document by `(METHOD, path as documented)`.
fn operations() -> &'static std::collections::HashMap<(String, String), Value> {
    static OPS: std::sync::OnceLock<std::collections::HashMap<(String, String), Value>> =
        std::sync::OnceLock::new();
    OPS.get_or_init(|| {
        let doc = palisade_server::openapi::document();
        let mut out = std::collections::HashMap::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                out.insert((method.to_ascii_uppercase(), path.clone()), op.clone());
            }
        }
        out
    })
}

/// Panics unless the route's operation documents `status`.
pub fn assert_documented(
    route: &palisade_server::http::registry::RouteInfo,
    status: u16,
    body: &str,
) {
    let path = route.doc.documented_path.unwrap_or(route.path);
    let op = &operations()[&(route.method.to_string(), path.to_string())];
    assert!(
        op["responses"].get(status.to_string()).is_some(),
        "{} {path} answered {status}, which its operation does not document: {body}",
        route.method
    );
}

/// Examples read back into their types: requests through the server's own body parser, the
/// rest through serde; and every key of an example is a property of its schema.
#[test]
fn examples_read_back_into_their_types() {
    use palisade_server::http::extract::parse_json;
    use palisade_types::{datasources::*, gamebooks::*, incidents::*, investigation::*, org::*};
    use palisade_types::{tickets::*, webhooks::*, ProblemDetails};
    let doc = palisade_server::openapi::document();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut checked = std::collections::BTreeSet::new();
    macro_rules! requests {
        ($($name:literal => $t:ty),* $(,)?) => {$(
            for example in schemas[$name]["examples"].as_array().expect($name) {
                parse_json::<$t>(example.to_string().as_bytes())
                    .unwrap_or_else(|e| panic!("{}: {e:?}", $name));
            }
            checked.insert($name);
        )*};
    }
    macro_rules! responses {
        ($($name:literal => $t:ty),* $(,)?) => {$(
            for example in schemas[$name]["examples"].as_array().expect($name) {
                serde_json::from_value::<$t>(example.clone())
                    .unwrap_or_else(|e| panic!("{}: {e}", $name));
            }
            checked.insert($name);
        )*};
    }
    requests! {
        "AcrossWorkspacesRequest" => AcrossWorkspacesRequest, "AddUsersRequest" => AddUsersRequest,
        "AnomaliesRequest" => AnomaliesRequest, "AssignRequest" => AssignRequest,
        "AssignUsersToWorkspaceRequest" => AssignUsersToWorkspaceRequest,
        "BulkUpdateRequest" => BulkUpdateRequest, "CommentRequest" => CommentRequest,
        "CreateAccountRequest" => CreateAccountRequest,
        "CreateCredentialRequest" => CreateCredentialRequest,
        "CreateDataSourceRequest" => DataSourceRequest, "DataSourceRequest" => DataSourceRequest,
        "CreateGamebookRuleRequest" => GamebookRuleRequest, "GamebookRuleRequest" => GamebookRuleRequest,
        "CreatePlaybookRequest" => PlaybookRequest, "PlaybookRequest" => PlaybookRequest,
        "CreateServiceAccountRequest" => CreateServiceAccountRequest,
        "CreateWebhookRequest" => WebhookRequest, "WebhookRequest" => WebhookRequest,
        "DirectoryLogIngestRequest" => DirectoryLogIngestRequest,
        "IncidentInput" => IncidentInput, "IngestBatchRequest" => IngestBatchRequest,
        "LinkServiceTicketRequest" => LinkServiceTicketRequest,
        "RecordVolumeRequest" => RecordVolumeRequest, "ServiceTicketInput" => ServiceTicketInput,
        "SignInLogIngestRequest" => SignInLogIngestRequest,
        "StartGamebookRequest" => StartGamebookRequest, "StatusUpdateRequest" => StatusUpdateRequest,
        "TicketPriorityRequest" => TicketPriorityRequest, "UpdateOrgRoleRequest" => UpdateOrgRoleRequest,
        "UpdateProfileRequest" => UpdateProfileRequest,
        "UpdateServiceAccountRequest" => UpdateServiceAccountRequest,
        "UpdateUserRequest" => UserInput, "UserInput" => UserInput,
        "WebhookCredentialsRequest" => WebhookCredentialsRequest,
        "WorkspaceRequest" => WorkspaceRequest, "WorkspaceUsersRequest" => WorkspaceUsersRequest,
    }
    responses! {
        "Account" => Account, "CreatedServiceAccount" => CreatedServiceAccount,
        "DataSource" => DataSource, "Gamebook" => Gamebook, "GamebookRule" => GamebookRule,
        "Incident" => Incident, "IncidentComment" => IncidentComment,
        "IngestBatchResult" => IngestBatchResult, "IssuedCredential" => IssuedCredential,
        "PlaybookDefinition" => PlaybookDefinition, "ProblemDetails" => ProblemDetails,
        "ServiceAccount" => ServiceAccount, "ServiceTicket" => ServiceTicket, "User" => User,
        "Webhook" => Webhook, "WebhookCreated" => WebhookCreated, "Workspace" => Workspace,
    }
    let with_examples: std::collections::BTreeSet<&str> = schemas
        .iter()
        .filter(|(_, s)| s.get("examples").is_some())
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(with_examples, checked, "every example is read back");
    // Every request body of the document has an example.
    for ((method, path), op) in operations() {
        if let Some(r) = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str()
        {
            let name = r.trim_start_matches("#/components/schemas/");
            let examples = &schemas[name]["examples"];
            let legacy = name.starts_with("Legacy");
            assert!(
                legacy || examples.is_array(),
                "{method} {path}: {name} has no example"
            );
        }
    }
    // Every key of an example is a property of its schema, at every level the schema names.
    fn keys_known(
        schemas: &serde_json::Map<String, Value>,
        schema: &Value,
        example: &Value,
        at: &str,
    ) {
        let resolved = |s: &Value| -> Option<Value> {
            let s = s.get("allOf").and_then(|a| a.get(0)).unwrap_or(s);
            let s = s.get("anyOf").and_then(|a| a.get(0)).unwrap_or(s);
            match s.get("$ref").and_then(Value::as_str) {
                Some(r) => schemas
                    .get(r.trim_start_matches("#/components/schemas/"))
                    .cloned(),
                None => Some(s.clone()),
            }
        };
        let Some(schema) = resolved(schema) else {
            return;
        };
        match example {
            Value::Object(map) => {
                let Some(props) = schema.get("properties").and_then(Value::as_object) else {
                    return;
                };
                for (k, v) in map {
                    let prop = props
                        .get(k)
                        .unwrap_or_else(|| panic!("{at}.{k} is not a property"));
                    keys_known(schemas, prop, v, &format!("{at}.{k}"));
                }
            }
            Value::Array(items) => {
                if let Some(item) = schema.get("items") {
                    for (i, v) in items.iter().enumerate() {
                        keys_known(schemas, item, v, &format!("{at}[{i}]"));
                    }
                }
            }
            _ => {}
        }
    }
    for name in &checked {
        let schema = &schemas[*name];
        for example in schema["examples"].as_array().unwrap() {
            keys_known(schemas, schema, example, name);
        }
    }
}

/// Every value of every input enum of the document is accepted by the server's parser, in the
/// letter cases the document promises; and every input enum has a parser checked here.
#[test]
fn input_enums_are_what_the_server_parses() {
    use palisade_domain::anomaly::examined_window;
    use palisade_domain::Validator;
    use palisade_types::incidents::*;
    use palisade_types::{datasources::*, gamebooks::*, investigation::*, webhooks::*};
    let doc = palisade_server::openapi::document();
    let anomaly = |s: &str| {
        let mut v = Validator::new();
        let sel: TimeFilterSelection = serde_json::from_value(json!({"type": s,
            "customStartUtc": "2026-01-01T00:00:00Z", "customEndUtc": "2026-01-02T00:00:00Z"}))
        .unwrap();
        examined_window(&mut v, Some(&sel), chrono::Utc::now()).is_some()
    };
    let method = |s: &str| {
        let mut v = Validator::new();
        let a: PlaybookAction = serde_json::from_value(
            json!({"type": "HttpRequest", "method": s, "url": "https://example.com/x"}),
        )
        .unwrap();
        palisade_domain::gamebooks::validate_action(&mut v, Some(&a));
        v.finish().is_ok()
    };
    let listing = ["TwentyFourHours", "SevenDays", "ThirtyDays", "Custom"];
    type Parser = Box<dyn Fn(&str) -> bool>;
    let parsers: Vec<(&str, Parser)> = vec![
        ("SeverityInput", Box::new(|s| Severity::parse(s).is_some())),
        (
            "IncidentStatusInput",
            Box::new(|s| IncidentStatus::parse(s).is_some()),
        ),
        (
            "IncidentSourceInput",
            Box::new(|s| IncidentSource::parse(s).is_some()),
        ),
        (
            "ClassificationInput",
            Box::new(|s| Classification::parse(s).is_some()),
        ),
        (
            "ClassificationReasonInput",
            Box::new(|s| ClassificationReason::parse(s).is_some()),
        ),
        (
            "EntityKindInput",
            Box::new(|s| EntityKind::parse(s).is_some()),
        ),
        (
            "TimeFilteringTypeInput",
            Box::new(|s| TimeFilteringType::parse(s).is_some()),
        ),
        (
            "ConnectorTypeInput",
            Box::new(|s| ConnectorType::parse(s).is_some()),
        ),
        (
            "TitleMatchInput",
            Box::new(|s| TitleMatch::parse(s).is_some()),
        ),
        (
            "ActionTypeInput",
            Box::new(|s| ActionType::parse(s).is_some()),
        ),
        (
            "RiskLevelInput",
            Box::new(|s| RiskLevel::parse(s).is_some()),
        ),
        (
            "ConditionalAccessStatusInput",
            Box::new(|s| ConditionalAccessStatus::parse(s).is_some()),
        ),
        (
            "DirectoryLogStatusInput",
            Box::new(|s| DirectoryLogStatus::parse(s).is_some()),
        ),
        (
            "WorkspaceRoleInput",
            Box::new(|s| palisade_types::WorkspaceRole::parse(s).is_some()),
        ),
        (
            "OrgRoleInput",
            Box::new(|s| palisade_types::OrgRole::parse(s).is_some()),
        ),
        (
            "WebhookAuthTypeInput",
            Box::new(|s| WebhookAuthType::parse(s).is_some()),
        ),
        (
            "ScopeInput",
            Box::new(|s| palisade_domain::Scope::parse(s).is_some()),
        ),
        (
            "EventTypeInput",
            Box::new(|s| palisade_domain::events::normalize_event_type(s).is_some()),
        ),
        (
            "PlaybookEntityTypeInput",
            Box::new(|s| palisade_domain::gamebooks::canonical_entity_type(s).is_ok()),
        ),
        ("HttpMethodInput", Box::new(method)),
        (
            "formatInput",
            Box::new(|s| palisade_server::service::incident_native::parse_format(s).is_some()),
        ),
        ("AnomalyTimeFilterTypeInput", Box::new(anomaly)),
        (
            "ListingTimeFilterTypeInput",
            Box::new(move |s| listing.contains(&s)),
        ),
        (
            "TicketPriorityInput",
            Box::new(|s| {
                ["Critical", "High", "Medium", "Low"]
                    .iter()
                    .any(|p| p.eq_ignore_ascii_case(s))
            }),
        ),
    ];
    // Named input enums, and the inline enums of query and path parameters (by parameter name).
    let mut enums: Vec<(String, Value)> = doc["components"]["schemas"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(name, s)| name.ends_with("Input") && s["enum"].is_array())
        .map(|(name, s)| (name.clone(), s.clone()))
        .collect();
    for op in operations().values() {
        for param in op["parameters"].as_array().into_iter().flatten() {
            if param["schema"]["enum"].is_array() {
                let name = match param["name"].as_str().unwrap() {
                    "source" => "IncidentSourceInput".to_string(),
                    other => format!("{other}Input"),
                };
                enums.push((name, param["schema"].clone()));
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for (name, schema) in &enums {
        let values = schema["enum"].as_array().unwrap();
        let parse = &parsers
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name}: no parser is checked against it"))
            .1;
        let any_case = schema["description"]
            .as_str()
            .unwrap()
            .contains("any letter case");
        for value in values {
            let value = value.as_str().unwrap();
            assert!(parse(value), "{name}: '{value}' is refused");
            if any_case {
                assert!(
                    parse(&value.to_ascii_lowercase()),
                    "{name}: '{value}' lowercase"
                );
                assert!(
                    parse(&value.to_ascii_uppercase()),
                    "{name}: '{value}' uppercase"
                );
            } else if value.to_ascii_lowercase() != value {
                assert!(
                    !parse(&value.to_ascii_lowercase()),
                    "{name}: '{value}' lowercase is accepted: say so"
                );
            }
        }
        assert!(!parse("NotAValue"), "{name}");
        seen.insert(name.clone());
    }
    assert_eq!(
        seen.len(),
        parsers.len(),
        "every parser checked has its enum in the document"
    );
    // The listing's windows, as the server itself answers them.
    let scope_names: Vec<&str> = palisade_domain::Scope::ALL
        .iter()
        .map(|s| s.as_str())
        .collect();
    assert_eq!(
        palisade_types::spelling::ScopeName::VALUES,
        scope_names.as_slice(),
        "the documented scopes are the server's"
    );
    let events: Vec<&str> = palisade_domain::events::EVENT_TYPES
        .iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(
        palisade_types::spelling::EventTypeName::VALUES,
        events.as_slice()
    );
}

/// The listing takes exactly the windows the document lists for it.
#[tokio::test]
async fn the_listing_takes_the_documented_windows() {
    let app = TestApp::spawn().await;
    let org = app.org("Windows").await;
    let doc = palisade_server::openapi::document();
    let windows = doc["components"]["schemas"]["ListingTimeFilterTypeInput"]["enum"]
        .as_array()
        .unwrap()
        .clone();
    for w in windows {
        let r = app
            .post(
                "/api/v2/incidents/across-workspaces",
                Some(&org.admin),
                &json!({"isFirstCall": true, "timeFilterSelection": {"type": w,
                        "customStartUtc": "2026-01-01T00:00:00Z", "customEndUtc": "2026-01-02T00:00:00Z"}}),
            )
            .await;
        assert_eq!(r.status, 200, "{w}: {}", r.text);
    }
    app.post(
        "/api/v2/incidents/across-workspaces",
        Some(&org.admin),
        &json!({"isFirstCall": true, "timeFilterSelection": {"type": "OneHour"}}),
    )
    .await
    .assert_problem(400, "VALIDATION_ERROR");
}

/// What the document says a body requires, the server requires: an empty object sent to a
/// route answers 400 naming each field its body schema requires (as far as the server gets
/// before stopping: a legacy route needs its `source` first).
#[tokio::test]
async fn the_documented_required_fields_are_required() {
    let app = TestApp::spawn().await;
    let org = app.org("Required").await;
    let ws = app.workspace(&org, "R").await;
    let doc = palisade_server::openapi::document();
    let schemas = &doc["components"]["schemas"];
    let (_, table) = palisade_server::routes::api().into_parts();
    let mut checked = 0;
    for route in table.iter().filter(|r| r.doc.request.is_some()) {
        let path = route.doc.documented_path.unwrap_or(route.path);
        let op = &operations()[&(route.method.to_string(), path.to_string())];
        let r#ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .unwrap();
        let schema = &schemas[r#ref.trim_start_matches("#/components/schemas/")];
        let required: Vec<&str> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| f.as_str().unwrap())
            .collect();
        if required.is_empty() || route.doc.request_optional {
            continue;
        }
        let url = route
            .path
            .replace("{workspaceId}", &ws.to_string())
            .replace("{id}", &org.admin.client_id.to_string())
            .replace("{source}", "Sentinel")
            .replace("{incidentId}", "INC-REQ-1");
        if url.contains('{') || (route.path.contains("{id}") && route.path.contains("webhooks")) {
            continue; // a resource of its own would be found (or not) first
        }
        let r = app
            .send(
                route.method.clone(),
                &url,
                Some(&org.admin),
                Some(&json!({})),
            )
            .await;
        r.assert_problem(400, "VALIDATION_ERROR");
        let errors = r.json["errors"].as_object().unwrap();
        let named = |f: &str| {
            errors
                .keys()
                .any(|k| k == f || k.starts_with(&format!("{f}.")))
        };
        if path.contains("{incidentId}/") && required.contains(&"source") {
            assert!(named("source"), "{} {path}: {}", route.method, r.text);
        } else {
            for field in &required {
                assert!(
                    named(field),
                    "{} {path}: '{field}' not required: {}",
                    route.method,
                    r.text
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 20, "{checked}");
}

/// An upsert documents both outcomes: 201 when it created, 200 when it replaced (found by the
/// contract test, docs/contract.md).
#[tokio::test]
async fn an_upsert_documents_created_and_replaced() {
    let app = TestApp::spawn().await;
    let org = app.org("Upsert").await;
    let ws = app.workspace(&org, "W").await;
    let op = &operations()[&(
        "POST".to_string(),
        "/api/v2/workspaces/{workspaceId}/tickets".to_string(),
    )];
    let path = format!("/api/v2/workspaces/{ws}/tickets");
    let body = json!({"ticketId": "AT-1", "autotaskTicket": {"id": 1, "title": "x", "priority": "Medium"}});
    for expected in [201, 200] {
        let r = app.post(&path, Some(&org.admin), &body).await;
        assert_eq!(r.status, expected, "{}", r.text);
        assert!(
            op["responses"][expected.to_string()].is_object(),
            "{expected} is not documented"
        );
    }
}
