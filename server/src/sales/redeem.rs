//! Redeeming a code: onto the presenting key (its value added as a `redemption` ledger entry)
//! or, for someone without a key, as a new key built from the code's preset. Both claim the
//! code with one conditional update in the transaction that adds its value, so a code is
//! redeemed exactly once however many try at the same time; the losers are told it was
//! already redeemed. Unknown codes count against the caller's address (and key) first.

use std::net::IpAddr;

use app::error::AdminError;
use app::types::{micros_to_usd, KeyCreator, KeySettings, RedeemedNewKey, RedeemedOnKey, When};
use chrono::DateTime;

use super::code;
use super::guard::RedeemGuard;
use super::KEY_HOLDER_ACTOR;
use crate::keys::lifecycle::Renewal;
use crate::keys::presets::{self as preset_rules, PresetConfig};
use crate::keys::validate::{self, Mode};
use crate::limits::KeyDirectory;
use crate::storage::codes::CodeRow;
use crate::storage::keys::{KeyRow, NewKey};
use crate::storage::ledger::{ChangeError, LedgerRow};
use crate::storage::{now_ms, Store, StoreError};

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, thiserror::Error)]
pub enum RedeemError {
    #[error("no such redemption code")]
    Unknown,
    #[error("this code has already been redeemed")]
    AlreadyRedeemed,
    #[error("this code has been revoked")]
    Revoked,
    #[error("this code could be redeemed until {0}; it has expired")]
    Expired(String),
    #[error("too many failed redemptions, retry in {0}s")]
    Throttled(u64),
    #[error("invalid API key")]
    UnknownKey,
    #[error(transparent)]
    Admin(AdminError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<RedeemError> for AdminError {
    fn from(e: RedeemError) -> Self {
        match e {
            RedeemError::Unknown => AdminError::not_found("redemption code"),
            RedeemError::AlreadyRedeemed | RedeemError::Revoked | RedeemError::Expired(_) => {
                AdminError::conflict(e.to_string())
            }
            RedeemError::Throttled(retry_after) => AdminError::Throttled { retry_after },
            RedeemError::UnknownKey => AdminError::Unauthorized,
            RedeemError::Admin(e) => e,
            RedeemError::Store(e) => crate::storage::internal(e),
        }
    }
}

/// What a redemption works with, lent by its owner (the relay, which serves the keys whose
/// value grows): the stored codes and keys, the limits on guessing, the keys' cached limits
/// (forgotten once a key's value changed) and the time zone dates are read in.
pub struct Redemption<'a> {
    store: &'a Store,
    guard: &'a RedeemGuard,
    keys: &'a KeyDirectory,
    tz: chrono_tz::Tz,
}

fn entry(code: &CodeRow, key: &KeyRow, now: i64) -> LedgerRow {
    LedgerRow {
        id: uuid::Uuid::now_v7().to_string(),
        key_id: key.id.clone(),
        kind: "redemption".into(),
        quota_add_micros: code.quota_micros,
        days_add: code.days,
        preset_from: key.preset_id.clone(),
        preset_to: key.preset_id.clone(),
        expires_before: key.expires_at,
        expires_after: None,
        sale_price_micros: code.sale_price_micros,
        currency: code.currency.clone(),
        actor: KEY_HOLDER_ACTOR.into(),
        note: String::new(),
        code_id: Some(code.id.clone()),
        at: now,
    }
}

impl<'a> Redemption<'a> {
    pub fn new(
        store: &'a Store,
        guard: &'a RedeemGuard,
        keys: &'a KeyDirectory,
        tz: chrono_tz::Tz,
    ) -> Self {
        Redemption {
            store,
            guard,
            keys,
            tz,
        }
    }

    /// The code a caller typed, if it exists and is still redeemable; unknown codes are counted
    /// against the caller.
    async fn find_code(
        &self,
        typed: &str,
        client: IpAddr,
        key_id: Option<&str>,
        now: i64,
    ) -> Result<(String, CodeRow), RedeemError> {
        self.guard
            .check(client, key_id)
            .map_err(RedeemError::Throttled)?;
        let found = match code::hash_of(typed) {
            Some(hash) => self.store.code_by_hash(&hash).await?.map(|row| (hash, row)),
            None => None,
        };
        let Some((hash, row)) = found else {
            self.guard.failed(client, key_id);
            tracing::info!(%client, "redemption of an unknown code");
            return Err(RedeemError::Unknown);
        };
        match row.status.as_str() {
            "redeemed" => return Err(RedeemError::AlreadyRedeemed),
            "revoked" => return Err(RedeemError::Revoked),
            _ => {}
        }
        if let Some(by) = row.redeem_by.filter(|by| *by <= now) {
            // As the operator wrote it: a date stays a date.
            let when = match When::from_stored(by, row.redeem_by_on.as_deref()) {
                Some(When::At(t)) => t.with_timezone(&self.tz).to_rfc3339(),
                Some(day) => day.to_string(),
                None => String::new(),
            };
            return Err(RedeemError::Expired(when));
        }
        Ok((hash, row))
    }

    /// Redeems `typed` onto the key `presented`: its quota and validity grow by the code's value,
    /// and the relay sees the new limits on the key's next request.
    pub async fn onto_key(
        &self,
        presented: &str,
        typed: &str,
        client: IpAddr,
    ) -> Result<RedeemedOnKey, RedeemError> {
        let presented = presented.trim();
        if presented.is_empty() || presented.len() > 512 {
            return Err(RedeemError::UnknownKey);
        }
        self.guard
            .check(client, None)
            .map_err(RedeemError::Throttled)?;
        let hashes = self
            .keys
            .stored_hashes(presented)
            .await
            .map_err(|_| RedeemError::Admin(AdminError::Internal))?;
        let mut key = None;
        for hash in &hashes {
            key = self.store.api_key_by_hash(hash).await?;
            if key.is_some() {
                break;
            }
        }
        let Some(key) = key else {
            self.guard.failed(client, None);
            return Err(RedeemError::UnknownKey);
        };
        let now = now_ms();
        let (hash, code) = self.find_code(typed, client, Some(&key.id), now).await?;
        let redeemed = self
            .store
            .redeem_code_onto_key(&hash, &key.id, now, |row| {
                let renewal = Renewal {
                    quota_add_micros: code.quota_micros,
                    days_add: code.days,
                };
                let (config, expires_after) = row.renewed(row.config()?, renewal, now, self.tz);
                let mut e = entry(&code, row, now);
                e.expires_after = expires_after;
                e.expires_before = row.expiry();
                Ok::<_, StoreError>((config, e))
            })
            .await;
        let entry = match redeemed {
            Ok(Some(entry)) => entry,
            Ok(None) => return Err(RedeemError::AlreadyRedeemed),
            Err(ChangeError::Missing(_)) => return Err(RedeemError::UnknownKey),
            Err(ChangeError::Refused(e) | ChangeError::Store(e)) => return Err(e.into()),
        };
        self.keys.forget(&key.id);
        let after = self
            .store
            .api_key_by_id(&key.id)
            .await?
            .ok_or(RedeemError::UnknownKey)?;
        tracing::info!(key_id = %key.id, code_id = %code.id, ledger = %entry.id, "code redeemed onto a key");
        Ok(RedeemedOnKey {
            quota_added: micros_to_usd(code.quota_micros),
            days_added: code.days.clamp(0, i64::from(u32::MAX)) as u32,
            quota_limit: micros_to_usd(after.quota_limit_micros),
            expires_at: after.expiry().and_then(DateTime::from_timestamp_millis),
        })
    }

    /// The settings of a key bought with `code`: its preset's, with the code's quota, validity
    /// (days from now) and sale price.
    async fn new_key_settings(
        &self,
        code: &CodeRow,
        now: i64,
    ) -> Result<crate::storage::keys::KeyConfig, RedeemError> {
        let preset: PresetConfig = match self.store.key_preset(&code.preset_id).await? {
            Some(row) => serde_json::from_str(&row.config)
                .map_err(|e| StoreError::Corrupt(format!("key_presets.config: {e}")))?,
            None => PresetConfig::default(),
        };
        let explicit = KeySettings {
            quota_limit: Some(micros_to_usd(code.quota_micros)),
            expires_at: (code.days > 0)
                .then(|| DateTime::from_timestamp_millis(now + code.days * DAY_MS))
                .flatten()
                .map(app::types::When::At),
            activation_days: None,
            sale_price: Some(micros_to_usd(code.sale_price_micros)),
            currency: Some(code.currency.clone()),
            ..KeySettings::default()
        };
        let mut settings = preset_rules::apply(&code.preset_id, &preset, &explicit, now);
        if code.days <= 0 {
            settings.expires_at = None;
            settings.activation_days = None;
        }
        validate::key_settings(&settings, Mode::Create { now }, "").map_err(RedeemError::Admin)
    }

    /// Who a key bought with `code` is recorded as created by: the code's creator (so a seller
    /// sees the keys their codes sold), by the name they have now; the command line and server
    /// work by their own names.
    async fn code_creator(&self, code: &CodeRow) -> Result<KeyCreator, RedeemError> {
        let name = match self.store.admin_by_id(&code.created_by).await? {
            Some(user) => user.username,
            None => code.created_by.clone(),
        };
        Ok(KeyCreator {
            id: code.created_by.clone(),
            name,
        })
    }

    /// Redeems `typed` for a new key from the code's preset; the key is in this answer only.
    pub async fn new_key(
        &self,
        typed: &str,
        client: IpAddr,
    ) -> Result<RedeemedNewKey, RedeemError> {
        let now = now_ms();
        let (hash, code) = self.find_code(typed, client, None, now).await?;
        let config = self.new_key_settings(&code, now).await?;
        let generated = crate::keys::generate();
        let name = if code.order_number.is_empty() {
            format!("redeemed {}", code.code_hint)
        } else {
            code.order_number.clone()
        };
        let key = NewKey {
            id: uuid::Uuid::now_v7().to_string(),
            key_hash: generated.hash,
            key_prefix: generated.prefix,
            name,
            config,
        };
        let row = key.clone().into_row(now);
        let mut ledger = entry(&code, &row, now);
        // The key's own sale price is its revenue at creation; the entry records the code.
        ledger.sale_price_micros = 0;
        ledger.preset_from = None;
        ledger.expires_before = None;
        ledger.expires_after = row.expiry();
        ledger.note = "new key".into();
        let creator = self.code_creator(&code).await?;
        if !self
            .store
            .redeem_code_new_key(&hash, &key, &creator, &ledger, now)
            .await?
        {
            return Err(RedeemError::AlreadyRedeemed);
        }
        tracing::info!(key_id = %key.id, code_id = %code.id, "code redeemed for a new key");
        Ok(RedeemedNewKey {
            key: generated.plaintext,
            key_prefix: crate::keys::display_prefix(&key.key_prefix),
            quota_limit: micros_to_usd(row.quota_limit_micros),
            expires_at: row.expiry().and_then(DateTime::from_timestamp_millis),
        })
    }
}
