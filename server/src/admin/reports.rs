//! Reports, operator settings and prices: the dashboard's overview, usage and margin pages,
//! the pricing and currency settings, and key usage (the admin's per-key panel and the key
//! holder's own page). Reports read the rollups only; the arithmetic lives in `usage` and
//! `margin`, day handling in `days`.

pub mod days;
mod live;
pub mod margin;
mod sales;
pub mod usage;

use std::collections::HashMap;

use app::error::AdminError;
use app::port::{Actor, ReportsPort};
use app::types::{
    usd_to_micros, KeyHolderUsage, KeyUsage, LiveOverview, MarginQuery, MarginReport,
    OperatorSettings, OperatorSettingsInput, PriceInput, PricingList, ReportRange, SalesQuery,
    SalesSummary, SplitBy, UsageReport,
};
use async_trait::async_trait;

use super::error::internal;
use super::AdminService;
use crate::keys::holder::{self, HolderError};
use crate::pricing::ModelPrice;
use crate::storage::now_ms;
use days::Days;
use margin::MarginInputs;

const CURRENCY_SETTING: &str = "currency";
const RATE_SETTING: &str = "usd_exchange_rate";
/// Models listed as billed at the fallback price, at most.
const FALLBACK_MODELS_SHOWN: i64 = 100;
/// The largest price accepted, USD per million tokens.
const MAX_PRICE_USD: f64 = 1_000_000.0;
/// The largest exchange rate accepted (units of the operator's currency per USD).
const MAX_RATE: f64 = 1_000_000.0;

fn check_currency(code: &str) -> Result<String, AdminError> {
    let code = code.trim().to_ascii_uppercase();
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(AdminError::validation(
            "currency",
            "must be a 3-letter currency code such as CNY",
        ));
    }
    Ok(code)
}

/// The rate in parts per million; always 1 for USD.
fn check_rate(field: &str, currency: &str, rate: f64) -> Result<i64, AdminError> {
    if currency == "USD" {
        return Ok(1_000_000);
    }
    if !rate.is_finite() || rate <= 0.0 || rate > MAX_RATE {
        return Err(AdminError::validation(
            field,
            "must be a positive number of units per USD",
        ));
    }
    Ok((rate * 1_000_000.0).round().max(1.0) as i64)
}

fn check_model(model: &str) -> Result<String, AdminError> {
    let model = model.trim();
    if model.is_empty()
        || model.chars().count() > 200
        || model.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(AdminError::validation(
            "model",
            "must be 1 to 200 characters without spaces",
        ));
    }
    Ok(model.to_owned())
}

fn price_micros(field: &str, usd: f64) -> Result<i64, AdminError> {
    match usd_to_micros(usd) {
        Some(m) if m >= 0 && usd <= MAX_PRICE_USD => Ok(m),
        _ => Err(AdminError::validation(
            field,
            "must be a price of at least 0 USD per million tokens",
        )),
    }
}

fn holder_error(e: HolderError) -> AdminError {
    match e {
        HolderError::Missing | HolderError::Unknown => AdminError::not_found("key"),
        HolderError::Store(e) => internal(e),
        HolderError::Unavailable => AdminError::Internal,
    }
}

impl AdminService {
    fn tz(&self) -> chrono_tz::Tz {
        self.config.common.timezone
    }

    async fn stored_settings(&self) -> Result<(String, f64), AdminError> {
        let currency = self
            .store
            .setting(CURRENCY_SETTING)
            .await
            .map_err(internal)?;
        let rate = self.store.setting(RATE_SETTING).await.map_err(internal)?;
        let currency = currency
            .and_then(|v| serde_json::from_str::<String>(&v).ok())
            .and_then(|c| check_currency(&c).ok())
            .unwrap_or_else(|| "USD".to_owned());
        let rate = rate
            .and_then(|v| serde_json::from_str::<f64>(&v).ok())
            .filter(|r| r.is_finite() && *r > 0.0)
            .unwrap_or(1.0);
        Ok((currency.clone(), if currency == "USD" { 1.0 } else { rate }))
    }

    /// Names of accounts, groups and presets by id, for report labels.
    async fn names(&self, split: SplitBy) -> Result<HashMap<String, String>, AdminError> {
        Ok(match split {
            SplitBy::Model => HashMap::new(),
            SplitBy::Account => self
                .store
                .account_costs()
                .await
                .map_err(internal)?
                .into_iter()
                .map(|a| (a.id, a.name))
                .collect(),
            SplitBy::Group => self
                .store
                .list_groups()
                .await
                .map_err(internal)?
                .into_iter()
                .map(|g| (g.id, g.name))
                .collect(),
            SplitBy::Preset => self
                .store
                .list_key_presets()
                .await
                .map_err(internal)?
                .into_iter()
                .map(|p| (p.id, p.name))
                .collect(),
        })
    }
}

/// A split value's label: its name, or itself (a model, or an id nobody knows any more).
fn labeller(names: &HashMap<String, String>) -> impl Fn(&str) -> String + '_ {
    move |k: &str| names.get(k).cloned().unwrap_or_else(|| k.to_owned())
}

#[async_trait]
impl ReportsPort for AdminService {
    async fn overview_live(&self, actor: &Actor) -> Result<LiveOverview, AdminError> {
        actor.require_reader()?;
        self.live_overview().await
    }

    async fn usage_report(
        &self,
        actor: &Actor,
        range: ReportRange,
        split_by: SplitBy,
    ) -> Result<UsageReport, AdminError> {
        actor.require_reader()?;
        let days = Days::resolve(&range, self.tz(), now_ms())?;
        let rows = self
            .store
            .daily_usage(&days::format(days.from), &days::format(days.to), split_by)
            .await
            .map_err(internal)?;
        let names = self.names(split_by).await?;
        Ok(usage::build(&days, split_by, &rows, labeller(&names)))
    }

    async fn margin_report(
        &self,
        actor: &Actor,
        range: ReportRange,
        query: MarginQuery,
    ) -> Result<MarginReport, AdminError> {
        actor.require_reader()?;
        let tz = self.tz();
        let days = Days::resolve(&range, tz, now_ms())?;
        let (currency, stored_rate) = self.stored_settings().await?;
        let rate_ppm = check_rate(
            "exchangeRate",
            &currency,
            query.exchange_rate.unwrap_or(stored_rate),
        )?;
        let (from, to) = (days::format(days.from), days::format(days.to));
        let (start, end) = days.bounds_ms(tz);
        // Independent reads, run side by side: the preset split dominates, the rest hides
        // behind it (each takes its own pool connection).
        let seller = sales::seller_filter(query.seller.as_deref(), query.cost_basis)?;
        let (mut sales, usage_by_preset, usage_by_group, accounts, memberships) = tokio::try_join!(
            self.store.key_sales(start, end),
            self.usage_split(&from, &to, seller, SplitBy::Preset),
            self.usage_split(&from, &to, seller, SplitBy::Group),
            self.store.account_costs(),
            self.store.group_memberships(),
        )
        .map_err(internal)?;
        if let Some(seller) = seller {
            sales.retain(|s| s.seller_id == seller);
        }
        let presets = self.names(SplitBy::Preset).await?;
        let groups = self.names(SplitBy::Group).await?;
        let input = MarginInputs {
            days: &days,
            tz,
            basis: query.cost_basis,
            currency: &currency,
            rate_ppm,
            sales: &sales,
            usage_by_preset: &usage_by_preset,
            usage_by_group: &usage_by_group,
            accounts: &accounts,
            memberships: &memberships,
        };
        Ok(margin::build(&input, labeller(&presets), labeller(&groups)))
    }

    async fn sales_summary(
        &self,
        actor: &Actor,
        range: ReportRange,
        query: SalesQuery,
    ) -> Result<SalesSummary, AdminError> {
        self.seller_sales(actor, range, query).await
    }

    async fn operator_settings(&self, actor: &Actor) -> Result<OperatorSettings, AdminError> {
        // The currency and time zone the dashboard shows amounts and days in: every role.
        let _ = actor;
        let (currency, usd_exchange_rate) = self.stored_settings().await?;
        Ok(OperatorSettings {
            currency,
            usd_exchange_rate,
            timezone: self.tz().name().to_owned(),
        })
    }

    async fn save_operator_settings(
        &self,
        actor: &Actor,
        input: OperatorSettingsInput,
    ) -> Result<OperatorSettings, AdminError> {
        actor.require_admin()?;
        let currency = check_currency(&input.currency)?;
        let rate_ppm = check_rate("usdExchangeRate", &currency, input.usd_exchange_rate)?;
        let rate = rate_ppm as f64 / 1_000_000.0;
        let values = [
            (
                CURRENCY_SETTING,
                serde_json::Value::from(currency.as_str()).to_string(),
            ),
            (RATE_SETTING, serde_json::Value::from(rate).to_string()),
        ];
        let before = self.operator_settings(actor).await?;
        let after = OperatorSettings {
            currency: currency.clone(),
            usd_exchange_rate: rate,
            timezone: before.timezone.clone(),
        };
        let event = super::audit::row(
            actor,
            "settings.update",
            "settings",
            "operator",
            "currency",
            super::audit::diff(&super::audit::json(&before), &super::audit::json(&after)),
        );
        self.store
            .put_settings(&values, Some(&event))
            .await
            .map_err(internal)?;
        tracing::info!(%currency, rate, "operator settings changed");
        self.operator_settings(actor).await
    }

    async fn pricing(&self, actor: &Actor) -> Result<PricingList, AdminError> {
        actor.require_reader()?;
        let pricing = self.relay.pricing();
        let guessed = self
            .store
            .fallback_priced_models(FALLBACK_MODELS_SHOWN)
            .await
            .map_err(internal)?;
        Ok(crate::pricing::view::pricing_list(&pricing, guessed))
    }

    async fn set_price_override(
        &self,
        actor: &Actor,
        model: &str,
        price: PriceInput,
    ) -> Result<(), AdminError> {
        actor.require_admin()?;
        let model = check_model(model)?;
        let price = ModelPrice::flat(
            price_micros("input", price.input)?,
            price_micros("output", price.output)?,
            price_micros("cacheWrite5m", price.cache_write_5m)?,
            price_micros("cacheWrite1h", price.cache_write_1h)?,
            price_micros("cacheRead", price.cache_read)?,
        );
        let event = super::audit::row(
            actor,
            "pricing.set",
            "pricing",
            &model,
            &model,
            super::audit::json(&price),
        );
        self.store
            .upsert_price_override(&model, &price, Some(&event))
            .await
            .map_err(internal)?;
        self.reload_prices().await?;
        tracing::info!(%model, "price override set");
        Ok(())
    }

    async fn delete_price_override(&self, actor: &Actor, model: &str) -> Result<(), AdminError> {
        actor.require_admin()?;
        if !self
            .store
            .delete_price_override(
                model.trim(),
                Some(&super::audit::row(
                    actor,
                    "pricing.delete",
                    "pricing",
                    model.trim(),
                    model.trim(),
                    serde_json::json!({}),
                )),
            )
            .await
            .map_err(internal)?
        {
            return Err(AdminError::not_found("price override"));
        }
        self.reload_prices().await?;
        tracing::info!(model = %model.trim(), "price override removed");
        Ok(())
    }

    async fn key_usage(&self, actor: &Actor, key_id: &str) -> Result<KeyUsage, AdminError> {
        // Sellers: only their own keys; another seller's key is "not found", like a missing one.
        let row = self.store.api_key_by_id(key_id).await.map_err(internal)?;
        if !row.is_some_and(|r| actor.can_see_key(r.created_by_id.as_deref())) {
            return Err(AdminError::not_found("key"));
        }
        holder::recent_usage(&self.store, self.tz(), key_id, now_ms())
            .await
            .map_err(internal)
    }

    async fn key_holder_usage(&self, presented_key: &str) -> Result<KeyHolderUsage, AdminError> {
        let hashes = self
            .relay
            .key_hashes(presented_key.trim())
            .await
            .map_err(|_| holder_error(HolderError::Unavailable))?;
        holder::key_holder_usage(&self.store, self.tz(), presented_key, &hashes, |id| {
            self.live_usage(id)
        })
        .await
        .map_err(holder_error)
    }

    fn display_utc_offset_secs(&self) -> i32 {
        days::utc_offset_secs(self.tz())
    }
}

impl AdminService {
    async fn reload_prices(&self) -> Result<(), AdminError> {
        self.relay.pricing_changed().await.map_err(|e| {
            tracing::error!(error = %format!("{e:#}"), "reloading prices failed");
            AdminError::Internal
        })
    }
}
