//! Key bindings (dedicated accounts or groups, per platform) checked against what exists.

use app::error::AdminError;

use super::AdminService;
use crate::admin::error::internal;
use crate::keys::validate::GROUP_BINDING_PREFIX;
use crate::storage::keys::KeyConfig;

impl AdminService {
    /// Each binding that is new (not in `before`) must name an existing account or group of its
    /// platform; unchanged ones are left alone so unrelated edits of a key whose account was
    /// removed still go through.
    pub(crate) async fn check_bindings(
        &self,
        c: &KeyConfig,
        before: Option<&KeyConfig>,
        prefix: &str,
    ) -> Result<(), AdminError> {
        let bindings = [
            (
                "claude",
                "claudeAccountId",
                &c.claude_account_id,
                before.map(|b| &b.claude_account_id),
            ),
            (
                "openai",
                "openaiAccountId",
                &c.openai_account_id,
                before.map(|b| &b.openai_account_id),
            ),
            (
                "gemini",
                "geminiAccountId",
                &c.gemini_account_id,
                before.map(|b| &b.gemini_account_id),
            ),
        ];
        for (platform, field, value, old) in bindings {
            if value.is_empty() || old == Some(value) {
                continue;
            }
            let field = format!("{prefix}{field}");
            let (what, found) = match value.strip_prefix(GROUP_BINDING_PREFIX) {
                Some(group) => (
                    "account group",
                    self.store
                        .platform_of_group(group)
                        .await
                        .map_err(internal)?,
                ),
                None => {
                    let account = self.store.get_account(value).await.map_err(internal)?;
                    // Only dedicated accounts take direct bindings: a shared account serves the
                    // whole pool and a group account its groups, so binding one would be
                    // ambiguous about who else uses it.
                    if let Some(a) = &account {
                        if a.platform == platform && a.account_type != "dedicated" {
                            return Err(AdminError::validation(
                                field,
                                format!(
                                    "account '{}' is a {} account; only dedicated accounts can be bound directly (bind its group with group:<id>, or change its accountType to dedicated)",
                                    a.name, a.account_type
                                ),
                            ));
                        }
                    }
                    ("account", account.map(|a| a.platform))
                }
            };
            match found {
                None => {
                    return Err(AdminError::validation(
                        field,
                        format!("no {what} '{value}' exists"),
                    ))
                }
                Some(p) if p != platform => {
                    return Err(AdminError::validation(
                        field,
                        format!("'{value}' is a {p} {what}, not a {platform} one"),
                    ))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}
