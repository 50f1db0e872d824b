//! Model-name normalisation: the many spellings clients and providers use for one model
//! (`anthropic/claude-sonnet-4-5-20250929`, `us.anthropic.claude-sonnet-4-5-20250929-v1:0`,
//! `claude-sonnet-4-5[1m]`, `models/gemini-2.5-pro`, `gpt-4o-2024-08-06`) reduced to the bare
//! family name the price table is keyed by.

/// Router-style namespaces (LiteLLM, OpenRouter, Vertex, the Gemini REST path).
const PROVIDER_PREFIXES: &[&str] = &[
    "anthropic/",
    "openai/",
    "gemini/",
    "google/",
    "models/",
    "vertex_ai/",
    "bedrock/",
    "azure/",
];

/// Bedrock cross-region inference profiles put a region in front of `anthropic.`.
const BEDROCK_REGIONS: &[&str] = &["us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au."];

/// The name `model` is priced under when it is not in the table verbatim. Idempotent.
pub fn normalize_model(model: &str) -> String {
    let mut name = model.trim().to_ascii_lowercase();
    loop {
        let before = name.len();
        strip_once(&mut name);
        if name.len() == before {
            break;
        }
    }
    // `claude-opus-4.5` is a common hand-written spelling of `claude-opus-4-5`.
    if name.starts_with("claude") {
        name = name.replace('.', "-");
    }
    name
}

/// Removes at most one decoration of each kind; the caller repeats until nothing changes, so
/// their order in the name does not matter.
fn strip_once(name: &mut String) {
    // Claude Code appends context-window markers such as `[1m]`.
    if name.ends_with(']') {
        if let Some(open) = name.rfind('[') {
            name.truncate(open);
        }
    }
    for prefix in PROVIDER_PREFIXES {
        if let Some(rest) = name.strip_prefix(prefix) {
            *name = rest.to_string();
        }
    }
    for region in BEDROCK_REGIONS {
        if let Some(rest) = name.strip_prefix(region) {
            if rest.starts_with("anthropic.") {
                *name = rest.to_string();
            }
        }
    }
    if let Some(rest) = name.strip_prefix("anthropic.") {
        *name = rest.to_string();
    }
    // Vertex AI spells versions `claude-sonnet-4-5@20250929`.
    if let Some(at) = name.find('@') {
        name.truncate(at);
    }
    strip_bedrock_version(name);
    if let Some(rest) = name.strip_suffix("-latest") {
        *name = rest.to_string();
    }
    strip_date(name);
    strip_revision(name);
}

/// `-v1:0`, `-v2:1`: Bedrock's model-version suffix.
fn strip_bedrock_version(name: &mut String) {
    let Some(dash) = name.rfind("-v") else { return };
    let tail = &name[dash + 2..];
    let Some((major, minor)) = tail.split_once(':') else {
        return;
    };
    if is_digits(major, None) && is_digits(minor, None) {
        name.truncate(dash);
    }
}

/// `-20250929` (Anthropic) and `-2024-08-06` (OpenAI) snapshot dates.
fn strip_date(name: &mut String) {
    if let Some(dash) = name.rfind('-') {
        if is_digits(&name[dash + 1..], Some(8)) && name[dash + 1..].starts_with("20") {
            name.truncate(dash);
            return;
        }
    }
    // `-YYYY-MM-DD` is 11 characters.
    if name.len() > 11 {
        let cut = name.len() - 11;
        if !name.is_char_boundary(cut) {
            return;
        }
        let tail = &name[cut..];
        let parts: Vec<&str> = tail[1..].split('-').collect();
        let is_date = tail.starts_with('-')
            && parts.len() == 3
            && is_digits(parts[0], Some(4))
            && is_digits(parts[1], Some(2))
            && is_digits(parts[2], Some(2))
            && parts[0].starts_with("20");
        if is_date {
            name.truncate(cut);
        }
    }
}

/// Gemini's stable revisions: `gemini-2.0-flash-001`.
fn strip_revision(name: &mut String) {
    if !name.starts_with("gemini") {
        return;
    }
    if let Some(dash) = name.rfind('-') {
        if is_digits(&name[dash + 1..], Some(3)) {
            name.truncate(dash);
        }
    }
}

fn is_digits(s: &str, len: Option<usize>) -> bool {
    !s.is_empty() && len.is_none_or(|n| s.len() == n) && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::normalize_model;

    #[test]
    fn strips_every_known_decoration() {
        let cases = [
            ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
            ("gpt-4o-2024-08-06", "gpt-4o"),
            ("o3-2025-04-16", "o3"),
            ("gpt-4.1-2025-04-14", "gpt-4.1"),
            ("anthropic/claude-opus-4-1", "claude-opus-4-1"),
            ("openai/gpt-5-mini", "gpt-5-mini"),
            ("gemini/gemini-2.5-pro", "gemini-2.5-pro"),
            ("models/gemini-2.5-flash", "gemini-2.5-flash"),
            (
                "anthropic.claude-3-5-haiku-20241022-v1:0",
                "claude-3-5-haiku",
            ),
            (
                "us.anthropic.claude-sonnet-4-20250514-v1:0",
                "claude-sonnet-4",
            ),
            ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
            ("claude-3-7-sonnet-latest", "claude-3-7-sonnet"),
            ("claude-sonnet-4-5-20250929[1m]", "claude-sonnet-4-5"),
            ("claude-opus-4-6[1m]", "claude-opus-4-6"),
            ("Claude-Opus-4.5", "claude-opus-4-5"),
            ("gemini-2.0-flash-001", "gemini-2.0-flash"),
            ("  gpt-5  ", "gpt-5"),
        ];
        for (raw, want) in cases {
            assert_eq!(normalize_model(raw), want, "normalising {raw:?}");
        }
    }

    #[test]
    fn leaves_plain_names_and_look_alikes_alone() {
        for name in [
            "gpt-5.1-codex",
            "gpt-4o-mini",
            "o4-mini",
            "claude-opus-4",
            "gpt-5-nano",
        ] {
            assert_eq!(normalize_model(name), name);
        }
        // A version number that is not a date stays.
        assert_eq!(normalize_model("model-12345678"), "model-12345678");
        assert_eq!(normalize_model("gpt-4-0613"), "gpt-4-0613");
    }

    #[test]
    fn is_idempotent() {
        let once = normalize_model("bedrock/eu.anthropic.claude-opus-4-20250514-v1:0");
        assert_eq!(once, "claude-opus-4");
        assert_eq!(normalize_model(&once), once);
    }
}
