//! Names of namespaced tools. A Responses `namespace` tool groups function and custom tools
//! (Codex sends its sub-agent tools as one); Claude has no namespaces, so each tool inside
//! becomes a Claude tool named `<namespace>__<tool>`, and a call to it goes back to the client
//! as the tool's own `name` with `namespace` beside it, the shape Codex routes by (a call
//! without `namespace` is answered "unsupported call").
//!
//! Claude tool names match `[a-zA-Z0-9_-]{1,64}`. A joined name that does not, or that is
//! already taken (by a top-level tool or another namespaced one), is made safe: other
//! characters become `_`, it is cut to fit, and a short hash of the namespace and the tool
//! name is appended. Names are a function of the request's tool list, so every turn of a
//! conversation maps the same way, and the map is kept for the answer.

use std::collections::{HashMap, HashSet};

use sha2::{Digest, Sha256};

const MAX_LEN: usize = 64;
const SEPARATOR: &str = "__";

/// Claude tool names of namespaced tools, both ways.
#[derive(Clone, Debug, Default)]
pub struct NamespacedNames {
    /// Claude name → (namespace, tool name).
    split: HashMap<String, (String, String)>,
    /// (namespace, tool name) → Claude name.
    joined: HashMap<(String, String), String>,
}

impl NamespacedNames {
    /// Names `(namespace, tool)` without taking any name in `taken`, and records the name.
    pub fn assign(&mut self, namespace: &str, tool: &str, taken: &mut HashSet<String>) -> String {
        let key = (namespace.to_owned(), tool.to_owned());
        if let Some(name) = self.joined.get(&key) {
            return name.clone();
        }
        let mut name = claude_name(namespace, tool, taken, 0);
        let mut attempt = 0;
        while taken.contains(&name) {
            attempt += 1;
            name = claude_name(namespace, tool, taken, attempt);
        }
        taken.insert(name.clone());
        self.split.insert(name.clone(), key.clone());
        self.joined.insert(key, name.clone());
        name
    }

    /// The Claude name of a call to `tool` in `namespace` found in the conversation history:
    /// the assigned one, or for a namespace the request no longer offers, the plain join.
    pub fn joined(&self, namespace: &str, tool: &str) -> String {
        self.joined
            .get(&(namespace.to_owned(), tool.to_owned()))
            .cloned()
            .unwrap_or_else(|| claude_name(namespace, tool, &HashSet::new(), 0))
    }

    /// The namespace and tool name of a Claude tool name, if it is a namespaced tool.
    pub fn split(&self, claude_name: &str) -> Option<(&str, &str)> {
        self.split
            .get(claude_name)
            .map(|(ns, tool)| (ns.as_str(), tool.as_str()))
    }
}

fn is_valid(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `<namespace>__<tool>` when that is a valid, free name and `attempt` is 0; otherwise the
/// sanitized join, cut to fit, with a hash of the pair (and the attempt) appended.
fn claude_name(namespace: &str, tool: &str, taken: &HashSet<String>, attempt: u32) -> String {
    let plain = format!("{namespace}{SEPARATOR}{tool}");
    if attempt == 0 && is_valid(&plain) && !taken.contains(&plain) {
        return plain;
    }
    let mut hasher = Sha256::new();
    hasher.update(namespace.as_bytes());
    hasher.update([0]);
    hasher.update(tool.as_bytes());
    hasher.update(attempt.to_le_bytes());
    let suffix = hex::encode(&hasher.finalize()[..4]);
    let mut safe: String = plain
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    // ASCII only now, so any byte length is a char boundary.
    safe.truncate(MAX_LEN - suffix.len() - 1);
    format!("{safe}_{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_join_and_split_back() {
        let mut names = NamespacedNames::default();
        let mut taken = HashSet::new();
        let name = names.assign("multi_agent_v1", "spawn_agent", &mut taken);
        assert_eq!(name, "multi_agent_v1__spawn_agent");
        assert_eq!(names.split(&name), Some(("multi_agent_v1", "spawn_agent")));
        assert_eq!(names.joined("multi_agent_v1", "spawn_agent"), name);
        assert_eq!(names.split("spawn_agent"), None);
    }

    #[test]
    fn long_odd_and_colliding_names_stay_valid_and_distinct() {
        let mut names = NamespacedNames::default();
        let mut taken: HashSet<String> = ["crm__lookup".to_owned()].into();
        let long_ns = "n".repeat(60);
        let cases = [
            ("crm", "lookup"),
            ("mcp.server", "get/item"),
            (long_ns.as_str(), "tool_a"),
            (long_ns.as_str(), "tool_b"),
            ("a", "b__c"),
            ("a__b", "c"),
        ];
        let mut seen = HashSet::new();
        for (ns, tool) in cases {
            let name = names.assign(ns, tool, &mut taken);
            assert!(is_valid(&name), "{name}");
            assert!(seen.insert(name.clone()), "{name} given twice");
            assert_eq!(names.split(&name), Some((ns, tool)));
        }
        assert_ne!(names.joined("crm", "lookup"), "crm__lookup");
        // The same tool list names the same way on the next turn.
        let mut again = NamespacedNames::default();
        let mut taken_again: HashSet<String> = ["crm__lookup".to_owned()].into();
        for (ns, tool) in cases {
            assert_eq!(
                again.assign(ns, tool, &mut taken_again),
                names.joined(ns, tool)
            );
        }
    }
}
