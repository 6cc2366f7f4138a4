//! The Azure resource routes (`/azure-resources/...`): ARM calls through [`AzureClient`] and
//! the mapping of ARM's resources to Palisade's shapes (`palisade_types::azure`, documented in
//! `docs/azure.md`).

use std::sync::Arc;

use palisade_domain::{Error, Result};
use palisade_types::azure::{
    AnalyticsRule, AzureResourceGroup, AzureSubscription, CheckStatus, LogAnalyticsWorkspace,
    NetworkSecurityGroup, OwnerRoleAssignment, SentinelInstance, SubscriptionOwnership,
    WorkspaceCheck, WorkspaceValidation,
};
use reqwest::Method;
use serde_json::Value;
use uuid::Uuid;

use crate::azure::{AzureClient, AzureError};

mod access;
mod arm;
#[cfg(test)]
mod tests;

use access::{access_check, check};
use arm::*;

pub const API_SUBSCRIPTIONS: &str = "2022-12-01";
pub const API_RESOURCE_GROUPS: &str = "2021-04-01";
pub const API_NETWORK: &str = "2023-09-01";
pub const API_LOG_ANALYTICS: &str = "2022-10-01";
pub const API_SECURITY_INSIGHTS: &str = "2024-03-01";
pub const API_AUTHORIZATION: &str = "2022-04-01";
/// The built-in Owner role definition.
pub const OWNER_ROLE_ID: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
/// Onboarding-state lookups of one Sentinel listing run at most this many at a time.
const SENTINEL_LOOKUPS_IN_FLIGHT: usize = 8;

/// What the validation's access checks require.
pub const READ_ACTIONS: &[&str] = &[
    "Microsoft.OperationalInsights/workspaces/read",
    "Microsoft.SecurityInsights/incidents/read",
    "Microsoft.SecurityInsights/alertRules/read",
];
pub const WRITE_ACTIONS: &[&str] = &["Microsoft.SecurityInsights/alertRules/write"];

/// The Azure integration. Exists only when Azure credentials are configured.
#[derive(Debug, Clone)]
pub struct AzureService {
    client: Arc<AzureClient>,
}

// ---------------------------------------------------------------- input checks

/// A subscription id in a path: anything but a GUID names no subscription.
fn subscription_in_path(raw: &str) -> Result<String> {
    match Uuid::parse_str(raw) {
        Ok(id) if raw.len() == 36 => Ok(id.to_string()),
        _ => Err(Error::not_found_target(
            "Subscription",
            clip(raw),
            "subscriptionId",
        )),
    }
}

fn clip(raw: &str) -> String {
    raw.chars().take(90).collect()
}

/// ARM's resource-group naming rule: 1–90 letters, digits, `_ - . ( )`, not ending in `.`.
fn valid_resource_group(s: &str) -> bool {
    let n = s.chars().count();
    (1..=90).contains(&n)
        && !s.ends_with('.')
        && s.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '(' | ')'))
}

/// Log Analytics workspace names: 1–63 ASCII letters, digits and hyphens.
fn valid_workspace_name(s: &str) -> bool {
    (1..=63).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn valid_rule_name(s: &str) -> bool {
    (1..=256).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn resource_group_in_path(raw: &str) -> Result<&str> {
    if valid_resource_group(raw) {
        Ok(raw)
    } else {
        Err(Error::not_found_target(
            "Resource group",
            clip(raw),
            "resourceGroup",
        ))
    }
}

/// A parsed `{ruleId}`: the full ARM id of a Sentinel analytics rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleAddress {
    pub subscription_id: String,
    pub resource_group: String,
    pub workspace: String,
    pub rule: String,
}

impl RuleAddress {
    /// `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.OperationalInsights/workspaces/{ws}/providers/Microsoft.SecurityInsights/alertRules/{rule}`
    /// (keywords in any letter case; the leading `/` may be left out).
    pub fn parse(raw: &str) -> Result<RuleAddress> {
        let invalid = || {
            Error::field(
                "ruleId",
                "'ruleId' must be the full ARM resource id of a Microsoft Sentinel analytics rule, URL-encoded: /subscriptions/{subscriptionId}/resourceGroups/{resourceGroup}/providers/Microsoft.OperationalInsights/workspaces/{workspaceName}/providers/Microsoft.SecurityInsights/alertRules/{ruleName}",
            )
        };
        let segs: Vec<&str> = raw.trim_start_matches('/').split('/').collect();
        let keywords = [
            (0, "subscriptions"),
            (2, "resourceGroups"),
            (4, "providers"),
            (5, "Microsoft.OperationalInsights"),
            (6, "workspaces"),
            (8, "providers"),
            (9, "Microsoft.SecurityInsights"),
            (10, "alertRules"),
        ];
        if segs.len() != 12
            || keywords
                .iter()
                .any(|(i, k)| !segs[*i].eq_ignore_ascii_case(k))
        {
            return Err(invalid());
        }
        let sub = Uuid::parse_str(segs[1])
            .ok()
            .filter(|_| segs[1].len() == 36)
            .ok_or_else(invalid)?;
        if !valid_resource_group(segs[3])
            || !valid_workspace_name(segs[7])
            || !valid_rule_name(segs[11])
        {
            return Err(invalid());
        }
        Ok(RuleAddress {
            subscription_id: sub.to_string(),
            resource_group: segs[3].to_string(),
            workspace: segs[7].to_string(),
            rule: segs[11].to_string(),
        })
    }
}

/// Sets the `target` of a not-found error from ARM's code.
fn targeted(e: AzureError, default: &str) -> Error {
    let target = match &e {
        AzureError::Arm { code, .. } if code.eq_ignore_ascii_case("SubscriptionNotFound") => {
            "subscriptionId"
        }
        AzureError::Arm { code, .. } if code.eq_ignore_ascii_case("ResourceGroupNotFound") => {
            "resourceGroup"
        }
        _ => default,
    };
    match e.into_domain() {
        Error::NotFound { detail, .. } => Error::NotFound {
            detail,
            target: Some(target.to_string()),
        },
        other => other,
    }
}

// ---------------------------------------------------------------- the routes

impl AzureService {
    pub fn new(client: AzureClient) -> Self {
        AzureService {
            client: Arc::new(client),
        }
    }

    pub async fn subscriptions(&self) -> Result<Vec<AzureSubscription>> {
        let url = self.client.url(&["subscriptions"], API_SUBSCRIPTIONS, &[]);
        let items = self.client.list(url).await?;
        Ok(items.iter().map(subscription).collect())
    }

    /// Whether the integration's principal holds Owner at (or above) the subscription.
    pub async fn is_owner(&self, subscription_id: Option<&str>) -> Result<SubscriptionOwnership> {
        let raw = subscription_id.unwrap_or("").trim();
        if raw.is_empty() {
            return Err(Error::field(
                "subscriptionId",
                "'subscriptionId' is required.",
            ));
        }
        let sub = match Uuid::parse_str(raw) {
            Ok(id) if raw.len() == 36 => id.to_string(),
            _ => {
                return Err(Error::field(
                    "subscriptionId",
                    "'subscriptionId' must be a subscription GUID.",
                ))
            }
        };
        let principal = self.client.principal_object_id().await?;
        let principal = Uuid::parse_str(&principal)
            .map(|u| u.to_string())
            .map_err(|_| {
                Error::IntegrationNotConfigured(
                    "The Azure access token's object id is not a GUID.".into(),
                )
            })?;
        let filter = format!("principalId eq '{principal}'");
        let url = self.client.url(
            &[
                "subscriptions",
                &sub,
                "providers",
                "Microsoft.Authorization",
                "roleAssignments",
            ],
            API_AUTHORIZATION,
            &[("$filter", &filter)],
        );
        let assignments = match self.client.list(url).await {
            Ok(a) => a,
            // No right even to read role assignments there: certainly not an Owner.
            Err(AzureError::Arm { status: 403, .. }) => Vec::new(),
            Err(e) => return Err(targeted(e, "subscriptionId")),
        };
        let sub_scope = format!("/subscriptions/{sub}");
        let owner_suffix = format!("/{OWNER_ROLE_ID}");
        let owner_role_assignments: Vec<OwnerRoleAssignment> = assignments
            .iter()
            .filter_map(|a| {
                let p = &a["properties"];
                let role = p["roleDefinitionId"].as_str()?;
                let scope = p["scope"].as_str()?;
                let holder = p["principalId"].as_str().unwrap_or(&principal);
                // `principalId eq` also returns assignments below the subscription (on
                // resource groups and resources); only those at or above it count.
                let applies = scope.eq_ignore_ascii_case(&sub_scope)
                    || scope == "/"
                    || scope
                        .to_ascii_lowercase()
                        .starts_with("/providers/microsoft.management/managementgroups/");
                (role.to_ascii_lowercase().ends_with(&owner_suffix)
                    && holder.eq_ignore_ascii_case(&principal)
                    && applies)
                    .then(|| OwnerRoleAssignment {
                        id: text(&a["id"]).unwrap_or_default(),
                        scope: scope.to_string(),
                        role_definition_id: role.to_string(),
                    })
            })
            .collect();
        Ok(SubscriptionOwnership {
            subscription_id: sub,
            principal_id: principal,
            is_owner: !owner_role_assignments.is_empty(),
            owner_role_assignments,
        })
    }

    pub async fn network_security_groups(
        &self,
        subscription_id: &str,
    ) -> Result<Vec<NetworkSecurityGroup>> {
        let items = self
            .list_in_subscription(
                subscription_id,
                &["providers", "Microsoft.Network", "networkSecurityGroups"],
                API_NETWORK,
            )
            .await?;
        Ok(items.iter().map(network_security_group).collect())
    }

    pub async fn resource_groups(&self, subscription_id: &str) -> Result<Vec<AzureResourceGroup>> {
        let items = self
            .list_in_subscription(subscription_id, &["resourcegroups"], API_RESOURCE_GROUPS)
            .await?;
        Ok(items.iter().map(resource_group).collect())
    }

    /// Every page of an ARM list under a subscription given in the path; ARM's failures name
    /// `subscriptionId`.
    async fn list_in_subscription(
        &self,
        subscription_id: &str,
        under: &[&str],
        api_version: &str,
    ) -> Result<Vec<serde_json::Value>> {
        let sub = subscription_in_path(subscription_id)?;
        let mut segments = vec!["subscriptions", sub.as_str()];
        segments.extend_from_slice(under);
        let url = self.client.url(&segments, api_version, &[]);
        self.client
            .list(url)
            .await
            .map_err(|e| targeted(e, "subscriptionId"))
    }

    fn workspaces_url(&self, sub: &str, rg: &str) -> reqwest::Url {
        self.client.url(
            &[
                "subscriptions",
                sub,
                "resourceGroups",
                rg,
                "providers",
                "Microsoft.OperationalInsights",
                "workspaces",
            ],
            API_LOG_ANALYTICS,
            &[],
        )
    }

    async fn raw_workspaces(&self, subscription_id: &str, rg: &str) -> Result<Vec<Value>> {
        let sub = subscription_in_path(subscription_id)?;
        let rg = resource_group_in_path(rg)?;
        self.client
            .list(self.workspaces_url(&sub, rg))
            .await
            .map_err(|e| targeted(e, "resourceGroup"))
    }

    pub async fn workspaces(
        &self,
        subscription_id: &str,
        rg: &str,
    ) -> Result<Vec<LogAnalyticsWorkspace>> {
        let items = self.raw_workspaces(subscription_id, rg).await?;
        Ok(items.iter().map(workspace).collect())
    }

    /// The URL of a resource's sub-path: `{resource id}/{tail…}`.
    fn under(&self, resource_id: &str, tail: &[&str], api_version: &str) -> reqwest::Url {
        let mut segs: Vec<&str> = resource_id.split('/').filter(|s| !s.is_empty()).collect();
        segs.extend_from_slice(tail);
        self.client.url(&segs, api_version, &[])
    }

    /// The Sentinel onboarding state of a workspace, or `None` when Sentinel is not onboarded.
    async fn onboarding_state(
        client: &AzureClient,
        url: reqwest::Url,
    ) -> std::result::Result<Option<Value>, AzureError> {
        match client.get(url).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn onboarding_url(&self, workspace_id: &str) -> reqwest::Url {
        self.under(
            workspace_id,
            &[
                "providers",
                "Microsoft.SecurityInsights",
                "onboardingStates",
                "default",
            ],
            API_SECURITY_INSIGHTS,
        )
    }

    /// Workspaces of the resource group with Sentinel onboarded. The onboarding state of each
    /// workspace is read concurrently (a few at a time); the order of ARM's list is kept.
    pub async fn sentinels(
        &self,
        subscription_id: &str,
        rg: &str,
    ) -> Result<Vec<SentinelInstance>> {
        let items = self.raw_workspaces(subscription_id, rg).await?;
        let workspaces: Vec<LogAnalyticsWorkspace> = items.iter().map(workspace).collect();
        let mut states: Vec<Option<Value>> = vec![None; workspaces.len()];
        let mut set = tokio::task::JoinSet::new();
        let mut queue = workspaces.iter().enumerate();
        loop {
            while set.len() < SENTINEL_LOOKUPS_IN_FLIGHT {
                let Some((i, ws)) = queue.next() else { break };
                let client = self.client.clone();
                let url = self.onboarding_url(&ws.id);
                set.spawn(async move { (i, Self::onboarding_state(&client, url).await) });
            }
            let Some(done) = set.join_next().await else {
                break;
            };
            let (i, state) = done.map_err(Error::internal)?;
            states[i] = state.map_err(|e| e.into_domain())?;
        }
        Ok(workspaces
            .into_iter()
            .zip(states)
            .filter_map(|(ws, state)| {
                let state = state?;
                Some(SentinelInstance {
                    sentinel_onboarding_state_id: text(&state["id"]).unwrap_or_else(|| {
                        format!(
                            "{}/providers/Microsoft.SecurityInsights/onboardingStates/default",
                            ws.id
                        )
                    }),
                    customer_managed_key: state["properties"]["customerManagedKey"]
                        .as_bool()
                        .unwrap_or(false),
                    workspace: ws,
                })
            })
            .collect())
    }

    /// Whether a Sentinel-attached workspace is usable: it exists, Sentinel is onboarded, and
    /// the principal may read it (and, not required, change its analytics rules).
    pub async fn validate(
        &self,
        subscription_id: &str,
        rg: &str,
        name: &str,
    ) -> Result<WorkspaceValidation> {
        let sub = subscription_in_path(subscription_id)?;
        let rg = resource_group_in_path(rg)?;
        if !valid_workspace_name(name) {
            return Err(Error::not_found_target(
                "Workspace",
                clip(name),
                "workspaceName",
            ));
        }
        let mut out = WorkspaceValidation {
            subscription_id: sub.clone(),
            resource_group: rg.to_string(),
            workspace_name: name.to_string(),
            workspace_id: None,
            customer_id: None,
            valid: false,
            checks: Vec::new(),
        };
        let skipped = |name, required| {
            check(
                name,
                required,
                CheckStatus::Skipped,
                "Not checked: the workspace was not found.",
            )
        };
        let mut ws_url = self.workspaces_url(&sub, rg);
        ws_url.path_segments_mut().expect("base URL").push(name);
        let found = match self.client.get(ws_url).await {
            Ok(v) => {
                let ws = workspace(&v);
                out.checks.push(check(
                    WorkspaceCheck::WorkspaceExists,
                    true,
                    CheckStatus::Passed,
                    format!(
                        "Workspace '{name}' exists (provisioning state {}).",
                        ws.provisioning_state.as_deref().unwrap_or("unknown")
                    ),
                ));
                out.workspace_id = Some(ws.id.clone());
                out.customer_id = ws.customer_id.clone();
                Some(ws)
            }
            Err(e @ AzureError::Arm { status: 404, .. })
            | Err(e @ AzureError::Arm { status: 403, .. }) => {
                let detail = if e.status() == Some(403) {
                    format!(
                        "The Azure principal may not read workspace '{name}' ({}).",
                        e.summary()
                    )
                } else {
                    format!("Workspace '{name}' was not found ({}).", e.summary())
                };
                out.checks.push(check(
                    WorkspaceCheck::WorkspaceExists,
                    true,
                    CheckStatus::Failed,
                    detail,
                ));
                None
            }
            Err(e) => return Err(e.into_domain()),
        };
        let Some(ws) = found else {
            out.checks
                .push(skipped(WorkspaceCheck::SentinelOnboarded, true));
            out.checks.push(skipped(WorkspaceCheck::ReadAccess, true));
            out.checks
                .push(skipped(WorkspaceCheck::AnalyticsRulesWriteAccess, false));
            return Ok(out);
        };
        let onboarded =
            match Self::onboarding_state(&self.client, self.onboarding_url(&ws.id)).await {
                Ok(Some(_)) => check(
                    WorkspaceCheck::SentinelOnboarded,
                    true,
                    CheckStatus::Passed,
                    "Microsoft Sentinel is onboarded on the workspace.",
                ),
                Ok(None) => check(
                    WorkspaceCheck::SentinelOnboarded,
                    true,
                    CheckStatus::Failed,
                    "Microsoft Sentinel is not onboarded on the workspace.",
                ),
                Err(e @ AzureError::Arm { status: 403, .. }) => check(
                    WorkspaceCheck::SentinelOnboarded,
                    true,
                    CheckStatus::Failed,
                    format!(
                        "The Azure principal may not read the Sentinel onboarding state ({}).",
                        e.summary()
                    ),
                ),
                Err(e) => return Err(e.into_domain()),
            };
        out.checks.push(onboarded);
        let perms_url = self.under(
            &ws.id,
            &["providers", "Microsoft.Authorization", "permissions"],
            API_AUTHORIZATION,
        );
        let permissions = match self.client.list(perms_url).await {
            Ok(p) => Ok(p),
            Err(
                e @ AzureError::Arm {
                    status: 400..=499, ..
                },
            ) => Err(e),
            Err(e) => return Err(e.into_domain()),
        };
        out.checks.push(access_check(
            WorkspaceCheck::ReadAccess,
            true,
            &permissions,
            READ_ACTIONS,
        ));
        out.checks.push(access_check(
            WorkspaceCheck::AnalyticsRulesWriteAccess,
            false,
            &permissions,
            WRITE_ACTIONS,
        ));
        out.valid = out
            .checks
            .iter()
            .all(|c| !c.required || c.status == CheckStatus::Passed);
        Ok(out)
    }

    /// Enables or disables an analytics rule: GET it, flip `properties.enabled`, PUT it back
    /// with its `etag` (ARM answers 412/409 if it changed in between → `CONFLICT`). A rule
    /// already in the requested state is not written.
    pub async fn set_rule_enabled(&self, rule_id: &str, enabled: bool) -> Result<AnalyticsRule> {
        let at = RuleAddress::parse(rule_id)?;
        let url = self.client.url(
            &[
                "subscriptions",
                &at.subscription_id,
                "resourceGroups",
                &at.resource_group,
                "providers",
                "Microsoft.OperationalInsights",
                "workspaces",
                &at.workspace,
                "providers",
                "Microsoft.SecurityInsights",
                "alertRules",
                &at.rule,
            ],
            API_SECURITY_INSIGHTS,
            &[],
        );
        let rule = self
            .client
            .get(url.clone())
            .await
            .map_err(|e| targeted(e, "ruleId"))?;
        if rule["properties"]["enabled"].as_bool() == Some(enabled) {
            return Ok(analytics_rule(&rule, false));
        }
        let mut properties = rule["properties"].clone();
        if !properties.is_object() {
            return Err(Error::UpstreamUnavailable {
                detail: "Azure Resource Manager returned an analytics rule without properties."
                    .into(),
                retry_after_secs: 5,
            });
        }
        properties["enabled"] = Value::Bool(enabled);
        let mut body = serde_json::json!({ "kind": rule["kind"], "properties": properties });
        if let Some(etag) = rule["etag"].as_str() {
            body["etag"] = Value::String(etag.to_string());
        }
        tracing::info!(rule = %at.rule, workspace = %at.workspace, enabled, "changing a Sentinel analytics rule");
        let updated = self
            .client
            .call(Method::PUT, url, Some(&body))
            .await
            .map_err(|e| targeted(e, "ruleId"))?;
        Ok(analytics_rule(&updated, true))
    }
}
