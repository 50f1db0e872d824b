//! Accounts: new ones get Tollgate ids, imported ones are rewritten only when CRS changed them.

use super::*;

impl Planner<'_> {
    pub(super) async fn accounts(&mut self) -> Result<(), ImportError> {
        let covered = self.opts.covers(ImportKind::Accounts);
        for a in &self.data.accounts {
            if !covered {
                self.earlier_import(a).await?;
                continue;
            }
            let name = field(&a.fields, "name");
            let mut it = item(ImportKind::Accounts, &a.id, a.source_type, name);
            let mapped = if self.damaged.contains(&a.id) {
                account_map::Mapped::Skip(vec![note(
                    "credential_damaged",
                    "its stored credential does not decrypt (the other accounts' do): damaged in CRS",
                )])
            } else {
                account_map::map_account(a, self.derived.get(a.source_type)).unwrap_or_else(|e| {
                    account_map::Mapped::Skip(vec![note("credential_damaged", e.to_string())])
                })
            };
            let (target, notes) = match mapped {
                account_map::Mapped::Skip(notes) => {
                    self.targets
                        .skipped_accounts
                        .insert(a.id.clone(), a.source_type.to_owned());
                    it.notes = notes;
                    self.push(it);
                    continue;
                }
                account_map::Mapped::Import(t, notes) => (t, notes),
            };
            it.notes = notes;
            let existing = match self.mapped("account", &a.id).cloned() {
                Some(e) => match self.store.get_account(&e.local_id).await? {
                    Some(row) => Some((e, row)),
                    None => {
                        it.notes.insert(0, deleted_here());
                        self.push(it);
                        continue;
                    }
                },
                None => None,
            };
            let digest = target.digest();
            let (local_id, outcome) = match &existing {
                Some((e, _)) if e.digest == digest => {
                    (e.local_id.clone(), ImportOutcome::Unchanged)
                }
                Some((e, _)) => (e.local_id.clone(), ImportOutcome::Updated),
                None => (new_id(), ImportOutcome::Imported),
            };
            if outcome != ImportOutcome::Unchanged {
                let row = self.account_row(&target, &local_id, existing.as_ref().map(|(_, r)| r));
                self.writes.accounts.push(row);
                self.writes.map.push(MapEntry {
                    kind: "account".into(),
                    foreign_id: a.id.clone(),
                    local_id: local_id.clone(),
                    digest,
                    spent_micros: 0,
                    requests: 0,
                    is_new: outcome == ImportOutcome::Imported,
                });
            }
            self.targets.accounts.insert(
                a.id.clone(),
                LocalTarget {
                    local_id: local_id.clone(),
                    platform: target.platform,
                    name: target.name.clone(),
                    account_type: target.account_type,
                },
            );
            it.outcome = outcome;
            it.local_id = Some(local_id);
            self.push(it);
        }
        Ok(())
    }

    /// An account this run does not import: bindings and members may still point to what an
    /// earlier run imported.
    async fn earlier_import(&mut self, a: &CrsAccount) -> Result<(), ImportError> {
        let local = match self.mapped("account", &a.id) {
            Some(e) => self.store.get_account(&e.local_id).await?,
            None => None,
        };
        match local.and_then(|row| Some((Platform::parse(&row.platform)?, row))) {
            Some((platform, row)) => {
                self.targets.accounts.insert(
                    a.id.clone(),
                    LocalTarget {
                        local_id: row.id,
                        platform,
                        name: row.name,
                        account_type: AccountType::parse(&row.account_type).unwrap_or_default(),
                    },
                );
            }
            // Kinds Tollgate never imports are named as such in notes; others are "not imported".
            None if account_map::platform_of(a.source_type).is_none() => {
                self.targets
                    .skipped_accounts
                    .insert(a.id.clone(), a.source_type.to_owned());
            }
            None => {}
        }
        Ok(())
    }

    fn account_row(
        &self,
        t: &AccountTarget,
        id: &str,
        existing: Option<&AccountRow>,
    ) -> AccountRow {
        let key = t.api_key.expose();
        let proxy = t.proxy.as_ref().map(|p| p.expose().as_str());
        AccountRow {
            id: id.to_owned(),
            name: t.name.clone(),
            platform: t.platform.as_str().into(),
            account_type: t.account_type.as_str().into(),
            api_key_enc: self.cipher.encrypt(Binding::account_api_key(id), key),
            api_key_hint: mask_secret(key),
            base_url: t.base_url.clone(),
            proxy_enc: proxy.map(|p| self.cipher.encrypt(Binding::account_proxy(id), p)),
            proxy_hint: proxy.map(mask_proxy),
            priority: t.priority,
            is_active: t.is_active,
            schedulable: t.schedulable,
            // Health is Tollgate's own: an update keeps it.
            status: existing
                .map(|r| r.status.clone())
                .unwrap_or_else(|| AccountStatus::Active.as_str().into()),
            status_message: existing.and_then(|r| r.status_message.clone()),
            status_changed_at: existing.and_then(|r| r.status_changed_at),
            cooldown_until: existing.and_then(|r| r.cooldown_until),
            supported_models: serde_json::to_string(&t.supported_models).unwrap_or_default(),
            model_mapping: serde_json::to_string(&t.model_mapping).unwrap_or_default(),
            max_concurrency: t.max_concurrency,
            monthly_cost_micros: existing.map(|r| r.monthly_cost_micros).unwrap_or(0),
            notes: t.notes.clone(),
            extra: serde_json::json!({
                "azureDeployment": t.azure_deployment,
                "azureApiVersion": t.azure_api_version,
            })
            .to_string(),
            created_at: existing
                .map(|r| r.created_at)
                .or(t.created_at)
                .unwrap_or(self.now),
            updated_at: self.now,
            last_used_at: existing.and_then(|r| r.last_used_at).max(t.last_used_at),
        }
    }
}
