//! Outbound HTTP that several parts of Palisade share: the SSRF guard every user-supplied URL
//! passes ([`ssrf`]), Microsoft Entra ID client-credentials tokens cached until shortly before
//! they expire ([`entra`]), and small helpers for upstream answers ([`upstream`]): `Retry-After`,
//! one-line clipped text, transport-error descriptions, and [`Secret`], a string that never
//! shows in `Debug`.

pub mod entra;
pub mod ssrf;
pub mod upstream;

pub use upstream::Secret;
