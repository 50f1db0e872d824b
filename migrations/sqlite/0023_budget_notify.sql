-- Kept in step with migrations/postgres/0023_budget_notify.sql, which adds change
-- notifications for account budgets. SQLite is one instance: nothing to notify.
SELECT 1;
