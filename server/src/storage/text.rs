//! Text as Tollgate searches and sorts it, the same on both backends. SQLite's `LOWER()` and
//! `LIKE` fold ASCII only and PostgreSQL orders text by the database's collation, so neither is
//! used on names: each searchable or sortable name is stored a second time in one folded form
//! ([`fold`], migration 0007), written with the row, and compared bytewise by both backends
//! (PostgreSQL's columns use the "C" collation). Searches fold their term the same way.

use sqlx::Row;
use unicode_normalization::UnicodeNormalization;

use super::{with_pool, Store, StoreResult};

/// The folded form: Unicode NFC (so "é" typed as one character or as "e" + accent is the same
/// text), then lower-cased by Unicode's rules ("École" → "école", "ẞ" → "ß", "Ω" → "ω").
pub fn fold(text: &str) -> String {
    text.nfc().collect::<String>().to_lowercase()
}

/// `%term%` for `LIKE ... ESCAPE '\'` against folded columns: the term folded, LIKE's
/// wildcards taken literally.
pub fn like_pattern(term: &str) -> String {
    let term = fold(term);
    let mut out = String::with_capacity(term.len() + 2);
    out.push('%');
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// Rows folded per statement batch while catching up.
const FOLD_BATCH: i64 = 1000;

impl Store {
    /// Folds the names of rows that have no folded form yet (written before migration 0007, or
    /// inserted by hand). Cheap when there are none: one probe per table.
    pub(super) async fn fold_unfolded_text(&self) -> StoreResult<u64> {
        Ok(self.fold_table("accounts", &["name"]).await?
            + self.fold_table("account_groups", &["name"]).await?
            + self
                .fold_table("api_keys", &["name", "description"])
                .await?)
    }

    /// Writes `<column>_key` for each of `columns` of `table`'s unfolded rows. Every row has a
    /// name, so an empty `name_key` marks a row not folded yet.
    async fn fold_table(&self, table: &str, columns: &[&str]) -> StoreResult<u64> {
        let select = format!(
            "SELECT id, {} FROM {table} WHERE name_key = '' AND name <> '' LIMIT $1",
            columns.join(", ")
        );
        let sets: Vec<String> = (1..)
            .zip(columns)
            .map(|(n, column)| format!("{column}_key = ${n}"))
            .collect();
        let update = format!(
            "UPDATE {table} SET {} WHERE id = ${}",
            sets.join(", "),
            columns.len() + 1
        );
        let mut done = 0;
        loop {
            let n = with_pool!(self, |pool| {
                let rows = sqlx::query(&select)
                    .bind(FOLD_BATCH)
                    .fetch_all(pool)
                    .await?;
                let mut tx = pool.begin().await?;
                for row in &rows {
                    let mut query = sqlx::query(&update);
                    for i in 1..=columns.len() {
                        query = query.bind(fold(&row.try_get::<String, _>(i)?));
                    }
                    query
                        .bind(row.try_get::<String, _>(0)?)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                rows.len() as i64
            });
            done += n as u64;
            if n < FOLD_BATCH {
                return Ok(done);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_is_unicode_lower_case_of_nfc() {
        assert_eq!(fold("École"), "école");
        assert_eq!(
            fold("E\u{301}cole"),
            "école",
            "decomposed é is the same text"
        );
        assert_eq!(fold("STRAẞE"), "straße");
        assert_eq!(fold("ΣΟΦΙΑ"), "σοφια");
        assert_eq!(fold("数据 🚀"), "数据 🚀");
    }

    #[test]
    fn like_patterns_fold_and_escape_wildcards() {
        assert_eq!(like_pattern("A_b%c\\"), "%a\\_b\\%c\\\\%");
        assert_eq!(like_pattern("É"), "%é%");
    }
}
