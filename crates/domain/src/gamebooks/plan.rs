//! Run planning: a playbook runs once per affected entity of its `entityType` (once for
//! `Incident`), and is one `Skipped` step when the incident has no such entity.

use palisade_types::incidents::EntityKind;

use crate::incident::IncidentDoc;

/// The entity kind a playbook's `entityType` selects: `None` for `Incident`.
pub fn entity_kind(entity_type: &str) -> Result<Option<EntityKind>, String> {
    if entity_type.eq_ignore_ascii_case("Incident") {
        return Ok(None);
    }
    if entity_type.eq_ignore_ascii_case("User") {
        return Ok(Some(EntityKind::Account));
    }
    EntityKind::parse(entity_type).map(Some).ok_or_else(|| {
        format!(
            "'{}' is not an entity type. Allowed: Incident, User, {}.",
            entity_type.chars().take(60).collect::<String>(),
            EntityKind::allowed()
        )
    })
}

/// The canonical spelling of an `entityType`.
pub fn canonical_entity_type(entity_type: &str) -> Result<String, String> {
    if entity_type.eq_ignore_ascii_case("User") {
        return Ok("User".into());
    }
    Ok(match entity_kind(entity_type)? {
        None => "Incident".into(),
        Some(k) => k.as_str().into(),
    })
}

/// One planned step of a playbook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepPlan {
    pub entity_id: Option<String>,
    /// What the step acts on, as shown: the entity's display name, or the incident's title.
    pub affected_entity: Option<String>,
    /// `Pending`, or `Skipped` with an `error_message`.
    pub status: &'static str,
    pub error_message: Option<String>,
}

impl StepPlan {
    fn pending(entity_id: Option<String>, affected_entity: String) -> Self {
        StepPlan {
            entity_id,
            affected_entity: Some(affected_entity),
            status: "Pending",
            error_message: None,
        }
    }

    fn skipped(reason: String) -> Self {
        StepPlan {
            entity_id: None,
            affected_entity: None,
            status: "Skipped",
            error_message: Some(reason),
        }
    }
}

/// The steps of one playbook of `entity_type` against an incident: one for `Incident`, one
/// per entity of the selected kind, or one `Skipped` step when there is none (or the type
/// is unknown).
pub fn plan_for_playbook(doc: &IncidentDoc, entity_type: &str) -> Vec<StepPlan> {
    match entity_kind(entity_type) {
        Ok(None) => vec![StepPlan::pending(None, doc.title.clone())],
        Ok(Some(kind)) => {
            let steps: Vec<StepPlan> = doc
                .entities
                .iter()
                .filter(|e| e.kind == kind)
                .map(|e| StepPlan::pending(Some(e.id.clone()), e.display_name.clone()))
                .collect();
            if steps.is_empty() {
                vec![StepPlan::skipped(format!(
                    "The incident has no {entity_type} entity."
                ))]
            } else {
                steps
            }
        }
        Err(e) => vec![StepPlan::skipped(e)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::testing::doc;

    #[test]
    fn entity_types_parse_in_any_case_and_user_means_account() {
        assert_eq!(entity_kind("incident"), Ok(None));
        assert_eq!(entity_kind("USER"), Ok(Some(EntityKind::Account)));
        assert_eq!(entity_kind("host"), Ok(Some(EntityKind::Host)));
        assert!(entity_kind("Planet")
            .unwrap_err()
            .starts_with("'Planet' is not an entity type"));
        assert_eq!(canonical_entity_type("user").as_deref(), Ok("User"));
        assert_eq!(canonical_entity_type("INCIDENT").as_deref(), Ok("Incident"));
        assert_eq!(canonical_entity_type("ip").as_deref(), Ok("Ip"));
    }

    #[test]
    fn a_playbook_runs_once_per_entity_of_its_type_or_is_skipped() {
        let d = doc(serde_json::json!({
            "title": "Brute force",
            "entities": [
                {"id": "a1", "kind": "Account", "displayName": "ada"},
                {"id": "h1", "kind": "Host", "displayName": "web-1"},
                {"id": "a2", "kind": "Account", "displayName": "bob"},
            ],
        }));
        assert_eq!(
            plan_for_playbook(&d, "Incident"),
            [StepPlan::pending(None, "Brute force".into())]
        );
        let users = plan_for_playbook(&d, "User");
        assert_eq!(
            users
                .iter()
                .map(|s| (
                    s.entity_id.as_deref(),
                    s.affected_entity.as_deref(),
                    s.status
                ))
                .collect::<Vec<_>>(),
            [
                (Some("a1"), Some("ada"), "Pending"),
                (Some("a2"), Some("bob"), "Pending")
            ]
        );
        assert_eq!(
            plan_for_playbook(&d, "Ip"),
            [StepPlan::skipped("The incident has no Ip entity.".into())]
        );
        let unknown = plan_for_playbook(&d, "Planet");
        assert_eq!((unknown.len(), unknown[0].status), (1, "Skipped"));
    }
}
