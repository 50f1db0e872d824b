//! Staff users (admins only): create with a given or generated password, change role, presets,
//! display name, disable, reset password or second factor, delete. The last active admin
//! cannot be removed, disabled or demoted (checked in the write's own transaction); a change of
//! role, disabling, a reset or deletion ends the user's sessions and tokens at once.

use app::error::AdminError;
use app::port::{Actor, StaffPort};
use app::types::{
    AuditPage, AuditQuery, Role, SavedUser, SecuritySettings, StaffUser, UserInput, UserPatch,
};
use async_trait::async_trait;
use serde_json::json;

use super::audit::{self, diff};
use super::auth::{validate_username, MAX_USERNAME_BYTES};
use super::error::internal;
use super::AdminService;
use crate::auth::password::{generate_password, hash_password, validate_new_password};
use crate::storage::admins::AdminRow;
use crate::storage::users::{NewUser, UserChange, UserWrite};

const MAX_DISPLAY_NAME: usize = 128;

fn user_not_found() -> AdminError {
    AdminError::not_found("user")
}

fn last_admin() -> AdminError {
    AdminError::conflict("the last active admin cannot be removed, disabled or demoted")
}

/// The stored row as admins see it.
pub(crate) fn staff_user(row: &AdminRow) -> StaffUser {
    let time = |ms| chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
    StaffUser {
        id: row.id.clone(),
        username: row.username.clone(),
        display_name: row.display_name.clone(),
        role: Role::parse(&row.role).unwrap_or(Role::Viewer),
        is_active: row.is_active,
        allowed_preset_ids: serde_json::from_str(&row.allowed_preset_ids).unwrap_or_default(),
        totp_enabled: row.totp_enabled,
        created_at: time(row.created_at),
        updated_at: time(row.updated_at),
    }
}

fn display_name(name: Option<&str>) -> Result<Option<String>, AdminError> {
    match name.map(str::trim) {
        Some(n) if n.chars().count() > MAX_DISPLAY_NAME => Err(AdminError::validation(
            "displayName",
            format!("at most {MAX_DISPLAY_NAME} characters"),
        )),
        other => Ok(other.map(str::to_owned)),
    }
}

/// A password given by the admin (checked) or generated (returned to show once).
async fn password_hash(given: Option<&str>) -> Result<(String, Option<String>), AdminError> {
    let (password, generated) = match given {
        Some(p) => {
            validate_new_password(p).map_err(|m| AdminError::validation("password", m))?;
            (p.to_owned(), false)
        }
        None => (generate_password(), true),
    };
    let hash = hash_password(password.clone()).await.map_err(|e| {
        tracing::error!(error = %e, "password hashing failed");
        AdminError::Internal
    })?;
    Ok((hash, generated.then_some(password)))
}

impl AdminService {
    /// Preset ids that exist, deduplicated; an unknown one is a validation error.
    async fn checked_presets(&self, ids: &[String]) -> Result<Vec<String>, AdminError> {
        let mut out: Vec<String> = Vec::new();
        for id in ids.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            if self.store.key_preset(id).await.map_err(internal)?.is_none() {
                return Err(AdminError::validation(
                    "allowedPresetIds",
                    format!("no preset '{id}' exists"),
                ));
            }
            if !out.iter().any(|o| o == id) {
                out.push(id.to_owned());
            }
        }
        Ok(out)
    }

    async fn user_row(&self, id: &str) -> Result<AdminRow, AdminError> {
        self.store
            .admin_by_id(id)
            .await
            .map_err(internal)?
            .ok_or_else(user_not_found)
    }
}

#[async_trait]
impl StaffPort for AdminService {
    async fn list_users(&self, actor: &Actor) -> Result<Vec<StaffUser>, AdminError> {
        actor.require_admin()?;
        let rows = self.store.list_users().await.map_err(internal)?;
        Ok(rows.iter().map(staff_user).collect())
    }

    async fn get_user(&self, actor: &Actor, id: &str) -> Result<StaffUser, AdminError> {
        actor.require_admin()?;
        Ok(staff_user(&self.user_row(id).await?))
    }

    async fn create_user(&self, actor: &Actor, input: UserInput) -> Result<SavedUser, AdminError> {
        actor.require_admin()?;
        let username = input.username.trim().to_owned();
        validate_username(&username).map_err(|_| {
            AdminError::validation("username", format!("1 to {MAX_USERNAME_BYTES} bytes"))
        })?;
        if username.eq_ignore_ascii_case(app::port::CLI_ACTOR_ID) || username == "system" {
            return Err(AdminError::validation("username", "reserved name"));
        }
        let display = display_name(input.display_name.as_deref())?.unwrap_or_default();
        let presets = self
            .checked_presets(input.allowed_preset_ids.as_deref().unwrap_or_default())
            .await?;
        let (hash, generated) = password_hash(input.password.as_deref()).await?;
        let user = NewUser {
            id: uuid::Uuid::now_v7().to_string(),
            username: username.clone(),
            password_hash: hash,
            role: input.role.as_str().to_owned(),
            display_name: display.clone(),
            allowed_preset_ids: serde_json::to_string(&presets).unwrap_or_else(|_| "[]".into()),
        };
        let row = audit::row(
            actor,
            "user.create",
            "user",
            &user.id,
            &username,
            json!({
                "role": input.role,
                "displayName": display,
                "allowedPresetIds": presets,
                "password": "changed",
            }),
        );
        match self
            .store
            .insert_user(&user, &row)
            .await
            .map_err(internal)?
        {
            UserWrite::Done => {}
            UserWrite::Duplicate => {
                return Err(AdminError::conflict(format!(
                    "a user named '{username}' exists"
                )))
            }
            _ => return Err(AdminError::Internal),
        }
        tracing::info!(user = %username, role = input.role.as_str(), by = %actor.name, "staff user created");
        Ok(SavedUser {
            user: staff_user(&self.user_row(&user.id).await?),
            password: generated,
        })
    }

    async fn update_user(
        &self,
        actor: &Actor,
        id: &str,
        patch: UserPatch,
    ) -> Result<SavedUser, AdminError> {
        actor.require_admin()?;
        let before = self.user_row(id).await?;
        let before_view = staff_user(&before);
        let mut change = UserChange {
            display_name: display_name(patch.display_name.as_deref())?,
            role: patch.role.map(|r| r.as_str().to_owned()),
            is_active: patch.is_active,
            ..Default::default()
        };
        if let Some(ids) = &patch.allowed_preset_ids {
            let presets = self.checked_presets(ids).await?;
            change.allowed_preset_ids =
                Some(serde_json::to_string(&presets).unwrap_or_else(|_| "[]".into()));
        }
        let mut generated = None;
        if patch.password.is_some() || patch.reset_password == Some(true) {
            let (hash, shown) = password_hash(patch.password.as_deref()).await?;
            change.password_hash = Some(hash);
            generated = shown;
        }
        change.reset_totp = patch.reset_totp == Some(true);
        change.end_sessions = change.password_hash.is_some()
            || change.reset_totp
            || patch.role.is_some_and(|r| r != before_view.role)
            || patch.is_active == Some(false);
        let mut after_view = before_view.clone();
        if let Some(d) = &change.display_name {
            after_view.display_name = d.clone();
        }
        if let Some(r) = patch.role {
            after_view.role = r;
        }
        if let Some(a) = patch.is_active {
            after_view.is_active = a;
        }
        if let Some(p) = &change.allowed_preset_ids {
            after_view.allowed_preset_ids = serde_json::from_str(p).unwrap_or_default();
        }
        if change.reset_totp {
            after_view.totp_enabled = false;
        }
        let mut summary = diff(&audit::json(&before_view), &audit::json(&after_view));
        if change.password_hash.is_some() {
            summary["password"] = json!("changed");
        }
        let row = audit::row(actor, "user.update", "user", id, &before.username, summary);
        match self
            .store
            .update_user(id, &change, &row)
            .await
            .map_err(internal)?
        {
            UserWrite::Done => {}
            UserWrite::NotFound => return Err(user_not_found()),
            UserWrite::LastAdmin => return Err(last_admin()),
            UserWrite::Duplicate => return Err(AdminError::Internal),
        }
        tracing::info!(user = %before.username, by = %actor.name, ended_sessions = change.end_sessions, "staff user updated");
        Ok(SavedUser {
            user: staff_user(&self.user_row(id).await?),
            password: generated,
        })
    }

    async fn delete_user(&self, actor: &Actor, id: &str) -> Result<(), AdminError> {
        actor.require_admin()?;
        let before = self.user_row(id).await?;
        let row = audit::row(
            actor,
            "user.delete",
            "user",
            id,
            &before.username,
            json!({ "role": before.role }),
        );
        match self.store.delete_user(id, &row).await.map_err(internal)? {
            UserWrite::Done => {
                tracing::info!(user = %before.username, by = %actor.name, "staff user deleted");
                Ok(())
            }
            UserWrite::NotFound => Err(user_not_found()),
            UserWrite::LastAdmin => Err(last_admin()),
            UserWrite::Duplicate => Err(AdminError::Internal),
        }
    }

    async fn list_audit_events(
        &self,
        actor: &Actor,
        query: AuditQuery,
    ) -> Result<AuditPage, AdminError> {
        self.audit_page(actor, query).await
    }

    async fn security_settings(&self, actor: &Actor) -> Result<SecuritySettings, AdminError> {
        self.read_security_settings(actor).await
    }

    async fn save_security_settings(
        &self,
        actor: &Actor,
        input: SecuritySettings,
    ) -> Result<SecuritySettings, AdminError> {
        self.write_security_settings(actor, input).await
    }
}
