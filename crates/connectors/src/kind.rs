//! The six connector types of DESIGN §10, and how they relate to the data-source
//! `connectorType` and the incident `{source}` that already exist.
//!
//! A polled connector *is* the workspace's data source of that source: `MicrosoftSentinel` is
//! an alias of the data-source type `Sentinel` (and so on), it pulls into the incident source
//! `Sentinel`, and its ingest counts toward that data source's volume. Input accepts either
//! spelling in any letter case; the data source keeps answering its `connectorType` (`Sentinel`).

use palisade_types::datasources::ConnectorType;
use palisade_types::incidents::IncidentSource;
use serde::{Deserialize, Serialize};

/// A connector type that Palisade polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ConnectorKind {
    MicrosoftSentinel,
    MicrosoftDefenderXdr,
    CrowdStrikeFalcon,
    IbmQRadar,
    SplunkEnterpriseSecurity,
    SentinelOne,
}

impl ConnectorKind {
    pub const ALL: [ConnectorKind; 6] = [
        ConnectorKind::MicrosoftSentinel,
        ConnectorKind::MicrosoftDefenderXdr,
        ConnectorKind::CrowdStrikeFalcon,
        ConnectorKind::IbmQRadar,
        ConnectorKind::SplunkEnterpriseSecurity,
        ConnectorKind::SentinelOne,
    ];

    /// The DESIGN §10 name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorKind::MicrosoftSentinel => "MicrosoftSentinel",
            ConnectorKind::MicrosoftDefenderXdr => "MicrosoftDefenderXdr",
            ConnectorKind::CrowdStrikeFalcon => "CrowdStrikeFalcon",
            ConnectorKind::IbmQRadar => "IbmQRadar",
            ConnectorKind::SplunkEnterpriseSecurity => "SplunkEnterpriseSecurity",
            ConnectorKind::SentinelOne => "SentinelOne",
        }
    }

    /// The incident source it pulls into.
    pub fn source(self) -> IncidentSource {
        match self {
            ConnectorKind::MicrosoftSentinel => IncidentSource::Sentinel,
            ConnectorKind::MicrosoftDefenderXdr => IncidentSource::DefenderXDR,
            ConnectorKind::CrowdStrikeFalcon => IncidentSource::CrowdStrike,
            ConnectorKind::IbmQRadar => IncidentSource::QRadar,
            ConnectorKind::SplunkEnterpriseSecurity => IncidentSource::Splunk,
            ConnectorKind::SentinelOne => IncidentSource::SentinelOne,
        }
    }

    /// The connector of an incident source (for `?format=native` ingest).
    pub fn of_source(s: IncidentSource) -> ConnectorKind {
        match s {
            IncidentSource::Sentinel => ConnectorKind::MicrosoftSentinel,
            IncidentSource::DefenderXDR => ConnectorKind::MicrosoftDefenderXdr,
            IncidentSource::CrowdStrike => ConnectorKind::CrowdStrikeFalcon,
            IncidentSource::QRadar => ConnectorKind::IbmQRadar,
            IncidentSource::Splunk => ConnectorKind::SplunkEnterpriseSecurity,
            IncidentSource::SentinelOne => ConnectorKind::SentinelOne,
        }
    }

    /// The data-source `connectorType` it is stored and shown as.
    pub fn connector_type(self) -> ConnectorType {
        ConnectorType::of_source(self.source())
    }

    /// Parses a DESIGN §10 name, or the data-source type it aliases (`Sentinel`,
    /// `DefenderXDR`, …), in any letter case.
    pub fn parse(s: &str) -> Option<ConnectorKind> {
        let s = s.trim();
        ConnectorKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
            .or_else(|| {
                let t = ConnectorType::parse(s)?;
                ConnectorKind::ALL
                    .into_iter()
                    .find(|k| k.connector_type() == t)
            })
    }

    /// Whether this build can poll it (all six have a module).
    pub fn is_available(self) -> bool {
        true
    }

    /// `A, B, C` for error messages.
    pub fn allowed() -> String {
        ConnectorKind::ALL.map(|k| k.as_str()).join(", ")
    }
}

impl std::fmt::Display for ConnectorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_meet_the_existing_types() {
        assert_eq!(
            ConnectorKind::parse("microsoftdefenderxdr"),
            Some(ConnectorKind::MicrosoftDefenderXdr)
        );
        assert_eq!(
            ConnectorKind::parse(" Sentinel "),
            Some(ConnectorKind::MicrosoftSentinel)
        );
        assert_eq!(
            ConnectorKind::parse("QRADAR"),
            Some(ConnectorKind::IbmQRadar)
        );
        assert_eq!(ConnectorKind::parse("Syslog"), None);
        assert_eq!(ConnectorKind::parse("AzureActiveDirectory"), None);
        for k in ConnectorKind::ALL {
            assert_eq!(ConnectorKind::of_source(k.source()), k);
            assert_eq!(ConnectorKind::parse(k.connector_type().as_str()), Some(k));
            assert_eq!(
                serde_json::to_value(k).unwrap(),
                serde_json::json!(k.as_str())
            );
        }
        assert_eq!(
            ConnectorKind::MicrosoftSentinel.connector_type(),
            ConnectorType::Sentinel
        );
        assert!(ConnectorKind::allowed().starts_with("MicrosoftSentinel, MicrosoftDefenderXdr"));
    }
}
