//! The connector form of the data-sources page: add a polled connector to a workspace
//! (`POST …/datasources`) or edit one (`PUT …/datasources/{id}`), through those routes' access
//! rules and the data-source service. The fields of each connector type come from
//! `palisade_connectors` ([`ConnectorKind::setting_fields`]); every value is judged by the
//! service, and its `VALIDATION_ERROR` fields (`settings.tenantId`, `credentials.clientSecret`,
//! `pollIntervalSecs`, …) are the inputs' names, so each message is shown beside its input.
//! Credentials are never shown back; left blank on an edit, the sealed ones are kept.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use palisade_connectors::settings::{FieldKind, SettingField};
use palisade_connectors::ConnectorKind;
use palisade_domain::Error;
use palisade_types::datasources::{DataSource, DataSourceRequest};
use serde::Deserialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::layout::{self, csrf};
use super::{encode, fail, ConsoleUser, PageResult};
use crate::access::WorkspaceCtx;
use crate::AppState;

pub(super) const CREATE: &str = "/api/v2/workspaces/{workspaceId}/datasources";
pub(super) const ONE: &str = "/api/v2/workspaces/{workspaceId}/datasources/{dataConnectorId}";

/// A posted form, field by field.
type Fields = Form<Vec<(String, String)>>;

/// Field name → messages (the API's `errors`; `""` for a message about the whole form).
type Errors = BTreeMap<String, Vec<String>>;

/// The workspaces where the user may add a connector: (id, name).
pub(super) async fn manageable(state: &AppState, user: &ConsoleUser) -> Vec<(Uuid, String)> {
    let all = state
        .org()
        .list_workspaces(&user.ctx)
        .await
        .unwrap_or_default();
    let mut out = Vec::new();
    for w in all {
        if user
            .may(state, Method::POST, CREATE, Some(&w.id.to_string()))
            .await
        {
            out.push((w.id, w.name));
        }
    }
    out
}

/// The id of an input named `name` (`settings.tenantId` → `c-settings-tenantId`).
fn input_id(name: &str) -> String {
    format!("c-{}", name.replace('.', "-"))
}

/// A connector type's name for people.
fn kind_label(k: ConnectorKind) -> &'static str {
    k.source().display_name()
}

/// What the form is about.
struct Subject {
    kind: ConnectorKind,
    workspace: Uuid,
    workspace_name: String,
    /// The connector being edited.
    editing: Option<DataSource>,
}

impl Subject {
    /// Whether the form has an input named `name` (an error about it is shown beside it).
    fn has_input(&self, name: &str) -> bool {
        match name.split_once('.') {
            None => ["name", "pollIntervalSecs", "startFrom"].contains(&name),
            Some(("settings", k)) => self.kind.setting_fields().iter().any(|f| f.name == k),
            Some(("credentials", k)) => self.kind.credential_field().name == k,
            Some(_) => false,
        }
    }

    fn action(&self) -> String {
        match &self.editing {
            Some(d) => format!(
                "/console/sources/{}/{}",
                self.workspace, d.data_connector_id
            ),
            None => "/console/sources/new".into(),
        }
    }
}

/// The error messages of input `name`, beside it.
fn field_errors(errors: &Errors, name: &str) -> Markup {
    html! {
        @if let Some(list) = errors.get(name) {
            ul.field-errors id={ (input_id(name)) "-error" } {
                @for m in list { li { (m) } }
            }
        }
    }
}

/// A labelled input with its hint and its errors.
fn input(
    errors: &Errors,
    name: &str,
    label: &str,
    hint: &str,
    control: impl FnOnce(&str, Option<String>, bool) -> Markup,
) -> Markup {
    let id = input_id(name);
    let invalid = errors.contains_key(name);
    let mut described = Vec::new();
    if !hint.is_empty() {
        described.push(format!("{id}-hint"));
    }
    if invalid {
        described.push(format!("{id}-error"));
    }
    let described = (!described.is_empty()).then(|| described.join(" "));
    html! {
        div.field.invalid[invalid] {
            label for=(id) { (label) }
            @if !hint.is_empty() { span.hint id={ (id) "-hint" } { (hint) } }
            (control(&id, described, invalid))
            (field_errors(errors, name))
        }
    }
}

fn setting_input(f: &SettingField, value: &str, errors: &Errors) -> Markup {
    let name = format!("settings.{}", f.name);
    let (label, hint) = match f.kind {
        FieldKind::Integer { min, max, default } => (
            f.label.to_string(),
            format!("{min} to {max}; {default} when left blank."),
        ),
        FieldKind::Url => (f.label.to_string(), format!("For example {}", f.example)),
        FieldKind::Choice(_) => (f.label.to_string(), String::new()),
        FieldKind::Text => (f.label.to_string(), format!("For example {}", f.example)),
    };
    let label = if f.required {
        format!("{label} (required)")
    } else {
        label
    };
    input(errors, &name, &label, &hint, |id, described, invalid| {
        let invalid = invalid.then_some("true");
        match f.kind {
            FieldKind::Choice(values) => html! {
                select id=(id) name=(name) aria-describedby=[described] aria-invalid=[invalid] {
                    @for v in values {
                        option value=(v) selected[*v == value || (value.is_empty() && *v == values[0])] { (v) }
                    }
                }
            },
            FieldKind::Integer { min, max, .. } => html! {
                input id=(id) name=(name) type="number" min=(min) max=(max) value=(value)
                    aria-describedby=[described] aria-invalid=[invalid];
            },
            FieldKind::Url => html! {
                input id=(id) name=(name) type="url" value=(value) required[f.required]
                    aria-describedby=[described] aria-invalid=[invalid];
            },
            FieldKind::Text => html! {
                input id=(id) name=(name) type="text" value=(value) required[f.required]
                    aria-describedby=[described] aria-invalid=[invalid];
            },
        }
    })
}

/// The whole form, with `values` (by input name) and the service's `errors`.
fn form(
    user: &ConsoleUser,
    s: &Subject,
    values: &BTreeMap<String, String>,
    errors: &Errors,
) -> Markup {
    let get = |k: &str| values.get(k).cloned().unwrap_or_default();
    let cred = s.kind.credential_field();
    let cred_name = format!("credentials.{}", cred.name);
    let (cred_label, cred_hint) = match s.editing {
        Some(_) => (
            cred.label.to_string(),
            format!("Stored sealed and never shown. Leave blank to keep the stored one; type a new one to replace it ({}).", cred.what),
        ),
        None => (
            format!("{} (required)", cred.label),
            format!("Stored sealed and never shown again: {}.", cred.what),
        ),
    };
    let creating = s.editing.is_none();
    html! {
        @if !errors.is_empty() {
            div.error-summary role="alert" aria-labelledby="error-summary-title" {
                h2 #error-summary-title { "The connector was not saved" }
                ul {
                    @for (field, messages) in errors {
                        @for m in messages {
                            li {
                                @if s.has_input(field) {
                                    a href={ "#" (input_id(field)) } { (m) }
                                } @else {
                                    (m)
                                }
                            }
                        }
                    }
                }
            }
        }
        form.connector method="post" action=(s.action()) novalidate {
            (csrf(user))
            @if creating {
                input type="hidden" name="workspace" value=(s.workspace);
                input type="hidden" name="connectorType" value=(s.kind.as_str());
            }
            fieldset {
                legend { "Connector" }
                dl.facts {
                    dt { "Workspace" } dd { (s.workspace_name) }
                    dt { "Type" } dd #c-type { (kind_label(s.kind)) " (" (s.kind.as_str()) ")" }
                }
                (input(errors, "name", "Name", "Blank: the type's name.", |id, d, inv| html! {
                    input id=(id) name="name" type="text" maxlength="200" value=(get("name"))
                        aria-describedby=[d] aria-invalid=[inv.then_some("true")];
                }))
                (input(errors, "pollIntervalSecs", "Poll interval (seconds)", "10 to 86400; 60 when left blank.", |id, d, inv| html! {
                    input id=(id) name="pollIntervalSecs" type="number" min="10" max="86400" value=(get("pollIntervalSecs"))
                        aria-describedby=[d] aria-invalid=[inv.then_some("true")];
                }))
                (input(errors, "startFrom", "Pull changes since", "A date-time with its offset, e.g. 2026-12-01T00:00:00Z; blank: 24 hours ago (on an edit: unchanged).", |id, d, inv| html! {
                    input id=(id) name="startFrom" type="text" value=(get("startFrom"))
                        aria-describedby=[d] aria-invalid=[inv.then_some("true")];
                }))
            }
            fieldset {
                legend { "Settings" }
                @for f in s.kind.setting_fields() {
                    (setting_input(&f, &get(&format!("settings.{}", f.name)), errors))
                }
            }
            fieldset {
                legend { "Credentials" }
                (input(errors, &cred_name, &cred_label, &cred_hint, |id, d, inv| html! {
                    input id=(id) name=(cred_name) type="password" autocomplete="off" value=""
                        required[creating] aria-describedby=[d] aria-invalid=[inv.then_some("true")];
                }))
            }
            button type="submit" { @if creating { "Add connector" } @else { "Save connector" } }
            " "
            a href="/console/sources" { "Cancel" }
        }
    }
}

/// The page around the form, with `status`.
fn render(
    user: &ConsoleUser,
    s: &Subject,
    values: &BTreeMap<String, String>,
    errors: &Errors,
    status: StatusCode,
) -> Response {
    let title = match &s.editing {
        Some(d) => format!("Edit {}", d.name),
        None => format!("Add a {} connector", kind_label(s.kind)),
    };
    let body = html! {
        p { a href="/console/sources" { "← Data sources" } }
        h1 { (title) }
        @if let Some(st) = s.editing.as_ref().and_then(|d| d.status.as_ref()) {
            dl.facts {
                dt { "Health" } dd #c-health { (st.state.as_str()) }
                dt { "Last poll" } dd { @if let Some(t) = st.last_poll_at { (layout::time(t)) } @else { "never" } }
                @if let Some(e) = &st.last_error { dt { "Last error" } dd { (e) } }
            }
        }
        (form(user, s, values, errors))
    };
    let page = layout::page(Some(user), &title, "sources", body);
    (status, Html(page.into_string())).into_response()
}

#[derive(Deserialize, Default)]
pub struct NewQuery {
    #[serde(default)]
    workspace: String,
    #[serde(default, rename = "type")]
    kind: String,
}

/// Parses a connector type named by a form or a link: 400 naming `connectorType` otherwise.
fn kind_of(raw: &str) -> Result<ConnectorKind, Error> {
    ConnectorKind::parse(raw).ok_or_else(|| {
        Error::field(
            "connectorType",
            format!("Choose a connector type: {}.", ConnectorKind::allowed()),
        )
    })
}

/// A workspace's name (its id when the listing does not have it).
async fn workspace_name(state: &AppState, user: &ConsoleUser, id: Uuid) -> Result<String, Error> {
    Ok(state
        .org()
        .list_workspaces(&user.ctx)
        .await?
        .into_iter()
        .find(|w| w.id == id)
        .map(|w| w.name)
        .unwrap_or_else(|| id.to_string()))
}

/// The form for adding a `kind` connector to workspace `ws`, when the user may (the API's
/// answer otherwise), and the workspace's context.
async fn adding(
    state: &AppState,
    user: &ConsoleUser,
    ws: &str,
    kind: &str,
) -> Result<(WorkspaceCtx, Subject), Error> {
    let ctx = user
        .authorize(state, Method::POST, CREATE, Some(ws))
        .await?
        .expect("a workspace route");
    let kind = kind_of(kind)?;
    let workspace = ctx.workspace.uuid();
    let s = Subject {
        kind,
        workspace,
        workspace_name: workspace_name(state, user, workspace).await?,
        editing: None,
    };
    Ok((ctx, s))
}

/// `GET /console/sources/new?workspace=…&type=…`: the empty form.
pub async fn new_form(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<NewQuery>,
) -> PageResult {
    let (_, s) = adding(&state, &user, &q.workspace, &q.kind)
        .await
        .map_err(fail(&user))?;
    Ok(render(
        &user,
        &s,
        &BTreeMap::new(),
        &Errors::new(),
        StatusCode::OK,
    ))
}

/// The form's values by input name, and the request they make. Credentials left blank are
/// left out on an edit (the sealed ones are kept) and sent empty on a creation (the service
/// then names the missing field).
fn request(
    kind: ConnectorKind,
    fields: &[(String, String)],
    creating: bool,
) -> (BTreeMap<String, String>, DataSourceRequest, Errors) {
    let mut values = BTreeMap::new();
    for (k, v) in fields {
        if k != "csrf" && !k.starts_with("credentials.") {
            values.insert(k.clone(), v.clone());
        }
    }
    let text = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let mut errors = Errors::new();
    let poll_interval_secs = text("pollIntervalSecs").and_then(|t| match t.parse::<i64>() {
        Ok(n) => Some(n),
        Err(_) => {
            errors.insert(
                "pollIntervalSecs".into(),
                vec!["'pollIntervalSecs' must be a whole number of seconds.".into()],
            );
            None
        }
    });
    let mut settings = Map::new();
    for f in kind.setting_fields() {
        if let Some(v) = text(&format!("settings.{}", f.name)).and_then(|t| f.value_of(&t)) {
            settings.insert(f.name.into(), v);
        }
    }
    let cred = kind.credential_field();
    let credentials = match fields
        .iter()
        .find(|(n, _)| *n == format!("credentials.{}", cred.name))
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.trim().is_empty())
    {
        Some(secret) => Some(Value::Object(Map::from_iter([(
            cred.name.to_string(),
            Value::from(secret),
        )]))),
        None if creating => Some(Value::Object(Map::new())),
        None => None,
    };
    let req = DataSourceRequest {
        connector_type: creating.then(|| kind.as_str().to_string()),
        name: text("name"),
        poll_interval_secs,
        start_from: text("startFrom"),
        settings: Some(Value::Object(settings)),
        credentials,
        ..Default::default()
    };
    (values, req, errors)
}

/// A refusal of the service as the form's errors, with its status; `Err` for what is not
/// about the form (403, 404, …).
fn form_errors(e: Error) -> Result<(Errors, StatusCode), Error> {
    match e {
        Error::Validation(m) => Ok((m, StatusCode::BAD_REQUEST)),
        Error::ValidationDetail { detail, mut errors } => {
            if errors.is_empty() {
                errors.insert(String::new(), vec![detail]);
            }
            Ok((errors, StatusCode::BAD_REQUEST))
        }
        Error::Conflict(m) => Ok(([(String::new(), vec![m])].into(), StatusCode::CONFLICT)),
        other => Err(other),
    }
}

fn field(form: &[(String, String)], k: &str) -> String {
    form.iter()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default()
}

/// `POST /console/sources/new`: adds the connector, or shows the form again with its errors.
pub async fn create(
    State(state): State<AppState>,
    user: ConsoleUser,
    Form(form): Fields,
) -> PageResult {
    let f = fail(&user);
    let (ctx, s) = adding(
        &state,
        &user,
        &field(&form, "workspace"),
        &field(&form, "connectorType"),
    )
    .await
    .map_err(&f)?;
    let (values, req, errors) = request(s.kind, &form, true);
    if !errors.is_empty() {
        return Ok(render(&user, &s, &values, &errors, StatusCode::BAD_REQUEST));
    }
    match state.datasources().create(&ctx, req).await {
        Ok(d) => {
            let target = format!("/console/sources/{}/{}", s.workspace, d.data_connector_id);
            user.audit(&state, "datasource.create", target, 201).await;
            let done = format!("Connector {} added.", d.name);
            Ok(Redirect::to(&format!("/console/sources?done={}", encode(&done))).into_response())
        }
        Err(e) => {
            let (errors, status) = form_errors(e).map_err(&f)?;
            Ok(render(&user, &s, &values, &errors, status))
        }
    }
}

/// The edit form's subject: the connector, when it is a polled one the user may edit.
async fn editing(
    state: &AppState,
    user: &ConsoleUser,
    ws: &str,
    id: &str,
) -> Result<Result<(WorkspaceCtx, Subject), Response>, Error> {
    let id = crate::http::extract::path_id("Data connector", id)?;
    let ctx = user
        .authorize(state, Method::PUT, ONE, Some(ws))
        .await?
        .expect("a workspace route");
    let d = state.datasources().get(&ctx, id).await?;
    let kind = ConnectorKind::parse(d.connector_type.as_str()).filter(|_| d.status.is_some());
    let Some(kind) = kind else {
        // Not polled yet: adding a connector of its type upgrades it in place.
        let to = format!(
            "/console/sources/new?workspace={ws}&type={}",
            encode(d.connector_type.as_str())
        );
        return Ok(Err(Redirect::to(&to).into_response()));
    };
    let workspace = ctx.workspace.uuid();
    let s = Subject {
        kind,
        workspace,
        workspace_name: workspace_name(state, user, workspace).await?,
        editing: Some(d),
    };
    Ok(Ok((ctx, s)))
}

/// `/console/sources/{workspaceId}/{dataConnectorId}`.
type ConnectorPath = Path<(String, String)>;

/// `GET /console/sources/{ws}/{id}`: the form of a polled connector, filled in (never its
/// credentials).
pub async fn edit_form(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((ws, id)): ConnectorPath,
) -> PageResult {
    let f = fail(&user);
    let (_, s) = match editing(&state, &user, &ws, &id).await.map_err(&f)? {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    let d = s.editing.as_ref().expect("editing");
    let mut values = BTreeMap::new();
    values.insert("name".to_string(), d.name.clone());
    if let Some(n) = d.poll_interval_secs {
        values.insert("pollIntervalSecs".into(), n.to_string());
    }
    if let Some(t) = d.start_from {
        values.insert("startFrom".into(), t.to_rfc3339());
    }
    for p in &d.parameters_helper {
        if let (Some(k), Some(v)) = (&p.property_name, &p.property_value) {
            values.insert(format!("settings.{k}"), v.clone());
        }
    }
    Ok(render(&user, &s, &values, &Errors::new(), StatusCode::OK))
}

/// `POST /console/sources/{ws}/{id}`: saves the connector, or shows the form again.
pub async fn update(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((ws, id)): ConnectorPath,
    Form(form): Fields,
) -> PageResult {
    let f = fail(&user);
    let (ctx, s) = match editing(&state, &user, &ws, &id).await.map_err(&f)? {
        Ok(found) => found,
        Err(_) => {
            return Err(f(Error::field(
                "settings",
                "This data source is not polled: add a connector of its type instead.",
            )))
        }
    };
    let (values, req, errors) = request(s.kind, &form, false);
    if !errors.is_empty() {
        return Ok(render(&user, &s, &values, &errors, StatusCode::BAD_REQUEST));
    }
    let id = s.editing.as_ref().expect("editing").data_connector_id;
    match state.datasources().update(&ctx, id, req).await {
        Ok(d) => {
            let target = format!("/console/sources/{}/{id}", s.workspace);
            user.audit(&state, "datasource.update", target, 200).await;
            let done = format!("Connector {} saved.", d.name);
            Ok(Redirect::to(&format!("/console/sources?done={}", encode(&done))).into_response())
        }
        Err(e) => {
            let (errors, status) = form_errors(e).map_err(&f)?;
            Ok(render(&user, &s, &values, &errors, status))
        }
    }
}
