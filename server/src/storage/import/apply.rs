//! [`Store::apply_import`]: one import run's writes in one transaction.

use super::super::accounts::{bind_account, SAVE_ACCOUNT};
use super::super::audit::insert_audit;
use super::super::groups::{replace_members, SAVE_GROUP};
use super::super::keys::{bind_config, ConfigJson, INSERT_KEY, UPDATE_KEY};
use super::super::text::fold;
use super::super::{now_ms, with_pool, Store, StoreResult};
use super::ImportWrites;

impl Store {
    /// Writes one import run in one transaction: all or nothing.
    #[tracing::instrument(skip_all)]
    pub async fn apply_import(&self, w: &ImportWrites) -> StoreResult<()> {
        let now = now_ms();
        with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            if let Some(s) = &w.salt {
                sqlx::query(
                    "INSERT INTO legacy_key_salts (id, scheme, salt_enc, created_at)
                     VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
                )
                .bind(&s.id)
                .bind(&s.scheme)
                .bind(&s.salt_enc)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            for g in &w.groups {
                sqlx::query(SAVE_GROUP)
                    .bind(&g.id)
                    .bind(&g.name)
                    .bind(&g.platform)
                    .bind(&g.description)
                    .bind(g.created_at)
                    .bind(g.updated_at)
                    .bind(fold(&g.name))
                    .execute(&mut *tx)
                    .await?;
            }
            for a in &w.accounts {
                bind_account!(sqlx::query(SAVE_ACCOUNT), a)
                    .execute(&mut *tx)
                    .await?;
            }
            for (group, members) in &w.memberships {
                replace_members!(tx, group, members, now);
            }
            for k in &w.new_keys {
                let c = &k.key.config;
                let json = ConfigJson::of(c);
                let query = sqlx::query(INSERT_KEY)
                    .bind(k.key.id.as_str())
                    .bind(k.key.key_hash.as_str())
                    .bind(k.key.key_prefix.as_str())
                    .bind(k.key.name.as_str());
                bind_config!(query, c, json)
                    .bind(now)
                    .bind(fold(&k.key.name))
                    .bind(fold(&c.description))
                    .bind(c.expires_on.as_deref())
                    .execute(&mut *tx)
                    .await?;
            }
            for k in &w.updated_keys {
                let c = &k.key.config;
                let json = ConfigJson::of(c);
                let query = sqlx::query(UPDATE_KEY).bind(k.key.name.as_str());
                bind_config!(query, c, json)
                    .bind(now)
                    .bind(k.key.id.as_str())
                    .bind(fold(&k.key.name))
                    .bind(fold(&c.description))
                    .bind(c.expires_on.as_deref())
                    .execute(&mut *tx)
                    .await?;
            }
            for k in w.new_keys.iter().chain(&w.updated_keys) {
                sqlx::query(
                    "UPDATE api_keys SET key_hash = $1, activated_at = $2, created_at = $3 WHERE id = $4",
                )
                .bind(k.key.key_hash.as_str())
                .bind(k.activated_at)
                .bind(k.created_at)
                .bind(k.key.id.as_str())
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM api_key_tags WHERE key_id = $1")
                    .bind(k.key.id.as_str())
                    .execute(&mut *tx)
                    .await?;
                for tag in &k.key.config.tags {
                    sqlx::query("INSERT INTO api_key_tags (key_id, tag) VALUES ($1, $2)")
                        .bind(k.key.id.as_str())
                        .bind(tag.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
            }
            for s in &w.spend {
                // `updated_at` moves so other instances drop their cached copy of the key.
                sqlx::query(
                    "UPDATE api_keys SET spent_micros = spent_micros + $1, requests = requests + $2,
                        last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < $3 THEN $3
                                            ELSE last_used_at END,
                        updated_at = $4
                     WHERE id = $5",
                )
                .bind(s.spent_delta)
                .bind(s.requests_delta)
                .bind(s.last_used_at)
                .bind(now)
                .bind(&s.key_id)
                .execute(&mut *tx)
                .await?;
            }
            for d in &w.daily {
                let (n, o) = (&d.new, &d.old);
                sqlx::query(
                    "INSERT INTO usage_daily (day, key_id, account_id, group_id, model, platform,
                        requests, errors, input_tokens, output_tokens, cache_write_tokens,
                        cache_read_tokens, cost_micros)
                     VALUES ($1, $2, '', '', $3, $4, $5, 0, $6, $7, $8, $9, $10)
                     ON CONFLICT (day, key_id, account_id, group_id, model) DO UPDATE SET
                        requests = usage_daily.requests + excluded.requests,
                        input_tokens = usage_daily.input_tokens + excluded.input_tokens,
                        output_tokens = usage_daily.output_tokens + excluded.output_tokens,
                        cache_write_tokens = usage_daily.cache_write_tokens + excluded.cache_write_tokens,
                        cache_read_tokens = usage_daily.cache_read_tokens + excluded.cache_read_tokens,
                        cost_micros = usage_daily.cost_micros + excluded.cost_micros",
                )
                .bind(&d.day)
                .bind(&d.key_id)
                .bind(&d.model)
                .bind(d.platform)
                .bind(n.requests - o.requests)
                .bind(n.input_tokens - o.input_tokens)
                .bind(n.output_tokens - o.output_tokens)
                .bind(n.cache_write_tokens - o.cache_write_tokens)
                .bind(n.cache_read_tokens - o.cache_read_tokens)
                .bind(n.cost_micros - o.cost_micros)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO import_usage_daily (source, key_id, day, model, requests,
                        input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, cost_micros)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                     ON CONFLICT (source, key_id, day, model) DO UPDATE SET
                        requests = excluded.requests, input_tokens = excluded.input_tokens,
                        output_tokens = excluded.output_tokens,
                        cache_write_tokens = excluded.cache_write_tokens,
                        cache_read_tokens = excluded.cache_read_tokens,
                        cost_micros = excluded.cost_micros",
                )
                .bind(w.source)
                .bind(&d.key_id)
                .bind(&d.day)
                .bind(&d.model)
                .bind(n.requests)
                .bind(n.input_tokens)
                .bind(n.output_tokens)
                .bind(n.cache_write_tokens)
                .bind(n.cache_read_tokens)
                .bind(n.cost_micros)
                .execute(&mut *tx)
                .await?;
            }
            for r in &w.records {
                sqlx::query(
                    "INSERT INTO usage_events (request_id, key_id, account_id, group_id, platform,
                        model, input_tokens, output_tokens, cache_write_5m_tokens,
                        cache_write_1h_tokens, cache_read_tokens, cost_micros, price,
                        priced_by_fallback, status, latency_ms, stream, client_disconnected,
                        created_at)
                     VALUES ($1, $2, $3, NULL, $4, $5, $6, $7, $8, $9, $10, $11, '', FALSE, $12,
                        $13, $14, FALSE, $15)",
                )
                .bind(&r.request_id)
                .bind(&r.key_id)
                .bind(&r.account_id)
                .bind(r.platform)
                .bind(&r.model)
                .bind(r.input_tokens)
                .bind(r.output_tokens)
                .bind(r.cache_write_5m_tokens)
                .bind(r.cache_write_1h_tokens)
                .bind(r.cache_read_tokens)
                .bind(r.cost_micros)
                .bind(r.status)
                .bind(r.latency_ms)
                .bind(r.stream)
                .bind(r.created_at)
                .execute(&mut *tx)
                .await?;
            }
            for m in &w.map {
                let sql = if m.is_new {
                    "INSERT INTO import_map (source, kind, foreign_id, local_id, digest,
                        spent_micros, requests, imported_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                } else {
                    "UPDATE import_map SET local_id = $4, digest = $5, spent_micros = $6,
                        requests = $7, imported_at = $8
                     WHERE source = $1 AND kind = $2 AND foreign_id = $3"
                };
                sqlx::query(sql)
                    .bind(w.source)
                    .bind(&m.kind)
                    .bind(&m.foreign_id)
                    .bind(&m.local_id)
                    .bind(&m.digest)
                    .bind(m.spent_micros)
                    .bind(m.requests)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some(run) = &w.run {
                sqlx::query(
                    "INSERT INTO import_runs (id, source, started_by, created_at, report)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&run.id)
                .bind(w.source)
                .bind(&run.started_by)
                .bind(now)
                .bind(&run.report)
                .execute(&mut *tx)
                .await?;
            }
            if let Some(audit) = &w.audit {
                insert_audit!(&mut *tx, audit);
            }
            tx.commit().await?;
        });
        Ok(())
    }
}
