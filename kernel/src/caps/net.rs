//! The `net` capability's parameters: the addresses a process may connect
//! to (`connect = "127.0.0.1:8080"`, `"10.0.0.7:*"`), and how a child's are
//! cut from its parent's. Without an address, `net` allows nothing.
//!
//! The kernel applies them through wasmtime-wasi's socket address check:
//! TCP connects and UDP sends to an address no pattern covers answer
//! `access-denied`, as do listening and accepting; the implicit bind of a
//! connect (to the wildcard address, port 0) is allowed. Each refusal is
//! reported to the kernel, which audits it.

use super::GrantError;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::sockets::SocketAddrUse;

/// One address pattern: an IP address and a port or any port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddrPattern {
    ip: IpAddr,
    /// `None`: any port.
    port: Option<u16>,
}

impl AddrPattern {
    /// Parses `IP:PORT` or `IP:*` (`[v6]:PORT` for IPv6).
    pub fn parse(text: &str) -> Result<AddrPattern, GrantError> {
        let bad = |reason: &str| GrantError::Param {
            capability: super::Capability::Net,
            key: "connect".into(),
            value: text.into(),
            reason: reason.into(),
        };
        let (host, port) = text.rsplit_once(':').ok_or_else(|| bad("expected IP:PORT or IP:*"))?;
        let ip = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(v6) => IpAddr::V6(v6.parse().map_err(|_| bad("not an IPv6 address inside [ ]"))?),
            None if host.contains(':') => return Err(bad("an IPv6 address goes in brackets: [IP]:PORT")),
            None => IpAddr::V4(host.parse().map_err(|_| bad("not an IP address (host names are not resolved here)"))?),
        };
        // An IPv4-mapped address is the IPv4 address it maps, as addresses
        // connected to are.
        let ip = canonical(ip);
        let port = match port {
            "*" => None,
            port => Some(port.parse::<u16>().map_err(|_| bad("the port must be a number up to 65535, or *"))?),
        };
        Ok(AddrPattern { ip, port })
    }

    /// Whether `addr` is one of this pattern's. An IPv6 scope (the
    /// interface of a link-local address) is not part of a pattern.
    fn covers(&self, addr: SocketAddr) -> bool {
        self.ip == canonical(addr.ip()) && self.port.is_none_or(|p| p == addr.port())
    }

    /// Whether every address this pattern allows is allowed by `other`.
    fn within(&self, other: &AddrPattern) -> bool {
        self.ip == other.ip && (other.port.is_none() || other.port == self.port)
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl fmt::Display for AddrPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            IpAddr::V4(ip) => write!(f, "{ip}")?,
            IpAddr::V6(ip) => write!(f, "[{ip}]")?,
        }
        match self.port {
            Some(port) => write!(f, ":{port}"),
            None => f.write_str(":*"),
        }
    }
}

/// Told of each address (or name) a process was refused, and what it tried.
pub(crate) type OnRefused = Arc<dyn Fn(String, &'static str) + Send + Sync>;

/// The `net` capability's parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetGrant {
    connect: Vec<AddrPattern>,
}

impl NetGrant {
    /// Allows connecting to addresses `pattern` covers.
    pub fn connect(mut self, pattern: AddrPattern) -> NetGrant {
        self.connect.push(pattern);
        self
    }

    /// The address patterns allowed.
    pub fn patterns(&self) -> &[AddrPattern] {
        &self.connect
    }

    /// Whether a connect to `addr` is allowed.
    pub fn allows(&self, addr: SocketAddr) -> bool {
        self.connect.iter().any(|p| p.covers(addr))
    }

    /// A child's addresses: each must lie within one held here.
    pub(crate) fn attenuate(&self, asked: &NetGrant) -> Result<NetGrant, GrantError> {
        for pattern in &asked.connect {
            if !self.connect.iter().any(|held| pattern.within(held)) {
                return Err(GrantError::ParamNotHeld {
                    capability: super::Capability::Net,
                    key: "connect".into(),
                    value: pattern.to_string(),
                });
            }
        }
        Ok(asked.clone())
    }

    /// The parameters as a child asks for them: `connect` pairs.
    pub(crate) fn parse(params: &[(String, String)]) -> Result<NetGrant, GrantError> {
        let mut grant = NetGrant::default();
        for (key, value) in params {
            if key != "connect" {
                return Err(GrantError::UnknownParam { capability: super::Capability::Net, key: key.clone() });
            }
            grant.connect.push(AddrPattern::parse(value)?);
        }
        Ok(grant)
    }

    /// Sets up a process's sockets: TCP and UDP on, every address checked
    /// against the patterns. wasmtime-wasi's name lookup stays off: the
    /// patterns are addresses, and a lookup would reach the host's resolver
    /// (a channel out) whatever they say; the kernel's own
    /// `ip-name-lookup` resolves only addresses written as text.
    ///
    /// Every refusal of something the process did (not the filtering of a
    /// UDP datagram it received) goes to `refused`, with the address and
    /// what it tried (`connect to`, `send to`, `bind`, `listen on`).
    pub(crate) fn prepare(&self, builder: &mut WasiCtxBuilder, refused: OnRefused) {
        let grant = Arc::new(self.clone());
        builder.allow_tcp(true).allow_udp(true).allow_ip_name_lookup(false).socket_addr_check(move |addr, used| {
            let (allowed, tried) = match used {
                SocketAddrUse::TcpConnect => (grant.allows(addr), "connect to"),
                SocketAddrUse::UdpSend => (grant.allows(addr), "send to"),
                SocketAddrUse::UdpReceive => (grant.allows(addr), ""),
                // A bind to the wildcard address and port 0 (what a connect
                // or a first send does implicitly, and WASI's UDP asks for
                // explicitly) lets nothing in: listening is refused.
                SocketAddrUse::TcpBind | SocketAddrUse::UdpBind => {
                    (addr.port() == 0 && addr.ip().is_unspecified(), "bind")
                }
                SocketAddrUse::TcpListen | SocketAddrUse::TcpAccept => (false, "listen on"),
            };
            if !allowed && !tried.is_empty() {
                refused(addr.to_string(), tried);
            }
            Box::pin(async move { allowed })
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(patterns: &[&str]) -> NetGrant {
        NetGrant::parse(&patterns.iter().map(|p| ("connect".to_string(), p.to_string())).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn patterns_cover_their_addresses() {
        let held = grant(&["127.0.0.1:8080", "10.0.0.7:*", "[::1]:53"]);
        assert!(held.allows("127.0.0.1:8080".parse().unwrap()));
        assert!(!held.allows("127.0.0.1:8081".parse().unwrap()));
        assert!(held.allows("10.0.0.7:1".parse().unwrap()));
        assert!(held.allows("[::ffff:127.0.0.1]:8080".parse().unwrap()), "a mapped address is its IPv4 one");
        assert!(held.allows("[::1]:53".parse().unwrap()));
        assert!(!NetGrant::default().allows("127.0.0.1:80".parse().unwrap()), "nothing without a pattern");
        assert_eq!(held.patterns()[2].to_string(), "[::1]:53");
    }

    #[test]
    fn a_child_connects_only_where_its_parent_may() {
        let held = grant(&["127.0.0.1:8080", "10.0.0.7:*"]);
        assert!(held.attenuate(&grant(&["10.0.0.7:22"])).is_ok(), "one port of any");
        assert!(held.attenuate(&grant(&["127.0.0.1:8080"])).is_ok());
        let err = held.attenuate(&grant(&["127.0.0.1:*"])).unwrap_err();
        assert_eq!(err.to_string(), "capability `net`: `connect = 127.0.0.1:*` is not held by the parent");
        assert!(held.attenuate(&grant(&["10.0.0.8:22"])).is_err());
    }

    #[test]
    fn bad_parameters_are_named() {
        let err = NetGrant::parse(&[("hosts".into(), "example.com".into())]).unwrap_err();
        assert_eq!(err.to_string(), "capability `net` takes no parameter `hosts`");
        let err = AddrPattern::parse("example.com:80").unwrap_err();
        assert!(
            err.to_string().starts_with("capability `net`: `connect = example.com:80`: not an IP address"),
            "{err}"
        );
        assert!(AddrPattern::parse("127.0.0.1").is_err());
        assert!(AddrPattern::parse("127.0.0.1:70000").is_err());
        let err = AddrPattern::parse("1::2:3").unwrap_err().to_string();
        assert!(err.ends_with("an IPv6 address goes in brackets: [IP]:PORT"), "not split at its last colon: {err}");
        assert!(AddrPattern::parse("[127.0.0.1]:80").is_err(), "brackets are for IPv6");
        assert!(AddrPattern::parse("[::1]").is_err());
    }

    #[test]
    fn a_mapped_pattern_is_its_ipv4_address() {
        let held = grant(&["[::ffff:10.0.0.7]:80"]);
        assert_eq!(held.patterns()[0].to_string(), "10.0.0.7:80");
        assert!(held.allows("10.0.0.7:80".parse().unwrap()));
        assert!(held.allows("[::ffff:10.0.0.7]:80".parse().unwrap()));
    }
}
