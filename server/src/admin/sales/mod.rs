//! Selling keys after creation, in the admin service: renewals, top-ups and upgrades
//! (`renew`), redemption codes (`codes`), and the permission rule of each operation
//! (`permit`). Redemption itself is `crate::sales::redeem`, shared with the relay.

mod codes;
pub mod permit;
mod renew;

use std::net::IpAddr;

use app::error::AdminError;
use app::port::SalesPort;
use app::types::{
    BatchRenewKeys, CodePage, CodeQuery, CreateCodes, CreatedCodes, LedgerEntry, RedeemedNewKey,
    RedeemedOnKey, RenewKey, Renewed,
};
use async_trait::async_trait;

use super::error::internal;
use super::AdminService;
use permit::Actor;

#[async_trait]
impl SalesPort for AdminService {
    async fn renew_key(
        &self,
        actor: &Actor,
        id: &str,
        input: RenewKey,
    ) -> Result<Renewed, AdminError> {
        let mut done = self.renew_ids(actor, &[id.to_owned()], &input).await?;
        done.pop().ok_or(AdminError::Internal)
    }

    async fn renew_keys(
        &self,
        actor: &Actor,
        input: BatchRenewKeys,
    ) -> Result<Vec<Renewed>, AdminError> {
        self.renew_ids(actor, &input.ids, &input.renew).await
    }

    async fn key_ledger(&self, actor: &Actor, id: &str) -> Result<Vec<LedgerEntry>, AdminError> {
        let row = self
            .store
            .api_key_by_id(id)
            .await
            .map_err(internal)?
            .ok_or_else(|| AdminError::not_found("api key"))?;
        permit::view_ledger(actor, &row)?;
        let rows = self.store.key_ledger(id).await.map_err(internal)?;
        let mut entries: Vec<LedgerEntry> = rows.iter().map(crate::sales::ledger_entry).collect();
        // Staff by the names they have now (a key's ledger names a handful of people).
        let mut names = std::collections::HashMap::new();
        for entry in &mut entries {
            if entry.actor == crate::sales::KEY_HOLDER_ACTOR {
                continue;
            }
            if !names.contains_key(&entry.actor) {
                let user = self
                    .store
                    .admin_by_id(&entry.actor)
                    .await
                    .map_err(internal)?;
                names.insert(entry.actor.clone(), user.map(|u| u.username));
            }
            if let Some(Some(name)) = names.get(&entry.actor) {
                entry.actor_name = name.clone();
            }
        }
        Ok(entries)
    }

    async fn create_codes(
        &self,
        actor: &Actor,
        input: CreateCodes,
    ) -> Result<CreatedCodes, AdminError> {
        self.make_codes(actor, input).await
    }

    async fn list_codes(&self, actor: &Actor, query: CodeQuery) -> Result<CodePage, AdminError> {
        self.codes_page(actor, query).await
    }

    async fn revoke_code(&self, actor: &Actor, id: &str) -> Result<(), AdminError> {
        self.revoke(actor, id).await
    }

    async fn redeem_for_new_key(
        &self,
        code: &str,
        client: IpAddr,
    ) -> Result<RedeemedNewKey, AdminError> {
        Ok(self.relay.redeem_new_key(code, client).await?)
    }

    async fn redeem_on_key(
        &self,
        key: &str,
        code: &str,
        client: IpAddr,
    ) -> Result<RedeemedOnKey, AdminError> {
        Ok(self.relay.redeem_onto_key(key, code, client).await?)
    }
}
