//! Where a request came from, as failure throttling counts it.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

/// The address a request came from: API Gateway's `requestContext.http.sourceIp` (locally the
/// TCP peer), never a header a client can set such as `X-Forwarded-For`. An IPv6 address
/// counts as its /64, the smallest network one subscriber is given, so that hopping between
/// the addresses of one's own network does not start a fresh count.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SourceAddress(String);

impl SourceAddress {
    pub fn from_ip(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Self(v4.to_string()),
            IpAddr::V6(v6) => {
                let network = u128::from(v6) & (u128::MAX << 64);
                Self(format!("{}/64", Ipv6Addr::from(network)))
            }
        }
    }

    /// `None` unless `text` is an IP address.
    pub fn parse(text: &str) -> Option<Self> {
        text.trim().parse::<IpAddr>().ok().map(Self::from_ip)
    }

    /// `text` if it is an address, else the shared bucket of requests whose source is not
    /// known (which only a misconfigured gateway produces).
    pub fn parse_or_unknown(text: Option<&str>) -> Self {
        text.and_then(Self::parse).unwrap_or_else(Self::unknown)
    }

    /// Every request whose source is unknown shares this one count: throttling fails closed.
    pub fn unknown() -> Self {
        Self("unknown".into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SourceAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_counted_as_their_subscriber_would_hold_them() {
        assert_eq!(
            SourceAddress::parse("192.0.2.1").unwrap().as_str(),
            "192.0.2.1"
        );
        assert_eq!(
            SourceAddress::parse("::ffff:192.0.2.1").unwrap().as_str(),
            "192.0.2.1",
            "an IPv4 address mapped into IPv6 is the IPv4 address"
        );
        assert_eq!(
            SourceAddress::parse("2001:db8:1:2:aaaa::1"),
            SourceAddress::parse("2001:db8:1:2:ffff::9"),
            "one /64 is one source"
        );
        assert_eq!(
            SourceAddress::parse("2001:db8:1:2::1").unwrap().as_str(),
            "2001:db8:1:2::/64"
        );
        assert_ne!(
            SourceAddress::parse("2001:db8:1:2::1"),
            SourceAddress::parse("2001:db8:1:3::1")
        );
        for junk in ["", "10.0.0.1, 10.0.0.2", "example.com", "unknown"] {
            assert_eq!(SourceAddress::parse(junk), None, "{junk}");
        }
        assert_eq!(
            SourceAddress::parse_or_unknown(Some("nonsense")),
            SourceAddress::unknown()
        );
    }
}
