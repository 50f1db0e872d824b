//! Keys, their spend and their usage history.

use super::*;

impl Planner<'_> {
    pub(super) async fn keys(&mut self, salt: &str) -> Result<(), ImportError> {
        let queue = QueueConfig::from_relay_config(&self.data.relay_config);
        if queue.enabled {
            self.report.notes.push(note(
                "queue",
                if queue.multiplier > 0.0 {
                    format!(
                        "CRS's global concurrency queue is on: every key with a concurrency limit gets its own queue of max({}, limit × {}) places (at most 1000), waiting up to {} ms",
                        queue.max_size, queue.multiplier, queue.timeout_ms
                    )
                } else {
                    format!(
                        "CRS's global concurrency queue is on: every key with a concurrency limit gets its own queue of {} places, waiting up to {} ms",
                        queue.max_size, queue.timeout_ms
                    )
                },
            ));
        }
        let imported_daily = self.store.imported_daily_usage(SOURCE).await?;
        let mut need_salt = false;
        for k in &self.data.keys {
            let name = field(&k.fields, "name");
            let mut it = item(ImportKind::Keys, &k.id, "api-key", name);
            let (target, notes) = match key_map::map_key(k, &self.targets, &queue) {
                key_map::Mapped::Skip(notes) => {
                    it.notes = notes;
                    self.push(it);
                    continue;
                }
                key_map::Mapped::Import(t, notes) => (t, notes),
            };
            it.notes = notes;
            let existing = self.mapped("key", &k.id).cloned();
            let (local_id, outcome) = match &existing {
                Some(e) => {
                    if self.store.key_presence(&e.local_id).await? != KeyPresence::Live {
                        it.notes.insert(0, deleted_here());
                        self.push(it);
                        continue;
                    }
                    (e.local_id.clone(), self.update_key(&target, e).await?)
                }
                None => {
                    let id = new_id();
                    self.insert_key(&target, &id, &k.id);
                    (id, ImportOutcome::Imported)
                }
            };
            need_salt = true;
            let usage_changed = self.usage(k, &local_id, &imported_daily).await?;
            it.outcome = if outcome == ImportOutcome::Unchanged && usage_changed {
                ImportOutcome::Updated
            } else {
                outcome
            };
            it.local_id = Some(local_id);
            self.push(it);
        }
        if need_salt {
            let id = secrets::salt_id(salt);
            let stored = self.store.legacy_key_salts(secrets::SALT_SCHEME).await?;
            if !stored.iter().any(|s| s.id == id) {
                self.writes.salt = Some(LegacySalt {
                    salt_enc: self.cipher.encrypt(Binding::legacy_key_salt(&id), salt),
                    id,
                    scheme: secrets::SALT_SCHEME.into(),
                });
            }
        }
        Ok(())
    }

    fn config(t: &KeyTarget, kept: Option<&KeyConfig>) -> KeyConfig {
        KeyConfig {
            description: t.description.clone(),
            tags: t.tags.clone(),
            is_active: t.is_active,
            quota_limit_micros: t.quota_limit_micros,
            expires_at: t.expires_at,
            expires_on: None,
            activation_days: t.activation_days,
            concurrency_limit: t.concurrency_limit,
            queue_enabled: t.queue_enabled,
            queue_max_size: t.queue_max_size,
            queue_timeout_ms: t.queue_timeout_ms,
            rate_limit_window_min: t.rate_limit_window_min,
            rate_limit_requests: t.rate_limit_requests,
            rate_limit_cost_micros: t.rate_limit_cost_micros,
            daily_cost_limit_micros: t.daily_cost_limit_micros,
            // Tollgate-only settings survive an update.
            allowed_models: kept.map(|c| c.allowed_models.clone()).unwrap_or_default(),
            permissions: t.permissions.clone(),
            claude_account_id: t.claude_account_id.clone(),
            openai_account_id: t.openai_account_id.clone(),
            gemini_account_id: t.gemini_account_id.clone(),
            allow_pool_fallback: kept.is_some_and(|c| c.allow_pool_fallback),
            sale_price_micros: kept.map(|c| c.sale_price_micros).unwrap_or(0),
            currency: kept
                .map(|c| c.currency.clone())
                .unwrap_or_else(|| "USD".into()),
            preset_id: kept.and_then(|c| c.preset_id.clone()),
            strict_max_tokens: kept.is_some_and(|c| c.strict_max_tokens),
            // CRS keys could use every tool; imported keys keep that.
            allow_server_tools: kept.is_none_or(|c| c.allow_server_tools),
            // CRS's client restriction; the other restrictions are Tollgate's own and survive.
            restrictions: crate::keys::restrictions::Restrictions {
                allowed_clients: t.allowed_clients.clone(),
                ..kept.map(|c| c.restrictions.clone()).unwrap_or_default()
            },
        }
    }

    fn imported_key(
        &self,
        t: &KeyTarget,
        id: &str,
        kept: Option<&KeyConfig>,
        created: Option<i64>,
    ) -> ImportedKey {
        ImportedKey {
            key: NewKey {
                id: id.to_owned(),
                key_hash: t.key_hash.clone(),
                key_prefix: secrets::CRS_KEY_PREFIX.into(),
                name: t.name.clone(),
                config: Self::config(t, kept),
            },
            activated_at: t.activated_at,
            created_at: created.or(t.created_at).unwrap_or(self.now),
        }
    }

    fn insert_key(&mut self, t: &KeyTarget, id: &str, crs_id: &str) {
        let key = self.imported_key(t, id, None, None);
        self.writes.new_keys.push(key);
        self.writes.spend.push(KeySpend {
            key_id: id.to_owned(),
            spent_delta: t.spent_micros,
            requests_delta: t.requests,
            last_used_at: t.last_used_at,
        });
        self.writes.map.push(MapEntry {
            kind: "key".into(),
            foreign_id: crs_id.to_owned(),
            local_id: id.to_owned(),
            digest: t.digest(),
            spent_micros: t.spent_micros,
            requests: t.requests,
            is_new: true,
        });
    }

    async fn update_key(
        &mut self,
        t: &KeyTarget,
        e: &MapEntry,
    ) -> Result<ImportOutcome, ImportError> {
        let digest = t.digest();
        let (spent_delta, requests_delta) =
            (t.spent_micros - e.spent_micros, t.requests - e.requests);
        if digest == e.digest && spent_delta == 0 && requests_delta == 0 {
            return Ok(ImportOutcome::Unchanged);
        }
        if digest != e.digest {
            let Some(row) = self.store.api_key_by_id(&e.local_id).await? else {
                return Ok(ImportOutcome::Unchanged);
            };
            let kept = row.config()?;
            let mut key = self.imported_key(t, &e.local_id, Some(&kept), Some(row.created_at));
            // A key Tollgate activated since keeps its start.
            key.activated_at = row.activated_at.or(key.activated_at);
            self.writes.updated_keys.push(key);
        }
        if spent_delta != 0 || requests_delta != 0 {
            self.writes.spend.push(KeySpend {
                key_id: e.local_id.clone(),
                spent_delta,
                requests_delta,
                last_used_at: t.last_used_at,
            });
        }
        self.writes.map.push(MapEntry {
            kind: "key".into(),
            foreign_id: e.foreign_id.clone(),
            local_id: e.local_id.clone(),
            digest,
            spent_micros: t.spent_micros,
            requests: t.requests,
            is_new: false,
        });
        Ok(ImportOutcome::Updated)
    }

    /// Daily totals and request records of one key; true when any changed.
    async fn usage(
        &mut self,
        k: &CrsKey,
        local_id: &str,
        imported: &HashMap<(String, String, String), DailyTotals>,
    ) -> Result<bool, ImportError> {
        let mut changed = false;
        let daily: BTreeMap<(String, String), DailyTotals> = usage::daily(k);
        for ((day, model), totals) in daily {
            let old = imported
                .get(&(local_id.to_owned(), day.clone(), model.clone()))
                .copied()
                .unwrap_or_default();
            if old == totals {
                continue;
            }
            changed = true;
            self.report.usage.daily_rows += 1;
            self.writes.daily.push(DailyWrite {
                key_id: local_id.to_owned(),
                platform: usage::platform_of_model(&model),
                day,
                model,
                new: totals,
                old,
            });
        }
        let mut seen = self.store.imported_request_ids(local_id, "crs:").await?;
        let accounts = |crs_id: &str| {
            self.targets
                .accounts
                .get(crs_id)
                .map(|a| a.local_id.clone())
        };
        let records: Vec<_> = usage::records(k, local_id, &accounts)
            .into_iter()
            .filter(|r| seen.insert(r.request_id.clone()))
            .collect();
        if !records.is_empty() {
            changed = true;
            self.report.usage.records += records.len() as u32;
            self.writes.records.extend(records);
        }
        Ok(changed)
    }
}
