//! Selling keys after their creation: redemption codes (`code`), the guessing limits in front
//! of every redemption (`guard`), and redemption itself (`redeem`), shared by the public
//! `/redeem` page, the key holder's `/usage` page and the relay's `POST /v1/redeem`. Renewals by
//! staff are in `admin::sales`; the validity arithmetic of both is `keys::lifecycle::renew`.

pub mod code;
pub mod guard;
pub mod redeem;

use app::types::{micros_to_usd, LedgerEntry, LedgerKind};
use chrono::{DateTime, Utc};

use crate::storage::ledger::LedgerRow;

/// Who a redemption by a key holder is recorded as.
pub const KEY_HOLDER_ACTOR: &str = "key-holder";

/// Most days one renewal or code may add (100 years).
pub const MAX_DAYS: u32 = 36_500;

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::UNIX_EPOCH)
}

/// A ledger row as the API shows it.
pub fn ledger_entry(row: &LedgerRow) -> LedgerEntry {
    LedgerEntry {
        id: row.id.clone(),
        key_id: row.key_id.clone(),
        kind: LedgerKind::parse(&row.kind).unwrap_or(LedgerKind::Adjustment),
        quota_add: micros_to_usd(row.quota_add_micros),
        days_add: row.days_add.clamp(0, i64::from(u32::MAX)) as u32,
        preset_from: row.preset_from.clone(),
        preset_to: row.preset_to.clone(),
        expires_before: row.expires_before.map(time),
        expires_after: row.expires_after.map(time),
        sale_price: micros_to_usd(row.sale_price_micros),
        currency: row.currency.clone(),
        actor: row.actor.clone(),
        actor_name: row.actor.clone(),
        note: row.note.clone(),
        code_id: row.code_id.clone(),
        at: time(row.at),
    }
}
