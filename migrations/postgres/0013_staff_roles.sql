-- Staff users with roles (kept in step with the other database's 0013_staff_roles.sql).
-- The admins table holds every staff user: role 'admin' (everything), 'seller' (keys from the
-- presets an admin allowed them, only their own keys) or 'viewer' (read-only reports and lists).
ALTER TABLE admins ADD COLUMN role TEXT NOT NULL DEFAULT 'admin';
ALTER TABLE admins ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
ALTER TABLE admins ADD COLUMN is_active BOOLEAN NOT NULL DEFAULT TRUE;
-- JSON array of key preset ids a seller may sell from.
ALTER TABLE admins ADD COLUMN allowed_preset_ids TEXT NOT NULL DEFAULT '[]';
-- Optional TOTP second factor: the secret encrypted with ENCRYPTION_KEY (bound to the user id),
-- enabled once confirmed with a code; recovery codes as a JSON array of SHA-256 hashes.
ALTER TABLE admins ADD COLUMN totp_secret_enc TEXT;
ALTER TABLE admins ADD COLUMN totp_enabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE admins ADD COLUMN recovery_codes TEXT NOT NULL DEFAULT '[]';

-- Who created a key: user id and name, kept when the user is deleted (no foreign key).
ALTER TABLE api_keys ADD COLUMN created_by_id TEXT;
ALTER TABLE api_keys ADD COLUMN created_by_name TEXT;
CREATE INDEX api_keys_created_by ON api_keys (created_by_id);
