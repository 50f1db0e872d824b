//! Server functions of the overview, usage and margin reports, operator settings, prices, and
//! key usage. `key_holder_usage` is public (on the auth layer's allow-list): the key itself is
//! the credential.

use leptos::prelude::*;
use server_fn::codec::Json;

use crate::error::AdminError;
use crate::types::{
    CostBasis, KeyHolderUsage, KeyUsage, LiveOverview, MarginReport, OperatorSettings,
    OperatorSettingsInput, PriceInput, PricingList, ReportRange, SalesSummary, SplitBy,
    UsageReport,
};

#[server(prefix = "/admin/fn", endpoint = "overview_live")]
pub async fn overview_live() -> Result<LiveOverview, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .overview_live(&actor)
        .await
        .map_err(fail)
}

#[server(name = UsageReportFn, prefix = "/admin/fn", endpoint = "usage_report", input = Json)]
pub async fn usage_report(
    range: ReportRange,
    split_by: SplitBy,
) -> Result<UsageReport, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .usage_report(&actor, range, split_by)
        .await
        .map_err(fail)
}

#[server(name = MarginReportFn, prefix = "/admin/fn", endpoint = "margin_report", input = Json)]
pub async fn margin_report(
    range: ReportRange,
    cost_basis: CostBasis,
    exchange_rate: Option<f64>,
    seller: Option<String>,
) -> Result<MarginReport, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    let query = crate::types::MarginQuery {
        cost_basis,
        exchange_rate,
        seller,
    };
    crate::port::admin_service()?
        .margin_report(&actor, range, query)
        .await
        .map_err(fail)
}

#[server(name = OperatorSettingsFn, prefix = "/admin/fn", endpoint = "operator_settings")]
pub async fn operator_settings() -> Result<OperatorSettings, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .operator_settings(&actor)
        .await
        .map_err(fail)
}

#[server(prefix = "/admin/fn", endpoint = "save_operator_settings", input = Json)]
pub async fn save_operator_settings(
    input: OperatorSettingsInput,
) -> Result<OperatorSettings, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .save_operator_settings(&actor, input)
        .await
        .map_err(fail)
}

#[server(name = PricingListFn, prefix = "/admin/fn", endpoint = "pricing_list")]
pub async fn pricing_list() -> Result<PricingList, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .pricing(&actor)
        .await
        .map_err(fail)
}

#[server(prefix = "/admin/fn", endpoint = "set_price_override", input = Json)]
pub async fn set_price_override(model: String, price: PriceInput) -> Result<(), AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .set_price_override(&actor, &model, price)
        .await
        .map_err(fail)
}

#[server(prefix = "/admin/fn", endpoint = "delete_price_override", input = Json)]
pub async fn delete_price_override(model: String) -> Result<(), AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .delete_price_override(&actor, &model)
        .await
        .map_err(fail)
}

#[server(name = KeyUsageFn, prefix = "/admin/fn", endpoint = "key_usage", input = Json)]
pub async fn key_usage(key_id: String) -> Result<KeyUsage, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .key_usage(&actor, &key_id)
        .await
        .map_err(fail)
}

/// Public: a key holder's own usage, authenticated by the key they paste.
#[server(name = KeyHolderUsageFn, prefix = "/admin/fn", endpoint = "key_holder_usage")]
pub async fn key_holder_usage(presented_key: String) -> Result<KeyHolderUsage, AdminError> {
    use crate::api::support::*;
    crate::port::admin_service()?
        .key_holder_usage(&presented_key)
        .await
        .map_err(fail)
}

/// What a seller sold and how their keys were used, by day (sellers: their own only).
#[server(name = SalesSummaryFn, prefix = "/admin/fn", endpoint = "sales_summary", input = Json)]
pub async fn sales_summary(
    range: ReportRange,
    seller: Option<String>,
) -> Result<SalesSummary, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .sales_summary(&actor, range, crate::types::SalesQuery { seller })
        .await
        .map_err(fail)
}
