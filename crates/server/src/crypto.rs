//! Sealing with keys derived from the server secret every replica shares.
//!
//! A [`SealingKey`] is one purpose's key: HMAC-SHA256(server secret, purpose label), so keys
//! of different purposes never coincide and a value sealed for one purpose never opens for
//! another. It seals with ChaCha20-Poly1305 under a random 96-bit nonce, binding associated
//! data (typically the organization) that must be given again to open. The text form is
//! base64url without padding of nonce ‖ ciphertext ‖ tag.
//!
//! Users: page tokens (`paging`), webhook secrets at rest (`webhooks::SecretBox`), and the
//! sealed continuation tokens of the investigation, webhook-log and gamebook-history
//! listings.

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// Bytes of a nonce.
pub const NONCE: usize = 12;
/// Bytes of an AEAD tag.
pub const AEAD_TAG: usize = 16;

/// A key for one purpose, derived from the server secret. `Debug` never shows it.
#[derive(Clone)]
pub struct SealingKey {
    key: [u8; 32],
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(<redacted>)")
    }
}

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    <Hmac<Sha256> as Mac>::new_from_slice(key)
        .expect("any key length")
        .chain_update(msg)
        .finalize()
        .into_bytes()
        .into()
}

impl SealingKey {
    /// The key for `label`: HMAC-SHA256(server secret, label).
    pub fn derive(server_secret: &str, label: &str) -> Self {
        let key = hmac(server_secret.as_bytes(), label.as_bytes());
        SealingKey {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
            key,
        }
    }

    /// A MAC keyed for a sub-purpose of this key: HMAC-SHA256 keyed with
    /// HMAC-SHA256(this key, purpose).
    pub fn mac(&self, purpose: &[u8]) -> Hmac<Sha256> {
        <Hmac<Sha256> as Mac>::new_from_slice(&hmac(&self.key, purpose)).expect("any key length")
    }

    /// Seals `msg` bound to `aad`: nonce ‖ ciphertext ‖ tag.
    pub fn seal_raw(&self, aad: &[u8], msg: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg, aad })
            .expect("sealing cannot fail");
        let mut out = Vec::with_capacity(NONCE + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens what [`SealingKey::seal_raw`] sealed with the same `aad`; `None` otherwise.
    pub fn open_raw(&self, aad: &[u8], raw: &[u8]) -> Option<Vec<u8>> {
        if raw.len() < NONCE + AEAD_TAG {
            return None;
        }
        let (nonce, sealed) = raw.split_at(NONCE);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad })
            .ok()
    }

    /// Seals arbitrary bytes bound to `aad`: base64url(nonce ‖ ciphertext ‖ tag).
    pub fn seal_bytes(&self, aad: &[u8], msg: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.seal_raw(aad, msg))
    }

    /// Opens what [`SealingKey::seal_bytes`] sealed with the same `aad`; `None` otherwise.
    pub fn open_bytes(&self, aad: &[u8], token: &str) -> Option<Vec<u8>> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .ok()?;
        self.open_raw(aad, &raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "fixture server secret, at least thirty-two bytes";

    #[test]
    fn sealed_values_open_only_with_their_key_label_and_aad() {
        let k = SealingKey::derive(SECRET, "purpose one");
        let t = k.seal_bytes(b"org-a", b"hello");
        assert_eq!(k.open_bytes(b"org-a", &t).as_deref(), Some(&b"hello"[..]));
        assert_ne!(
            k.seal_bytes(b"org-a", b"hello"),
            t,
            "a fresh nonce each time"
        );
        assert_eq!(k.open_bytes(b"org-b", &t), None);
        assert_eq!(
            SealingKey::derive(SECRET, "purpose two").open_bytes(b"org-a", &t),
            None
        );
        assert_eq!(
            SealingKey::derive("another secret", "purpose one").open_bytes(b"org-a", &t),
            None
        );
        assert_eq!(k.open_bytes(b"org-a", &t[..t.len() - 2]), None);
        assert_eq!(k.open_bytes(b"org-a", "not base64!"), None);
        assert_eq!(k.open_bytes(b"org-a", ""), None);
        assert_eq!(format!("{k:?}"), "SealingKey(<redacted>)");
    }

    /// A value sealed by the code this module replaced (`paging::Sealer::labeled` and
    /// `seal_bytes`, before the general primitive had its own module) still opens: the key
    /// derivation and the wire format are unchanged.
    #[test]
    fn values_sealed_before_the_move_still_open() {
        let k = SealingKey::derive(SECRET, "palisade webhook log page v1");
        assert_eq!(
            k.open_bytes(
                b"some aad",
                "ArtHT5Bi5LKyJRVGWgWVJYJtyBFJ5CdwoA7e-iROgHRhhOLTylcWcQ"
            )
            .as_deref(),
            Some(&b"some message"[..])
        );
    }
}
