//! The account state-change recorder: the scheduler sends each account's transitions over a
//! channel (never waiting on the database); this job persists them (`accounts.status`,
//! `account_events`) and announces them as webhooks. Started by `relay::jobs`.

use tokio_util::sync::CancellationToken;

use super::AccountTransition;
use crate::storage::Store;
use crate::webhooks::{EventKind, Webhooks};

/// Persists account state changes and announces them, off the hot path.
pub async fn record_transitions(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<AccountTransition>,
    store: Store,
    webhooks: Webhooks,
    stop: CancellationToken,
) {
    use app::types::AccountStatus;
    loop {
        let t = tokio::select! {
            biased;
            t = rx.recv() => match t {
                Some(t) => t,
                None => break,
            },
            _ = stop.cancelled() => match rx.try_recv() {
                // Record what is queued, then stop.
                Ok(t) => t,
                Err(_) => break,
            },
        };
        let tr = &t.transition;
        if let Err(e) = store
            .record_account_state(
                &t.account_id,
                tr.to.as_str(),
                &tr.message,
                tr.http_status,
                tr.cooldown_until,
            )
            .await
        {
            tracing::error!(error = %e, account = %t.account_id, "recording an account state change failed");
        }
        let kind = match tr.to {
            AccountStatus::RateLimited => Some(EventKind::AccountRateLimited),
            AccountStatus::Overloaded => Some(EventKind::AccountOverloaded),
            AccountStatus::Error => Some(EventKind::AccountError),
            AccountStatus::Active if tr.from != AccountStatus::Active => {
                Some(EventKind::AccountRecovered)
            }
            _ => None,
        };
        if let Some(kind) = kind {
            webhooks.emit(
                kind,
                serde_json::json!({
                    "accountId": &*t.account_id,
                    "accountName": t.account_name,
                    "platform": t.platform.as_str(),
                    "from": tr.from.as_str(),
                    "to": tr.to.as_str(),
                    "httpStatus": tr.http_status,
                    "message": tr.message,
                    "cooldownUntil": tr.cooldown_until,
                }),
            );
        }
    }
}
