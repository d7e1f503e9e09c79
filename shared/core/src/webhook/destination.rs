//! Where a webhook may point. Deployed, only `https://` URLs whose host resolves to public
//! addresses: a webhook is a request Clavis makes on a tenant's behalf, so without these rules
//! an admin could aim it at the metadata service or at anything else only Clavis's network
//! reaches (server-side request forgery). The rules apply at registration and again at each
//! delivery, on the addresses the connection will use, since a name can resolve differently
//! later.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

/// Longer URLs are refused: nobody's receiver needs more, and each is stored and shown.
pub const URL_MAX_LEN: usize = 1024;

/// A webhook's URL, parsed and checked against the rules it was registered under.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WebhookUrl(url::Url);

impl WebhookUrl {
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The host to resolve (an IP literal without IPv6's brackets).
    pub fn host(&self) -> &str {
        match self.0.host() {
            Some(url::Host::Ipv6(_)) => self
                .0
                .host_str()
                .map_or("", |h| h.trim_start_matches('[').trim_end_matches(']')),
            _ => self.0.host_str().unwrap_or(""),
        }
    }

    pub fn port(&self) -> u16 {
        self.0.port_or_known_default().unwrap_or(443)
    }

    /// Scheme, host and port only: what audit events and payloads name, since a URL's path or
    /// query often carries a token of the receiver's (a chat service's incoming hooks do).
    pub fn origin(&self) -> String {
        self.0.origin().ascii_serialization()
    }

    /// The address, when the host is an IP literal.
    fn literal_address(&self) -> Option<IpAddr> {
        match self.0.host()? {
            url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
            url::Host::Domain(_) => None,
        }
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookUrl({})", self.origin())
    }
}

impl TryFrom<String> for WebhookUrl {
    type Error = String;
    /// Stored URLs were checked when registered; reading one back checks its form only.
    fn try_from(text: String) -> Result<Self, String> {
        url::Url::parse(&text)
            .map(Self)
            .map_err(|_| "not a URL".to_owned())
    }
}

impl From<WebhookUrl> for String {
    fn from(url: WebhookUrl) -> String {
        url.0.into()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefusal {
    #[error("The URL is not a valid absolute URL.")]
    Malformed,
    #[error("The URL is longer than {URL_MAX_LEN} characters.")]
    TooLong,
    #[error("Webhook URLs must use https.")]
    NotHttps,
    #[error("Webhook URLs may not carry a user name or password.")]
    Credentials,
    #[error("The URL's host does not resolve.")]
    Unresolvable,
    /// The address is not named: an admin learns only that the destination is not public.
    #[error(
        "The URL's host resolves to a private, loopback, link-local or metadata address, which webhooks may not reach."
    )]
    PrivateDestination,
}

/// The destination rules of a deployment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DestinationRules {
    /// `WEBHOOK_ALLOW_PRIVATE`: plain `http://` and internal addresses, for a local receiver.
    pub allow_private: bool,
}

impl DestinationRules {
    /// The URL's form: absolute, `https` (or `http` when private destinations are allowed), a
    /// host, no credentials. A host that is an IP literal is checked here too.
    pub fn parse(&self, text: &str) -> Result<WebhookUrl, UrlRefusal> {
        if text.len() > URL_MAX_LEN {
            return Err(UrlRefusal::TooLong);
        }
        let url = url::Url::parse(text).map_err(|_| UrlRefusal::Malformed)?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_private => {}
            "http" => return Err(UrlRefusal::NotHttps),
            _ => return Err(UrlRefusal::Malformed),
        }
        if url.host().is_none() || url.cannot_be_a_base() {
            return Err(UrlRefusal::Malformed);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlRefusal::Credentials);
        }
        let url = WebhookUrl(url);
        if let Some(ip) = url.literal_address() {
            self.check_addresses(&[ip])?;
        }
        Ok(url)
    }

    /// Whether a delivery may connect to `ip`.
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.allow_private || !is_internal(ip)
    }

    /// The addresses a host resolved to: at least one, and none internal. One internal address
    /// among public ones refuses the whole name, since which one a connection uses is not ours
    /// to choose at registration.
    pub fn check_addresses(&self, addresses: &[IpAddr]) -> Result<(), UrlRefusal> {
        if addresses.is_empty() {
            return Err(UrlRefusal::Unresolvable);
        }
        if addresses.iter().any(|ip| !self.allows(*ip)) {
            return Err(UrlRefusal::PrivateDestination);
        }
        Ok(())
    }
}

/// Addresses that are not on the public internet: loopback, private, shared (CGNAT),
/// link-local (which holds the cloud metadata service, 169.254.169.254), unique-local (and
/// AWS's IPv6 metadata address in it), unspecified, multicast, broadcast, documentation,
/// benchmarking and reserved ranges, IPv6 forms embedding any of those IPv4 addresses (mapped,
/// NAT64, 6to4), and IPv6 transition ranges that lead somewhere unseen (local-use NAT64, Teredo).
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => is_internal_v6(v6),
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240
}

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_internal_v4(v4);
    }
    let segments = ip.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    // NAT64 (64:ff9b::/96) reaches the IPv4 address in its last 32 bits.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_internal_v4(v4(segments[6], segments[7]));
    }
    // 6to4 (2002::/16) reaches the IPv4 address in its bits 16 to 48.
    if segments[0] == 0x2002 {
        return is_internal_v4(v4(segments[1], segments[2]));
    }
    // Local-use NAT64 (64:ff9b:1::/48) translates inside an operator's own network, and Teredo
    // (2001::/32) tunnels to an address it hides: neither is a receiver's public address.
    if segments[..3] == [0x64, 0xff9b, 1] || segments[..2] == [0x2001, 0] {
        return true;
    }
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || ip.is_unique_local()
        || ip.is_unicast_link_local()
        // Site-local (fec0::/10, deprecated but routable inside some networks), documentation
        // (2001:db8::/32), and the IPv4-compatible ::/96.
        || (segments[0] & 0xffc0) == 0xfec0
        || (segments[0] == 0x2001 && segments[1] == 0x0db8)
        || segments[..6] == [0; 6]
}
