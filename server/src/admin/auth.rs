use std::net::IpAddr;

use app::error::AdminError;
use app::port::{Actor, AuthPort};
use app::types::{AdminInfo, LoginResponse, OverviewCounts, Role, TotpEnabled, TotpSetup};
use async_trait::async_trait;

use super::audit;
use super::error::internal;
use super::AdminService;
use crate::auth::password::{
    dummy_hash, hash_password, validate_new_password, Busy, MAX_PASSWORD_BYTES,
};
use crate::crypto::{random_token, token_hash, ADMIN_TOKEN_PREFIX};
use crate::storage::admins::AdminRow;
use crate::storage::{now_ms, Store};

/// Longest username an admin can have or a login can name.
pub const MAX_USERNAME_BYTES: usize = 128;

pub(crate) fn validate_username(username: &str) -> anyhow::Result<()> {
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
        totp: Option<&str>,
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
        // A disabled user's right password is still a failed sign-in.
        let row = row.filter(|r| r.is_active);
        let second = match &row {
            Some(row) if ok => self.check_second_factor(row, totp).await,
            _ => Err(AdminError::BadCredentials),
        };
        let who = |row: &Option<AdminRow>| Actor {
            id: row.as_ref().map(|r| r.id.clone()).unwrap_or_default(),
            name: username.chars().take(64).collect(),
            role: Role::Viewer,
            allowed_preset_ids: Vec::new(),
            client_addr: ip.to_string(),
            totp_setup_due: false,
        };
        match (row, second) {
            (Some(row), Ok(())) => {
                attempt.succeeded();
                from_address.succeeded();
                tracing::info!(%ip, user = %row.username, role = %row.role, "staff user signed in");
                let mut info = admin_info(&row);
                info.totp_setup_required = self.totp_setup_due(&row).await?;
                self.audit_event(audit::row(
                    &who(&Some(row)),
                    "login",
                    "user",
                    &info.id,
                    &info.username,
                    serde_json::json!({}),
                ))
                .await;
                Ok(info)
            }
            (_, Err(AdminError::TotpRequired)) => {
                // The password was right: not a failure, the form asks for the code next.
                attempt.not_tried();
                from_address.not_tried();
                Err(AdminError::TotpRequired)
            }
            (row, second) => {
                let e = second.err().unwrap_or(AdminError::BadCredentials);
                attempt.failed();
                from_address.failed();
                tracing::warn!(%ip, "failed staff login");
                let reason = if row.is_some() {
                    "second factor"
                } else {
                    "password"
                };
                self.audit_event(audit::row(
                    &who(&row),
                    "login.failed",
                    "user",
                    row.as_ref().map(|r| r.id.as_str()).unwrap_or(""),
                    &username.chars().take(64).collect::<String>(),
                    serde_json::json!({ "reason": reason }),
                ))
                .await;
                Err(match e {
                    AdminError::Internal => AdminError::Internal,
                    _ => AdminError::BadCredentials,
                })
            }
        }
    }

    async fn resolve_actor(
        &self,
        user_id: &str,
        client_addr: String,
    ) -> Result<Option<Actor>, AdminError> {
        let row = self.store.admin_by_id(user_id).await.map_err(internal)?;
        let Some(row) = row.filter(|r| r.is_active) else {
            return Ok(None);
        };
        let totp_setup_due = self.totp_setup_due(&row).await?;
        Ok(Some(Actor {
            role: Role::parse(&row.role).unwrap_or(Role::Viewer),
            allowed_preset_ids: serde_json::from_str(&row.allowed_preset_ids).unwrap_or_default(),
            id: row.id,
            name: row.username,
            client_addr,
            totp_setup_due,
        }))
    }

    async fn begin_totp(&self, actor: &Actor) -> Result<TotpSetup, AdminError> {
        self.totp_begin(actor).await
    }

    async fn confirm_totp(&self, actor: &Actor, code: &str) -> Result<TotpEnabled, AdminError> {
        self.totp_confirm(actor, code).await
    }

    async fn disable_totp(&self, actor: &Actor, password: &str) -> Result<(), AdminError> {
        self.totp_disable(actor, password).await
    }

    async fn admin_info(&self, actor: &Actor) -> Result<AdminInfo, AdminError> {
        match self.store.admin_by_id(&actor.id).await.map_err(internal)? {
            Some(row) => Ok(AdminInfo {
                totp_setup_required: self.totp_setup_due(&row).await?,
                ..admin_info(&row)
            }),
            None => Err(AdminError::Unauthorized),
        }
    }

    async fn change_password(
        &self,
        actor: &Actor,
        current: &str,
        new_password: &str,
    ) -> Result<(), AdminError> {
        let admin_id = actor.id.as_str();
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
        let event = audit::row(
            actor,
            "password.change",
            "user",
            admin_id,
            &row.username,
            serde_json::json!({ "password": "changed" }),
        );
        self.store
            .set_admin_password(admin_id, &hash, Some(&event))
            .await
            .map_err(internal)?;
        tracing::info!(admin = %row.username, "admin password changed; sessions and tokens ended");
        Ok(())
    }

    async fn overview_counts(&self, actor: &Actor) -> Result<OverviewCounts, AdminError> {
        actor.require_reader()?;
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

/// The signed-in user as the dashboard and `GET /admin/auth/me` see them.
pub(crate) fn admin_info(row: &AdminRow) -> AdminInfo {
    AdminInfo {
        id: row.id.clone(),
        username: row.username.clone(),
        display_name: row.display_name.clone(),
        role: Role::parse(&row.role).unwrap_or(Role::Viewer),
        allowed_preset_ids: serde_json::from_str(&row.allowed_preset_ids).unwrap_or_default(),
        totp_enabled: row.totp_enabled,
        totp_setup_required: false,
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
        Ok(LoginResponse {
            token,
            expires_at,
            totp_setup_required: admin.totp_setup_required,
        })
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

/// The audit row of a password set from the command line (as user `cli`).
fn cli_password_event(id: &str, username: &str, action: &str) -> crate::storage::audit::AuditRow {
    audit::row(
        &Actor::cli(),
        action,
        "user",
        id,
        username,
        serde_json::json!({ "password": "changed" }),
    )
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
        Some(row) => {
            let event = cli_password_event(&row.id, username, "password.reset");
            store
                .set_admin_password(&row.id, &hash, Some(&event))
                .await?
        }
        None => {
            let id = uuid::Uuid::now_v7().to_string();
            store.insert_admin(&id, username, &hash).await?;
            store
                .insert_audit_event(&cli_password_event(&id, username, "user.create"))
                .await?
        }
    }
    Ok(generated.then_some(password))
}
