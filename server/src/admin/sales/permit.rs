//! Who may do what with renewals and codes: one function per operation, the only place these
//! decisions are taken. Administrators may do everything; sellers work on the keys they created
//! and the codes they created, within their allowed presets (another seller's key or code is
//! reported as not found, never as forbidden); viewers only read (ledgers, the code list).

use app::error::AdminError;
pub use app::port::Actor;

use crate::storage::codes::CodeRow;
use crate::storage::keys::KeyRow;

/// Renewing, topping up or upgrading `key` (to `to_preset`, when moving it). Sellers: only
/// their own keys, from a preset they may sell and to one they may sell.
pub fn renew(actor: &Actor, key: &KeyRow, to_preset: Option<&str>) -> Result<(), AdminError> {
    actor.require_key_writer()?;
    if actor.is_admin() {
        return Ok(());
    }
    if !actor.can_see_key(key.created_by_id.as_deref()) {
        return Err(AdminError::not_found(format!("api key {}", key.id)));
    }
    match key.preset_id.as_deref() {
        Some(from) => actor.require_preset(from)?,
        None => {
            return Err(AdminError::forbidden(
                "a key without a preset is renewed by an administrator",
            ))
        }
    }
    if let Some(to) = to_preset {
        actor.require_preset(to)?;
    }
    Ok(())
}

/// Reading `key`'s ledger: admins and viewers any key, sellers their own.
pub fn view_ledger(actor: &Actor, key: &KeyRow) -> Result<(), AdminError> {
    if actor.can_see_key(key.created_by_id.as_deref()) {
        Ok(())
    } else {
        Err(AdminError::not_found("api key"))
    }
}

/// Creating codes from `preset_id`: admins any preset, sellers an allowed one.
pub fn create_codes(actor: &Actor, preset_id: &str) -> Result<(), AdminError> {
    actor.require_preset(preset_id)
}

/// Which codes the actor may list: `None` for all (admins, viewers), or only those they
/// created (sellers).
pub fn list_codes_scope(actor: &Actor) -> Result<Option<String>, AdminError> {
    Ok(actor.key_owner_scope().map(str::to_owned))
}

/// Revoking `code`: admins any, sellers the codes they created; viewers none.
pub fn revoke_code(actor: &Actor, code: &CodeRow) -> Result<(), AdminError> {
    actor.require_key_writer()?;
    if actor.is_seller() && code.created_by != actor.id {
        return Err(AdminError::not_found("redemption code"));
    }
    Ok(())
}
