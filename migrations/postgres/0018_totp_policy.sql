-- TOTP replay protection (kept in step with the other database's 0018_totp_policy.sql): the
-- last time step (unix seconds / 30) a code of the user's second factor was accepted for. A
-- code is accepted only for a later step, by a conditional UPDATE, so a code works once even
-- when two instances share the database. The "require TOTP" policy itself is a row of
-- `settings` (`totp_required`: "off", "admins" or "all").
ALTER TABLE admins ADD COLUMN totp_last_step BIGINT;
