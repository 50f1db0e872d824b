//! Names of batch-created keys.
//!
//! - `count` + `nameTemplate`: `{n}` becomes the 1-based number, zero-padded to the width of
//!   `count` so the names sort (`card-{n}` × 100 → `card-001` … `card-100`).
//! - `names` (e.g. order numbers): one key per entry; entries are trimmed, empty ones dropped,
//!   duplicates refused. A `nameTemplate` containing `{name}` or `[订单号]` ("order number") is
//!   filled with each entry (`20刀体验_[订单号]` → `20刀体验_A1001`); `{n}` works there too.
//!   Without a template each entry is the name as is.

use app::error::AdminError;
use app::types::{MAX_BATCH, ORDER_PLACEHOLDER};

use super::validate::key_name;

const NUMBER: &str = "{n}";
const NAME_PLACEHOLDERS: &[&str] = &["{name}", ORDER_PLACEHOLDER];

fn has_name_placeholder(template: &str) -> bool {
    NAME_PLACEHOLDERS.iter().any(|p| template.contains(p))
}

/// Replaces the placeholders in one pass, so an entry that itself contains a placeholder is
/// inserted literally.
fn fill(template: &str, number: usize, width: usize, name: &str) -> String {
    let mut out = String::with_capacity(template.len() + name.len());
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix(NUMBER) {
            out.push_str(&format!("{number:0width$}"));
            rest = after;
        } else if let Some(after) = NAME_PLACEHOLDERS.iter().find_map(|p| rest.strip_prefix(p)) {
            out.push_str(name);
            rest = after;
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// The validated names of a batch, in order.
pub fn batch_names(
    count: Option<u32>,
    template: Option<&str>,
    names: Option<&[String]>,
) -> Result<Vec<String>, AdminError> {
    let template = template.map(str::trim).filter(|t| !t.is_empty());
    match (count, names) {
        (Some(_), Some(_)) => Err(AdminError::validation(
            "count",
            "give either count (with nameTemplate) or names, not both",
        )),
        (None, None) => Err(AdminError::validation(
            "count",
            "give count (with nameTemplate) or names",
        )),
        (Some(count), None) => numbered(count, template),
        (None, Some(names)) => from_names(names, template),
    }
}

fn numbered(count: u32, template: Option<&str>) -> Result<Vec<String>, AdminError> {
    let count = count as usize;
    if !(1..=MAX_BATCH).contains(&count) {
        return Err(AdminError::validation(
            "count",
            format!("must be between 1 and {MAX_BATCH}"),
        ));
    }
    let template =
        template.ok_or_else(|| AdminError::validation("nameTemplate", "is required with count"))?;
    if has_name_placeholder(template) {
        return Err(AdminError::validation(
            "nameTemplate",
            format!("{{name}} and {ORDER_PLACEHOLDER} need names; use {{n}} with count"),
        ));
    }
    if count > 1 && !template.contains(NUMBER) {
        return Err(AdminError::validation(
            "nameTemplate",
            "must contain {n} when count is above 1",
        ));
    }
    let width = count.to_string().len();
    (1..=count)
        .map(|n| key_name(&fill(template, n, width, ""), "nameTemplate"))
        .collect()
}

fn from_names(names: &[String], template: Option<&str>) -> Result<Vec<String>, AdminError> {
    let entries: Vec<&str> = names
        .iter()
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
        .collect();
    if entries.is_empty() || entries.len() > MAX_BATCH {
        return Err(AdminError::validation(
            "names",
            format!("must have between 1 and {MAX_BATCH} non-empty entries"),
        ));
    }
    let mut seen = std::collections::HashSet::with_capacity(entries.len());
    if let Some(dup) = entries.iter().find(|n| !seen.insert(**n)) {
        return Err(AdminError::validation(
            "names",
            format!("duplicate name: {dup}"),
        ));
    }
    if let Some(t) = template {
        if !has_name_placeholder(t) {
            return Err(AdminError::validation(
                "nameTemplate",
                format!("must contain {{name}} or {ORDER_PLACEHOLDER} when names are given"),
            ));
        }
    }
    let width = entries.len().to_string().len();
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| match template {
            Some(t) => key_name(&fill(t, i + 1, width, entry), "nameTemplate"),
            None => key_name(entry, "names"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(r: Result<Vec<String>, AdminError>) -> String {
        match r {
            Err(AdminError::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn numbered_names_are_zero_padded() {
        let names = batch_names(Some(12), Some("card-{n}"), None).unwrap();
        assert_eq!(names.len(), 12);
        assert_eq!(names[0], "card-01");
        assert_eq!(names[11], "card-12");
        assert_eq!(batch_names(Some(1), Some("solo"), None).unwrap(), ["solo"]);
        assert_eq!(
            batch_names(Some(3), Some("k{n}"), None).unwrap(),
            ["k1", "k2", "k3"]
        );
    }

    #[test]
    fn order_numbers_fill_the_template() {
        let names: Vec<String> = ["A1001", " A1002 ", "", "A1003"].map(String::from).into();
        assert_eq!(
            batch_names(None, Some("20刀体验_[订单号]"), Some(&names)).unwrap(),
            ["20刀体验_A1001", "20刀体验_A1002", "20刀体验_A1003"]
        );
        assert_eq!(
            batch_names(None, Some("{n}-{name}"), Some(&names)).unwrap()[2],
            "3-A1003"
        );
        assert_eq!(batch_names(None, None, Some(&names)).unwrap()[1], "A1002");
        let tricky: Vec<String> = vec!["x{n}[订单号]".into()];
        assert_eq!(
            batch_names(None, Some("{name}!"), Some(&tricky)).unwrap(),
            ["x{n}[订单号]!"]
        );
    }

    #[test]
    fn bad_batches_name_the_field() {
        let dup: Vec<String> = ["A", "B", "A"].map(String::from).into();
        match batch_names(None, None, Some(&dup)) {
            Err(AdminError::Validation { field, message }) => {
                assert_eq!(field, "names");
                assert!(message.contains('A'), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(field(batch_names(Some(0), Some("k{n}"), None)), "count");
        assert_eq!(field(batch_names(Some(1001), Some("k{n}"), None)), "count");
        assert_eq!(field(batch_names(None, None, None)), "count");
        assert_eq!(field(batch_names(Some(2), None, Some(&dup))), "count");
        assert_eq!(field(batch_names(Some(2), None, None)), "nameTemplate");
        assert_eq!(
            field(batch_names(Some(2), Some("same"), None)),
            "nameTemplate"
        );
        assert_eq!(
            field(batch_names(Some(2), Some("{name}"), None)),
            "nameTemplate"
        );
        let one: Vec<String> = vec!["A".into()];
        assert_eq!(
            field(batch_names(None, Some("plain"), Some(&one))),
            "nameTemplate"
        );
        let empty: Vec<String> = vec!["  ".into()];
        assert_eq!(field(batch_names(None, None, Some(&empty))), "names");
        let long: Vec<String> = vec!["x".repeat(201)];
        assert_eq!(field(batch_names(None, None, Some(&long))), "names");
    }
}
