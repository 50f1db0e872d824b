//! `/admin/reports/...`, `/admin/settings` and `/admin/pricing`: a thin skin over the service.
//! Query strings are read strictly: an unknown parameter is named in a 400.

use app::error::AdminError;
use app::port::ReportsPort;
use app::types::{
    CostBasis, KeyUsage, LiveOverview, MarginQuery, MarginReport, OperatorSettings,
    OperatorSettingsInput, PriceInput, PricingList, ReportRange, SalesQuery, SalesSummary, SplitBy,
    UsageReport,
};
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::routing::{get, put};
use axum::Json;

use super::extract::{choice, number, text, unknown, NoParams, QueryParams, StrictQuery};
use super::{ApiResult, RouteTable, Service};
use crate::admin::error::AppJson;
use crate::auth::Admin;

pub(super) fn register(table: RouteTable) -> RouteTable {
    table
        .route("/admin/reports/overview", &[Method::GET], get(overview))
        .route("/admin/reports/usage", &[Method::GET], get(usage))
        .route("/admin/reports/margin", &[Method::GET], get(margin))
        .route("/admin/reports/sales", &[Method::GET], get(sales))
        .route(
            "/admin/reports/key-usage/{id}",
            &[Method::GET],
            get(key_usage),
        )
        .route(
            "/admin/settings",
            &[Method::GET, Method::PUT],
            get(get_settings).put(put_settings),
        )
        .route("/admin/pricing", &[Method::GET], get(pricing))
        .route(
            "/admin/pricing/{model}",
            &[Method::PUT, Method::DELETE],
            put(put_price).delete(delete_price),
        )
}

/// `from`, `to` and `splitBy` of a usage report.
#[derive(Default)]
struct UsageQuery {
    range: ReportRange,
    split: SplitBy,
}

impl QueryParams for UsageQuery {
    fn set(&mut self, name: &str, value: &str) -> Result<(), AdminError> {
        match name {
            "from" => self.range.from = text(value),
            "to" => self.range.to = text(value),
            "splitBy" => self.split = choice(name, value, &SplitBy::ALL, SplitBy::as_str)?,
            other => return Err(unknown(other)),
        }
        Ok(())
    }
}

/// `from`, `to`, `costBasis` and `exchangeRate` of a margin report.
#[derive(Default)]
struct MarginParams {
    range: ReportRange,
    query: MarginQuery,
}

impl QueryParams for MarginParams {
    fn set(&mut self, name: &str, value: &str) -> Result<(), AdminError> {
        match name {
            "from" => self.range.from = text(value),
            "to" => self.range.to = text(value),
            "costBasis" => {
                self.query.cost_basis = choice(name, value, &COST_BASES, CostBasis::as_str)?
            }
            "exchangeRate" if value.trim().is_empty() => self.query.exchange_rate = None,
            "exchangeRate" => self.query.exchange_rate = Some(number(name, value)?),
            "seller" | "createdBy" => self.query.seller = text(value),
            other => return Err(unknown(other)),
        }
        Ok(())
    }
}

/// `from`, `to` and `seller` (also `createdBy`) of a seller's sales.
#[derive(Default)]
struct SalesParams {
    range: ReportRange,
    query: SalesQuery,
}

impl QueryParams for SalesParams {
    fn set(&mut self, name: &str, value: &str) -> Result<(), AdminError> {
        match name {
            "from" => self.range.from = text(value),
            "to" => self.range.to = text(value),
            "seller" | "createdBy" => self.query.seller = text(value),
            other => return Err(unknown(other)),
        }
        Ok(())
    }
}

const COST_BASES: [CostBasis; 2] = [CostBasis::Usage, CostBasis::Amortized];

async fn overview(
    State(s): Service,
    Admin(actor): Admin,
    _query: StrictQuery<NoParams>,
) -> ApiResult<Json<LiveOverview>> {
    Ok(Json(s.overview_live(&actor).await?))
}

async fn usage(
    State(s): Service,
    Admin(actor): Admin,
    StrictQuery(q): StrictQuery<UsageQuery>,
) -> ApiResult<Json<UsageReport>> {
    Ok(Json(s.usage_report(&actor, q.range, q.split).await?))
}

async fn margin(
    State(s): Service,
    Admin(actor): Admin,
    StrictQuery(q): StrictQuery<MarginParams>,
) -> ApiResult<Json<MarginReport>> {
    Ok(Json(s.margin_report(&actor, q.range, q.query).await?))
}

async fn sales(
    State(s): Service,
    Admin(actor): Admin,
    StrictQuery(q): StrictQuery<SalesParams>,
) -> ApiResult<Json<SalesSummary>> {
    Ok(Json(s.sales_summary(&actor, q.range, q.query).await?))
}

async fn key_usage(
    State(s): Service,
    Admin(actor): Admin,
    _query: StrictQuery<NoParams>,
    Path(id): Path<String>,
) -> ApiResult<Json<KeyUsage>> {
    Ok(Json(s.key_usage(&actor, &id).await?))
}

async fn get_settings(
    State(s): Service,
    Admin(actor): Admin,
    _query: StrictQuery<NoParams>,
) -> ApiResult<Json<OperatorSettings>> {
    Ok(Json(s.operator_settings(&actor).await?))
}

async fn put_settings(
    State(s): Service,
    Admin(actor): Admin,
    AppJson(body): AppJson<OperatorSettingsInput>,
) -> ApiResult<Json<OperatorSettings>> {
    Ok(Json(s.save_operator_settings(&actor, body).await?))
}

async fn pricing(
    State(s): Service,
    Admin(actor): Admin,
    _query: StrictQuery<NoParams>,
) -> ApiResult<Json<PricingList>> {
    Ok(Json(s.pricing(&actor).await?))
}

async fn put_price(
    State(s): Service,
    Admin(actor): Admin,
    Path(model): Path<String>,
    AppJson(body): AppJson<PriceInput>,
) -> ApiResult<StatusCode> {
    s.set_price_override(&actor, &model, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_price(
    State(s): Service,
    Admin(actor): Admin,
    Path(model): Path<String>,
) -> ApiResult<StatusCode> {
    s.delete_price_override(&actor, &model).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::rest::extract::parse_query;

    fn parse_usage_query(raw: Option<&str>) -> Result<(ReportRange, SplitBy), AdminError> {
        parse_query::<UsageQuery>(raw).map(|q| (q.range, q.split))
    }

    fn parse_margin_query(raw: Option<&str>) -> Result<(ReportRange, MarginQuery), AdminError> {
        parse_query::<MarginParams>(raw).map(|q| (q.range, q.query))
    }

    #[test]
    fn report_queries_are_parsed_and_named() {
        let (range, split) = parse_usage_query(Some("from=2026-03-01&to=&splitBy=preset")).unwrap();
        assert_eq!(range.from.as_deref(), Some("2026-03-01"));
        assert_eq!(range.to, None);
        assert_eq!(split, SplitBy::Preset);
        let (_, q) = parse_margin_query(Some("costBasis=amortized&exchangeRate=7.2")).unwrap();
        assert_eq!(q.cost_basis, CostBasis::Amortized);
        assert_eq!(q.exchange_rate, Some(7.2));
        assert_eq!(q.seller, None);
        let (_, q) = parse_margin_query(Some("createdBy=u1")).unwrap();
        assert_eq!(q.seller.as_deref(), Some("u1"));
        let field = |r: Result<(), AdminError>| match r {
            Err(AdminError::Validation { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(parse_usage_query(Some("splitBy=colour")).map(|_| ())),
            "splitBy"
        );
        assert_eq!(field(parse_usage_query(Some("page=1")).map(|_| ())), "page");
        assert_eq!(
            field(parse_margin_query(Some("exchangeRate=lots")).map(|_| ())),
            "exchangeRate"
        );
        assert_eq!(
            field(parse_margin_query(Some("costBasis=x")).map(|_| ())),
            "costBasis"
        );
    }
}
