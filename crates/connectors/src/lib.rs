//! The vendor side of Palisade's connector engine (DESIGN §10, `docs/connectors.md`).
//!
//! A [`Connector`] is built from a validated [`ConnectorConfig`] (settings + credentials) and
//! [`ConnectorOptions`] (the `[connectors]` SSRF guard, timeouts), and does three things for the
//! jobs that run it:
//! - [`Connector::pull`]: one page of incidents changed since a stored [`Cursor`], mapped to
//!   Palisade's model, with the cursor to store once the page is committed and a
//!   [`Continuation`] while the source has more;
//! - [`Connector::write_back`]: a status/verdict, owner or comment change made in Palisade, in
//!   the vendor's documented call;
//! - [`Connector::check`] / [`Connector::check_targets`]: that the settings work.
//!
//! Failures are [`SourceError`]s: rate limited (with the vendor's `Retry-After`), unavailable
//! (retryable), auth, bad settings (naming the field), conflicts, rejections. Nothing here
//! touches the database or the job queue; the mapping functions ([`map_native`],
//! [`reconcile`]) are pure.
//!
//! Keep one `Connector` per configured connector for as long as its settings do not change:
//! it caches the source's access token until shortly before it expires.

pub mod cursor;
mod defender;
pub mod error;
mod http;
pub mod kind;
pub mod mapping;
mod microsoft;
mod sentinel;
pub mod settings;
mod sources;
pub mod writeback;

pub use cursor::{Continuation, Cursor, Page, PulledIncident, RejectedItem, Unmapped, VendorState};
pub use error::SourceError;
pub use http::ConnectorOptions;
pub use kind::ConnectorKind;
pub use mapping::{map_native, reconcile, FieldErrors};
pub use settings::{AzureCloud, ConnectorConfig, Credentials, Settings};
pub use writeback::{Change, Verdict, WriteBack, WriteBackOutcome};

/// The Resource Manager api-version the Sentinel connector speaks.
pub const SENTINEL_API_VERSION: &str = sentinel::API_VERSION;

/// A configured connector, ready to pull and write back.
pub struct Connector {
    kind: ConnectorKind,
    /// How far before the cursor each poll reaches back (`settings.overlapSecs`).
    overlap: std::time::Duration,
    source: Source,
}

enum Source {
    Sentinel(Box<sentinel::SentinelSource>),
    Defender(Box<defender::DefenderSource>),
    SentinelOne(Box<sources::sentinelone::SentinelOneSource>),
    Splunk(Box<sources::splunk::SplunkSource>),
    QRadar(Box<sources::qradar::QRadarSource>),
    CrowdStrike(Box<sources::crowdstrike::CrowdStrikeSource>),
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// Builds the connector. Fails on settings the SSRF guard refuses outright (scheme, IP
    /// literals); host names are checked by [`Connector::check_targets`] and on every
    /// connection.
    pub fn new(
        config: &ConnectorConfig,
        options: &ConnectorOptions,
    ) -> Result<Connector, SourceError> {
        let source =
            match &config.settings {
                Settings::Sentinel(s) => Source::Sentinel(Box::new(sentinel::SentinelSource::new(
                    s,
                    &config.credentials,
                    options,
                )?)),
                Settings::Defender(s) => Source::Defender(Box::new(defender::DefenderSource::new(
                    s,
                    &config.credentials,
                    options,
                )?)),
                Settings::SentinelOne(s) => Source::SentinelOne(Box::new(
                    sources::sentinelone::SentinelOneSource::new(s, &config.credentials, options)?,
                )),
                Settings::CrowdStrike(s) => Source::CrowdStrike(Box::new(
                    sources::crowdstrike::CrowdStrikeSource::new(s, &config.credentials, options)?,
                )),
                Settings::QRadar(s) => Source::QRadar(Box::new(
                    sources::qradar::QRadarSource::new(s, &config.credentials, options)?,
                )),
                Settings::Splunk(s) => Source::Splunk(Box::new(
                    sources::splunk::SplunkSource::new(s, &config.credentials, options)?,
                )),
            };
        Ok(Connector {
            kind: config.kind,
            overlap: config.settings.overlap(),
            source,
        })
    }

    pub fn kind(&self) -> ConnectorKind {
        self.kind
    }

    fn vendor_api(&self) -> Option<&sources::api::VendorApi> {
        match &self.source {
            Source::Sentinel(_) | Source::Defender(_) => None,
            Source::SentinelOne(s) => Some(&s.api),
            Source::Splunk(s) => Some(&s.api),
            Source::QRadar(s) => Some(&s.api),
            Source::CrowdStrike(s) => Some(&s.api),
        }
    }

    /// Resolves the base URL's and the authority's hosts through the SSRF guard: a refused one
    /// is [`SourceError::Settings`] naming `settings.baseUrl` or `settings.authorityUrl`.
    pub async fn check_targets(&self) -> Result<(), SourceError> {
        match &self.source {
            Source::Sentinel(s) => s.api().check_targets().await,
            Source::Defender(s) => s.api().check_targets().await,
            _ => match self.vendor_api() {
                Some(a) => a.check_targets().await,
                None => Ok(()),
            },
        }
    }

    /// Signs in and reads one incident: the credentials, permissions and settings work.
    pub async fn check(&self) -> Result<(), SourceError> {
        match &self.source {
            Source::Sentinel(s) => s.check().await,
            Source::Defender(s) => s.check().await,
            Source::SentinelOne(s) => s.check().await,
            Source::Splunk(s) => s.check().await,
            Source::QRadar(s) => s.check().await,
            Source::CrowdStrike(s) => s.check().await,
        }
    }

    /// One page of incidents changed since `cursor` (or the next page of this poll, given the
    /// previous page's continuation). Store [`Page::high_water`] once its items are committed,
    /// and pass it as `cursor` with the continuation for the next page.
    pub async fn pull(
        &self,
        cursor: &Cursor,
        continuation: Option<&Continuation>,
    ) -> Result<Page, SourceError> {
        let req = cursor::PageRequest {
            cursor,
            continuation,
            overlap: self.overlap,
        };
        match &self.source {
            Source::Sentinel(s) => s.pull(&req).await,
            Source::Defender(s) => s.pull(&req).await,
            Source::SentinelOne(s) => s.pull(&req).await,
            Source::Splunk(s) => s.pull(&req).await,
            Source::QRadar(s) => s.pull(&req).await,
            Source::CrowdStrike(s) => s.pull(&req).await,
        }
    }

    /// Sends one change to the source.
    pub async fn write_back(&self, write: &WriteBack) -> Result<WriteBackOutcome, SourceError> {
        match &self.source {
            Source::Sentinel(s) => s.write_back(write).await,
            Source::Defender(s) => s.write_back(write).await,
            Source::SentinelOne(s) => s.write_back(write).await,
            Source::Splunk(s) => s.write_back(write).await,
            Source::QRadar(s) => s.write_back(write).await,
            Source::CrowdStrike(s) => s.write_back(write).await,
        }
    }

    /// Access tokens fetched so far (for metrics and tests).
    pub fn token_requests(&self) -> u64 {
        match &self.source {
            Source::Sentinel(s) => s.api().token_requests(),
            Source::Defender(s) => s.api().token_requests(),
            _ => self.vendor_api().map_or(0, |a| a.token_requests()),
        }
    }

    /// HTTP requests sent so far by the sources of issue 14 (token requests included), for
    /// the cost figures of `docs/connectors.md`; `None` for the Microsoft pair.
    pub fn calls(&self) -> Option<u64> {
        self.vendor_api().map(|a| a.calls())
    }
}
