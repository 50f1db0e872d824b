//! The sticky session of a Messages request: the explicit session id when the client sends one
//! (Claude Code's `metadata.user_id`, or its session header), else the hash of the system
//! prompt and the first user message, read from the request's text without building
//! `serde_json::Value`s (the hash is the same: instances sharing the database must agree).

use axum::http::{HeaderMap, HeaderName};
use serde_json::value::RawValue;

use super::MessagesPeek;
use crate::scheduler::sticky::{content_session_hash, session_from_user_id, session_hash, Canon};

/// Claude Code's session id header (a constant name: nothing to parse per request).
static SESSION_HEADER: HeaderName = HeaderName::from_static("x-claude-code-session-id");

pub(super) fn session_for(peek: &MessagesPeek<'_>, headers: &HeaderMap) -> Option<u64> {
    let explicit = peek
        .metadata
        .as_ref()
        .and_then(|m| m.user_id.as_deref())
        .and_then(session_from_user_id)
        .or_else(|| headers.get(&SESSION_HEADER).and_then(|v| v.to_str().ok()));
    if explicit.is_some() {
        return session_hash(explicit, None, None);
    }
    let system = peek.system.and_then(|s| Canon::parse(s.get()));
    let first_user = peek.messages.and_then(|m| first_user(m.get()));
    content_session_hash(system.as_ref(), first_user.as_ref())
}

/// The first item of a `messages` array that parses and has the role `"user"`; the items after
/// it are not read. (The array is known to be valid JSON: the request's peek read it.)
fn first_user(messages: &str) -> Option<Canon<'_>> {
    let mut rest = messages.trim_ascii_start().strip_prefix('[')?;
    loop {
        rest = rest.trim_ascii_start();
        if rest.is_empty() || rest.starts_with(']') {
            return None;
        }
        let (item, end) = next_item(rest)?;
        if let Some(user) = item.filter(|i| i.str_field("role") == Some("user")) {
            return Some(user);
        }
        rest = rest[end..].trim_ascii_start().strip_prefix(',')?;
    }
}

/// The value at the start of `text`, when a `Value` can hold it, and where it ends.
fn next_item(text: &str) -> Option<(Option<Canon<'_>>, usize)> {
    let mut items = serde_json::Deserializer::from_str(text).into_iter::<Canon>();
    if let Some(Ok(item)) = items.next() {
        return Some((Some(item), items.byte_offset()));
    }
    let mut raw = serde_json::Deserializer::from_str(text).into_iter::<&RawValue>();
    raw.next()?.ok()?;
    Some((None, raw.byte_offset()))
}

#[cfg(test)]
mod tests;
