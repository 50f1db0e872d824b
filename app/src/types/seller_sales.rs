//! A seller's own sales: keys sold and revenue (as the margin report counts them) and their
//! keys' usage, by day. Sellers see only their own; admins and viewers any seller's, or
//! everyone's without a filter. Never upstream cost or margin.

use serde::{Deserialize, Serialize};

/// A staff user who sold keys: id and name (as recorded on the keys).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SellerRef {
    pub id: String,
    pub name: String,
}

/// One day (or, in `totals`, the whole range) of a seller's sales.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SalesDay {
    /// `YYYY-MM-DD`; empty in `totals`.
    pub day: String,
    pub keys_sold: u64,
    /// Sale prices of keys created and of renewals, in the operator's currency.
    pub revenue: f64,
    /// Requests relayed for the seller's keys.
    pub requests: u64,
    pub tokens: u64,
    /// USD the seller's keys spent (what counts against their quotas).
    pub spent: f64,
}

/// `GET /admin/reports/sales`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SalesSummary {
    pub from: String,
    pub to: String,
    /// Whose sales these are; `None`: every staff user's (admins and viewers only).
    pub seller: Option<SellerRef>,
    pub currency: String,
    pub days: Vec<SalesDay>,
    pub totals: SalesDay,
    /// The seller's keys that are not deleted (now, not within the range).
    pub live_keys: u64,
    /// Keys sold in a currency that is neither the operator's nor USD: not counted as revenue.
    pub unconverted_keys: u64,
    /// For admins and viewers: who sold keys in the range, to filter by. Empty for sellers.
    pub sellers: Vec<SellerRef>,
}

/// `GET /admin/reports/sales` parameters besides the range.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SalesQuery {
    /// A staff user id (`seller`, also `createdBy`). Sellers: absent or their own.
    pub seller: Option<String>,
}
