//! Which addresses newsqa may fetch from: public ones only, unless an allow-list re-opens some,
//! and on the web's own ports (80 and 443) unless the configuration names more.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use std::sync::LazyLock;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// A network in CIDR notation (`10.0.0.0/8`, `::1/128`; a bare address is one host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr(IpNet);

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Cidr, String> {
        let s = s.trim();
        let bare = s.trim_start_matches('[').trim_end_matches(']');
        if let Ok(addr) = bare.parse::<IpAddr>() {
            return Ok(Cidr(IpNet::from(addr)));
        }
        if !s.contains('/') {
            return Err(format!("{s:?} is not an IP address or CIDR network"));
        }
        s.parse::<IpNet>()
            .map(|n| Cidr(n.trunc()))
            .map_err(|_| format!("{s:?}: not a CIDR network (bad address or prefix length)"))
    }
}

impl Cidr {
    /// Whether `ip` lies in this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&canonical(ip))
    }
}

/// An IPv4 address written as IPv6 (`::ffff:127.0.0.1`) is that IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// IPv4 networks that are not the public internet, and why (RFC 6890 and friends).
const V4_REFUSED: &[(&str, &str)] = &[
    ("0.0.0.0/8", "an unspecified or \"this network\" address"),
    ("127.0.0.0/8", "a loopback address"),
    ("10.0.0.0/8", "a private address"),
    ("172.16.0.0/12", "a private address"),
    ("192.168.0.0/16", "a private address"),
    ("169.254.169.254/32", "the cloud metadata address"),
    ("169.254.0.0/16", "a link-local address"),
    ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
    ("192.0.0.0/24", "a protocol-assignment address"),
    ("192.0.2.0/24", "a documentation address"),
    ("198.51.100.0/24", "a documentation address"),
    ("203.0.113.0/24", "a documentation address"),
    ("198.18.0.0/15", "a benchmarking address"),
    ("224.0.0.0/3", "a multicast or reserved address"),
];

/// IPv6 networks refused outright, and why. The transition ranges that embed an IPv4 address
/// are judged by that address instead (see `embedded_v4`).
const V6_REFUSED: &[(&str, &str)] = &[
    ("::/128", "an unspecified address"),
    ("::1/128", "a loopback address"),
    ("fc00::/7", "a private (unique local) address"),
    ("fe80::/10", "a link-local address"),
    ("fec0::/10", "a site-local address"),
    ("ff00::/8", "a multicast address"),
    ("2001:db8::/32", "a documentation address"),
];

/// Parses one of the tables above, most specific network first.
fn table<N: FromStr>(rows: &[(&str, &'static str)]) -> Vec<(N, &'static str)>
where
    N::Err: std::fmt::Debug,
{
    rows.iter()
        .map(|(net, why)| (net.parse().expect("a valid network in the table"), *why))
        .collect()
}

static V4: LazyLock<Vec<(Ipv4Net, &'static str)>> = LazyLock::new(|| table(V4_REFUSED));
static V6: LazyLock<Vec<(Ipv6Net, &'static str)>> = LazyLock::new(|| table(V6_REFUSED));

/// Why `ip` must not be fetched from, or `None` when it is a public address.
pub fn refusal(ip: IpAddr) -> Option<&'static str> {
    match canonical(ip) {
        IpAddr::V4(v4) => refusal_v4(v4),
        IpAddr::V6(v6) => refusal_v6(v6),
    }
}

fn refusal_v4(ip: Ipv4Addr) -> Option<&'static str> {
    V4.iter()
        .find(|(net, _)| net.contains(&ip))
        .map(|&(_, why)| why)
}

fn refusal_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(&(_, why)) = V6.iter().find(|(net, _)| net.contains(&ip)) {
        return Some(why);
    }
    // An address that carries an IPv4 address is as reachable as that address: a private
    // one inside 6to4 or NAT64 is still private.
    embedded_v4(ip).into_iter().find_map(refusal_v4)
}

/// The IPv4 addresses an IPv6 transition address embeds:
/// - IPv4-compatible `::a.b.c.d` (::/96, deprecated);
/// - NAT64 `64:ff9b::a.b.c.d` (64:ff9b::/96, RFC 6052);
/// - local-use NAT64 `64:ff9b:1::/48` (RFC 8215), with the address in bits 48 to 88 around
///   the reserved octet, as RFC 6052 lays out a /48 prefix;
/// - 6to4 `2002:AABB:CCDD::/48` (2002::/16, RFC 3056);
/// - Teredo `2001:0:SSSS:SSSS:..:CCCC:CCCC` (2001::/32, RFC 4380): the server's address, and
///   the client's, stored with its bits inverted.
fn embedded_v4(ip: Ipv6Addr) -> Vec<Ipv4Addr> {
    let seg = ip.segments();
    let o = ip.octets();
    let v4 = |a: u16, b: u16| Ipv4Addr::new((a >> 8) as u8, a as u8, (b >> 8) as u8, b as u8);
    match seg {
        [0, 0, 0, 0, 0, 0, a, b] => vec![v4(a, b)],
        [0x64, 0xff9b, 0, 0, 0, 0, a, b] => vec![v4(a, b)],
        [0x64, 0xff9b, 1, ..] => vec![Ipv4Addr::new(o[6], o[7], o[9], o[10])],
        [0x2002, a, b, ..] => vec![v4(a, b)],
        [0x2001, 0, a, b, _, _, c, d] => vec![v4(a, b), v4(!c, !d)],
        _ => Vec::new(),
    }
}

/// The ports fetched from unless the configuration names more: the web's own.
pub const DEFAULT_PORTS: &[u16] = &[80, 443];

/// Why an address may not be fetched from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The address is not public; the reason names its kind.
    Address(&'static str),
    /// The address is public but the port is not one newsqa fetches from.
    Port(u16),
}

/// The address policy: refuse non-public addresses unless the allow-list holds them, and ports
/// other than the open ones (80 and 443 by default). A network on the allow-list is opened
/// whole, every port included: it is the operator's own.
#[derive(Debug, Clone)]
pub struct Guard {
    allow: Vec<Cidr>,
    ports: Vec<u16>,
}

impl Default for Guard {
    fn default() -> Self {
        Guard::new(Vec::new(), DEFAULT_PORTS.to_vec())
    }
}

impl Guard {
    /// A guard that re-opens the given networks (for tests and self-hosting) and fetches from
    /// the given ports of public addresses.
    pub fn new(allow: Vec<Cidr>, ports: Vec<u16>) -> Guard {
        Guard { allow, ports }
    }

    /// Why `ip`, port `port`, may not be fetched from, or `None` when it may.
    pub fn check(&self, ip: IpAddr, port: u16) -> Option<Refused> {
        if self.allow.iter().any(|c| c.contains(ip)) {
            return None;
        }
        if let Some(why) = refusal(ip) {
            return Some(Refused::Address(why));
        }
        (!self.ports.contains(&port)).then_some(Refused::Port(port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn private_loopback_link_local_and_metadata_addresses_are_refused() {
        for bad in [
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.1.1",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            // Site-local (deprecated, never public).
            "fec0::1",
            // 6to4 around 10.0.0.1 and 127.0.0.1.
            "2002:0a00:0001::1",
            "2002:7f00:0001:1234::5",
            // Teredo: a private server, or a private client (its bits inverted: 192.168.0.1).
            "2001:0:0a00:0001::1",
            "2001:0:0808:0808:0:0:3f57:fffe",
            // Local-use NAT64 around 169.254.169.254 (RFC 6052's /48 layout).
            "64:ff9b:1:a9fe:a9:fe00::",
        ] {
            assert!(refusal(ip(bad)).is_some(), "{bad} should be refused");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for good in [
            "93.184.216.34",
            "172.32.0.1",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            // The same transition ranges around public addresses.
            "2002:0808:0808::1",
            "2001:0:0808:0808:0:0:f7f7:f7f7",
            "64:ff9b::808:808",
            "64:ff9b:1:0808:08:0800::",
        ] {
            assert_eq!(refusal(ip(good)), None, "{good}");
        }
    }

    #[test]
    fn the_allow_list_reopens_only_what_it_names() {
        let guard = Guard::new(
            vec!["127.0.0.1".parse().unwrap(), "10.0.0.0/8".parse().unwrap()],
            DEFAULT_PORTS.to_vec(),
        );
        // An allowed network is open on every port: it is the operator's own.
        assert_eq!(guard.check(ip("127.0.0.1"), 8080), None);
        assert_eq!(guard.check(ip("::ffff:127.0.0.1"), 80), None);
        assert_eq!(guard.check(ip("10.200.0.1"), 443), None);
        assert!(guard.check(ip("127.0.0.2"), 80).is_some());
        assert!(guard.check(ip("::1"), 80).is_some());
        assert!(guard.check(ip("192.168.0.1"), 80).is_some());
    }

    #[test]
    fn public_addresses_are_fetched_on_the_open_ports_only() {
        let guard = Guard::default();
        assert_eq!(guard.check(ip("8.8.8.8"), 80), None);
        assert_eq!(guard.check(ip("2606:4700::1111"), 443), None);
        for port in [22, 25, 6379, 8080] {
            assert_eq!(guard.check(ip("8.8.8.8"), port), Some(Refused::Port(port)));
        }
        // A private address is refused for what it is, whatever the port.
        assert_eq!(
            guard.check(ip("10.0.0.1"), 22),
            Some(Refused::Address("a private address"))
        );
        let more = Guard::new(Vec::new(), vec![80, 443, 8080]);
        assert_eq!(more.check(ip("8.8.8.8"), 8080), None);
    }

    #[test]
    fn cidr_parsing_rejects_nonsense() {
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("example.com".parse::<Cidr>().is_err());
        assert!("10.0.0.0/x".parse::<Cidr>().is_err());
        assert_eq!("[::1]".parse::<Cidr>().unwrap(), "::1/128".parse().unwrap());
        // Host bits are dropped: 10.1.2.3/8 is 10.0.0.0/8.
        assert!("10.1.2.3/8"
            .parse::<Cidr>()
            .unwrap()
            .contains(ip("10.9.9.9")));
    }
}
