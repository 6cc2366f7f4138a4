//! The audit log: every change made through the API (recorded by the route layer after a
//! successful non-reading call) or the console (recorded by its actions), and its reading.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::DateTime;
use palisade_domain::time::{from_micros, to_micros};
use palisade_domain::{Error, Result, Validator};
use palisade_store::{AuditEntryRow, AuditFilter, NewAuditEntry, OrgId, Store};
use palisade_types::audit::{AuditEntry, AuditLogPage};
use uuid::Uuid;

use crate::access::OrgCtx;
use crate::auth::Principal;
use crate::crypto::SealingKey;
use crate::paging::{finish_page, open_after, page_size, seal_after};

/// Largest page of `GET /audit-log`.
pub const MAX_AUDIT_PAGE: i64 = 200;

/// Where a change was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Api,
    Console,
}

/// What `GET /audit-log` filters on.
#[derive(Debug, Default)]
pub struct AuditQuery {
    pub page_size: Option<String>,
    pub continuation_token: Option<String>,
    pub actor_id: Option<String>,
    pub since: Option<String>,
}

/// One change to record.
pub struct Change<'a> {
    pub principal: &'a Principal,
    pub channel: Channel,
    pub action: String,
    pub target: String,
    pub status: u16,
    pub address: Option<IpAddr>,
}

#[derive(Clone)]
pub struct AuditService {
    store: Store,
    sealer: Arc<SealingKey>,
}

pub fn entry_to_wire(r: AuditEntryRow) -> AuditEntry {
    AuditEntry {
        id: r.id,
        at: r.at,
        actor_kind: match r.actor_kind.as_str() {
            "user" => "User".into(),
            _ => "ServiceAccount".into(),
        },
        actor_id: r.actor_id,
        actor_name: r.actor_name,
        channel: match r.channel.as_str() {
            "console" => "Console".into(),
            _ => "Api".into(),
        },
        action: r.action,
        target: r.target,
        status: u16::try_from(r.status).unwrap_or(0),
        address: r.address,
        request_id: r.request_id,
    }
}

impl AuditService {
    pub fn new(store: Store, server_secret: &str) -> Self {
        AuditService {
            store,
            sealer: Arc::new(SealingKey::derive(
                server_secret,
                "palisade audit-log token v1",
            )),
        }
    }

    /// Records a change. A failure is logged, not returned: the change itself has been made.
    pub async fn record(&self, org: &OrgId, c: Change<'_>) {
        let p = c.principal;
        let entry = NewAuditEntry {
            actor_kind: if p.is_user() { "user" } else { "sa" },
            actor_id: p.service_account_id,
            actor_name: p.name.clone(),
            channel: match c.channel {
                Channel::Api => "api",
                Channel::Console => "console",
            },
            action: c.action,
            target: c.target,
            status: c.status,
            address: c.address.map(|a| a.to_string()),
            request_id: Some(crate::http::context::request_id()).filter(|r| !r.is_empty()),
        };
        if let Err(e) = self.store.tenant(org).record_audit(&entry).await {
            tracing::error!(error = %e, action = %entry.action, "could not write the audit log");
        }
    }

    /// `GET /audit-log`: newest first.
    pub async fn list(&self, ctx: &OrgCtx, q: AuditQuery) -> Result<AuditLogPage> {
        let mut v = Validator::new();
        let page_size =
            page_size(&mut v, q.page_size.as_deref(), Some(50), MAX_AUDIT_PAGE).unwrap_or(0);
        let actor_id = match q.actor_id.as_deref() {
            None => None,
            Some(s) => match Uuid::parse_str(s.trim()) {
                Ok(id) => Some(id),
                Err(_) => {
                    v.add("actorId", "actorId must be a GUID.");
                    None
                }
            },
        };
        let since = match q.since.as_deref() {
            None => None,
            Some(s) => match DateTime::parse_from_rfc3339(s.trim()) {
                Ok(t) => Some(t.with_timezone(&chrono::Utc)),
                Err(_) => {
                    v.add("since", "since must be an RFC 3339 date-time.");
                    None
                }
            },
        };
        v.finish()?;
        let mut aad = ctx.org.uuid().as_bytes().to_vec();
        aad.extend_from_slice(actor_id.unwrap_or_default().as_bytes());
        aad.extend_from_slice(&since.map(to_micros).unwrap_or(i64::MIN).to_be_bytes());
        let before = match q.continuation_token.as_deref().filter(|t| !t.is_empty()) {
            None => None,
            Some(token) => {
                let (at, id) = open_after(&self.sealer, &aad, token).ok_or_else(|| {
                    Error::field(
                        "continuationToken",
                        "The continuationToken is invalid. Use the token of the previous response unmodified, with the same filters.",
                    )
                })?;
                Some((from_micros(at), id))
            }
        };
        let filter = AuditFilter {
            before,
            actor_id,
            since,
        };
        let mut rows = self
            .store
            .tenant(&ctx.org)
            .audit_log(&filter, page_size as usize + 1)
            .await?;
        let (has_more, continuation_token) = finish_page(&mut rows, page_size, |last| {
            seal_after(&self.sealer, &aad, to_micros(last.at), last.id)
        });
        Ok(AuditLogPage {
            items: rows.into_iter().map(entry_to_wire).collect(),
            continuation_token,
            has_more,
        })
    }
}
