//! The one CSV writer of the project: the dashboard's downloads, `tollgate keys create` and
//! `tollgate usage export` all write their fields through [`field`].
//!
//! RFC 4180 quoting, and protection against formula injection: a spreadsheet runs a cell that
//! starts with `=`, `+`, `-` or `@` as a formula, and one starting with a tab or carriage return
//! can hide such a start, so text starting with any of these gets a leading `'` (shown by
//! spreadsheets as text, never run). Plain numbers, negative ones included, stay numbers.

/// One field, escaped and quoted as needed.
pub fn field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) && !is_plain_number(value) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// `-3.5`, `+2`, `1e-3`: a number a spreadsheet reads as a number, not a formula.
fn is_plain_number(value: &str) -> bool {
    let digits = value.strip_prefix(['-', '+']).unwrap_or(value);
    let (mantissa, exponent) = match digits.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e.strip_prefix(['-', '+']).unwrap_or(e))),
        None => (digits, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    !whole.is_empty()
        && all_digits(whole)
        && all_digits(fraction)
        && exponent.is_none_or(|e| !e.is_empty() && all_digits(e))
}

/// One line of fields, without its line end.
pub fn row<S: AsRef<str>>(fields: &[S]) -> String {
    fields
        .iter()
        .map(|f| field(f.as_ref()))
        .collect::<Vec<_>>()
        .join(",")
}

/// The audit trail as CSV (header line included), for the REST download and the dashboard.
pub fn audit_csv(events: &[crate::types::AuditEvent]) -> String {
    let mut out = row(&[
        "time",
        "userId",
        "user",
        "from",
        "action",
        "targetType",
        "targetId",
        "target",
        "summary",
    ]);
    out.push_str("\r\n");
    for e in events {
        out.push_str(&row(&[
            e.at.to_rfc3339(),
            e.actor_id.clone(),
            e.actor_name.clone(),
            e.client_addr.clone(),
            e.action.clone(),
            e.target_type.clone(),
            e.target_id.clone(),
            e.target_name.clone(),
            e.summary.to_string(),
        ]));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field(""), "");
    }

    #[test]
    fn formulas_are_defused_in_every_spelling() {
        assert_eq!(field("=1+1"), "'=1+1");
        assert_eq!(field("+cmd"), "'+cmd");
        assert_eq!(field("-2+3"), "'-2+3");
        assert_eq!(field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(field("\t=1+1"), "'\t=1+1");
        assert_eq!(field("\r=1+1"), "\"'\r=1+1\"");
        assert_eq!(
            field("=HYPERLINK(\"x\",\"y\")"),
            "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\""
        );
        assert_eq!(field("-inf"), "'-inf");
        assert_eq!(field("-1e5+1"), "'-1e5+1");
    }

    #[test]
    fn numbers_stay_numbers() {
        for n in ["-3.5", "+2", "-0", "1e-3", "-12.50", "7"] {
            assert_eq!(field(n), n);
        }
        assert_eq!(row(&["a", "-1", "=x"]), "a,-1,'=x");
    }
}
