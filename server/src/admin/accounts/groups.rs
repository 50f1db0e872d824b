//! Account groups: named pools of `group` accounts of one platform that keys bind to.

use app::error::AdminError;
use app::types::{AccountGroup, AccountType, GroupInput, GroupMembers, GroupPatch, Platform};

use super::AdminService;
use crate::accounts::validate;
use crate::admin::audit;
use crate::admin::error::internal;
use crate::storage::audit::AuditRow;
use crate::storage::groups::GroupRow;
use crate::storage::now_ms;
use app::port::Actor;

/// A group's `stickyMode`: `grace`, `keep` or `move`.
fn sticky_mode(mode: &str) -> Result<&'static str, AdminError> {
    crate::storage::groups::STICKY_MODES
        .iter()
        .copied()
        .find(|m| *m == mode)
        .ok_or_else(|| {
            AdminError::validation(
                "stickyMode",
                "must be grace (keep a conversation's account through short cooldowns), keep (through any cooldown) or move (move it at once)",
            )
        })
}

impl AdminService {
    async fn load_group(&self, id: &str) -> Result<GroupRow, AdminError> {
        self.store
            .get_group(id)
            .await
            .map_err(internal)?
            .ok_or_else(|| AdminError::not_found("account group"))
    }

    /// Saves the group; a second group of the same name on its platform is a conflict.
    async fn save_group(&self, row: &GroupRow, event: &AuditRow) -> Result<(), AdminError> {
        match self.store.save_group(row, Some(event)).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_unique_violation() => Err(AdminError::conflict(format!(
                "a {} group named {:?} exists already",
                row.platform, row.name
            ))),
            Err(e) => Err(internal(e)),
        }
    }

    pub(super) async fn all_groups(&self) -> Result<Vec<AccountGroup>, AdminError> {
        let groups = self.store.list_groups().await.map_err(internal)?;
        let members = self.store.group_memberships().await.map_err(internal)?;
        let mut out = Vec::with_capacity(groups.len());
        for g in &groups {
            out.push(self.group_view(g, &members).await?);
        }
        Ok(out)
    }

    pub(super) async fn group_by_id(&self, id: &str) -> Result<AccountGroup, AdminError> {
        let g = self.load_group(id).await?;
        let members = self.store.group_memberships().await.map_err(internal)?;
        self.group_view(&g, &members).await
    }

    pub(super) async fn insert_group(
        &self,
        actor: &Actor,
        input: GroupInput,
    ) -> Result<AccountGroup, AdminError> {
        let name = validate::name("name", &input.name)?;
        let description = validate::group_description(input.description.unwrap_or_default())?;
        let now = now_ms();
        let row = GroupRow {
            id: uuid::Uuid::now_v7().to_string(),
            name,
            platform: input.platform.unwrap_or(Platform::Claude).as_str().into(),
            description,
            created_at: now,
            updated_at: now,
            sticky_mode: String::new(),
        };
        let mode = input.sticky_mode.as_deref().map(sticky_mode).transpose()?;
        let event = audit::row(
            actor,
            "group.create",
            "group",
            &row.id,
            &row.name,
            serde_json::json!({
                "platform": row.platform,
                "description": row.description,
                "stickyMode": input.sticky_mode,
            }),
        );
        self.save_group(&row, &event).await?;
        if let Some(mode) = mode {
            self.store
                .set_group_sticky_mode(&row.id, mode, now)
                .await
                .map_err(internal)?;
        }
        self.refresh_scheduler().await?;
        self.group_by_id(&row.id).await
    }

    pub(super) async fn patch_group(
        &self,
        actor: &Actor,
        id: &str,
        patch: GroupPatch,
    ) -> Result<AccountGroup, AdminError> {
        let mut row = self.load_group(id).await?;
        let before = serde_json::json!({ "name": row.name, "description": row.description });
        if let Some(name) = &patch.name {
            row.name = validate::name("name", name)?;
        }
        if let Some(d) = patch.description {
            row.description = validate::group_description(d)?;
        }
        row.updated_at = now_ms();
        let mode = patch.sticky_mode.as_deref().map(sticky_mode).transpose()?;
        let after = serde_json::json!({ "name": row.name, "description": row.description });
        let mut change = audit::diff(&before, &after);
        if let (Some(mode), Some(obj)) = (patch.sticky_mode.as_deref(), change.as_object_mut()) {
            obj.insert("stickyMode".into(), serde_json::json!(mode));
        }
        let event = audit::row(actor, "group.update", "group", id, &row.name, change);
        self.save_group(&row, &event).await?;
        if let Some(mode) = mode {
            self.store
                .set_group_sticky_mode(id, mode, row.updated_at)
                .await
                .map_err(internal)?;
            self.refresh_scheduler().await?;
        }
        self.group_by_id(id).await
    }

    pub(super) async fn remove_group(&self, actor: &Actor, id: &str) -> Result<(), AdminError> {
        let row = self.load_group(id).await?;
        self.refuse_if_bound(&format!("group:{id}"), "this group")
            .await?;
        let event = audit::row(
            actor,
            "group.delete",
            "group",
            id,
            &row.name,
            serde_json::json!({}),
        );
        self.store
            .delete_group(id, Some(&event))
            .await
            .map_err(internal)?;
        self.refresh_scheduler().await?;
        Ok(())
    }

    pub(super) async fn replace_group_members(
        &self,
        actor: &Actor,
        id: &str,
        members: GroupMembers,
    ) -> Result<AccountGroup, AdminError> {
        let group = self.load_group(id).await?;
        let mut ids: Vec<String> = Vec::new();
        for (i, account_id) in members.account_ids.iter().enumerate() {
            let field = format!("accountIds[{i}]");
            let Some(row) = self.store.get_account(account_id).await.map_err(internal)? else {
                return Err(AdminError::validation(
                    &field,
                    format!("no account with id {account_id}"),
                ));
            };
            if row.platform != group.platform {
                return Err(AdminError::validation(
                    &field,
                    format!(
                        "account {} is a {} account; this group is {}",
                        row.name, row.platform, group.platform
                    ),
                ));
            }
            if row.account_type != AccountType::Group.as_str() {
                return Err(AdminError::validation(
                    &field,
                    format!(
                        "account {} is a {} account; set its accountType to group first (shared accounts serve every pool key)",
                        row.name, row.account_type
                    ),
                ));
            }
            if !ids.contains(account_id) {
                ids.push(account_id.clone());
            }
        }
        let before: Vec<String> = self
            .store
            .group_memberships()
            .await
            .map_err(internal)?
            .into_iter()
            .filter(|(g, _)| g == id)
            .map(|(_, a)| a)
            .collect();
        let event = audit::row(
            actor,
            "group.members",
            "group",
            id,
            &group.name,
            serde_json::json!({ "accountIds": [before, ids] }),
        );
        self.store
            .set_group_members(id, &ids, Some(&event))
            .await
            .map_err(internal)?;
        self.refresh_scheduler().await?;
        self.group_by_id(id).await
    }
}
