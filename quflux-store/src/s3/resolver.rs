//! The DNS resolver of the store's HTTP client: `localhost` and `*.localhost` are loopback.
//!
//! RFC 6761 §6.3 reserves `localhost` and every name under it for loopback, and curl and
//! browsers resolve them so themselves; glibc resolves only `localhost`. Virtual-host addressing
//! of a local server (`--endpoint http://localhost:9000`) sends requests to
//! `<bucket>.localhost`, so without this resolver only path-style addressing would reach it.
//! Every other name goes to the system resolver (`getaddrinfo`, off the async threads).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};

use aws_smithy_runtime_api::client::dns::{DnsFuture, ResolveDns, ResolveDnsError};

/// Resolves `localhost` names to loopback and every other name through the system.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct LoopbackLocalhost;

/// Whether `name` is `localhost` or a name under it (case-insensitive, trailing dot allowed).
fn is_localhost(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

impl ResolveDns for LoopbackLocalhost {
    fn resolve_dns<'a>(&'a self, name: &'a str) -> DnsFuture<'a> {
        if is_localhost(name) {
            // IPv4 first: local test servers usually bind 127.0.0.1 only.
            return DnsFuture::ready(Ok(vec![
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ]));
        }
        let name = name.to_owned();
        DnsFuture::new(async move {
            let resolved =
                tokio::task::spawn_blocking(move || (name.as_str(), 0).to_socket_addrs()).await;
            match resolved {
                Ok(Ok(addrs)) => Ok(addrs.map(|addr| addr.ip()).collect()),
                Ok(Err(err)) => Err(ResolveDnsError::new(err)),
                Err(join) => Err(ResolveDnsError::new(std::io::Error::other(join))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_names_are_recognised() {
        for name in [
            "localhost",
            "LOCALHOST.",
            "media.localhost",
            "a.b.localhost",
        ] {
            assert!(is_localhost(name), "{name}");
        }
        for name in ["localhost.example.com", "notlocalhost", "example.com", ""] {
            assert!(!is_localhost(name), "{name}");
        }
    }

    #[tokio::test]
    async fn bucket_subdomains_of_localhost_resolve_to_loopback() {
        let addrs = LoopbackLocalhost
            .resolve_dns("quflux-test.localhost")
            .await
            .unwrap();
        assert_eq!(addrs.first(), Some(&IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert!(addrs.iter().all(IpAddr::is_loopback));
    }

    #[tokio::test]
    async fn other_names_go_to_the_system_resolver() {
        let addrs = LoopbackLocalhost.resolve_dns("127.0.0.1").await.unwrap();
        assert_eq!(addrs, vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]);
        let addrs = LoopbackLocalhost.resolve_dns("::1").await.unwrap();
        assert_eq!(addrs, vec![IpAddr::V6(Ipv6Addr::LOCALHOST)]);
    }
}
