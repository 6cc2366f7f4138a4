//! Throttling of failed authentications.
//!
//! Client ids are not secret (they appear in URLs, logs and tickets), so a limit per client id
//! alone would let anyone who knows one lock its integration out. Failures are counted per
//! (client id, peer address) and per peer address, in fixed windows: over either limit, that
//! address — for that client id, or for every client id — gets 429 `RATE_LIMITED` before any
//! secret is checked, while the right secret from any other address keeps working. Secrets
//! are 256-bit random values, so spreading guesses over many addresses buys an attacker
//! nothing; the limits exist to stop a flood of lookups, not to make guessing harder. IPv6
//! peers are counted by their /64 (one host usually holds a whole /64).
//!
//! Each throttle is logged once, as a warning naming the client id and the address (never a
//! secret), and `/metrics` counts failures, throttles and the requests refused while
//! throttled.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use palisade_domain::{Error, Result};
use uuid::Uuid;

/// Keys kept before expired windows are swept.
const SWEEP_AT: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    /// One client id from one address.
    ClientAddress(Uuid, Option<IpAddr>),
    /// One address, whatever the client id.
    Address(IpAddr),
}

impl Key {
    fn label(&self) -> &'static str {
        match self {
            Key::ClientAddress(..) => "client_address",
            Key::Address(_) => "address",
        }
    }
}

/// What `/metrics` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleCounts {
    /// Failed authentications (malformed header, unknown client id, wrong secret).
    pub failures: u64,
    /// Times a (client id, address) reached its limit.
    pub client_address_throttles: u64,
    /// Times an address reached its limit.
    pub address_throttles: u64,
    /// Requests refused with 429 while throttled.
    pub rate_limited: u64,
}

pub struct Throttle {
    per_client_address: u32,
    per_address: u32,
    window: Duration,
    failures: Mutex<HashMap<Key, (Instant, u32)>>,
    failed: AtomicU64,
    client_address_throttles: AtomicU64,
    address_throttles: AtomicU64,
    rate_limited: AtomicU64,
}

/// The address failures are counted under: IPv4 (also IPv4-mapped IPv6) as is, IPv6 by /64.
fn counted(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

impl Throttle {
    pub fn new(per_client_address: u32, per_address: u32, window: Duration) -> Self {
        Throttle {
            per_client_address,
            per_address,
            window,
            failures: Mutex::new(HashMap::new()),
            failed: AtomicU64::new(0),
            client_address_throttles: AtomicU64::new(0),
            address_throttles: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
        }
    }

    fn keys(client: Option<Uuid>, peer: Option<IpAddr>) -> impl Iterator<Item = Key> {
        let peer = peer.map(counted);
        client
            .map(|c| Key::ClientAddress(c, peer))
            .into_iter()
            .chain(peer.map(Key::Address))
    }

    fn limit(&self, key: &Key) -> u32 {
        match key {
            Key::ClientAddress(..) => self.per_client_address,
            Key::Address(_) => self.per_address,
        }
    }

    /// `RATE_LIMITED` (with the seconds until the window ends) when the client id from this
    /// address, or this address, is over its limit.
    pub fn check(&self, client: Option<Uuid>, peer: Option<IpAddr>) -> Result<()> {
        let failures = self.failures.lock().unwrap();
        if failures.is_empty() {
            return Ok(());
        }
        let mut retry_after = 0u64;
        for key in Self::keys(client, peer) {
            if let Some((start, count)) = failures.get(&key) {
                let age = start.elapsed();
                if age < self.window && *count >= self.limit(&key) {
                    retry_after = retry_after.max((self.window - age).as_secs() + 1);
                }
            }
        }
        drop(failures);
        if retry_after > 0 {
            self.rate_limited.fetch_add(1, Ordering::Relaxed);
            return Err(Error::RateLimited {
                retry_after_secs: retry_after,
            });
        }
        Ok(())
    }

    /// Counts a failed authentication; the failure that reaches a limit logs the throttle.
    pub fn record_failure(&self, client: Option<Uuid>, peer: Option<IpAddr>) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        let mut failures = self.failures.lock().unwrap();
        if failures.len() > SWEEP_AT {
            let window = self.window;
            failures.retain(|_, (start, _)| start.elapsed() < window);
        }
        for key in Self::keys(client, peer) {
            let entry = failures.entry(key).or_insert((Instant::now(), 0));
            if entry.0.elapsed() >= self.window {
                *entry = (Instant::now(), 0);
            }
            entry.1 += 1;
            if entry.1 != self.limit(&key) {
                continue;
            }
            let counter = match key {
                Key::ClientAddress(..) => &self.client_address_throttles,
                Key::Address(_) => &self.address_throttles,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                limit = key.label(),
                client_id = client.map(|c| c.to_string()).as_deref().unwrap_or("-"),
                address = peer.map(|p| p.to_string()).as_deref().unwrap_or("-"),
                failures = entry.1,
                window_secs = self.window.as_secs(),
                "authentication throttled: too many failed attempts"
            );
        }
    }

    pub fn counts(&self) -> ThrottleCounts {
        ThrottleCounts {
            failures: self.failed.load(Ordering::Relaxed),
            client_address_throttles: self.client_address_throttles.load(Ordering::Relaxed),
            address_throttles: self.address_throttles.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Arc;

    use super::*;

    /// A log sink for one test.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn throttles_a_client_id_per_address_and_an_address_and_logs_each_once() {
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let t = Throttle::new(2, 3, Duration::from_secs(60));
        let client = Uuid::new_v4();
        tracing::subscriber::with_default(subscriber, || {
            t.record_failure(Some(client), ip("10.0.0.1"));
            assert!(t.check(Some(client), ip("10.0.0.1")).is_ok());
            t.record_failure(Some(client), ip("10.0.0.1"));
            assert!(t.check(Some(client), ip("10.0.0.1")).is_err());
            // Elsewhere the client id is fine; so is another client id from that address.
            assert!(t.check(Some(client), ip("10.0.0.2")).is_ok());
            assert!(t.check(Some(Uuid::new_v4()), ip("10.0.0.1")).is_ok());
            // A third failure from the address (another client id) throttles the address.
            t.record_failure(None, ip("10.0.0.1"));
            assert!(t.check(Some(Uuid::new_v4()), ip("10.0.0.1")).is_err());
            assert!(t.check(None, ip("10.0.0.2")).is_ok());
            // More failures past the limit log nothing new.
            t.record_failure(Some(client), ip("10.0.0.1"));
        });
        let log = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), 2, "{log}");
        assert!(lines[0].contains("WARN"), "{log}");
        assert!(lines[0].contains("limit=\"client_address\""), "{log}");
        assert!(lines[0].contains(&client.to_string()), "{log}");
        assert!(lines[0].contains("10.0.0.1"), "{log}");
        assert!(lines[1].contains("limit=\"address\""), "{log}");
        assert_eq!(
            t.counts(),
            ThrottleCounts {
                failures: 4,
                client_address_throttles: 1,
                address_throttles: 1,
                rate_limited: 2,
            }
        );
    }

    #[test]
    fn ipv6_peers_count_by_their_64_and_mapped_ipv4_as_ipv4() {
        let t = Throttle::new(5, 1, Duration::from_secs(60));
        t.record_failure(None, ip("2001:db8:1:2::10"));
        assert!(t.check(None, ip("2001:db8:1:2:ffff::1")).is_err());
        assert!(t.check(None, ip("2001:db8:1:3::10")).is_ok());
        t.record_failure(None, ip("::ffff:192.0.2.7"));
        assert!(t.check(None, ip("192.0.2.7")).is_err());
    }

    #[test]
    fn a_window_ends() {
        let t = Throttle::new(1, 10, Duration::from_millis(30));
        let client = Some(Uuid::new_v4());
        t.record_failure(client, ip("10.0.0.1"));
        let Err(Error::RateLimited { retry_after_secs }) = t.check(client, ip("10.0.0.1")) else {
            panic!("throttled")
        };
        assert_eq!(retry_after_secs, 1);
        std::thread::sleep(Duration::from_millis(40));
        assert!(t.check(client, ip("10.0.0.1")).is_ok());
    }
}
