use std::net::IpAddr;

use app::error::AdminError;
use app::port::AuthPort;
use app::types::{AdminInfo, LoginResponse, OverviewCounts};
use async_trait::async_trait;

use super::error::internal;
use super::AdminService;
use crate::auth::password::{
    dummy_hash, hash_password, validate_new_password, Busy, MAX_PASSWORD_BYTES,
};
use crate::crypto::{random_token, token_hash, ADMIN_TOKEN_PREFIX};
use crate::storage::{now_ms, Store};

/// Longest username an admin can have or a login can name.
pub const MAX_USERNAME_BYTES: usize = 128;

fn validate_username(username: &str) -> anyhow::Result<()> {
    if username.trim().is_empty() || username.len() > MAX_USERNAME_BYTES {
        anyhow::bail!("the admin username must be 1 to {MAX_USERNAME_BYTES} bytes");
    }
    Ok(())
}

#[async_trait]
impl AuthPort for AdminService {
    async fn verify_login(
        &self,
        username: &str,
        password: &str,
        ip: IpAddr,
    ) -> Result<AdminInfo, AdminError> {
        // Before anything is kept or hashed: a megabyte username must not reach the throttle's
        // maps, and a password no admin can have is not worth a hash.
        if username.len() > MAX_USERNAME_BYTES {
            return Err(AdminError::validation(
                "username",
                format!("at most {MAX_USERNAME_BYTES} bytes"),
            ));
        }
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(AdminError::BadCredentials);
        }
        let guards = &self.auth;
        let attempt = guards.logins.begin(ip, username).map_err(|retry_after| {
            tracing::warn!(%ip, "login throttled: too many failures for this address and username");
            AdminError::Throttled { retry_after }
        })?;
        let from_address = match guards.failures.begin(ip) {
            Ok(a) => a,
            Err(retry_after) => {
                attempt.not_tried();
                tracing::warn!(%ip, "login throttled: too many failed authentications from this address");
                return Err(AdminError::Throttled { retry_after });
            }
        };
        if !attempt.delay().is_zero() {
            tracing::info!(%ip, delay_ms = attempt.delay().as_millis() as u64, "login slowed down: the username failed repeatedly");
            guards.clock.sleep(attempt.delay()).await;
        }
        let row = match self.store.admin_by_username(username).await {
            Ok(row) => row,
            Err(e) => {
                attempt.not_tried();
                from_address.not_tried();
                return Err(internal(e));
            }
        };
        // Unknown usernames cost the same time as wrong passwords.
        let hash = row
            .as_ref()
            .map(|r| r.password_hash.clone())
            .unwrap_or_else(|| dummy_hash().to_owned());
        let ok = match guards.passwords.verify(password.to_owned(), hash).await {
            Ok(ok) => ok,
            Err(Busy) => {
                attempt.not_tried();
                from_address.not_tried();
                tracing::warn!(%ip, "login refused: password checks busy");
                return Err(AdminError::Throttled { retry_after: 1 });
            }
        };
        match row {
            Some(row) if ok => {
                attempt.succeeded();
                from_address.succeeded();
                tracing::info!(%ip, admin = %row.username, "admin signed in");
                Ok(AdminInfo {
                    id: row.id,
                    username: row.username,
                })
            }
            _ => {
                attempt.failed();
                from_address.failed();
                tracing::warn!(%ip, "failed admin login");
                Err(AdminError::BadCredentials)
            }
        }
    }

    async fn admin_info(&self, admin_id: &str) -> Result<AdminInfo, AdminError> {
        match self.store.admin_by_id(admin_id).await.map_err(internal)? {
            Some(row) => Ok(AdminInfo {
                id: row.id,
                username: row.username,
            }),
            None => Err(AdminError::Unauthorized),
        }
    }

    async fn change_password(
        &self,
        admin_id: &str,
        current: &str,
        new_password: &str,
    ) -> Result<(), AdminError> {
        let row = self
            .store
            .admin_by_id(admin_id)
            .await
            .map_err(internal)?
            .ok_or(AdminError::Unauthorized)?;
        let ok = self
            .auth
            .passwords
            .verify(current.to_owned(), row.password_hash)
            .await
            .map_err(|Busy| AdminError::Throttled { retry_after: 1 })?;
        if !ok {
            return Err(AdminError::validation(
                "current",
                "the current password is wrong",
            ));
        }
        validate_new_password(new_password)
            .map_err(|m| AdminError::validation("newPassword", m))?;
        let hash = hash_password(new_password.to_owned()).await.map_err(|e| {
            tracing::error!(error = %e, "password hashing failed");
            AdminError::Internal
        })?;
        self.store
            .set_admin_password(admin_id, &hash)
            .await
            .map_err(internal)?;
        tracing::info!(admin = %row.username, "admin password changed; sessions and tokens ended");
        Ok(())
    }

    async fn overview_counts(&self) -> Result<OverviewCounts, AdminError> {
        let c = self.store.overview_counts().await.map_err(internal)?;
        Ok(OverviewCounts {
            accounts: c.accounts,
            active_accounts: c.active_accounts,
            groups: c.groups,
            keys: c.keys,
            active_keys: c.active_keys,
        })
    }
}

impl AdminService {
    /// Issues a REST API token for a verified admin.
    pub async fn issue_token(&self, admin: &AdminInfo) -> Result<LoginResponse, AdminError> {
        let token = random_token(ADMIN_TOKEN_PREFIX);
        let expires_at = now_ms() + (self.config.serve.admin_token_ttl_hours as i64) * 3_600_000;
        self.store
            .insert_admin_token(&token_hash(&token), &admin.id, expires_at)
            .await
            .map_err(internal)?;
        Ok(LoginResponse { token, expires_at })
    }

    pub async fn revoke_token(&self, token: &str) -> Result<(), AdminError> {
        self.store
            .delete_admin_token(&token_hash(token))
            .await
            .map_err(internal)
    }
}

/// Creates the first administrator when there is none. Returns the generated password, if one
/// was generated, for the caller to print once; it is never written anywhere.
pub async fn ensure_first_admin(
    store: &Store,
    username: &str,
    password: Option<&str>,
) -> anyhow::Result<Option<String>> {
    if store.admin_count().await? > 0 {
        return Ok(None);
    }
    validate_username(username)?;
    let (password, generated) = match password {
        Some(p) => {
            validate_new_password(p).map_err(|m| anyhow::anyhow!("ADMIN_PASSWORD {m}"))?;
            (p.to_owned(), false)
        }
        None => (crate::auth::password::generate_password(), true),
    };
    let hash = hash_password(password.clone()).await?;
    store
        .insert_admin(&uuid::Uuid::now_v7().to_string(), username, &hash)
        .await?;
    Ok(generated.then_some(password))
}

/// Sets a password for `username`, creating the admin if missing. Returns the password when
/// it was generated.
pub async fn reset_password(
    store: &Store,
    username: &str,
    password: Option<&str>,
) -> anyhow::Result<Option<String>> {
    validate_username(username)?;
    let (password, generated) = match password {
        Some(p) => {
            validate_new_password(p).map_err(|m| anyhow::anyhow!("password {m}"))?;
            (p.to_owned(), false)
        }
        None => (crate::auth::password::generate_password(), true),
    };
    let hash = hash_password(password.clone()).await?;
    match store.admin_by_username(username).await? {
        Some(row) => store.set_admin_password(&row.id, &hash).await?,
        None => {
            store
                .insert_admin(&uuid::Uuid::now_v7().to_string(), username, &hash)
                .await?
        }
    }
    Ok(generated.then_some(password))
}
