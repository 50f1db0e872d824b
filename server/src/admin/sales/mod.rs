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
        actor: &str,
        id: &str,
        input: RenewKey,
    ) -> Result<Renewed, AdminError> {
        let mut done = self
            .renew_ids(&Actor { id: actor }, &[id.to_owned()], &input)
            .await?;
        done.pop().ok_or(AdminError::Internal)
    }

    async fn renew_keys(
        &self,
        actor: &str,
        input: BatchRenewKeys,
    ) -> Result<Vec<Renewed>, AdminError> {
        self.renew_ids(&Actor { id: actor }, &input.ids, &input.renew)
            .await
    }

    async fn key_ledger(&self, actor: &str, id: &str) -> Result<Vec<LedgerEntry>, AdminError> {
        let row = self
            .store
            .api_key_by_id(id)
            .await
            .map_err(internal)?
            .ok_or_else(|| AdminError::not_found("api key"))?;
        permit::view_ledger(&Actor { id: actor }, &row)?;
        let rows = self.store.key_ledger(id).await.map_err(internal)?;
        Ok(rows.iter().map(crate::sales::ledger_entry).collect())
    }

    async fn create_codes(
        &self,
        actor: &str,
        input: CreateCodes,
    ) -> Result<CreatedCodes, AdminError> {
        self.make_codes(&Actor { id: actor }, input).await
    }

    async fn list_codes(&self, actor: &str, query: CodeQuery) -> Result<CodePage, AdminError> {
        self.codes_page(&Actor { id: actor }, query).await
    }

    async fn revoke_code(&self, actor: &str, id: &str) -> Result<(), AdminError> {
        self.revoke(&Actor { id: actor }, id).await
    }

    async fn redeem_for_new_key(
        &self,
        code: &str,
        client: IpAddr,
    ) -> Result<RedeemedNewKey, AdminError> {
        Ok(crate::sales::redeem::new_key(&self.relay, code, client).await?)
    }

    async fn redeem_on_key(
        &self,
        key: &str,
        code: &str,
        client: IpAddr,
    ) -> Result<RedeemedOnKey, AdminError> {
        Ok(crate::sales::redeem::onto_key(&self.relay, key, code, client).await?)
    }
}
