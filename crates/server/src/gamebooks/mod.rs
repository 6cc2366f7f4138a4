//! Gamebooks: the background work ([`runner`]) that starts auto-run gamebooks from the outbox
//! and works runs as jobs of the job runtime, over the pure rules in
//! [`palisade_domain::gamebooks`] (rule matching, run planning, action templates and
//! validation). See `docs/gamebooks.md`.

pub mod runner;

use std::collections::HashMap;

use palisade_domain::gamebooks::{plan_for_playbook, RuleFilter};
use palisade_domain::incident::IncidentDoc;
use palisade_store::{NewStep, PlaybookRow, RuleRow};
use palisade_types::incidents::{IncidentSource, Severity};
use uuid::Uuid;

pub use palisade_domain::gamebooks::{
    canonical_entity_type, validate_action, validate_pattern, Escape, TemplateContext,
};

/// The steps of a run: each playbook in order, once per affected entity of its type (once
/// for `Incident`); a playbook without such an entity is one `Skipped` step. Playbooks no
/// longer in the catalogue are left out.
pub fn plan_steps(
    doc: &IncidentDoc,
    playbook_ids: &[Uuid],
    playbooks: &HashMap<Uuid, PlaybookRow>,
) -> Vec<NewStep> {
    playbook_ids
        .iter()
        .filter_map(|id| playbooks.get(id))
        .flat_map(|p| {
            plan_for_playbook(doc, &p.entity_type)
                .into_iter()
                .map(|s| NewStep {
                    playbook_id: p.id,
                    name: p.name.clone(),
                    description: p.description.clone(),
                    entity_type: p.entity_type.clone(),
                    entity_id: s.entity_id,
                    affected_entity: s.affected_entity,
                    is_admin_required: p.is_admin_required,
                    parameters: p.parameters.clone(),
                    action: p.action.clone(),
                    status: s.status,
                    error_message: s.error_message,
                })
        })
        .collect()
}

/// The rules among `rules` that apply, in rule order (see [`RuleFilter::applies`]).
pub fn applicable<'a>(
    rules: &'a [RuleRow],
    title: &str,
    severity: Option<Severity>,
    source: Option<IncidentSource>,
) -> Vec<&'a RuleRow> {
    rules
        .iter()
        .filter(|r| {
            RuleFilter {
                is_enabled: r.fields.is_enabled,
                match_type: &r.fields.match_type,
                pattern: &r.fields.pattern,
                severities: &r.fields.severities,
                sources: &r.fields.sources,
            }
            .applies(title, severity, source)
        })
        .collect()
}
