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

// ---------------------------------------------------------------- route table

const AZURE: &str = "Azure Resources";

/// This resource's routes, in the order of the table `super::api()` assembles.
#[rustfmt::skip]
pub(super) fn routes(api: super::Api) -> super::Api {
    use super::table::*;
    api
        .route(Method::GET, "/api/v2/azure-resources/subscriptions", Org(OrgAzureRead),
            doc("v2-list-azure-subscriptions", AZURE, "List the Azure subscriptions visible to the integration's Azure principal")
                .describe("Every page of ARM's list (followed through `nextLink`). 503 `INTEGRATION_NOT_CONFIGURED` without Azure credentials; see [the Azure guide](/docs/azure.md) for how ARM failures map to problems.")
                .returns::<Vec<AzureSubscription>>(),
            subscriptions)
        .route(Method::GET, "/api/v2/azure-resources/subscriptions/is-owner", Org(OrgAzureRead),
            doc("v2-azure-subscription-is-owner", AZURE, "Whether the integration's Azure principal is an Owner of the subscription")
                .describe("Owner (role definition `8e3af657-a8ff-443c-a75c-2fe8c4bcb635`) assigned to the principal itself at the subscription, a management group above it, or the root. Without permission to read the subscription's role assignments the answer is `isOwner: false`.")
                .query("subscriptionId", true, "The subscription GUID.", json!({"type": "string", "format": "uuid"}))
                .returns::<SubscriptionOwnership>(),
            is_owner)
        .route(Method::GET, "/api/v2/azure-resources/subscriptions/{subscriptionId}/network-security-groups", Org(OrgAzureRead),
            doc("v2-list-azure-network-security-groups", AZURE, "List the network security groups of a subscription").returns::<Vec<NetworkSecurityGroup>>(),
            network_security_groups)
        .route(Method::GET, "/api/v2/azure-resources/subscriptions/{subscriptionId}/resource-groups", Org(OrgAzureRead),
            doc("v2-list-azure-resource-groups", AZURE, "List the resource groups of a subscription").returns::<Vec<AzureResourceGroup>>(),
            resource_groups)
        .route(Method::GET, "/api/v2/azure-resources/subscriptions/{subscriptionId}/resource-groups/{resourceGroup}/workspaces", Org(OrgAzureRead),
            doc("v2-list-azure-log-analytics-workspaces", AZURE, "List the Log Analytics workspaces of a resource group").returns::<Vec<LogAnalyticsWorkspace>>(),
            workspaces)
        .route(Method::GET, "/api/v2/azure-resources/subscriptions/{subscriptionId}/resource-groups/{resourceGroup}/sentinels", Org(OrgAzureRead),
            doc("v2-list-azure-sentinels", AZURE, "List the Microsoft Sentinel instances (workspaces with Sentinel onboarded) of a resource group").returns::<Vec<SentinelInstance>>(),
            sentinels)
        .route(Method::GET, "/api/v2/azure-resources/subscriptions/{subscriptionId}/resource-groups/{resourceGroup}/workspaces/{workspaceName}/validate", Org(OrgAzureRead),
            doc("v2-validate-azure-sentinel-workspace", AZURE, "Validate a Sentinel-attached workspace, check by check")
                .describe("Checks, in order: `WorkspaceExists`, `SentinelOnboarded`, `ReadAccess` (required) and `AnalyticsRulesWriteAccess` (informational). A failed check is a result (`valid: false`), not an error.")
                .returns::<WorkspaceValidation>(),
            validate_workspace)
        .route(Method::PUT, "/api/v2/azure-resources/analytical-rules/{ruleId}", Org(OrgAzureManage),
            doc("v2-set-azure-analytical-rule-enabled", AZURE, "Enable or disable a Microsoft Sentinel analytics rule")
                .describe("`{ruleId}` is the rule's full ARM resource id, URL-encoded into one path segment (`%2Fsubscriptions%2F…%2FalertRules%2F{ruleName}`). The rule is read, `properties.enabled` set, and written back with its etag; a rule already in the requested state is not written (`changed: false`). A concurrent change answers 409 `CONFLICT`.")
                .query("enabled", true, "true to enable, false to disable.", json!({"type": "boolean"}))
                .returns::<AnalyticsRule>(),
            set_analytical_rule)
}
