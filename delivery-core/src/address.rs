//! Endpoint address policy: a webhook sender must not become a way into private networks.
//!
//! By default an endpoint URL may not name a loopback, private, link-local or otherwise
//! non-public address, nor `localhost`. The URL check here cannot resolve names, so
//! `delivery-http`'s `TcpConnector::public_only` applies [`is_forbidden_address`] again to every
//! address a host name resolves to, since a public name can resolve to a private address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Returns whether `address` must not be contacted by default: unspecified, loopback, private
/// (RFC 1918, RFC 4193), shared (RFC 6598), link-local, multicast, broadcast, documentation or
/// benchmarking ranges, and IPv6 forms that embed such an IPv4 address.
pub fn is_forbidden_address(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_forbidden_v4(v4),
        IpAddr::V6(v6) => is_forbidden_v6(v6),
    }
}

fn is_forbidden_v4(address: Ipv4Addr) -> bool {
    let [a, b, c, _] = address.octets();
    address.is_unspecified()
        || address.is_loopback()
        || address.is_private()
        || address.is_link_local()
        || address.is_multicast()
        || address.is_broadcast()
        || address.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240
}

fn is_forbidden_v6(address: Ipv6Addr) -> bool {
    if let Some(v4) = address.to_ipv4_mapped() {
        return is_forbidden_v4(v4);
    }
    let first = address.segments()[0];
    address.is_unspecified()
        || address.is_loopback()
        || address.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || first == 0x2001 && address.segments()[1] == 0x0db8
        || first == 0x0064 && address.segments()[1] == 0xff9b
}

/// Extracts the host of an absolute `http://` or `https://` URL, without brackets or port.
pub fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);

    if let Some(bracketed) = host_port.strip_prefix('[') {
        return bracketed.split_once(']').map(|(host, _)| host);
    }
    let host = host_port.split(':').next()?;
    (!host.is_empty()).then_some(host)
}

/// Returns why the URL's host is forbidden by default, or `None` when it may be used.
///
/// Literal addresses are checked with [`is_forbidden_address`]; the names `localhost` and
/// `*.localhost` always resolve to loopback (RFC 6761). Other names pass here and are checked
/// after resolution.
pub fn forbidden_host_reason(url: &str) -> Option<String> {
    let host = url_host(url)?;
    let lowercase = host.to_ascii_lowercase();
    let name = lowercase.trim_end_matches('.');

    if name == "localhost" || name.ends_with(".localhost") {
        return Some(format!("{host} is a loopback name"));
    }
    match name.parse::<IpAddr>() {
        Ok(address) if is_forbidden_address(address) => Some(format!(
            "{address} is a loopback, private, link-local or reserved address"
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_addresses() {
        for text in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "2001:db8::1",
        ] {
            let address: IpAddr = text.parse().unwrap();
            assert!(is_forbidden_address(address), "{text} should be forbidden");
        }
    }

    #[test]
    fn public_addresses_allowed() {
        for text in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
        ] {
            let address: IpAddr = text.parse().unwrap();
            assert!(!is_forbidden_address(address), "{text} should be allowed");
        }
    }

    #[test]
    fn url_host_extraction() {
        assert_eq!(
            url_host("https://hooks.example.com/x"),
            Some("hooks.example.com")
        );
        assert_eq!(url_host("http://10.0.0.1:8080/x?y"), Some("10.0.0.1"));
        assert_eq!(url_host("http://[::1]:9000/"), Some("::1"));
        assert_eq!(
            url_host("https://user:pw@169.254.169.254/"),
            Some("169.254.169.254")
        );
        assert_eq!(url_host("https://"), None);
    }

    #[test]
    fn forbidden_hosts_in_urls() {
        assert!(forbidden_host_reason("http://localhost:3000/hook").is_some());
        assert!(forbidden_host_reason("http://api.localhost./hook").is_some());
        assert!(forbidden_host_reason("http://127.0.0.1/hook").is_some());
        assert!(forbidden_host_reason("http://[fd00::1]/hook").is_some());
        assert!(forbidden_host_reason("https://hooks.example.com/hook").is_none());
        assert!(forbidden_host_reason("https://93.184.216.34/hook").is_none());
    }
}
