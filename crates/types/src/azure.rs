//! Azure resources (`/azure-resources/...`). The public ContraForce documentation lists only the
//! routes; these shapes are Palisade's, distilled from what Azure Resource Manager returns
//! (see `docs/azure.md`). Ids are full ARM resource ids; unknown or absent ARM properties are
//! `null` (or empty lists/maps), never invented.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A subscription the integration's Azure principal can see (ARM `Microsoft.Resources`
/// subscriptions, api-version 2022-12-01).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzureSubscription {
    /// `/subscriptions/{subscriptionId}`.
    pub id: String,
    pub subscription_id: String,
    pub display_name: String,
    /// `Enabled`, `Warned`, `PastDue`, `Disabled` or `Deleted`.
    pub state: String,
    /// The directory (tenant) the subscription belongs to.
    pub tenant_id: Option<String>,
    /// How the principal gets access: `RoleBased`, `Legacy`, … (`null` when ARM omits it).
    pub authorization_source: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// A role assignment that makes the principal an Owner of the subscription.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OwnerRoleAssignment {
    /// ARM id of the role assignment.
    pub id: String,
    /// Where it is assigned: the subscription, a management group above it, or `/`.
    pub scope: String,
    pub role_definition_id: String,
}

/// Whether the integration's Azure principal is an Owner of a subscription.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionOwnership {
    pub subscription_id: String,
    /// Object id (`oid`) of the Azure principal Palisade signs in as.
    pub principal_id: String,
    pub is_owner: bool,
    /// The Owner role assignments (built-in role `8e3af657-a8ff-443c-a75c-2fe8c4bcb635`) held
    /// directly by the principal at the subscription or above it.
    pub owner_role_assignments: Vec<OwnerRoleAssignment>,
}

/// A resource group (api-version 2021-04-01).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzureResourceGroup {
    pub id: String,
    pub name: String,
    pub location: String,
    pub provisioning_state: Option<String>,
    pub managed_by: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// One rule of a network security group. ARM's singular and plural address/port fields are
/// merged into the plural lists.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkSecurityRule {
    pub id: Option<String>,
    pub name: String,
    pub priority: Option<i64>,
    /// `Inbound` or `Outbound`.
    pub direction: Option<String>,
    /// `Allow` or `Deny`.
    pub access: Option<String>,
    /// `Tcp`, `Udp`, `Icmp`, `Esp`, `Ah` or `*`.
    pub protocol: Option<String>,
    pub source_address_prefixes: Vec<String>,
    pub source_port_ranges: Vec<String>,
    pub destination_address_prefixes: Vec<String>,
    pub destination_port_ranges: Vec<String>,
    pub description: Option<String>,
}

/// A network security group (`Microsoft.Network/networkSecurityGroups`, api-version
/// 2023-09-01).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkSecurityGroup {
    pub id: String,
    pub name: String,
    pub resource_group: Option<String>,
    pub location: Option<String>,
    pub provisioning_state: Option<String>,
    /// The group's own rules (Azure's built-in default rules are left out).
    pub security_rules: Vec<NetworkSecurityRule>,
    /// Network interfaces the group is attached to.
    pub network_interface_ids: Vec<String>,
    /// Subnets the group is attached to.
    pub subnet_ids: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

/// A Log Analytics workspace (`Microsoft.OperationalInsights/workspaces`, api-version
/// 2022-10-01).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogAnalyticsWorkspace {
    pub id: String,
    pub name: String,
    pub subscription_id: Option<String>,
    pub resource_group: Option<String>,
    pub location: Option<String>,
    /// The workspace's own GUID (what Log Analytics queries and Sentinel call the workspace id).
    pub customer_id: Option<String>,
    pub provisioning_state: Option<String>,
    /// Pricing tier, e.g. `PerGB2018`.
    pub sku: Option<String>,
    pub retention_in_days: Option<i64>,
    pub created_date: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// A Log Analytics workspace with Microsoft Sentinel onboarded (its
/// `Microsoft.SecurityInsights/onboardingStates/default` exists).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SentinelInstance {
    #[serde(flatten)]
    pub workspace: LogAnalyticsWorkspace,
    /// ARM id of the Sentinel onboarding state.
    pub sentinel_onboarding_state_id: String,
    /// Whether Sentinel was onboarded with a customer-managed key.
    pub customer_managed_key: bool,
}

/// The checks of a workspace validation, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum WorkspaceCheck {
    /// The Log Analytics workspace exists and the principal can read it.
    WorkspaceExists,
    /// Microsoft Sentinel is onboarded on the workspace.
    SentinelOnboarded,
    /// The principal may read the workspace, its incidents and its analytics rules.
    ReadAccess,
    /// The principal may change analytics rules (needed to enable or disable them).
    AnalyticsRulesWriteAccess,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum CheckStatus {
    Passed,
    Failed,
    /// Not run because an earlier check failed.
    Skipped,
}

/// The result of one check.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceCheckResult {
    pub name: WorkspaceCheck,
    /// Whether `valid` depends on this check.
    pub required: bool,
    pub status: CheckStatus,
    pub detail: String,
    /// For access checks: the ARM actions the principal lacks.
    pub missing_actions: Vec<String>,
}

/// Whether a Sentinel-attached workspace is usable by Palisade, check by check.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceValidation {
    pub subscription_id: String,
    pub resource_group: String,
    pub workspace_name: String,
    /// ARM id of the workspace, once found.
    pub workspace_id: Option<String>,
    /// The workspace GUID, once found.
    pub customer_id: Option<String>,
    /// Every required check passed.
    pub valid: bool,
    pub checks: Vec<WorkspaceCheckResult>,
}

/// A Microsoft Sentinel analytics rule after `PUT /azure-resources/analytical-rules/{ruleId}`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsRule {
    /// Full ARM id of the rule (what `{ruleId}` addresses).
    pub id: String,
    /// The rule's name (a GUID for rules created in the portal).
    pub name: String,
    /// `Scheduled`, `NRT`, `Fusion`, `MicrosoftSecurityIncidentCreation`, ….
    pub kind: Option<String>,
    pub display_name: Option<String>,
    pub enabled: bool,
    pub severity: Option<String>,
    /// The rule's etag after the change.
    pub etag: Option<String>,
    pub last_modified_utc: Option<String>,
    /// False when the rule already had the requested state (nothing was written).
    pub changed: bool,
}
