//! The account test: one minimal real request through the account's own client and proxy,
//! built by the platform's adapter exactly as the relay would send it (`relay::probe`).

use app::error::AdminError;
use app::types::AccountTestResult;

use super::AdminService;

impl AdminService {
    /// Sends a minimal real request through the account's client and proxy.
    pub(super) async fn probe_account(&self, id: &str) -> Result<AccountTestResult, AdminError> {
        let snap = self.relay.pool().snapshot();
        let account = snap
            .by_id
            .get(id)
            .cloned()
            .ok_or_else(|| AdminError::not_found("account"))?;
        if let Some(why) = &account.unusable {
            return Ok(AccountTestResult {
                ok: false,
                latency_ms: 0,
                http_status: None,
                model: String::new(),
                error: Some(why.clone()),
            });
        }
        Ok(self.relay.probe(&account).await)
    }
}
