//! Gamebooks: the playbook catalogue, rules, manual runs, approval, and the documented
//! history routes.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use palisade_domain::time::from_micros;
use palisade_domain::{Error, Result, Validator, WorkspaceRole};
use palisade_store::{
    IncidentKey, IncidentRow, NewRun, OrgId, PlaybookFields, PlaybookRow, RuleFields, RuleRow,
    RunFilter, RunRow, StepRow, Store, WorkspaceId,
};
use palisade_types::gamebooks::*;
use palisade_types::incidents::{IncidentSource, Severity};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::access::{OrgCtx, WorkspaceCtx};
use crate::auth::Principal;
use crate::crypto::SealingKey;
use crate::gamebooks::engine::Engine;
use crate::gamebooks::{
    applicable, canonical_entity_type, plan_steps, validate_action, validate_pattern,
};
use crate::service::incidents::parse_source;

const HISTORY_PAGE: i64 = 50;
const DEFAULT_PAGE_SIZE: i64 = 20;
const MAX_PAGE_SIZE: i64 = 100;
const MAX_PLAYBOOKS_PER_RULE: usize = 50;

/// How long a workspace's rules are served from memory for the incident detail's catalogue.
/// Rule writes through this process invalidate at once; this bounds how stale another
/// replica's rule change can look.
const RULES_TTL: Duration = Duration::from_secs(1);

type RulesCache = Mutex<HashMap<Uuid, (Instant, Arc<Vec<RuleRow>>)>>;

#[derive(Clone)]
pub struct GamebookService {
    store: Store,
    engine: Engine,
    sealer: Arc<SealingKey>,
    rules: Arc<RulesCache>,
}

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

fn json_map(s: &str) -> Map<String, Value> {
    serde_json::from_str(s).unwrap_or_default()
}

fn playbook_to_wire(p: &PlaybookRow) -> PlaybookDefinition {
    PlaybookDefinition {
        id: p.id,
        name: p.name.clone(),
        description: p.description.clone(),
        entity_type: p.entity_type.clone(),
        is_admin_required: p.is_admin_required,
        parameters: json_map(&p.parameters),
        action: serde_json::from_str(&p.action).unwrap_or_default(),
        created_at: from_micros(p.created_at),
        last_modified_at: from_micros(p.modified_at),
    }
}

fn rule_to_wire(r: &RuleRow) -> GamebookRule {
    GamebookRule {
        id: r.id,
        workspace_id: r.workspace_id,
        title: r.fields.title.clone(),
        match_type: TitleMatch::parse(&r.fields.match_type).unwrap_or(TitleMatch::Contains),
        title_pattern: r.fields.pattern.clone(),
        severities: r.fields.severities.clone(),
        sources: r.fields.sources.clone(),
        playbook_ids: r.fields.playbook_ids.clone(),
        is_auto_run: r.fields.is_auto_run,
        is_enabled: r.fields.is_enabled,
        created_at: from_micros(r.created_at),
        last_modified_at: from_micros(r.modified_at),
    }
}

/// `hh:mm:ss.fff` (the documented `executionTime` is a .NET TimeSpan string).
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

fn may_manage_catalogue(p: &Principal) -> Result<()> {
    let implied = p.org_role.implied_workspace_role();
    if implied.is_some_and(|r| r >= WorkspaceRole::ContentAdmin)
        || p.named_roles
            .iter()
            .any(|(_, _, r)| *r >= WorkspaceRole::ContentAdmin)
    {
        return Ok(());
    }
    Err(Error::InsufficientWorkspaceRole {
        workspace: "any workspace of the organization".into(),
        required: WorkspaceRole::ContentAdmin,
    })
}

/// Parses a list query parameter: repeated and/or comma-separated values.
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
    pub fn new(store: Store, engine: Engine, server_secret: &str) -> Self {
        GamebookService {
            store,
            engine,
            sealer: Arc::new(SealingKey::derive(
                server_secret,
                "palisade gamebook history token v1",
            )),
            rules: Default::default(),
        }
    }

    /// The workspace's rules, from memory when fresh.
    async fn cached_rules(&self, ws: &WorkspaceId) -> Result<Arc<Vec<RuleRow>>> {
        if let Some((at, rules)) = self.rules.lock().expect("lock").get(&ws.uuid()) {
            if at.elapsed() < RULES_TTL {
                return Ok(rules.clone());
            }
        }
        let rules = Arc::new(self.store.tenant(&ws.org()).list_rules(ws).await?);
        let mut map = self.rules.lock().expect("lock");
        if map.len() > 10_000 {
            map.clear();
        }
        map.insert(ws.uuid(), (Instant::now(), rules.clone()));
        Ok(rules)
    }

    fn forget_rules(&self, ws: &WorkspaceId) {
        self.rules.lock().expect("lock").remove(&ws.uuid());
    }

    // ------------------------------------------------------------ playbooks

    pub async fn list_playbooks(&self, ctx: &OrgCtx) -> Result<Vec<PlaybookDefinition>> {
        Ok(self
            .store
            .tenant(&ctx.org)
            .list_playbooks()
            .await?
            .iter()
            .map(playbook_to_wire)
            .collect())
    }

    async fn playbook_row(&self, ctx: &OrgCtx, id: Uuid) -> Result<PlaybookRow> {
        self.store
            .tenant(&ctx.org)
            .get_playbook(id)
            .await?
            .ok_or_else(|| Error::not_found_target("Playbook", id, "playbookId"))
    }

    pub async fn get_playbook(&self, ctx: &OrgCtx, id: Uuid) -> Result<PlaybookDefinition> {
        Ok(playbook_to_wire(&self.playbook_row(ctx, id).await?))
    }

    fn playbook_fields(
        req: &PlaybookRequest,
        base: Option<&PlaybookRow>,
    ) -> Result<PlaybookFields> {
        let mut v = Validator::new();
        let name = match (&req.name, base) {
            (None, Some(b)) => Some(b.name.clone()),
            (n, _) => v.required_str("name", n.as_deref(), 200),
        };
        let description = match (&req.description, base) {
            (None, Some(b)) => b.description.clone(),
            (d, _) => v.optional_str("description", d.as_deref(), 2000),
        };
        let entity_type = match (&req.entity_type, base) {
            (None, Some(b)) => Some(b.entity_type.clone()),
            (None, None) => Some("Incident".to_string()),
            (Some(t), _) => match canonical_entity_type(t.trim()) {
                Ok(t) => Some(t),
                Err(e) => {
                    v.add("entityType", e);
                    None
                }
            },
        };
        let is_admin_required = req
            .is_admin_required
            .or(base.map(|b| b.is_admin_required))
            .unwrap_or(false);
        let parameters = match (&req.parameters, base) {
            (None, Some(b)) => b.parameters.clone(),
            (None, None) => "{}".into(),
            (Some(m), _) => {
                let s = Value::Object(m.clone()).to_string();
                if s.len() > 16 * 1024 {
                    v.add("parameters", "'parameters' must be at most 16 KiB of JSON.");
                }
                s
            }
        };
        let action = match (&req.action, base) {
            (None, Some(b)) => Some(b.action.clone()),
            (a, _) => validate_action(&mut v, a.as_ref())
                .map(|a| serde_json::to_string(&a).expect("serializes")),
        };
        v.finish()?;
        Ok(PlaybookFields {
            name: name.unwrap_or_default(),
            description,
            entity_type: entity_type.unwrap_or_default(),
            is_admin_required,
            parameters,
            action: action.unwrap_or_default(),
        })
    }

    pub async fn create_playbook(
        &self,
        ctx: &OrgCtx,
        req: PlaybookRequest,
    ) -> Result<PlaybookDefinition> {
        may_manage_catalogue(&ctx.principal)?;
        let f = Self::playbook_fields(&req, None)?;
        Ok(playbook_to_wire(
            &self.store.tenant(&ctx.org).create_playbook(&f).await?,
        ))
    }

    pub async fn update_playbook(
        &self,
        ctx: &OrgCtx,
        id: Uuid,
        req: PlaybookRequest,
    ) -> Result<PlaybookDefinition> {
        may_manage_catalogue(&ctx.principal)?;
        let base = self.playbook_row(ctx, id).await?;
        let f = Self::playbook_fields(&req, Some(&base))?;
        let row = self
            .store
            .tenant(&ctx.org)
            .update_playbook(id, &f)
            .await?
            .ok_or_else(|| Error::not_found_target("Playbook", id, "playbookId"))?;
        Ok(playbook_to_wire(&row))
    }

    pub async fn delete_playbook(&self, ctx: &OrgCtx, id: Uuid) -> Result<bool> {
        may_manage_catalogue(&ctx.principal)?;
        if !self.store.tenant(&ctx.org).delete_playbook(id).await? {
            return Err(Error::not_found_target("Playbook", id, "playbookId"));
        }
        Ok(true)
    }

    // ------------------------------------------------------------ rules

    pub async fn list_rules(&self, ctx: &WorkspaceCtx) -> Result<Vec<GamebookRule>> {
        Ok(self
            .store
            .tenant(&ctx.org)
            .list_rules(&ctx.workspace)
            .await?
            .iter()
            .map(rule_to_wire)
            .collect())
    }

    async fn rule_row(&self, ctx: &WorkspaceCtx, id: Uuid) -> Result<RuleRow> {
        self.store
            .tenant(&ctx.org)
            .get_rule(&ctx.workspace, id)
            .await?
            .ok_or_else(|| Error::not_found_target("Gamebook rule", id, "ruleId"))
    }

    pub async fn get_rule(&self, ctx: &WorkspaceCtx, id: Uuid) -> Result<GamebookRule> {
        Ok(rule_to_wire(&self.rule_row(ctx, id).await?))
    }

    async fn rule_fields(
        &self,
        org: &OrgId,
        req: &GamebookRuleRequest,
        base: Option<&RuleRow>,
    ) -> Result<RuleFields> {
        let mut v = Validator::new();
        let b = base.map(|b| &b.fields);
        let title = match (&req.title, b) {
            (None, Some(b)) => Some(b.title.clone()),
            (t, _) => v.required_str("title", t.as_deref(), 200),
        };
        let pattern = if req.match_type.is_none() && req.title_pattern.is_none() {
            match b {
                Some(b) => Some((
                    TitleMatch::parse(&b.match_type).unwrap_or(TitleMatch::Contains),
                    b.pattern.clone(),
                )),
                None => validate_pattern(&mut v, None, None),
            }
        } else {
            let mt = req.match_type.clone().or(b.map(|b| b.match_type.clone()));
            let pt = req.title_pattern.clone().or(b.map(|b| b.pattern.clone()));
            validate_pattern(&mut v, mt.as_deref(), pt.as_deref())
        };
        let mut enum_list = |path: &str,
                             list: &Option<Vec<String>>,
                             old: Option<&Vec<String>>,
                             allowed: String,
                             parse: fn(&str) -> Option<&'static str>| {
            match (list, old) {
                (None, Some(o)) => o.clone(),
                (None, None) => Vec::new(),
                (Some(l), _) => {
                    let mut out: Vec<String> = Vec::new();
                    for (i, s) in l.iter().enumerate() {
                        match parse(s) {
                            Some(n) if !out.iter().any(|o| o == n) => out.push(n.into()),
                            Some(_) => {}
                            None => v.add(format!("{path}[{i}]"), format!("Allowed: {allowed}.")),
                        }
                    }
                    out
                }
            }
        };
        let severities = enum_list(
            "severities",
            &req.severities,
            b.map(|b| &b.severities),
            Severity::allowed(),
            |s| Severity::parse(s).map(|x| x.as_str()),
        );
        let sources = enum_list(
            "sources",
            &req.sources,
            b.map(|b| &b.sources),
            IncidentSource::allowed(),
            |s| IncidentSource::parse(s).map(|x| x.as_str()),
        );
        let playbook_ids = match (&req.playbook_ids, b) {
            (None, Some(b)) => b.playbook_ids.clone(),
            (None, None) => {
                v.add(
                    "playbookIds",
                    "'playbookIds' is required: at least one playbook.",
                );
                Vec::new()
            }
            (Some(list), _) => {
                if list.is_empty() || list.len() > MAX_PLAYBOOKS_PER_RULE {
                    v.add(
                        "playbookIds",
                        format!("'playbookIds' must name 1 to {MAX_PLAYBOOKS_PER_RULE} playbooks."),
                    );
                }
                let mut ids = Vec::new();
                for (i, s) in list.iter().enumerate() {
                    match Uuid::parse_str(s.trim()) {
                        Ok(u) => ids.push((i, u)),
                        Err(_) => v.add(format!("playbookIds[{i}]"), "Must be a GUID."),
                    }
                }
                let known = self
                    .store
                    .tenant(org)
                    .playbooks_by_id(&ids.iter().map(|(_, u)| *u).collect::<Vec<_>>())
                    .await?;
                for (i, u) in &ids {
                    if !known.contains_key(u) {
                        v.add(
                            format!("playbookIds[{i}]"),
                            format!("Playbook '{u}' does not exist in the catalogue."),
                        );
                    }
                }
                ids.into_iter().map(|(_, u)| u).collect()
            }
        };
        v.finish()?;
        let (kind, pattern) = pattern.expect("validated");
        Ok(RuleFields {
            title: title.unwrap_or_default(),
            match_type: kind.as_str().into(),
            pattern,
            severities,
            sources,
            playbook_ids,
            is_auto_run: req
                .is_auto_run
                .or(b.map(|b| b.is_auto_run))
                .unwrap_or(false),
            is_enabled: req.is_enabled.or(b.map(|b| b.is_enabled)).unwrap_or(true),
        })
    }

    pub async fn create_rule(
        &self,
        ctx: &WorkspaceCtx,
        req: GamebookRuleRequest,
    ) -> Result<GamebookRule> {
        let f = self.rule_fields(&ctx.org, &req, None).await?;
        let row = self
            .store
            .tenant(&ctx.org)
            .create_rule(&ctx.workspace, &f)
            .await?;
        self.forget_rules(&ctx.workspace);
        Ok(rule_to_wire(&row))
    }

    pub async fn update_rule(
        &self,
        ctx: &WorkspaceCtx,
        id: Uuid,
        req: GamebookRuleRequest,
    ) -> Result<GamebookRule> {
        let base = self.rule_row(ctx, id).await?;
        let f = self.rule_fields(&ctx.org, &req, Some(&base)).await?;
        let row = self
            .store
            .tenant(&ctx.org)
            .update_rule(&ctx.workspace, id, &f)
            .await?
            .ok_or_else(|| Error::not_found_target("Gamebook rule", id, "ruleId"))?;
        self.forget_rules(&ctx.workspace);
        Ok(rule_to_wire(&row))
    }

    pub async fn delete_rule(&self, ctx: &WorkspaceCtx, id: Uuid) -> Result<bool> {
        if !self
            .store
            .tenant(&ctx.org)
            .delete_rule(&ctx.workspace, id)
            .await?
        {
            return Err(Error::not_found_target("Gamebook rule", id, "ruleId"));
        }
        self.forget_rules(&ctx.workspace);
        Ok(true)
    }

    /// `GET …/gamebooks/rules/{incidentTitle}`: enabled rules whose pattern matches the title
    /// (whatever their severity and source filters), and their playbooks.
    pub async fn rules_by_title(&self, ctx: &WorkspaceCtx, title: &str) -> Result<RulesByTitle> {
        let tenant = self.store.tenant(&ctx.org);
        let rules = tenant.list_rules(&ctx.workspace).await?;
        let matched = applicable(&rules, title, None, None);
        let ids = dedup_playbooks(&matched);
        let books = tenant.playbooks_by_id(&ids).await?;
        Ok(RulesByTitle {
            incident_title: title.to_string(),
            rules: matched.iter().map(|r| rule_to_wire(r)).collect(),
            playbooks: ids
                .iter()
                .filter_map(|id| books.get(id))
                .map(playbook_to_wire)
                .collect(),
        })
    }

    /// The incident detail's `gamebookCatalog`: playbooks of the enabled rules that apply to
    /// the incident (title, severity, source), each once.
    pub async fn catalog(&self, ctx: &WorkspaceCtx, row: &IncidentRow) -> Result<GamebookCatalog> {
        let rules = self.cached_rules(&ctx.workspace).await?;
        let matched = applicable(
            &rules,
            &row.doc.title,
            Some(row.doc.severity),
            Some(row.source),
        );
        if matched.is_empty() {
            return Ok(GamebookCatalog::default());
        }
        let ids = dedup_playbooks(&matched);
        let books = self.store.tenant(&ctx.org).playbooks_by_id(&ids).await?;
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for r in matched {
            for id in &r.fields.playbook_ids {
                let Some(b) = books.get(id) else { continue };
                if seen.insert(*id) {
                    out.push(CatalogPlaybook {
                        id: b.id,
                        name: b.name.clone(),
                        description: b.description.clone(),
                        entity_type: b.entity_type.clone(),
                        is_admin_required: b.is_admin_required,
                        parameters: json_map(&b.parameters),
                        rule_id: r.id,
                        rule_title: r.fields.title.clone(),
                        is_auto_run: r.fields.is_auto_run,
                    });
                }
            }
        }
        Ok(GamebookCatalog { playbooks: out })
    }

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
        self.engine.runs_queued();
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

    /// `GET …/gamebooks/history/{gamebookId}/playbooks`. `year`, documented as the storage
    /// partition, is checked for form and otherwise not needed.
    pub async fn run_playbooks(
        &self,
        ctx: &WorkspaceCtx,
        id: Uuid,
        year: Option<&str>,
    ) -> Result<Vec<Playbook>> {
        if let Some(y) = year {
            if !y
                .trim()
                .parse::<i32>()
                .is_ok_and(|y| (1970..=9999).contains(&y))
            {
                return Err(Error::field("year", "'year' must be a year such as 2026."));
            }
        }
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
        self.engine.runs_queued();
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

fn dedup_playbooks(rules: &[&RuleRow]) -> Vec<Uuid> {
    let mut seen = HashSet::new();
    rules
        .iter()
        .flat_map(|r| r.fields.playbook_ids.iter().copied())
        .filter(|id| seen.insert(*id))
        .collect()
}
