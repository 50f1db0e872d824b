//! Renewals, the key ledger and redemption codes. `redeem_code` and `redeem_on_key` are public
//! (on the auth layer's allow-list): the code, and the key for the latter, are the credentials.

use leptos::prelude::*;
use server_fn::codec::Json;

use crate::error::AdminError;
use crate::types::{
    BatchRenewKeys, CodePage, CodeQuery, CreateCodes, CreatedCodes, LedgerEntry, RedeemedNewKey,
    RedeemedOnKey, RenewKey, Renewed,
};

#[server(name = RenewKeyFn, prefix = "/admin/fn", endpoint = "renew_key", input = Json)]
pub async fn renew_key(id: String, input: RenewKey) -> Result<Renewed, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .renew_key(&actor, &id, input)
        .await
        .map_err(fail)
}

#[server(prefix = "/admin/fn", endpoint = "renew_keys", input = Json)]
pub async fn renew_keys(input: BatchRenewKeys) -> Result<Vec<Renewed>, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .renew_keys(&actor, input)
        .await
        .map_err(fail)
}

#[server(prefix = "/admin/fn", endpoint = "key_ledger", input = Json)]
pub async fn key_ledger(id: String) -> Result<Vec<LedgerEntry>, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .key_ledger(&actor, &id)
        .await
        .map_err(fail)
}

#[server(name = CreateCodesFn, prefix = "/admin/fn", endpoint = "create_codes", input = Json)]
pub async fn create_codes(input: CreateCodes) -> Result<CreatedCodes, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .create_codes(&actor, input)
        .await
        .map_err(fail)
}

#[server(prefix = "/admin/fn", endpoint = "list_codes", input = Json)]
pub async fn list_codes(query: CodeQuery) -> Result<CodePage, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .list_codes(&actor, query)
        .await
        .map_err(fail)
}

#[server(prefix = "/admin/fn", endpoint = "revoke_code", input = Json)]
pub async fn revoke_code(id: String) -> Result<(), AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .revoke_code(&actor, &id)
        .await
        .map_err(fail)
}

/// Public: a code redeemed for a new key, shown once.
#[server(prefix = "/admin/fn", endpoint = "redeem_code")]
pub async fn redeem_code(code: String) -> Result<RedeemedNewKey, AdminError> {
    use crate::api::support::*;
    crate::port::admin_service()?
        .redeem_for_new_key(&code, client_ip())
        .await
        .map_err(fail)
}

/// Public: a code redeemed onto the key the holder pastes.
#[server(prefix = "/admin/fn", endpoint = "redeem_on_key")]
pub async fn redeem_on_key(
    presented_key: String,
    code: String,
) -> Result<RedeemedOnKey, AdminError> {
    use crate::api::support::*;
    crate::port::admin_service()?
        .redeem_on_key(&presented_key, &code, client_ip())
        .await
        .map_err(fail)
}
