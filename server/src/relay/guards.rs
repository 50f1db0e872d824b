//! Rules a request must pass before it is admitted, whatever its platform: a model name the
//! usage store can always hold, and only the query parameters each upstream needs.

use super::error::RelayError;

/// Longest model name accepted, in characters (README, "Model names").
pub const MAX_MODEL_NAME_CHARS: usize = 128;

/// A model name is 1–128 printable characters: no control characters (PostgreSQL text cannot
/// hold `\u0000`, and the name is part of the rollups' keys), nothing longer than any real
/// model's name.
pub fn check_model_name(model: &str) -> Result<(), RelayError> {
    if model.is_empty() {
        return Err(RelayError::invalid("model: field required"));
    }
    if model.chars().count() > MAX_MODEL_NAME_CHARS {
        return Err(RelayError::invalid(format!(
            "model: name longer than {MAX_MODEL_NAME_CHARS} characters"
        )));
    }
    if model.chars().any(|c| c.is_control()) {
        return Err(RelayError::invalid(
            "model: name contains a control character",
        ));
    }
    Ok(())
}

/// The client's query reduced to the parameters named in `allowed` (by decoded name), in
/// their order; `None` when nothing remains. Everything else stays behind: a parameter such
/// as Gemini's `fields=` could make the upstream leave out the usage the relay bills from.
pub fn allowed_query(query: Option<&str>, allowed: &[&str]) -> Option<String> {
    let kept: Vec<&str> = query?
        .split('&')
        .filter(|pair| {
            let name = pair.split_once('=').map_or(*pair, |(n, _)| n);
            url::form_urlencoded::parse(name.as_bytes())
                .next()
                .is_some_and(|(n, _)| allowed.contains(&n.as_ref()))
                && allowed.contains(&name)
        })
        .collect();
    (!kept.is_empty()).then(|| kept.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names() {
        assert!(check_model_name("claude-sonnet-4-5").is_ok());
        assert!(check_model_name("模型-中文").is_ok());
        assert!(check_model_name(&"a".repeat(128)).is_ok());
        for bad in ["", "a\u{0}b", "a\nb", "a\u{7f}", "a\u{85}b"] {
            assert!(check_model_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_model_name(&"a".repeat(129)).is_err());
        assert!(check_model_name(&"é".repeat(128)).is_ok());
    }

    #[test]
    fn queries_keep_only_allowed_names() {
        assert_eq!(
            allowed_query(Some("alt=sse&key=tg_x&fields=candidates"), &["alt"]),
            Some("alt=sse".into())
        );
        assert_eq!(allowed_query(Some("fields=x"), &["alt"]), None);
        // An encoded name is not a way around the list.
        assert_eq!(allowed_query(Some("%61lt=sse&fi%65lds=x"), &["alt"]), None);
        assert_eq!(
            allowed_query(Some("beta=true"), &["beta"]),
            Some("beta=true".into())
        );
        assert_eq!(allowed_query(None, &["alt"]), None);
    }
}
