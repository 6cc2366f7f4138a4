//! Data connectors (`DataSource`), their hourly volume, and connector anomalies
//! (docs/datasources.md).

use crate::examples::example;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::incidents::{wire_enum, IncidentSource, Severity, TimeFilterSelection};
use crate::spelling::{AnomalyWindow, Spelled};

wire_enum! {
    /// The kind of a data connector. The six incident sources, `AzureActiveDirectory` (sign-in
    /// logs) and `AzureActiveDirectoryAudit` (directory audit logs) are fed by Palisade's own
    /// ingest (at most one connector of each per workspace); the others only through
    /// `POST …/datasources/{dataConnectorId}/volume`.
    ConnectorType {
        Sentinel, DefenderXDR, CrowdStrike, QRadar, Splunk, SentinelOne,
        AzureActiveDirectory, AzureActiveDirectoryAudit, MicrosoftOffice, Syslog, Custom
    }
}

impl ConnectorType {
    /// Whether Palisade's ingest routes feed this kind (one such connector per workspace).
    pub fn is_ingest_fed(self) -> bool {
        !matches!(
            self,
            ConnectorType::MicrosoftOffice | ConnectorType::Syslog | ConnectorType::Custom
        )
    }

    /// The connector an incident source's ingest counts toward.
    pub fn of_source(s: IncidentSource) -> ConnectorType {
        match s {
            IncidentSource::Sentinel => ConnectorType::Sentinel,
            IncidentSource::DefenderXDR => ConnectorType::DefenderXDR,
            IncidentSource::CrowdStrike => ConnectorType::CrowdStrike,
            IncidentSource::QRadar => ConnectorType::QRadar,
            IncidentSource::Splunk => ConnectorType::Splunk,
            IncidentSource::SentinelOne => ConnectorType::SentinelOne,
        }
    }

    /// Default display name, provider and description.
    pub fn defaults(self) -> (&'static str, &'static str, &'static str) {
        match self {
            ConnectorType::Sentinel => (
                "Microsoft Sentinel",
                "Microsoft",
                "Incidents from Microsoft Sentinel",
            ),
            ConnectorType::DefenderXDR => (
                "Microsoft Defender XDR",
                "Microsoft",
                "Incidents from Microsoft Defender XDR",
            ),
            ConnectorType::CrowdStrike => (
                "CrowdStrike Falcon",
                "CrowdStrike",
                "Incidents from CrowdStrike Falcon",
            ),
            ConnectorType::QRadar => ("IBM QRadar", "IBM", "Offenses from IBM QRadar"),
            ConnectorType::Splunk => (
                "Splunk Enterprise Security",
                "Splunk",
                "Notable events from Splunk Enterprise Security",
            ),
            ConnectorType::SentinelOne => (
                "SentinelOne Singularity",
                "SentinelOne",
                "Threats from SentinelOne Singularity",
            ),
            ConnectorType::AzureActiveDirectory => (
                "Microsoft Entra ID sign-in logs",
                "Microsoft",
                "User sign-in logs",
            ),
            ConnectorType::AzureActiveDirectoryAudit => (
                "Microsoft Entra ID audit logs",
                "Microsoft",
                "Directory audit logs",
            ),
            ConnectorType::MicrosoftOffice => ("Microsoft 365", "Microsoft", "Office 365 activity"),
            ConnectorType::Syslog => ("Syslog", "Custom", "Syslog messages"),
            ConnectorType::Custom => ("Custom connector", "Custom", "Data from a custom pipeline"),
        }
    }
}

/// One `parametersHelper` entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParameterHelper {
    #[schemars(required)]
    pub property_name: Option<String>,
    pub property_value: Option<String>,
}

/// A data connector of a workspace (the documented `DataSource`, plus `workspaceId`,
/// `createdDateTime` and `autoCreated`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("DataSource"))]
pub struct DataSource {
    pub name: String,
    pub icon: Option<String>,
    pub data_connector_id: Uuid,
    pub provider: String,
    pub description: Option<String>,
    pub connector_type: ConnectorType,
    pub connected: bool,
    pub modification_date_time: DateTime<Utc>,
    pub parameters_helper: Vec<ParameterHelper>,
    pub workspace_id: Uuid,
    pub created_date_time: DateTime<Utc>,
    /// Created by Palisade on the first ingest for a kind the workspace had no connector of.
    pub auto_created: bool,
    /// A polled connector's interval between polls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval_secs: Option<i64>,
    /// A polled connector's first instant pulled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_from: Option<DateTime<Utc>>,
    /// A polled connector's health (as `GET …/{dataConnectorId}/status`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ConnectorStatus>,
}

wire_enum! {
    /// `Healthy`: the last poll worked. `Degraded`: the source throttles or is unavailable
    /// (retried after its `Retry-After` or with backoff). `Failing`: the source refuses the
    /// settings or credentials, or has failed repeatedly. `Paused`: not polled.
    ConnectorState { Healthy, Degraded, Failing, Paused }
}

/// `GET …/datasources/{dataConnectorId}/status`: a polled connector's health.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorStatus {
    pub state: ConnectorState,
    pub last_poll_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// Every change up to this instant of the source has been committed.
    pub cursor: String,
    /// Items read from the source so far.
    pub pulled_total: i64,
    /// Changes made in Palisade waiting to be written back to the source.
    pub write_backs_pending: i64,
    /// Changes given up on.
    pub write_backs_failed: i64,
    /// When the next poll is due (absent while paused).
    pub next_poll_at: Option<DateTime<Utc>>,
}

/// Body of `POST`/`PUT …/datasources[/{dataConnectorId}]`. On create `connectorType` is
/// required; on update absent fields are left unchanged. With `settings` and `credentials`
/// an incident source's data source becomes a connector that Palisade polls
/// ([the connectors guide](/docs/connectors.md)).
#[derive(Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("DataSourceRequest"))]
pub struct DataSourceRequest {
    #[schemars(with = "Option<Spelled<ConnectorType>>")]
    pub connector_type: Option<String>,
    /// Default: the connector type's display name.
    pub name: Option<String>,
    pub provider: Option<String>,
    pub description: Option<String>,
    pub icon: Option<String>,
    /// Default `true`. A disconnected connector is never reported as anomalous.
    pub connected: Option<bool>,
    /// Non-secret settings shown to users (at most 50). A polled connector shows its
    /// `settings` here instead.
    pub parameters_helper: Option<Vec<ParameterHelper>>,
    /// A polled connector's incident source (must match `connectorType`; optional).
    #[schemars(with = "Option<Spelled<IncidentSource>>")]
    pub source: Option<String>,
    /// A polled connector: seconds between polls (default 60, at least 10).
    pub poll_interval_secs: Option<i64>,
    /// A polled connector: pull what changed since (default: 24 hours ago).
    #[schemars(with = "Option<DateTime<Utc>>")]
    pub start_from: Option<String>,
    /// A polled connector's non-secret settings (Sentinel: `tenantId`, `clientId`,
    /// `subscriptionId`, `resourceGroup`, `workspaceName`; Defender XDR: `tenantId`,
    /// `clientId`; optional `cloud`, `baseUrl`, `authorityUrl`, `pageSize`, `overlapSecs`),
    /// echoed as `parametersHelper`.
    pub settings: Option<serde_json::Value>,
    /// A polled connector's secrets (`{clientSecret}`): sealed at rest, never returned or
    /// logged. On update, absent keeps the stored ones.
    pub credentials: Option<serde_json::Value>,
}

impl std::fmt::Debug for DataSourceRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataSourceRequest")
            .field("connector_type", &self.connector_type)
            .field("name", &self.name)
            .field("settings", &self.settings)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// One hour of volume to record.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VolumeEntry {
    /// Any instant within the hour (truncated to the UTC hour); up to 90 days back, not in a
    /// future hour.
    #[schemars(with = "DateTime<Utc>")]
    pub hour_start: Option<String>,
    #[schemars(required)]
    pub events: Option<i64>,
    /// Default 0.
    pub bytes: Option<i64>,
}

/// Body of `POST …/datasources/{dataConnectorId}/volume`: up to 1,000 entries, added to what
/// the hours already hold.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("RecordVolumeRequest"))]
pub struct RecordVolumeRequest {
    #[schemars(required)]
    pub entries: Option<Vec<VolumeEntry>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordVolumeResult {
    pub data_connector_id: Uuid,
    pub hours: usize,
    pub events: i64,
    pub bytes: i64,
}

/// A connector's volume in one UTC hour.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VolumeHour {
    pub hour_start: DateTime<Utc>,
    pub events: i64,
    pub bytes: i64,
}

/// `GET /datasources/across-workspaces`: one entry per visible workspace.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceDataSources {
    pub workspace_id: Uuid,
    pub workspace_name: String,
    pub data_sources: Vec<DataSource>,
}

/// `timeFilterSelection` of the anomaly report, as documented (schema only: the request is
/// read as [`TimeFilterSelection`], whose `type` takes other values on the incident listing).
#[derive(JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub struct AnomalyTimeFilterSelection {
    #[serde(rename = "type")]
    #[schemars(with = "Option<Spelled<AnomalyWindow>>")]
    type_: Option<String>,
    #[schemars(with = "Option<DateTime<Utc>>")]
    custom_start_utc: Option<String>,
    #[schemars(with = "Option<DateTime<Utc>>")]
    custom_end_utc: Option<String>,
}

/// Body of `POST /datasources/across-workspaces/anomalies` (`ListMultipleWorkspacesGeneralRequestDto`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(example = example!("AnomaliesRequest"))]
pub struct AnomaliesRequest {
    /// Workspaces to examine; absent or empty: every workspace the caller holds a role on.
    /// Workspaces the caller holds no role on are skipped silently.
    #[schemars(with = "Option<Vec<Uuid>>")]
    pub workspace_ids: Option<Vec<String>>,
    /// `type`: `OneHour`, `ThreeHours`, `SixHours`, `TwelveHours`, `TwentyFourHours`
    /// (default), `FourtyEightHours`, `SevenDays`, `ThirtyDays` or `Custom` (with
    /// `customStartUtc` and `customEndUtc`, at most 31 days).
    #[schemars(with = "Option<AnomalyTimeFilterSelection>")]
    pub time_filter_selection: Option<TimeFilterSelection>,
}

wire_enum! {
    /// Silence: no data where the baseline expects some. Drop / Spike: far below / above it.
    AnomalyType { Silence, Drop, Spike }
}

/// A run of consecutive anomalous hours of one connector, of one type.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataConnectorAnomaly {
    pub workspace_id: Uuid,
    pub workspace_name: String,
    pub data_connector_id: Uuid,
    pub connector_name: String,
    pub connector_type: ConnectorType,
    pub anomaly_type: AnomalyType,
    /// `Low`, `Medium` or `High` (the worst hour of the run).
    pub severity: Severity,
    /// Start of the first hour.
    pub start_time: DateTime<Utc>,
    /// End of the last hour (exclusive).
    pub end_time: DateTime<Utc>,
    pub hours: u32,
    /// Sum over the run of each hour's baseline median.
    pub expected_events: f64,
    pub observed_events: i64,
    /// `observedEvents / expectedEvents` (0 for silence).
    pub ratio: f64,
    /// The fewest baseline days any hour of the run had (3 to 7).
    pub baseline_days: u32,
}

/// Response of `POST /datasources/across-workspaces/anomalies` (`DataConnectorAnomaliesDto`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataConnectorAnomalies {
    /// Newest first.
    pub anomalies: Vec<DataConnectorAnomaly>,
    /// The examined hours: `[examinedFrom, examinedUntil)`, whole UTC hours.
    pub examined_from: DateTime<Utc>,
    pub examined_until: DateTime<Utc>,
    pub workspaces_examined: usize,
    pub connectors_examined: usize,
}
