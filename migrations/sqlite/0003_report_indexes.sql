-- Indexes for the dashboard's reports (SQLite flavour; kept in step with
-- migrations/postgres/0003_report_indexes.sql). Charts read the rollups, whose primary keys
-- start with the day or hour already; this covers the one list that reads usage_events: the
-- models billed at the fallback price, found by a loose index scan (one seek per model).

CREATE INDEX usage_events_fallback ON usage_events (model, created_at)
    WHERE priced_by_fallback = TRUE;
