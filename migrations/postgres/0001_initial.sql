-- Tollgate schema, PostgreSQL flavour. Kept in step with migrations/sqlite/0001_initial.sql.
-- Times are Unix epoch milliseconds (BIGINT); money is integer micro-USD (or micro-units of the
-- sale currency for sale prices); never floating point.

CREATE TABLE admins (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- tower-sessions sessions of the dashboard.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    admin_id TEXT,
    data BYTEA NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_admin_id ON sessions (admin_id);

-- Bearer tokens of the JSON REST API; only their SHA-256 is stored.
CREATE TABLE admin_tokens (
    token_hash TEXT PRIMARY KEY,
    admin_id TEXT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX admin_tokens_admin_id ON admin_tokens (admin_id);

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    platform TEXT NOT NULL,
    account_type TEXT NOT NULL DEFAULT 'shared',
    api_key_enc TEXT NOT NULL,
    api_key_hint TEXT NOT NULL,
    base_url TEXT NOT NULL,
    proxy_enc TEXT,
    proxy_hint TEXT,
    priority BIGINT NOT NULL DEFAULT 50,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    schedulable BOOLEAN NOT NULL DEFAULT TRUE,
    status TEXT NOT NULL DEFAULT 'active',
    status_message TEXT,
    status_changed_at BIGINT,
    cooldown_until BIGINT,
    supported_models TEXT NOT NULL DEFAULT '[]',
    model_mapping TEXT NOT NULL DEFAULT '{}',
    max_concurrency BIGINT,
    monthly_cost_micros BIGINT NOT NULL DEFAULT 0,
    notes TEXT NOT NULL DEFAULT '',
    extra TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX accounts_platform ON accounts (platform);

-- Every state change of an account: the dashboard's "last errors" and the webhook source.
CREATE TABLE account_events (
    id BIGSERIAL PRIMARY KEY,
    account_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    status TEXT NOT NULL,
    http_status BIGINT,
    message TEXT NOT NULL DEFAULT ''
);
CREATE INDEX account_events_account_at ON account_events (account_id, at);

CREATE TABLE account_groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    platform TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (platform, name)
);

CREATE TABLE account_group_members (
    group_id TEXT NOT NULL REFERENCES account_groups (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, account_id)
);
CREATE INDEX account_group_members_account ON account_group_members (account_id);

-- Saved settings for batch key creation ("Trial card: $20, 7 days, ...").
CREATE TABLE key_presets (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    config TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    key_prefix TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    quota_limit_micros BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT,
    activation_days BIGINT,
    activated_at BIGINT,
    concurrency_limit BIGINT NOT NULL DEFAULT 0,
    queue_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    queue_max_size BIGINT NOT NULL DEFAULT 0,
    queue_timeout_ms BIGINT NOT NULL DEFAULT 0,
    rate_limit_window_min BIGINT NOT NULL DEFAULT 0,
    rate_limit_requests BIGINT NOT NULL DEFAULT 0,
    rate_limit_cost_micros BIGINT NOT NULL DEFAULT 0,
    daily_cost_limit_micros BIGINT NOT NULL DEFAULT 0,
    allowed_models TEXT NOT NULL DEFAULT '[]',
    permissions TEXT NOT NULL DEFAULT '[]',
    claude_account_id TEXT NOT NULL DEFAULT '',
    openai_account_id TEXT NOT NULL DEFAULT '',
    gemini_account_id TEXT NOT NULL DEFAULT '',
    allow_pool_fallback BOOLEAN NOT NULL DEFAULT FALSE,
    sale_price_micros BIGINT NOT NULL DEFAULT 0,
    currency TEXT NOT NULL DEFAULT 'USD',
    preset_id TEXT,
    spent_micros BIGINT NOT NULL DEFAULT 0,
    requests BIGINT NOT NULL DEFAULT 0,
    last_used_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX api_keys_created ON api_keys (created_at, id);
CREATE INDEX api_keys_name ON api_keys (name);
CREATE INDEX api_keys_expires ON api_keys (expires_at);
CREATE INDEX api_keys_claude_binding ON api_keys (claude_account_id);
CREATE INDEX api_keys_openai_binding ON api_keys (openai_account_id);
CREATE INDEX api_keys_gemini_binding ON api_keys (gemini_account_id);
CREATE INDEX api_keys_preset ON api_keys (preset_id);

CREATE TABLE api_key_tags (
    key_id TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (tag, key_id)
);
CREATE INDEX api_key_tags_key ON api_key_tags (key_id);

-- One row per relayed request, written by the batching usage writer.
CREATE TABLE usage_events (
    id BIGSERIAL PRIMARY KEY,
    request_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    account_id TEXT,
    group_id TEXT,
    platform TEXT NOT NULL,
    model TEXT NOT NULL,
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    cache_write_5m_tokens BIGINT NOT NULL DEFAULT 0,
    cache_write_1h_tokens BIGINT NOT NULL DEFAULT 0,
    cache_read_tokens BIGINT NOT NULL DEFAULT 0,
    cost_micros BIGINT NOT NULL DEFAULT 0,
    price TEXT NOT NULL DEFAULT '',
    priced_by_fallback BOOLEAN NOT NULL DEFAULT FALSE,
    status BIGINT NOT NULL,
    error_type TEXT,
    latency_ms BIGINT NOT NULL DEFAULT 0,
    ttft_ms BIGINT,
    stream BOOLEAN NOT NULL DEFAULT FALSE,
    client_disconnected BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);
CREATE INDEX usage_events_created ON usage_events (created_at);
CREATE INDEX usage_events_key_created ON usage_events (key_id, created_at);

-- Rollups maintained as usage events are written; charts read only these.
CREATE TABLE usage_hourly (
    bucket BIGINT NOT NULL,
    key_id TEXT NOT NULL,
    account_id TEXT NOT NULL DEFAULT '',
    group_id TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL,
    platform TEXT NOT NULL,
    requests BIGINT NOT NULL DEFAULT 0,
    errors BIGINT NOT NULL DEFAULT 0,
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    cache_write_tokens BIGINT NOT NULL DEFAULT 0,
    cache_read_tokens BIGINT NOT NULL DEFAULT 0,
    cost_micros BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, key_id, account_id, group_id, model)
);

CREATE TABLE usage_daily (
    day TEXT NOT NULL,
    key_id TEXT NOT NULL,
    account_id TEXT NOT NULL DEFAULT '',
    group_id TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL,
    platform TEXT NOT NULL,
    requests BIGINT NOT NULL DEFAULT 0,
    errors BIGINT NOT NULL DEFAULT 0,
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    cache_write_tokens BIGINT NOT NULL DEFAULT 0,
    cache_read_tokens BIGINT NOT NULL DEFAULT 0,
    cost_micros BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, key_id, account_id, group_id, model)
);
CREATE INDEX usage_daily_key ON usage_daily (key_id, day);

CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Per-model price overrides, micro-USD per million tokens.
CREATE TABLE pricing_overrides (
    model TEXT PRIMARY KEY,
    input_micros BIGINT NOT NULL,
    output_micros BIGINT NOT NULL,
    cache_write_5m_micros BIGINT NOT NULL,
    cache_write_1h_micros BIGINT NOT NULL,
    cache_read_micros BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE webhook_targets (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'generic',
    url_enc TEXT NOT NULL,
    url_hint TEXT NOT NULL,
    secret_enc TEXT,
    events TEXT NOT NULL DEFAULT '[]',
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id BIGSERIAL PRIMARY KEY,
    target_id TEXT,
    target_hint TEXT NOT NULL,
    event TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    http_status BIGINT,
    ok BOOLEAN NOT NULL,
    error TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at);
