//! Incident rows as the API shows them.

use palisade_store::{CommentRow, IncidentListRow, IncidentRow};
use palisade_types::incidents::{
    Incident, IncidentComment, IncidentListItem, IncidentSync, SyncState,
};

/// The incident's own fields, as the detail response shows them.
pub fn incident(row: &IncidentRow) -> Incident {
    let d = &row.doc;
    Incident {
        id: row.id.clone(),
        number: row.number,
        title: d.title.clone(),
        description: d.description.clone(),
        severity: d.severity,
        status: d.status,
        classification: d.classification,
        classification_reason: d.classification_reason,
        classification_comment: d.classification_comment.clone(),
        owner: d.owner.clone(),
        labels: d.labels.clone(),
        tactics: d.tactics.clone(),
        alert_product_names: d.alert_product_names.clone(),
        workspace_id: row.workspace_id,
        source: row.source,
        created_at: row.created_at,
        updated_at: row.updated_at,
        first_activity_at: d.first_activity_at,
        last_activity_at: d.last_activity_at,
        provider_url: d.provider_url.clone(),
        alerts_count: d.alerts.len(),
        entities_count: d.entities.len(),
        properties: d.properties.clone(),
    }
}

/// A pulled incident's write-back state.
pub fn sync(row: &IncidentRow) -> Option<IncidentSync> {
    let s = row.sync.as_ref()?;
    Some(IncidentSync {
        state: SyncState::parse(&s.state)?,
        last_error: s.last_error.clone(),
        at: s.at,
    })
}

pub fn comment(c: CommentRow) -> IncidentComment {
    IncidentComment {
        id: c.id,
        message: c.message,
        created_time: c.created_at,
        author_email: c.author_email,
        author_name: c.author_name,
        is_activity_comment: c.is_activity,
        is_agent_comment: c.is_agent,
        agent_name: c.agent_name,
        is_closing_comment: c.is_closing,
        ticket_note_id: c.ticket_note_id,
        ticket_id: c.ticket_id,
    }
}

/// A listing row, in the workspace named `workspace_name`.
pub fn list_item(r: IncidentListRow, workspace_name: String) -> IncidentListItem {
    let s = r.summary;
    IncidentListItem {
        id: r.id,
        number: r.number,
        title: r.title,
        description: r.description,
        severity: r.severity,
        status: r.status,
        classification: s.classification,
        source: r.source,
        workspace_id: r.workspace_id,
        workspace_name,
        owner: s.owner,
        created_at: r.created_at,
        updated_at: r.updated_at,
        last_activity_at: s.last_activity_at,
        alerts_count: s.alerts_count,
        alert_product_names: s.alert_product_names,
        labels: s.labels,
    }
}
