//! Account groups and their members.

use sqlx::FromRow;

use super::audit::AuditRow;
use super::rows::audited;
use super::text::fold;
use super::{now_ms, with_pool, Store, StoreResult};

/// Inserts a group or renames / redescribes it (its platform never changes).
pub(super) const SAVE_GROUP: &str =
    "INSERT INTO account_groups (id, name, platform, description, created_at, updated_at, name_key)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (id) DO UPDATE SET name = excluded.name, description = excluded.description,
        updated_at = excluded.updated_at, name_key = excluded.name_key";

/// Replaces group `$group`'s members with the account ids `$members` and marks the group
/// changed at `$now`, in the transaction `$tx` (of either backend).
macro_rules! replace_members {
    ($tx:ident, $group:expr, $members:expr, $now:expr) => {{
        let group: &str = $group;
        sqlx::query("DELETE FROM account_group_members WHERE group_id = $1")
            .bind(group)
            .execute(&mut *$tx)
            .await?;
        for account in $members {
            sqlx::query("INSERT INTO account_group_members (group_id, account_id) VALUES ($1, $2)")
                .bind(group)
                .bind(account)
                .execute(&mut *$tx)
                .await?;
        }
        sqlx::query("UPDATE account_groups SET updated_at = $1 WHERE id = $2")
            .bind($now)
            .bind(group)
            .execute(&mut *$tx)
            .await?;
    }};
}
pub(crate) use replace_members;

/// How a group's conversations stay on their account (`account_groups.sticky_mode`): `grace`
/// (kept through a cooldown shorter than `STICKY_UNAVAILABLE_GRACE_SECS`), `keep` (kept through
/// any cooldown, for the prompt cache), `move` (moved at once to the account that serves it).
pub const STICKY_MODES: &[&str] = &["grace", "keep", "move"];

#[derive(Clone, Debug, FromRow)]
pub struct GroupRow {
    pub id: String,
    pub name: String,
    pub platform: String,
    pub description: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// One of [`STICKY_MODES`]; written by [`Store::set_group_sticky_mode`].
    #[sqlx(default)]
    pub sticky_mode: String,
}

const GROUP_COLUMNS: &str = "id, name, platform, description, created_at, updated_at, sticky_mode";

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn list_groups(&self) -> StoreResult<Vec<GroupRow>> {
        self.all_rows(&format!(
            "SELECT {GROUP_COLUMNS} FROM account_groups ORDER BY platform, name_key, id"
        ))
        .await
    }

    /// Sets a group's sticky mode (one of [`STICKY_MODES`]).
    #[tracing::instrument(skip_all)]
    pub async fn set_group_sticky_mode(&self, id: &str, mode: &str, now: i64) -> StoreResult<()> {
        with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE account_groups SET sticky_mode = $1, updated_at = $2 WHERE id = $3",
            )
            .bind(mode)
            .bind(now)
            .bind(id)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    pub async fn get_group(&self, id: &str) -> StoreResult<Option<GroupRow>> {
        self.optional_row(
            &format!("SELECT {GROUP_COLUMNS} FROM account_groups WHERE id = $1"),
            id,
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    pub async fn save_group(&self, g: &GroupRow, audit: Option<&AuditRow>) -> StoreResult<()> {
        audited!(self, audit, |tx| {
            sqlx::query(SAVE_GROUP)
                .bind(&g.id)
                .bind(&g.name)
                .bind(&g.platform)
                .bind(&g.description)
                .bind(g.created_at)
                .bind(g.updated_at)
                .bind(fold(&g.name))
                .execute(&mut *tx)
                .await?;
        });
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    pub async fn delete_group(&self, id: &str, audit: Option<&AuditRow>) -> StoreResult<bool> {
        self.change_one("DELETE FROM account_groups WHERE id = $1", id, audit)
            .await
    }

    /// Every `(group_id, account_id)` membership.
    #[tracing::instrument(skip_all)]
    pub async fn group_memberships(&self) -> StoreResult<Vec<(String, String)>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as::<_, (String, String)>(
                "SELECT group_id, account_id FROM account_group_members ORDER BY group_id, account_id",
            )
            .fetch_all(pool)
            .await?
        }))
    }

    /// Replaces a group's members in one transaction.
    #[tracing::instrument(skip_all)]
    pub async fn set_group_members(
        &self,
        group_id: &str,
        account_ids: &[String],
        audit: Option<&AuditRow>,
    ) -> StoreResult<()> {
        let now = now_ms();
        audited!(self, audit, |tx| {
            replace_members!(tx, group_id, account_ids, now);
        });
        Ok(())
    }
}
