-- A redemption code's last day as the operator wrote it, when they wrote a date ('2026-01-18':
-- the end of that day in the configured time zone, which redeem_by holds); NULL for an instant.
-- Kept in step with migrations/sqlite/0019_code_redeem_by_day.sql.
ALTER TABLE redemption_codes ADD COLUMN redeem_by_on TEXT;
