//! Rules for one field of any kind: bounded text, money, lists, account bindings. Each names
//! the JSON field it refuses.

use app::error::AdminError;
use app::types::usd_to_micros;

use super::{GROUP_BINDING_PREFIX, MAX_ACTIVATION_DAYS, MAX_NAME_CHARS, MAX_PRESET_NAME_CHARS};

/// Builds errors whose field carries a prefix (`settings.` inside presets).
pub(super) struct Fields<'a>(pub(super) &'a str);

impl Fields<'_> {
    pub(super) fn err(&self, field: &str, message: impl Into<String>) -> AdminError {
        AdminError::validation(format!("{}{field}", self.0), message)
    }
}

/// A key's name: trimmed, 1..=200 characters, no control characters.
pub fn key_name(raw: &str, field: &str) -> Result<String, AdminError> {
    bounded_text(raw, field, MAX_NAME_CHARS)
}

/// A preset's name: trimmed, 1..=100 characters.
pub fn preset_name(raw: &str) -> Result<String, AdminError> {
    bounded_text(raw, "name", MAX_PRESET_NAME_CHARS)
}

fn bounded_text(raw: &str, field: &str, max: usize) -> Result<String, AdminError> {
    let text = raw.trim();
    let chars = text.chars().count();
    if chars == 0 {
        return Err(AdminError::validation(field, "must not be empty"));
    }
    if chars > max {
        return Err(AdminError::validation(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(AdminError::validation(
            field,
            "must not contain control characters",
        ));
    }
    Ok(text.to_owned())
}

/// A preset's validity: 1..=3650 days.
pub fn validity_days(days: Option<u32>) -> Result<Option<u32>, AdminError> {
    match days {
        Some(d) if !(1..=MAX_ACTIVATION_DAYS).contains(&d) => Err(AdminError::validation(
            "validityDays",
            format!("must be between 1 and {MAX_ACTIVATION_DAYS}"),
        )),
        other => Ok(other),
    }
}

/// USD → micro-USD for a money field: finite, not negative, storable.
pub(super) fn money(f: &Fields, field: &str, usd: Option<f64>) -> Result<i64, AdminError> {
    let usd = usd.unwrap_or(0.0);
    if !usd.is_finite() {
        return Err(f.err(field, "must be a finite number"));
    }
    if usd < 0.0 {
        return Err(f.err(field, "must be 0 or more"));
    }
    usd_to_micros(usd).ok_or_else(|| f.err(field, "is too large"))
}

/// Trims, drops duplicates (keeping the first), and checks each entry.
pub(super) fn clean_list(
    f: &Fields,
    field: &str,
    items: Option<&[String]>,
    max_items: usize,
    max_chars: usize,
) -> Result<Vec<String>, AdminError> {
    let items = items.unwrap_or(&[]);
    if items.len() > max_items {
        return Err(f.err(field, format!("must have at most {max_items} entries")));
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let item = item.trim();
        let chars = item.chars().count();
        if chars == 0 {
            return Err(f.err(field, "entries must not be empty"));
        }
        if chars > max_chars {
            return Err(f.err(
                field,
                format!("entries must be at most {max_chars} characters"),
            ));
        }
        if !out.iter().any(|seen| seen == item) {
            out.push(item.to_owned());
        }
    }
    Ok(out)
}

/// An account binding: empty (shared pool), an account id, or `group:<id>`. Whether the
/// account or group exists is checked by the service against storage.
pub(super) fn binding(f: &Fields, field: &str, value: Option<&str>) -> Result<String, AdminError> {
    let value = value.unwrap_or("").trim();
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(f.err(field, "must not contain spaces"));
    }
    if value == GROUP_BINDING_PREFIX {
        return Err(f.err(field, "group: needs a group id"));
    }
    Ok(value.to_owned())
}
