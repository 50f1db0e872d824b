//! A key's bindings: CRS's account and group ids turned into the Tollgate ids they were
//! imported as. A binding to something not imported (a skipped OAuth account, a group left
//! out) becomes that platform's shared pool, and the key's report says so.

use std::collections::HashMap;

use app::types::{AccountType, ImportNote, Platform};

use super::source::Fields;
use super::{field, note};

/// A Tollgate id an imported CRS account or group now has.
#[derive(Clone, Debug)]
pub struct LocalTarget {
    pub local_id: String,
    pub platform: Platform,
    pub name: String,
    pub account_type: AccountType,
}

/// What bindings can point to: imported accounts and groups by CRS id, and the accounts that
/// were skipped (with their CRS kind), so a binding to one is reported.
#[derive(Default)]
pub struct BindingTargets {
    pub accounts: HashMap<String, LocalTarget>,
    pub groups: HashMap<String, LocalTarget>,
    pub skipped_accounts: HashMap<String, String>,
}

/// Resolves one CRS binding value to a Tollgate binding of `platform`.
fn resolve(
    value: &str,
    platform: Platform,
    targets: &BindingTargets,
    notes: &mut Vec<ImportNote>,
) -> Option<String> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if let Some(gid) = value.strip_prefix("group:") {
        return match targets.groups.get(gid) {
            Some(g) if g.platform == platform => Some(format!("group:{}", g.local_id)),
            _ => {
                notes.push(note(
                    "binding_to_pool",
                    format!(
                        "bound to CRS group {gid}, which is not imported: uses the shared {} pool",
                        platform.as_str()
                    ),
                ));
                None
            }
        };
    }
    let id = value
        .strip_prefix("responses:")
        .or_else(|| value.strip_prefix("api:"))
        .unwrap_or(value);
    match targets.accounts.get(id) {
        Some(a) if a.platform == platform => Some(a.local_id.clone()),
        _ => {
            let what = match targets.skipped_accounts.get(id) {
                Some(kind) => format!("the skipped {kind} account {id}"),
                None => format!("account {id}, which is not imported"),
            };
            notes.push(note(
                "binding_to_pool",
                format!(
                    "bound to {what}: uses the shared {} pool",
                    platform.as_str()
                ),
            ));
            None
        }
    }
}

/// The three Tollgate bindings. CRS checks `claudeAccountId` (OAuth account or group) before
/// `claudeConsoleAccountId`, and Azure sits beside `openaiAccountId`.
pub fn bindings(
    f: &Fields,
    targets: &BindingTargets,
    notes: &mut Vec<ImportNote>,
) -> (String, String, String) {
    let claude = resolve(
        field(f, "claudeAccountId"),
        Platform::Claude,
        targets,
        notes,
    )
    .or_else(|| {
        resolve(
            field(f, "claudeConsoleAccountId"),
            Platform::Claude,
            targets,
            notes,
        )
    });
    let openai = resolve(
        field(f, "openaiAccountId"),
        Platform::Openai,
        targets,
        notes,
    )
    .or_else(|| {
        resolve(
            field(f, "azureOpenaiAccountId"),
            Platform::Openai,
            targets,
            notes,
        )
    });
    let gemini = resolve(
        field(f, "geminiAccountId"),
        Platform::Gemini,
        targets,
        notes,
    );
    for (name, what) in [("bedrockAccountId", "Bedrock"), ("droidAccountId", "Droid")] {
        if !field(f, name).trim().is_empty() {
            notes.push(note(
                "binding_dropped",
                format!("its {what} binding is not carried over (Tollgate has no {what} accounts)"),
            ));
        }
    }
    (
        claude.unwrap_or_default(),
        openai.unwrap_or_default(),
        gemini.unwrap_or_default(),
    )
}
