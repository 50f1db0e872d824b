//! Managing staff users: every write carries its audit row in the same transaction, and the
//! last active admin is checked inside that transaction (a change that would leave no active
//! admin is rolled back), with the active admins' rows locked first on PostgreSQL so two
//! concurrent removals of different admins cannot both pass.

use super::admins::{AdminRow, ADMIN_COLUMNS};
use super::audit::{insert_audit, AuditRow};
use super::rows::audited;
use super::{now_ms, with_pool, Store, StoreResult};

/// Deletes every session and token of user `$id` within the transaction `$tx`.
macro_rules! end_sessions {
    ($tx:expr, $id:expr) => {{
        sqlx::query("DELETE FROM sessions WHERE admin_id = $1")
            .bind($id)
            .execute(&mut **$tx)
            .await?;
        sqlx::query("DELETE FROM admin_tokens WHERE admin_id = $1")
            .bind($id)
            .execute(&mut **$tx)
            .await?;
    }};
}

/// A new staff user.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub display_name: String,
    /// JSON array.
    pub allowed_preset_ids: String,
}

/// What an update changes; `None` keeps the column.
#[derive(Clone, Debug, Default)]
pub struct UserChange {
    pub display_name: Option<String>,
    pub role: Option<String>,
    pub is_active: Option<bool>,
    pub allowed_preset_ids: Option<String>,
    pub password_hash: Option<String>,
    /// Turns the second factor off and forgets its secret and recovery codes.
    pub reset_totp: bool,
    /// Ends the user's sessions and tokens (role change, disabling, password reset).
    pub end_sessions: bool,
}

/// How a user write ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserWrite {
    Done,
    NotFound,
    /// Rolled back: no active admin would be left.
    LastAdmin,
    /// The username is taken.
    Duplicate,
}

const ACTIVE_ADMINS: &str = "SELECT COUNT(*) FROM admins WHERE role = 'admin' AND is_active";

/// On PostgreSQL, the first statement of a user write: locks the active admins' rows, so two
/// concurrent writes that each remove a different admin (cross-demotions) run one after the
/// other and the second one's count sees the first. (Under READ COMMITTED each would otherwise
/// count the other's admin as still active.) SQLite needs none: a transaction's first write
/// takes the database's write lock, and the count runs inside the same transaction after it.
const LOCK_ACTIVE_ADMINS: &str =
    "SELECT id FROM admins WHERE role = 'admin' AND is_active ORDER BY id FOR UPDATE";

/// Takes the active admins' row locks within `$tx` when `$lock` (PostgreSQL).
macro_rules! lock_admins {
    ($tx:expr, $lock:expr) => {{
        if $lock {
            sqlx::query(LOCK_ACTIVE_ADMINS)
                .fetch_all(&mut **$tx)
                .await?;
        }
    }};
}

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn list_users(&self) -> StoreResult<Vec<AdminRow>> {
        let sql = format!("SELECT {ADMIN_COLUMNS} FROM admins");
        let mut rows = with_pool!(self, |pool| {
            sqlx::query_as::<_, AdminRow>(&sql).fetch_all(pool).await?
        });
        // By the name's bytes on both backends (PostgreSQL's ORDER BY follows the database's
        // collation); usernames are unique.
        rows.sort_unstable_by(|a, b| a.username.cmp(&b.username));
        Ok(rows)
    }

    #[tracing::instrument(skip_all)]
    pub async fn insert_user(&self, user: &NewUser, audit: &AuditRow) -> StoreResult<UserWrite> {
        let now = now_ms();
        let inserted = with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let res = sqlx::query(
                "INSERT INTO admins (id, username, password_hash, role, display_name,
                 allowed_preset_ids, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
            )
            .bind(user.id.as_str())
            .bind(user.username.as_str())
            .bind(user.password_hash.as_str())
            .bind(user.role.as_str())
            .bind(user.display_name.as_str())
            .bind(user.allowed_preset_ids.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await;
            match res {
                Err(e) => Err(super::StoreError::from(e)),
                Ok(_) => {
                    insert_audit!(&mut *tx, audit);
                    tx.commit().await?;
                    Ok(())
                }
            }
        });
        match inserted {
            Ok(()) => Ok(UserWrite::Done),
            Err(e) if e.is_unique_violation() => Ok(UserWrite::Duplicate),
            Err(e) => Err(e),
        }
    }

    #[tracing::instrument(skip_all)]
    pub async fn update_user(
        &self,
        id: &str,
        change: &UserChange,
        audit: &AuditRow,
    ) -> StoreResult<UserWrite> {
        let now = now_ms();
        let lock = matches!(self, Store::Postgres(_));
        Ok(with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            lock_admins!(&mut tx, lock);
            let changed = sqlx::query(
                "UPDATE admins SET
                    display_name = COALESCE($1, display_name),
                    role = COALESCE($2, role),
                    is_active = COALESCE($3, is_active),
                    allowed_preset_ids = COALESCE($4, allowed_preset_ids),
                    password_hash = COALESCE($5, password_hash),
                    totp_enabled = CASE WHEN $6 THEN FALSE ELSE totp_enabled END,
                    totp_secret_enc = CASE WHEN $6 THEN NULL ELSE totp_secret_enc END,
                    recovery_codes = CASE WHEN $6 THEN '[]' ELSE recovery_codes END,
                    updated_at = $7
                 WHERE id = $8",
            )
            .bind(change.display_name.as_deref())
            .bind(change.role.as_deref())
            .bind(change.is_active)
            .bind(change.allowed_preset_ids.as_deref())
            .bind(change.password_hash.as_deref())
            .bind(change.reset_totp)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 0 {
                UserWrite::NotFound
            } else if sqlx::query_scalar::<_, i64>(ACTIVE_ADMINS)
                .fetch_one(&mut *tx)
                .await?
                == 0
            {
                UserWrite::LastAdmin
            } else {
                if change.end_sessions {
                    end_sessions!(&mut tx, id);
                }
                insert_audit!(&mut *tx, audit);
                tx.commit().await?;
                UserWrite::Done
            }
        }))
    }

    /// Deletes the user, their sessions and tokens. Keys they created keep their id and name.
    #[tracing::instrument(skip_all)]
    pub async fn delete_user(&self, id: &str, audit: &AuditRow) -> StoreResult<UserWrite> {
        let lock = matches!(self, Store::Postgres(_));
        Ok(with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            lock_admins!(&mut tx, lock);
            end_sessions!(&mut tx, id);
            let gone = sqlx::query("DELETE FROM admins WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if gone == 0 {
                UserWrite::NotFound
            } else if sqlx::query_scalar::<_, i64>(ACTIVE_ADMINS)
                .fetch_one(&mut *tx)
                .await?
                == 0
            {
                UserWrite::LastAdmin
            } else {
                insert_audit!(&mut *tx, audit);
                tx.commit().await?;
                UserWrite::Done
            }
        }))
    }

    /// Stores the user's second factor: a pending secret (`enabled` false), the confirmed one
    /// with its recovery code hashes, or nothing (turned off). `last_step` is the time step of
    /// the code that confirmed it (used up, like a sign-in's).
    #[tracing::instrument(skip_all)]
    pub async fn set_user_totp(
        &self,
        id: &str,
        secret_enc: Option<&str>,
        enabled: bool,
        recovery_codes: &str,
        last_step: Option<i64>,
        audit: Option<&AuditRow>,
    ) -> StoreResult<()> {
        let now = now_ms();
        audited!(self, audit, |tx| {
            sqlx::query(
                "UPDATE admins SET totp_secret_enc = $1, totp_enabled = $2, recovery_codes = $3,
                 updated_at = $4, totp_last_step = COALESCE($6, totp_last_step) WHERE id = $5",
            )
            .bind(secret_enc)
            .bind(enabled)
            .bind(recovery_codes)
            .bind(now)
            .bind(id)
            .bind(last_step)
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    /// Uses up one recovery code: true when `hash` was among the user's unused codes (it is
    /// removed in the same statement, so a code works once even under concurrent logins).
    #[tracing::instrument(skip_all)]
    pub async fn take_recovery_code(
        &self,
        id: &str,
        before: &str,
        after: &str,
    ) -> StoreResult<bool> {
        Ok(with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE admins SET recovery_codes = $1 WHERE id = $2 AND recovery_codes = $3",
            )
            .bind(after)
            .bind(id)
            .bind(before)
            .execute(pool)
            .await?
            .rows_affected()
                == 1
        }))
    }

    /// Uses up TOTP time step `step` of user `id`: true when it is later than the last step
    /// accepted (which it becomes). One conditional statement, so of two sign-ins with the same
    /// code, on one instance or two, exactly one passes.
    #[tracing::instrument(skip_all)]
    pub async fn take_totp_step(&self, id: &str, step: i64) -> StoreResult<bool> {
        Ok(with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE admins SET totp_last_step = $1
                 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
            )
            .bind(step)
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
                == 1
        }))
    }
}
