//! Mapping between each source's incidents and Palisade's (DESIGN §9), both ways, as pure
//! functions. The tables are written out in `docs/connectors.md`.
//!
//! From the source: [`map_native`] takes one item in the vendor's own JSON (what a poll reads,
//! and what `POST …/ingest?format=native` accepts) and returns a [`PulledIncident`]: the
//! incident in Palisade's ingest model, fitted to its limits, plus what has no place in it
//! (`source`: vendor references and unmapped values, never dropped silently) and the unmapped
//! values for the engine to log once. Item errors are keyed by the vendor's JSON path.
//!
//! To the source: each vendor module has the functions the write-back uses
//! (`status_to`, `classification_to`, …), and [`reconcile`] recognizes, in a pulled incident,
//! the vendor's rendering of Palisade's own write-back, so a lossy mapping neither undoes an
//! analyst's choice nor echoes it as a change.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use palisade_domain::incident::{IncidentDoc, MAX_ID, MAX_LIST, MAX_TEXT, MAX_TITLE};
use palisade_types::incidents::{IncidentInput, OwnerInput};
use serde_json::{json, Map, Value};

use crate::cursor::{PulledIncident, Unmapped, VendorState};
use crate::kind::ConnectorKind;
use crate::writeback::Verdict;

pub mod defender;
pub mod sentinel;

/// Field errors keyed by the vendor's JSON path.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// At most this many unmappable entities are kept whole in `properties.source`.
const MAX_KEPT_ENTITIES: usize = 50;

/// Maps one vendor item (its own JSON) to Palisade's model.
///
/// - Sentinel: the incident resource `{name, etag, properties}`; as an extension for native
///   ingest, `entities` (the entities call's items) and `alerts` (the alerts call's items)
///   may sit beside `properties`.
/// - Defender XDR: the Graph incident, with `alerts` (and their `evidence`) when expanded.
pub fn map_native(kind: ConnectorKind, item: &Value) -> Result<PulledIncident, FieldErrors> {
    match kind {
        ConnectorKind::MicrosoftSentinel => {
            sentinel::incident(item, item.get("entities"), item.get("alerts"))
        }
        ConnectorKind::MicrosoftDefenderXdr => defender::incident(item),
        ConnectorKind::SentinelOne => crate::sources::sentinelone::mapping::incident(item),
        ConnectorKind::SplunkEnterpriseSecurity => crate::sources::splunk::mapping::incident(item),
        ConnectorKind::IbmQRadar => {
            crate::sources::qradar::mapping::incident(item, &Default::default())
        }
        ConnectorKind::CrowdStrikeFalcon => crate::sources::crowdstrike::mapping::incident(item),
    }
}

/// Keeps Palisade's own values where the pulled incident only shows the vendor's rendering of
/// them: for status, verdict and owner, when `current` (the stored incident) written back
/// would look exactly like what was pulled, the pulled incident takes `current`'s values.
pub fn reconcile(kind: ConnectorKind, pulled: &mut PulledIncident, current: &IncidentDoc) {
    let projected = match kind {
        ConnectorKind::MicrosoftSentinel => sentinel::project(current),
        ConnectorKind::MicrosoftDefenderXdr => defender::project(current),
        ConnectorKind::SentinelOne => crate::sources::sentinelone::mapping::project(current),
        ConnectorKind::SplunkEnterpriseSecurity => {
            crate::sources::splunk::mapping::project(current)
        }
        ConnectorKind::IbmQRadar => crate::sources::qradar::mapping::project(current),
        ConnectorKind::CrowdStrikeFalcon => crate::sources::crowdstrike::mapping::project(current),
    };
    let v = &pulled.vendor;
    let i = &mut pulled.incident;
    if projected.status == v.status
        && projected.classification == v.classification
        && projected.reason == v.reason
    {
        i.status = Some(current.status.as_str().to_string());
        i.classification = current.classification.map(|c| c.as_str().to_string());
        i.classification_reason = current
            .classification_reason
            .map(|r| r.as_str().to_string());
    }
    if projected.owner == v.owner {
        i.owner = current.owner.as_ref().map(OwnerInput::from);
    }
}

/// The note that carries a Palisade verdict to a source with no field for it: "Closed in
/// Palisade as {classification} ({reason}).", then the comment; `None` when it would say
/// nothing beyond the closing itself.
pub(crate) fn verdict_note(v: &Verdict<'_>) -> Option<String> {
    let head = match (v.classification, v.reason) {
        (Some(c), Some(r)) => format!("Closed in Palisade as {} ({}).", c.as_str(), r.as_str()),
        (Some(c), None) => format!("Closed in Palisade as {}.", c.as_str()),
        (None, _) => match v.comment {
            Some(_) => "Closed in Palisade.".to_string(),
            None => return None,
        },
    };
    Some(match v.comment {
        Some(t) => format!("{head} {t}"),
        None => head,
    })
}

/// Collects what one item's mapping finds.
#[derive(Default)]
pub(crate) struct Ctx {
    pub errors: FieldErrors,
    pub unmapped: Vec<Unmapped>,
    pub source: Map<String, Value>,
    kept_entities: Vec<Value>,
}

impl Ctx {
    pub fn error(&mut self, path: &str, msg: impl Into<String>) {
        self.errors
            .entry(path.to_string())
            .or_default()
            .push(msg.into());
    }

    /// Records a value with no Palisade equivalent (once per field and value).
    pub fn unmapped(&mut self, field: &str, value: &str) {
        let u = Unmapped {
            field: field.to_string(),
            value: value.chars().take(200).collect(),
        };
        if !self.unmapped.contains(&u) {
            self.unmapped.push(u);
        }
    }

    /// Keeps an entity (or evidence) that maps to no Palisade entity kind.
    pub fn keep_entity(&mut self, field: &str, kind: &str, raw: &Value) {
        self.unmapped(field, kind);
        if self.kept_entities.len() < MAX_KEPT_ENTITIES {
            self.kept_entities.push(raw.clone());
        }
    }

    /// A required, non-empty string at `key` of `obj` (error at `path`).
    pub fn required<'a>(&mut self, obj: &'a Value, key: &str, path: &str) -> Option<&'a str> {
        match text(obj, key) {
            Some(s) => Some(s),
            None => {
                self.error(path, format!("'{path}' is required."));
                None
            }
        }
    }

    /// The value at `key` mapped through `table` (any letter case): `(raw, mapped)`; an
    /// unknown value is recorded as unmapped under `field`.
    pub fn enum_at<'a, T: Copy>(
        &mut self,
        obj: &'a Value,
        key: &str,
        field: &str,
        table: &[(&str, T)],
    ) -> Option<(&'a str, Option<T>)> {
        let raw = text(obj, key)?;
        let mapped = lookup(table, raw);
        if mapped.is_none() {
            self.unmapped(field, raw);
        }
        Some((raw, mapped))
    }

    /// The required version stamp at `key`.
    pub fn version(&mut self, obj: &Value, key: &str, path: &str) -> Option<DateTime<Utc>> {
        if text(obj, key).is_none() {
            self.error(path, format!("'{path}' is required."));
            return None;
        }
        self.time(obj, key, path)
    }

    /// An optional instant at `key` (error at `path` when present but not RFC 3339).
    pub fn time(&mut self, obj: &Value, key: &str, path: &str) -> Option<DateTime<Utc>> {
        let s = text(obj, key)?;
        match DateTime::parse_from_rfc3339(s) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => {
                self.error(
                    path,
                    format!("'{path}' must be an ISO-8601 date-time with an offset."),
                );
                None
            }
        }
    }

    /// The incident's id at the source, checked as a Palisade incident id.
    pub fn id(&mut self, raw: Option<&str>, path: &str) -> Option<String> {
        let mut v = palisade_domain::Validator::new();
        let id = palisade_domain::incident::incident_id(&mut v, path, raw);
        if let Err(palisade_domain::Error::Validation(m)) = v.finish() {
            for (k, msgs) in m {
                for msg in msgs {
                    self.error(&k, msg);
                }
            }
        }
        id
    }

    pub fn finish(
        mut self,
        external_id: Option<String>,
        version: Option<DateTime<Utc>>,
        mut incident: IncidentInput,
        vendor: VendorState,
    ) -> Result<PulledIncident, FieldErrors> {
        if !self.errors.is_empty() {
            return Err(self.errors);
        }
        let (Some(external_id), Some(version)) = (external_id, version) else {
            self.error("", "The item has no id or version.");
            return Err(self.errors);
        };
        incident.id = Some(external_id.clone());
        let cut = fit(&mut incident);
        if !cut.is_empty() {
            self.source.insert("truncated".into(), json!(cut));
        }
        if !self.unmapped.is_empty() {
            let mut m = Map::new();
            for u in &self.unmapped {
                match m.get_mut(&u.field) {
                    Some(Value::Array(a)) => a.push(json!(u.value)),
                    Some(one) => *one = json!([one.clone(), u.value]),
                    None => {
                        m.insert(u.field.clone(), json!(u.value));
                    }
                }
            }
            self.source.insert("unmapped".into(), Value::Object(m));
        }
        if !self.kept_entities.is_empty() {
            self.source
                .insert("unmappedEntities".into(), Value::Array(self.kept_entities));
        }
        Ok(PulledIncident {
            external_id,
            version,
            incident,
            source: self.source,
            unmapped: self.unmapped,
            vendor,
        })
    }
}

/// The mapped value of `s` in a `(vendor name, value)` table, in any letter case.
pub(crate) fn lookup<T: Copy>(table: &[(&str, T)], s: &str) -> Option<T> {
    table
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(s))
        .map(|(_, v)| *v)
}

/// A non-empty, trimmed string at `key`.
pub(crate) fn text<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.get(key)?
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// A string or a number at `key`, as text.
pub(crate) fn text_or_number(obj: &Value, key: &str) -> Option<String> {
    match obj.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Strings of an array at `key` (non-strings and empties skipped).
pub(crate) fn strings(obj: &Value, key: &str) -> Vec<String> {
    obj.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::trim).filter(|s| !s.is_empty()))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// When an incident was created and last changed, and the span of its activity.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Timeline {
    pub created: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
}

impl Timeline {
    /// Widens the activity to take in an alert's first and last activity.
    pub fn widen(&mut self, first: Option<DateTime<Utc>>, last: Option<DateTime<Utc>>) {
        if let Some(t) = first {
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
        }
        if let Some(t) = last {
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
        }
    }

    /// An ingest model with these four instants and nothing else.
    pub fn input(self) -> IncidentInput {
        IncidentInput {
            created_at: self.created.map(instant),
            updated_at: self.updated.map(instant),
            first_activity_at: self.first.map(instant),
            last_activity_at: self.last.map(instant),
            ..IncidentInput::default()
        }
    }
}

/// Appends unseen values.
pub(crate) fn push_unique(list: &mut Vec<String>, v: impl Into<String>) {
    let v = v.into();
    if !list.iter().any(|x| x.eq_ignore_ascii_case(&v)) {
        list.push(v);
    }
}

/// 64-bit FNV-1a, hex: a stable short name for long keys.
pub(crate) fn short_hash(s: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// An id within Palisade's limit: long ones keep a prefix and a hash of the whole.
pub(crate) fn bounded_id(id: String) -> String {
    if id.chars().count() <= MAX_ID {
        return id;
    }
    let head: String = id.chars().take(MAX_ID - 17).collect();
    format!("{head}~{}", short_hash(&id))
}

/// One line, no control characters, at most `max` characters; whether it was cut.
fn clean(s: &str, max: usize) -> (String, bool) {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = flat.trim();
    if flat.chars().count() <= max {
        return (flat.to_string(), false);
    }
    let mut out: String = flat.chars().take(max - 1).collect();
    out.push('…');
    (out, true)
}

fn clean_opt(v: &mut Option<String>, max: usize, name: &'static str, cut: &mut Vec<&'static str>) {
    if let Some(s) = v.as_mut() {
        let (c, was_cut) = clean(s, max);
        if was_cut && !cut.contains(&name) {
            cut.push(name);
        }
        *v = (!c.is_empty()).then_some(c);
    }
}

fn clean_list(v: &mut Option<Vec<String>>, name: &'static str, cut: &mut Vec<&'static str>) {
    if let Some(list) = v.as_mut() {
        if list.len() > MAX_LIST {
            list.truncate(MAX_LIST);
            cut.push(name);
        }
        let mut out = Vec::new();
        for s in list.iter() {
            let (c, _) = clean(s, 200);
            if !c.is_empty() {
                push_unique(&mut out, c);
            }
        }
        *list = out;
    }
}

/// Fits an incident into the limits of Palisade's model (DESIGN §9 as `normalize` enforces
/// them): text is made one line and cut, lists are bounded. Returns the fields that were cut.
pub(crate) fn fit(i: &mut IncidentInput) -> Vec<&'static str> {
    let mut cut = Vec::new();
    clean_opt(&mut i.title, MAX_TITLE, "title", &mut cut);
    if i.title.is_none() {
        i.title = Some("(untitled)".into());
    }
    clean_opt(&mut i.description, MAX_TEXT, "description", &mut cut);
    clean_opt(
        &mut i.classification_comment,
        MAX_TEXT,
        "classificationComment",
        &mut cut,
    );
    clean_list(&mut i.labels, "labels", &mut cut);
    clean_list(&mut i.tactics, "tactics", &mut cut);
    clean_list(&mut i.alert_product_names, "alertProductNames", &mut cut);
    if let Some(o) = i.owner.as_mut() {
        clean_opt(&mut o.user_id, MAX_ID, "owner", &mut cut);
        clean_opt(&mut o.display_name, 200, "owner", &mut cut);
        if o.email
            .as_ref()
            .is_some_and(|e| e.chars().count() > 320 || !e.contains('@'))
        {
            o.email = None;
        }
        clean_opt(&mut o.email, 320, "owner", &mut cut);
        if o.user_id.is_none() && o.email.is_none() && o.display_name.is_none() {
            i.owner = None;
        }
    }
    if i.provider_url.as_ref().is_some_and(|u| u.len() > 2048) {
        i.provider_url = None;
        cut.push("providerUrl");
    }
    if let Some(es) = i.entities.as_mut() {
        if es.len() > MAX_LIST {
            es.truncate(MAX_LIST);
            cut.push("entities");
        }
        for e in es.iter_mut() {
            clean_opt(&mut e.display_name, 1000, "entities", &mut cut);
            if e.display_name.is_none() {
                e.display_name = e.id.clone().or_else(|| Some("(unnamed)".into()));
            }
        }
    }
    if let Some(al) = i.alerts.as_mut() {
        if al.len() > MAX_LIST {
            al.truncate(MAX_LIST);
            cut.push("alerts");
        }
        for a in al.iter_mut() {
            clean_opt(&mut a.title, MAX_TITLE, "alerts", &mut cut);
            if a.title.is_none() {
                a.title = Some("(untitled alert)".into());
            }
            clean_opt(&mut a.product_name, 200, "alerts", &mut cut);
            clean_opt(&mut a.vendor_name, 200, "alerts", &mut cut);
            clean_opt(&mut a.status, 100, "alerts", &mut cut);
            if let Some(ids) = a.entity_ids.as_mut() {
                ids.truncate(MAX_LIST);
            }
        }
    }
    cut
}

/// The kinds of a mapped incident's entities, in order (for the mapping tests).
#[cfg(test)]
pub(crate) fn entity_kinds(i: &IncidentInput) -> Vec<&str> {
    let entities = i.entities.as_deref().expect("mapped entities");
    entities
        .iter()
        .map(|e| e.kind.as_deref().unwrap())
        .collect()
}

/// A closed incident as Palisade stores it, for the `reconcile` tests.
#[cfg(test)]
pub(crate) fn closed_doc(
    classification: palisade_types::incidents::Classification,
    reason: palisade_types::incidents::ClassificationReason,
    owner: palisade_types::incidents::Owner,
) -> IncidentDoc {
    IncidentDoc {
        title: "An incident".into(),
        description: None,
        severity: palisade_types::incidents::Severity::High,
        status: palisade_types::incidents::IncidentStatus::Closed,
        classification: Some(classification),
        classification_reason: Some(reason),
        classification_comment: None,
        owner: Some(owner),
        labels: vec![],
        tactics: vec![],
        alert_product_names: vec![],
        first_activity_at: None,
        last_activity_at: None,
        provider_url: None,
        entities: vec![],
        alerts: vec![],
        evidence: Default::default(),
        properties: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting_makes_text_one_bounded_line() {
        let mut i = IncidentInput {
            title: Some(format!("Line one\nline two {}", "x".repeat(600))),
            description: Some("a\r\nb\tc".into()),
            labels: Some(vec!["Tag".into(), "tag".into(), " ".into()]),
            ..IncidentInput::default()
        };
        let cut = fit(&mut i);
        assert_eq!(cut, ["title"]);
        let title = i.title.unwrap();
        assert_eq!(title.chars().count(), MAX_TITLE);
        assert!(title.starts_with("Line one line two"));
        assert_eq!(i.description.as_deref(), Some("a  b c"));
        assert_eq!(i.labels.unwrap(), ["Tag"]);
        let long = "k".repeat(300);
        let b = bounded_id(long.clone());
        assert_eq!(b.chars().count(), MAX_ID);
        assert_eq!(b, bounded_id(long));
        assert_eq!(bounded_id("short".into()), "short");
    }
}
