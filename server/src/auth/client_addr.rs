//! Which address a request comes from: the socket peer, or, behind proxies the operator trusts,
//! the rightmost address in `X-Forwarded-For` that is not one of those proxies.
//!
//! Each proxy appends the address it received the request from, so only the right end of the
//! header is written by someone we trust; everything to the left of it is whatever the client
//! sent. Taking the first entry (as this module once did) let any client choose its address and
//! walk around per-address limits.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The operator's proxy settings (`TRUST_PROXY_HEADERS`, `TRUSTED_PROXIES`).
#[derive(Clone, Debug, Default)]
pub struct ProxyTrust {
    enabled: bool,
    /// Proxies in front of us. Empty: the socket peer is the one trusted proxy.
    trusted: Vec<IpNet>,
}

impl ProxyTrust {
    pub fn new(enabled: bool, trusted: Vec<IpNet>) -> Self {
        ProxyTrust { enabled, trusted }
    }

    /// From `TRUST_PROXY_HEADERS` and `TRUSTED_PROXIES`.
    pub fn from_settings(enabled: bool, trusted: Option<&str>) -> Result<Self, String> {
        let trusted = trusted
            .map(Self::parse_list)
            .transpose()?
            .unwrap_or_default();
        Ok(ProxyTrust::new(enabled, trusted))
    }

    /// Parses `TRUSTED_PROXIES`: addresses or CIDR ranges separated by commas.
    pub fn parse_list(list: &str) -> Result<Vec<IpNet>, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                IpNet::from_str(s)
                    .or_else(|_| IpAddr::from_str(s).map(IpNet::from))
                    .map_err(|_| format!("`{s}` is not an address or CIDR range"))
            })
            .collect()
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    /// The client's address. Every part of the server that needs one calls this.
    pub fn client_ip(&self, headers: &HeaderMap, peer: Option<IpAddr>) -> IpAddr {
        let peer = peer.map(canonical);
        let unknown = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        if !self.enabled {
            return peer.unwrap_or(unknown);
        }
        // With a list, only a listed peer may speak for someone else.
        if !self.trusted.is_empty() && !peer.is_some_and(|p| self.is_trusted(p)) {
            return peer.unwrap_or(unknown);
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        if hops.is_empty() {
            return headers
                .get("x-real-ip")
                .and_then(|v| v.to_str().ok())
                .and_then(parse_hop)
                .or(peer)
                .unwrap_or(unknown);
        }
        // From the right: skip our own proxies; the first other address is the client. A hop that
        // is not an address means the chain is broken there: the last good hop is all we know.
        let mut client = peer;
        for hop in hops.iter().rev() {
            match parse_hop(hop) {
                Some(ip) => {
                    client = Some(ip);
                    if !self.is_trusted(ip) {
                        break;
                    }
                }
                None => break,
            }
        }
        client.unwrap_or(unknown)
    }
}

/// `203.0.113.7`, `2001:db8::1`, `203.0.113.7:4711` or `[2001:db8::1]:4711`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    IpAddr::from_str(hop)
        .ok()
        .or_else(|| SocketAddr::from_str(hop).ok().map(|s| s.ip()))
        .map(canonical)
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) are the IPv4 address they carry.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_headers_are_ignored() {
        let t = ProxyTrust::new(false, vec![]);
        let h = headers(&["203.0.113.7"]);
        assert_eq!(t.client_ip(&h, Some(ip("127.0.0.1"))), ip("127.0.0.1"));
    }

    #[test]
    fn the_rightmost_hop_wins_not_the_client_supplied_first() {
        let t = ProxyTrust::new(true, vec![]);
        // The client claimed 1.1.1.1; our proxy appended the address it really saw.
        let h = headers(&["1.1.1.1, 203.0.113.7"]);
        assert_eq!(t.client_ip(&h, Some(ip("10.0.0.2"))), ip("203.0.113.7"));
        // Several header lines count as one list, in order.
        let h = headers(&["1.1.1.1", "203.0.113.9"]);
        assert_eq!(t.client_ip(&h, Some(ip("10.0.0.2"))), ip("203.0.113.9"));
    }

    #[test]
    fn listed_proxies_are_skipped_from_the_right() {
        let trusted = ProxyTrust::parse_list("10.0.0.0/8, 192.0.2.1").unwrap();
        let t = ProxyTrust::new(true, trusted);
        let h = headers(&["1.1.1.1, 203.0.113.7, 192.0.2.1, 10.1.2.3"]);
        assert_eq!(t.client_ip(&h, Some(ip("10.0.0.2"))), ip("203.0.113.7"));
        // A peer that is not a listed proxy speaks only for itself.
        assert_eq!(
            t.client_ip(&h, Some(ip("198.51.100.1"))),
            ip("198.51.100.1")
        );
        // Everything trusted: the leftmost address is the best we know.
        let h = headers(&["10.9.9.9, 10.1.2.3"]);
        assert_eq!(t.client_ip(&h, Some(ip("10.0.0.2"))), ip("10.9.9.9"));
        assert!(ProxyTrust::parse_list("10.0.0.0/33").is_err());
    }

    #[test]
    fn garbage_stops_the_walk_and_ports_and_mapped_addresses_are_understood() {
        let t = ProxyTrust::new(true, ProxyTrust::parse_list("10.0.0.0/8").unwrap());
        let h = headers(&["1.1.1.1, nonsense, 10.1.2.3"]);
        assert_eq!(t.client_ip(&h, Some(ip("10.0.0.2"))), ip("10.1.2.3"));
        let h = headers(&["[2001:db8::1]:4711"]);
        assert_eq!(t.client_ip(&h, Some(ip("10.0.0.2"))), ip("2001:db8::1"));
        let h = headers(&["203.0.113.7:80"]);
        assert_eq!(t.client_ip(&h, Some(ip("10.0.0.2"))), ip("203.0.113.7"));
        assert_eq!(
            t.client_ip(&HeaderMap::new(), Some(ip("::ffff:10.0.0.2"))),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn x_real_ip_only_without_x_forwarded_for() {
        let t = ProxyTrust::new(true, vec![]);
        let mut h = HeaderMap::new();
        h.insert("x-real-ip", "203.0.113.5".parse().unwrap());
        assert_eq!(t.client_ip(&h, Some(ip("10.0.0.2"))), ip("203.0.113.5"));
        h.insert("x-forwarded-for", "203.0.113.6".parse().unwrap());
        assert_eq!(t.client_ip(&h, Some(ip("10.0.0.2"))), ip("203.0.113.6"));
    }
}
