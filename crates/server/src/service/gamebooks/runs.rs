//! Gamebook runs: manual starts, one run, an incident's runs, the documented history
//! listings, approval and cancellation.

use std::collections::HashMap;

use palisade_domain::time::from_micros;
use palisade_domain::{Error, Result, Validator};
use palisade_store::{IncidentKey, NewRun, OrgId, RunFilter, RunRow, StepRow, WorkspaceId};
use palisade_types::gamebooks::*;
use palisade_types::incidents::IncidentSource;
use uuid::Uuid;

use super::{json_map, GamebookService};
use crate::access::{OrgCtx, WorkspaceCtx};
use crate::gamebooks::plan_steps;
use crate::service::incidents::parse_source;

const HISTORY_PAGE: i64 = 50;
const DEFAULT_PAGE_SIZE: i64 = 20;
const MAX_PAGE_SIZE: i64 = 100;
fn invalid_token() -> Error {
    let mut errors = std::collections::BTreeMap::new();
    errors.insert(
        "pageToken".to_string(),
        vec!["The page token is invalid, or was issued for another query.".to_string()],
    );
    Error::ValidationDetail {
        detail: "One or more pagination tokens are invalid. Restart from the first page.".into(),
        errors,
    }
}

pub fn execution_time(started: Option<i64>, finished: Option<i64>) -> Option<String> {
    let (s, f) = (started?, finished?);
    let ms = ((f - s).max(0)) / 1000;
    Some(format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        (ms / 60_000) % 60,
        (ms / 1000) % 60,
        ms % 1000
    ))
}

fn step_to_wire(s: &StepRow) -> Playbook {
    Playbook {
        id: s.id,
        reference_id: s.playbook_id,
        entity_id: s.entity_id.clone(),
        name: s.name.clone(),
        description: s.description.clone(),
        entity_type: s.entity_type.clone(),
        affected_entity: s.affected_entity.clone(),
        is_recommended: true,
        status: PlaybookStatus::parse(&s.status).unwrap_or(PlaybookStatus::Pending),
        error_message: s.error_message.clone(),
        sequence: s.sequence,
        modification_date: from_micros(s.modified_at),
        starting_date: s.started_at.map(from_micros),
        finishing_date: s.finished_at.map(from_micros),
        execution_time: execution_time(s.started_at, s.finished_at),
        tracing_id: s.run_id,
        parameters: json_map(&s.parameters),
        is_admin_required: s.is_admin_required,
        action: serde_json::from_str(&s.action).unwrap_or_default(),
        output: s
            .output
            .as_deref()
            .and_then(|o| serde_json::from_str(o).ok()),
    }
}

pub fn run_to_wire(r: &RunRow, steps: &[StepRow]) -> Gamebook {
    let status = GamebookStatus::parse(&r.status).unwrap_or(GamebookStatus::Pending);
    Gamebook {
        id: r.id,
        tracing_id: r.id,
        incident_id: r.incident_id.clone(),
        source: IncidentSource::parse(&r.source).unwrap_or(IncidentSource::Sentinel),
        incident_title: r.incident_title.clone(),
        incident_number: r.incident_number,
        is_ocr: false,
        is_recover: r.recoveries > 0,
        trigged_by_user_id: r.triggered_by.clone(),
        display_name: format!("{} — incident {}", r.title, r.incident_number),
        modification_date: from_micros(r.modified_at),
        creation_date: from_micros(r.created_at),
        status,
        title: r.title.clone(),
        is_admin_required: r.is_admin_required,
        workspace_id: r.workspace_id,
        workspace_name: r.workspace_name.clone(),
        tenant_id: r.account_id.clone(),
        is_auto_run: r.is_auto_run,
        original_gamebook_id: None,
        original_gamebook_title: None,
        is_retry_gamebook: false,
        is_queued: status == GamebookStatus::Pending,
        playbooks: steps.iter().map(step_to_wire).collect(),
        summary: r.summary.clone(),
        rule_id: r.rule_id,
        started_at: r.started_at.map(from_micros),
        finished_at: r.finished_at.map(from_micros),
    }
}

fn run_not_found(id: impl std::fmt::Display) -> Error {
    Error::NotFound {
        detail: format!("Gamebook '{id}' not found."),
        target: Some("gamebookId".into()),
    }
}

pub fn list_param(params: &[(String, String)], name: &str) -> Vec<String> {
    params
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.split(','))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

impl GamebookService {
    // ------------------------------------------------------------ runs

    pub async fn start(&self, ctx: &WorkspaceCtx, req: StartGamebookRequest) -> Result<Gamebook> {
        let mut v = Validator::new();
        let source = match req.source.as_deref() {
            None => {
                v.add("source", "'source' is required.");
                None
            }
            Some(s) => match parse_source(s) {
                Ok(s) => Some(s),
                Err(_) => {
                    v.add("source", format!("Allowed: {}.", IncidentSource::allowed()));
                    None
                }
            },
        };
        let incident_id = v.required_str("incidentId", req.incident_id.as_deref(), 200);
        let rule_id = req.rule_id.as_deref().map(|s| v.uuid("ruleId", Some(s)));
        let mut playbook_ids = Vec::new();
        for (i, s) in req.playbook_ids.iter().flatten().enumerate() {
            match Uuid::parse_str(s.trim()) {
                Ok(u) => playbook_ids.push(u),
                Err(_) => v.add(format!("playbookIds[{i}]"), "Must be a GUID."),
            }
        }
        let title = v.optional_str("title", req.title.as_deref(), 200);
        if rule_id.is_none() && playbook_ids.is_empty() && v.is_empty() {
            v.add("", "Give 'ruleId' or 'playbookIds'.");
        }
        if rule_id.is_some() && !playbook_ids.is_empty() {
            v.add("", "Give either 'ruleId' or 'playbookIds', not both.");
        }
        v.finish()?;
        let (source, incident_id) = (source.expect("valid"), incident_id.expect("valid"));
        let rule = match rule_id.flatten() {
            Some(id) => Some(self.rule_row(ctx, id).await?),
            None => None,
        };
        let tenant = self.store.tenant(&ctx.org);
        let incident = tenant
            .get_incident(&ctx.incident(source, &incident_id))
            .await?
            .ok_or_else(|| Error::NotFound {
                detail: format!("Incident '{incident_id}' not found."),
                target: Some("incidentId".into()),
            })?;
        let ids = match &rule {
            Some(r) => r.fields.playbook_ids.clone(),
            None => playbook_ids,
        };
        let books = tenant.playbooks_by_id(&ids).await?;
        if rule.is_none() {
            let mut v = Validator::new();
            for (i, id) in ids.iter().enumerate() {
                if !books.contains_key(id) {
                    v.add(
                        format!("playbookIds[{i}]"),
                        format!("Playbook '{id}' does not exist in the catalogue."),
                    );
                }
            }
            v.finish()?;
        }
        let steps = plan_steps(&incident.doc, &ids, &books);
        if steps.is_empty() {
            return Err(Error::Conflict(
                "The rule names no playbook that still exists in the catalogue.".into(),
            ));
        }
        let run = NewRun {
            source,
            incident_id: incident_id.clone(),
            incident_number: incident.number,
            incident_title: incident.doc.title.clone(),
            rule_id: rule.as_ref().map(|r| r.id),
            title: title
                .or(rule.as_ref().map(|r| r.fields.title.clone()))
                .unwrap_or_else(|| "Manual gamebook".into()),
            is_auto_run: false,
            triggered_by: Some(ctx.principal.service_account_id.to_string()),
            trigger_event_id: None,
            steps,
        };
        let id = tenant.create_run(&ctx.workspace, &run).await?;
        self.jobs.wake(palisade_store::RUN_KIND);
        self.get_run(ctx, id).await
    }

    pub async fn get_run(&self, ctx: &WorkspaceCtx, id: Uuid) -> Result<Gamebook> {
        let (run, steps) = self
            .store
            .tenant(&ctx.org)
            .get_run(Some(&ctx.workspace), id)
            .await?
            .ok_or_else(|| run_not_found(id))?;
        Ok(run_to_wire(&run, &steps))
    }

    /// `GET …/gamebooks/history/{gamebookId}/playbooks`. `year`, documented as the (required)
    /// storage partition, is validated first (before the run is looked up) and otherwise not
    /// needed.
    pub async fn run_playbooks(
        &self,
        ctx: &WorkspaceCtx,
        id: &str,
        year: Option<&str>,
    ) -> Result<Vec<Playbook>> {
        match year.map(|y| y.trim().parse::<i32>()) {
            None => {
                return Err(Error::field(
                    "year",
                    "'year' is required: the run's creation year, such as 2026.",
                ))
            }
            Some(Ok(y)) if (1970..=9999).contains(&y) => {}
            Some(_) => {
                return Err(Error::field(
                    "year",
                    "'year' must be a year from 1970 to 9999, such as 2026.",
                ))
            }
        }
        // A malformed id is simply not found.
        let id = Uuid::parse_str(id)
            .map_err(|_| run_not_found(id.chars().take(64).collect::<String>()))?;
        Ok(self.get_run(ctx, id).await?.playbooks)
    }

    async fn with_steps(&self, org: &OrgId, runs: Vec<RunRow>) -> Result<Vec<Gamebook>> {
        let ids: Vec<Uuid> = runs.iter().map(|r| r.id).collect();
        let mut steps = self.store.tenant(org).steps_for(&ids).await?;
        Ok(runs
            .iter()
            .map(|r| run_to_wire(r, &steps.remove(&r.id).unwrap_or_default()))
            .collect())
    }

    /// `GET …/gamebooks/by-incident/{incidentId}`: newest first, at most 100 (any source).
    pub async fn by_incident(
        &self,
        ctx: &WorkspaceCtx,
        incident_id: &str,
    ) -> Result<Vec<Gamebook>> {
        let f = RunFilter {
            workspaces: Some(vec![ctx.workspace]),
            incident_id: Some(incident_id.to_string()),
            ..Default::default()
        };
        let (runs, _) = self
            .store
            .tenant(&ctx.org)
            .list_runs(&f, None, 0, 100)
            .await?;
        self.with_steps(&ctx.org, runs).await
    }

    /// The newest run of an incident, or `None`.
    pub async fn last(&self, incident: &IncidentKey) -> Result<Option<Gamebook>> {
        let org = incident.workspace.org();
        let f = RunFilter {
            workspaces: Some(vec![incident.workspace]),
            incident_id: Some(incident.id.clone()),
            source: Some(incident.source),
            ..Default::default()
        };
        let (runs, _) = self.store.tenant(&org).list_runs(&f, None, 0, 1).await?;
        Ok(self.with_steps(&org, runs).await?.pop())
    }

    /// `GET …/gamebooks/history?query=&pageToken=`: newest first, 50 per page.
    pub async fn history(
        &self,
        ctx: &WorkspaceCtx,
        query: Option<&str>,
        page_token: Option<&str>,
    ) -> Result<GamebookHistoryPage> {
        let query = query
            .map(|q| q.trim().to_lowercase())
            .filter(|q| !q.is_empty());
        if query.as_ref().is_some_and(|q| q.chars().count() > 200) {
            return Err(Error::field(
                "query",
                "'query' must be at most 200 characters.",
            ));
        }
        let mut aad = ctx.org.uuid().as_bytes().to_vec();
        aad.extend_from_slice(ctx.workspace.uuid().as_bytes());
        aad.extend_from_slice(query.as_deref().unwrap_or("").as_bytes());
        let after = match page_token.filter(|t| !t.is_empty()) {
            None => None,
            Some(t) => {
                let bytes = self.sealer.open_bytes(&aad, t).ok_or_else(invalid_token)?;
                let (at, id): (i64, String) =
                    serde_json::from_slice(&bytes).map_err(|_| invalid_token())?;
                Some((at, id))
            }
        };
        let f = RunFilter {
            workspaces: Some(vec![ctx.workspace]),
            query,
            ..Default::default()
        };
        let (runs, total) = self
            .store
            .tenant(&ctx.org)
            .list_runs(&f, after, 0, HISTORY_PAGE + 1)
            .await?;
        let more = runs.len() as i64 > HISTORY_PAGE;
        let runs: Vec<RunRow> = runs.into_iter().take(HISTORY_PAGE as usize).collect();
        let token = match (more, runs.last()) {
            (true, Some(last)) => Some(self.sealer.seal_bytes(
                &aad,
                &serde_json::to_vec(&(last.created_at, last.id.to_string())).expect("json"),
            )),
            _ => None,
        };
        Ok(GamebookHistoryPage {
            gamebooks: self.with_steps(&ctx.org, runs).await?,
            page_token: token,
            total_count: total,
        })
    }

    /// `GET /gamebooks/across-workspaces/history`: page numbers over every workspace the
    /// caller holds a role on (or the requested subset of them).
    pub async fn across(
        &self,
        ctx: &OrgCtx,
        params: &[(String, String)],
    ) -> Result<GamebookPageList> {
        let mut v = Validator::new();
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_string())
        };
        let current_page = match get("currentPage").map(|s| s.parse::<i64>()) {
            None => {
                v.add(
                    "currentPage",
                    "'currentPage' is required (1 for the first page).",
                );
                1
            }
            Some(Ok(n)) if (1..=1_000_000).contains(&n) => n,
            Some(_) => {
                v.add("currentPage", "'currentPage' must be an integer from 1.");
                1
            }
        };
        let page_size = match get("pageSize").map(|s| s.parse::<i64>()) {
            None => DEFAULT_PAGE_SIZE,
            Some(Ok(n)) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
            Some(_) => {
                v.add(
                    "pageSize",
                    format!("'pageSize' must be an integer from 1 to {MAX_PAGE_SIZE}."),
                );
                DEFAULT_PAGE_SIZE
            }
        };
        let mut statuses = Vec::new();
        for (i, s) in list_param(params, "statuses").iter().enumerate() {
            match GamebookStatus::parse(s) {
                Some(st) => statuses.push(st.as_str().to_string()),
                None => v.add(
                    format!("statuses[{i}]"),
                    format!("Allowed: {}.", GamebookStatus::allowed()),
                ),
            }
        }
        let mut wanted = Vec::new();
        for (i, s) in list_param(params, "workspaces").iter().enumerate() {
            match Uuid::parse_str(s) {
                Ok(u) => wanted.push(u),
                Err(_) => v.add(format!("workspaces[{i}]"), "Must be a workspace GUID."),
            }
        }
        let query = get("query")
            .map(|q| q.to_lowercase())
            .filter(|q| !q.is_empty());
        if query.as_ref().is_some_and(|q| q.chars().count() > 200) {
            v.add("query", "'query' must be at most 200 characters.");
        }
        v.finish()?;
        let tenant = self.store.tenant(&ctx.org);
        let visible: HashMap<Uuid, WorkspaceId> = tenant
            .workspace_names()
            .await?
            .into_keys()
            .filter_map(|id| Some((id, ctx.principal.workspace(&id)?.0)))
            .collect();
        // Workspaces the caller cannot see are silently left out.
        let workspaces = if wanted.is_empty() {
            visible.into_values().collect()
        } else {
            wanted
                .into_iter()
                .filter_map(|w| visible.get(&w).copied())
                .collect()
        };
        let f = RunFilter {
            workspaces: Some(workspaces),
            statuses,
            query,
            ..Default::default()
        };
        let offset = (current_page - 1) * page_size;
        let (runs, total) = tenant.list_runs(&f, None, offset, page_size).await?;
        let total_pages = (total + page_size - 1) / page_size;
        Ok(GamebookPageList {
            items: self.with_steps(&ctx.org, runs).await?,
            current_page,
            total_pages,
            page_size,
            total_count: total,
            has_previous_page: current_page > 1,
            has_next_page: current_page < total_pages,
        })
    }

    pub async fn approve(&self, ctx: &WorkspaceCtx, id: Uuid) -> Result<Gamebook> {
        let by = ctx.principal.service_account_id.to_string();
        self.store
            .tenant(&ctx.org)
            .approve_run(&ctx.workspace, id, &by)
            .await?
            .ok_or_else(|| run_not_found(id))?;
        self.jobs.wake(palisade_store::RUN_KIND);
        self.get_run(ctx, id).await
    }

    pub async fn reject(&self, ctx: &WorkspaceCtx, id: Uuid) -> Result<Gamebook> {
        self.stop(
            ctx,
            id,
            format!("Rejected by {}.", ctx.principal.name),
            true,
        )
        .await
    }

    pub async fn cancel(&self, ctx: &WorkspaceCtx, id: Uuid) -> Result<Gamebook> {
        self.stop(
            ctx,
            id,
            format!("Cancelled by {}.", ctx.principal.name),
            false,
        )
        .await
    }

    async fn stop(
        &self,
        ctx: &WorkspaceCtx,
        id: Uuid,
        reason: String,
        only_awaiting: bool,
    ) -> Result<Gamebook> {
        self.store
            .tenant(&ctx.org)
            .cancel_run(&ctx.workspace, id, &reason, only_awaiting)
            .await?
            .ok_or_else(|| run_not_found(id))?;
        self.get_run(ctx, id).await
    }
}
