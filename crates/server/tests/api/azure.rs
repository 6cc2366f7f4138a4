//! The Azure routes against a local stand-in for Microsoft Entra ID and Azure Resource Manager
//! (loopback only) that speaks their documented wire formats: the v2.0 token endpoint, ARM list
//! responses with `nextLink`, `429` with `Retry-After`, ARM error bodies.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use palisade_test_utils::{Cred, Resp, TestApp};
use serde_json::{json, Value};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT_ID: &str = "3f1c2a9e-5b7d-4e8f-9a0b-1c2d3e4f5a6b";
const SECRET: &str = "Zq8~azure.CLIENT-secret_value-do-not-leak";
const PRINCIPAL: &str = "6d2f0c1e-0a4b-4c5d-8e9f-a0b1c2d3e4f5";
const SUB1: &str = "0b1f6471-1bf0-4dda-aec3-cb9272f09590";
const SUB2: &str = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
/// ARM answers 500 for this subscription's resource groups, 400 for its NSGs.
const SUB_BROKEN: &str = "5e5e5e5e-5e5e-4e5e-8e5e-5e5e5e5e5e5e";
const SUB_MISSING: &str = "99999999-9999-4999-8999-999999999999";
const RULE: &str = "73e01a99-5cd7-4139-a149-9f2736ff2ab5";

// ---------------------------------------------------------------- the fake Entra ID + ARM

#[derive(Default)]
struct Fake {
    base: Mutex<String>,
    /// Token requests answered (successful or not).
    token_requests: AtomicUsize,
    /// Issued tokens and when they expire.
    tokens: Mutex<HashMap<String, Instant>>,
    /// Lifetime of issued tokens (`expires_in`).
    expires_in: AtomicU64,
    /// ARM answers 401 to tokens issued before this flag was set.
    revoked: Mutex<Vec<String>>,
    /// The next N calls to `/subscriptions` answer 429.
    throttle: AtomicUsize,
    /// `Retry-After` on those 429s.
    throttle_secs: AtomicU64,
    /// Every ARM call: (method, path?query, bearer token).
    calls: Mutex<Vec<(String, String, String)>>,
    /// ARM answers 401 to every token.
    reject_all: AtomicBool,
    /// The analytics rule's state.
    rule_enabled: AtomicBool,
    rule_etag: AtomicU64,
}

fn arm_error(status: u16, code: &str, message: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json; charset=utf-8")],
        json!({"error": {"code": code, "message": message}}).to_string(),
    )
        .into_response()
}

fn ok(v: Value) -> Response {
    (
        [("content-type", "application/json; charset=utf-8")],
        v.to_string(),
    )
        .into_response()
}

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

impl Fake {
    fn base(&self) -> String {
        self.base.lock().unwrap().clone()
    }

    fn token(&self, body: &str) -> Response {
        let n = self.token_requests.fetch_add(1, Ordering::SeqCst) + 1;
        let form: HashMap<String, String> = reqwest::Url::parse(&format!("http://x/?{body}"))
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
        let bad = |status: u16, error: &str, description: String| {
            (
                StatusCode::from_u16(status).unwrap(),
                [("content-type", "application/json")],
                json!({"error": error, "error_description": description,
                       "error_codes": [7000215], "trace_id": "t", "correlation_id": "c"})
                .to_string(),
            )
                .into_response()
        };
        if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return bad(400, "unsupported_grant_type", "AADSTS70003".into());
        }
        if form.get("scope") != Some(&format!("{}/.default", self.base())) {
            return bad(400, "invalid_scope", "AADSTS70011: bad scope".into());
        }
        if form.get("client_id").map(String::as_str) != Some(CLIENT_ID)
            || form.get("client_secret").map(String::as_str) != Some(SECRET)
        {
            // Deliberately echoes what it got, to prove Palisade scrubs it.
            let got = form.get("client_secret").cloned().unwrap_or_default();
            return bad(
                401,
                "invalid_client",
                format!("AADSTS7000215: Invalid client secret provided ('{got}'). Ensure the secret being sent in the request is the client secret value.\r\nTrace ID: t"),
            );
        }
        let expires_in = self.expires_in.load(Ordering::SeqCst);
        let token = format!(
            "{}.{}.c2lnbmF0dXJl",
            b64(&json!({"typ": "JWT", "alg": "RS256"})),
            b64(
                &json!({"aud": self.base(), "tid": TENANT, "oid": PRINCIPAL, "appid": CLIENT_ID, "n": n})
            )
        );
        self.tokens.lock().unwrap().insert(
            token.clone(),
            Instant::now() + Duration::from_secs(expires_in),
        );
        ok(
            json!({"token_type": "Bearer", "expires_in": expires_in, "ext_expires_in": expires_in, "access_token": token}),
        )
    }

    fn page(&self, path: &str, api: &str, skip: &str) -> String {
        format!(
            "{}{path}?api-version={api}&%24skiptoken={skip}",
            self.base()
        )
    }

    fn arm(&self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Response {
        let bearer = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("")
            .to_string();
        self.calls.lock().unwrap().push((
            method.to_string(),
            uri.path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default(),
            bearer.clone(),
        ));
        let valid = self
            .tokens
            .lock()
            .unwrap()
            .get(&bearer)
            .is_some_and(|exp| Instant::now() < *exp);
        if !valid {
            return arm_error(
                401,
                "ExpiredAuthenticationToken",
                "The access token expiry UTC time is earlier than current UTC time.",
            );
        }
        if self.reject_all.load(Ordering::SeqCst) || self.revoked.lock().unwrap().contains(&bearer)
        {
            return arm_error(
                401,
                "InvalidAuthenticationToken",
                "The access token is invalid.",
            );
        }
        let q: HashMap<String, String> = reqwest::Url::parse(&format!("http://x{uri}"))
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
        let api = q.get("api-version").cloned().unwrap_or_default();
        let path = uri.path().to_string();
        let lower = path.to_ascii_lowercase();
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let need = |version: &str| -> Option<Response> {
            (api != version).then(|| {
                arm_error(
                    400,
                    "InvalidApiVersionParameter",
                    &format!("The api-version '{api}' is invalid."),
                )
            })
        };
        let ws_prefix = format!(
            "/subscriptions/{SUB1}/resourcegroups/rg-sec/providers/microsoft.operationalinsights/workspaces"
        );

        // GET /subscriptions (two pages, throttled on demand)
        if lower == "/subscriptions" {
            if let Some(r) = need("2022-12-01") {
                return r;
            }
            if self
                .throttle
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                let secs = self.throttle_secs.load(Ordering::SeqCst);
                let mut r = arm_error(429, "TooManyRequests", "The request is being throttled.");
                r.headers_mut()
                    .insert("retry-after", secs.to_string().parse().unwrap());
                return r;
            }
            let sub = |id: &str, name: &str| {
                json!({"id": format!("/subscriptions/{id}"), "authorizationSource": "RoleBased",
                       "managedByTenants": [], "tags": {"env": "prod"}, "subscriptionId": id,
                       "tenantId": TENANT, "displayName": name, "state": "Enabled",
                       "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"}})
            };
            return match q.get("$skiptoken").map(String::as_str) {
                None => ok(json!({"value": [sub(SUB1, "Contoso Production")],
                                   "count": {"type": "Total", "value": 2},
                                   "nextLink": self.page("/subscriptions", "2022-12-01", "page2")})),
                Some("page2") => ok(json!({"value": [sub(SUB2, "Contoso Dev")],
                                            "count": {"type": "Total", "value": 2}})),
                Some(_) => arm_error(400, "InvalidSkipToken", "bad skip token"),
            };
        }
        // Role assignments of the principal
        if segs.len() == 5 && lower.ends_with("/providers/microsoft.authorization/roleassignments")
        {
            if let Some(r) = need("2022-04-01") {
                return r;
            }
            if q.get("$filter") != Some(&format!("principalId eq '{PRINCIPAL}'")) {
                return arm_error(400, "InvalidFilter", "unexpected filter");
            }
            let sub = segs[1];
            if sub == SUB_MISSING {
                return arm_error(
                    404,
                    "SubscriptionNotFound",
                    &format!("The subscription '{sub}' could not be found."),
                );
            }
            if sub == SUB_BROKEN {
                return arm_error(403, "AuthorizationFailed", "The client does not have authorization to perform action 'Microsoft.Authorization/roleAssignments/read'.");
            }
            let ra = |scope: String, role: &str| {
                json!({"id": format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{}", uuid::Uuid::new_v4()),
                       "type": "Microsoft.Authorization/roleAssignments", "name": "x",
                       "properties": {"roleDefinitionId": format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{role}"),
                                      "principalId": PRINCIPAL, "principalType": "ServicePrincipal", "scope": scope}})
            };
            const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
            const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
            let value = if sub == SUB1 {
                // Owner only on a resource group below the subscription: not an Owner of it.
                vec![
                    ra(format!("/subscriptions/{sub}"), READER),
                    ra(format!("/subscriptions/{sub}/resourceGroups/rg-sec"), OWNER),
                ]
            } else {
                vec![ra(format!("/subscriptions/{sub}"), OWNER)]
            };
            return ok(json!({"value": value}));
        }
        // NSGs of a subscription
        if segs.len() == 5 && lower.ends_with("/providers/microsoft.network/networksecuritygroups")
        {
            if let Some(r) = need("2023-09-01") {
                return r;
            }
            if segs[1] == SUB_BROKEN {
                return arm_error(400, "InvalidResourceType", "The resource type could not be found in the namespace 'Microsoft.Network' for api version.");
            }
            return ok(json!({"value": [{
                "name": "nsg-web", "id": format!("/subscriptions/{SUB1}/resourceGroups/rg-net/providers/Microsoft.Network/networkSecurityGroups/nsg-web"),
                "etag": "W/\"1\"", "type": "Microsoft.Network/networkSecurityGroups", "location": "westeurope",
                "properties": {"provisioningState": "Succeeded", "resourceGuid": "r",
                    "securityRules": [{"name": "allow-https", "id": "/rule/1", "properties": {
                        "protocol": "Tcp", "sourcePortRange": "*", "destinationPortRange": "443",
                        "sourceAddressPrefix": "Internet", "destinationAddressPrefix": "*", "access": "Allow",
                        "priority": 100, "direction": "Inbound", "sourcePortRanges": [], "destinationPortRanges": [],
                        "sourceAddressPrefixes": [], "destinationAddressPrefixes": []}}],
                    "defaultSecurityRules": [{"name": "AllowVnetInBound", "properties": {"priority": 65000}}],
                    "subnets": [{"id": "/subscriptions/x/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/v/subnets/web"}]}}]}));
        }
        // Resource groups
        if segs.len() == 3 && lower.ends_with("/resourcegroups") {
            if let Some(r) = need("2021-04-01") {
                return r;
            }
            return match segs[1] {
                SUB_BROKEN => arm_error(
                    500,
                    "InternalServerError",
                    "Encountered internal server error.",
                ),
                SUB_MISSING => arm_error(
                    404,
                    "SubscriptionNotFound",
                    &format!("The subscription '{SUB_MISSING}' could not be found."),
                ),
                sub => ok(json!({"value": [
                    {"id": format!("/subscriptions/{sub}/resourceGroups/rg-sec"), "name": "rg-sec", "type": "Microsoft.Resources/resourceGroups",
                     "location": "westeurope", "tags": {"owner": "soc"}, "properties": {"provisioningState": "Succeeded"}},
                    {"id": format!("/subscriptions/{sub}/resourceGroups/rg-net"), "name": "rg-net", "type": "Microsoft.Resources/resourceGroups",
                     "location": "northeurope", "managedBy": null, "properties": {"provisioningState": "Succeeded"}}]})),
            };
        }
        let workspace = |name: &str| {
            json!({"id": format!("/subscriptions/{SUB1}/resourceGroups/rg-sec/providers/Microsoft.OperationalInsights/workspaces/{name}"),
                   "name": name, "type": "Microsoft.OperationalInsights/workspaces", "location": "westeurope",
                   "tags": {}, "properties": {"customerId": if name == "ws-sentinel" { "a7d2c4e1-0000-4000-8000-000000000001" } else { "a7d2c4e1-0000-4000-8000-000000000002" },
                       "provisioningState": "Succeeded", "sku": {"name": "PerGB2018"}, "retentionInDays": 90,
                       "createdDate": "2024-01-05T10:00:00.0000000Z"}})
        };
        // Workspaces of a resource group
        if lower.ends_with("/providers/microsoft.operationalinsights/workspaces") {
            if let Some(r) = need("2022-10-01") {
                return r;
            }
            if lower != ws_prefix {
                return arm_error(
                    404,
                    "ResourceGroupNotFound",
                    &format!("Resource group '{}' could not be found.", segs[3]),
                );
            }
            // Two pages, the second through nextLink.
            return match q.get("$skiptoken").map(String::as_str) {
                None => ok(json!({"value": [workspace("ws-sentinel")],
                                   "nextLink": self.page(&path, "2022-10-01", "2")})),
                _ => ok(json!({"value": [workspace("ws-plain")]})),
            };
        }
        if let Some(rest) = lower.strip_prefix(&format!("{ws_prefix}/")) {
            let parts: Vec<&str> = rest.split('/').collect();
            let name = parts[0];
            let known = name == "ws-sentinel" || name == "ws-plain";
            match &parts[1..] {
                [] => {
                    if let Some(r) = need("2022-10-01") {
                        return r;
                    }
                    return if known {
                        ok(workspace(name))
                    } else {
                        arm_error(404, "ResourceNotFound", &format!("The Resource 'Microsoft.OperationalInsights/workspaces/{name}' under resource group 'rg-sec' was not found."))
                    };
                }
                ["providers", "microsoft.securityinsights", "onboardingstates", "default"] => {
                    if let Some(r) = need("2024-03-01") {
                        return r;
                    }
                    return if name == "ws-sentinel" {
                        ok(
                            json!({"id": format!("{}/providers/Microsoft.SecurityInsights/onboardingStates/default", workspace(name)["id"].as_str().unwrap()),
                                  "name": "default", "type": "Microsoft.SecurityInsights/onboardingStates",
                                  "properties": {"customerManagedKey": false}}),
                        )
                    } else {
                        arm_error(404, "NotFound", "Resource 'default' does not exist.")
                    };
                }
                ["providers", "microsoft.authorization", "permissions"] => {
                    if let Some(r) = need("2022-04-01") {
                        return r;
                    }
                    let mut perms = vec![
                        json!({"actions": ["*/read"], "notActions": [], "dataActions": [], "notDataActions": []}),
                    ];
                    if name == "ws-sentinel" {
                        perms.push(json!({"actions": ["Microsoft.SecurityInsights/*"], "notActions": [], "dataActions": [], "notDataActions": []}));
                    }
                    return ok(json!({"value": perms}));
                }
                ["providers", "microsoft.securityinsights", "alertrules", rule] => {
                    if let Some(r) = need("2024-03-01") {
                        return r;
                    }
                    if *rule == "forbidden" {
                        return arm_error(403, "AuthorizationFailed", &format!("The client '{CLIENT_ID}' with object id '{PRINCIPAL}' does not have authorization to perform action 'Microsoft.SecurityInsights/alertRules/read'."));
                    }
                    if *rule != RULE {
                        return arm_error(404, "NotFound", "Alert rule not found.");
                    }
                    let render = |enabled: bool, etag: u64| {
                        json!({"id": format!("{}/providers/Microsoft.SecurityInsights/alertRules/{RULE}", workspace(name)["id"].as_str().unwrap()),
                               "name": RULE, "type": "Microsoft.SecurityInsights/alertRules", "kind": "Scheduled",
                               "etag": format!("\"{etag}\""),
                               "properties": {"displayName": "Rare subscription-level operations", "enabled": enabled,
                                   "severity": "Medium", "query": "AzureActivity | take 1", "queryFrequency": "PT1H",
                                   "queryPeriod": "PT1H", "triggerOperator": "GreaterThan", "triggerThreshold": 0,
                                   "suppressionDuration": "PT1H", "suppressionEnabled": false,
                                   "lastModifiedUtc": "2024-05-01T10:00:00Z"}})
                    };
                    let etag = self.rule_etag.load(Ordering::SeqCst);
                    if method == Method::GET {
                        return ok(render(self.rule_enabled.load(Ordering::SeqCst), etag));
                    }
                    if method == Method::PUT {
                        let b: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
                        if b["etag"] != format!("\"{etag}\"") {
                            return arm_error(
                                412,
                                "PreconditionFailed",
                                "The etag does not match.",
                            );
                        }
                        if b["kind"] != "Scheduled" || b["properties"]["query"].is_null() {
                            return arm_error(400, "BadRequest", "incomplete rule");
                        }
                        let enabled = b["properties"]["enabled"].as_bool().unwrap();
                        self.rule_enabled.store(enabled, Ordering::SeqCst);
                        self.rule_etag.store(etag + 1, Ordering::SeqCst);
                        return ok(render(enabled, etag + 1));
                    }
                }
                _ => {}
            }
        }
        arm_error(404, "InvalidResourceType", &format!("no route for {path}"))
    }
}

async fn handle(
    axum::extract::State(fake): axum::extract::State<Arc<Fake>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    if method == Method::POST && path == format!("/{TENANT}/oauth2/v2.0/token") {
        return fake.token(std::str::from_utf8(&body).unwrap_or(""));
    }
    if path.contains("/oauth2/") {
        return (
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_tenant", "error_description": "AADSTS90002: Tenant not found."})
                .to_string(),
        )
            .into_response();
    }
    fake.arm(&method, &uri, &headers, &body)
}

/// Starts the fake on a loopback port.
async fn fake() -> Arc<Fake> {
    let fake = Arc::new(Fake::default());
    fake.expires_in.store(3600, Ordering::SeqCst);
    fake.throttle_secs.store(1, Ordering::SeqCst);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    *fake.base.lock().unwrap() = format!("http://{addr}");
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(fake.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    fake
}

async fn app_against(fake: &Fake, secret: &str) -> TestApp {
    let base = fake.base();
    let secret = secret.to_string();
    TestApp::spawn_with(move |c| {
        c.azure.tenant_id = Some(TENANT.into());
        c.azure.client_id = Some(CLIENT_ID.into());
        c.azure.client_secret = palisade_server::config::Secret(secret);
        c.azure.authority_host = base.clone();
        c.azure.resource_manager_endpoint = base;
        c.azure.max_retries = 2;
        c.azure.max_retry_after_secs = 5;
        c.azure.timeout_secs = 10;
    })
    .await
}

fn rule_id() -> String {
    format!("/subscriptions/{SUB1}/resourceGroups/rg-sec/providers/Microsoft.OperationalInsights/workspaces/ws-sentinel/providers/Microsoft.SecurityInsights/alertRules/{RULE}")
}

fn encoded(id: &str) -> String {
    id.replace('/', "%2F")
}

/// Every response body seen, to check that no secret leaks.
struct Seen(Vec<String>);

impl Seen {
    fn add(&mut self, r: Resp) -> Resp {
        self.0.push(format!("{:?}\n{}", r.headers, r.text));
        r
    }
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn without_credentials_every_azure_route_is_integration_not_configured() {
    let app = TestApp::spawn().await;
    let org = app.org("No Azure").await;
    let (reader, _) = app
        .service_account(
            &org.admin,
            &json!({"name": "azure reader", "scopes": ["org:azure:read"]}),
        )
        .await;
    for (method, path) in azure_routes() {
        let r = app.send(method.clone(), &path, None, None).await;
        r.assert_problem(401, "UNAUTHORIZED");
        let r = app
            .send(method.clone(), &path, Some(&org.admin), None)
            .await;
        r.assert_problem(503, "INTEGRATION_NOT_CONFIGURED");
        assert!(r.json["detail"]
            .as_str()
            .unwrap()
            .contains("azure.client_secret"));
        let r = app.send(method.clone(), &path, Some(&reader), None).await;
        if method == reqwest::Method::PUT {
            // Reading is not managing: the scope is checked before the configuration.
            r.assert_problem(403, "INSUFFICIENT_SCOPE");
            assert_eq!(r.json["target"], "org:azure:manage");
        } else {
            r.assert_problem(503, "INTEGRATION_NOT_CONFIGURED");
        }
    }
}

fn azure_routes() -> Vec<(reqwest::Method, String)> {
    let rg = format!("/api/v2/azure-resources/subscriptions/{SUB1}/resource-groups/rg-sec");
    vec![
        (
            reqwest::Method::GET,
            "/api/v2/azure-resources/subscriptions".into(),
        ),
        (
            reqwest::Method::GET,
            format!("/api/v2/azure-resources/subscriptions/is-owner?subscriptionId={SUB2}"),
        ),
        (
            reqwest::Method::GET,
            format!("/api/v2/azure-resources/subscriptions/{SUB1}/network-security-groups"),
        ),
        (
            reqwest::Method::GET,
            format!("/api/v2/azure-resources/subscriptions/{SUB1}/resource-groups"),
        ),
        (reqwest::Method::GET, format!("{rg}/workspaces")),
        (reqwest::Method::GET, format!("{rg}/sentinels")),
        (
            reqwest::Method::GET,
            format!("{rg}/workspaces/ws-sentinel/validate"),
        ),
        (
            reqwest::Method::PUT,
            format!(
                "/api/v2/azure-resources/analytical-rules/{}?enabled=false",
                encoded(&rule_id())
            ),
        ),
    ]
}

#[tokio::test]
async fn every_route_through_the_client_against_local_arm() {
    let capture = palisade_test_utils::fakes::LogCapture::default();
    let _guard = capture.install();

    let fake = fake().await;
    let app = app_against(&fake, SECRET).await;
    let org = app.org("Azure").await;
    let (manager, _) = app
        .service_account(
            &org.admin,
            &json!({"name": "azure", "scopes": ["org:azure:manage"]}),
        )
        .await;
    let cred: &Cred = &manager;
    let mut seen = Seen(Vec::new());
    let base = "/api/v2/azure-resources/subscriptions";

    // Subscriptions: two ARM pages, one 429 with Retry-After: 1 first.
    fake.throttle.store(1, Ordering::SeqCst);
    let started = Instant::now();
    let r = seen.add(app.get(base, Some(cred)).await);
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited Retry-After"
    );
    let subs = r.data().as_array().unwrap();
    assert_eq!(subs.len(), 2, "both pages: {}", r.text);
    assert_eq!(subs[0]["subscriptionId"], SUB1);
    assert_eq!(subs[0]["id"], format!("/subscriptions/{SUB1}"));
    assert_eq!(subs[0]["displayName"], "Contoso Production");
    assert_eq!(subs[0]["state"], "Enabled");
    assert_eq!(subs[0]["tenantId"], TENANT);
    assert_eq!(subs[0]["tags"]["env"], "prod");
    assert_eq!(subs[1]["subscriptionId"], SUB2);
    assert!(r.json["meta"]["requestId"].is_string());
    {
        let calls = fake.calls.lock().unwrap();
        let subs_calls: Vec<_> = calls
            .iter()
            .filter(|c| c.1.starts_with("/subscriptions?"))
            .collect();
        assert_eq!(subs_calls.len(), 3, "429, page 1, page 2: {subs_calls:?}");
        assert!(subs_calls[2].1.contains("skiptoken=page2"));
    }

    // is-owner: Owner below the subscription does not count; at the subscription it does.
    let r = seen.add(
        app.get(
            &format!("{base}/is-owner?subscriptionId={SUB1}"),
            Some(cred),
        )
        .await,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["isOwner"], false);
    assert_eq!(r.data()["principalId"], PRINCIPAL);
    assert_eq!(r.data()["subscriptionId"], SUB1);
    let r = seen.add(
        app.get(
            &format!("{base}/is-owner?subscriptionId={SUB2}"),
            Some(cred),
        )
        .await,
    );
    assert_eq!(r.data()["isOwner"], true, "{}", r.text);
    assert_eq!(
        r.data()["ownerRoleAssignments"][0]["scope"],
        format!("/subscriptions/{SUB2}")
    );
    // No right to read role assignments: not an Owner.
    let r = seen.add(
        app.get(
            &format!("{base}/is-owner?subscriptionId={SUB_BROKEN}"),
            Some(cred),
        )
        .await,
    );
    assert_eq!(r.data()["isOwner"], false, "{}", r.text);
    let r = seen.add(
        app.get(
            &format!("{base}/is-owner?subscriptionId={SUB_MISSING}"),
            Some(cred),
        )
        .await,
    );
    r.assert_problem(404, "NOT_FOUND");
    assert_eq!(r.json["target"], "subscriptionId");
    assert!(r.json["detail"]
        .as_str()
        .unwrap()
        .contains("SubscriptionNotFound"));
    seen.add(app.get(&format!("{base}/is-owner"), Some(cred)).await)
        .assert_problem(400, "VALIDATION_ERROR");
    let r = seen.add(
        app.get(&format!("{base}/is-owner?subscriptionId=nope"), Some(cred))
            .await,
    );
    r.assert_problem(400, "VALIDATION_ERROR");
    assert_eq!(r.json["target"], "subscriptionId");

    // Network security groups.
    let r = seen.add(
        app.get(
            &format!("{base}/{SUB1}/network-security-groups"),
            Some(cred),
        )
        .await,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let nsg = &r.data()[0];
    assert_eq!(nsg["name"], "nsg-web");
    assert_eq!(nsg["resourceGroup"], "rg-net");
    assert_eq!(nsg["location"], "westeurope");
    assert_eq!(nsg["securityRules"][0]["name"], "allow-https");
    assert_eq!(nsg["securityRules"][0]["priority"], 100);
    assert_eq!(
        nsg["securityRules"][0]["destinationPortRanges"],
        json!(["443"])
    );
    assert_eq!(
        nsg["securityRules"][0]["sourceAddressPrefixes"],
        json!(["Internet"])
    );
    assert_eq!(
        nsg["securityRules"].as_array().unwrap().len(),
        1,
        "default rules left out"
    );
    assert_eq!(nsg["subnetIds"].as_array().unwrap().len(), 1);
    // ARM 400 → BAD_REQUEST with ARM's code in the detail.
    let r = seen.add(
        app.get(
            &format!("{base}/{SUB_BROKEN}/network-security-groups"),
            Some(cred),
        )
        .await,
    );
    r.assert_problem(400, "BAD_REQUEST");
    assert!(
        r.json["detail"]
            .as_str()
            .unwrap()
            .contains("InvalidResourceType"),
        "{}",
        r.text
    );

    // Resource groups; ARM 404 and 500.
    let r = seen.add(
        app.get(&format!("{base}/{SUB1}/resource-groups"), Some(cred))
            .await,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()[0]["name"], "rg-sec");
    assert_eq!(r.data()[0]["provisioningState"], "Succeeded");
    assert_eq!(r.data()[0]["tags"]["owner"], "soc");
    assert_eq!(r.data()[1]["location"], "northeurope");
    let r = seen.add(
        app.get(&format!("{base}/{SUB_MISSING}/resource-groups"), Some(cred))
            .await,
    );
    r.assert_problem(404, "NOT_FOUND");
    assert_eq!(r.json["target"], "subscriptionId");
    let r = seen.add(
        app.get(&format!("{base}/{SUB_BROKEN}/resource-groups"), Some(cred))
            .await,
    );
    r.assert_problem(503, "SERVICE_UNAVAILABLE");
    assert!(r.header("retry-after").is_some());
    assert!(r.json["detail"]
        .as_str()
        .unwrap()
        .contains("Azure Resource Manager"));
    // A malformed subscription id in the path names no subscription (and reaches no ARM).
    seen.add(
        app.get(&format!("{base}/not-a-guid/resource-groups"), Some(cred))
            .await,
    )
    .assert_problem(404, "NOT_FOUND");

    // Log Analytics workspaces: two pages.
    let rg = format!("{base}/{SUB1}/resource-groups/rg-sec");
    let r = seen.add(app.get(&format!("{rg}/workspaces"), Some(cred)).await);
    assert_eq!(r.status, 200, "{}", r.text);
    let names: Vec<&str> = r.items("name");
    assert_eq!(names, ["ws-sentinel", "ws-plain"]);
    let w = &r.data()[0];
    assert_eq!(w["customerId"], "a7d2c4e1-0000-4000-8000-000000000001");
    assert_eq!(w["resourceGroup"], "rg-sec");
    assert_eq!(w["subscriptionId"], SUB1);
    assert_eq!(w["sku"], "PerGB2018");
    assert_eq!(w["retentionInDays"], 90);
    let r = seen.add(
        app.get(
            &format!("{base}/{SUB1}/resource-groups/rg-missing/workspaces"),
            Some(cred),
        )
        .await,
    );
    r.assert_problem(404, "NOT_FOUND");
    assert_eq!(r.json["target"], "resourceGroup");
    assert!(r.json["detail"]
        .as_str()
        .unwrap()
        .contains("ResourceGroupNotFound"));

    // Sentinel instances: only the onboarded workspace.
    let r = seen.add(app.get(&format!("{rg}/sentinels"), Some(cred)).await);
    assert_eq!(r.status, 200, "{}", r.text);
    let list = r.data().as_array().unwrap();
    assert_eq!(list.len(), 1, "{}", r.text);
    assert_eq!(list[0]["name"], "ws-sentinel");
    assert_eq!(list[0]["customerManagedKey"], false);
    assert!(list[0]["sentinelOnboardingStateId"]
        .as_str()
        .unwrap()
        .ends_with("/onboardingStates/default"));

    // Validation, check by check.
    let r = seen.add(
        app.get(&format!("{rg}/workspaces/ws-sentinel/validate"), Some(cred))
            .await,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["valid"], true, "{}", r.text);
    let statuses: Vec<(&str, &str)> = r.data()["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("WorkspaceExists", "Passed"),
            ("SentinelOnboarded", "Passed"),
            ("ReadAccess", "Passed"),
            ("AnalyticsRulesWriteAccess", "Passed")
        ]
    );
    let r = seen.add(
        app.get(&format!("{rg}/workspaces/ws-plain/validate"), Some(cred))
            .await,
    );
    assert_eq!(r.data()["valid"], false);
    let checks = r.data()["checks"].as_array().unwrap();
    assert_eq!(checks[1]["status"], "Failed");
    assert_eq!(checks[2]["status"], "Passed");
    assert_eq!(checks[3]["status"], "Failed");
    assert_eq!(checks[3]["required"], false);
    assert_eq!(
        checks[3]["missingActions"],
        json!(["Microsoft.SecurityInsights/alertRules/write"])
    );
    let r = seen.add(
        app.get(&format!("{rg}/workspaces/ws-gone/validate"), Some(cred))
            .await,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["valid"], false);
    let checks = r.data()["checks"].as_array().unwrap();
    assert_eq!(checks[0]["status"], "Failed");
    assert!(checks[0]["detail"]
        .as_str()
        .unwrap()
        .contains("ResourceNotFound"));
    assert!(checks[1..].iter().all(|c| c["status"] == "Skipped"));

    // Analytics rule: disable (GET, PUT with etag), again (no write), enable.
    fake.rule_enabled.store(true, Ordering::SeqCst);
    let rules = "/api/v2/azure-resources/analytical-rules";
    let path = format!("{rules}/{}?enabled=false", encoded(&rule_id()));
    let r = seen.add(app.put(&path, Some(cred), &json!({})).await);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["enabled"], false);
    assert_eq!(r.data()["changed"], true);
    assert_eq!(r.data()["kind"], "Scheduled");
    assert_eq!(r.data()["id"], rule_id());
    assert_eq!(r.data()["etag"], "\"1\"");
    assert!(!fake.rule_enabled.load(Ordering::SeqCst));
    let r = seen.add(
        app.send(reqwest::Method::PUT, &path, Some(cred), None)
            .await,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["changed"], false);
    let r = seen.add(
        app.send(
            reqwest::Method::PUT,
            &format!("{rules}/{}?enabled=TRUE", encoded(&rule_id()[1..])),
            Some(cred),
            None,
        )
        .await,
    );
    assert_eq!(r.data()["enabled"], true, "{}", r.text);
    assert!(fake.rule_enabled.load(Ordering::SeqCst));
    // Bad addressing and parameters.
    seen.add(
        app.send(
            reqwest::Method::PUT,
            &format!("{rules}/{RULE}?enabled=true"),
            Some(cred),
            None,
        )
        .await,
    )
    .assert_problem(400, "VALIDATION_ERROR");
    let r = seen.add(
        app.send(
            reqwest::Method::PUT,
            &format!("{rules}/{}", encoded(&rule_id())),
            Some(cred),
            None,
        )
        .await,
    );
    r.assert_problem(400, "VALIDATION_ERROR");
    assert_eq!(r.json["target"], "enabled");
    seen.add(
        app.send(
            reqwest::Method::PUT,
            &format!("{rules}/{}?enabled=maybe", encoded(&rule_id())),
            Some(cred),
            None,
        )
        .await,
    )
    .assert_problem(400, "VALIDATION_ERROR");
    let missing = rule_id().replace(RULE, "00000000-0000-4000-8000-000000000000");
    let r = seen.add(
        app.send(
            reqwest::Method::PUT,
            &format!("{rules}/{}?enabled=true", encoded(&missing)),
            Some(cred),
            None,
        )
        .await,
    );
    r.assert_problem(404, "NOT_FOUND");
    assert_eq!(r.json["target"], "ruleId");
    // ARM 403 AuthorizationFailed: the integration's principal lacks a role.
    let forbidden = rule_id().replace(RULE, "forbidden");
    let r = seen.add(
        app.send(
            reqwest::Method::PUT,
            &format!("{rules}/{}?enabled=true", encoded(&forbidden)),
            Some(cred),
            None,
        )
        .await,
    );
    r.assert_problem(503, "INTEGRATION_NOT_CONFIGURED");
    assert!(r.json["detail"]
        .as_str()
        .unwrap()
        .contains("AuthorizationFailed"));

    // One token served every call.
    assert_eq!(fake.token_requests.load(Ordering::SeqCst), 1);
    let tokens: Vec<String> = fake.tokens.lock().unwrap().keys().cloned().collect();
    assert!(fake.calls.lock().unwrap().iter().all(|c| c.2 == tokens[0]));

    // Neither the client secret nor the access token shows up in a response or in the logs.
    let logs = capture.text();
    assert!(
        logs.contains("azure resource manager call"),
        "logs were captured"
    );
    for text in seen.0.iter().chain(std::iter::once(&logs)) {
        assert!(!text.contains(SECRET), "secret leaked: {text}");
        assert!(!text.contains(&tokens[0]), "token leaked: {text}");
        assert!(
            !text.contains(tokens[0].split('.').nth(1).unwrap()),
            "token leaked: {text}"
        );
    }
    assert!(!format!("{:?}", app.state.config()).contains(SECRET));
}

#[tokio::test]
async fn tokens_are_reused_then_refreshed_before_expiry_and_after_a_401() {
    let fake = fake().await;
    // A 2-second token is refreshed halfway through its life.
    fake.expires_in.store(2, Ordering::SeqCst);
    let app = app_against(&fake, SECRET).await;
    let org = app.org("Tokens").await;
    let path = "/api/v2/azure-resources/subscriptions";
    let count = || fake.token_requests.load(Ordering::SeqCst);
    // Concurrent first requests share one token request.
    let (a, b, c, d) = tokio::join!(
        app.get(path, Some(&org.admin)),
        app.get(path, Some(&org.admin)),
        app.get(path, Some(&org.admin)),
        app.get(path, Some(&org.admin)),
    );
    for r in [a, b, c, d] {
        assert_eq!(r.status, 200, "{}", r.text);
    }
    assert_eq!(app.get(path, Some(&org.admin)).await.status, 200);
    assert_eq!(count(), 1, "reused");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(app.get(path, Some(&org.admin)).await.status, 200);
    assert_eq!(count(), 2, "refreshed before expiry");

    // ARM rejects the current token (revoked, or expired early): one refresh and a retry.
    fake.expires_in.store(3600, Ordering::SeqCst);
    let current: Vec<String> = fake.tokens.lock().unwrap().keys().cloned().collect();
    fake.revoked.lock().unwrap().extend(current);
    let r = app.get(path, Some(&org.admin)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(count(), 3, "refreshed after 401");
    assert_eq!(app.get(path, Some(&org.admin)).await.status, 200);
    assert_eq!(count(), 3);

    // A token ARM keeps rejecting is an integration problem, not a loop: one refresh per
    // request at most.
    fake.reject_all.store(true, Ordering::SeqCst);
    let r = app.get(path, Some(&org.admin)).await;
    r.assert_problem(503, "INTEGRATION_NOT_CONFIGURED");
    assert!(r.json["detail"]
        .as_str()
        .unwrap()
        .contains("InvalidAuthenticationToken"));
    assert_eq!(count(), 4);
}

#[tokio::test]
async fn throttling_beyond_the_retry_bounds_is_rate_limited() {
    let fake = fake().await;
    let app = app_against(&fake, SECRET).await;
    let org = app.org("Throttled").await;
    let path = "/api/v2/azure-resources/subscriptions";
    // Retry-After above azure.max_retry_after_secs (5): passed on at once.
    fake.throttle.store(10, Ordering::SeqCst);
    fake.throttle_secs.store(30, Ordering::SeqCst);
    let started = Instant::now();
    let r = app.get(path, Some(&org.admin)).await;
    r.assert_problem(429, "RATE_LIMITED");
    assert_eq!(r.header("retry-after"), Some("30"));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(r.json["detail"].as_str().unwrap().contains("throttling"));
    // Short Retry-After: retried max_retries (2) times, then 429.
    fake.throttle.store(10, Ordering::SeqCst);
    fake.throttle_secs.store(1, Ordering::SeqCst);
    let before = fake.calls.lock().unwrap().len();
    let r = app.get(path, Some(&org.admin)).await;
    r.assert_problem(429, "RATE_LIMITED");
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(
        fake.calls.lock().unwrap().len() - before,
        3,
        "first try + 2 retries"
    );
}

#[tokio::test]
async fn rejected_credentials_are_reported_without_the_secret() {
    let fake = fake().await;
    let wrong = "Wr0ng~secret.value-that-must-not-leak";
    let app = app_against(&fake, wrong).await;
    let org = app.org("Rejected").await;
    let r = app
        .get("/api/v2/azure-resources/subscriptions", Some(&org.admin))
        .await;
    r.assert_problem(503, "INTEGRATION_NOT_CONFIGURED");
    let detail = r.json["detail"].as_str().unwrap();
    assert!(detail.contains("invalid_client"), "{detail}");
    assert!(detail.contains("AADSTS7000215"), "{detail}");
    assert!(!r.text.contains(wrong), "{}", r.text);
    assert!(!detail.contains("Trace ID"), "one line only: {detail}");
    // Nothing reached ARM.
    assert!(fake.calls.lock().unwrap().is_empty());

    // An unreachable Azure is SERVICE_UNAVAILABLE.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let app = TestApp::spawn_with(move |c| {
        c.azure.tenant_id = Some(TENANT.into());
        c.azure.client_id = Some(CLIENT_ID.into());
        c.azure.client_secret = palisade_server::config::Secret(SECRET.into());
        c.azure.authority_host = format!("http://{closed}");
        c.azure.resource_manager_endpoint = format!("http://{closed}");
    })
    .await;
    let org = app.org("Unreachable").await;
    let r = app
        .get("/api/v2/azure-resources/subscriptions", Some(&org.admin))
        .await;
    r.assert_problem(503, "SERVICE_UNAVAILABLE");
    assert!(r.json["detail"]
        .as_str()
        .unwrap()
        .contains("Microsoft Entra ID"));
    assert!(!r.text.contains(SECRET));
}
