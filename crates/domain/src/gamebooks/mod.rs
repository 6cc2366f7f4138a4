//! Gamebooks without I/O: which rules apply to an incident ([`rules`]), the steps a run plans
//! ([`plan`]), the `{{ name }}` templates of actions ([`template`]) and the validation of a
//! playbook's action ([`action`]). The server's engine and services call these; see
//! `docs/gamebooks.md`.

pub mod action;
pub mod plan;
pub mod rules;
pub mod template;

pub use action::validate_action;
pub use plan::{canonical_entity_type, entity_kind, plan_for_playbook, StepPlan};
pub use rules::{compile_regex, title_matches, validate_pattern, RuleFilter};
pub use template::{Escape, TemplateContext};
