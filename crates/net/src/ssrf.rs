//! The SSRF guard (DESIGN §6, §10): a URL that a user supplies (a webhook, a playbook's HTTP
//! action, a connector's endpoints and the paging links its vendor returns) must not reach
//! private, loopback, link-local or metadata addresses unless the section's
//! `allow_private_targets` is set (`[webhooks]` for webhooks and playbooks, `[connectors]`
//! for connectors). A URL is checked when it is configured, and again on the address actually
//! connected to: the HTTP client resolves names through [`GuardedResolver`], and an IP-literal
//! host is checked by [`Guard::check_target`] before each request, so DNS rebinding cannot slip
//! past it. Redirects are never followed (clients built on the guard disable them).
//!
//! Some addresses are refused even with `allow_private_targets`: cloud metadata endpoints,
//! unspecified, multicast, broadcast and reserved addresses are never legitimate receivers.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use reqwest::Url;

/// Why an address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    /// Refused unless `allow_private_targets`.
    Private(&'static str),
    /// Always refused.
    Never(&'static str),
}

impl Blocked {
    pub fn describe(self) -> &'static str {
        match self {
            Blocked::Private(s) | Blocked::Never(s) => s,
        }
    }
}

/// Classifies one address; `None` means a public address.
pub fn classify(ip: IpAddr) -> Option<Blocked> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Blocked> {
    use Blocked::*;
    let o = ip.octets();
    // Cloud metadata endpoints (AWS/GCP/Azure/OpenStack, Alibaba, Oracle's alias).
    if ip == Ipv4Addr::new(169, 254, 169, 254)
        || ip == Ipv4Addr::new(169, 254, 170, 2)
        || ip == Ipv4Addr::new(100, 100, 100, 200)
        || ip == Ipv4Addr::new(192, 0, 0, 192)
    {
        return Some(Never("a cloud metadata address"));
    }
    if o[0] == 0 {
        return Some(Never("an unspecified (0.0.0.0/8) address"));
    }
    if ip.is_broadcast() {
        return Some(Never("the broadcast address"));
    }
    if ip.is_multicast() {
        return Some(Never("a multicast address"));
    }
    if o[0] >= 240 {
        return Some(Never("a reserved (240.0.0.0/4) address"));
    }
    if ip.is_loopback() {
        return Some(Private("a loopback address"));
    }
    if ip.is_private() {
        return Some(Private("a private (RFC 1918) address"));
    }
    if ip.is_link_local() {
        return Some(Private("a link-local address"));
    }
    if o[0] == 100 && (o[1] & 0xC0) == 64 {
        return Some(Private("a shared (100.64.0.0/10) address"));
    }
    if o[0] == 192 && o[1] == 0 && o[2] == 0 {
        return Some(Private("an IETF protocol (192.0.0.0/24) address"));
    }
    if o[0] == 198 && (o[1] == 18 || o[1] == 19) {
        return Some(Private("a benchmarking (198.18.0.0/15) address"));
    }
    if (o[0] == 192 && o[1] == 0 && o[2] == 2)
        || (o[0] == 198 && o[1] == 51 && o[2] == 100)
        || (o[0] == 203 && o[1] == 0 && o[2] == 113)
    {
        return Some(Never("a documentation address"));
    }
    None
}

fn classify_v6(ip: Ipv6Addr) -> Option<Blocked> {
    use Blocked::*;
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) embed an IPv4 address.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return classify_v4(Ipv4Addr::new(
            (s[6] >> 8) as u8,
            s[6] as u8,
            (s[7] >> 8) as u8,
            s[7] as u8,
        ));
    }
    if s[0] == 0x2002 {
        let embedded = Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8);
        if let Some(b) = classify_v4(embedded) {
            return Some(b);
        }
    }
    if ip == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x254) {
        return Some(Never("a cloud metadata address"));
    }
    if ip.is_unspecified() {
        return Some(Never("the unspecified address"));
    }
    if ip.is_multicast() {
        return Some(Never("a multicast address"));
    }
    if ip.is_loopback() {
        return Some(Private("a loopback address"));
    }
    // IPv4-compatible (deprecated ::a.b.c.d).
    if s[0..6] == [0, 0, 0, 0, 0, 0] {
        return Some(Never("a deprecated IPv4-compatible address"));
    }
    if (s[0] & 0xfe00) == 0xfc00 {
        return Some(Private("a unique-local (fc00::/7) address"));
    }
    if (s[0] & 0xffc0) == 0xfe80 {
        return Some(Private("a link-local address"));
    }
    if (s[0] & 0xffc0) == 0xfec0 {
        return Some(Private("a site-local address"));
    }
    if s[0] == 0x2001 && s[1] == 0x0db8 {
        return Some(Never("a documentation address"));
    }
    None
}

/// Resolves host names. The system resolver in production; tests feed the guard their own.
pub trait NameResolver: Send + Sync + 'static {
    fn lookup(
        &self,
        host: &str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + '_>>;
}

/// The operating system's resolver.
pub struct SystemResolver;

impl NameResolver for SystemResolver {
    fn lookup(
        &self,
        host: &str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + '_>> {
        let host = host.to_string();
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .map(|a| a.ip())
                .collect())
        })
    }
}

/// Answers from a fixed table of names (an unknown name is not found): no query leaves the
/// process. For tests and stand-ins that must not depend on DNS.
pub struct FixedResolver(pub std::collections::HashMap<String, Vec<IpAddr>>);

impl FixedResolver {
    pub fn new<'a>(names: impl IntoIterator<Item = (&'a str, Vec<IpAddr>)>) -> FixedResolver {
        FixedResolver(
            names
                .into_iter()
                .map(|(n, ips)| (n.to_string(), ips))
                .collect(),
        )
    }
}

impl NameResolver for FixedResolver {
    fn lookup(
        &self,
        host: &str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + '_>> {
        let r = self
            .0
            .get(host)
            .cloned()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such host"));
        Box::pin(async move { r })
    }
}

/// The guard's policy and resolver.
#[derive(Clone)]
pub struct Guard {
    pub allow_private: bool,
    pub allow_http: bool,
    /// The configuration section whose settings the messages name (`webhooks`, `connectors`).
    section: &'static str,
    resolver: Arc<dyn NameResolver>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("section", &self.section)
            .field("allow_private", &self.allow_private)
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

impl Guard {
    /// The guard of the `[webhooks]` settings with the system resolver.
    pub fn new(allow_private: bool, allow_http: bool) -> Guard {
        Guard::with_resolver(allow_private, allow_http, Arc::new(SystemResolver))
    }

    pub fn with_resolver(
        allow_private: bool,
        allow_http: bool,
        resolver: Arc<dyn NameResolver>,
    ) -> Guard {
        Guard {
            allow_private,
            allow_http,
            section: "webhooks",
            resolver,
        }
    }

    /// The same policy, its messages naming another configuration section.
    pub fn for_section(mut self, section: &'static str) -> Guard {
        self.section = section;
        self
    }

    /// Is this address allowed as a delivery target? `Err` says why not.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), String> {
        match classify(ip) {
            None => Ok(()),
            Some(Blocked::Private(_)) if self.allow_private => Ok(()),
            Some(b) => Err(format!("{ip} is {}", b.describe())),
        }
    }

    /// Checks a URL's form (scheme, host, no embedded credentials) without resolving it.
    pub fn check_form(&self, raw: &str) -> Result<Url, String> {
        let url = Url::parse(raw).map_err(|e| format!("is not a valid URL: {e}"))?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            "http" => {
                return Err(format!(
                    "must use https (http is allowed only with {}.allow_http)",
                    self.section
                ))
            }
            other => return Err(format!("must use https, not {other}")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(if self.section == "webhooks" {
                "must not embed credentials; use authenticationType instead".into()
            } else {
                "must not embed credentials".into()
            });
        }
        if url.host().is_none() {
            return Err("must name a host".into());
        }
        if url.fragment().is_some() {
            return Err("must not carry a fragment".into());
        }
        Ok(url)
    }

    /// Checks a URL just before a request: its form, and its host when that is an IP literal
    /// (a name is checked by the client's [`GuardedResolver`] on the address it connects to).
    pub fn check_target(&self, raw: &str) -> Result<Url, String> {
        let url = self.check_form(raw)?;
        self.check_literal_host(&url)?;
        Ok(url)
    }

    /// Checks a URL's host when it is an IP literal; a name passes (the resolver checks it).
    pub fn check_literal_host(&self, url: &Url) -> Result<(), String> {
        match url.host() {
            Some(url::Host::Ipv4(ip)) => self.check_ip(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => self.check_ip(IpAddr::V6(ip)),
            _ => Ok(()),
        }
    }

    /// Checks a URL completely: form, then every address its host resolves to.
    pub async fn check_url(&self, raw: &str) -> Result<Url, String> {
        let url = self.check_form(raw)?;
        let addrs = match url.host().expect("checked") {
            url::Host::Ipv4(ip) => vec![IpAddr::V4(ip)],
            url::Host::Ipv6(ip) => vec![IpAddr::V6(ip)],
            url::Host::Domain(name) => self.resolve(name).await?,
        };
        for ip in addrs {
            self.check_ip(ip)?;
        }
        Ok(url)
    }

    /// Resolves a name and keeps only allowed addresses; `Err` when none is left.
    pub async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        self.resolve_checked(host).await.map_err(|e| e.to_string())
    }

    async fn resolve_checked(&self, host: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let unresolved = |detail: String| ResolveError::Unresolved(detail);
        let found = self
            .resolver
            .lookup(host)
            .await
            .map_err(|e| unresolved(format!("host {host} does not resolve: {e}")))?;
        if found.is_empty() {
            return Err(unresolved(format!("host {host} does not resolve")));
        }
        let mut refused = None;
        let allowed: Vec<IpAddr> = found
            .into_iter()
            .filter(|ip| match self.check_ip(*ip) {
                Ok(()) => true,
                Err(e) => {
                    refused.get_or_insert(e);
                    false
                }
            })
            .collect();
        match (allowed.is_empty(), refused) {
            (true, None) => Err(unresolved(format!("host {host} does not resolve"))),
            // A name resolving to both public and private addresses is refused outright:
            // which one a connection would use is not ours to predict.
            (_, Some(e)) => Err(ResolveError::Refused(Refused(format!(
                "host {host} resolves to {e}"
            )))),
            (false, None) => Ok(allowed),
        }
    }
}

/// A name the guard refused to connect to (it resolves to a forbidden address). The HTTP
/// client's resolver fails with it, so callers can tell a refusal from a network failure
/// ([`refusal`]).
#[derive(Debug, Clone)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

#[derive(Debug)]
enum ResolveError {
    Unresolved(String),
    Refused(Refused),
}

impl std::fmt::Display for ResolveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResolveError::Unresolved(s) => f.write_str(s),
            ResolveError::Refused(r) => r.fmt(f),
        }
    }
}

/// The guard's refusal somewhere in an error's chain of causes (e.g. a `reqwest::Error` of a
/// connection the guarded resolver refused).
pub fn refusal(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<Refused>() {
            return Some(r.0.clone());
        }
        cur = err.source();
    }
    None
}

/// The HTTP client's resolver: every name is resolved through the guard.
pub struct GuardedResolver(pub Guard);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.0.clone();
        Box::pin(async move {
            let addrs = guard.resolve_checked(name.as_str()).await.map_err(
                |e| -> Box<dyn std::error::Error + Send + Sync> {
                    match e {
                        ResolveError::Refused(r) => Box::new(r),
                        ResolveError::Unresolved(s) => s.into(),
                    }
                },
            )?;
            let iter: reqwest::dns::Addrs =
                Box::new(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(iter)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn guard(allow_private: bool) -> Guard {
        let names = FixedResolver::new([
            ("public.example", vec![ip("93.184.216.34")]),
            ("intranet.example", vec![ip("10.1.2.3")]),
            (
                "rebind.example",
                vec![ip("93.184.216.34"), ip("192.168.1.10")],
            ),
            ("metadata.example", vec![ip("169.254.169.254")]),
            ("local.example", vec![ip("127.0.0.1"), ip("::1")]),
            ("v6private.example", vec![ip("fd12:3456::1")]),
        ]);
        Guard::with_resolver(allow_private, false, Arc::new(names))
    }

    #[test]
    fn classification() {
        let private = [
            "127.0.0.1",
            "127.255.0.9",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.0.1",
            "169.254.1.1",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
            "2002:c0a8:0101::1",
        ];
        for a in private {
            assert!(
                matches!(classify(ip(a)), Some(Blocked::Private(_))),
                "{a} should be private"
            );
        }
        let never = [
            "169.254.169.254",
            "::ffff:169.254.169.254",
            "fd00:ec2::254",
            "100.100.100.200",
            "0.0.0.0",
            "::",
            "255.255.255.255",
            "224.0.0.1",
            "ff02::1",
            "240.0.0.1",
            "192.0.2.1",
            "2001:db8::1",
        ];
        for a in never {
            assert!(
                matches!(classify(ip(a)), Some(Blocked::Never(_))),
                "{a} should always be refused"
            );
        }
        for a in ["93.184.216.34", "1.1.1.1", "172.32.0.1", "2606:4700::1111"] {
            assert_eq!(classify(ip(a)), None, "{a} is public");
        }
    }

    #[tokio::test]
    async fn urls_by_ip_and_by_name() {
        let g = guard(false);
        assert!(g.check_url("https://public.example/hook").await.is_ok());
        assert!(g.check_url("https://93.184.216.34/hook").await.is_ok());
        for bad in [
            "https://127.0.0.1/hook",
            "https://10.0.0.8:8443/hook",
            "https://[::1]/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://intranet.example/hook",
            "https://rebind.example/hook",
            "https://metadata.example/hook",
            "https://local.example/hook",
            "https://v6private.example/hook",
            "https://nowhere.example/hook",
            "http://public.example/hook",
            "ftp://public.example/hook",
            "https://user:pw@public.example/hook",
            "not a url",
        ] {
            assert!(g.check_url(bad).await.is_err(), "{bad} must be refused");
        }
        // With private targets allowed, private names pass but metadata never does.
        let g = guard(true);
        assert!(g.check_url("https://intranet.example/hook").await.is_ok());
        assert!(g.check_url("https://local.example/hook").await.is_ok());
        assert!(g.check_url("https://127.0.0.1/hook").await.is_ok());
        assert!(g.check_url("https://metadata.example/hook").await.is_err());
        assert!(g.check_url("https://169.254.169.254/").await.is_err());
    }

    #[test]
    fn targets_check_literal_addresses_and_name_their_section() {
        let g = guard(false).for_section("connectors");
        // A name is left to the resolver at connect time.
        assert!(g.check_target("https://intranet.example/x").is_ok());
        assert!(g
            .check_target("https://10.0.0.1/x")
            .unwrap_err()
            .contains("private"));
        assert!(g
            .check_target("http://public.example/")
            .unwrap_err()
            .contains("connectors.allow_http"));
        assert_eq!(
            g.check_target("https://u:p@public.example/").unwrap_err(),
            "must not embed credentials"
        );
        let g = guard(true);
        assert!(g.check_target("https://127.0.0.1/").is_ok());
        assert!(g.check_target("https://[fd00:ec2::254]/").is_err());
    }

    #[tokio::test]
    async fn the_http_clients_resolver_filters_too() {
        use reqwest::dns::Resolve;
        let r = GuardedResolver(guard(false));
        let ok: Vec<SocketAddr> = r
            .resolve("public.example".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert_eq!(ok, vec![SocketAddr::new(ip("93.184.216.34"), 0)]);
        assert!(r
            .resolve("intranet.example".parse().unwrap())
            .await
            .is_err());
        assert!(r.resolve("rebind.example".parse().unwrap()).await.is_err());
        // A refusal is recognizable in the error chain; a name that does not resolve is not
        // a refusal.
        let Err(refused) = r.resolve("metadata.example".parse().unwrap()).await else {
            panic!("refused")
        };
        assert!(refusal(refused.as_ref()).unwrap().contains("metadata"));
        let Err(missing) = r.resolve("nowhere.example".parse().unwrap()).await else {
            panic!("unresolved")
        };
        assert_eq!(refusal(missing.as_ref()), None);
    }
}
