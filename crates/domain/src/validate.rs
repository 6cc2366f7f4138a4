//! A collector of per-field validation failures, keyed by JSON path.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{Error, OrgRole, Scope, WorkspaceRole};

#[derive(Debug, Default)]
pub struct Validator {
    errors: BTreeMap<String, Vec<String>>,
}

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors
            .entry(path.into())
            .or_default()
            .push(message.into());
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// `Ok(())` when nothing failed, else a `VALIDATION_ERROR` with every failure.
    pub fn finish(self) -> Result<(), Error> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self.errors))
        }
    }

    /// A required, trimmed, non-empty string of at most `max` characters.
    pub fn required_str(&mut self, path: &str, v: Option<&str>, max: usize) -> Option<String> {
        match v.map(str::trim) {
            None | Some("") => {
                self.add(path, format!("'{path}' is required."));
                None
            }
            Some(s) => self.check_len(path, s, max),
        }
    }

    /// An optional string of at most `max` characters; empty means absent.
    pub fn optional_str(&mut self, path: &str, v: Option<&str>, max: usize) -> Option<String> {
        match v.map(str::trim) {
            None | Some("") => None,
            Some(s) => self.check_len(path, s, max),
        }
    }

    fn check_len(&mut self, path: &str, s: &str, max: usize) -> Option<String> {
        let n = s.chars().count();
        if n > max {
            self.add(
                path,
                format!("'{path}' must be at most {max} characters (got {n})."),
            );
            None
        } else if s.chars().any(|c| c.is_control()) {
            self.add(
                path,
                format!("'{path}' must not contain control characters."),
            );
            None
        } else {
            Some(s.to_string())
        }
    }

    pub fn uuid(&mut self, path: &str, v: Option<&str>) -> Option<Uuid> {
        match v {
            None => {
                self.add(path, format!("'{path}' is required."));
                None
            }
            Some(s) => match Uuid::parse_str(s.trim()) {
                Ok(u) => Some(u),
                Err(_) => {
                    self.add(path, format!("'{path}' must be a GUID."));
                    None
                }
            },
        }
    }

    pub fn workspace_role(&mut self, path: &str, v: Option<&str>) -> Option<WorkspaceRole> {
        let Some(s) = v else {
            self.add(path, format!("'{path}' is required."));
            return None;
        };
        let r = WorkspaceRole::parse(s.trim());
        if r.is_none() {
            self.add(
                path,
                format!(
                    "'{s}' is not a workspace role. Allowed: {} (alias: Analyst).",
                    WorkspaceRole::ALL.map(|r| r.as_str()).join(", ")
                ),
            );
        }
        r
    }

    pub fn org_role(&mut self, path: &str, v: Option<&str>) -> Option<OrgRole> {
        let Some(s) = v else {
            self.add(path, format!("'{path}' is required."));
            return None;
        };
        let r = OrgRole::parse(s.trim());
        if r.is_none() {
            self.add(
                path,
                format!(
                    "'{s}' is not an organizational role. Allowed: {}.",
                    OrgRole::ALL.map(|r| r.as_str()).join(", ")
                ),
            );
        }
        r
    }

    /// A non-empty list of known scope names; duplicates are collapsed.
    pub fn scopes(&mut self, path: &str, v: Option<&[String]>) -> Option<Vec<Scope>> {
        let Some(list) = v else {
            self.add(
                path,
                format!("'{path}' is required: give at least one scope."),
            );
            return None;
        };
        if list.is_empty() {
            self.add(path, "At least one scope is required.");
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        for (i, s) in list.iter().enumerate() {
            match Scope::parse(s.trim()) {
                Some(sc) => {
                    if !out.contains(&sc) {
                        out.push(sc)
                    }
                }
                None => {
                    ok = false;
                    let shown: String = s.chars().take(64).collect();
                    self.add(format!("{path}[{i}]"), format!("Unknown scope '{shown}'."));
                }
            }
        }
        ok.then_some(out)
    }

    /// An ISO-8601 instant strictly in the future and at most `max_days` ahead of `now`.
    pub fn future_instant(
        &mut self,
        path: &str,
        v: &str,
        now: DateTime<Utc>,
        max_days: i64,
    ) -> Option<DateTime<Utc>> {
        let Ok(t) = DateTime::parse_from_rfc3339(v.trim()) else {
            self.add(
                path,
                format!("'{path}' must be an ISO-8601 date-time with an offset."),
            );
            return None;
        };
        let t = t.with_timezone(&Utc);
        if t <= now {
            self.add(path, format!("'{path}' must be in the future."));
            return None;
        }
        if t > now + chrono::Duration::days(max_days) {
            self.add(
                path,
                format!("'{path}' must be at most {max_days} days in the future."),
            );
            return None;
        }
        Some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_every_failure_by_path() {
        let mut v = Validator::new();
        assert_eq!(v.required_str("name", Some("   "), 10), None);
        assert_eq!(v.required_str("desc", Some(&"x".repeat(11)), 10), None);
        assert_eq!(
            v.scopes("scopes", Some(&["incidents:read".into(), "nope".into()])),
            None
        );
        assert_eq!(
            v.workspace_role("role", Some("Analyst")),
            Some(WorkspaceRole::IncidentAnalyst)
        );
        let Err(Error::Validation(map)) = v.finish() else {
            panic!("expected validation error")
        };
        assert_eq!(
            map.keys().collect::<Vec<_>>(),
            vec!["desc", "name", "scopes[1]"]
        );
    }

    #[test]
    fn future_instant_bounds() {
        let now = crate::time::now();
        let mut v = Validator::new();
        let past = (now - chrono::Duration::days(1)).to_rfc3339();
        let far = (now + chrono::Duration::days(1000)).to_rfc3339();
        let ok = (now + chrono::Duration::days(10)).to_rfc3339();
        assert!(v.future_instant("a", &past, now, 730).is_none());
        assert!(v.future_instant("b", &far, now, 730).is_none());
        assert!(v.future_instant("c", "tomorrow", now, 730).is_none());
        assert!(v.future_instant("d", &ok, now, 730).is_some());
        let Err(Error::Validation(map)) = v.finish() else {
            panic!()
        };
        assert_eq!(map.len(), 3);
    }
}
