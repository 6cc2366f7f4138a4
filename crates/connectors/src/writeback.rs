//! What Palisade sends back to a source: the incident's new status and verdict, its owner, or
//! a comment, each made through Palisade on an incident a connector pulled.

use chrono::{DateTime, Utc};
use palisade_types::incidents::{Classification, ClassificationReason, IncidentStatus, Owner};

/// One change to write back.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteBack {
    /// The incident's id at the source.
    pub external_id: String,
    pub change: Change,
    /// 1 for the first attempt; later attempts check whether a lost answer hid a success.
    pub attempt: u32,
    /// When the change was made in Palisade.
    pub made_at: DateTime<Utc>,
}

/// The change, as the incident's values *after* it (not a delta): replaying it is harmless.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Status and verdict. Closing carries the classification and reason; a reopened incident
    /// carries none (Palisade clears them).
    Status {
        status: IncidentStatus,
        classification: Option<Classification>,
        reason: Option<ClassificationReason>,
        classification_comment: Option<String>,
    },
    /// The new owner (`None` unassigns).
    Assign { owner: Option<Owner> },
    /// A comment: `id` is Palisade's comment id (Sentinel's comment resource is named after
    /// it, so a retried write cannot add it twice).
    Comment { id: String, text: String },
}

impl Change {
    /// `status`, `assign` or `comment` (for logs and metrics).
    pub fn name(&self) -> &'static str {
        match self {
            Change::Status { .. } => "status",
            Change::Assign { .. } => "assign",
            Change::Comment { .. } => "comment",
        }
    }

    /// The verdict of a status change that closes the incident; `None` for any other change
    /// (what a reopening carries is not a verdict).
    pub fn verdict(&self) -> Option<Verdict<'_>> {
        match self {
            Change::Status {
                status: IncidentStatus::Closed,
                classification,
                reason,
                classification_comment,
            } => Some(Verdict {
                classification: *classification,
                reason: *reason,
                comment: classification_comment.as_deref(),
            }),
            _ => None,
        }
    }
}

/// What closing an incident says about it: [`Change::verdict`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict<'a> {
    pub classification: Option<Classification>,
    pub reason: Option<ClassificationReason>,
    pub comment: Option<&'a str>,
}

/// What a write-back did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteBackOutcome {
    /// The source took the change; `version` is its new version stamp when it said so (the
    /// next pull sees that version and, after [`crate::reconcile`], finds nothing new).
    Applied { version: Option<DateTime<Utc>> },
    /// The source already had it (nothing was sent, or a retried comment was found there).
    AlreadyApplied,
}
