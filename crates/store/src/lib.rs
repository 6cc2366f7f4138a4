//! Palisade's storage: one query layer over SQLite (embedded default, WAL) and PostgreSQL
//! (scale-out).
//!
//! The SQL here is written once and runs on both engines through sqlx's `Any` driver: ids are
//! TEXT, instants BIGINT microseconds, booleans BIGINT 0/1, placeholders `$n` (which SQLite
//! accepts too); rows map through `sqlx::FromRow` (`db/row.rs`), parameters bind through
//! `db/exec.rs`.
//!
//! An organization's data is reached only through [`Tenant`] (`store.tenant(&org)`), whose
//! every query filters on that organization; what belongs to no single organization (the
//! credential lookup, the delivery queue and run workers, retention, migrations) through
//! [`System`] (`store.system()`). [`OrgId`] and [`WorkspaceId`] are made only here, from rows
//! the store read. The store returns row and domain types, never wire types.

mod connectors;
mod console;
mod datasources;
mod db;
mod gamebooks;
mod handles;
mod ids;
mod incidents;
mod investigation;
mod jobs;
mod migrate;
mod org;
mod outbox;
#[cfg(feature = "testing")]
pub mod testing;
mod tickets;
mod webhooks;

pub use connectors::{
    ClaimedPoll, ClaimedWriteBack, ConnectorEngineRow, ConnectorSetup, PollEnd, PollResult,
    PulledPage, SyncRow, WriteBackChange, WriteBackEnd, POLL_KIND, WRITEBACK_KIND,
};
pub use console::{
    AuditEntryRow, AuditFilter, LoginCandidate, MilestoneRow, NewAuditEntry, NewSession,
    OpenCountRow, SessionRow,
};
pub use datasources::{ConnectorFields, ConnectorRow, IngestVolume, VolumeRow};
pub use db::{Backend, Store};
pub use gamebooks::{
    NewRun, NewStep, PlaybookFields, PlaybookRow, RuleFields, RuleRow, RunFilter, RunRow,
    StepAttempt, StepRecorded, StepResult, StepRow, TriggerEvent, WorkItem, RUN_KIND,
};
pub use handles::{System, Tenant};
pub use ids::{IncidentKey, OrgId, WorkspaceId};
pub use incidents::{
    AcrossFilter, Applied, CommentRow, Cursor, IncidentListRow, IncidentRow, IngestIncident,
    ListSummary, NewComment,
};
pub use investigation::{AuditRow, LogItemRow, LogKind, NewLogRow, UserMatch};
pub use jobs::{JobEnd, JobFinish, JobRow, JobSpec, KindStats};
pub use org::{
    AccountRow, AuthRecord, CredentialRow, NewCredential, NewServiceAccount, NewUser,
    OrganizationRow, PrincipalKind, RoleGrant, ServiceAccountChanges, ServiceAccountRow,
    UserChanges, UserRow, WorkspaceRow, WorkspaceUserRow,
};
pub use outbox::{Position, StoredEvent};
pub use tickets::{TicketFields, TicketLink, TicketRow};
pub use webhooks::{
    CompletionEffects, Delivery, DeliveryFate, DeliveryRecord, LogRow, PendingEvent, WebhookFields,
    WebhookRow, WebhookSecrets, DELIVERY_KIND,
};
