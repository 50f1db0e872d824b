//! The control plane's port into the data plane: what the admin service (and through it the
//! dashboard, the REST API and the CLI) may tell the relay or ask of it. The admin service holds
//! an `Arc<dyn RelayControl>`, never the relay's parts.

use std::net::IpAddr;
use std::sync::Arc;

use app::types::{AccountTestResult, BudgetAlert, RedeemedNewKey, RedeemedOnKey};
use async_trait::async_trait;

use super::Relay;
use crate::limits::{LiveUsage, Refusal};
use crate::metrics::LiveSnapshot;
use crate::pricing::Pricing;
use crate::sales::redeem::RedeemError;
use crate::scheduler::pool::UpstreamAccount;
use crate::scheduler::Scheduler;
use crate::storage::StoreResult;

#[async_trait]
pub trait RelayControl: Send + Sync {
    /// A key's stored settings changed (created, edited, disabled, deleted): the next request
    /// re-reads them. Call after the storage write has committed.
    fn key_changed(&self, key_id: &str);
    /// The key's live spend and reservations in this instance.
    fn key_usage(&self, key_id: &str) -> LiveUsage;
    /// An import wrote keys with spend of their own (`(key id, spend added)`).
    fn keys_imported(&self, spend: &[(&str, i64)]);
    /// Accounts, groups or memberships changed: the pool is rebuilt.
    async fn pool_changed(&self) -> anyhow::Result<()>;
    /// Price overrides changed: the table is re-read.
    async fn pricing_changed(&self) -> anyhow::Result<()>;
    /// The price table in use.
    fn pricing(&self) -> Arc<Pricing>;
    /// The account pool as the scheduler sees it (accounts, status, load, health).
    fn pool(&self) -> &Scheduler;
    /// The live figures of the last minutes.
    fn live_figures(&self, now: i64) -> LiveSnapshot;
    /// Looks at every account budget now (announcing crossings when `announce`).
    async fn check_budgets(&self, now: i64, announce: bool) -> StoreResult<Vec<BudgetAlert>>;
    /// One minimal real request through a usable account (see [`super::probe`]).
    async fn probe(&self, account: &UpstreamAccount) -> AccountTestResult;
    /// The stored hashes a presented key may match (an imported key has two forms).
    async fn key_hashes(&self, presented: &str) -> Result<Vec<String>, Refusal>;
    /// Redeems a code for a new key (see [`crate::sales::redeem::Redemption::new_key`]).
    async fn redeem_new_key(
        &self,
        code: &str,
        client: IpAddr,
    ) -> Result<RedeemedNewKey, RedeemError>;
    /// Redeems a code onto a presented key (see [`crate::sales::redeem::Redemption::onto_key`]).
    async fn redeem_onto_key(
        &self,
        key: &str,
        code: &str,
        client: IpAddr,
    ) -> Result<RedeemedOnKey, RedeemError>;
}

#[async_trait]
impl RelayControl for Relay {
    fn key_changed(&self, key_id: &str) {
        self.keys.forget(key_id);
    }

    fn key_usage(&self, key_id: &str) -> LiveUsage {
        self.keys.state().usage(key_id)
    }

    fn keys_imported(&self, spend: &[(&str, i64)]) {
        for (key_id, delta) in spend {
            self.keys.state().add_spent(key_id, *delta);
        }
        self.keys.imported();
    }

    async fn pool_changed(&self) -> anyhow::Result<()> {
        self.scheduler.reload(false).await
    }

    async fn pricing_changed(&self) -> anyhow::Result<()> {
        self.reload_pricing().await
    }

    fn pricing(&self) -> Arc<Pricing> {
        self.pricing.load_full()
    }

    fn pool(&self) -> &Scheduler {
        &self.scheduler
    }

    fn live_figures(&self, now: i64) -> LiveSnapshot {
        self.metrics.snapshot(now)
    }

    async fn check_budgets(&self, now: i64, announce: bool) -> StoreResult<Vec<BudgetAlert>> {
        Relay::check_budgets(self, now, announce).await
    }

    async fn probe(&self, account: &UpstreamAccount) -> AccountTestResult {
        super::probe::probe(account).await
    }

    async fn key_hashes(&self, presented: &str) -> Result<Vec<String>, Refusal> {
        self.keys.stored_hashes(presented).await
    }

    async fn redeem_new_key(
        &self,
        code: &str,
        client: IpAddr,
    ) -> Result<RedeemedNewKey, RedeemError> {
        self.redemption().new_key(code, client).await
    }

    async fn redeem_onto_key(
        &self,
        key: &str,
        code: &str,
        client: IpAddr,
    ) -> Result<RedeemedOnKey, RedeemError> {
        self.redemption().onto_key(key, code, client).await
    }
}
