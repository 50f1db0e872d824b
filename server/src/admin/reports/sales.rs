//! A seller's own sales (`GET /admin/reports/sales`) and the margin report's seller filter.
//! Revenue is counted as the margin report counts it (sale prices of keys on their creation
//! day, and of ledger entries on theirs); usage is their keys' requests, tokens and spend.
//! Sellers see only their own figures and never upstream cost or margin.

use std::collections::BTreeMap;

use app::error::AdminError;
use app::port::Actor;
use app::types::{
    micros_to_usd, CostBasis, ReportRange, SalesDay, SalesQuery, SalesSummary, SellerRef, SplitBy,
};

use super::days::{self, day_of, Days};
use super::margin::convert;
use super::{check_rate, AdminService};
use crate::admin::error::internal;
use crate::storage::now_ms;
use crate::storage::reports::{DailyUsageRow, SALES_SLOT_MS};
use crate::storage::StoreResult;

/// The margin report's `seller` filter: a non-blank user id, with the usage cost basis only
/// (accounts' monthly cost is not attributed to sellers).
pub(super) fn seller_filter(
    seller: Option<&str>,
    basis: CostBasis,
) -> Result<Option<&str>, AdminError> {
    let seller = seller.map(str::trim).filter(|s| !s.is_empty());
    if seller.is_some() && basis == CostBasis::Amortized {
        return Err(AdminError::validation(
            "costBasis",
            "amortized cost is not attributed to sellers; use costBasis=usage with seller",
        ));
    }
    Ok(seller)
}

/// A sale's revenue in micro-units of `currency`; `None` for a currency neither it nor USD.
fn revenue(currency: &str, sale_currency: &str, micros: i64, rate_ppm: i64) -> Option<i64> {
    if sale_currency == currency {
        Some(micros)
    } else if sale_currency == "USD" {
        Some(convert(micros, rate_ppm))
    } else {
        None
    }
}

impl AdminService {
    /// Daily usage split by preset or group: of every key, or of `seller`'s keys.
    pub(super) async fn usage_split(
        &self,
        from: &str,
        to: &str,
        seller: Option<&str>,
        split: SplitBy,
    ) -> StoreResult<Vec<DailyUsageRow>> {
        match seller {
            None => self.store.daily_usage(from, to, split).await,
            Some(id) => self.store.seller_daily_usage(from, to, id, split).await,
        }
    }

    /// Whose sales `actor` asked for: sellers their own (another id is refused), admins and
    /// viewers any seller's, or everyone's.
    fn sales_scope(actor: &Actor, query: &SalesQuery) -> Result<Option<String>, AdminError> {
        let asked = query
            .seller
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        if actor.is_seller() {
            return match asked {
                Some(id) if id != actor.id => {
                    Err(AdminError::forbidden("sellers see only their own sales"))
                }
                _ => Ok(Some(actor.id.clone())),
            };
        }
        Ok(asked.map(str::to_owned))
    }

    pub(super) async fn seller_sales(
        &self,
        actor: &Actor,
        range: ReportRange,
        query: SalesQuery,
    ) -> Result<SalesSummary, AdminError> {
        let seller = Self::sales_scope(actor, &query)?;
        let tz = self.tz();
        let days = Days::resolve(&range, tz, now_ms())?;
        let (currency, stored_rate) = self.stored_settings().await?;
        let rate_ppm = check_rate("exchangeRate", &currency, stored_rate)?;
        let (from, to) = (days::format(days.from), days::format(days.to));
        let (start, end) = days.bounds_ms(tz);
        let (sales, usage, live) = tokio::try_join!(
            self.store.key_sales(start, end),
            self.store.sales_daily_usage(&from, &to, seller.as_deref()),
            self.store.live_keys_of(seller.as_deref()),
        )
        .map_err(internal)?;

        let mut out: Vec<SalesDay> = days
            .labels()
            .into_iter()
            .map(|day| SalesDay {
                day,
                ..Default::default()
            })
            .collect();
        let mut earned = vec![0i64; out.len()];
        let mut spent = vec![0i64; out.len()];
        let mut unconverted = 0i64;
        let mut sellers: BTreeMap<String, String> = BTreeMap::new();
        for s in &sales {
            if !s.seller_id.is_empty() {
                let name = sellers.entry(s.seller_id.clone()).or_default();
                if name.is_empty() {
                    name.clone_from(&s.seller_name);
                }
            }
            if seller.as_deref().is_some_and(|id| id != s.seller_id) {
                continue;
            }
            let Some(i) = days.index(day_of(s.slot * SALES_SLOT_MS, tz)) else {
                continue;
            };
            out[i].keys_sold += s.keys.max(0) as u64;
            match revenue(&currency, &s.currency, s.sale_micros, rate_ppm) {
                Some(r) => earned[i] += r,
                None => unconverted += s.keys,
            }
        }
        for r in &usage {
            if let Some(i) = days.index_of(&r.day) {
                out[i].requests += r.requests.max(0) as u64;
                out[i].tokens += r.tokens().max(0) as u64;
                spent[i] += r.cost_micros;
            }
        }
        let mut totals = SalesDay::default();
        for (i, day) in out.iter_mut().enumerate() {
            day.revenue = micros_to_usd(earned[i]);
            day.spent = micros_to_usd(spent[i]);
            totals.keys_sold += day.keys_sold;
            totals.requests += day.requests;
            totals.tokens += day.tokens;
        }
        totals.revenue = micros_to_usd(earned.iter().sum());
        totals.spent = micros_to_usd(spent.iter().sum());

        let seller = match seller {
            None => None,
            Some(id) => Some(SellerRef {
                name: self.seller_name(actor, &id, &sellers).await?,
                id,
            }),
        };
        Ok(SalesSummary {
            from,
            to,
            seller,
            currency,
            days: out,
            totals,
            live_keys: live.max(0) as u64,
            unconverted_keys: unconverted.max(0) as u64,
            sellers: if actor.is_seller() {
                Vec::new()
            } else {
                sellers
                    .into_iter()
                    .map(|(id, name)| SellerRef { id, name })
                    .collect()
            },
        })
    }

    /// The seller's name: their own, as recorded on their sales, their current username, or
    /// the id of a user who is gone.
    async fn seller_name(
        &self,
        actor: &Actor,
        id: &str,
        recorded: &BTreeMap<String, String>,
    ) -> Result<String, AdminError> {
        if id == actor.id {
            return Ok(actor.name.clone());
        }
        if let Some(name) = recorded.get(id).filter(|n| !n.is_empty()) {
            return Ok(name.clone());
        }
        let row = self.store.admin_by_id(id).await.map_err(internal)?;
        Ok(row.map(|r| r.username).unwrap_or_else(|| id.to_owned()))
    }
}
