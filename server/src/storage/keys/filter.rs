//! The key list's filters as SQL: status rules, the tag index, case-insensitive search over
//! the folded names and descriptions (`storage::text`) with LIKE wildcards taken literally. Arguments are numbered in the order they appear, which both
//! backends need.

use app::types::KeyStatus;

use crate::keys::lifecycle::{status_needs_now, status_sql};
use crate::storage::text::like_pattern;

/// Filters of the key list; all optional, combined with AND.
#[derive(Clone, Debug, Default)]
pub struct KeyFilter {
    pub tag: Option<String>,
    pub status: Option<KeyStatus>,
    /// Case-insensitive substring of the name, description or display prefix.
    pub search: Option<String>,
    /// The hash of a full key pasted into the search box, to find its record.
    pub search_key_hash: Option<String>,
    pub preset_id: Option<String>,
    /// Keys created by this staff user id.
    pub created_by: Option<String>,
    /// An account id or `group:<id>` bound on any platform.
    pub binding: Option<String>,
}

use crate::storage::Arg;

impl KeyFilter {
    /// The `WHERE` clause (live keys matching every filter) and its arguments, numbered from `$1`.
    pub(super) fn where_clause(&self, now: i64) -> (String, Vec<Arg>) {
        let mut clauses = vec!["deleted_at IS NULL".to_owned()];
        let mut args = Vec::new();
        let next = |args: &mut Vec<Arg>, arg: Arg| {
            args.push(arg);
            format!("${}", args.len())
        };
        if let Some(tag) = &self.tag {
            let p = next(&mut args, Arg::Text(tag.clone()));
            clauses.push(format!(
                "id IN (SELECT key_id FROM api_key_tags WHERE tag = {p})"
            ));
        }
        if let Some(status) = self.status {
            let p = if status_needs_now(status) {
                next(&mut args, Arg::Int(now))
            } else {
                String::new()
            };
            clauses.push(status_sql(status, &p));
        }
        if let Some(search) = &self.search {
            let p = next(&mut args, Arg::Text(like_pattern(search)));
            let mut any = format!(
                "name_key LIKE {p} ESCAPE '\\' OR description_key LIKE {p} ESCAPE '\\'
             OR LOWER(key_prefix) LIKE {p} ESCAPE '\\'"
            );
            if let Some(hash) = &self.search_key_hash {
                let h = next(&mut args, Arg::Text(hash.clone()));
                any.push_str(&format!(" OR key_hash = {h}"));
            }
            clauses.push(format!("({any})"));
        }
        if let Some(preset) = &self.preset_id {
            let p = next(&mut args, Arg::Text(preset.clone()));
            clauses.push(format!("preset_id = {p}"));
        }
        if let Some(creator) = &self.created_by {
            let p = next(&mut args, Arg::Text(creator.clone()));
            clauses.push(format!("created_by_id = {p}"));
        }
        if let Some(binding) = &self.binding {
            let p = next(&mut args, Arg::Text(binding.clone()));
            clauses.push(format!(
                "(claude_account_id = {p} OR openai_account_id = {p} OR gemini_account_id = {p})"
            ));
        }
        (clauses.join(" AND "), args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_numbers_parameters_in_order() {
        let f = KeyFilter {
            tag: Some("vip".into()),
            status: Some(KeyStatus::Active),
            search: Some("x".into()),
            binding: Some("group:g".into()),
            ..Default::default()
        };
        let (sql, args) = f.where_clause(5);
        assert_eq!(args.len(), 4);
        for n in 1..=4 {
            assert!(sql.contains(&format!("${n}")), "{sql}");
        }
        assert!(!sql.contains("$5"));
    }
}
