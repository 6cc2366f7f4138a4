//! Gamebooks: the playbook catalogue and rules; runs and their history are in `runs.rs`.

mod runs;

pub use runs::{execution_time, list_param, run_to_wire};

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use palisade_domain::time::from_micros;
use palisade_domain::{Error, Result, Validator, WorkspaceRole};
use palisade_store::{
    IncidentRow, OrgId, PlaybookFields, PlaybookRow, RuleFields, RuleRow, Store, WorkspaceId,
};
use palisade_types::gamebooks::*;
use palisade_types::incidents::{IncidentSource, Severity};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::access::{OrgCtx, WorkspaceCtx};
use crate::auth::Principal;
use crate::crypto::SealingKey;
use crate::gamebooks::{applicable, canonical_entity_type, validate_action, validate_pattern};

const MAX_PLAYBOOKS_PER_RULE: usize = 50;

/// How long a workspace's rules are served from memory for the incident detail's catalogue.
/// Rule writes through this process invalidate at once; this bounds how stale another
/// replica's rule change can look.
const RULES_TTL: Duration = Duration::from_secs(1);

type RulesCache = Mutex<HashMap<Uuid, (Instant, Arc<Vec<RuleRow>>)>>;

#[derive(Clone)]
pub struct GamebookService {
    store: Store,
    jobs: palisade_jobs::Jobs,
    sealer: Arc<SealingKey>,
    rules: Arc<RulesCache>,
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
impl GamebookService {
    pub fn new(store: Store, jobs: palisade_jobs::Jobs, server_secret: &str) -> Self {
        GamebookService {
            store,
            jobs,
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
            (d, _) => v.optional_text("description", d.as_deref(), 2000),
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
}

fn dedup_playbooks(rules: &[&RuleRow]) -> Vec<Uuid> {
    let mut seen = HashSet::new();
    rules
        .iter()
        .flat_map(|r| r.fields.playbook_ids.iter().copied())
        .filter(|id| seen.insert(*id))
        .collect()
}
