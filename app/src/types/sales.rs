//! Selling keys after their creation: renewals, top-ups and upgrades (each a key ledger entry),
//! and one-time redemption codes (卡密) for a shop's automatic delivery.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ApiKey, When};

/// What a key ledger entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerKind {
    /// Days added (and maybe quota).
    Renewal,
    /// Quota added only.
    TopUp,
    /// Moved to another preset.
    Upgrade,
    /// A redemption code's value added by the key holder.
    Redemption,
    /// Neither quota, days nor preset: a sale price or a note on its own.
    Adjustment,
}

impl LedgerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerKind::Renewal => "renewal",
            LedgerKind::TopUp => "top_up",
            LedgerKind::Upgrade => "upgrade",
            LedgerKind::Redemption => "redemption",
            LedgerKind::Adjustment => "adjustment",
        }
    }

    pub fn parse(text: &str) -> Option<LedgerKind> {
        [
            LedgerKind::Renewal,
            LedgerKind::TopUp,
            LedgerKind::Upgrade,
            LedgerKind::Redemption,
            LedgerKind::Adjustment,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }
}

/// One change of what a key was sold. Money in USD (quota) and `currency` (sale price).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerEntry {
    pub id: String,
    pub key_id: String,
    pub kind: LedgerKind,
    pub quota_add: f64,
    pub days_add: u32,
    pub preset_from: Option<String>,
    pub preset_to: Option<String>,
    pub expires_before: Option<DateTime<Utc>>,
    pub expires_after: Option<DateTime<Utc>>,
    pub sale_price: f64,
    pub currency: String,
    /// Who made it: an admin's id, or `key-holder` for a redemption.
    pub actor: String,
    /// The staff user's name (their id when the user is gone; `key-holder` as is).
    #[serde(default)]
    pub actor_name: String,
    pub note: String,
    pub code_id: Option<String>,
    pub at: DateTime<Utc>,
}

/// `POST /admin/api-keys/{id}/renew`: any of quota to add (USD), days to add (from the current
/// expiry, or from now when already expired), a preset to move to; a sale price and a note.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RenewKey {
    pub quota_add_usd: Option<f64>,
    pub days_add: Option<u32>,
    pub preset_id: Option<String>,
    pub sale_price: Option<f64>,
    pub currency: Option<String>,
    pub note: Option<String>,
}

/// `POST /admin/api-keys/renew`: the same change on every key of `ids`, all or nothing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchRenewKeys {
    pub ids: Vec<String>,
    #[serde(flatten)]
    pub renew: RenewKey,
}

/// A renewed key and the ledger entry that renewed it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Renewed {
    pub key: ApiKey,
    pub entry: LedgerEntry,
}

/// A redemption code's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeStatus {
    Unused,
    Redeemed,
    Expired,
    Revoked,
}

impl CodeStatus {
    pub const ALL: [CodeStatus; 4] = [
        CodeStatus::Unused,
        CodeStatus::Redeemed,
        CodeStatus::Expired,
        CodeStatus::Revoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CodeStatus::Unused => "unused",
            CodeStatus::Redeemed => "redeemed",
            CodeStatus::Expired => "expired",
            CodeStatus::Revoked => "revoked",
        }
    }
}

/// `POST /admin/redemption-codes`: `count` codes from a preset, each worth the preset's quota
/// and days unless `quotaUsd`/`days` say otherwise; `orderNumbers` (one per code, when given)
/// sets the count; `redeemBy` ends their redeemability (a date is the end of that day).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CreateCodes {
    pub preset_id: String,
    pub count: Option<u32>,
    pub quota_usd: Option<f64>,
    pub days: Option<u32>,
    pub sale_price: Option<f64>,
    pub currency: Option<String>,
    pub order_numbers: Option<Vec<String>>,
    pub redeem_by: Option<When>,
}

/// A redemption code as listed (never the code itself).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RedemptionCode {
    pub id: String,
    /// The code's first group, for recognising it (`7KQ2-…`).
    pub code_hint: String,
    pub batch_id: String,
    pub preset_id: String,
    pub quota: f64,
    pub days: u32,
    pub sale_price: f64,
    pub currency: String,
    pub order_number: String,
    pub redeem_by: Option<When>,
    pub status: CodeStatus,
    pub redeemed_key_id: Option<String>,
    pub redeemed_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A new code: the record and the code, shown exactly once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedCode {
    #[serde(flatten)]
    pub record: RedemptionCode,
    pub code: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedCodes {
    pub batch_id: String,
    pub codes: Vec<CreatedCode>,
}

/// `GET /admin/redemption-codes` query.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CodeQuery {
    pub status: Option<CodeStatus>,
    pub preset_id: Option<String>,
    pub batch_id: Option<String>,
    pub page: Option<u32>,
    pub page_size: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodePage {
    pub items: Vec<RedemptionCode>,
    pub total: u64,
    pub page: u32,
    pub page_size: u32,
}

/// `POST /redeem`, `POST /v1/redeem` and the pages' forms.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RedeemRequest {
    pub code: String,
}

/// A code redeemed onto the presenting key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RedeemedOnKey {
    pub quota_added: f64,
    pub days_added: u32,
    /// USD; 0 = unlimited.
    pub quota_limit: f64,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A code redeemed without a key: a new key from the code's preset, shown exactly once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RedeemedNewKey {
    pub key: String,
    pub key_prefix: String,
    pub quota_limit: f64,
    pub expires_at: Option<DateTime<Utc>>,
}
