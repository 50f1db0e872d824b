-- Dashboard sessions are stored by the SHA-256 of their id (like admin tokens), and a row keeps
-- the session's data without its id. Existing rows hold plain ids in the old record format; they
-- are dropped rather than converted (SQLite has no SHA-256), so every open session ends once:
-- admins sign in again after this upgrade.
DELETE FROM sessions;
ALTER TABLE sessions RENAME COLUMN id TO id_hash;
