-- The three presets every installation starts with (SQLite flavour; kept in step with
-- migrations/postgres/0002_key_presets.sql). They are ordinary rows: operators edit or delete them.
-- Fixed ids so scripts and tests can find them. config is the JSON of the preset's wire type:
-- validityDays becomes a key's expiresAt at creation; money is USD; timeouts ms; windows minutes.

INSERT INTO key_presets (id, name, config, created_at, updated_at) VALUES
    ('preset-trial', 'Trial card',
     '{"validityDays":7,"settings":{"quotaLimit":20.0,"concurrencyLimit":3,"concurrentRequestQueueEnabled":true,"concurrentRequestQueueMaxSize":5,"concurrentRequestQueueTimeoutMs":10000,"rateLimitWindow":60,"rateLimitRequests":30}}',
     1735689600000, 1735689600000),
    ('preset-monthly', 'Monthly',
     '{"validityDays":30,"settings":{"quotaLimit":100.0,"concurrencyLimit":5}}',
     1735689600001, 1735689600001),
    ('preset-enterprise', 'Enterprise',
     '{"validityDays":365,"settings":{"quotaLimit":0.0,"concurrencyLimit":20}}',
     1735689600002, 1735689600002);
