-- Key-level restrictions (allowed clients, allowed client addresses, daily cost caps per model
-- family) as one JSON object in storage units, and how each account group trades a
-- conversation's account (prompt cache) against moving it when that account cools down.
-- Kept in step with migrations/sqlite/0017_key_restrictions.sql.
ALTER TABLE api_keys ADD COLUMN restrictions TEXT NOT NULL DEFAULT '{}';
ALTER TABLE account_groups ADD COLUMN sticky_mode TEXT NOT NULL DEFAULT 'grace';
