//! Service-account authentication (DESIGN §2).
//!
//! Secrets are `cf_sa_` + 32 random bytes (base64url). Only an HMAC-SHA256 of the secret,
//! keyed by the server secret, is stored: a fast keyed hash is the right tool for
//! high-entropy secrets (a password hash would cost milliseconds on every request and buy
//! nothing). Lookup is by hash; the stored and computed hashes are then compared in constant
//! time.
//!
//! Verified credentials are kept in memory for `auth.cache_ttl_secs`; changes made through
//! this process invalidate the cache at once, changes made on another replica apply within the
//! TTL. `lastUsedAt` is recorded in memory and written in batches. Failed attempts are counted
//! per (client id, peer address) and per peer address in fixed windows ([`throttle`]); over a
//! limit, requests from there get 429 `RATE_LIMITED` with `Retry-After` before any secret is
//! checked.

pub mod throttle;
pub mod user;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use palisade_domain::{Error, OrgRole, Result, ScopeSet, WorkspaceRole};
use palisade_store::{AuthRecord, OrgId, Store, WorkspaceId};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::config::AuthConfig;

pub const SECRET_PREFIX: &str = "cf_sa_";

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub org: OrgId,
    pub service_account_id: Uuid,
    pub credential_id: Uuid,
    pub scopes: ScopeSet,
    pub org_role: OrgRole,
    /// Direct workspace roles, by workspace.
    workspace_roles: HashMap<Uuid, (WorkspaceId, WorkspaceRole)>,
    /// The account's name, description, customer account and creation time, and its direct
    /// roles with workspace names, as of verification (for `GET /users/profile`).
    pub name: String,
    pub description: Option<String>,
    pub account_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub named_roles: Vec<(WorkspaceId, String, WorkspaceRole)>,
    /// The organization's workspaces, when the organizational role implies a role on each.
    org_workspaces: HashMap<Uuid, WorkspaceId>,
    expires_at: DateTime<Utc>,
    revoked: bool,
    active: bool,
    /// A signed-in organization user (the console) rather than a service account; its id is
    /// then in `service_account_id`.
    is_user: bool,
}

impl Principal {
    /// The caller's effective role on a workspace: its direct assignment, or the role its
    /// organizational role implies on every workspace of its organization, whichever is
    /// higher. `None` for another organization's (or no) workspace.
    pub fn workspace_role(&self, workspace: &Uuid) -> Option<WorkspaceRole> {
        self.workspace(workspace).map(|(_, role)| role)
    }

    /// The verified id of a workspace the caller holds a role on, with that role (see
    /// [`Principal::workspace_role`]).
    pub fn workspace(&self, workspace: &Uuid) -> Option<(WorkspaceId, WorkspaceRole)> {
        let direct = self.workspace_roles.get(workspace).copied();
        let implied = self
            .org_role
            .implied_workspace_role()
            .and_then(|role| Some((*self.org_workspaces.get(workspace)?, role)));
        direct
            .into_iter()
            .chain(implied)
            .max_by_key(|(_, role)| *role)
    }
}

/// A generated secret. `Debug` never shows it.
pub struct NewSecret {
    pub secret: String,
    pub hash: String,
}

impl std::fmt::Debug for NewSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewSecret(<redacted>)")
    }
}

pub struct Authenticator {
    key: [u8; 32],
    store: Store,
    config: AuthConfig,
    cache: Mutex<HashMap<String, (Arc<Principal>, Instant)>>,
    /// Bumped by [`Authenticator::invalidate`]: a lookup that started before a change does
    /// not cache what it read.
    generation: std::sync::atomic::AtomicU64,
    /// One lookup per credential at a time: when a cached verification expires, the requests
    /// that arrive meanwhile wait for the one lookup instead of each running it (with a
    /// thousand workspaces, an organization-wide role loads every workspace name).
    gates: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Credential lookups run in the database (verifications the cache did not answer).
    lookups: std::sync::atomic::AtomicU64,
    throttle: throttle::Throttle,
    /// credential → (organization, service account, last use), not yet written.
    last_used: Mutex<HashMap<Uuid, PendingUse>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

type HmacSha256 = Hmac<Sha256>;
type PendingUse = (OrgId, Uuid, DateTime<Utc>);

/// A request's place in the queue for one credential's lookup. Dropped (also when the request
/// is cancelled), it forgets the queue if nobody else is in it.
struct Gate<'a> {
    gates: &'a Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    hash: &'a str,
    turn: Arc<tokio::sync::Mutex<()>>,
}

impl Drop for Gate<'_> {
    fn drop(&mut self) {
        let mut gates = self.gates.lock().unwrap();
        // The map's reference and this one: nobody else waits (one who arrives later makes a
        // new queue and runs its own lookup).
        if gates
            .get(self.hash)
            .is_some_and(|g| Arc::ptr_eq(g, &self.turn) && Arc::strong_count(g) == 2)
        {
            gates.remove(self.hash);
        }
    }
}

impl Authenticator {
    /// `server_secret` is the configured `secret_key` or the database-kept generated key.
    pub fn new(server_secret: &str, store: Store, config: AuthConfig) -> Self {
        let mut mac = HmacSha256::new_from_slice(server_secret.as_bytes()).expect("any key length");
        mac.update(b"palisade credential hash v1");
        let key: [u8; 32] = mac.finalize().into_bytes().into();
        let throttle = throttle::Throttle::new(
            config.max_failures_per_client,
            config.max_failures_per_address,
            Duration::from_secs(config.failure_window_secs),
        );
        Authenticator {
            key,
            store,
            config,
            cache: Mutex::new(HashMap::new()),
            generation: Default::default(),
            gates: Mutex::new(HashMap::new()),
            lookups: Default::default(),
            throttle,
            last_used: Mutex::new(HashMap::new()),
        }
    }

    pub fn hash_secret(&self, secret: &str) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("any key length");
        mac.update(secret.as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    /// Makes a new secret and its stored hash.
    pub fn new_secret(&self) -> NewSecret {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let secret = format!(
            "{SECRET_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        );
        let hash = self.hash_secret(&secret);
        NewSecret { secret, hash }
    }

    /// Forgets every cached verification (after any change to accounts, credentials or roles).
    pub fn invalidate(&self) {
        let mut cache = self.cache.lock().unwrap();
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        cache.clear();
    }

    /// Credential lookups run in the database since start (`/metrics`).
    pub fn credential_lookups(&self) -> u64 {
        self.lookups.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The principal a secret hash verifies as: cached, or looked up (once at a time per
    /// hash) and cached.
    async fn verify(&self, hash: &str) -> Result<Option<Arc<Principal>>> {
        if let Some(p) = self.cached(hash) {
            return Ok(Some(p));
        }
        let gate = Gate {
            gates: &self.gates,
            hash,
            turn: self
                .gates
                .lock()
                .unwrap()
                .entry(hash.to_string())
                .or_default()
                .clone(),
        };
        let _turn = gate.turn.lock().await;
        match self.cached(hash) {
            // Another request's lookup finished while this one waited.
            Some(p) => Ok(Some(p)),
            None => self.look_up(hash).await,
        }
    }

    async fn look_up(&self, hash: &str) -> Result<Option<Arc<Principal>>> {
        let generation = self.generation.load(std::sync::atomic::Ordering::SeqCst);
        self.lookups
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match self.store.system().find_credential(hash).await? {
            Some(record) if bool::from(record.secret_hash.as_bytes().ct_eq(hash.as_bytes())) => {
                let p = Arc::new(principal_from(record));
                let mut cache = self.cache.lock().unwrap();
                if self.generation.load(std::sync::atomic::Ordering::SeqCst) == generation {
                    cache.insert(hash.to_string(), (p.clone(), Instant::now()));
                }
                Ok(Some(p))
            }
            _ => Ok(None),
        }
    }

    /// Authenticates an `Authorization` header value from `peer`.
    pub async fn authenticate(
        &self,
        header: Option<&str>,
        peer: Option<IpAddr>,
    ) -> Result<Arc<Principal>> {
        let Some(header) = header else {
            return Err(Error::Unauthorized(
                "Authentication required: send Authorization: Basic base64(clientId:clientSecret)."
                    .into(),
            ));
        };
        let Some((client_id, secret)) = parse_basic(header) else {
            self.check_limits(None, peer)?;
            self.record_failure(None, peer);
            return Err(Error::Unauthorized(
                "Malformed Authorization header: expected Basic base64(clientId:clientSecret)."
                    .into(),
            ));
        };
        self.check_limits(client_id, peer)?;
        let invalid = || Error::Unauthorized("Invalid client credentials.".into());
        let Some(client_id) = client_id else {
            self.record_failure(None, peer);
            return Err(invalid());
        };
        if !secret.starts_with(SECRET_PREFIX) || secret.len() > 256 {
            self.record_failure(Some(client_id), peer);
            return Err(invalid());
        }
        let hash = self.hash_secret(&secret);
        let principal = self.verify(&hash).await?;
        let Some(p) = principal.filter(|p| p.service_account_id == client_id) else {
            self.record_failure(Some(client_id), peer);
            return Err(invalid());
        };
        if p.revoked {
            return Err(Error::Unauthorized(
                "The credential has been revoked.".into(),
            ));
        }
        let now = Utc::now();
        if p.expires_at <= now {
            return Err(Error::Unauthorized("The credential has expired.".into()));
        }
        if !p.active {
            return Err(Error::Unauthorized(
                "The service account is disabled.".into(),
            ));
        }
        self.last_used
            .lock()
            .unwrap()
            .insert(p.credential_id, (p.org, p.service_account_id, now));
        Ok(p)
    }

    fn cached(&self, hash: &str) -> Option<Arc<Principal>> {
        let cache = self.cache.lock().unwrap();
        let (p, at) = cache.get(hash)?;
        (at.elapsed() < Duration::from_secs(self.config.cache_ttl_secs)).then(|| p.clone())
    }

    fn check_limits(&self, client: Option<Uuid>, peer: Option<IpAddr>) -> Result<()> {
        self.throttle.check(client, peer)
    }

    fn record_failure(&self, client: Option<Uuid>, peer: Option<IpAddr>) {
        self.throttle.record_failure(client, peer)
    }

    /// Failed authentications and throttles since start (`/metrics`).
    pub fn throttle_counts(&self) -> throttle::ThrottleCounts {
        self.throttle.counts()
    }

    /// The newest in-memory `lastUsedAt` of a credential not yet written to the database.
    pub fn pending_last_used(&self, credential: &Uuid) -> Option<DateTime<Utc>> {
        self.last_used.lock().unwrap().get(credential).map(|e| e.2)
    }

    /// Writes pending `lastUsedAt` values.
    pub async fn flush_last_used(&self) -> Result<()> {
        let batch: Vec<_> = self
            .last_used
            .lock()
            .unwrap()
            .iter()
            .map(|(cred, (org, sa, at))| (*org, *sa, *cred, *at))
            .collect();
        if batch.is_empty() {
            return Ok(());
        }
        self.store.system().record_last_used(&batch).await?;
        let mut pending = self.last_used.lock().unwrap();
        for (_, _, cred, at) in &batch {
            if pending.get(cred).is_some_and(|e| e.2 <= *at) {
                pending.remove(cred);
            }
        }
        Ok(())
    }
}

fn principal_from(r: AuthRecord) -> Principal {
    Principal {
        org: r.org,
        service_account_id: r.service_account_id,
        credential_id: r.credential_id,
        scopes: ScopeSet::from_scopes(r.scopes),
        org_role: r.org_role,
        workspace_roles: r
            .workspace_roles
            .iter()
            .map(|(ws, _, role)| (ws.uuid(), (*ws, *role)))
            .collect(),
        name: r.name,
        description: r.description,
        account_id: r.account_id,
        created_at: r.created_at,
        named_roles: r.workspace_roles,
        org_workspaces: r
            .org_workspaces
            .into_iter()
            .map(|w| (w.uuid(), w))
            .collect(),
        expires_at: r.expires_at,
        revoked: r.revoked,
        active: r.active,
        is_user: false,
    }
}

/// `Basic base64(clientId:secret)` → (client id if it is a GUID, secret).
fn parse_basic(header: &str) -> Option<(Option<Uuid>, String)> {
    let (scheme, value) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((Uuid::parse_str(id).ok(), secret.to_string()))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_basic_headers() {
        let id = Uuid::new_v4();
        let v = base64::engine::general_purpose::STANDARD.encode(format!("{id}:cf_sa_x:y"));
        let (got, secret) = parse_basic(&format!("Basic {v}")).unwrap();
        assert_eq!(got, Some(id));
        assert_eq!(secret, "cf_sa_x:y");
        assert!(parse_basic("Bearer abc").is_none());
        assert!(parse_basic("Basic !!!").is_none());
        let v = base64::engine::general_purpose::STANDARD.encode("not-a-guid:s");
        assert_eq!(parse_basic(&format!("basic {v}")).unwrap().0, None);
    }

    #[test]
    fn hex_encodes() {
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }
}
