//! Rule matching: a rule's title pattern (Exact, Contains or Regex, case-insensitive) and its
//! optional severity and source filters.

use palisade_types::gamebooks::TitleMatch;
use palisade_types::incidents::{IncidentSource, Severity};
use regex_automata::meta::Regex;

use crate::Validator;

/// The longest title pattern a rule may carry, in characters.
pub const MAX_PATTERN: usize = 1_000;
/// The most NFA memory one compiled rule pattern may take.
const NFA_SIZE_LIMIT: usize = 1 << 20;

/// Compiles a rule's regular expression (case-insensitive, bounded in size).
pub fn compile_regex(pattern: &str) -> Result<Regex, String> {
    Regex::builder()
        .syntax(regex_automata::util::syntax::Config::new().case_insensitive(true))
        .configure(Regex::config().nfa_size_limit(Some(NFA_SIZE_LIMIT)))
        .build(pattern)
        .map_err(|e| e.to_string())
}

/// Does a rule's title pattern match this title? (Case-insensitive; an invalid stored
/// regular expression matches nothing.)
pub fn title_matches(match_type: &str, pattern: &str, title: &str) -> bool {
    match TitleMatch::parse(match_type) {
        Some(TitleMatch::Exact) => title.trim().to_lowercase() == pattern.trim().to_lowercase(),
        Some(TitleMatch::Contains) => title.to_lowercase().contains(&pattern.to_lowercase()),
        Some(TitleMatch::Regex) => compile_regex(pattern).is_ok_and(|r| r.is_match(title)),
        None => false,
    }
}

/// What decides whether a stored rule applies to an incident.
#[derive(Debug, Clone, Copy)]
pub struct RuleFilter<'a> {
    pub is_enabled: bool,
    pub match_type: &'a str,
    pub pattern: &'a str,
    /// Severities the rule is limited to (any letter case); empty: every severity.
    pub severities: &'a [String],
    /// Sources the rule is limited to (any letter case); empty: every source.
    pub sources: &'a [String],
}

impl RuleFilter<'_> {
    /// Does the rule apply? A `None` severity or source is not filtered on (the by-title
    /// lookup matches titles only).
    pub fn applies(
        &self,
        title: &str,
        severity: Option<Severity>,
        source: Option<IncidentSource>,
    ) -> bool {
        let listed = |list: &[String], value: &str| {
            list.is_empty() || list.iter().any(|x| x.eq_ignore_ascii_case(value))
        };
        self.is_enabled
            && severity.is_none_or(|s| listed(self.severities, s.as_str()))
            && source.is_none_or(|s| listed(self.sources, s.as_str()))
            && title_matches(self.match_type, self.pattern, title)
    }
}

/// Validates a rule's match type (default `Contains`) and pattern.
pub fn validate_pattern(
    v: &mut Validator,
    match_type: Option<&str>,
    pattern: Option<&str>,
) -> Option<(TitleMatch, String)> {
    let kind = match match_type.map(TitleMatch::parse) {
        None => TitleMatch::Contains,
        Some(Some(k)) => k,
        Some(None) => {
            v.add("matchType", format!("Allowed: {}.", TitleMatch::allowed()));
            return None;
        }
    };
    let pattern = match pattern {
        Some(p) if !p.trim().is_empty() && p.chars().count() <= MAX_PATTERN => p.to_string(),
        Some(p) if !p.trim().is_empty() => {
            v.add(
                "titlePattern",
                format!("'titlePattern' must be at most {MAX_PATTERN} characters."),
            );
            return None;
        }
        _ => {
            v.add("titlePattern", "'titlePattern' is required.");
            return None;
        }
    };
    if kind == TitleMatch::Regex {
        if let Err(e) = compile_regex(&pattern) {
            v.add(
                "titlePattern",
                format!(
                    "'titlePattern' is not a valid regular expression: {}",
                    e.chars().take(300).collect::<String>()
                ),
            );
            return None;
        }
    }
    Some((kind, pattern))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_match_by_kind() {
        assert!(title_matches("Exact", "Brute force", " brute FORCE "));
        assert!(!title_matches(
            "Exact",
            "Brute force",
            "Brute force on host"
        ));
        assert!(title_matches("Contains", "phish", "Possible PHISHING mail"));
        assert!(title_matches(
            "Regex",
            r"^mal\w+ on host-\d+$",
            "Malware on HOST-12"
        ));
        assert!(!title_matches("Regex", r"(", "("));
        assert!(!title_matches("Glob", "*", "anything"));
    }

    #[test]
    fn a_rule_applies_only_when_enabled_and_every_filter_admits_the_incident() {
        let severities = vec!["high".to_string(), "Medium".to_string()];
        let sources = vec!["Sentinel".to_string()];
        let rule = RuleFilter {
            is_enabled: true,
            match_type: "Contains",
            pattern: "phish",
            severities: &severities,
            sources: &sources,
        };
        let title = "Phishing mail";
        assert!(rule.applies(title, Some(Severity::High), Some(IncidentSource::Sentinel)));
        assert!(
            rule.applies(title, None, None),
            "unfiltered lookups match titles only"
        );
        assert!(!rule.applies(title, Some(Severity::Low), Some(IncidentSource::Sentinel)));
        assert!(!rule.applies(title, Some(Severity::High), Some(IncidentSource::Splunk)));
        assert!(!rule.applies("Malware", Some(Severity::High), None));
        let disabled = RuleFilter {
            is_enabled: false,
            ..rule
        };
        assert!(!disabled.applies(title, None, None));
        let unlimited = RuleFilter {
            severities: &[],
            sources: &[],
            ..rule
        };
        assert!(unlimited.applies(title, Some(Severity::Low), Some(IncidentSource::Splunk)));
    }

    #[test]
    fn patterns_are_validated_with_their_limits() {
        let mut v = Validator::new();
        assert_eq!(
            validate_pattern(&mut v, None, Some("phish")),
            Some((TitleMatch::Contains, "phish".to_string()))
        );
        assert_eq!(
            validate_pattern(&mut v, Some("regex"), Some(r"^a\d+$")).map(|p| p.0),
            Some(TitleMatch::Regex)
        );
        assert!(v.is_empty());

        for (match_type, pattern, field) in [
            (Some("Glob"), Some("x"), "matchType"),
            (None, None, "titlePattern"),
            (None, Some("   "), "titlePattern"),
            (Some("Regex"), Some("("), "titlePattern"),
        ] {
            let mut v = Validator::new();
            assert_eq!(validate_pattern(&mut v, match_type, pattern), None);
            assert_eq!(v.failed_paths(), [field]);
        }
        let long = "a".repeat(MAX_PATTERN + 1);
        let mut v = Validator::new();
        assert_eq!(validate_pattern(&mut v, None, Some(&long)), None);
        assert_eq!(v.failed_paths(), ["titlePattern"]);
        // A pattern whose automaton would exceed the size limit is refused, not compiled.
        assert!(compile_regex(r"\w{1000}\w{1000}").is_err());
    }
}
