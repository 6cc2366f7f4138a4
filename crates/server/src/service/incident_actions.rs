//! Incident actions restored with an explicit source (DESIGN §1): summary, entities,
//! alert-rules, high, status, assign, bulk, comment create and update. Status changes and
//! assignments add activity comments and emit `incident.updated`.

use std::collections::BTreeMap;

use palisade_domain::incident::actions::{
    assign, parse_owner, parse_status_change, StatusChange, MAX_COMMENT,
};
use palisade_domain::incident::IncidentDoc;
use palisade_domain::{Error, Result, Validator};
use palisade_store::{AcrossFilter, IncidentRow, NewComment};
use palisade_types::incidents::{
    AlertRule, AssignRequest, BulkItemResult, BulkUpdateRequest, BulkUpdateResult, CommentRequest,
    Entity, Incident, IncidentComment, IncidentListItem, IncidentSource, IncidentStatus,
    IncidentSummary, ItemError, Owner, Severity, StatusUpdateRequest,
};

use super::incident_wire as wire;
use super::incidents::IncidentService;
use crate::access::WorkspaceCtx;
use crate::auth::Principal;

const MAX_BULK: usize = 100;

/// A status change applied to an incident row: the new document and its comments (the
/// activity recording the change, and the caller's comment).
fn apply_status(
    p: &Principal,
    row: &IncidentRow,
    c: &StatusChange,
) -> (IncidentDoc, Vec<NewComment>) {
    let (doc, activity_message) = c.apply(&row.doc);
    let mut comments: Vec<NewComment> = activity_message
        .map(|m| activity(p, m, c.closes()))
        .into_iter()
        .collect();
    if let Some(text) = &c.comment {
        comments.push(NewComment {
            is_activity: false,
            ..activity(p, text.clone(), c.closes())
        });
    }
    (doc, comments)
}

fn activity(p: &Principal, message: String, closing: bool) -> NewComment {
    NewComment {
        message,
        author_name: Some(p.name.clone()),
        author_email: None,
        is_activity: true,
        is_closing: closing,
        ticket_id: None,
    }
}

/// An assignment applied to an incident row: the new document and the activity comment.
fn apply_owner(
    p: &Principal,
    row: &IncidentRow,
    owner: &Option<Owner>,
) -> (IncidentDoc, Vec<NewComment>) {
    let (doc, activity_message) = assign(&row.doc, owner);
    let comments = activity_message
        .map(|m| activity(p, m, false))
        .into_iter()
        .collect();
    (doc, comments)
}

fn item_error(e: Error) -> ItemError {
    let (code, errors) = match &e {
        Error::Validation(m) => ("VALIDATION_ERROR", Some(m.clone())),
        Error::NotFound { .. } => ("NOT_FOUND", None),
        Error::Conflict(_) => ("CONFLICT", None),
        _ => ("INTERNAL_ERROR", None),
    };
    let detail = if code == "INTERNAL_ERROR" {
        tracing::error!(error = %e, "bulk item failed");
        "An unexpected error occurred.".to_string()
    } else {
        e.to_string()
    };
    ItemError {
        code: code.into(),
        detail,
        errors,
    }
}

pub use palisade_domain::incident::body_source;

impl IncidentService {
    fn not_found(id: &str) -> Error {
        Error::not_found_target("Incident", id, "incidentId")
    }

    pub async fn summary(
        &self,
        ctx: &WorkspaceCtx,
        source: IncidentSource,
        id: &str,
    ) -> Result<IncidentSummary> {
        let entry = self.entry(&ctx.incident(source, id)).await?;
        let row = &entry.row;
        let d = &row.doc;
        let mut entity_counts: BTreeMap<String, usize> = BTreeMap::new();
        for e in &d.entities {
            *entity_counts
                .entry(e.kind.as_str().to_string())
                .or_default() += 1;
        }
        let mut text = format!(
            "{} severity {} incident #{} \"{}\" from {}, {}.",
            d.severity.as_str(),
            d.status.as_str().to_lowercase(),
            row.number,
            d.title,
            source.display_name(),
            match &d.owner {
                Some(o) => format!(
                    "assigned to {}",
                    o.display_name
                        .as_deref()
                        .or(o.email.as_deref())
                        .unwrap_or("someone")
                ),
                None => "unassigned".into(),
            }
        );
        if !d.alerts.is_empty() {
            text.push_str(&format!(
                " {} alert(s) from {}.",
                d.alerts.len(),
                if d.alert_product_names.is_empty() {
                    "unnamed products".to_string()
                } else {
                    d.alert_product_names.join(", ")
                }
            ));
        }
        if !d.entities.is_empty() {
            let parts: Vec<String> = d
                .entities
                .iter()
                .take(5)
                .map(|e| format!("{} {}", e.kind.as_str(), e.display_name))
                .collect();
            text.push_str(&format!(
                " Entities: {}{}.",
                parts.join(", "),
                if d.entities.len() > 5 { ", …" } else { "" }
            ));
        }
        if !d.tactics.is_empty() {
            text.push_str(&format!(" Tactics: {}.", d.tactics.join(", ")));
        }
        if let (Some(c), Some(r)) = (d.classification, d.classification_reason) {
            text.push_str(&format!(" Classified {} ({}).", c.as_str(), r.as_str()));
        }
        Ok(IncidentSummary {
            incident_id: row.id.clone(),
            number: row.number,
            source,
            workspace_id: ctx.workspace.uuid(),
            title: d.title.clone(),
            severity: d.severity,
            status: d.status,
            summary: text,
            owner: d.owner.clone(),
            created_at: row.created_at,
            last_activity_at: d.last_activity_at,
            alerts_count: d.alerts.len(),
            entity_counts,
            alert_product_names: d.alert_product_names.clone(),
            tactics: d.tactics.clone(),
        })
    }

    pub async fn entities(
        &self,
        ctx: &WorkspaceCtx,
        source: IncidentSource,
        id: &str,
    ) -> Result<Vec<Entity>> {
        Ok(self
            .entry(&ctx.incident(source, id))
            .await?
            .row
            .doc
            .entities
            .clone())
    }

    pub async fn alert_rules(
        &self,
        ctx: &WorkspaceCtx,
        source: IncidentSource,
        id: &str,
    ) -> Result<Vec<AlertRule>> {
        let entry = self.entry(&ctx.incident(source, id)).await?;
        let row = &entry.row;
        let mut rules: Vec<AlertRule> = Vec::new();
        for a in &row.doc.alerts {
            match rules
                .iter_mut()
                .find(|r| r.rule_name == a.title && r.product_name == a.product_name)
            {
                Some(r) => {
                    r.alert_count += 1;
                    r.alert_ids.push(a.id.clone());
                    r.severity = r.severity.max(a.severity);
                }
                None => rules.push(AlertRule {
                    rule_name: a.title.clone(),
                    product_name: a.product_name.clone(),
                    vendor_name: a.vendor_name.clone(),
                    severity: a.severity,
                    alert_count: 1,
                    alert_ids: vec![a.id.clone()],
                }),
            }
        }
        Ok(rules)
    }

    /// Active (not closed) High-severity incidents of a workspace and source, newest first.
    pub async fn high(
        &self,
        ctx: &WorkspaceCtx,
        source: IncidentSource,
    ) -> Result<Vec<IncidentListItem>> {
        let tenant = self.store().tenant(&ctx.org);
        let ws = ctx.workspace;
        let name = tenant
            .workspace(ws.uuid())
            .await?
            .map(|w| w.name)
            .ok_or_else(|| Error::not_found_target("Workspace", ws, "workspaceId"))?;
        let filter = AcrossFilter {
            workspaces: Some(vec![ws]),
            sources: vec![source],
            severities: vec![Severity::High],
            statuses: vec![IncidentStatus::New, IncidentStatus::Active],
            ..Default::default()
        };
        let rows = tenant.list_across(&filter, None, 500).await?;
        Ok(rows
            .into_iter()
            .map(|r| wire::list_item(r, name.clone()))
            .collect())
    }

    pub async fn set_status(
        &self,
        ctx: &WorkspaceCtx,
        source: IncidentSource,
        id: &str,
        req: &StatusUpdateRequest,
    ) -> Result<Incident> {
        let mut v = Validator::new();
        let change = parse_status_change(
            &mut v,
            req.status.as_deref(),
            req.classification.as_deref(),
            req.classification_reason.as_deref(),
            req.classification_comment.as_deref(),
            req.comment.as_deref(),
        );
        v.finish()?;
        let change = change.expect("validated");
        let key = ctx.incident(source, id);
        let (row, _, _) = self
            .store()
            .tenant(&ctx.org)
            .modify_incident(&key, |row| Ok(apply_status(&ctx.principal, row, &change)))
            .await?
            .ok_or_else(|| Self::not_found(id))?;
        self.forget(&key);
        Ok(wire::incident(&row))
    }

    pub async fn assign(
        &self,
        ctx: &WorkspaceCtx,
        source: IncidentSource,
        id: &str,
        req: &AssignRequest,
    ) -> Result<Incident> {
        let mut v = Validator::new();
        let owner = parse_owner(&mut v, req);
        v.finish()?;
        let owner = owner.expect("validated");
        let key = ctx.incident(source, id);
        let (row, _, _) = self
            .store()
            .tenant(&ctx.org)
            .modify_incident(&key, |row| Ok(apply_owner(&ctx.principal, row, &owner)))
            .await?
            .ok_or_else(|| Self::not_found(id))?;
        self.forget(&key);
        Ok(wire::incident(&row))
    }

    pub async fn bulk(
        &self,
        ctx: &WorkspaceCtx,
        source: IncidentSource,
        req: BulkUpdateRequest,
    ) -> Result<BulkUpdateResult> {
        let mut v = Validator::new();
        let mut ids: Vec<String> = Vec::new();
        for (i, id) in req.incident_ids.iter().flatten().enumerate() {
            if let Some(id) = v.required_str(&format!("incidentIds[{i}]"), Some(id), 200) {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        if ids.is_empty()
            || req
                .incident_ids
                .as_ref()
                .is_some_and(|l| l.len() > MAX_BULK)
        {
            v.add(
                "incidentIds",
                format!("Give between 1 and {MAX_BULK} incident ids."),
            );
        }
        let status = match req.status.as_deref() {
            None => {
                if req.classification.is_some() || req.classification_reason.is_some() {
                    v.add(
                        "classification",
                        "A classification is given only when closing an incident.",
                    );
                }
                None
            }
            s => parse_status_change(
                &mut v,
                s,
                req.classification.as_deref(),
                req.classification_reason.as_deref(),
                req.classification_comment.as_deref(),
                None,
            ),
        };
        let owner = req.assignee.as_ref().and_then(|a| parse_owner(&mut v, a));
        let comment = v.optional_text("comment", req.comment.as_deref(), MAX_COMMENT);
        if status.is_none() && owner.is_none() && comment.is_none() {
            v.add("", "Give a status, an assignee or a comment to apply.");
        }
        v.finish()?;
        let p = &ctx.principal;
        let tenant = self.store().tenant(&ctx.org);
        let mut items = Vec::with_capacity(ids.len());
        for id in ids {
            let key = ctx.incident(source, &id);
            let result = tenant
                .modify_incident(&key, |row| {
                    let mut comments = Vec::new();
                    let mut current = row.clone();
                    if let Some(s) = &status {
                        let (doc, c) = apply_status(p, &current, s);
                        current.doc = doc;
                        comments.extend(c);
                    }
                    if let Some(o) = &owner {
                        let (doc, c) = apply_owner(p, &current, o);
                        current.doc = doc;
                        comments.extend(c);
                    }
                    if let Some(text) = &comment {
                        comments.push(NewComment {
                            message: text.clone(),
                            author_name: Some(p.name.clone()),
                            author_email: None,
                            is_activity: false,
                            is_closing: status
                                .as_ref()
                                .is_some_and(|s| s.status == IncidentStatus::Closed),
                            ticket_id: None,
                        });
                    }
                    Ok((current.doc, comments))
                })
                .await;
            self.forget(&key);
            items.push(match result {
                Ok(Some((_, changes, _))) => BulkItemResult {
                    incident_id: id,
                    success: true,
                    changes,
                    error: None,
                },
                Ok(None) => BulkItemResult {
                    error: Some(item_error(Self::not_found(&id))),
                    incident_id: id,
                    success: false,
                    changes: Vec::new(),
                },
                Err(e @ Error::Unavailable(_)) => return Err(e),
                Err(e) => BulkItemResult {
                    incident_id: id,
                    success: false,
                    changes: Vec::new(),
                    error: Some(item_error(e)),
                },
            });
        }
        let succeeded = items.iter().filter(|i| i.success).count();
        Ok(BulkUpdateResult {
            succeeded,
            failed: items.len() - succeeded,
            items,
        })
    }

    pub async fn add_comment(
        &self,
        ctx: &WorkspaceCtx,
        source: IncidentSource,
        id: &str,
        req: &CommentRequest,
    ) -> Result<IncidentComment> {
        let mut v = Validator::new();
        let content = v.required_text("content", req.content.as_deref(), MAX_COMMENT);
        v.optional_str("extensionId", req.extension_id.as_deref(), 200);
        v.finish()?;
        let comment = NewComment {
            message: content.expect("validated"),
            author_name: Some(ctx.principal.name.clone()),
            author_email: None,
            is_activity: false,
            is_closing: false,
            ticket_id: None,
        };
        self.store()
            .tenant(&ctx.org)
            .add_comment(&ctx.incident(source, id), &comment)
            .await?
            .map(wire::comment)
            .ok_or_else(|| Self::not_found(id))
    }

    pub async fn update_comment(
        &self,
        ctx: &WorkspaceCtx,
        source: IncidentSource,
        id: &str,
        comment_id: &str,
        req: &CommentRequest,
    ) -> Result<IncidentComment> {
        let mut v = Validator::new();
        let content = v.required_text("content", req.content.as_deref(), MAX_COMMENT);
        v.finish()?;
        let key = ctx.incident(source, id);
        self.entry(&key).await?;
        self.store()
            .tenant(&ctx.org)
            .update_comment(&key, comment_id, &content.expect("validated"))
            .await?
            .map(wire::comment)
            .ok_or_else(|| Error::not_found_target("Comment", comment_id, "commentId"))
    }
}
