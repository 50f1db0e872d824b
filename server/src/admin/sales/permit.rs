//! Who may do what with renewals and codes: one function per operation, the only place these
//! decisions are taken. Today every caller reaching them is an administrator (the admin auth
//! layer let them in), so each allows; staff roles (sellers: their own keys, within their
//! allowed presets) plug in here without touching the operations.

use app::error::AdminError;

use crate::storage::codes::CodeRow;
use crate::storage::keys::KeyRow;

/// Who asks: the admin id from the session or bearer token.
pub struct Actor<'a> {
    pub id: &'a str,
}

/// Renewing, topping up or upgrading `key` (to `to_preset`, when moving it).
pub fn renew(_actor: &Actor, _key: &KeyRow, _to_preset: Option<&str>) -> Result<(), AdminError> {
    Ok(())
}

/// Reading `key`'s ledger.
pub fn view_ledger(_actor: &Actor, _key: &KeyRow) -> Result<(), AdminError> {
    Ok(())
}

/// Creating codes from `preset_id`.
pub fn create_codes(_actor: &Actor, _preset_id: &str) -> Result<(), AdminError> {
    Ok(())
}

/// Which codes the actor may list: `None` for all, or only those they created.
pub fn list_codes_scope(_actor: &Actor) -> Result<Option<String>, AdminError> {
    Ok(None)
}

/// Revoking `code`.
pub fn revoke_code(_actor: &Actor, _code: &CodeRow) -> Result<(), AdminError> {
    Ok(())
}
