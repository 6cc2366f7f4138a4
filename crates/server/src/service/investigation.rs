//! Investigation logs: ingest of sign-in and directory audit logs, the documented queries with
//! sealed `NextPageLink` paging, and the audit trail of those queries
//! (docs/investigation.md).

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use palisade_domain::time::{from_micros, to_micros};
use palisade_domain::{Error, Result, Validator};
use palisade_store::{AuditRow, LogKind, NewLogRow, Store, UserMatch, WorkspaceId};
use palisade_types::datasources::ConnectorType;
use palisade_types::incidents::TimeFilteringType;
use palisade_types::investigation::*;
use uuid::Uuid;

use crate::access::WorkspaceCtx;
use crate::crypto::SealingKey;
use crate::paging::{finish_page, open_after, page_size, seal_after};
use crate::service::datasources::count_ingest;

pub const MAX_INGEST: usize = 1000;
/// Items per page of the log queries (server-controlled).
pub const PAGE_SIZE: i64 = 100;
const MAX_ID: usize = 200;
const MAX_USER: usize = 320;
const MAX_TEXT: usize = 1000;
const MAX_AUDIT_PAGE: i64 = 100;
/// The longest `Custom` window.
const MAX_CUSTOM_DAYS: i64 = 90;

/// Query parameters as received (names matched in any letter case).
pub type Params = Vec<(String, String)>;

fn param<'a>(q: &'a Params, name: &str) -> Option<&'a str> {
    q.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn kind_byte(kind: LogKind) -> u8 {
    match kind {
        LogKind::SignIn => 1,
        LogKind::Directory => 2,
    }
}

fn connector_of(kind: LogKind) -> ConnectorType {
    match kind {
        LogKind::SignIn => ConnectorType::AzureActiveDirectory,
        LogKind::Directory => ConnectorType::AzureActiveDirectoryAudit,
    }
}

fn route_of(kind: LogKind) -> &'static str {
    match kind {
        LogKind::SignIn => "signin-logs",
        LogKind::Directory => "directory-logs",
    }
}

/// An ISO-8601 instant, truncated to microseconds (what the store keeps).
fn parse_time(v: &mut Validator, path: &str, raw: Option<&str>) -> Option<DateTime<Utc>> {
    let Some(raw) = raw else {
        v.add(path, format!("'{path}' is required."));
        return None;
    };
    match DateTime::parse_from_rfc3339(raw.trim()) {
        Ok(t) => Some(from_micros(to_micros(t.with_timezone(&Utc)))),
        Err(_) => {
            v.add(
                path,
                format!("'{path}' must be an ISO-8601 date-time with an offset."),
            );
            None
        }
    }
}

fn enum_or<T: Copy>(
    v: &mut Validator,
    path: &str,
    raw: Option<&str>,
    default: T,
    parse: fn(&str) -> Option<T>,
    allowed: String,
) -> T {
    match raw {
        None => default,
        Some(s) => parse(s).unwrap_or_else(|| {
            v.add(path, format!("Allowed: {allowed}."));
            default
        }),
    }
}

fn opt(v: &mut Validator, path: &str, raw: &Option<String>) -> Option<String> {
    v.optional_str(path, raw.as_deref(), MAX_TEXT)
}

/// The user's object id and UPN as given; `None` (with a failure) if neither is.
fn user_keys(
    v: &mut Validator,
    prefix: &str,
    user_id: &Option<String>,
    upn: &Option<String>,
) -> Option<(Option<String>, Option<String>)> {
    let id = v.optional_str(&format!("{prefix}userId"), user_id.as_deref(), MAX_USER);
    let upn = v.optional_str(
        &format!("{prefix}userPrincipalName"),
        upn.as_deref(),
        MAX_USER,
    );
    if id.is_none() && upn.is_none() {
        v.add(
            format!("{prefix}userId"),
            "'userId' or 'userPrincipalName' is required.",
        );
        return None;
    }
    Some((id, upn))
}

fn log_id(v: &mut Validator, path: &str, raw: &Option<String>) -> String {
    v.optional_str(path, raw.as_deref(), MAX_ID)
        .unwrap_or_else(|| Uuid::new_v4().to_string())
}

/// Validates item `i` of a sign-in log ingest into the row stored for it.
pub fn signin_row(v: &mut Validator, i: usize, x: &SignInLogInput) -> Option<NewLogRow> {
    let prefix = format!("items[{i}].");
    let id = log_id(v, &format!("{prefix}id"), &x.id);
    let at = parse_time(
        v,
        &format!("{prefix}createdDateTime"),
        x.created_date_time.as_deref(),
    );
    let users = user_keys(v, &prefix, &x.user_id, &x.user_principal_name);
    if let Some(ip) = &x.ip_address {
        if ip.trim().parse::<IpAddr>().is_err() {
            v.add(
                format!("{prefix}ipAddress"),
                "'ipAddress' must be an IPv4 or IPv6 address.",
            );
        }
    }
    let risk = |v: &mut Validator, name: &str, raw: &Option<String>| {
        enum_or(
            v,
            &format!("{prefix}{name}"),
            raw.as_deref(),
            RiskLevel::None,
            RiskLevel::parse,
            RiskLevel::allowed(),
        )
    };
    let during = risk(v, "riskLevelDuringSignIn", &x.risk_level_during_sign_in);
    let aggregated = risk(v, "riskLevelAggregated", &x.risk_level_aggregated);
    let ca = enum_or(
        v,
        &format!("{prefix}conditionalAccessStatus"),
        x.conditional_access_status.as_deref(),
        ConditionalAccessStatus::NotApplied,
        ConditionalAccessStatus::parse,
        ConditionalAccessStatus::allowed(),
    );
    let status = x.status.clone().unwrap_or_default();
    let item = SignInLog {
        id: id.clone(),
        created_date_time: at?,
        user_id: None,
        user_principal_name: None,
        user_display_name: opt(v, &format!("{prefix}userDisplayName"), &x.user_display_name),
        app_id: opt(v, &format!("{prefix}appId"), &x.app_id),
        app_display_name: opt(v, &format!("{prefix}appDisplayName"), &x.app_display_name),
        resource_display_name: opt(
            v,
            &format!("{prefix}resourceDisplayName"),
            &x.resource_display_name,
        ),
        ip_address: x.ip_address.as_ref().map(|s| s.trim().to_string()),
        location: x.location.clone().unwrap_or_default(),
        status: SignInStatus {
            error_code: Some(status.error_code.unwrap_or(0)),
            ..status
        },
        client_app_used: opt(v, &format!("{prefix}clientAppUsed"), &x.client_app_used),
        device_detail: x.device_detail.clone().unwrap_or_default(),
        risk_level_during_sign_in: during,
        risk_level_aggregated: aggregated,
        risk_state: opt(v, &format!("{prefix}riskState"), &x.risk_state),
        conditional_access_status: ca,
        is_interactive: x.is_interactive.unwrap_or(true),
        correlation_id: opt(v, &format!("{prefix}correlationId"), &x.correlation_id),
    };
    let (user_id, upn) = users?;
    let item = SignInLog {
        user_id: user_id.clone(),
        user_principal_name: upn.clone(),
        ..item
    };
    Some(NewLogRow {
        id,
        user_key: user_id.unwrap_or_default().to_lowercase(),
        upn_key: upn.unwrap_or_default().to_lowercase(),
        created_at: to_micros(item.created_date_time),
        doc: serde_json::to_string(&item).expect("serializable"),
    })
}

/// Validates item `i` of a directory log ingest into the row stored for it.
pub fn directory_row(v: &mut Validator, i: usize, x: &DirectoryLogInput) -> Option<NewLogRow> {
    let prefix = format!("items[{i}].");
    let id = log_id(v, &format!("{prefix}id"), &x.id);
    let at = parse_time(v, &format!("{prefix}date"), x.date.as_deref());
    let users = user_keys(v, &prefix, &x.user_id, &x.user_principal_name);
    let activity = v.required_str(
        &format!("{prefix}activity"),
        x.activity.as_deref(),
        MAX_TEXT,
    );
    let status = enum_or(
        v,
        &format!("{prefix}status"),
        x.status.as_deref(),
        DirectoryLogStatus::Success,
        DirectoryLogStatus::parse,
        DirectoryLogStatus::allowed(),
    );
    let targets: Vec<String> = x
        .target_resources
        .iter()
        .flatten()
        .enumerate()
        .filter_map(|(k, t)| {
            v.optional_str(&format!("{prefix}targetResources[{k}]"), Some(t), MAX_TEXT)
        })
        .collect();
    if targets.len() > 50 {
        v.add(
            format!("{prefix}targetResources"),
            "At most 50 target resources.",
        );
    }
    let joined = opt(v, &format!("{prefix}targets"), &x.targets);
    let (user_id, upn) = users?;
    let item = DirectoryLog {
        id: id.clone(),
        date: at?,
        service: opt(v, &format!("{prefix}service"), &x.service),
        activity: activity?,
        category: opt(v, &format!("{prefix}category"), &x.category),
        status,
        status_reason: opt(v, &format!("{prefix}statusReason"), &x.status_reason),
        targets: joined.unwrap_or_else(|| targets.join(", ")),
        target_resources: targets,
        actor: opt(v, &format!("{prefix}actor"), &x.actor),
        user_id: user_id.clone(),
        user_principal_name: upn.clone(),
    };
    Some(NewLogRow {
        id,
        user_key: user_id.unwrap_or_default().to_lowercase(),
        upn_key: upn.unwrap_or_default().to_lowercase(),
        created_at: to_micros(item.date),
        doc: serde_json::to_string(&item).expect("serializable"),
    })
}

/// A parsed and validated log query.
struct LogQuery {
    /// `None`: every user of the workspace.
    user: Option<String>,
    by: UserMatch,
    key: String,
    filter: TimeFilteringType,
    since: i64,
    until: i64,
    after: Option<(i64, String)>,
    start_raw: Option<String>,
    end_raw: Option<String>,
    entity_name: Option<String>,
    resource_id: Option<String>,
    resource_name: Option<String>,
}

/// One page's rows and what the response says about them.
struct PageOut {
    docs: Vec<String>,
    next_page_link: Option<String>,
    message: String,
    can_retrieve_data: bool,
}

impl PageOut {
    /// The page's stored documents, parsed into the listing's item type.
    fn items<T: serde::de::DeserializeOwned>(&self) -> Result<Vec<T>> {
        self.docs
            .iter()
            .map(|d| serde_json::from_str(d).map_err(Error::internal))
            .collect()
    }
}

pub struct InvestigationService {
    store: Store,
    sealer: SealingKey,
    page_size: i64,
}

impl InvestigationService {
    pub fn new(store: Store, server_secret: &str, page_size: i64) -> Self {
        InvestigationService {
            store,
            sealer: SealingKey::derive(server_secret, "palisade investigation page v1"),
            page_size: page_size.max(1),
        }
    }

    async fn ingest(
        &self,
        ctx: &WorkspaceCtx,
        kind: LogKind,
        rows: Vec<NewLogRow>,
    ) -> Result<LogIngestResult> {
        let received = rows.len();
        let ingested = self
            .store
            .tenant(&ctx.org)
            .insert_logs(&ctx.workspace, kind, &rows, to_micros(Utc::now()))
            .await?;
        // datasources (issue #5): what arrived (re-sent duplicates included) counts toward the
        // workspace's log connector; bytes are the stored JSON size of the items.
        let bytes = rows.iter().map(|r| r.doc.len()).sum();
        count_ingest(
            &self.store,
            &ctx.workspace,
            connector_of(kind),
            received,
            bytes,
        )
        .await;
        Ok(LogIngestResult {
            received,
            ingested,
            duplicates: received as u64 - ingested,
        })
    }

    /// The rows of an ingest's 1 to 1,000 items, each validated by `row`; all or nothing.
    fn log_rows<T>(
        items: Option<Vec<T>>,
        row: fn(&mut Validator, usize, &T) -> Option<NewLogRow>,
    ) -> Result<Vec<NewLogRow>> {
        let items = items.unwrap_or_default();
        if items.is_empty() || items.len() > MAX_INGEST {
            return Err(Error::field(
                "items",
                format!("Give between 1 and {MAX_INGEST} items."),
            ));
        }
        let mut v = Validator::new();
        let rows = items
            .iter()
            .enumerate()
            .filter_map(|(i, x)| row(&mut v, i, x))
            .collect();
        v.finish()?;
        Ok(rows)
    }

    pub async fn ingest_signins(
        &self,
        ctx: &WorkspaceCtx,
        req: SignInLogIngestRequest,
    ) -> Result<LogIngestResult> {
        let rows = Self::log_rows(req.items, signin_row)?;
        self.ingest(ctx, LogKind::SignIn, rows).await
    }

    pub async fn ingest_directory(
        &self,
        ctx: &WorkspaceCtx,
        req: DirectoryLogIngestRequest,
    ) -> Result<LogIngestResult> {
        let rows = Self::log_rows(req.items, directory_row)?;
        self.ingest(ctx, LogKind::Directory, rows).await
    }

    fn aad(ws: &WorkspaceId, kind: LogKind, key: &str, filter: TimeFilteringType) -> Vec<u8> {
        let mut aad = b"palisade-investigation-v1".to_vec();
        aad.extend_from_slice(ws.org().uuid().as_bytes());
        aad.extend_from_slice(ws.uuid().as_bytes());
        aad.push(kind_byte(kind));
        aad.extend_from_slice(filter.as_str().as_bytes());
        aad.push(0);
        aad.extend_from_slice(key.as_bytes());
        aad
    }

    fn seal(&self, aad: &[u8], since: i64, until: i64, at: i64, id: &str) -> String {
        let mut msg = Vec::with_capacity(24 + id.len());
        msg.extend_from_slice(&since.to_be_bytes());
        msg.extend_from_slice(&until.to_be_bytes());
        msg.extend_from_slice(&at.to_be_bytes());
        msg.extend_from_slice(id.as_bytes());
        self.sealer.seal_bytes(aad, &msg)
    }

    fn open(&self, aad: &[u8], token: &str) -> Option<(i64, i64, i64, String)> {
        if token.len() > 1024 {
            return None;
        }
        let raw = self.sealer.open_bytes(aad, token)?;
        if raw.len() < 25 {
            return None;
        }
        let n = |k: usize| i64::from_be_bytes(raw[k * 8..k * 8 + 8].try_into().unwrap());
        let id = String::from_utf8(raw[24..].to_vec()).ok()?;
        Some((n(0), n(1), n(2), id))
    }

    fn parse_query(&self, ws: &WorkspaceId, kind: LogKind, q: &Params) -> Result<LogQuery> {
        let mut v = Validator::new();
        let user = v.optional_str("UserId", param(q, "UserId"), MAX_USER);
        let filter = match param(q, "TimeFilteringType") {
            None => {
                v.add(
                    "TimeFilteringType",
                    format!(
                        "'TimeFilteringType' is required. Allowed: {}.",
                        TimeFilteringType::allowed()
                    ),
                );
                None
            }
            Some(t) => {
                let f = TimeFilteringType::parse(t);
                if f.is_none() {
                    v.add(
                        "TimeFilteringType",
                        format!("Allowed: {}.", TimeFilteringType::allowed()),
                    );
                }
                f
            }
        };
        let mut instant = |name: &str| -> Option<DateTime<Utc>> {
            let raw = param(q, name)?;
            parse_time(&mut v, name, Some(raw))
        };
        let start = instant("StartDate");
        let end = instant("EndDate");
        let now = Utc::now();
        let window = match filter {
            Some(TimeFilteringType::Custom) => match (start, end) {
                (Some(s), Some(e)) if s > e => {
                    v.add("EndDate", "'EndDate' must not be before 'StartDate'.");
                    None
                }
                (Some(s), Some(e)) if e - s > Duration::days(MAX_CUSTOM_DAYS) => {
                    v.add(
                        "EndDate",
                        format!("A Custom window may span at most {MAX_CUSTOM_DAYS} days."),
                    );
                    None
                }
                (Some(s), Some(e)) => Some((s, e)),
                _ => {
                    for name in ["StartDate", "EndDate"] {
                        if param(q, name).is_none() {
                            v.add(
                                name,
                                format!("'{name}' is required when TimeFilteringType is Custom."),
                            );
                        }
                    }
                    None
                }
            },
            Some(f) => palisade_domain::time::relative_window(f, now),
            None => None,
        };
        let audit = |v: &mut Validator, name: &str| v.optional_str(name, param(q, name), MAX_TEXT);
        let entity_name = audit(&mut v, "EntityName");
        let resource_id = audit(&mut v, "ResourceId");
        let resource_name = audit(&mut v, "ResourceName");
        v.finish()?;
        let (filter, (since, until)) = (filter.unwrap(), window.unwrap());
        // No user's key is empty, so the empty key (every user) binds tokens apart.
        let (by, key) = match &user {
            None => (UserMatch::Any, String::new()),
            Some(u) if u.contains('@') => (UserMatch::PrincipalName, u.to_lowercase()),
            Some(u) => (UserMatch::ObjectId, u.to_lowercase()),
        };
        let mut out = LogQuery {
            user,
            by,
            key,
            filter,
            since: to_micros(since),
            until: to_micros(until),
            after: None,
            start_raw: param(q, "StartDate").map(str::to_string),
            end_raw: param(q, "EndDate").map(str::to_string),
            entity_name,
            resource_id,
            resource_name,
        };
        if let Some(link) = param(q, "NextPageLink").filter(|s| !s.trim().is_empty()) {
            let invalid = || {
                Error::ValidationDetail {
                detail: "One or more pagination tokens are invalid. Use the nextPageLink of the previous response unmodified.".into(),
                errors: [(
                    "NextPageLink".to_string(),
                    vec!["The NextPageLink is invalid for this workspace, user and time filter. Restart without NextPageLink.".to_string()],
                )]
                .into(),
            }
            };
            // Either the token itself or the whole link of the previous response.
            let token = match link.find("NextPageLink=") {
                Some(at) => url::form_urlencoded::parse(&link.as_bytes()[at..])
                    .find(|(k, _)| k == "NextPageLink")
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default(),
                None => link.trim().to_string(),
            };
            let aad = Self::aad(ws, kind, &out.key, filter);
            let (since, until, at, id) = self.open(&aad, &token).ok_or_else(invalid)?;
            // A Custom window must be the one the token was issued for; a relative window
            // keeps the bounds resolved on the first page.
            if filter == TimeFilteringType::Custom && (since, until) != (out.since, out.until) {
                return Err(invalid());
            }
            out.since = since;
            out.until = until;
            out.after = Some((at, id));
        }
        Ok(out)
    }

    fn next_link(&self, ws: Uuid, kind: LogKind, q: &LogQuery, token: &str) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        if let Some(user) = &q.user {
            s.append_pair("UserId", user);
        }
        s.append_pair("TimeFilteringType", q.filter.as_str());
        if q.filter == TimeFilteringType::Custom {
            if let (Some(a), Some(b)) = (&q.start_raw, &q.end_raw) {
                s.append_pair("StartDate", a);
                s.append_pair("EndDate", b);
            }
        }
        for (name, value) in [
            ("EntityName", &q.entity_name),
            ("ResourceId", &q.resource_id),
            ("ResourceName", &q.resource_name),
        ] {
            if let Some(v) = value {
                s.append_pair(name, v);
            }
        }
        s.append_pair("NextPageLink", token);
        format!(
            "/api/v2/workspaces/{ws}/investigation/users/{}?{}",
            route_of(kind),
            s.finish()
        )
    }

    async fn page(&self, ctx: &WorkspaceCtx, kind: LogKind, params: &Params) -> Result<PageOut> {
        let ws = &ctx.workspace;
        let tenant = self.store.tenant(&ctx.org);
        let q = self.parse_query(ws, kind, params)?;
        let after = q.after.as_ref().map(|(at, id)| (*at, id.as_str()));
        let mut rows = tenant
            .query_logs(
                ws,
                kind,
                q.by,
                &q.key,
                q.since,
                q.until,
                after,
                self.page_size + 1,
            )
            .await?;
        let more = rows.len() as i64 > self.page_size;
        rows.truncate(self.page_size as usize);
        let next_page_link = match (more, rows.last()) {
            (true, Some(last)) => {
                let aad = Self::aad(ws, kind, &q.key, q.filter);
                let token = self.seal(&aad, q.since, q.until, last.created_at, &last.id);
                Some(self.next_link(ws.uuid(), kind, &q, &token))
            }
            _ => None,
        };
        let connector = connector_of(kind);
        let can_retrieve_data = tenant
            .list_connectors(ws)
            .await?
            .iter()
            .any(|c| c.connected && c.connector_type == connector.as_str());
        let what = match kind {
            LogKind::SignIn => "sign-in events",
            LogKind::Directory => "directory audit entries",
        };
        let message = match (rows.len(), can_retrieve_data) {
            (0, false) => format!(
                "No {what} found: the workspace has no connected {} connector.",
                connector.as_str()
            ),
            (0, true) if q.user.is_some() => {
                format!("No {what} for this user in the selected time range.")
            }
            (0, true) => format!("No {what} in the selected time range."),
            (n, _) if more => format!("{n} {what} returned; more are available at nextPageLink."),
            (n, _) => format!("{n} {what} returned."),
        };
        tenant
            .insert_investigation_audit(
                ws,
                &AuditRow {
                    id: Uuid::new_v4(),
                    workspace_id: ws.uuid(),
                    service_account_id: ctx.principal.service_account_id,
                    credential_id: ctx.principal.credential_id,
                    log_kind: kind.as_str().into(),
                    // Empty: the query covered every user (the column predates that).
                    user_id: q.user.clone().unwrap_or_default(),
                    time_filtering_type: q.filter.as_str().into(),
                    start_at: q.since,
                    end_at: q.until,
                    continuation: q.after.is_some(),
                    entity_name: q.entity_name.clone(),
                    resource_id: q.resource_id.clone(),
                    resource_name: q.resource_name.clone(),
                    result_count: rows.len() as i64,
                    created_at: to_micros(Utc::now()),
                },
            )
            .await?;
        Ok(PageOut {
            docs: rows.into_iter().map(|r| r.doc).collect(),
            next_page_link,
            message,
            can_retrieve_data,
        })
    }

    pub async fn signin_logs(&self, ctx: &WorkspaceCtx, q: &Params) -> Result<SignInLogPage> {
        let page = self.page(ctx, LogKind::SignIn, q).await?;
        Ok(SignInLogPage {
            items: page.items()?,
            next_page_link: page.next_page_link,
            message: page.message,
            can_retrieve_data: page.can_retrieve_data,
        })
    }

    pub async fn directory_logs(&self, ctx: &WorkspaceCtx, q: &Params) -> Result<DirectoryLogPage> {
        let page = self.page(ctx, LogKind::Directory, q).await?;
        Ok(DirectoryLogPage {
            items: page.items()?,
            next_page_link: page.next_page_link,
            message: page.message,
            can_retrieve_data: page.can_retrieve_data,
        })
    }

    /// The workspace's investigation audit trail, newest first.
    pub async fn audit(&self, ctx: &WorkspaceCtx, q: &Params) -> Result<InvestigationAuditPage> {
        let mut v = Validator::new();
        let page_size =
            page_size(&mut v, param(q, "pageSize"), Some(50), MAX_AUDIT_PAGE).unwrap_or(0);
        v.finish()?;
        let mut aad = b"palisade-investigation-audit-v1".to_vec();
        aad.extend_from_slice(ctx.org.uuid().as_bytes());
        aad.extend_from_slice(ctx.workspace.uuid().as_bytes());
        let after = match param(q, "continuationToken").filter(|t| !t.is_empty()) {
            None => None,
            Some(t) => Some(open_after(&self.sealer, &aad, t).ok_or_else(|| {
                Error::field(
                    "continuationToken",
                    "The continuationToken is invalid. Use the token of the previous response unmodified.",
                )
            })?),
        };
        let mut rows = self
            .store
            .tenant(&ctx.org)
            .list_investigation_audit(&ctx.workspace, after, page_size + 1)
            .await?;
        let (has_more, continuation_token) = finish_page(&mut rows, page_size, |last| {
            seal_after(&self.sealer, &aad, last.created_at, last.id)
        });
        Ok(InvestigationAuditPage {
            items: rows
                .into_iter()
                .map(|a| InvestigationAuditEntry {
                    id: a.id,
                    workspace_id: a.workspace_id,
                    service_account_id: a.service_account_id,
                    credential_id: a.credential_id,
                    log_type: a.log_kind,
                    user_id: Some(a.user_id).filter(|u| !u.is_empty()),
                    time_filtering_type: a.time_filtering_type,
                    start_date: from_micros(a.start_at),
                    end_date: from_micros(a.end_at),
                    continuation: a.continuation,
                    entity_name: a.entity_name,
                    resource_id: a.resource_id,
                    resource_name: a.resource_name,
                    result_count: a.result_count,
                    created_at: from_micros(a.created_at),
                })
                .collect(),
            continuation_token,
            has_more,
        })
    }
}
