//! Incident actions without I/O: validating a status change or an assignment, and applying
//! it to an incident's document with the activity message that records it.

use palisade_types::incidents::{
    AssignRequest, Classification, ClassificationReason, IncidentStatus, Owner,
};

use super::{mismatched_reason, reasons_for, valid_pair, IncidentDoc};
use crate::Validator;

/// The longest comment, in characters.
pub const MAX_COMMENT: usize = 10_000;

/// A validated status change.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusChange {
    pub status: IncidentStatus,
    pub classification: Option<Classification>,
    pub reason: Option<ClassificationReason>,
    pub classification_comment: Option<String>,
    /// A comment the caller adds with the change.
    pub comment: Option<String>,
}

/// Validates a status change: closing requires a classification and a reason that goes with
/// it; any other status takes neither.
pub fn parse_status_change(
    v: &mut Validator,
    status: Option<&str>,
    classification: Option<&str>,
    reason: Option<&str>,
    classification_comment: Option<&str>,
    comment: Option<&str>,
) -> Option<StatusChange> {
    let status = match status.map(IncidentStatus::parse) {
        None => {
            v.add(
                "status",
                format!(
                    "'status' is required. Allowed: {}.",
                    IncidentStatus::allowed()
                ),
            );
            None
        }
        Some(None) => {
            v.add("status", format!("Allowed: {}.", IncidentStatus::allowed()));
            None
        }
        Some(s) => s,
    };
    let classification = classification.map(|c| {
        let r = Classification::parse(c);
        if r.is_none() {
            v.add(
                "classification",
                format!("Allowed: {}.", Classification::allowed()),
            );
        }
        r
    });
    let reason = reason.map(|c| {
        let r = ClassificationReason::parse(c);
        if r.is_none() {
            v.add(
                "classificationReason",
                format!("Allowed: {}.", ClassificationReason::allowed()),
            );
        }
        r
    });
    let classification_comment =
        v.optional_text("classificationComment", classification_comment, MAX_COMMENT);
    let comment = v.optional_text("comment", comment, MAX_COMMENT);
    let status = status?;
    let (classification, reason) = (classification.flatten(), reason.flatten());
    if status == IncidentStatus::Closed {
        if classification.is_none() {
            v.add(
                "classification",
                format!(
                    "Closing an incident requires a classification. Allowed: {}.",
                    Classification::allowed()
                ),
            );
        }
        match (classification, reason) {
            (Some(c), None) => v.add(
                "classificationReason",
                format!(
                    "Closing an incident requires a classification reason. Reasons for '{}': {}.",
                    c.as_str(),
                    reasons_for(c)
                ),
            ),
            (None, None) => v.add(
                "classificationReason",
                "Closing an incident requires a classification reason (which reasons apply depends on the classification).",
            ),
            (Some(c), Some(r)) if !valid_pair(c, r) => v.add(
                "classificationReason",
                mismatched_reason(c, r),
            ),
            _ => {}
        }
    } else if classification.is_some() || reason.is_some() {
        v.add(
            "classification",
            "A classification is given only when closing an incident.",
        );
    }
    Some(StatusChange {
        status,
        classification,
        reason,
        classification_comment,
        comment,
    })
}

impl StatusChange {
    /// Does this change close the incident?
    pub fn closes(&self) -> bool {
        self.status == IncidentStatus::Closed
    }

    /// The document after the change, and the activity message recording it (`None` when
    /// nothing changed). Closing sets the verdict; reopening a closed incident clears it.
    pub fn apply(&self, current: &IncidentDoc) -> (IncidentDoc, Option<String>) {
        let mut doc = current.clone();
        let old = doc.status;
        doc.status = self.status;
        if self.closes() {
            doc.classification = self.classification;
            doc.classification_reason = self.reason;
            if self.classification_comment.is_some() {
                doc.classification_comment = self.classification_comment.clone();
            }
        } else if old == IncidentStatus::Closed {
            doc.classification = None;
            doc.classification_reason = None;
            doc.classification_comment = None;
        }
        if doc == *current {
            return (doc, None);
        }
        let mut msg = format!(
            "Status changed from {} to {}.",
            old.as_str(),
            self.status.as_str()
        );
        if let (true, Some(cl), Some(r)) = (self.closes(), self.classification, self.reason) {
            msg.push_str(&format!(
                " Classification: {} ({}).",
                cl.as_str(),
                r.as_str()
            ));
        }
        (doc, Some(msg))
    }
}

/// Validates an assignment: `Some(None)` unassigns (neither `userId` nor `email` given).
pub fn parse_owner(v: &mut Validator, a: &AssignRequest) -> Option<Option<Owner>> {
    let user_id = v.optional_str("userId", a.user_id.as_deref(), 200);
    let email = v.optional_str("email", a.email.as_deref(), 320);
    if let Some(e) = &email {
        if !e.contains('@') {
            v.add("email", "'email' must be an email address.");
        }
    }
    let display_name = v.optional_str("displayName", a.display_name.as_deref(), 200);
    if user_id.is_none() && email.is_none() {
        return Some(None);
    }
    Some(Some(Owner {
        user_id,
        email,
        display_name,
    }))
}

/// The document assigned to `owner`, and the activity message recording it (`None` when the
/// owner is unchanged).
pub fn assign(current: &IncidentDoc, owner: &Option<Owner>) -> (IncidentDoc, Option<String>) {
    let mut doc = current.clone();
    doc.owner = owner.clone();
    if doc == *current {
        return (doc, None);
    }
    let msg = match owner {
        None => "Unassigned.".to_string(),
        Some(o) => format!(
            "Assigned to {}.",
            o.display_name
                .as_deref()
                .or(o.email.as_deref())
                .or(o.user_id.as_deref())
                .unwrap_or("unknown")
        ),
    };
    (doc, Some(msg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::testing::doc;

    fn change(
        status: &str,
        classification: Option<&str>,
        reason: Option<&str>,
    ) -> Result<StatusChange, Vec<String>> {
        let mut v = Validator::new();
        let c = parse_status_change(&mut v, Some(status), classification, reason, None, None);
        v.outcome(c)
    }

    #[test]
    fn closing_needs_a_matching_verdict_and_other_statuses_take_none() {
        assert!(change("closed", Some("TruePositive"), Some("Malware")).is_ok());
        assert_eq!(
            change("Closed", None, None).unwrap_err(),
            ["classification", "classificationReason"]
        );
        assert_eq!(
            change("Closed", Some("FalsePositive"), Some("Malware")).unwrap_err(),
            ["classificationReason"]
        );
        assert_eq!(
            change("Active", Some("FalsePositive"), None).unwrap_err(),
            ["classification"]
        );
        assert_eq!(change("Paused", None, None).unwrap_err(), ["status"]);
        let mut v = Validator::new();
        assert!(parse_status_change(&mut v, None, None, None, None, None).is_none());
        assert_eq!(v.failed_paths(), ["status"]);
    }

    #[test]
    fn closing_records_the_verdict_and_reopening_clears_it() {
        let new = doc(serde_json::json!({}));
        let close = change("Closed", Some("TruePositive"), Some("Malware")).unwrap();
        let (closed, msg) = close.apply(&new);
        assert_eq!(closed.classification, Some(Classification::TruePositive));
        assert_eq!(
            msg.as_deref(),
            Some("Status changed from New to Closed. Classification: TruePositive (Malware).")
        );
        assert_eq!(
            close.apply(&closed),
            (closed.clone(), None),
            "no change, no activity"
        );
        let (reopened, msg) = change("Active", None, None).unwrap().apply(&closed);
        assert_eq!(
            (reopened.classification, reopened.classification_reason),
            (None, None)
        );
        assert_eq!(
            msg.as_deref(),
            Some("Status changed from Closed to Active.")
        );
    }

    #[test]
    fn assignments_name_the_owner_and_an_empty_one_unassigns() {
        let mut v = Validator::new();
        let req: AssignRequest =
            serde_json::from_value(serde_json::json!({"email": "ada@contoso.com"})).unwrap();
        let owner = parse_owner(&mut v, &req).unwrap();
        let (assigned, msg) = assign(&doc(serde_json::json!({})), &owner);
        assert_eq!(msg.as_deref(), Some("Assigned to ada@contoso.com."));
        assert_eq!(assign(&assigned, &owner).1, None);
        let none = parse_owner(&mut v, &AssignRequest::default()).unwrap();
        assert_eq!(assign(&assigned, &none).1.as_deref(), Some("Unassigned."));
        let bad: AssignRequest =
            serde_json::from_value(serde_json::json!({"email": "ada"})).unwrap();
        parse_owner(&mut v, &bad);
        assert_eq!(v.failed_paths(), ["email"]);
    }
}
