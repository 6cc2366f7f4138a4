//! Accounts, workspaces, service accounts and credentials.

use std::collections::HashMap;
use std::sync::Arc;

use palisade_domain::time::now;
use palisade_domain::{Error, OrgRole, Result, Scope, ScopeSet, Validator, WorkspaceRole};
use palisade_store::{
    NewCredential, NewServiceAccount, PrincipalKind, ServiceAccountChanges, ServiceAccountRow,
    Store, WorkspaceId, WorkspaceRow,
};
use palisade_types::org::{
    Account, CreateAccountRequest, CreateCredentialRequest, CreateServiceAccountRequest,
    CreatedServiceAccount, Credential, CredentialStatus, IssuedCredential, ServiceAccount,
    UpdateServiceAccountRequest, Workspace, WorkspaceAssignmentInput, WorkspaceRequest,
};
use uuid::Uuid;

use super::org_wire as wire;
use crate::access::OrgCtx;
use crate::auth::{Authenticator, Principal};
use crate::config::AuthConfig;

pub const MAX_NAME: usize = 200;
pub const MAX_DESCRIPTION: usize = 1000;

#[derive(Clone)]
pub struct OrgService {
    pub(crate) store: Store,
    pub(crate) auth: Arc<Authenticator>,
    pub(crate) config: AuthConfig,
    incidents: Arc<super::cache::IncidentCache>,
}

impl OrgService {
    pub fn new(
        store: Store,
        auth: Arc<Authenticator>,
        config: AuthConfig,
        incidents: Arc<super::cache::IncidentCache>,
    ) -> Self {
        OrgService {
            store,
            auth,
            config,
            incidents,
        }
    }

    // ------------------------------------------------------------ accounts

    pub async fn list_accounts(&self, ctx: &OrgCtx) -> Result<Vec<Account>> {
        let rows = self.store.tenant(&ctx.org).list_accounts().await?;
        Ok(rows.into_iter().map(wire::account).collect())
    }

    pub async fn get_account(&self, ctx: &OrgCtx, id: Uuid) -> Result<Account> {
        self.store
            .tenant(&ctx.org)
            .get_account(id)
            .await?
            .map(wire::account)
            .ok_or_else(|| Error::not_found_target("Account", id, "accountId"))
    }

    pub async fn create_account(&self, ctx: &OrgCtx, req: CreateAccountRequest) -> Result<Account> {
        let mut v = Validator::new();
        let name = v.required_str("name", req.name.as_deref(), MAX_NAME);
        v.finish()?;
        let row = self
            .store
            .tenant(&ctx.org)
            .create_account(&name.unwrap())
            .await?;
        Ok(wire::account(row))
    }

    // ------------------------------------------------------------ workspaces

    /// The workspaces the caller holds a role on (all of them for organization-wide roles).
    pub async fn list_workspaces(&self, ctx: &OrgCtx) -> Result<Vec<Workspace>> {
        let all = self.store.tenant(&ctx.org).list_workspaces().await?;
        Ok(all
            .into_iter()
            .filter(|w| ctx.principal.workspace_role(&w.id.uuid()).is_some())
            .map(wire::workspace)
            .collect())
    }

    /// A workspace of the organization (`{id}` of `/workspaces/{id}`).
    async fn workspace(&self, ctx: &OrgCtx, id: Uuid) -> Result<WorkspaceRow> {
        self.store
            .tenant(&ctx.org)
            .workspace(id)
            .await?
            .ok_or_else(|| Error::not_found_target("Workspace", id, "workspaceId"))
    }

    pub async fn get_workspace(&self, ctx: &OrgCtx, id: Uuid) -> Result<Workspace> {
        Ok(wire::workspace(self.workspace(ctx, id).await?))
    }

    /// A workspace's name and account: the account given, or the organization's own.
    async fn workspace_fields(
        &self,
        ctx: &OrgCtx,
        req: &WorkspaceRequest,
    ) -> Result<(String, Uuid)> {
        let mut v = Validator::new();
        let name = v.required_str("name", req.name.as_deref(), MAX_NAME);
        let account = match req.account_id.as_deref() {
            None => None,
            Some(a) => v.uuid("accountId", Some(a)),
        };
        v.finish()?;
        let account = match account {
            Some(a) => a,
            None => self.store.tenant(&ctx.org).own_account_id().await?,
        };
        Ok((name.unwrap(), account))
    }

    /// Creates a workspace; the creating service account becomes its `Owner`.
    pub async fn create_workspace(&self, ctx: &OrgCtx, req: WorkspaceRequest) -> Result<Workspace> {
        let (name, account) = self.workspace_fields(ctx, &req).await?;
        let ws = self
            .store
            .tenant(&ctx.org)
            .create_workspace(
                account,
                &name,
                Some((
                    PrincipalKind::ServiceAccount,
                    ctx.principal.service_account_id,
                )),
            )
            .await?;
        self.auth.invalidate();
        Ok(wire::workspace(ws))
    }

    pub async fn update_workspace(
        &self,
        ctx: &OrgCtx,
        id: Uuid,
        req: WorkspaceRequest,
    ) -> Result<Workspace> {
        let current = self.workspace(ctx, id).await?;
        let req = WorkspaceRequest {
            name: req.name,
            account_id: req.account_id.or(Some(current.account_id.to_string())),
        };
        let (name, account) = self.workspace_fields(ctx, &req).await?;
        self.store
            .tenant(&ctx.org)
            .update_workspace(&current.id, &name, account)
            .await?
            .map(wire::workspace)
            .ok_or_else(|| Error::not_found_target("Workspace", id, "workspaceId"))
    }

    pub async fn delete_workspace(&self, ctx: &OrgCtx, id: Uuid) -> Result<bool> {
        let ws = self.workspace(ctx, id).await?;
        if !self.store.tenant(&ctx.org).delete_workspace(&ws.id).await? {
            return Err(Error::not_found_target("Workspace", id, "workspaceId"));
        }
        self.auth.invalidate();
        self.incidents.clear();
        Ok(true)
    }

    // ------------------------------------------------------------ service accounts

    /// As the API shows it, with `lastUsedAt` values still held in memory overlaid.
    fn shown(&self, row: ServiceAccountRow) -> ServiceAccount {
        let mut sa = wire::service_account(row, now());
        for c in &mut sa.credentials {
            if let Some(t) = self.auth.pending_last_used(&c.id) {
                if c.last_used_at.is_none_or(|old| old < t) {
                    c.last_used_at = Some(t);
                }
            }
        }
        let newest = sa.credentials.iter().filter_map(|c| c.last_used_at).max();
        if newest > sa.last_used_at {
            sa.last_used_at = newest;
        }
        sa
    }

    pub async fn list_service_accounts(&self, ctx: &OrgCtx) -> Result<Vec<ServiceAccount>> {
        let list = self.store.tenant(&ctx.org).list_service_accounts().await?;
        Ok(list.into_iter().map(|s| self.shown(s)).collect())
    }

    pub async fn get_service_account(&self, ctx: &OrgCtx, id: Uuid) -> Result<ServiceAccount> {
        self.store
            .tenant(&ctx.org)
            .get_service_account(id)
            .await?
            .map(|s| self.shown(s))
            .ok_or_else(|| Error::not_found_target("Service account", id, "id"))
    }

    /// Validates workspace assignments against the organization's workspaces.
    async fn assignments(
        &self,
        ctx: &OrgCtx,
        v: &mut Validator,
        input: &[WorkspaceAssignmentInput],
    ) -> Result<Vec<(WorkspaceId, WorkspaceRole)>> {
        let workspaces: HashMap<Uuid, WorkspaceId> = self
            .store
            .tenant(&ctx.org)
            .list_workspaces()
            .await?
            .into_iter()
            .map(|w| (w.id.uuid(), w.id))
            .collect();
        let mut out: Vec<(WorkspaceId, WorkspaceRole)> = Vec::new();
        for (i, a) in input.iter().enumerate() {
            let path = format!("workspaceAssignments[{i}]");
            let ws = v.uuid(&format!("{path}.workspaceId"), a.workspace_id.as_deref());
            let role = v.workspace_role(&format!("{path}.role"), a.role.as_deref());
            if let Some(ws) = ws {
                match workspaces.get(&ws) {
                    None => v.add(
                        format!("{path}.workspaceId"),
                        format!("Workspace '{ws}' does not exist in this organization."),
                    ),
                    Some(_) if out.iter().any(|(w, _)| w.uuid() == ws) => v.add(
                        format!("{path}.workspaceId"),
                        "Duplicate workspace assignment.",
                    ),
                    Some(id) => {
                        if let Some(role) = role {
                            out.push((*id, role));
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// A caller cannot hand out more than it holds: scopes it lacks, an organization-wide
    /// role it lacks, or a workspace role above its own.
    fn ensure_can_grant(
        p: &Principal,
        scopes: &[Scope],
        org_role: Option<OrgRole>,
        assignments: &[(WorkspaceId, WorkspaceRole)],
    ) -> Result<()> {
        if let Some(missing) = scopes.iter().find(|s| !p.scopes.allows(**s)) {
            return Err(Error::InsufficientScope(vec![*missing]));
        }
        if let Some(role) = org_role {
            if role.implied_workspace_role() > p.org_role.implied_workspace_role() {
                return Err(Error::field(
                    "organizationalRole",
                    format!(
                        "Granting the {} organizational role requires holding it.",
                        role.as_str()
                    ),
                ));
            }
        }
        for (ws, role) in assignments {
            if p.workspace_role(&ws.uuid()).is_none_or(|held| held < *role) {
                return Err(Error::InsufficientWorkspaceRole {
                    workspace: ws.to_string(),
                    required: *role,
                });
            }
        }
        Ok(())
    }

    fn expiry(
        &self,
        v: &mut Validator,
        input: Option<&str>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        let now = now();
        match input {
            None => Some(now + chrono::Duration::days(self.config.default_credential_days)),
            Some(s) => v.future_instant("expirationDate", s, now, self.config.max_credential_days),
        }
    }

    pub async fn create_service_account(
        &self,
        ctx: &OrgCtx,
        req: CreateServiceAccountRequest,
    ) -> Result<CreatedServiceAccount> {
        let mut v = Validator::new();
        let name = v.required_str("name", req.name.as_deref(), MAX_NAME);
        let description =
            v.optional_text("description", req.description.as_deref(), MAX_DESCRIPTION);
        let org_role = match req.organizational_role.as_deref() {
            None => Some(OrgRole::Member),
            Some(r) => v.org_role("organizationalRole", Some(r)),
        };
        let scopes = v.scopes("scopes", req.scopes.as_deref());
        let expires_at = self.expiry(&mut v, req.expiration_date.as_deref());
        let assignments = self
            .assignments(
                ctx,
                &mut v,
                req.workspace_assignments.as_deref().unwrap_or_default(),
            )
            .await?;
        v.finish()?;
        let (name, org_role, scopes, expires_at) = (
            name.unwrap(),
            org_role.unwrap(),
            scopes.unwrap(),
            expires_at.unwrap(),
        );
        Self::ensure_can_grant(&ctx.principal, &scopes, Some(org_role), &assignments)?;
        let id = Uuid::new_v4();
        let secret = self.auth.new_secret();
        let sa = self
            .store
            .tenant(&ctx.org)
            .create_service_account(
                NewServiceAccount {
                    id,
                    name,
                    description,
                    org_role,
                    assignments,
                },
                NewCredential {
                    id: Uuid::new_v4(),
                    secret_hash: secret.hash,
                    scopes,
                    expires_at,
                },
            )
            .await?;
        Ok(CreatedServiceAccount {
            service_account: wire::service_account(sa, now()),
            client_id: id,
            client_secret: secret.secret,
        })
    }

    pub async fn update_service_account(
        &self,
        ctx: &OrgCtx,
        id: Uuid,
        req: UpdateServiceAccountRequest,
    ) -> Result<ServiceAccount> {
        let mut v = Validator::new();
        let mut changes = ServiceAccountChanges::default();
        if req.name.is_some() {
            changes.name = v.required_str("name", req.name.as_deref(), MAX_NAME);
        }
        if let Some(d) = req.description.as_deref() {
            changes.description = Some(v.optional_text("description", Some(d), MAX_DESCRIPTION));
        }
        if let Some(r) = req.organizational_role.as_deref() {
            changes.org_role = v.org_role("organizationalRole", Some(r));
        }
        if let Some(list) = &req.workspace_assignments {
            changes.assignments = Some(self.assignments(ctx, &mut v, list).await?);
        }
        v.finish()?;
        // Exists in this organization?
        self.get_service_account(ctx, id).await?;
        Self::ensure_can_grant(
            &ctx.principal,
            &[],
            changes.org_role,
            changes.assignments.as_deref().unwrap_or_default(),
        )?;
        let sa = self
            .store
            .tenant(&ctx.org)
            .update_service_account(id, changes)
            .await?
            .ok_or_else(|| Error::not_found_target("Service account", id, "id"))?;
        self.auth.invalidate();
        Ok(self.shown(sa))
    }

    pub async fn delete_service_account(&self, ctx: &OrgCtx, id: Uuid) -> Result<bool> {
        if !self
            .store
            .tenant(&ctx.org)
            .delete_service_account(id)
            .await?
        {
            return Err(Error::not_found_target("Service account", id, "id"));
        }
        self.auth.invalidate();
        Ok(true)
    }

    pub async fn set_service_account_active(
        &self,
        ctx: &OrgCtx,
        id: Uuid,
        active: bool,
    ) -> Result<ServiceAccount> {
        let sa = self
            .store
            .tenant(&ctx.org)
            .set_service_account_active(id, active)
            .await?
            .ok_or_else(|| Error::not_found_target("Service account", id, "id"))?;
        self.auth.invalidate();
        Ok(self.shown(sa))
    }

    pub async fn issue_credential(
        &self,
        ctx: &OrgCtx,
        id: Uuid,
        req: CreateCredentialRequest,
    ) -> Result<IssuedCredential> {
        let sa = self.get_service_account(ctx, id).await?;
        let mut v = Validator::new();
        let expires_at = self.expiry(&mut v, req.expiration_date.as_deref());
        // Without scopes, the new credential copies the newest active one (rotation).
        let scopes = match &req.scopes {
            Some(list) => v.scopes("scopes", Some(list)),
            None => {
                let newest = sa
                    .credentials
                    .iter()
                    .filter(|c| c.status == CredentialStatus::Active)
                    .max_by_key(|c| c.created_at);
                match newest {
                    Some(c) => Some(c.scopes.iter().filter_map(|s| Scope::parse(s)).collect()),
                    None => v.scopes("scopes", None),
                }
            }
        };
        v.finish()?;
        let scopes: Vec<Scope> = scopes.unwrap();
        Self::ensure_can_grant(&ctx.principal, &scopes, None, &[])?;
        let secret = self.auth.new_secret();
        let credential = self
            .store
            .tenant(&ctx.org)
            .create_credential(
                id,
                NewCredential {
                    id: Uuid::new_v4(),
                    secret_hash: secret.hash,
                    scopes,
                    expires_at: expires_at.unwrap(),
                },
            )
            .await?
            .ok_or_else(|| Error::not_found_target("Service account", id, "id"))?;
        Ok(IssuedCredential {
            client_id: id,
            client_secret: secret.secret,
            credential: wire::credential(credential, now()),
        })
    }

    pub async fn revoke_credential(
        &self,
        ctx: &OrgCtx,
        id: Uuid,
        credential: Uuid,
    ) -> Result<Credential> {
        self.get_service_account(ctx, id).await?;
        let c = self
            .store
            .tenant(&ctx.org)
            .revoke_credential(id, credential)
            .await?
            .ok_or_else(|| Error::not_found_target("Credential", credential, "credentialId"))?;
        self.auth.invalidate();
        Ok(wire::credential(c, now()))
    }

    /// For the admin CLI and `demo`: the full scope set as a list.
    pub fn all_scopes() -> Vec<Scope> {
        ScopeSet::all().granted()
    }
}
