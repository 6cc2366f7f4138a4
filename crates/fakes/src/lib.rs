//! Local stand-ins for the vendors' APIs, on loopback, speaking their documented wire formats
//! (the item shapes of `reference/source-apis.md`, confirmed against the vendors' docs in
//! `docs/connectors.md`): Microsoft Entra ID's token endpoint ([`entra`]), Microsoft Sentinel's
//! incidents on Azure Resource Manager ([`sentinel`]) and the Microsoft Graph security incidents
//! of Defender XDR ([`graph`]). Each records every request, can fail on cue (429 with
//! `Retry-After`, 5xx bursts, stale etags), answer slowly, and have its incidents added or
//! changed while a test runs; [`simulate`] makes realistic incidents, and each fake can keep
//! adding them on a timer (the simulated sources of `palisade demo`).
//!
//! Never on a production path: tests, benchmarks and the demo only.

pub mod common;
pub mod crowdstrike;
pub mod demo;
pub mod entra;
pub mod graph;
pub mod logs;
pub mod qradar;
pub mod sentinel;
pub mod sentinelone;
pub mod simulate;
pub mod splunk;
pub(crate) mod vendor;

pub use common::{Call, Fault, Recorded};
pub use crowdstrike::FakeCrowdStrike;
pub use demo::MicrosoftSimulation;
pub use entra::FakeEntra;
pub use graph::{FakeGraph, GraphSeed};
pub use logs::LogCapture;
pub use qradar::FakeQRadar;
pub use sentinel::{FakeSentinel, SentinelSeed, SentinelWorkspace};
pub use sentinelone::FakeSentinelOne;
pub use splunk::FakeSplunk;
