//! Creating, listing and revoking redemption codes. A code is worth its preset's quota and
//! validity days unless the batch says otherwise; the plaintext codes leave once, in the
//! answer of their creation.

use app::error::AdminError;
use app::types::{
    micros_to_usd, usd_to_micros, CodePage, CodeQuery, CodeStatus, CreateCodes, CreatedCode,
    CreatedCodes, RedemptionCode, When, MAX_BATCH,
};

use super::permit::{self, Actor};
use crate::admin::error::internal;
use crate::admin::keys::view::time;
use crate::admin::AdminService;
use crate::sales::{code, MAX_DAYS};
use crate::storage::codes::{CodeFilter, CodeRow, NewCode};
use crate::storage::now_ms;

const MAX_ORDER_CHARS: usize = 200;
const DEFAULT_PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 1000;

/// A stored code as listed; `expired` is derived from `redeem_by` at `now`.
pub(super) fn view(row: &CodeRow, now: i64) -> RedemptionCode {
    let status = match row.status.as_str() {
        "redeemed" => CodeStatus::Redeemed,
        "revoked" => CodeStatus::Revoked,
        _ if row.redeem_by.is_some_and(|by| by <= now) => CodeStatus::Expired,
        _ => CodeStatus::Unused,
    };
    RedemptionCode {
        id: row.id.clone(),
        code_hint: format!("{}-…", row.code_hint),
        batch_id: row.batch_id.clone(),
        preset_id: row.preset_id.clone(),
        quota: micros_to_usd(row.quota_micros),
        days: row.days.clamp(0, i64::from(u32::MAX)) as u32,
        sale_price: micros_to_usd(row.sale_price_micros),
        currency: row.currency.clone(),
        order_number: row.order_number.clone(),
        redeem_by: row
            .redeem_by
            .and_then(|at| When::from_stored(at, row.redeem_by_on.as_deref())),
        status,
        redeemed_key_id: row.redeemed_key_id.clone(),
        redeemed_at: row.redeemed_at.map(time),
        revoked_at: row.revoked_at.map(time),
        created_at: time(row.created_at),
    }
}

fn amount(field: &str, usd: f64) -> Result<i64, AdminError> {
    usd_to_micros(usd)
        .filter(|m| *m >= 0)
        .ok_or_else(|| AdminError::validation(field, "must be a number of 0 or more"))
}

impl AdminService {
    pub(super) async fn make_codes(
        &self,
        actor: &Actor,
        input: CreateCodes,
    ) -> Result<CreatedCodes, AdminError> {
        let now = now_ms();
        let preset_id = input.preset_id.trim().to_owned();
        permit::create_codes(actor, &preset_id)?;
        let preset = self.preset_config(&preset_id).await?.ok_or_else(|| {
            AdminError::validation("presetId", format!("no preset '{preset_id}' exists"))
        })?;
        let orders: Vec<String> = match &input.order_numbers {
            Some(list) => {
                let mut out = Vec::with_capacity(list.len());
                for (i, o) in list.iter().enumerate() {
                    let o = o.trim();
                    if o.is_empty() || o.chars().count() > MAX_ORDER_CHARS {
                        return Err(AdminError::validation(
                            format!("orderNumbers[{i}]"),
                            format!("must be 1 to {MAX_ORDER_CHARS} characters"),
                        ));
                    }
                    out.push(o.to_owned());
                }
                out
            }
            None => Vec::new(),
        };
        let count = match (input.count, orders.len()) {
            (Some(c), n) if n > 0 && c as usize != n => {
                return Err(AdminError::validation(
                    "count",
                    "must equal the number of orderNumbers (or be left out)",
                ))
            }
            (_, n) if n > 0 => n,
            (Some(c), _) => c as usize,
            (None, _) => return Err(AdminError::validation("count", "is required")),
        };
        if count == 0 || count > MAX_BATCH {
            return Err(AdminError::validation(
                "count",
                format!("must be between 1 and {MAX_BATCH}"),
            ));
        }
        let s = &preset.settings;
        let quota_micros = amount("quotaUsd", input.quota_usd.or(s.quota_limit).unwrap_or(0.0))?;
        let days = input
            .days
            .or(preset.validity_days)
            .or(s.activation_days)
            .unwrap_or(0);
        if days > MAX_DAYS {
            return Err(AdminError::validation(
                "days",
                format!("must be at most {MAX_DAYS}"),
            ));
        }
        let sale_price_micros = amount(
            "salePrice",
            input.sale_price.or(s.sale_price).unwrap_or(0.0),
        )?;
        let currency = input
            .currency
            .clone()
            .or(s.currency.clone())
            .unwrap_or_else(|| "USD".into());
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(AdminError::validation(
                "currency",
                "must be a three-letter code such as USD or CNY",
            ));
        }
        let redeem_by = match input.redeem_by {
            Some(when) => {
                let at = when
                    .instant(&self.config.common.timezone)
                    .timestamp_millis();
                if at <= now {
                    return Err(AdminError::validation("redeemBy", "must be in the future"));
                }
                Some(at)
            }
            None => None,
        };
        // A date is shown back as written, like a key's expiry.
        let redeem_by_on = input
            .redeem_by
            .and_then(When::day)
            .map(|d| d.format("%Y-%m-%d").to_string());
        let batch_id = uuid::Uuid::now_v7().to_string();
        let mut rows = Vec::with_capacity(count);
        let mut plaintexts = Vec::with_capacity(count);
        for i in 0..count {
            let generated = code::generate();
            rows.push(NewCode {
                row: CodeRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    code_hint: generated.hint.clone(),
                    batch_id: batch_id.clone(),
                    preset_id: preset_id.clone(),
                    quota_micros,
                    days: i64::from(days),
                    sale_price_micros,
                    currency: currency.clone(),
                    order_number: orders.get(i).cloned().unwrap_or_default(),
                    redeem_by,
                    redeem_by_on: redeem_by_on.clone(),
                    status: "unused".into(),
                    redeemed_key_id: None,
                    redeemed_at: None,
                    revoked_at: None,
                    created_by: actor.id.to_owned(),
                    created_at: now,
                },
                code_hash: generated.hash.clone(),
            });
            plaintexts.push(generated.plaintext);
        }
        let audit = crate::admin::audit::row(
            actor,
            "code.create",
            "code_batch",
            &batch_id,
            &preset_id,
            serde_json::json!({
                "count": rows.len(),
                "presetId": preset_id,
                "quotaMicros": quota_micros,
                "days": days,
                "salePriceMicros": sale_price_micros,
                "currency": currency,
            }),
        );
        self.store
            .insert_codes(&rows, Some(&audit))
            .await
            .map_err(internal)?;
        tracing::info!(count, batch = %batch_id, actor = %actor.id, "redemption codes created");
        Ok(CreatedCodes {
            batch_id,
            codes: rows
                .iter()
                .zip(plaintexts)
                .map(|(r, code)| CreatedCode {
                    record: view(&r.row, now),
                    code,
                })
                .collect(),
        })
    }

    pub(super) async fn codes_page(
        &self,
        actor: &Actor,
        query: CodeQuery,
    ) -> Result<CodePage, AdminError> {
        let scope = permit::list_codes_scope(actor)?;
        let page = query.page.unwrap_or(1);
        if page == 0 {
            return Err(AdminError::validation("page", "must be 1 or more"));
        }
        let page_size = query.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
            return Err(AdminError::validation(
                "pageSize",
                format!("must be between 1 and {MAX_PAGE_SIZE}"),
            ));
        }
        let filter = CodeFilter {
            status: query.status.map(CodeStatus::as_str),
            preset_id: query.preset_id.filter(|p| !p.trim().is_empty()),
            batch_id: query.batch_id.filter(|b| !b.trim().is_empty()),
            created_by: scope,
        };
        let now = now_ms();
        let (rows, total) = self
            .store
            .list_codes(
                &filter,
                now,
                i64::from(page_size),
                i64::from(page - 1) * i64::from(page_size),
            )
            .await
            .map_err(internal)?;
        Ok(CodePage {
            items: rows.iter().map(|r| view(r, now)).collect(),
            total: total.max(0) as u64,
            page,
            page_size,
        })
    }

    pub(super) async fn revoke(&self, actor: &Actor, id: &str) -> Result<(), AdminError> {
        actor.require_key_writer()?;
        let row = self
            .store
            .code_by_id(id)
            .await
            .map_err(internal)?
            .ok_or_else(|| AdminError::not_found("redemption code"))?;
        permit::revoke_code(actor, &row)?;
        if !self
            .store
            .revoke_code(
                id,
                now_ms(),
                Some(&crate::admin::audit::row(
                    actor,
                    "code.revoke",
                    "code",
                    id,
                    &row.code_hint,
                    serde_json::json!({"batchId": row.batch_id, "presetId": row.preset_id}),
                )),
            )
            .await
            .map_err(internal)?
        {
            return Err(AdminError::conflict(format!(
                "this code is {} and cannot be revoked",
                view(&row, now_ms()).status.as_str()
            )));
        }
        tracing::info!(code_id = %id, actor = %actor.id, "redemption code revoked");
        Ok(())
    }
}
