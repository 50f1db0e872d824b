-- Unicode-correct, backend-identical search and sort (SQLite flavour; kept in step with
-- migrations/postgres/0007_text_keys.sql).
--
-- SQLite's LOWER() and LIKE fold ASCII only, and PostgreSQL sorts text by the database's
-- collation while SQLite compares bytes: a search for "é" found "École" on PostgreSQL only, and
-- lists came back in different orders. These columns hold the text in one folded form (Unicode
-- NFC, then lower-cased by Unicode's rules), computed in Rust (`storage::text::fold`) on every
-- write, and are compared bytewise on both backends: searches match them against a pattern
-- folded the same way, lists sort by them.
--
-- '' means "not folded yet": rows written before this migration (and rows inserted by hand) are
-- folded by `Store::migrate` right after the migrations run; until then they sort first and are
-- found by their key prefix only.

ALTER TABLE api_keys ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN description_key TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
ALTER TABLE account_groups ADD COLUMN name_key TEXT NOT NULL DEFAULT '';

CREATE INDEX api_keys_unfolded ON api_keys (id) WHERE name_key = '';
