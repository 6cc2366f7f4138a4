//! The four sources beyond the Microsoft pair (issue 14), one module each: the calls
//! (`mod.rs`) and the pure mapping both ways (`mapping.rs`), over the shared vendor HTTP layer
//! ([`api`]). `docs/connectors.md` has a section per source.

pub(crate) mod api;
pub(crate) mod crowdstrike;
pub(crate) mod qradar;
pub(crate) mod sentinelone;
pub(crate) mod splunk;

use palisade_types::incidents::{EntityInput, EntityKind};
use serde_json::{Map, Value};

use crate::mapping::{bounded_id, push_unique};

/// Entities of one item, de-duplicated by id.
#[derive(Default)]
pub(crate) struct Entities {
    pub list: Vec<EntityInput>,
}

impl Entities {
    /// Adds an entity `{Kind}:{identifier}` (once); returns its id.
    pub fn add(
        &mut self,
        kind: EntityKind,
        identifier: &str,
        display: &str,
        properties: Map<String, Value>,
    ) -> Option<String> {
        let identifier = identifier.trim();
        if identifier.is_empty() {
            return None;
        }
        let id = bounded_id(format!(
            "{}:{}",
            kind.as_str(),
            identifier.to_ascii_lowercase()
        ));
        if !self
            .list
            .iter()
            .any(|e| e.id.as_deref() == Some(id.as_str()))
        {
            self.list.push(EntityInput {
                id: Some(id.clone()),
                kind: Some(kind.as_str().to_string()),
                display_name: Some(display.trim().to_string()).filter(|d| !d.is_empty()),
                properties: Some(properties),
            });
        }
        Some(id)
    }

    /// An address: `Ip` when it parses as one, else a `Host` name.
    pub fn address(&mut self, raw: &str, role: &str) -> Option<String> {
        let a = raw.trim();
        if a.is_empty() || a == "0.0.0.0" || a.eq_ignore_ascii_case("unknown") {
            return None;
        }
        let mut p = Map::new();
        if a.parse::<std::net::IpAddr>().is_ok() {
            p.insert("address".into(), Value::from(a));
            p.insert("role".into(), Value::from(role));
            self.add(EntityKind::Ip, a, a, p)
        } else {
            p.insert("hostName".into(), Value::from(a));
            self.add(EntityKind::Host, a, a, p)
        }
    }

    pub fn ids(&self) -> Vec<String> {
        self.list.iter().filter_map(|e| e.id.clone()).collect()
    }

    pub fn into_option(self) -> Option<Vec<EntityInput>> {
        (!self.list.is_empty()).then_some(self.list)
    }
}

/// `{k: v}` of the string pairs that are present.
pub(crate) fn props(pairs: &[(&str, Option<&str>)]) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in pairs {
        if let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) {
            m.insert((*k).to_string(), Value::from(v));
        }
    }
    m
}

/// Adds `v` to a list once (any letter case).
pub(crate) fn add_unique(list: &mut Vec<String>, v: Option<&str>) {
    if let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) {
        push_unique(list, v);
    }
}
