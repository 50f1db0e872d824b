-- Renewals, top-ups, upgrades and redemption codes (sqlite flavour; kept in step with the other
-- folder's 0015_key_ledger_codes.sql). Money in integer micro-units, times in epoch ms.

-- Every change of what a key was sold: one row per renewal, top-up, upgrade, redemption or
-- adjustment. The margin report counts sale_price_micros as revenue on the day of `at`, for
-- preset_to (the key's preset after the entry).
CREATE TABLE api_key_ledger (
    id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    quota_add_micros BIGINT NOT NULL DEFAULT 0,
    days_add INTEGER NOT NULL DEFAULT 0,
    preset_from TEXT,
    preset_to TEXT,
    expires_before BIGINT,
    expires_after BIGINT,
    sale_price_micros BIGINT NOT NULL DEFAULT 0,
    currency TEXT NOT NULL DEFAULT 'USD',
    actor TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    code_id TEXT,
    at BIGINT NOT NULL
);
CREATE INDEX api_key_ledger_key ON api_key_ledger (key_id, at);
CREATE INDEX api_key_ledger_at ON api_key_ledger (at);

-- One-time redemption codes (卡密). Only the SHA-256 of a code is stored; code_hint is its first
-- group, for recognising it. status: unused | redeemed | revoked (expired is derived from
-- redeem_by). Claimed by one conditional UPDATE, so a code is redeemed exactly once.
CREATE TABLE redemption_codes (
    id TEXT PRIMARY KEY,
    code_hash TEXT NOT NULL UNIQUE,
    code_hint TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    preset_id TEXT NOT NULL,
    quota_micros BIGINT NOT NULL DEFAULT 0,
    days INTEGER NOT NULL DEFAULT 0,
    sale_price_micros BIGINT NOT NULL DEFAULT 0,
    currency TEXT NOT NULL DEFAULT 'USD',
    order_number TEXT NOT NULL DEFAULT '',
    redeem_by BIGINT,
    status TEXT NOT NULL DEFAULT 'unused',
    redeemed_key_id TEXT,
    redeemed_at BIGINT,
    revoked_at BIGINT,
    created_by TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX redemption_codes_created ON redemption_codes (created_at, id);
CREATE INDEX redemption_codes_preset ON redemption_codes (preset_id);
CREATE INDEX redemption_codes_batch ON redemption_codes (batch_id);
