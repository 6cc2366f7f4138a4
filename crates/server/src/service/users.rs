//! Organization users and the caller's own profile.

use palisade_domain::{Error, OrgRole, Result, Validator, WorkspaceRole};
use palisade_store::{NewUser, PrincipalKind, RoleGrant, ServiceAccountChanges, UserChanges};
use palisade_types::org::{
    AddUsersRequest, AssignUsersToWorkspaceRequest, UpdateOrgRoleRequest, UpdateProfileRequest,
    User, UserInput, WorkspaceUser, WorkspaceUsersRequest,
};
use uuid::Uuid;

use super::org::{OrgService, MAX_DESCRIPTION, MAX_NAME};
use super::org_wire as wire;
use crate::access::OrgCtx;
use crate::auth::Principal;

const MAX_EMAIL: usize = 320;
const MAX_TENANT: usize = 100;
const MAX_BATCH: usize = 500;

fn email(v: &mut Validator, path: &str, input: Option<&str>) -> Option<String> {
    let e = v.optional_str(path, input, MAX_EMAIL)?;
    let valid = e.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !e.contains(' ')
    });
    if !valid {
        v.add(path, format!("'{path}' must be an email address."));
        return None;
    }
    Some(e)
}

impl OrgService {
    pub async fn list_users(&self, ctx: &OrgCtx) -> Result<Vec<User>> {
        let rows = self.store.tenant(&ctx.org).list_users().await?;
        Ok(rows.into_iter().map(wire::user).collect())
    }

    pub async fn get_user(&self, ctx: &OrgCtx, id: Uuid) -> Result<User> {
        self.store
            .tenant(&ctx.org)
            .get_user(id)
            .await?
            .map(wire::user)
            .ok_or_else(|| Error::not_found_target("User", id, "userId"))
    }

    /// The calling principal's profile: a service account sees its own identity in the user
    /// shape, with `isServiceAccount: true`.
    pub fn profile(&self, p: &Principal) -> User {
        let workspace_role = p
            .named_roles
            .iter()
            .map(|r| r.2)
            .chain(p.org_role.implied_workspace_role())
            .max();
        User {
            id: p.service_account_id,
            display_name: p.name.clone(),
            first_name: None,
            last_name: None,
            profile_picture_url: None,
            email: None,
            username: Some(p.service_account_id.to_string()),
            tenant_id: None,
            app_role: "ServiceAccount".into(),
            added_on: p.created_at,
            has_logged_in: true,
            is_service_account: true,
            is_agent_user: false,
            is_owner: false,
            is_active: true,
            organization_role: p.org_role,
            organizational_role: p.org_role,
            workspace_role,
            groups: Vec::new(),
            role_assignments: wire::role_assignments(
                p.service_account_id,
                p.named_roles
                    .iter()
                    .map(|(ws, name, role)| RoleGrant {
                        workspace_id: ws.uuid(),
                        workspace_name: name.clone(),
                        role: *role,
                    })
                    .collect(),
            ),
        }
    }

    /// Updates the caller's own display name (its service-account name) and description.
    pub async fn update_profile(&self, ctx: &OrgCtx, req: UpdateProfileRequest) -> Result<User> {
        let p = &ctx.principal;
        let mut v = Validator::new();
        let mut changes = ServiceAccountChanges::default();
        if req.display_name.is_some() {
            changes.name = v.required_str("displayName", req.display_name.as_deref(), MAX_NAME);
        }
        if let Some(d) = req.description.as_deref() {
            changes.description = Some(v.optional_text("description", Some(d), MAX_DESCRIPTION));
        }
        v.finish()?;
        let sa = self
            .store
            .tenant(&ctx.org)
            .update_service_account(p.service_account_id, changes)
            .await?
            .ok_or_else(|| Error::Unauthorized("The service account no longer exists.".into()))?;
        self.auth.invalidate();
        let mut updated = Principal::clone(p);
        updated.name = sa.name;
        updated.description = sa.description;
        Ok(self.profile(&updated))
    }

    fn user_fields(
        v: &mut Validator,
        path: &str,
        u: &UserInput,
        require_name: bool,
    ) -> (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<OrgRole>,
    ) {
        let name = if require_name || u.display_name.is_some() {
            v.required_str(
                &format!("{path}displayName"),
                u.display_name.as_deref(),
                MAX_NAME,
            )
        } else {
            None
        };
        let mail = email(v, &format!("{path}email"), u.email.as_deref());
        let tenant = v.optional_str(
            &format!("{path}tenantId"),
            u.tenant_id.as_deref(),
            MAX_TENANT,
        );
        let role = match u.organizational_role.as_deref() {
            None => None,
            Some(r) => v.org_role(&format!("{path}organizationalRole"), Some(r)),
        };
        (name, mail, tenant, role)
    }

    pub async fn add_users(&self, ctx: &OrgCtx, req: AddUsersRequest) -> Result<bool> {
        let tenant = self.store.tenant(&ctx.org);
        let mut v = Validator::new();
        let users = req.users.unwrap_or_default();
        if users.is_empty() {
            v.add("users", "At least one user is required.");
        }
        if users.len() > MAX_BATCH {
            v.add("users", format!("At most {MAX_BATCH} users per request."));
        }
        let mut new = Vec::new();
        for (i, u) in users.iter().enumerate().take(MAX_BATCH) {
            let path = format!("users[{i}].");
            let (name, mail, tenant, role) = Self::user_fields(&mut v, &path, u, true);
            let id = match u.user_id.as_deref() {
                None => Some(Uuid::new_v4()),
                Some(s) => v.uuid(&format!("{path}userId"), Some(s)),
            };
            if let (Some(name), Some(id)) = (name, id) {
                if new.iter().any(|n: &NewUser| n.id == id) {
                    v.add(
                        format!("{path}userId"),
                        "Duplicate user id in this request.",
                    );
                }
                new.push(NewUser {
                    id,
                    display_name: name,
                    email: mail,
                    tenant_id: tenant,
                    org_role: role.unwrap_or(OrgRole::Member),
                    is_owner: u.is_owner.unwrap_or(false),
                });
            }
        }
        let grant = match (req.assign_to_workspace, req.workspace_id.as_deref()) {
            (Some(false), _) | (_, None) => None,
            (_, Some(ws)) => {
                let ws = v.uuid("workspaceId", Some(ws));
                let role = match req.role.as_deref() {
                    None => Some(WorkspaceRole::WorkspaceReader),
                    Some(r) => v.workspace_role("role", Some(r)),
                };
                match (ws, role) {
                    (Some(ws), Some(role)) => match tenant.workspace(ws).await? {
                        Some(row) => Some((row.id, role)),
                        None => {
                            v.add(
                                "workspaceId",
                                format!("Workspace '{ws}' does not exist in this organization."),
                            );
                            None
                        }
                    },
                    _ => None,
                }
            }
        };
        v.finish()?;
        tenant
            .add_users(&new, grant.as_ref().map(|(ws, role)| (ws, *role)))
            .await
            .map_err(|e| match e {
                Error::Conflict(_) => Error::Conflict(
                    "A user with the same id or email already exists in this organization.".into(),
                ),
                other => other,
            })?;
        Ok(true)
    }

    pub async fn update_user(&self, ctx: &OrgCtx, req: UserInput) -> Result<bool> {
        let mut v = Validator::new();
        let id = v.uuid("userId", req.user_id.as_deref());
        let (name, mail, tenant, role) = Self::user_fields(&mut v, "", &req, false);
        v.finish()?;
        let id = id.unwrap();
        let changes = UserChanges {
            display_name: name,
            email: mail,
            tenant_id: tenant,
            org_role: role,
            is_owner: req.is_owner,
        };
        if !self.store.tenant(&ctx.org).update_user(id, changes).await? {
            return Err(Error::not_found_target("User", id, "userId"));
        }
        Ok(true)
    }

    pub async fn delete_user(&self, ctx: &OrgCtx, id: Uuid) -> Result<bool> {
        if !self.store.tenant(&ctx.org).delete_user(id).await? {
            return Err(Error::not_found_target("User", id, "userId"));
        }
        Ok(true)
    }

    pub async fn set_user_org_role(&self, ctx: &OrgCtx, req: UpdateOrgRoleRequest) -> Result<bool> {
        let mut v = Validator::new();
        let id = v.uuid("userId", req.user_id.as_deref());
        let role = v.org_role("organizationalRole", req.organizational_role.as_deref());
        v.finish()?;
        let (id, role) = (id.unwrap(), role.unwrap());
        let changes = UserChanges {
            org_role: Some(role),
            ..Default::default()
        };
        if !self.store.tenant(&ctx.org).update_user(id, changes).await? {
            return Err(Error::not_found_target("User", id, "userId"));
        }
        Ok(true)
    }

    /// Users with a role on a workspace, or on any workspace of an account.
    pub async fn workspace_users(
        &self,
        ctx: &OrgCtx,
        req: WorkspaceUsersRequest,
    ) -> Result<Vec<WorkspaceUser>> {
        let tenant = self.store.tenant(&ctx.org);
        let mut v = Validator::new();
        let id = v.uuid("accountId", req.account_id.as_deref());
        let role = match req.role.as_deref() {
            None => None,
            Some(r) => v.workspace_role("role", Some(r)),
        };
        let query = v.optional_str("query", req.query.as_deref(), MAX_NAME);
        v.finish()?;
        let id = id.unwrap();
        let workspaces = if tenant.get_account(id).await?.is_some() {
            tenant
                .list_workspaces()
                .await?
                .into_iter()
                .filter(|w| w.account_id == id)
                .map(|w| w.id)
                .collect()
        } else if let Some(ws) = tenant.workspace(id).await? {
            vec![ws.id]
        } else {
            return Err(Error::not_found_target("Account", id, "accountId"));
        };
        let rows = tenant
            .workspace_users(&workspaces, query.as_deref(), role)
            .await?;
        Ok(rows.into_iter().map(wire::workspace_user).collect())
    }

    pub async fn assign_users_to_workspace(
        &self,
        ctx: &OrgCtx,
        req: AssignUsersToWorkspaceRequest,
    ) -> Result<bool> {
        let tenant = self.store.tenant(&ctx.org);
        let mut v = Validator::new();
        let ws = v.uuid("workspaceId", req.workspace_id.as_deref());
        let role = v.workspace_role("role", req.role.as_deref());
        let ids = req.user_ids.unwrap_or_default();
        if ids.is_empty() {
            v.add("userIds", "At least one user id is required.");
        }
        if ids.len() > MAX_BATCH {
            v.add("userIds", format!("At most {MAX_BATCH} users per request."));
        }
        let ids: Vec<Uuid> = ids
            .iter()
            .enumerate()
            .take(MAX_BATCH)
            .filter_map(|(i, s)| v.uuid(&format!("userIds[{i}]"), Some(s)))
            .collect();
        v.finish()?;
        let (ws, role) = (ws.unwrap(), role.unwrap());
        let Some(workspace) = tenant.workspace(ws).await? else {
            return Err(Error::field(
                "workspaceId",
                format!("Workspace '{ws}' does not exist in this organization."),
            ));
        };
        let existing = tenant.existing_users(&ids).await?;
        let mut v = Validator::new();
        for (i, id) in ids.iter().enumerate() {
            if !existing.contains(id) {
                v.add(
                    format!("userIds[{i}]"),
                    format!("User '{id}' does not exist in this organization."),
                );
            }
        }
        v.finish()?;
        tenant
            .grant_roles(&workspace.id, PrincipalKind::User, &ids, role)
            .await?;
        Ok(true)
    }
}
