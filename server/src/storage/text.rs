//! Text as Tollgate searches and sorts it, the same on both backends. SQLite's `LOWER()` and
//! `LIKE` fold ASCII only and PostgreSQL orders text by the database's collation, so neither is
//! used on names: each searchable or sortable name is stored a second time in one folded form
//! ([`fold`], migration 0007), written with the row, and compared bytewise by both backends
//! (PostgreSQL's columns use the "C" collation). Searches fold their term the same way.

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
    /// inserted by hand). Cheap when there are none: one indexed probe per table.
    pub(super) async fn fold_unfolded_text(&self) -> StoreResult<u64> {
        let mut done = 0;
        for table in ["accounts", "account_groups"] {
            loop {
                let select = format!(
                    "SELECT id, name FROM {table} WHERE name_key = '' AND name <> '' LIMIT $1"
                );
                let update = format!("UPDATE {table} SET name_key = $1 WHERE id = $2");
                let n = with_pool!(self, |pool| {
                    let rows: Vec<(String, String)> = sqlx::query_as(&select)
                        .bind(FOLD_BATCH)
                        .fetch_all(pool)
                        .await?;
                    let mut tx = pool.begin().await?;
                    for (id, name) in &rows {
                        sqlx::query(&update)
                            .bind(fold(name))
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await?;
                    rows.len()
                });
                done += n as u64;
                if (n as i64) < FOLD_BATCH {
                    break;
                }
            }
        }
        loop {
            // Keys always have a name, so an empty name_key marks a key not folded yet.
            let n = with_pool!(self, |pool| {
                let rows: Vec<(String, String, String)> = sqlx::query_as(
                    "SELECT id, name, description FROM api_keys
                     WHERE name_key = '' AND name <> '' LIMIT $1",
                )
                .bind(FOLD_BATCH)
                .fetch_all(pool)
                .await?;
                let mut tx = pool.begin().await?;
                for (id, name, description) in &rows {
                    sqlx::query(
                        "UPDATE api_keys SET name_key = $1, description_key = $2 WHERE id = $3",
                    )
                    .bind(fold(name))
                    .bind(fold(description))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                rows.len()
            });
            done += n as u64;
            if (n as i64) < FOLD_BATCH {
                break;
            }
        }
        Ok(done)
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
