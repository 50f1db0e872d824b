use std::net::IpAddr;

use app::error::AdminError;
use app::port::AuthPort;
use app::types::{AdminInfo, LoginResponse, OverviewCounts};
use async_trait::async_trait;

use super::error::internal;
use super::AdminService;
use crate::auth::password::{dummy_hash, hash_password, validate_new_password, verify_password};
use crate::crypto::{random_token, token_hash};
use crate::storage::{now_ms, Store};

#[async_trait]
impl AuthPort for AdminService {
    async fn verify_login(
        &self,
        username: &str,
        password: &str,
        ip: IpAddr,
    ) -> Result<AdminInfo, AdminError> {
        if let Err(retry_after) = self.throttle.check(ip, username) {
            tracing::warn!(%ip, "login throttled");
            return Err(AdminError::Throttled { retry_after });
        }
        let row = self
            .store
            .admin_by_username(username)
            .await
            .map_err(internal)?;
        // Unknown usernames cost the same time as wrong passwords.
        let hash = row
            .as_ref()
            .map(|r| r.password_hash.clone())
            .unwrap_or_else(|| dummy_hash().to_owned());
        let ok = verify_password(password.to_owned(), hash).await;
        match row {
            Some(row) if ok => {
                self.throttle.record_success(username);
                tracing::info!(%ip, admin = %row.username, "admin signed in");
                Ok(AdminInfo {
                    id: row.id,
                    username: row.username,
                })
            }
            _ => {
                self.throttle.record_failure(ip, username);
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
        if !verify_password(current.to_owned(), row.password_hash).await {
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
        let token = random_token("tga_");
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
