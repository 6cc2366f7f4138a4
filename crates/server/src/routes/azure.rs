//! `/azure-resources` handlers. Each checks first that the Azure integration is configured
//! (503 `INTEGRATION_NOT_CONFIGURED` otherwise), after the route's scope.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use palisade_domain::Error;
use palisade_types::azure::{
    AnalyticsRule, AzureResourceGroup, AzureSubscription, LogAnalyticsWorkspace,
    NetworkSecurityGroup, SentinelInstance, SubscriptionOwnership, WorkspaceValidation,
};

use crate::access::OrgCtx;
use crate::http::error::ApiResult;
use crate::http::respond::Data;
use crate::AppState;

type Params = Query<HashMap<String, String>>;

fn param<'a>(q: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    q.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

pub async fn subscriptions(
    State(s): State<AppState>,
    _: OrgCtx,
) -> ApiResult<Data<Vec<AzureSubscription>>> {
    Ok(Data(s.azure()?.subscriptions().await?))
}

pub async fn is_owner(
    State(s): State<AppState>,
    _: OrgCtx,
    Query(q): Params,
) -> ApiResult<Data<SubscriptionOwnership>> {
    let azure = s.azure()?;
    Ok(Data(azure.is_owner(param(&q, "subscriptionId")).await?))
}

pub async fn network_security_groups(
    State(s): State<AppState>,
    _: OrgCtx,
    Path(sub): Path<String>,
) -> ApiResult<Data<Vec<NetworkSecurityGroup>>> {
    Ok(Data(s.azure()?.network_security_groups(&sub).await?))
}

pub async fn resource_groups(
    State(s): State<AppState>,
    _: OrgCtx,
    Path(sub): Path<String>,
) -> ApiResult<Data<Vec<AzureResourceGroup>>> {
    Ok(Data(s.azure()?.resource_groups(&sub).await?))
}

pub async fn workspaces(
    State(s): State<AppState>,
    _: OrgCtx,
    Path((sub, rg)): Path<(String, String)>,
) -> ApiResult<Data<Vec<LogAnalyticsWorkspace>>> {
    Ok(Data(s.azure()?.workspaces(&sub, &rg).await?))
}

pub async fn sentinels(
    State(s): State<AppState>,
    _: OrgCtx,
    Path((sub, rg)): Path<(String, String)>,
) -> ApiResult<Data<Vec<SentinelInstance>>> {
    Ok(Data(s.azure()?.sentinels(&sub, &rg).await?))
}

pub async fn validate_workspace(
    State(s): State<AppState>,
    _: OrgCtx,
    Path((sub, rg, name)): Path<(String, String, String)>,
) -> ApiResult<Data<WorkspaceValidation>> {
    Ok(Data(s.azure()?.validate(&sub, &rg, &name).await?))
}

/// `PUT /azure-resources/analytical-rules/{ruleId}?enabled=true|false`. `{ruleId}` is the
/// rule's full ARM id, URL-encoded into one path segment. A body, if any, is ignored.
pub async fn set_analytical_rule(
    State(s): State<AppState>,
    _: OrgCtx,
    Path(rule_id): Path<String>,
    Query(q): Params,
) -> ApiResult<Data<AnalyticsRule>> {
    let azure = s.azure()?;
    let enabled = match param(&q, "enabled").map(str::to_ascii_lowercase).as_deref() {
        Some("true") => true,
        Some("false") => false,
        Some(_) => return Err(Error::field("enabled", "'enabled' must be true or false.").into()),
        None => {
            return Err(Error::field("enabled", "'enabled' is required (true or false).").into())
        }
    };
    Ok(Data(azure.set_rule_enabled(&rule_id, enabled).await?))
}
