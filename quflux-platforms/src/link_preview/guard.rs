//! The SSRF guard: which URLs and addresses a preview may fetch.
//!
//! Three checks, applied to the first URL and to every redirect target:
//!
//! 1. [`check_url`]: `http`/`https` only, no user name or password, and an IP-literal host must
//!    be allowed by [`blocked_reason`] (`reqwest` connects to IP literals without asking the
//!    resolver). The `url` crate normalises decimal, octal and hex IPv4 hosts
//!    (`http://2130706433/`, `http://0x7f.1/`) to IPv4 literals, so they are checked too.
//! 2. Host names on a deny list ([`blocked_name`]: cloud metadata names, `localhost`) are
//!    refused before any lookup.
//! 3. [`GuardedResolver`], the client's only resolver, looks the name up and returns the
//!    addresses only if **every** one is allowed; the connection goes to exactly the addresses
//!    checked, so there is no DNS-rebinding window between check and connect.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use quflux_core::{Error, Result};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Why an address may not be fetched. `Display` gives the category as in error messages
/// ("loopback", "cloud metadata", …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BlockReason {
    /// `127.0.0.0/8`, `::1`, and the name `localhost`.
    Loopback,
    /// `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`, `fc00::/7`, `fec0::/10`,
    /// `64:ff9b:1::/48` (local-use NAT64).
    Private,
    /// `169.254.0.0/16`, `fe80::/10`.
    LinkLocal,
    /// Instance metadata services: `169.254.169.254`, `fd00:ec2::254`, `100.100.100.200`
    /// (Alibaba), `168.63.129.16` (Azure WireServer), and names such as
    /// `metadata.google.internal`.
    CloudMetadata,
    /// Carrier-grade NAT, `100.64.0.0/10`.
    SharedAddressSpace,
    /// `0.0.0.0/8`, `::`.
    Unspecified,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// `192.0.2.0/24`, `198.51.100.0/24`, `203.0.113.0/24`, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// Everything else that is not public unicast: `240.0.0.0/4`, `192.0.0.0/24`,
    /// `198.18.0.0/15`, `192.88.99.0/24`, IPv6 outside `2000::/3`, `100::/64`,
    /// `2001:2::/48`, `2001:10::/28`, `2001:20::/28`.
    Reserved,
}

impl BlockReason {
    /// The category as in error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::LinkLocal => "link-local",
            Self::CloudMetadata => "cloud metadata",
            Self::SharedAddressSpace => "carrier-grade NAT",
            Self::Unspecified => "unspecified",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
            Self::Documentation => "documentation",
            Self::Reserved => "reserved",
        }
    }
}

impl fmt::Display for BlockReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why `ip` may not be fetched, or `None` for a public unicast address.
///
/// IPv6 addresses that embed an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
/// `::a.b.c.d`, IPv4-translated `::ffff:0:a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`,
/// Teredo `2001::/32`) are judged by the embedded address.
///
/// ```
/// use std::net::IpAddr;
/// use quflux_platforms::link_preview::{BlockReason, blocked_reason};
///
/// let ip: IpAddr = "::ffff:169.254.169.254".parse().unwrap();
/// assert_eq!(blocked_reason(ip), Some(BlockReason::CloudMetadata));
/// assert_eq!(blocked_reason("93.184.216.34".parse().unwrap()), None);
/// ```
pub fn blocked_reason(ip: IpAddr) -> Option<BlockReason> {
    match ip {
        IpAddr::V4(v4) => blocked_v4(v4),
        IpAddr::V6(v6) => blocked_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn in_v6(ip: Ipv6Addr, net: [u16; 8], prefix: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
    u128::from(ip) & mask == u128::from(Ipv6Addr::from(net)) & mask
}

fn blocked_v4(ip: Ipv4Addr) -> Option<BlockReason> {
    use BlockReason::*;
    const METADATA: [[u8; 4]; 3] = [
        [169, 254, 169, 254],
        [100, 100, 100, 200],
        [168, 63, 129, 16],
    ];
    let table: [([u8; 4], u32, BlockReason); 16] = [
        ([0, 0, 0, 0], 8, Unspecified),
        ([127, 0, 0, 0], 8, Loopback),
        ([10, 0, 0, 0], 8, Private),
        ([172, 16, 0, 0], 12, Private),
        ([192, 168, 0, 0], 16, Private),
        ([169, 254, 0, 0], 16, LinkLocal),
        ([100, 64, 0, 0], 10, SharedAddressSpace),
        ([255, 255, 255, 255], 32, Broadcast),
        ([224, 0, 0, 0], 4, Multicast),
        ([240, 0, 0, 0], 4, Reserved),
        ([192, 0, 2, 0], 24, Documentation),
        ([198, 51, 100, 0], 24, Documentation),
        ([203, 0, 113, 0], 24, Documentation),
        ([192, 0, 0, 0], 24, Reserved),
        ([198, 18, 0, 0], 15, Reserved),
        ([192, 88, 99, 0], 24, Reserved),
    ];
    if METADATA.iter().any(|m| ip.octets() == *m) {
        return Some(CloudMetadata);
    }
    table
        .iter()
        .find(|(net, prefix, _)| in_v4(ip, *net, *prefix))
        .map(|(_, _, reason)| *reason)
}

fn embedded_v4(bits: u128, shift: u32) -> Ipv4Addr {
    // Truncation is the point: take 32 bits at `shift`.
    Ipv4Addr::from(((bits >> shift) & 0xffff_ffff) as u32)
}

fn blocked_v6(ip: Ipv6Addr) -> Option<BlockReason> {
    use BlockReason::*;
    let bits = u128::from(ip);
    if ip.is_unspecified() {
        return Some(Unspecified);
    }
    if ip.is_loopback() {
        return Some(Loopback);
    }
    if ip == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254) {
        return Some(CloudMetadata);
    }
    // Embedded IPv4: mapped ::ffff:a.b.c.d, translated ::ffff:0:a.b.c.d, compatible ::a.b.c.d,
    // NAT64 64:ff9b::a.b.c.d. A public embedded address is allowed except for the deprecated
    // compatible form, which no one routes.
    if in_v6(ip, [0, 0, 0, 0, 0, 0xffff, 0, 0], 96)
        || in_v6(ip, [0, 0, 0, 0, 0xffff, 0, 0, 0], 96)
        || in_v6(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96)
    {
        return blocked_v4(embedded_v4(bits, 0));
    }
    if in_v6(ip, [0, 0, 0, 0, 0, 0, 0, 0], 96) {
        return Some(blocked_v4(embedded_v4(bits, 0)).unwrap_or(Reserved));
    }
    // 6to4: 2002:AABB:CCDD::/48 carries the IPv4 address in bits 16..48.
    if in_v6(ip, [0x2002, 0, 0, 0, 0, 0, 0, 0], 16) {
        return blocked_v4(embedded_v4(bits, 80));
    }
    // Teredo: server IPv4 in bits 32..64, client IPv4 inverted in the last 32 bits.
    if in_v6(ip, [0x2001, 0, 0, 0, 0, 0, 0, 0], 32) {
        let client = Ipv4Addr::from(!u32::from(embedded_v4(bits, 0)));
        return blocked_v4(client).or_else(|| blocked_v4(embedded_v4(bits, 64)));
    }
    let table: [([u16; 8], u32, BlockReason); 11] = [
        ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, Private),
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, Private),
        ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, Private),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, LinkLocal),
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, Multicast),
        ([0x2001, 0x0db8, 0, 0, 0, 0, 0, 0], 32, Documentation),
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, Documentation),
        ([0x0100, 0, 0, 0, 0, 0, 0, 0], 64, Reserved),
        ([0x2001, 0x0002, 0, 0, 0, 0, 0, 0], 48, Reserved),
        ([0x2001, 0x0010, 0, 0, 0, 0, 0, 0], 28, Reserved),
        ([0x2001, 0x0020, 0, 0, 0, 0, 0, 0], 28, Reserved),
    ];
    if let Some((_, _, reason)) = table
        .iter()
        .find(|(net, prefix, _)| in_v6(ip, *net, *prefix))
    {
        return Some(*reason);
    }
    // Only global unicast (2000::/3) is public.
    if !in_v6(ip, [0x2000, 0, 0, 0, 0, 0, 0, 0], 3) {
        return Some(Reserved);
    }
    None
}

/// Why the host name `name` may not be fetched, before any lookup: cloud metadata names
/// (`metadata.google.internal`, `metadata.goog`, `metadata`, `instance-data`, …) and
/// `localhost` / `*.localhost`. Case and a trailing dot are ignored.
pub fn blocked_name(name: &str) -> Option<BlockReason> {
    const METADATA: [&str; 5] = [
        "metadata.google.internal",
        "metadata.goog",
        "metadata",
        "instance-data",
        "instance-data.ec2.internal",
    ];
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if METADATA.contains(&name.as_str()) {
        Some(BlockReason::CloudMetadata)
    } else if name == "localhost" || name.ends_with(".localhost") {
        Some(BlockReason::Loopback)
    } else {
        None
    }
}

/// Which destinations a previewer refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AddressPolicy {
    /// Lets loopback (and only loopback) through: tests and local development only.
    pub(crate) allow_loopback: bool,
}

impl AddressPolicy {
    pub(crate) fn check_ip(self, ip: IpAddr) -> Option<BlockReason> {
        blocked_reason(ip).filter(|r| !(self.allow_loopback && *r == BlockReason::Loopback))
    }

    pub(crate) fn check_name(self, name: &str) -> Option<BlockReason> {
        blocked_name(name).filter(|r| !(self.allow_loopback && *r == BlockReason::Loopback))
    }
}

/// The error for a blocked destination, as the caller sees it.
pub(crate) fn blocked_error(host: &str, reason: BlockReason) -> Error {
    Error::invalid_input(
        "url",
        format!("{host} resolves to a blocked address ({reason})"),
    )
}

/// Checks scheme, credentials and (for IP literals and deny-listed names) the host of `url`.
///
/// # Errors
/// [`Error::InvalidInput`] on field `url` saying what is refused.
pub(crate) fn check_url(url: &Url, policy: AddressPolicy) -> Result<()> {
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(Error::invalid_input(
                "url",
                format!("only http and https URLs can be previewed, not {other}:"),
            ));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::invalid_input(
            "url",
            "URLs with a user name or password cannot be previewed",
        ));
    }
    let blocked = match url.host() {
        None => return Err(Error::invalid_input("url", "the URL has no host")),
        Some(Host::Ipv4(v4)) => policy.check_ip(IpAddr::V4(v4)),
        Some(Host::Ipv6(v6)) => policy.check_ip(IpAddr::V6(v6)),
        Some(Host::Domain(name)) => policy.check_name(name),
    };
    match blocked {
        Some(reason) => Err(blocked_error(url.host_str().unwrap_or_default(), reason)),
        None => Ok(()),
    }
}

/// A resolver refusal, found again in `reqwest`'s error chain to name the reason.
#[derive(Debug)]
pub(crate) struct BlockedDestination {
    pub(crate) host: String,
    pub(crate) reason: BlockReason,
}

impl fmt::Display for BlockedDestination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} resolves to a blocked address ({})",
            self.host, self.reason
        )
    }
}

impl std::error::Error for BlockedDestination {}

/// Where [`GuardedResolver`] gets addresses from.
#[derive(Debug, Clone)]
pub(crate) enum Lookup {
    /// The system resolver (`getaddrinfo` via `tokio::net::lookup_host`).
    System,
    /// Fixed answers, so unit tests can make a name resolve to any address.
    #[cfg(test)]
    Fixed(std::collections::HashMap<String, Vec<IpAddr>>),
}

/// The client's resolver: the lookup, then every address checked; any blocked address fails
/// the whole lookup (the good ones are not used either).
#[derive(Debug, Clone)]
pub(crate) struct GuardedResolver {
    pub(crate) policy: AddressPolicy,
    pub(crate) lookup: Lookup,
}

impl GuardedResolver {
    async fn addresses(&self, host: &str) -> std::io::Result<Vec<SocketAddr>> {
        match &self.lookup {
            // Port 0: reqwest puts the URL's port in.
            Lookup::System => Ok(tokio::net::lookup_host((host, 0)).await?.collect()),
            #[cfg(test)]
            Lookup::Fixed(hosts) => Ok(hosts
                .get(host)
                .into_iter()
                .flatten()
                .map(|ip| SocketAddr::new(*ip, 0))
                .collect()),
        }
    }

    /// The checked addresses of `host`.
    pub(crate) async fn resolve_checked(
        &self,
        host: String,
    ) -> std::result::Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
        if let Some(reason) = self.policy.check_name(&host) {
            return Err(BlockedDestination { host, reason }.into());
        }
        let addrs = self.addresses(&host).await?;
        if addrs.is_empty() {
            return Err(format!("{host} has no addresses").into());
        }
        if let Some(reason) = addrs.iter().find_map(|a| self.policy.check_ip(a.ip())) {
            return Err(BlockedDestination { host, reason }.into());
        }
        Ok(addrs)
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let resolver = self.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Addrs = Box::new(resolver.resolve_checked(host).await?.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_classifier_matches_the_table() {
        use BlockReason::*;
        let table: &[(&str, Option<BlockReason>)] = &[
            // Public addresses pass.
            ("93.184.216.34", None),
            ("8.8.8.8", None),
            ("1.1.1.1", None),
            ("172.32.0.1", None),
            ("100.128.0.1", None),
            ("2606:4700::1111", None),
            ("2a00:1450:4001:80b::200e", None),
            ("::ffff:93.184.216.34", None),
            ("64:ff9b::5db8:d822", None),
            ("2002:5db8:d822::1", None),
            // IPv4.
            ("127.0.0.1", Some(Loopback)),
            ("127.255.255.254", Some(Loopback)),
            ("10.0.0.1", Some(Private)),
            ("172.16.5.4", Some(Private)),
            ("172.31.255.255", Some(Private)),
            ("192.168.1.1", Some(Private)),
            ("169.254.169.254", Some(CloudMetadata)),
            ("100.100.100.200", Some(CloudMetadata)),
            ("168.63.129.16", Some(CloudMetadata)),
            ("169.254.1.1", Some(LinkLocal)),
            ("100.64.0.1", Some(SharedAddressSpace)),
            ("100.127.255.255", Some(SharedAddressSpace)),
            ("0.0.0.0", Some(Unspecified)),
            ("0.1.2.3", Some(Unspecified)),
            ("224.0.0.1", Some(Multicast)),
            ("239.255.255.250", Some(Multicast)),
            ("255.255.255.255", Some(Broadcast)),
            ("192.0.2.10", Some(Documentation)),
            ("198.51.100.7", Some(Documentation)),
            ("203.0.113.99", Some(Documentation)),
            ("240.0.0.1", Some(Reserved)),
            ("192.0.0.170", Some(Reserved)),
            ("198.18.0.1", Some(Reserved)),
            // IPv6.
            ("::1", Some(Loopback)),
            ("::", Some(Unspecified)),
            ("fc00::1", Some(Private)),
            ("fd12:3456::1", Some(Private)),
            ("fd00:ec2::254", Some(CloudMetadata)),
            ("fe80::1", Some(LinkLocal)),
            ("ff02::1", Some(Multicast)),
            ("2001:db8::1", Some(Documentation)),
            ("100::1", Some(Reserved)),
            ("4000::1", Some(Reserved)),
            // Embedded IPv4.
            ("::ffff:127.0.0.1", Some(Loopback)),
            ("::ffff:169.254.169.254", Some(CloudMetadata)),
            ("::ffff:10.1.2.3", Some(Private)),
            ("::ffff:0:127.0.0.1", Some(Loopback)),
            ("::127.0.0.1", Some(Loopback)),
            ("::93.184.216.34", Some(Reserved)),
            ("64:ff9b::7f00:1", Some(Loopback)),
            ("64:ff9b::a9fe:a9fe", Some(CloudMetadata)),
            ("64:ff9b:1::1", Some(Private)),
            ("2002:7f00:1::1", Some(Loopback)),
            ("2002:c0a8:101::1", Some(Private)),
            // Teredo with client 127.0.0.1 (inverted: 80ff:fffe).
            ("2001:0:4136:e378:8000:63bf:80ff:fffe", Some(Loopback)),
        ];
        for (text, expected) in table {
            let ip: IpAddr = text.parse().unwrap();
            assert_eq!(blocked_reason(ip), *expected, "{text}");
        }
    }

    #[test]
    fn names_on_the_deny_list_are_refused() {
        assert_eq!(
            blocked_name("Metadata.Google.Internal."),
            Some(BlockReason::CloudMetadata)
        );
        assert_eq!(blocked_name("localhost"), Some(BlockReason::Loopback));
        assert_eq!(blocked_name("a.localhost"), Some(BlockReason::Loopback));
        assert_eq!(blocked_name("example.com"), None);
        assert_eq!(blocked_name("notlocalhost"), None);
    }

    #[test]
    fn allowing_loopback_allows_nothing_else() {
        let policy = AddressPolicy {
            allow_loopback: true,
        };
        assert_eq!(policy.check_ip("127.0.0.1".parse().unwrap()), None);
        assert_eq!(policy.check_ip("::1".parse().unwrap()), None);
        assert_eq!(policy.check_name("localhost"), None);
        assert_eq!(
            policy.check_ip("10.0.0.1".parse().unwrap()),
            Some(BlockReason::Private)
        );
        assert_eq!(
            policy.check_name("metadata.google.internal"),
            Some(BlockReason::CloudMetadata)
        );
    }
}
