//! The workspace validation's access checks: ARM permissions against required actions.

use palisade_types::azure::{CheckStatus, WorkspaceCheck, WorkspaceCheckResult};
use serde_json::Value;

use super::arm::strings;
use crate::azure::AzureError;

// ---------------------------------------------------------------- permissions

/// `*` matches any run of characters; ARM actions compare without regard to case.
pub(super) fn glob(pattern: &str, action: &str) -> bool {
    let p: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let a: Vec<char> = action.to_ascii_lowercase().chars().collect();
    let (mut pi, mut ai) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ai < a.len() {
        if pi < p.len() && p[pi] != '*' && p[pi] == a[ai] {
            pi += 1;
            ai += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ai;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ai = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Whether the permissions (ARM `Microsoft.Authorization/permissions`: per role, `actions`
/// minus `notActions`) allow an action.
pub(super) fn allowed(permissions: &[Value], action: &str) -> bool {
    permissions.iter().any(|perm| {
        strings(&perm["actions"]).iter().any(|a| glob(a, action))
            && !strings(&perm["notActions"]).iter().any(|n| glob(n, action))
    })
}

pub(super) fn check(
    name: WorkspaceCheck,
    required: bool,
    status: CheckStatus,
    detail: impl Into<String>,
) -> WorkspaceCheckResult {
    WorkspaceCheckResult {
        name,
        required,
        status,
        detail: detail.into(),
        missing_actions: Vec::new(),
    }
}

pub(super) fn access_check(
    name: WorkspaceCheck,
    required: bool,
    permissions: &std::result::Result<Vec<Value>, AzureError>,
    actions: &[&str],
) -> WorkspaceCheckResult {
    match permissions {
        Ok(perms) => {
            let missing: Vec<String> = actions
                .iter()
                .filter(|a| !allowed(perms, a))
                .map(|a| a.to_string())
                .collect();
            let mut c = if missing.is_empty() {
                check(
                    name,
                    required,
                    CheckStatus::Passed,
                    format!("The Azure principal may perform {}.", actions.join(", ")),
                )
            } else {
                check(
                    name,
                    required,
                    CheckStatus::Failed,
                    format!(
                        "The Azure principal lacks {} on the workspace.",
                        missing.join(", ")
                    ),
                )
            };
            c.missing_actions = missing;
            c
        }
        Err(e) => {
            let mut c = check(
                name,
                required,
                CheckStatus::Failed,
                format!(
                    "The Azure principal's permissions could not be read ({}).",
                    e.summary()
                ),
            );
            c.missing_actions = actions.iter().map(|a| a.to_string()).collect();
            c
        }
    }
}
