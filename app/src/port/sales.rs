use async_trait::async_trait;

use super::Actor;
use crate::error::AdminError;
use crate::types::{
    BatchRenewKeys, CodePage, CodeQuery, CreateCodes, CreatedCodes, LedgerEntry, RedeemedNewKey,
    RedeemedOnKey, RenewKey, Renewed,
};

/// Selling keys after creation: renewals, top-ups, upgrades (each a ledger entry) and
/// redemption codes. `actor` is who asks (an admin's id); every permission decision is taken by
/// the service, one rule per operation.
#[async_trait]
pub trait SalesPort {
    /// Adds quota and/or days and/or moves the key to another preset, as one ledger entry.
    async fn renew_key(
        &self,
        actor: &Actor,
        id: &str,
        input: RenewKey,
    ) -> Result<Renewed, AdminError>;

    /// The same renewal on every key of `ids`, in one transaction.
    async fn renew_keys(
        &self,
        actor: &Actor,
        input: BatchRenewKeys,
    ) -> Result<Vec<Renewed>, AdminError>;

    /// A key's ledger, oldest first.
    async fn key_ledger(&self, actor: &Actor, id: &str) -> Result<Vec<LedgerEntry>, AdminError>;

    /// Creates a batch of codes; the plaintext codes are in this answer only.
    async fn create_codes(
        &self,
        actor: &Actor,
        input: CreateCodes,
    ) -> Result<CreatedCodes, AdminError>;

    async fn list_codes(&self, actor: &Actor, query: CodeQuery) -> Result<CodePage, AdminError>;

    /// Revokes an unused code.
    async fn revoke_code(&self, actor: &Actor, id: &str) -> Result<(), AdminError>;

    /// A code redeemed by someone without a key (the public `/redeem` page): a new key from the
    /// code's preset, shown once. `client` is the caller's address, for the guessing limit.
    async fn redeem_for_new_key(
        &self,
        code: &str,
        client: std::net::IpAddr,
    ) -> Result<RedeemedNewKey, AdminError>;

    /// A code redeemed by a key holder onto the key they present (the public `/usage` page).
    async fn redeem_on_key(
        &self,
        key: &str,
        code: &str,
        client: std::net::IpAddr,
    ) -> Result<RedeemedOnKey, AdminError>;
}
