//! The CSV of newly created keys (`name,key,id,expiresAt,quotaLimit`), for handing keys to a
//! shop or a spreadsheet. Fields go through `app::csv` (RFC 4180 quoting, formulas defused);
//! times in RFC 3339; the quota in USD (0 = unlimited).

use app::types::{CreatedKey, When};
use chrono::SecondsFormat;

pub const HEADER: &str = "name,key,id,expiresAt,quotaLimit";

/// One CSV row (without line end) of a created key.
pub fn row(k: &CreatedKey) -> String {
    let expires = k
        .record
        .expires_at
        .map(|when| match when {
            When::At(at) => at.to_rfc3339_opts(SecondsFormat::Secs, true),
            When::Day(_) => when.to_string(),
        })
        .unwrap_or_default();
    app::csv::row(&[
        k.record.name.as_str(),
        &k.key,
        &k.record.id,
        &expires,
        &k.record.quota_limit.to_string(),
    ])
}

/// The header and one row per key, each line ending in `\n`.
pub fn document(keys: &[CreatedKey]) -> String {
    let mut out = String::with_capacity(64 * (keys.len() + 1));
    out.push_str(HEADER);
    out.push('\n');
    for k in keys {
        out.push_str(&row(k));
        out.push('\n');
    }
    out
}
