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

    /// The paths that failed, in order (for tests).
    #[cfg(test)]
    pub(crate) fn failed_paths(&self) -> Vec<&str> {
        self.errors.keys().map(String::as_str).collect()
    }

    /// What a validation produced when nothing failed, else the failed paths (for tests).
    #[cfg(test)]
    pub(crate) fn outcome<T: std::fmt::Debug>(self, value: Option<T>) -> Result<T, Vec<String>> {
        match (self.failed_paths(), value) {
            (failed, Some(value)) if failed.is_empty() => Ok(value),
            (failed, value) => {
                assert!(
                    !failed.is_empty(),
                    "nothing failed, yet no value: {value:?}"
                );
                Err(failed.into_iter().map(String::from).collect())
            }
        }
    }

    /// `Ok(())` when nothing failed, else a `VALIDATION_ERROR` with every failure.
    pub fn finish(self) -> Result<(), Error> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self.errors))
        }
    }

    /// A required, trimmed, non-empty single-line string of at most `max` characters (names,
    /// titles, ids): no control character at all.
    pub fn required_str(&mut self, path: &str, v: Option<&str>, max: usize) -> Option<String> {
        self.required(path, v, max, Text::SingleLine)
    }

    /// An optional single-line string of at most `max` characters; empty means absent.
    pub fn optional_str(&mut self, path: &str, v: Option<&str>, max: usize) -> Option<String> {
        self.optional(path, v, max, Text::SingleLine)
    }

    /// A required, trimmed, non-empty long text of at most `max` characters (comments): line
    /// breaks and tabs allowed, the other C0 controls (NUL included) refused.
    pub fn required_text(&mut self, path: &str, v: Option<&str>, max: usize) -> Option<String> {
        self.required(path, v, max, Text::MultiLine)
    }

    /// An optional long text (descriptions, classification comments), as
    /// [`Validator::required_text`]; empty means absent.
    pub fn optional_text(&mut self, path: &str, v: Option<&str>, max: usize) -> Option<String> {
        self.optional(path, v, max, Text::MultiLine)
    }

    fn required(&mut self, path: &str, v: Option<&str>, max: usize, kind: Text) -> Option<String> {
        match v.map(str::trim) {
            None | Some("") => {
                self.add(path, format!("'{path}' is required."));
                None
            }
            Some(s) => self.check_len(path, s, max, kind),
        }
    }

    fn optional(&mut self, path: &str, v: Option<&str>, max: usize, kind: Text) -> Option<String> {
        match v.map(str::trim) {
            None | Some("") => None,
            Some(s) => self.check_len(path, s, max, kind),
        }
    }

    fn check_len(&mut self, path: &str, s: &str, max: usize, kind: Text) -> Option<String> {
        let n = s.chars().count();
        if n > max {
            self.add(
                path,
                format!("'{path}' must be at most {max} characters (got {n})."),
            );
            None
        } else if let Err(message) = kind.check(path, s) {
            self.add(path, message);
            None
        } else {
            Some(s.to_string())
        }
    }

    /// Refuses NUL and the other C0 controls, but line breaks and tabs, anywhere in a JSON
    /// document given verbatim (a PSA ticket with its notes), at each string's JSON path.
    pub fn text_in_document(&mut self, path: &str, doc: &serde_json::Value) {
        match doc {
            serde_json::Value::String(s) => {
                if let Err(message) = Text::MultiLine.check(path, s) {
                    self.add(path, message);
                }
            }
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.text_in_document(&format!("{path}[{i}]"), item);
                }
            }
            serde_json::Value::Object(map) => {
                for (k, item) in map {
                    let at = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    self.text_in_document(&at, item);
                }
            }
            _ => {}
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
                    self.add(
                        format!("{path}[{i}]"),
                        format!(
                            "Unknown scope '{shown}'. Known scopes: {}.",
                            Scope::ALL
                                .iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                }
            }
        }
        ok.then_some(out)
    }

    /// An optional ISO-8601 (RFC 3339) instant with an offset.
    pub fn instant(&mut self, path: &str, v: Option<&str>) -> Option<DateTime<Utc>> {
        match DateTime::parse_from_rfc3339(v?.trim()) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => {
                self.add(
                    path,
                    format!("'{path}' must be an ISO-8601 date-time with an offset."),
                );
                None
            }
        }
    }

    /// [`Validator::instant`] from a query string, where an unencoded `+` of the offset
    /// arrives as a space.
    pub fn query_instant(&mut self, path: &str, v: Option<&str>) -> Option<DateTime<Utc>> {
        self.instant(path, v.map(|s| s.trim().replace(' ', "+")).as_deref())
    }

    /// An ISO-8601 instant strictly in the future and at most `max_days` ahead of `now`.
    pub fn future_instant(
        &mut self,
        path: &str,
        v: &str,
        now: DateTime<Utc>,
        max_days: i64,
    ) -> Option<DateTime<Utc>> {
        let t = self.instant(path, Some(v))?;
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

/// What a text field may hold.
#[derive(Debug, Clone, Copy)]
enum Text {
    /// Names, titles, ids: one line, no control character.
    SingleLine,
    /// Comments, descriptions, notes: line breaks (`\n`, `\r`) and tabs allowed; NUL and the
    /// other C0 controls refused.
    MultiLine,
}

impl Text {
    fn check(self, path: &str, s: &str) -> Result<(), String> {
        match self {
            Text::SingleLine if s.chars().any(char::is_control) => Err(format!(
                "'{path}' must be a single line without control characters."
            )),
            Text::MultiLine if s.chars().any(refused_in_long_text) => Err(format!(
                "'{path}' must not contain control characters other than line breaks and tabs."
            )),
            _ => Ok(()),
        }
    }
}

/// NUL and the C0 controls but `\t`, `\n` and `\r`.
pub fn refused_in_long_text(c: char) -> bool {
    c < ' ' && !matches!(c, '\t' | '\n' | '\r')
}

/// Parses a list of enum names (any case), collapsing duplicates; unknown names are reported
/// at their index.
pub fn parse_list<T: PartialEq>(
    v: &mut Validator,
    field: &str,
    list: &Option<Vec<String>>,
    parse: fn(&str) -> Option<T>,
    allowed: String,
) -> Vec<T> {
    let mut out = Vec::new();
    for (i, s) in list.iter().flatten().enumerate() {
        match parse(s) {
            Some(x) => {
                if !out.contains(&x) {
                    out.push(x)
                }
            }
            None => v.add(format!("{field}[{i}]"), format!("Allowed: {allowed}.")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_lists_collapse_duplicates_and_report_unknown_names_at_their_index() {
        use palisade_types::incidents::EntityKind;
        let mut v = Validator::new();
        let list = Some(vec![
            "Host".into(),
            "nope".into(),
            "host".into(),
            "ip".into(),
        ]);
        let kinds = parse_list(&mut v, "kinds", &list, EntityKind::parse, "X".into());
        assert_eq!(kinds, [EntityKind::Host, EntityKind::Ip]);
        assert_eq!(v.failed_paths(), ["kinds[1]"]);
    }

    #[test]
    fn instants_need_an_offset_and_a_query_string_space_stands_for_plus() {
        let mut v = Validator::new();
        assert_eq!(v.instant("t", None), None);
        assert!(v.instant("t", Some(" 2026-01-01T00:00:00Z ")).is_some());
        assert!(v
            .query_instant("q", Some("2026-01-01T01:00:00 01:00"))
            .is_some());
        assert!(v.is_empty());
        assert_eq!(v.instant("t", Some("2026-01-01T01:00:00 01:00")), None);
        assert_eq!(v.instant("u", Some("2026-01-01")), None);
        assert_eq!(v.failed_paths(), ["t", "u"]);
    }

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
    fn long_text_allows_line_breaks_and_tabs_and_names_stay_single_line() {
        let mut v = Validator::new();
        let note = "[ticket #4711 note by dispatcher]\n\nCustomer confirmed the trip.";
        assert_eq!(
            v.required_text("content", Some(note), 100).as_deref(),
            Some(note)
        );
        assert!(v.optional_text("d", Some("a\r\n\tb"), 100).is_some());
        assert!(v.is_empty());
        assert_eq!(v.required_text("nul", Some("a\0b"), 100), None);
        assert_eq!(v.optional_text("bell", Some("a\u{7}"), 100), None);
        assert_eq!(v.required_str("name", Some("a\nb"), 100), None);
        assert_eq!(v.optional_str("tab", Some("a\tb"), 100), None);
        v.text_in_document(
            "jiraTicket",
            &serde_json::json!({"notes": [{"text": "ok\nfine"}, {"text": "x\u{0}"}], "n": 1}),
        );
        assert_eq!(
            v.failed_paths(),
            ["bell", "jiraTicket.notes[1].text", "name", "nul", "tab"]
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
