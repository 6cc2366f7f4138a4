//! Incident keys: the `{source}` of a route and an incident's id.

use palisade_types::incidents::IncidentSource;

use super::MAX_ID;
use crate::{Error, Result, Validator};

/// Incident ids that would collide with route segments.
pub const RESERVED_IDS: [&str; 7] = [
    "status",
    "assign",
    "bulk",
    "ingest",
    "high",
    "by-entity",
    "comments",
];

/// An incident id: 1 to 200 characters, no `/`, and not a route segment of
/// [`RESERVED_IDS`] (in any letter case).
pub fn incident_id(v: &mut Validator, path: &str, raw: Option<&str>) -> Option<String> {
    let id = v.required_str(path, raw, MAX_ID)?;
    if id.contains('/') {
        v.add(path, format!("'{path}' must not contain '/'."));
        return None;
    }
    if RESERVED_IDS.iter().any(|r| r.eq_ignore_ascii_case(&id)) {
        v.add(
            path,
            format!(
                "'{id}' is reserved (it names a route): {}.",
                RESERVED_IDS.join(", ")
            ),
        );
        return None;
    }
    Some(id)
}

/// Parses a `{source}` path segment in any letter case.
pub fn parse_source(raw: &str) -> Result<IncidentSource> {
    IncidentSource::parse(raw).ok_or_else(|| {
        let shown: String = raw.chars().take(64).collect();
        Error::field(
            "source",
            format!(
                "'{shown}' is not an incident source. Allowed: {}.",
                IncidentSource::allowed()
            ),
        )
    })
}

/// The `source` of a legacy route's body: required, never defaulted.
pub fn body_source(source: Option<&str>) -> Result<IncidentSource> {
    match source {
        None => Err(Error::field(
            "source",
            format!(
                "'source' is required on this route. Allowed: {}.",
                IncidentSource::allowed()
            ),
        )),
        Some(s) => parse_source(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_bounded_have_no_slash_and_name_no_route() {
        let mut v = Validator::new();
        assert_eq!(
            incident_id(&mut v, "id", Some(" INC-1 ")).as_deref(),
            Some("INC-1")
        );
        assert!(v.is_empty());
        let long = "x".repeat(MAX_ID + 1);
        for bad in [
            None,
            Some(""),
            Some("a/b"),
            Some("By-Entity"),
            Some(long.as_str()),
        ] {
            let mut v = Validator::new();
            assert_eq!(incident_id(&mut v, "incidents[0].id", bad), None, "{bad:?}");
            assert_eq!(v.failed_paths(), ["incidents[0].id"]);
        }
    }

    #[test]
    fn sources_parse_in_any_case_and_a_legacy_body_must_name_one() {
        assert_eq!(parse_source("splunk").unwrap(), IncidentSource::Splunk);
        assert_eq!(
            parse_source("DEFENDERXDR").unwrap(),
            IncidentSource::DefenderXDR
        );
        let Err(Error::Validation(m)) = parse_source("Nessus") else {
            panic!("a validation error")
        };
        assert!(m["source"][0].starts_with("'Nessus' is not an incident source. Allowed: Sentinel"));
        let Err(Error::Validation(m)) = body_source(None) else {
            panic!("a validation error")
        };
        assert!(m["source"][0].starts_with("'source' is required on this route."));
        assert_eq!(body_source(Some("qradar")).unwrap(), IncidentSource::QRadar);
    }
}
