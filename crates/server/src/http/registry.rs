//! The route registry. A route is added only through [`Api::route`], which takes the route's
//! [`Access`] — its scope and, for workspace routes, the minimum workspace role — next to the
//! handler, so no route can exist without them. The same table drives the router, the
//! authorization layer, the OpenAPI document and the test that walks every route.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, RawPathParams, Request, State};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::{header, Method};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter};
use axum::Router;
use palisade_domain::{Error, Scope, WorkspaceRole};
use schemars::{JsonSchema, Schema, SchemaGenerator};

use super::context::{set_principal, set_route};
use super::error::ApiError;
use crate::access::{OrgCtx, WorkspaceCtx};
use crate::service::audit::{Change, Channel};
use crate::AppState;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credential needed (health, metrics, the OpenAPI document).
    Public,
    /// Any valid credential.
    Authenticated,
    /// A credential holding the scope; organization-level, no workspace role needed.
    Org(Scope),
    /// A credential holding the scope, whose account holds at least the role on the
    /// `{workspaceId}` of the path.
    Workspace(Scope, WorkspaceRole),
    /// Like `Workspace`, with any one of several scopes.
    WorkspaceAny(&'static [Scope], WorkspaceRole),
}

impl Access {
    /// The scopes of which the credential needs one (empty: none needed).
    pub fn scopes(&self) -> Vec<Scope> {
        match self {
            Access::Org(s) | Access::Workspace(s, _) => vec![*s],
            Access::WorkspaceAny(list, _) => list.to_vec(),
            _ => Vec::new(),
        }
    }

    pub fn role(&self) -> Option<WorkspaceRole> {
        match self {
            Access::Workspace(_, r) | Access::WorkspaceAny(_, r) => Some(*r),
            _ => None,
        }
    }
}

pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn schema_of<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// A query parameter, for the OpenAPI document.
#[derive(Debug, Clone)]
pub struct QueryParam {
    pub name: &'static str,
    pub required: bool,
    pub description: &'static str,
    pub schema: serde_json::Value,
}

/// Documentation of one operation.
#[derive(Clone)]
pub struct Doc {
    pub operation_id: &'static str,
    pub summary: &'static str,
    pub description: &'static str,
    pub tag: &'static str,
    /// Beyond the documented ContraForce surface (tagged `Extensions` too).
    pub extension: bool,
    pub request: Option<SchemaFn>,
    pub request_optional: bool,
    /// Schema of `data` in the success envelope; `None` for raw (non-envelope) responses.
    pub response: Option<SchemaFn>,
    pub raw_response: Option<&'static str>,
    pub success_status: u16,
    /// An upsert: 201 when it created, 200 (the same body) when it replaced.
    pub replaces: bool,
    pub query: Vec<QueryParam>,
    /// The path as documented, when the router needs another parameter name at the same
    /// position (the legacy no-source incident routes).
    pub documented_path: Option<&'static str>,
    /// A body limit of its own (batch ingest routes), instead of `max_body_bytes`.
    pub body_limit: Option<usize>,
    /// Fields of the request body this route requires beyond what the body's type always
    /// requires (a create route of a type shared with its update route), documented as a
    /// schema of their own: `(schema name, fields)`.
    pub requires: Option<(&'static str, &'static [&'static str])>,
    /// A `POST` that only reads (a query with a body): it never answers 409.
    pub reads: bool,
}

/// Body limit of the batch ingest routes: a batch of 1,000 realistic incidents (entities,
/// alerts, evidence) is several MiB, beyond the general `max_body_bytes`.
pub const BATCH_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Body limit of the cross-workspace listing, whose continuation calls send back one page token
/// per live workspace × source stream (about 1 KiB per workspace): room for 16,000 workspaces.
pub const PAGE_TOKENS_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Starts the documentation of an operation.
pub fn doc(operation_id: &'static str, tag: &'static str, summary: &'static str) -> Doc {
    Doc {
        operation_id,
        summary,
        description: "",
        tag,
        extension: false,
        request: None,
        request_optional: false,
        response: None,
        raw_response: None,
        success_status: 200,
        replaces: false,
        query: Vec::new(),
        documented_path: None,
        body_limit: None,
        requires: None,
        reads: false,
    }
}

impl Doc {
    pub fn describe(mut self, d: &'static str) -> Self {
        self.description = d;
        self
    }
    pub fn extension(mut self) -> Self {
        self.extension = true;
        self
    }
    /// Accepts bodies up to [`BATCH_BODY_BYTES`].
    pub fn batch_body(self) -> Self {
        self.body_limit(BATCH_BODY_BYTES)
    }
    /// Accepts bodies up to `bytes` instead of the configured `max_body_bytes`.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = Some(bytes);
        self
    }
    pub fn body<T: JsonSchema>(mut self) -> Self {
        self.request = Some(schema_of::<T>);
        self
    }
    pub fn optional_body<T: JsonSchema>(mut self) -> Self {
        self.request = Some(schema_of::<T>);
        self.request_optional = true;
        self
    }
    /// The body's `fields` are required on this route; the document names the body schema
    /// `schema` (a copy of the type's schema requiring them).
    pub fn requires(mut self, schema: &'static str, fields: &'static [&'static str]) -> Self {
        self.requires = Some((schema, fields));
        self
    }
    /// A `POST` that only reads.
    pub fn reads(mut self) -> Self {
        self.reads = true;
        self
    }
    pub fn returns<T: JsonSchema>(mut self) -> Self {
        self.response = Some(schema_of::<T>);
        self
    }
    pub fn created<T: JsonSchema>(mut self) -> Self {
        self.response = Some(schema_of::<T>);
        self.success_status = 201;
        self
    }
    /// An upsert: 201 with `T` when it created, 200 with `T` when it replaced.
    pub fn created_or_replaced<T: JsonSchema>(self) -> Self {
        Doc {
            replaces: true,
            ..self.created::<T>()
        }
    }
    pub fn documented_as(mut self, path: &'static str) -> Self {
        self.documented_path = Some(path);
        self
    }
    /// The success status, when not 200 (a redirect).
    pub fn status(mut self, status: u16) -> Self {
        self.success_status = status;
        self
    }
    pub fn raw(mut self, content_type: &'static str) -> Self {
        self.raw_response = Some(content_type);
        self
    }
    pub fn query(
        mut self,
        name: &'static str,
        required: bool,
        description: &'static str,
        schema: serde_json::Value,
    ) -> Self {
        self.query.push(QueryParam {
            name,
            required,
            description,
            schema,
        });
        self
    }
}

/// One registered route.
#[derive(Clone)]
pub struct RouteInfo {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub doc: Doc,
}

/// Builds the router and the route table together.
#[derive(Default)]
pub struct Api {
    router: Router<AppState>,
    routes: Vec<RouteInfo>,
}

impl Api {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a route with its access rule and documentation.
    pub fn route<H, T>(
        mut self,
        method: Method,
        path: &'static str,
        access: Access,
        doc: Doc,
        handler: H,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        if access.role().is_some() {
            assert!(
                path.contains("{workspaceId}"),
                "workspace route {path} must have a {{workspaceId}} segment"
            );
        }
        let filter = MethodFilter::try_from(method.clone()).expect("standard method");
        // Every call that may change something is audited: all but GET and reading POSTs.
        let guard = Guard {
            access,
            route: path,
            audit: method != Method::GET && method != Method::HEAD && !doc.reads,
        };
        let mut method_router =
            on(filter, handler).route_layer(from_fn_with_state(guard, authorize));
        if let Some(limit) = doc.body_limit {
            method_router = method_router.layer(axum::extract::DefaultBodyLimit::max(limit));
        }
        self.router = self.router.route(path, method_router);
        self.routes.push(RouteInfo {
            method,
            path,
            access,
            doc,
        });
        self
    }

    pub fn into_parts(self) -> (Router<AppState>, Vec<RouteInfo>) {
        (self.router, self.routes)
    }
}

#[derive(Clone)]
struct Guard {
    access: Access,
    route: &'static str,
    audit: bool,
}

/// Authentication and authorization for one route: 401, then 403 `INSUFFICIENT_SCOPE`, then
/// (workspace routes) 404 for a workspace of another organization or 403
/// `INSUFFICIENT_WORKSPACE_ROLE`. What passes is handed to the handler as typed contexts:
/// [`OrgCtx`] on every non-public route, [`WorkspaceCtx`] on workspace routes.
async fn authorize(State(guard): State<Guard>, req: Request, next: Next) -> Response {
    set_route(guard.route);
    if guard.access == Access::Public {
        return next.run(req).await;
    }
    let Some(state) = req.extensions().get::<AppState>().cloned() else {
        return ApiError(Error::internal("application state missing from request")).into_response();
    };
    let (mut parts, body) = req.into_parts();
    let org = match authenticate(&state, &guard, &parts).await {
        Ok(org) => org,
        Err(e) => return ApiError(e).into_response(),
    };
    if let Some(required) = guard.access.role() {
        // A path segment that is not valid UTF-8 is the client's error, answered as on every
        // other route (400).
        let params = match RawPathParams::from_request_parts(&mut parts, &()).await {
            Ok(params) => params,
            Err(rejection) => return rejection.into_response(),
        };
        let raw = params
            .iter()
            .find(|(k, _)| *k == "workspaceId")
            .map(|(_, v)| v.to_string())
            .unwrap_or_default();
        match workspace_ctx(&state, &org, &raw, required).await {
            Ok(ctx) => {
                parts.extensions.insert(ctx);
            }
            Err(e) => return ApiError(e).into_response(),
        }
    }
    let audit = guard.audit.then(|| {
        (
            org.clone(),
            format!("{} {}", parts.method, guard.route),
            parts.uri.path().to_string(),
            peer_address(&parts),
        )
    });
    parts.extensions.insert(org);
    let response = next.run(Request::from_parts(parts, body)).await;
    if let Some((org, action, target, address)) = audit {
        if response.status().is_success() {
            let change = Change {
                principal: &org.principal,
                channel: Channel::Api,
                action,
                target,
                status: response.status().as_u16(),
                address,
            };
            state.audit().record(&org.org, change).await;
        }
    }
    response
}

/// The peer address of the request.
pub(crate) fn peer_address(parts: &Parts) -> Option<std::net::IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Authenticates the caller and checks the route's scope.
async fn authenticate(state: &AppState, guard: &Guard, parts: &Parts) -> Result<OrgCtx, Error> {
    let header = match parts.headers.get(header::AUTHORIZATION) {
        Some(v) => Some(
            v.to_str()
                .map_err(|_| Error::Unauthorized("Malformed Authorization header.".into()))?,
        ),
        None => None,
    };
    let peer = peer_address(parts);
    let principal = state.auth().authenticate(header, peer).await?;
    set_principal(principal.service_account_id.to_string());
    let scopes = guard.access.scopes();
    if !scopes.is_empty() && !scopes.iter().any(|s| principal.scopes.allows(*s)) {
        return Err(Error::InsufficientScope(scopes));
    }
    Ok(OrgCtx::new(principal))
}

/// What the route layer checks, for a caller already authenticated another way (the
/// console's signed-in user): the access rule's scope, then, for a workspace rule, the role
/// on `workspace` (404 for another organization's). The console calls this with the access
/// rule of the API route it acts like ([`access_of`]), so both refuse the same things.
pub async fn check_access(
    state: &AppState,
    org: &OrgCtx,
    access: Access,
    workspace: Option<&str>,
) -> Result<Option<WorkspaceCtx>, Error> {
    let scopes = access.scopes();
    if !scopes.is_empty() && !scopes.iter().any(|s| org.principal.scopes.allows(*s)) {
        return Err(Error::InsufficientScope(scopes));
    }
    match access.role() {
        None => Ok(None),
        Some(required) => {
            let raw = workspace.unwrap_or_default();
            Ok(Some(workspace_ctx(state, org, raw, required).await?))
        }
    }
}

/// The access rule of the API route `method path` (a registered template).
pub fn access_of(method: &Method, path: &str) -> Option<Access> {
    static TABLE: std::sync::OnceLock<Vec<(Method, &'static str, Access)>> =
        std::sync::OnceLock::new();
    TABLE
        .get_or_init(|| {
            let (_, routes) = crate::routes::api().into_parts();
            routes
                .into_iter()
                .map(|r| (r.method, r.path, r.access))
                .collect()
        })
        .iter()
        .find(|(m, p, _)| m == method && *p == path)
        .map(|(_, _, a)| *a)
}

/// The caller's context on the `{workspaceId}` of the path, when it holds `required` there.
async fn workspace_ctx(
    state: &AppState,
    org: &OrgCtx,
    raw: &str,
    required: WorkspaceRole,
) -> Result<WorkspaceCtx, Error> {
    let ws = super::extract::path_id("Workspace", raw)?;
    let principal = &org.principal;
    let held = principal.workspace(&ws);
    let (workspace, role) = match held {
        Some((workspace, role)) if role >= required => (workspace, role),
        _ => {
            // Another organization's workspace (or none at all) is not found, never
            // forbidden.
            let Some(workspace) = state.store().tenant(&org.org).workspace(ws).await? else {
                return Err(Error::not_found_target("Workspace", ws, "workspaceId"));
            };
            // The workspace is the organization's: an organization-wide role applies even if
            // the workspace is newer than the cached principal.
            let effective = held
                .map(|(_, role)| role)
                .into_iter()
                .chain(principal.org_role.implied_workspace_role())
                .max();
            match effective {
                Some(role) if role >= required => (workspace.id, role),
                _ => {
                    return Err(Error::InsufficientWorkspaceRole {
                        workspace: ws.to_string(),
                        required,
                    })
                }
            }
        }
    };
    Ok(WorkspaceCtx {
        org: org.org,
        workspace,
        role,
        principal: principal.clone(),
    })
}

/// A context the authorization layer put in the request, for the handler.
fn context<T: Clone + Send + Sync + 'static>(parts: &Parts, what: &str) -> Result<T, ApiError> {
    parts.extensions.get::<T>().cloned().ok_or_else(|| {
        ApiError(Error::internal(format!(
            "the route's handler asked for {what} its access rule does not provide"
        )))
    })
}

impl<S: Send + Sync> FromRequestParts<S> for OrgCtx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        context(parts, "an organization context")
    }
}

impl<S: Send + Sync> FromRequestParts<S> for WorkspaceCtx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        context(parts, "a workspace context")
    }
}
