//! REST handlers of `/admin/reports/...`, `/admin/settings` and `/admin/pricing`: a thin skin
//! over the service. Query strings are read strictly: an unknown parameter is named in a 400.

use app::error::AdminError;
use app::port::ReportsPort;
use app::types::{
    CostBasis, KeyUsage, LiveOverview, MarginQuery, MarginReport, OperatorSettings,
    OperatorSettingsInput, PriceInput, PricingList, ReportRange, SplitBy, UsageReport,
};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::Json;

use crate::admin::error::AppJson;
use crate::admin::rest::ApiResult;
use crate::auth::Admin;
use crate::startup::AppState;

fn text(value: &str) -> Option<String> {
    Some(value.trim().to_owned()).filter(|v| !v.is_empty())
}

/// `from`, `to` and `splitBy` of a usage report.
pub fn parse_usage_query(raw: Option<&str>) -> Result<(ReportRange, SplitBy), AdminError> {
    let mut range = ReportRange::default();
    let mut split = SplitBy::default();
    for (name, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match name.as_ref() {
            "from" => range.from = text(&value),
            "to" => range.to = text(&value),
            "splitBy" => {
                split = SplitBy::parse(value.trim()).ok_or_else(|| {
                    AdminError::validation(
                        "splitBy",
                        "must be one of model, account, group, preset",
                    )
                })?
            }
            other => return Err(AdminError::validation(other, "unknown query parameter")),
        }
    }
    Ok((range, split))
}

/// `from`, `to`, `costBasis` and `exchangeRate` of a margin report.
pub fn parse_margin_query(raw: Option<&str>) -> Result<(ReportRange, MarginQuery), AdminError> {
    let mut range = ReportRange::default();
    let mut query = MarginQuery::default();
    for (name, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match name.as_ref() {
            "from" => range.from = text(&value),
            "to" => range.to = text(&value),
            "costBasis" => {
                query.cost_basis = CostBasis::parse(value.trim()).ok_or_else(|| {
                    AdminError::validation("costBasis", "must be usage or amortized")
                })?
            }
            "exchangeRate" if value.trim().is_empty() => query.exchange_rate = None,
            "exchangeRate" => {
                query.exchange_rate = Some(
                    value
                        .trim()
                        .parse()
                        .map_err(|_| AdminError::validation("exchangeRate", "must be a number"))?,
                )
            }
            other => return Err(AdminError::validation(other, "unknown query parameter")),
        }
    }
    Ok((range, query))
}

pub async fn overview(
    State(state): State<AppState>,
    _admin: Admin,
) -> ApiResult<Json<LiveOverview>> {
    Ok(Json(state.admin.overview_live().await?))
}

pub async fn usage(
    State(state): State<AppState>,
    _admin: Admin,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<UsageReport>> {
    let (range, split) = parse_usage_query(raw.as_deref())?;
    Ok(Json(state.admin.usage_report(range, split).await?))
}

pub async fn margin(
    State(state): State<AppState>,
    _admin: Admin,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<MarginReport>> {
    let (range, query) = parse_margin_query(raw.as_deref())?;
    Ok(Json(state.admin.margin_report(range, query).await?))
}

pub async fn key_usage(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<KeyUsage>> {
    Ok(Json(state.admin.key_usage(&id).await?))
}

pub async fn get_settings(
    State(state): State<AppState>,
    _admin: Admin,
) -> ApiResult<Json<OperatorSettings>> {
    Ok(Json(state.admin.operator_settings().await?))
}

pub async fn put_settings(
    State(state): State<AppState>,
    _admin: Admin,
    AppJson(body): AppJson<OperatorSettingsInput>,
) -> ApiResult<Json<OperatorSettings>> {
    Ok(Json(state.admin.save_operator_settings(body).await?))
}

pub async fn pricing(State(state): State<AppState>, _admin: Admin) -> ApiResult<Json<PricingList>> {
    Ok(Json(state.admin.pricing().await?))
}

pub async fn put_price(
    State(state): State<AppState>,
    _admin: Admin,
    Path(model): Path<String>,
    AppJson(body): AppJson<PriceInput>,
) -> ApiResult<StatusCode> {
    state.admin.set_price_override(&model, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_price(
    State(state): State<AppState>,
    _admin: Admin,
    Path(model): Path<String>,
) -> ApiResult<StatusCode> {
    state.admin.delete_price_override(&model).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_queries_are_parsed_and_named() {
        let (range, split) = parse_usage_query(Some("from=2026-03-01&to=&splitBy=preset")).unwrap();
        assert_eq!(range.from.as_deref(), Some("2026-03-01"));
        assert_eq!(range.to, None);
        assert_eq!(split, SplitBy::Preset);
        let (_, q) = parse_margin_query(Some("costBasis=amortized&exchangeRate=7.2")).unwrap();
        assert_eq!(q.cost_basis, CostBasis::Amortized);
        assert_eq!(q.exchange_rate, Some(7.2));
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
