-- Account budgets' stop on every instance within a second (CLUSTER=1): setting, removing or
-- topping up a budget says `budgets` on the change channel (as the triggers of 0021 do for
-- keys and accounts), and every instance looks at its budgets at once. Claiming a crossing's
-- announcement (an UPDATE of `fired`) says nothing. Kept in step with
-- migrations/sqlite/0023_budget_notify.sql (nothing there: SQLite is one instance).
CREATE TRIGGER account_budgets_notify AFTER INSERT OR DELETE ON account_budgets
    FOR EACH STATEMENT EXECUTE FUNCTION tollgate_notify_topic('budgets');
CREATE TRIGGER account_budget_topups_notify AFTER INSERT OR UPDATE OR DELETE ON account_budget_topups
    FOR EACH STATEMENT EXECUTE FUNCTION tollgate_notify_topic('budgets');
