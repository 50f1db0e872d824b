use async_trait::async_trait;

use super::Actor;
use crate::error::AdminError;
use crate::types::{
    KeyHolderUsage, KeyUsage, LiveOverview, MarginQuery, MarginReport, OperatorSettings,
    OperatorSettingsInput, PriceInput, PricingList, ReportRange, SalesQuery, SalesSummary, SplitBy,
    UsageReport,
};

/// What the dashboard shows about traffic and money: live figures, usage and margin reports
/// (from the rollups only), the operator's settings, prices, and a key holder's own usage.
#[async_trait]
pub trait ReportsPort {
    /// The overview: live figures of the metrics window, today so far, presets' real spend,
    /// accounts that need attention.
    async fn overview_live(&self, actor: &Actor) -> Result<LiveOverview, AdminError>;

    /// Requests, tokens and cost by day over `range`, split by model, account, group or preset.
    async fn usage_report(
        &self,
        actor: &Actor,
        range: ReportRange,
        split_by: SplitBy,
    ) -> Result<UsageReport, AdminError>;

    /// Revenue (keys sold, on their creation day) against upstream cost, by preset and group.
    async fn margin_report(
        &self,
        actor: &Actor,
        range: ReportRange,
        query: MarginQuery,
    ) -> Result<MarginReport, AdminError>;

    /// A seller's keys sold, revenue and their keys' usage by day: sellers their own only,
    /// admins and viewers any seller's (or everyone's without `seller`).
    async fn sales_summary(
        &self,
        actor: &Actor,
        range: ReportRange,
        query: SalesQuery,
    ) -> Result<SalesSummary, AdminError>;

    async fn operator_settings(&self, actor: &Actor) -> Result<OperatorSettings, AdminError>;

    async fn save_operator_settings(
        &self,
        actor: &Actor,
        input: OperatorSettingsInput,
    ) -> Result<OperatorSettings, AdminError>;

    /// The price list with overrides flagged, and models recently billed at the fallback price.
    async fn pricing(&self, actor: &Actor) -> Result<PricingList, AdminError>;

    /// Sets the price of `model` (USD per million tokens); the relay uses it from the next
    /// request.
    async fn set_price_override(
        &self,
        actor: &Actor,
        model: &str,
        price: PriceInput,
    ) -> Result<(), AdminError>;

    async fn delete_price_override(&self, actor: &Actor, model: &str) -> Result<(), AdminError>;

    /// One key's usage over the last 30 days, for the keys page.
    async fn key_usage(&self, actor: &Actor, key_id: &str) -> Result<KeyUsage, AdminError>;

    /// A key holder's view of their own key, authenticated by the key itself. Unknown and
    /// deleted keys get the same error.
    async fn key_holder_usage(&self, presented_key: &str) -> Result<KeyHolderUsage, AdminError>;

    /// The configured time zone's current offset from UTC in seconds, for showing times.
    fn display_utc_offset_secs(&self) -> i32;
}
