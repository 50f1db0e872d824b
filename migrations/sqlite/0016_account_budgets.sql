-- Upstream account budgets and dates as written (sqlite flavour; kept in step with the other
-- folder's 0016_account_budgets.sql).

-- An account's budget: kind 'prepaid' (amount_micros is the opening balance; top-ups add) or
-- 'monthly' (amount_micros a month, from reset_day). thresholds is a JSON array of fractions
-- used. fired is the JSON array of thresholds (and 1.0 for exhausted) already announced in the
-- current period, so each crossing fires once; period_start is when that period began.
CREATE TABLE account_budgets (
    account_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    amount_micros BIGINT NOT NULL,
    reset_day INTEGER,
    thresholds TEXT NOT NULL DEFAULT '[0.8,0.95]',
    stop_when_exhausted BOOLEAN NOT NULL DEFAULT 1,
    fired TEXT NOT NULL DEFAULT '[]',
    period_start BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Dated additions to a prepaid balance.
CREATE TABLE account_budget_topups (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    amount_micros BIGINT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    actor TEXT NOT NULL DEFAULT '',
    at BIGINT NOT NULL
);
CREATE INDEX account_budget_topups_account ON account_budget_topups (account_id, at);

-- A key's expiry as the operator wrote it, when they wrote a date ('2026-01-18': the end of
-- that day in the configured time zone, which expires_at holds); NULL for an instant.
ALTER TABLE api_keys ADD COLUMN expires_on TEXT;
