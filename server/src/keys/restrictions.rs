//! Key-level restrictions beyond models and platforms: which clients may use a key
//! (`allowedClients`), from which addresses (`allowedCidrs`), and daily cost caps per model
//! family (`modelDailyCostLimits`, e.g. `{"opus": 5}`). Stored together as one JSON column
//! (`api_keys.restrictions`) in storage units.
//!
//! Clients are recognised by what they really send: Claude Code's `claude-cli/…` user agent
//! (and `x-app: cli`), Codex CLI's `codex_cli_rs/…` user agent (and its `originator` header),
//! Gemini CLI's `GeminiCLI/…` user agent (`GeminiCLI-tui/…` from 0.61 on). Any client can send
//! those, so this is a deterrent (it keeps a "Claude Code card" out of a chat app), not a
//! security boundary. `end2end/tests/cli.test.mjs` runs the real clients through it.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::str::FromStr;

use axum::http::HeaderMap;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// The clients `allowedClients` can name (their ids in `app::types::KEY_CLIENTS`).
pub const CLIENTS: [&str; 3] = {
    let c = app::types::KEY_CLIENTS;
    [c[0].0, c[1].0, c[2].0]
};

/// Most CIDR entries and family caps a key may have.
pub const MAX_CIDRS: usize = 100;
pub const MAX_FAMILIES: usize = 20;

/// The restrictions as stored (money in micro-USD).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Restrictions {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_clients: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_cidrs: Vec<String>,
    /// Model family (a word of the model name) → micro-USD per day.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub model_daily_cost_limits: BTreeMap<String, i64>,
}

impl Restrictions {
    pub fn is_empty(&self) -> bool {
        self.allowed_clients.is_empty()
            && self.allowed_cidrs.is_empty()
            && self.model_daily_cost_limits.is_empty()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// The stored column; unreadable text counts as no restriction (logged by the caller).
    pub fn parse(text: &str) -> Result<Restrictions, serde_json::Error> {
        if text.trim().is_empty() {
            return Ok(Restrictions::default());
        }
        serde_json::from_str(text)
    }
}

/// The client a request comes from, as far as its headers tell.
pub fn recognise(headers: &HeaderMap) -> Option<&'static str> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let ua = header("user-agent");
    if ua.starts_with("claude-cli/") || header("x-app") == "cli" {
        Some("claude_code")
    } else if ua.starts_with("codex_cli_rs/")
        || ua.starts_with("codex_exec/")
        || header("originator").starts_with("codex_")
    {
        Some("codex_cli")
    } else if ua.starts_with("GeminiCLI") || ua.contains("gemini-cli") {
        Some("gemini_cli")
    } else {
        None
    }
}

/// A CIDR entry (`10.0.0.0/8`, `2001:db8::/32`) or a single address, normalised.
pub fn parse_cidr(entry: &str) -> Result<IpNet, String> {
    let entry = entry.trim();
    IpNet::from_str(entry)
        .map(|n| n.trunc())
        .or_else(|_| IpAddr::from_str(entry).map(IpNet::from))
        .map_err(|_| format!("`{entry}` is not an IPv4/IPv6 address or CIDR range"))
}

/// A model family: lower-case letters, digits, `.`, `-`, `_`; matched as a part of the model
/// name (`opus` matches `claude-opus-4-1` and `claude-3-opus-20240229`).
pub fn valid_family(family: &str) -> bool {
    !family.is_empty()
        && family.len() <= 64
        && family
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'))
}

pub fn family_matches(family: &str, model: &str) -> bool {
    model.to_ascii_lowercase().contains(family)
}

/// The restrictions in the form the relay checks them.
#[derive(Clone, Debug, Default)]
pub struct Gate {
    pub clients: Vec<&'static str>,
    pub cidrs: Vec<IpNet>,
    pub families: Vec<(String, i64)>,
}

impl Gate {
    pub fn from_stored(r: &Restrictions) -> Gate {
        Gate {
            clients: r
                .allowed_clients
                .iter()
                .filter_map(|c| CLIENTS.iter().copied().find(|k| k == c))
                .collect(),
            cidrs: r
                .allowed_cidrs
                .iter()
                .filter_map(|c| parse_cidr(c).ok())
                .collect(),
            families: r
                .model_daily_cost_limits
                .iter()
                .filter(|(_, limit)| **limit > 0)
                .map(|(f, l)| (f.clone(), *l))
                .collect(),
        }
    }

    /// Whether the client may use the key, `Err` naming what it was taken for.
    pub fn client_allowed(&self, headers: &HeaderMap) -> Result<(), Option<&'static str>> {
        if self.clients.is_empty() {
            return Ok(());
        }
        match recognise(headers) {
            Some(c) if self.clients.contains(&c) => Ok(()),
            other => Err(other),
        }
    }

    pub fn address_allowed(&self, ip: IpAddr) -> bool {
        let ip = crate::auth::client_addr::canonical(ip);
        self.cidrs.is_empty() || self.cidrs.iter().any(|n| n.contains(&ip))
    }

    /// The family caps that apply to `model`.
    pub fn caps_for<'a>(&'a self, model: &'a str) -> impl Iterator<Item = &'a (String, i64)> {
        self.families
            .iter()
            .filter(move |(f, _)| family_matches(f, model))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn clients_are_recognised_from_what_they_send() {
        let cc = headers(&[
            ("user-agent", "claude-cli/2.0.14 (external, cli)"),
            ("x-app", "cli"),
        ]);
        assert_eq!(recognise(&cc), Some("claude_code"));
        let codex = headers(&[
            (
                "user-agent",
                "codex_cli_rs/0.46.0 (Mac OS 15.6.1; arm64) iTerm.app/3.6.2",
            ),
            ("originator", "codex_cli_rs"),
        ]);
        assert_eq!(recognise(&codex), Some("codex_cli"));
        let gemini = headers(&[("user-agent", "GeminiCLI/0.9.0 (darwin; arm64)")]);
        assert_eq!(recognise(&gemini), Some("gemini_cli"));
        // What Gemini CLI 0.61.0 really sent in `gemini -p` (end2end/tests/cli.test.mjs).
        let tui = headers(&[(
            "user-agent",
            "GeminiCLI-tui/0.61.0/gemini-2.5-flash (linux; x64; terminal)",
        )]);
        assert_eq!(recognise(&tui), Some("gemini_cli"));
        let sdk = headers(&[("user-agent", "Anthropic/JS 0.65.0")]);
        assert_eq!(recognise(&sdk), None);
        let gate = Gate {
            clients: vec!["claude_code"],
            ..Default::default()
        };
        assert_eq!(gate.client_allowed(&cc), Ok(()));
        assert_eq!(gate.client_allowed(&codex), Err(Some("codex_cli")));
        assert_eq!(gate.client_allowed(&sdk), Err(None));
        assert_eq!(Gate::default().client_allowed(&sdk), Ok(()));
    }

    #[test]
    fn addresses_in_v4_and_v6_ranges() {
        let gate = Gate {
            cidrs: vec![
                parse_cidr("10.1.0.0/16").unwrap(),
                parse_cidr("2001:db8::/32").unwrap(),
            ],
            ..Default::default()
        };
        assert!(gate.address_allowed("10.1.2.3".parse().unwrap()));
        assert!(gate.address_allowed("::ffff:10.1.2.3".parse().unwrap()));
        assert!(gate.address_allowed("2001:db8::7".parse().unwrap()));
        assert!(!gate.address_allowed("10.2.0.1".parse().unwrap()));
        assert!(!gate.address_allowed("2001:db9::1".parse().unwrap()));
        assert_eq!(
            parse_cidr("10.1.2.3/16").unwrap().to_string(),
            "10.1.0.0/16"
        );
        assert_eq!(parse_cidr("::1").unwrap().to_string(), "::1/128");
        assert!(parse_cidr("10.0.0.0/33").is_err());
    }

    #[test]
    fn families_are_parts_of_model_names() {
        assert!(family_matches("opus", "claude-opus-4-1-20250805"));
        assert!(family_matches("opus", "claude-3-opus-20240229"));
        assert!(!family_matches("opus", "claude-sonnet-4-5"));
        assert!(valid_family("gpt-5"));
        assert!(!valid_family("Opus"));
        let r = Restrictions::parse("{}").unwrap();
        assert!(r.is_empty());
        assert_eq!(r.to_json(), "{}");
    }
}
