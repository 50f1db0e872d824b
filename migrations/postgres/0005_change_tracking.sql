-- Lets every instance sharing this database notice key edits made by another instance
-- (`SELECT id FROM api_keys WHERE updated_at > ...`, polled every few seconds).
CREATE INDEX api_keys_updated ON api_keys (updated_at);
