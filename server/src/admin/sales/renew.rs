//! Renewals, top-ups and upgrades by staff: the request checked once, then every key changed
//! under its lock in one transaction (`Store::change_api_keys`), the validity arithmetic by
//! `KeyRow::renewed` (`keys::lifecycle`), the preset's limits by `keys::presets::take_limits`. Each key gets
//! one ledger entry; the relay drops the keys' cached limits right after the commit.

use app::error::AdminError;
use app::types::{usd_to_micros, LedgerKind, RenewKey, Renewed, MAX_BATCH};

use super::permit::{self, Actor};
use crate::admin::error::internal;
use crate::admin::AdminService;
use crate::keys::lifecycle::Renewal;
use crate::keys::presets as preset_rules;
use crate::keys::validate::{self, Mode};
use crate::sales::MAX_DAYS;
use crate::storage::keys::{KeyConfig, KeyRow};
use crate::storage::ledger::{ChangeError, LedgerRow};
use crate::storage::now_ms;

const MAX_NOTE_CHARS: usize = 500;

/// A renewal request, checked.
struct Plan {
    quota_add_micros: i64,
    days_add: i64,
    /// The preset moved to and the settings a new key of it would get.
    preset: Option<(String, KeyConfig)>,
    sale_price_micros: i64,
    currency: Option<String>,
    note: String,
    /// The configured time zone: an expiry written as a date ends that day there.
    tz: chrono_tz::Tz,
}

fn money(field: &str, usd: Option<f64>) -> Result<i64, AdminError> {
    match usd {
        None => Ok(0),
        Some(v) => match usd_to_micros(v) {
            Some(m) if m >= 0 => Ok(m),
            _ => Err(AdminError::validation(
                field,
                "must be a number of 0 or more",
            )),
        },
    }
}

impl Plan {
    /// The key's settings and ledger entry after this renewal at `now`.
    fn apply(
        &self,
        actor: &str,
        row: &KeyRow,
        now: i64,
    ) -> Result<(KeyConfig, LedgerRow), AdminError> {
        let mut config = row.config().map_err(internal)?;
        let moved = self
            .preset
            .as_ref()
            .filter(|(id, _)| row.preset_id.as_deref() != Some(id.as_str()));
        if let Some((_, preset)) = moved {
            preset_rules::take_limits(&mut config, preset);
        }
        let renewal = Renewal {
            quota_add_micros: self.quota_add_micros,
            days_add: self.days_add,
        };
        let (config, expires_after) = row.renewed(config, renewal, now, self.tz);
        let kind = if moved.is_some() {
            LedgerKind::Upgrade
        } else if self.days_add > 0 {
            LedgerKind::Renewal
        } else if self.quota_add_micros > 0 {
            LedgerKind::TopUp
        } else {
            LedgerKind::Adjustment
        };
        let entry = LedgerRow {
            id: uuid::Uuid::now_v7().to_string(),
            key_id: row.id.clone(),
            kind: kind.as_str().into(),
            quota_add_micros: self.quota_add_micros,
            days_add: self.days_add,
            preset_from: row.preset_id.clone(),
            preset_to: config.preset_id.clone(),
            expires_before: row.expiry(),
            expires_after,
            sale_price_micros: self.sale_price_micros,
            currency: self
                .currency
                .clone()
                .unwrap_or_else(|| config.currency.clone()),
            actor: actor.to_owned(),
            note: self.note.clone(),
            code_id: None,
            at: now,
        };
        Ok((config, entry))
    }
}

impl AdminService {
    async fn renewal_plan(&self, input: &RenewKey, now: i64) -> Result<Plan, AdminError> {
        let quota_add_micros = money("quotaAddUsd", input.quota_add_usd)?;
        let sale_price_micros = money("salePrice", input.sale_price)?;
        let days = input.days_add.unwrap_or(0);
        if days > MAX_DAYS {
            return Err(AdminError::validation(
                "daysAdd",
                format!("must be at most {MAX_DAYS}"),
            ));
        }
        let currency = match input.currency.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(c) if c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()) => {
                Some(c.to_owned())
            }
            Some(_) => {
                return Err(AdminError::validation(
                    "currency",
                    "must be a three-letter code such as USD or CNY",
                ))
            }
        };
        let note = input.note.as_deref().unwrap_or("").trim().to_owned();
        if note.chars().count() > MAX_NOTE_CHARS {
            return Err(AdminError::validation(
                "note",
                format!("must be at most {MAX_NOTE_CHARS} characters"),
            ));
        }
        let preset = match input.preset_id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(id) => {
                let stored = self.preset_config(id).await?.ok_or_else(|| {
                    AdminError::validation("presetId", format!("no preset '{id}' exists"))
                })?;
                let settings = preset_rules::apply(id, &stored, &Default::default(), now);
                let config = validate::key_settings(&settings, Mode::Create { now }, "")?;
                self.check_bindings(&config, None, "").await?;
                Some((id.to_owned(), config))
            }
        };
        if quota_add_micros == 0
            && days == 0
            && preset.is_none()
            && sale_price_micros == 0
            && note.is_empty()
        {
            return Err(AdminError::validation(
                "body",
                "nothing to change: give quotaAddUsd, daysAdd, presetId, salePrice or note",
            ));
        }
        Ok(Plan {
            quota_add_micros,
            days_add: i64::from(days),
            preset,
            sale_price_micros,
            currency,
            note,
            tz: self.config.common.timezone,
        })
    }

    /// Renews every key of `ids` as `input` says, in one transaction.
    pub(super) async fn renew_ids(
        &self,
        actor: &Actor,
        ids: &[String],
        input: &RenewKey,
    ) -> Result<Vec<Renewed>, AdminError> {
        actor.require_key_writer()?;
        if ids.is_empty() || ids.len() > MAX_BATCH {
            return Err(AdminError::validation(
                "ids",
                format!("must list between 1 and {MAX_BATCH} keys"),
            ));
        }
        let mut unique = ids.to_vec();
        unique.sort();
        unique.dedup();
        if unique.len() != ids.len() {
            return Err(AdminError::validation("ids", "lists a key twice"));
        }
        let now = now_ms();
        let plan = self.renewal_plan(input, now).await?;
        let mut names = Vec::with_capacity(ids.len());
        for id in ids {
            let row = self
                .store
                .api_key_by_id(id)
                .await
                .map_err(internal)?
                .ok_or_else(|| AdminError::not_found(format!("api key {id}")))?;
            permit::renew(actor, &row, plan.preset.as_ref().map(|(p, _)| p.as_str()))?;
            names.push(row.name);
        }
        let summary = serde_json::json!({
            "quotaAddMicros": plan.quota_add_micros,
            "daysAdd": plan.days_add,
            "presetId": plan.preset.as_ref().map(|(p, _)| p.as_str()),
            "salePriceMicros": plan.sale_price_micros,
            "note": plan.note,
        });
        let audit = match ids {
            [id] => crate::admin::audit::row(actor, "key.renew", "api_key", id, &names[0], summary),
            _ => {
                let mut summary = summary;
                summary["ids"] = serde_json::json!(ids);
                crate::admin::audit::row(
                    actor,
                    "key.renew_batch",
                    "api_key",
                    &ids.join(","),
                    &format!("{} keys", ids.len()),
                    summary,
                )
            }
        };
        let entries = self
            .store
            .change_api_keys(ids, now, Some(&audit), |row| {
                plan.apply(&actor.id, row, now)
            })
            .await
            .map_err(|e| match e {
                ChangeError::Missing(id) => AdminError::not_found(format!("api key {id}")),
                ChangeError::Refused(e) => e,
                ChangeError::Store(e) => internal(e),
            })?;
        let mut renewed = Vec::with_capacity(entries.len());
        for entry in entries {
            self.key_changed(&entry.key_id);
            let row = self
                .store
                .api_key_by_id(&entry.key_id)
                .await
                .map_err(internal)?
                .ok_or(AdminError::Internal)?;
            let mut entry = crate::sales::ledger_entry(&entry);
            entry.actor_name = actor.name.clone();
            renewed.push(Renewed {
                key: self.api_key(&row, now_ms())?,
                entry,
            });
        }
        tracing::info!(count = renewed.len(), actor = %actor.id, "api keys renewed");
        Ok(renewed)
    }
}
