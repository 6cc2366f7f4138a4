//! Paging from a stored cursor: what a pull takes and gives.
//!
//! The cursor is a high-water mark of the source's version stamp (Sentinel's
//! `lastModifiedTimeUtc`, Graph's `lastUpdateDateTime`) plus the `(id, version)` of the items
//! committed within the overlap window just before it. Each poll asks the source for
//! everything modified since `since − overlap` in ascending order, so an item that became
//! visible late (indexing lag, equal timestamps split across pages) is still read; an item
//! whose `(id, version)` is in `seen` was committed already and is skipped without another
//! call (the engine's unchanged-content detection remains the second line).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, DurationRound, Utc};
use palisade_types::incidents::IncidentInput;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// At most this many `(id, version)` pairs are kept in a cursor; beyond, the oldest are
/// dropped (they are then re-read and found unchanged by the engine).
pub const MAX_SEEN: usize = 2_000;

/// Where a connector is: store it (as [`Cursor::to_json`]) once a page is committed. A
/// connector whose `startFrom` changes starts a new cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cursor {
    /// Every change up to this instant has been committed.
    pub since: DateTime<Utc>,
    /// Items committed within the overlap window before `since`: id → version.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub seen: BTreeMap<String, DateTime<Utc>>,
    /// The connector's `startFrom`: the overlap never reaches back before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<DateTime<Utc>>,
    /// Set when more items changed inside the overlap window than `seen` can hold: the version
    /// of the oldest one remembered. The overlap does not reach back past it, so a burst of
    /// changes is not read again, page after page, by every later poll.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reach: Option<DateTime<Utc>>,
    /// The continuation of a listing that a poll left unfinished (its page budget ran out),
    /// stored with the cursor of the page before it: the next poll goes on with that listing
    /// instead of querying again from the overlap. Without it, a listing longer than one poll's
    /// budget whose items all fall inside the overlap window (a burst of changes in one
    /// second) would be read again from its start by every poll and never finish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<Continuation>,
}

impl Cursor {
    /// The cursor of a new connector: pull what changed since `start_from`.
    pub fn start(start_from: DateTime<Utc>) -> Cursor {
        Cursor {
            since: start_from,
            seen: BTreeMap::new(),
            floor: Some(start_from),
            reach: None,
            resume: None,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(s: &str) -> Option<Cursor> {
        serde_json::from_str(s).ok()
    }

    /// What `status` shows: the high-water mark.
    pub fn display(&self) -> String {
        self.since
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }

    /// The lower bound of the next query: `since − overlap` (not before `floor` nor `reach`),
    /// down to the whole second.
    pub(crate) fn query_from(&self, overlap: Duration) -> DateTime<Utc> {
        let mut from = self.since
            - chrono::Duration::from_std(overlap).unwrap_or_else(|_| chrono::Duration::zero());
        for bound in [self.floor, self.reach].into_iter().flatten() {
            from = from.max(bound);
        }
        from.duration_trunc(chrono::Duration::seconds(1))
            .unwrap_or(from)
    }

    /// Was this version of this item committed already?
    pub(crate) fn has(&self, id: &str, version: DateTime<Utc>) -> bool {
        self.seen.get(id) == Some(&version)
    }

    /// The cursor once `items` (every item of a page, skipped or not) are committed.
    pub(crate) fn advance<'a>(
        &self,
        items: impl IntoIterator<Item = (&'a str, DateTime<Utc>)>,
        overlap: Duration,
    ) -> Cursor {
        let mut seen = self.seen.clone();
        let mut since = self.since;
        for (id, v) in items {
            since = since.max(v);
            let e = seen.entry(id.to_string()).or_insert(v);
            *e = (*e).max(v);
        }
        let window = since
            - chrono::Duration::from_std(overlap).unwrap_or_else(|_| chrono::Duration::zero());
        seen.retain(|_, v| *v >= window);
        let mut reach = self.reach.filter(|r| *r > window);
        if seen.len() > MAX_SEEN {
            let mut by_age: Vec<(DateTime<Utc>, String)> =
                seen.iter().map(|(k, v)| (*v, k.clone())).collect();
            by_age.sort();
            let dropped = seen.len() - MAX_SEEN;
            for (_, k) in by_age.iter().take(dropped) {
                seen.remove(k);
            }
            let oldest_kept = by_age[dropped].0;
            reach = Some(reach.map_or(oldest_kept, |r| r.max(oldest_kept)));
        }
        Cursor {
            since,
            seen,
            floor: self.floor,
            reach,
            resume: None,
        }
    }
}

/// A list page's items sorted against the cursor: every item's `(id, version)` (for the new
/// high-water mark) and the items not committed in that version yet.
pub(crate) struct Triage<'a> {
    pub stamps: Vec<(String, DateTime<Utc>)>,
    pub todo: Vec<&'a serde_json::Value>,
    pub skipped: usize,
}

impl Cursor {
    /// Sorts `list`, reading each item's id at `id_key` and its version at `version` (a JSON
    /// pointer).
    pub(crate) fn triage<'a>(
        &self,
        list: &'a [serde_json::Value],
        id_key: &str,
        version: &str,
    ) -> Triage<'a> {
        self.triage_by(list, |item| {
            let id = crate::mapping::text_or_number(item, id_key)?;
            let v = item
                .pointer(version)
                .and_then(serde_json::Value::as_str)
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|d| d.with_timezone(&Utc))?;
            Some((id, v))
        })
    }

    /// Sorts `list`, reading each item's `(id, version)` with `key`.
    pub(crate) fn triage_by<'a>(
        &self,
        list: &'a [serde_json::Value],
        key: impl Fn(&serde_json::Value) -> Option<(String, DateTime<Utc>)>,
    ) -> Triage<'a> {
        let mut t = Triage {
            stamps: Vec::new(),
            todo: Vec::new(),
            skipped: 0,
        };
        for item in list {
            if let Some((id, v)) = key(item) {
                let done = self.has(&id, v);
                t.stamps.push((id, v));
                if done {
                    t.skipped += 1;
                    continue;
                }
            }
            t.todo.push(item);
        }
        t
    }

    /// The page of `items` mapped from a triaged list.
    pub(crate) fn page(
        &self,
        triage: Triage<'_>,
        mapped: Vec<Result<PulledIncident, RejectedItem>>,
        continuation: Option<Continuation>,
        overlap: Duration,
    ) -> Page {
        let (mut items, mut rejected) = (Vec::new(), Vec::new());
        for m in mapped {
            match m {
                Ok(p) => items.push(p),
                Err(r) => rejected.push(r),
            }
        }
        Page {
            items,
            rejected,
            skipped: triage.skipped,
            continuation,
            high_water: self.advance(triage.stamps.iter().map(|(i, v)| (i.as_str(), *v)), overlap),
        }
    }
}

/// Where the next page of the same listing starts (the vendor's `nextLink`). It is kept in
/// memory for the rest of the poll, and stored in [`Cursor::resume`] with each page's cursor so
/// that a poll which ran out of its page budget (or was interrupted) is continued by the next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Continuation {
    pub(crate) next: String,
}

impl Continuation {
    pub(crate) fn new(next: &str) -> Continuation {
        Continuation {
            next: next.to_string(),
        }
    }

    /// A continuation holding a source's own state (JSON), read back by
    /// [`PageRequest::resume`].
    pub(crate) fn of<T: Serialize>(state: &T) -> Continuation {
        Continuation::new(&serde_json::to_string(state).unwrap_or_default())
    }
}

/// What a source is asked for one page: the stored cursor, the continuation of the previous
/// page of the same poll (none on a poll's first page), and the connector's overlap.
pub(crate) struct PageRequest<'a> {
    pub cursor: &'a Cursor,
    pub continuation: Option<&'a Continuation>,
    pub overlap: Duration,
}

impl PageRequest<'_> {
    /// Where a poll's first page starts: [`Cursor::query_from`] with the overlap.
    pub fn from(&self) -> DateTime<Utc> {
        self.cursor.query_from(self.overlap)
    }

    /// The state a source put in the continuation with [`Continuation::of`] (`None` on a
    /// poll's first page); one it cannot read was made by another connector type.
    pub fn resume<T: serde::de::DeserializeOwned>(
        &self,
        service: &'static str,
    ) -> Result<Option<T>, crate::SourceError> {
        self.continuation
            .map(|c| {
                serde_json::from_str(&c.next).map_err(|_| crate::SourceError::Rejected {
                    service,
                    status: None,
                    detail: "a continuation of another connector type".into(),
                })
            })
            .transpose()
    }

    /// The page of `mapped` items of a triaged list: [`Cursor::page`] with the overlap.
    pub fn page(
        &self,
        triage: Triage<'_>,
        mapped: Vec<Result<PulledIncident, RejectedItem>>,
        continuation: Option<Continuation>,
    ) -> Page {
        self.cursor.page(triage, mapped, continuation, self.overlap)
    }
}

/// One page of a pull.
#[derive(Debug, Clone)]
pub struct Page {
    /// New or changed incidents, in the source's order (oldest change first).
    pub items: Vec<PulledIncident>,
    /// Items the source returned that could not be mapped (logged by the engine; the cursor
    /// moves past them).
    pub rejected: Vec<RejectedItem>,
    /// Items skipped because the cursor shows that version committed already.
    pub skipped: usize,
    /// `Some` when the source has more for this poll.
    pub continuation: Option<Continuation>,
    /// The cursor to store once `items` are committed.
    pub high_water: Cursor,
}

/// A value of the source with no Palisade equivalent. It is kept in the incident's
/// `properties.source.unmapped` and returned here so the engine can log it once per
/// connector and value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Unmapped {
    /// The vendor's field (`properties.severity`, `alerts[].evidence[].@odata.type`, …).
    pub field: String,
    pub value: String,
}

/// The vendor's own values of the fields that Palisade maps lossily, to recognize an
/// incident that only reflects Palisade's own write-back ([`crate::reconcile`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VendorState {
    pub status: Option<String>,
    pub classification: Option<String>,
    /// Sentinel's `classificationReason`, Defender's `determination`.
    pub reason: Option<String>,
    /// The owner as the vendor identifies it, lowercased (email, UPN, object id or name).
    pub owner: Option<String>,
}

/// One incident of a source, mapped to Palisade's model.
#[derive(Debug, Clone)]
pub struct PulledIncident {
    /// The incident's id at the source, and in Palisade (`…/incidents/{source}/{id}`).
    pub external_id: String,
    /// The source's version stamp of this state (its last-modified time).
    pub version: DateTime<Utc>,
    /// The incident in Palisade's ingest model, within its limits (text cut if need be).
    pub incident: IncidentInput,
    /// What Palisade's model has no field for, to keep as `properties.source` (see
    /// `docs/connectors.md`): vendor references, lossy originals, `unmapped`.
    pub source: Map<String, Value>,
    pub unmapped: Vec<Unmapped>,
    pub vendor: VendorState,
}

/// An item that could not be mapped, with why (field errors keyed by the vendor's JSON path).
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedItem {
    pub external_id: Option<String>,
    pub errors: BTreeMap<String, Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_cursor_moves_up_and_remembers_its_overlap_window() {
        let c = Cursor::start(t("2026-01-01T00:00:00.5Z"));
        let overlap = Duration::from_secs(10);
        // A new cursor starts where it was told (to the second), and the overlap never reaches
        // back before that.
        assert_eq!(c.query_from(overlap), t("2026-01-01T00:00:00Z"));
        assert_eq!(
            c.advance([], overlap).query_from(overlap),
            t("2026-01-01T00:00:00Z")
        );
        let c = c.advance(
            [
                ("a", t("2026-01-01T00:00:01Z")),
                ("b", t("2026-01-01T00:00:30.250Z")),
                ("c", t("2026-01-01T00:00:25Z")),
            ],
            overlap,
        );
        assert_eq!(c.since, t("2026-01-01T00:00:30.250Z"));
        // `a` is older than the window and forgotten; `b` and `c` are remembered.
        assert_eq!(c.seen.keys().collect::<Vec<_>>(), ["b", "c"]);
        assert!(c.has("b", t("2026-01-01T00:00:30.250Z")));
        assert!(!c.has("b", t("2026-01-01T00:00:31Z")));
        assert_eq!(c.query_from(overlap), t("2026-01-01T00:00:20Z"));
        // A page of nothing new keeps it.
        assert_eq!(c.advance([], overlap), c);
        let back = Cursor::from_json(&c.to_json()).unwrap();
        assert_eq!(back, c);
        assert_eq!(c.display(), "2026-01-01T00:00:30.250Z");
        // The set is bounded.
        let many: Vec<(String, DateTime<Utc>)> = (0..MAX_SEEN + 10)
            .map(|i| {
                (
                    format!("i{i:05}"),
                    c.since + chrono::Duration::milliseconds(i as i64),
                )
            })
            .collect();
        let big = c.advance(many.iter().map(|(k, v)| (k.as_str(), *v)), overlap);
        assert_eq!(big.seen.len(), MAX_SEEN);
        assert!(!big.seen.contains_key("i00000"));
        // What no longer fits is not re-read by later polls: the window stops at the oldest
        // item remembered.
        let oldest_kept = *big.seen.values().min().unwrap();
        assert_eq!(big.reach, Some(oldest_kept));
        assert!(big.query_from(overlap) >= oldest_kept - chrono::Duration::seconds(1));
        // Once the window has moved past it, it is forgotten.
        let later = big.advance([("z", big.since + chrono::Duration::minutes(5))], overlap);
        assert_eq!(later.reach, None);
    }
}
