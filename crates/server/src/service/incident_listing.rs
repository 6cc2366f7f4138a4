//! The cross-workspace incident listing (`POST /incidents/across-workspaces`, DESIGN §5):
//! filters, the sealed per-stream tokens, and continuation calls that must send back every
//! token the previous response gave.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use palisade_domain::validate::parse_list;
use palisade_domain::{Error, Result, Validator};
use palisade_store::{AcrossFilter, Cursor, WorkspaceId};
use palisade_types::incidents::{
    AcrossWorkspacesPage, AcrossWorkspacesRequest, IncidentSource, IncidentStatus, Severity,
    SourcePageTokens,
};
use sha2::Digest;
use uuid::Uuid;

use super::incident_wire as wire;
use super::incidents::IncidentService;
use crate::access::OrgCtx;
use crate::paging::{stream_set, PageState, StreamSet};

/// At most this many ids in `workspaceIds`.
const MAX_WORKSPACE_IDS: usize = 1000;
/// A refused continuation names at most this many missing streams.
const MISSING_SHOWN: usize = 10;

/// The listing's filters, validated.
struct Filters {
    sources: Vec<IncidentSource>,
    severities: Vec<Severity>,
    statuses: Vec<IncidentStatus>,
    query: Option<String>,
    assignees: Vec<String>,
    include_unassigned: bool,
    window: Option<String>,
    custom_start: Option<DateTime<Utc>>,
    custom_end: Option<DateTime<Utc>>,
    /// `workspaceIds`, sorted; `None` means every workspace the caller holds a role on.
    workspace_ids: Option<Vec<Uuid>>,
}

impl Filters {
    fn parse(req: &AcrossWorkspacesRequest) -> Result<Filters> {
        let mut v = Validator::new();
        let mut sources: Vec<IncidentSource> = parse_list(
            &mut v,
            "sources",
            &req.sources,
            IncidentSource::parse,
            IncidentSource::allowed(),
        );
        if sources.is_empty() {
            sources = IncidentSource::ALL.to_vec();
        }
        sources.sort();
        let mut severities: Vec<Severity> = parse_list(
            &mut v,
            "severities",
            &req.severities,
            Severity::parse,
            Severity::allowed(),
        );
        severities.sort();
        let mut statuses: Vec<IncidentStatus> = parse_list(
            &mut v,
            "statuses",
            &req.statuses,
            IncidentStatus::parse,
            IncidentStatus::allowed(),
        );
        statuses.sort();
        let query = v
            .optional_str("query", req.query.as_deref(), 200)
            .map(|q| q.to_lowercase());
        let mut assignees: Vec<String> = Vec::new();
        for (i, e) in req.assignee_emails.iter().flatten().enumerate() {
            if let Some(e) = v.optional_str(&format!("assigneeEmails[{i}]"), Some(e), 320) {
                let e = e.to_lowercase();
                if !assignees.contains(&e) {
                    assignees.push(e);
                }
            }
        }
        assignees.sort();
        if assignees.len() > 100 {
            v.add("assigneeEmails", "At most 100 emails.");
        }
        let workspace_ids = req.workspace_ids.as_ref().map(|list| {
            if list.is_empty() {
                v.add(
                    "workspaceIds",
                    "Give at least one workspace GUID, or leave 'workspaceIds' out to list every workspace you hold a role on.",
                );
            } else if list.len() > MAX_WORKSPACE_IDS {
                v.add(
                    "workspaceIds",
                    format!("At most {MAX_WORKSPACE_IDS} workspace GUIDs."),
                );
            }
            let mut ids: Vec<Uuid> = list
                .iter()
                .enumerate()
                .filter_map(|(i, raw)| v.uuid(&format!("workspaceIds[{i}]"), Some(raw)))
                .collect();
            ids.sort();
            ids.dedup();
            ids
        });
        let include_unassigned = req.include_unassigned.unwrap_or(false);
        let window = req
            .time_filter_selection
            .as_ref()
            .and_then(|t| t.type_.as_deref())
            .map(|t| t.trim().to_string());
        let (mut custom_start, mut custom_end) = (None, None);
        match window.as_deref() {
            None | Some("TwentyFourHours") | Some("SevenDays") | Some("ThirtyDays") => {}
            Some("Custom") => {
                let t = req
                    .time_filter_selection
                    .as_ref()
                    .expect("a type was given");
                for (field, value, slot) in [
                    (
                        "timeFilterSelection.customStartUtc",
                        &t.custom_start_utc,
                        &mut custom_start,
                    ),
                    (
                        "timeFilterSelection.customEndUtc",
                        &t.custom_end_utc,
                        &mut custom_end,
                    ),
                ] {
                    match value
                        .as_deref()
                        .map(|s| DateTime::parse_from_rfc3339(s.trim()))
                    {
                        None => v.add(
                            field,
                            format!("'{field}' is required when the type is Custom."),
                        ),
                        Some(Err(_)) => v.add(
                            field,
                            format!("'{field}' must be an ISO-8601 date-time with an offset."),
                        ),
                        Some(Ok(t)) => *slot = Some(t.with_timezone(&Utc)),
                    }
                }
                if let (Some(s), Some(e)) = (custom_start, custom_end) {
                    if e < s {
                        v.add(
                            "timeFilterSelection.customEndUtc",
                            "The end must not be before the start.",
                        );
                    }
                }
            }
            Some(other) => {
                let shown: String = other.chars().take(64).collect();
                v.add(
                    "timeFilterSelection.type",
                    format!("'{shown}' is not allowed. Allowed: TwentyFourHours, SevenDays, ThirtyDays, Custom."),
                )
            }
        }
        v.finish()?;
        Ok(Filters {
            sources,
            severities,
            statuses,
            query,
            assignees,
            include_unassigned,
            window,
            custom_start,
            custom_end,
            workspace_ids,
        })
    }

    /// Binds tokens to the filters they were issued for.
    fn fingerprint(&self) -> [u8; 16] {
        let mut canonical = serde_json::json!({
            "sources": self.sources, "severities": self.severities, "statuses": self.statuses,
            "query": self.query, "assignees": self.assignees,
            "includeUnassigned": self.include_unassigned, "window": self.window,
            "customStart": self.custom_start, "customEnd": self.custom_end,
        });
        // Added after the others, so tokens without it keep their fingerprint.
        if let Some(ids) = &self.workspace_ids {
            canonical["workspaceIds"] = serde_json::json!(ids);
        }
        let digest = sha2::Sha256::digest(canonical.to_string().as_bytes());
        let mut fingerprint = [0u8; 16];
        fingerprint.copy_from_slice(&digest[..16]);
        fingerprint
    }

    /// The time bounds of a first call, resolved now.
    fn bounds(&self) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        let now = Utc::now();
        match self.window.as_deref() {
            Some("TwentyFourHours") => (Some(now - Duration::hours(24)), None),
            Some("SevenDays") => (Some(now - Duration::days(7)), None),
            Some("ThirtyDays") => (Some(now - Duration::days(30)), None),
            Some("Custom") => (self.custom_start, self.custom_end),
            _ => (None, None),
        }
    }
}

/// How a listing continues: with the API's sealed per-stream tokens, or (the console) after a
/// row's position, without tokens.
enum Paging {
    Tokens,
    After(Option<Cursor>),
}

fn invalid_tokens() -> Error {
    Error::ValidationDetail {
        detail: "One or more pagination tokens are invalid. Use the tokens from the previous response unmodified."
            .into(),
        errors: [(
            "workspacePageTokens".to_string(),
            vec!["One or more pagination tokens are invalid. Restart from the first call with an empty workspacePageTokens array.".to_string()],
        )]
        .into(),
    }
}

/// A continuation that leaves out tokens the previous response gave: it would silently drop
/// those streams from the listing.
fn missing_tokens(missing: &[(Uuid, IncidentSource)], sent: usize, given: u32) -> Error {
    let mut messages: Vec<String> = missing
        .iter()
        .take(MISSING_SHOWN)
        .map(|(ws, source)| {
            format!(
                "The token of workspace {ws}, source {} is missing.",
                source.as_str()
            )
        })
        .collect();
    if missing.len() > MISSING_SHOWN {
        messages.push(format!(
            "… and {} more streams.",
            missing.len() - MISSING_SHOWN
        ));
    }
    let named = match missing.first() {
        Some((ws, source)) => format!(
            " (workspace {ws}, source {}{})",
            source.as_str(),
            if missing.len() > 1 { ", …" } else { "" }
        ),
        None => String::new(),
    };
    messages.push(format!(
        "Send back every token of the previous response's sourcePageTokens ({given} were given, {sent} were sent)."
    ));
    Error::ValidationDetail {
        detail: format!(
            "The continuation leaves out tokens of the previous response{named}: those streams would be missing from the listing. Send back every token of sourcePageTokens."
        ),
        errors: [("workspacePageTokens".to_string(), messages)].into(),
    }
}

impl IncidentService {
    /// `POST /incidents/across-workspaces` (DESIGN §5): newest first across the workspaces the
    /// caller holds a role on, each match exactly once, with sealed per-stream tokens.
    pub async fn across_workspaces(
        &self,
        ctx: &OrgCtx,
        req: AcrossWorkspacesRequest,
    ) -> Result<AcrossWorkspacesPage> {
        self.listing(ctx, req, Paging::Tokens).await
    }

    /// The console's queue: the same listing, always as a first call (tokens in `req` are
    /// ignored), continued after `after` (the position of the last row shown) and without
    /// page tokens — one per workspace and source, thousands for a large MSSP, too heavy to
    /// carry in a page. A forged position only moves within what the caller may see.
    pub async fn across_workspaces_after(
        &self,
        ctx: &OrgCtx,
        mut req: AcrossWorkspacesRequest,
        after: Option<Cursor>,
    ) -> Result<AcrossWorkspacesPage> {
        req.is_first_call = Some(true);
        req.workspace_page_tokens = None;
        self.listing(ctx, req, Paging::After(after)).await
    }

    async fn listing(
        &self,
        ctx: &OrgCtx,
        req: AcrossWorkspacesRequest,
        paging: Paging,
    ) -> Result<AcrossWorkspacesPage> {
        let tenant = self.store.tenant(&ctx.org);
        let f = Filters::parse(&req)?;
        let fingerprint = f.fingerprint();

        let all = tenant.workspace_names().await?;
        let org_workspaces = all.len();
        let visible: HashMap<Uuid, (WorkspaceId, String)> = all
            .into_iter()
            .filter(|(id, _)| {
                f.workspace_ids
                    .as_ref()
                    .is_none_or(|ids| ids.binary_search(id).is_ok())
            })
            .filter_map(|(id, name)| Some((id, (ctx.principal.workspace(&id)?.0, name))))
            .collect();
        let tokens = req.workspace_page_tokens.unwrap_or_default();
        let first = req.is_first_call.unwrap_or(tokens.is_empty());
        let (state, live): (PageState, Vec<(Uuid, IncidentSource)>) = if first {
            let (since, until) = f.bounds();
            let mut live: Vec<(Uuid, IncidentSource)> = Vec::new();
            for ws in visible.keys() {
                for s in &f.sources {
                    live.push((*ws, *s));
                }
            }
            (
                PageState {
                    fingerprint,
                    since: since.map(palisade_domain::time::to_micros),
                    until: until.map(palisade_domain::time::to_micros),
                    cursor: match &paging {
                        Paging::Tokens => None,
                        Paging::After(after) => after.clone(),
                    },
                    streams: None,
                },
                live,
            )
        } else {
            let mut state: Option<PageState> = None;
            let mut opener = self.sealer.opener(&ctx.org);
            // Every stream sent (repeats are harmless: each is continued once).
            let mut sent: Vec<(Uuid, IncidentSource)> = Vec::new();
            let mut seen = HashSet::new();
            for entry in &tokens {
                let ws = entry
                    .workspace_id
                    .as_deref()
                    .and_then(|w| Uuid::parse_str(w).ok())
                    .ok_or_else(invalid_tokens)?;
                for (name, token) in entry.source_tokens.iter().flatten() {
                    let source = IncidentSource::parse(name).ok_or_else(invalid_tokens)?;
                    let opened = opener.open(ws, source, token).ok_or_else(invalid_tokens)?;
                    if opened.fingerprint != fingerprint || !f.sources.contains(&source) {
                        return Err(invalid_tokens());
                    }
                    match &state {
                        None => state = Some(opened),
                        Some(s) if *s == opened => {}
                        Some(_) => return Err(invalid_tokens()),
                    }
                    if seen.insert((ws, source)) {
                        sent.push((ws, source));
                    }
                }
            }
            // No tokens: the end of a listing (an exhausted listing stays exhausted, so a
            // client that echoes the last, empty token set does not loop forever).
            let Some(state) = state else {
                return Ok(AcrossWorkspacesPage {
                    incidents: Vec::new(),
                    source_page_tokens: Vec::new(),
                    more_incidents_available: false,
                });
            };
            if let Some(given) = state.streams {
                let received = stream_set(&sent);
                if received != given {
                    return Err(self
                        .left_out(ctx, &f, &visible, &state, &seen, sent.len(), given)
                        .await);
                }
            }
            // A token never widens what the caller may see.
            sent.retain(|(ws, _)| visible.contains_key(ws));
            (state, sent)
        };
        let mut workspaces: Vec<Uuid> = live.iter().map(|(w, _)| *w).collect();
        workspaces.sort();
        workspaces.dedup();
        // When every workspace of the organization is in play, the listing needs no
        // workspace list at all (the common case for MSSP administrators).
        let workspaces = (workspaces.len() < org_workspaces).then(|| {
            workspaces
                .iter()
                .filter_map(|w| visible.get(w).map(|(id, _)| *id))
                .collect()
        });
        let filter = AcrossFilter {
            workspaces,
            sources: f.sources.clone(),
            severities: f.severities.clone(),
            statuses: f.statuses.clone(),
            since: state.since,
            until: state.until,
            query: f.query.clone(),
            assignees: f.assignees.clone(),
            include_unassigned: f.include_unassigned,
        };
        let mut rows = tenant
            .list_across(&filter, state.cursor.as_ref(), self.page_size as i64 + 1)
            .await?;
        let more = rows.len() > self.page_size;
        rows.truncate(self.page_size);
        let cursor = rows
            .last()
            .map(|r| Cursor {
                created_at: palisade_domain::time::to_micros(r.created_at),
                workspace_id: r.workspace_id,
                source: r.source,
                id: r.id.clone(),
            })
            .or(state.cursor.clone());
        let mut source_page_tokens = Vec::new();
        if more && matches!(paging, Paging::Tokens) {
            let floors = tenant.stream_floors().await?;
            // A stream whose oldest incident is newer than the cursor is exhausted.
            let next: Vec<(Uuid, IncidentSource)> = live
                .iter()
                .filter(|key| {
                    floors
                        .get(key)
                        .is_some_and(|floor| cursor.as_ref().is_none_or(|c| *floor <= c.created_at))
                })
                .copied()
                .collect();
            let sealed = self.sealer.seal_page(
                &ctx.org,
                &PageState {
                    cursor: cursor.clone(),
                    streams: Some(stream_set(&next)),
                    ..state
                },
            );
            let mut by_ws: BTreeMap<Uuid, BTreeMap<String, String>> = BTreeMap::new();
            for (ws, source) in &next {
                by_ws
                    .entry(*ws)
                    .or_default()
                    .insert(source.as_str().to_string(), sealed.token(*ws, *source));
            }
            source_page_tokens = by_ws
                .into_iter()
                .map(|(workspace_id, source_tokens)| SourcePageTokens {
                    workspace_id,
                    source_tokens,
                })
                .collect();
        }
        Ok(AcrossWorkspacesPage {
            incidents: rows
                .into_iter()
                .map(|r| {
                    let name = visible
                        .get(&r.workspace_id)
                        .map(|(_, name)| name.clone())
                        .unwrap_or_default();
                    wire::list_item(r, name)
                })
                .collect(),
            more_incidents_available: match paging {
                Paging::Tokens => more && !source_page_tokens.is_empty(),
                Paging::After(_) => more,
            },
            source_page_tokens,
        })
    }

    /// The error for a continuation whose token set is not the one the previous response
    /// gave, naming the streams left out: those the caller may see that were not exhausted
    /// at the tokens' cursor (as the previous response decided).
    #[allow(clippy::too_many_arguments)]
    async fn left_out(
        &self,
        ctx: &OrgCtx,
        f: &Filters,
        visible: &HashMap<Uuid, (WorkspaceId, String)>,
        state: &PageState,
        sent: &HashSet<(Uuid, IncidentSource)>,
        sent_count: usize,
        given: StreamSet,
    ) -> Error {
        let floors = match self.store.tenant(&ctx.org).stream_floors().await {
            Ok(floors) => floors,
            Err(e) => return e,
        };
        let mut missing: Vec<(Uuid, IncidentSource)> = visible
            .keys()
            .flat_map(|ws| f.sources.iter().map(move |s| (*ws, *s)))
            .filter(|key| !sent.contains(key))
            .filter(|key| {
                floors.get(key).is_some_and(|floor| {
                    state.cursor.as_ref().is_none_or(|c| *floor <= c.created_at)
                })
            })
            .collect();
        missing.sort();
        missing_tokens(&missing, sent_count, given.count)
    }
}
