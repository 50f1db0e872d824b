//! The storage contract ("story"): the same scenarios on SQLite and on the machine's PostgreSQL,
//! each in a throw-away database.

mod common;

use common::{Backend, TestDb};
use tollgate::storage::sessions::DbSessionStore;
use tower_sessions::session::{Id, Record};
use tower_sessions::SessionStore;

macro_rules! story {
    ($name:ident) => {
        mod $name {
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                super::$name(TestDb::new(Backend::Sqlite).await).await;
            }
            #[tokio::test]
            async fn postgres() {
                super::$name(TestDb::new(Backend::Postgres).await).await;
            }
        }
    };
}

story!(admins_and_tokens);
async fn admins_and_tokens(db: TestDb) {
    let s = &db.store;
    assert_eq!(s.admin_count().await.unwrap(), 0);
    s.insert_admin("a1", "root", "hash-1").await.unwrap();
    assert!(s
        .insert_admin("a2", "root", "hash-2")
        .await
        .unwrap_err()
        .is_unique_violation());
    let row = s.admin_by_username("root").await.unwrap().unwrap();
    assert_eq!(
        (row.id.as_str(), row.password_hash.as_str()),
        ("a1", "hash-1")
    );
    assert!(s.admin_by_id("nope").await.unwrap().is_none());

    let future = tollgate::storage::now_ms() + 60_000;
    s.insert_admin_token("t-live", "a1", future).await.unwrap();
    s.insert_admin_token("t-old", "a1", 1).await.unwrap();
    assert_eq!(
        s.admin_for_token("t-live").await.unwrap().as_deref(),
        Some("a1")
    );
    assert_eq!(
        s.admin_for_token("t-old").await.unwrap(),
        None,
        "expired token"
    );
    assert_eq!(s.purge_expired_auth().await.unwrap(), 1);

    s.set_admin_password("a1", "hash-3", None).await.unwrap();
    assert_eq!(
        s.admin_by_id("a1").await.unwrap().unwrap().password_hash,
        "hash-3"
    );
    assert_eq!(
        s.admin_for_token("t-live").await.unwrap(),
        None,
        "password change ends tokens"
    );
}

story!(sessions);
async fn sessions(db: TestDb) {
    db.store.insert_admin("a1", "root", "h").await.unwrap();
    let clock = tollgate::clock::ManualClock::new();
    let ttl = std::time::Duration::from_secs(3600);
    let store = DbSessionStore::new(db.store.clone(), clock.clone(), ttl);
    let mut record = Record {
        id: Id::default(),
        data: [(
            app::api::SESSION_ADMIN_KEY.to_string(),
            serde_json::json!("a1"),
        )]
        .into(),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
    };
    store.create(&mut record).await.unwrap();
    let loaded = store.load(&record.id).await.unwrap().unwrap();
    assert_eq!(loaded.data, record.data);
    assert_eq!(loaded.id, record.id);

    // Only the id's SHA-256 is stored; the row's data does not carry the id either.
    let plain = record.id.to_string();
    let (hashes, data): (Vec<String>, Vec<Vec<u8>>) = match &db.store {
        tollgate::storage::Store::Sqlite(p) => {
            sqlx::query_as::<_, (String, Vec<u8>)>("SELECT id_hash, data FROM sessions")
                .fetch_all(p)
                .await
                .unwrap()
        }
        tollgate::storage::Store::Postgres(p) => {
            sqlx::query_as::<_, (String, Vec<u8>)>("SELECT id_hash, data FROM sessions")
                .fetch_all(p)
                .await
                .unwrap()
        }
    }
    .into_iter()
    .unzip();
    assert_eq!(hashes, vec![tollgate::crypto::token_hash(&plain)]);
    assert!(!String::from_utf8_lossy(&data[0]).contains(&plain));

    record.data.insert("extra".into(), serde_json::json!(42));
    store.save(&record).await.unwrap();
    assert_eq!(
        store.load(&record.id).await.unwrap().unwrap().data["extra"],
        42
    );

    // A session lives for the TTL after its last save, by the store's clock.
    clock.advance(ttl - std::time::Duration::from_secs(60));
    store.save(&record).await.unwrap();
    clock.advance(std::time::Duration::from_secs(120));
    assert!(
        store.load(&record.id).await.unwrap().is_some(),
        "saved again: still alive"
    );
    clock.advance(ttl);
    assert!(
        store.load(&record.id).await.unwrap().is_none(),
        "expired sessions do not load"
    );
    store.save(&record).await.unwrap();

    // A password change ends the admin's sessions.
    db.store.set_admin_password("a1", "h2", None).await.unwrap();
    assert!(store.load(&record.id).await.unwrap().is_none());
    store.delete(&record.id).await.unwrap();
}

story!(overview_counts);
async fn overview_counts(db: TestDb) {
    use app::types::{KeySettings, KeyStatus};
    use tollgate::keys::validate::{key_settings, Mode};
    use tollgate::storage::keys::{KeyFilter, NewKey};
    use tollgate::storage::Store;

    let s = &db.store;
    assert_eq!(s.overview_counts().await.unwrap(), Default::default());

    // One key in each lifecycle state, the activation-based ones included.
    let now = tollgate::storage::now_ms();
    let day = 86_400_000;
    let names = [
        "active",
        "unused-trial",
        "running-trial",
        "disabled",
        "expired-fixed",
        "expired-trial",
        "exhausted",
        "deleted",
    ];
    let keys: Vec<NewKey> = names
        .iter()
        .map(|name| NewKey {
            id: (*name).into(),
            key_hash: format!("hash-{name}"),
            key_prefix: format!("tg_{name}"),
            name: (*name).into(),
            config: key_settings(
                &KeySettings {
                    quota_limit: Some(10.0),
                    activation_days: name.ends_with("trial").then_some(7),
                    ..Default::default()
                },
                Mode::Create { now },
                "",
            )
            .unwrap(),
        })
        .collect();
    s.insert_api_keys(&keys, &creator(), &[], now)
        .await
        .unwrap();
    let exec = |sql: String| async move {
        match s {
            Store::Sqlite(pool) => sqlx::query(&sql).execute(pool).await.map(|_| ()),
            Store::Postgres(pool) => sqlx::query(&sql).execute(pool).await.map(|_| ()),
        }
        .unwrap()
    };
    exec(format!(
        "UPDATE api_keys SET activated_at = {} WHERE id = 'running-trial'",
        now - day
    ))
    .await;
    exec(format!(
        "UPDATE api_keys SET activated_at = {} WHERE id = 'expired-trial'",
        now - 8 * day
    ))
    .await;
    exec("UPDATE api_keys SET is_active = FALSE WHERE id = 'disabled'".into()).await;
    exec(format!(
        "UPDATE api_keys SET expires_at = {} WHERE id = 'expired-fixed'",
        now - day
    ))
    .await;
    exec("UPDATE api_keys SET spent_micros = 10000000 WHERE id = 'exhausted'".into()).await;
    assert!(s.soft_delete_api_key("deleted", &event()).await.unwrap());

    let counts = s.overview_counts().await.unwrap();
    assert_eq!((counts.keys, counts.active_keys), (7, 3));
    // The overview and the key list apply the same rule, key by key.
    let (active, _) = s
        .list_api_keys(
            &KeyFilter {
                status: Some(KeyStatus::Active),
                ..Default::default()
            },
            now,
            50,
            0,
        )
        .await
        .unwrap();
    let mut active: Vec<&str> = active.iter().map(|k| k.name.as_str()).collect();
    active.sort();
    assert_eq!(active, ["active", "running-trial", "unused-trial"]);
    let (all, _) = s
        .list_api_keys(&KeyFilter::default(), now, 50, 0)
        .await
        .unwrap();
    for row in &all {
        let expected = match row.name.as_str() {
            "disabled" => KeyStatus::Disabled,
            "expired-fixed" | "expired-trial" => KeyStatus::Expired,
            "exhausted" => KeyStatus::Exhausted,
            _ => KeyStatus::Active,
        };
        assert_eq!(row.status(now), expected, "{}", row.name);
    }
    // The expired-key watch applies the same rule: both expiries, not the disabled key.
    let mut ended: Vec<(String, i64)> = s
        .keys_expired_between(0, now)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, name, at)| (name, at))
        .collect();
    ended.sort();
    let trial_end = all
        .iter()
        .find(|k| k.name == "expired-trial")
        .and_then(|k| k.expiry())
        .unwrap();
    assert_eq!(
        ended,
        [
            ("expired-fixed".to_owned(), now - day),
            ("expired-trial".to_owned(), trial_end)
        ]
    );
    assert_eq!(trial_end, now - day, "activated 8 days ago for 7 days");
}

story!(unicode_search_and_sort);
async fn unicode_search_and_sort(db: TestDb) {
    use app::types::KeySettings;
    use tollgate::keys::validate::{key_settings, Mode};
    use tollgate::storage::groups::GroupRow;
    use tollgate::storage::keys::{KeyFilter, NewKey};
    use tollgate::storage::Store;

    let s = &db.store;
    let now = tollgate::storage::now_ms();
    // (id, name, description); every key is bound to one account, to read them back sorted.
    let keys = [
        ("k1", "École", ""),
        ("k2", "école", ""),
        ("k3", "Eclair", ""),
        ("k4", "éclair", ""),
        ("k5", "Straße", ""),
        ("k6", "STRASSE", ""),
        ("k7", "数据中心", "ΑΘΗΝΑ office"),
        ("k8", "🚀 Rocket", ""),
        ("k9", "zeta", "Ünïcode café"),
    ];
    let new_keys: Vec<NewKey> = keys
        .iter()
        .map(|(id, name, description)| NewKey {
            id: (*id).into(),
            key_hash: format!("hash-{id}"),
            key_prefix: format!("tg_{id}"),
            name: (*name).into(),
            config: key_settings(
                &KeySettings {
                    description: Some((*description).into()),
                    claude_account_id: Some("acct-1".into()),
                    ..Default::default()
                },
                Mode::Create { now },
                "",
            )
            .unwrap(),
        })
        .collect();
    s.insert_api_keys(&new_keys, &creator(), &[], now)
        .await
        .unwrap();
    let found = |term: &str| {
        let filter = KeyFilter {
            search: Some(term.into()),
            ..Default::default()
        };
        async move {
            let (rows, _) = s.list_api_keys(&filter, now, 50, 0).await.unwrap();
            let mut ids: Vec<String> = rows.into_iter().map(|r| r.id).collect();
            ids.sort();
            ids
        }
    };
    let accented = ["k1", "k2", "k4", "k9"];
    assert_eq!(
        found("é").await,
        accented,
        "É and é (the last in a description), not e"
    );
    assert_eq!(found("É").await, accented);
    assert_eq!(found("ÉCOLE").await, ["k1", "k2"]);
    assert_eq!(found("e\u{301}cole").await, ["k1", "k2"], "decomposed é");
    assert_eq!(found("ß").await, ["k5"]);
    assert_eq!(
        found("STRASSE").await,
        ["k6"],
        "lower-cased, not case-folded"
    );
    assert_eq!(found("数据").await, ["k7"]);
    assert_eq!(
        found("αθηνα").await,
        ["k7"],
        "descriptions, Greek upper case"
    );
    assert_eq!(found("🚀").await, ["k8"]);
    assert_eq!(found("ÜNÏ").await, ["k9"]);
    assert_eq!(found("CAFÉ").await, ["k9"]);

    // One order on both backends: the folded name bytewise, then the id.
    let (_, sorted) = s.keys_bound_to("acct-1", 50).await.unwrap();
    let sorted: Vec<&str> = sorted.iter().map(|(_, name)| name.as_str()).collect();
    assert_eq!(
        sorted,
        [
            "Eclair",
            "STRASSE",
            "Straße",
            "zeta",
            "éclair",
            "École",
            "école",
            "数据中心",
            "🚀 Rocket"
        ]
    );

    // Groups sort the same way; renaming refolds.
    for (i, name) in ["Ωmega", "alpha", "Äpfel", "Beta"].iter().enumerate() {
        let row = GroupRow {
            id: format!("g{i}"),
            name: (*name).into(),
            platform: "claude".into(),
            description: String::new(),
            created_at: now,
            updated_at: now,
            sticky_mode: String::new(),
        };
        s.save_group(&row, None).await.unwrap();
    }
    let mut renamed = s.get_group("g1").await.unwrap().unwrap();
    renamed.name = "ÖSTERREICH".into();
    s.save_group(&renamed, None).await.unwrap();
    let groups: Vec<String> = s
        .list_groups()
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(groups, ["Beta", "Äpfel", "ÖSTERREICH", "Ωmega"]);

    // Rows written without the folded form (before migration 0007, or by hand) are folded when
    // the migrations run, and then found and sorted like the others.
    let sql = format!(
        "INSERT INTO api_keys (id, key_hash, key_prefix, name, description, claude_account_id,
         created_at, updated_at) VALUES ('k0', 'hash-k0', 'tg_k0', 'Ñandú', 'ÁRBOL', 'acct-1', {now}, {now});
         INSERT INTO accounts (id, name, platform, api_key_enc, api_key_hint, base_url, created_at,
         updated_at) VALUES ('a2', 'Ärger', 'claude', 'x', 'x', 'https://x', {now}, {now}),
         ('a1', 'zulu', 'claude', 'x', 'x', 'https://x', {now}, {now})"
    );
    match s {
        Store::Sqlite(pool) => sqlx::raw_sql(&sql).execute(pool).await.map(|_| ()),
        Store::Postgres(pool) => sqlx::raw_sql(&sql).execute(pool).await.map(|_| ()),
    }
    .unwrap();
    assert!(found("ñ").await.is_empty(), "not folded yet");
    s.migrate().await.unwrap();
    assert_eq!(found("ñ").await, ["k0"]);
    assert_eq!(found("árbol").await, ["k0"]);
    let accounts: Vec<String> = s
        .list_accounts()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(accounts, ["zulu", "Ärger"]);
}

story!(migrations_are_idempotent);
async fn migrations_are_idempotent(db: TestDb) {
    db.store.migrate().await.unwrap();
    db.store.ping().await.unwrap();
}

story!(price_overrides);
async fn price_overrides(db: TestDb) {
    use tollgate::pricing::{ModelPrice, PriceSource, Pricing};
    let s = &db.store;
    assert!(s.list_price_overrides().await.unwrap().is_empty());
    let price = |base: i64| ModelPrice::flat(base, base * 5, base * 5 / 4, base * 2, base / 10);
    s.upsert_price_override("zeta-model", &price(1_000_000), None)
        .await
        .unwrap();
    s.upsert_price_override("claude-sonnet-4-5", &price(2_000_000), None)
        .await
        .unwrap();
    // Upserting again replaces the row instead of failing on the primary key.
    s.upsert_price_override("claude-sonnet-4-5", &price(4_000_000), None)
        .await
        .unwrap();
    s.upsert_price_override("Zeta-upper", &price(3_000_000), None)
        .await
        .unwrap();
    let listed = s.list_price_overrides().await.unwrap();
    assert_eq!(
        listed,
        vec![
            ("Zeta-upper".to_string(), price(3_000_000)),
            ("claude-sonnet-4-5".to_string(), price(4_000_000)),
            ("zeta-model".to_string(), price(1_000_000)),
        ],
        "sorted by the model name's bytes on both backends, latest value"
    );

    let pricing = Pricing::builtin().with_overrides(&listed);
    let found = pricing.lookup("claude-sonnet-4-5-20250929");
    assert_eq!(
        (found.price.base(), found.source),
        (price(4_000_000).base(), PriceSource::Override)
    );

    assert!(s.delete_price_override("zeta-model", None).await.unwrap());
    assert!(
        !s.delete_price_override("zeta-model", None).await.unwrap(),
        "already gone"
    );
    assert_eq!(s.list_price_overrides().await.unwrap().len(), 2);
}

story!(webhook_targets_and_deliveries);
async fn webhook_targets_and_deliveries(db: TestDb) {
    use tollgate::storage::webhooks::{NewWebhookDelivery, WebhookTargetRow};
    let s = &db.store;
    let target = |id: &str, created_at: i64, enabled: bool| WebhookTargetRow {
        id: id.into(),
        name: format!("target {id}"),
        kind: "generic".into(),
        url_enc: "v1:ciphertext".into(),
        url_hint: "https://example.com/…abcd".into(),
        secret_enc: Some("v1:secret".into()),
        events: r#"["account.error"]"#.into(),
        enabled,
        created_at,
        updated_at: created_at,
    };
    assert!(s.list_webhook_targets().await.unwrap().is_empty());
    s.insert_webhook_target(&target("t2", 20, false), None)
        .await
        .unwrap();
    s.insert_webhook_target(&target("t1", 10, true), None)
        .await
        .unwrap();
    let all = s.list_webhook_targets().await.unwrap();
    assert_eq!(
        all.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        ["t1", "t2"],
        "oldest first"
    );
    assert_eq!(all[0], target("t1", 10, true), "every column round-trips");
    let enabled = s.enabled_webhook_targets().await.unwrap();
    assert_eq!(enabled.len(), 1);
    assert_eq!(enabled[0].id, "t1");

    let mut changed = target("t2", 20, true);
    changed.name = "renamed".into();
    changed.secret_enc = None;
    changed.events = "[]".into();
    changed.updated_at = 99;
    assert!(s.update_webhook_target(&changed, None).await.unwrap());
    assert_eq!(s.webhook_target("t2").await.unwrap().unwrap(), changed);
    assert!(!s
        .update_webhook_target(&target("missing", 1, true), None)
        .await
        .unwrap());
    assert_eq!(s.enabled_webhook_targets().await.unwrap().len(), 2);
    assert!(s.delete_webhook_target("t2", None).await.unwrap());
    assert!(!s.delete_webhook_target("t2", None).await.unwrap());
    assert!(s.webhook_target("t2").await.unwrap().is_none());

    let now = tollgate::storage::now_ms();
    for (i, created_at) in [now - 40 * 86_400_000, now - 1_000, now]
        .into_iter()
        .enumerate()
    {
        s.insert_webhook_delivery(&NewWebhookDelivery {
            target_id: if i == 0 { None } else { Some("t1") },
            target_hint: "https://example.com/…abcd",
            event: "account.error",
            attempt: i as i64 + 1,
            http_status: if i == 2 { Some(200) } else { None },
            ok: i == 2,
            error: if i == 2 {
                None
            } else {
                Some("connection failed")
            },
            created_at,
        })
        .await
        .unwrap();
    }
    let page = s.list_webhook_deliveries(2, None).await.unwrap();
    assert_eq!(
        page.iter().map(|d| d.attempt).collect::<Vec<_>>(),
        [3, 2],
        "newest first"
    );
    assert_eq!(
        (page[0].ok, page[0].http_status, page[0].error.as_deref()),
        (true, Some(200), None)
    );
    let older = s
        .list_webhook_deliveries(10, Some(page[1].id))
        .await
        .unwrap();
    assert_eq!(older.len(), 1);
    assert_eq!(older[0].target_id, None);
    assert_eq!(older[0].error.as_deref(), Some("connection failed"));

    // Pruning goes in batches and only takes rows older than the cutoff.
    let cutoff = now - 30 * 86_400_000;
    assert_eq!(s.prune_webhook_deliveries(cutoff, 500).await.unwrap(), 1);
    assert_eq!(s.prune_webhook_deliveries(cutoff, 500).await.unwrap(), 0);
    assert_eq!(s.list_webhook_deliveries(10, None).await.unwrap().len(), 2);
    assert_eq!(
        s.prune_webhook_deliveries(now + 1, 1).await.unwrap(),
        1,
        "batch bound"
    );
}

story!(api_keys_and_presets);
async fn api_keys_and_presets(db: TestDb) {
    use app::types::{KeySettings, KeyStatus};
    use tollgate::keys::validate::{key_settings, Mode};
    use tollgate::storage::keys::{KeyFilter, NewKey};
    use tollgate::storage::Store;

    async fn exec(store: &Store, sql: &str) {
        match store {
            Store::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
            Store::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
        }
        .unwrap();
    }

    let s = &db.store;
    let now = tollgate::storage::now_ms();
    let day = 86_400_000;
    let ids: Vec<String> = s
        .list_key_presets()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(ids, ["preset-trial", "preset-monthly", "preset-enterprise"]);

    let settings = |i: usize| KeySettings {
        tags: Some(if i.is_multiple_of(3) {
            vec!["vip".into()]
        } else {
            vec![]
        }),
        quota_limit: Some(10.0),
        description: Some(format!("order #{i}")),
        claude_account_id: Some(if i.is_multiple_of(50) {
            "group:g1".into()
        } else {
            String::new()
        }),
        preset_id: i.is_multiple_of(4).then(|| "preset-trial".to_owned()),
        ..Default::default()
    };
    let keys: Vec<NewKey> = (0..300)
        .map(|i| NewKey {
            id: format!("k{i:03}"),
            key_hash: format!("hash-{i:03}"),
            key_prefix: format!("tg_{i:07}"),
            name: if i == 7 {
                "50%_off".into()
            } else {
                format!("key-{i:03}")
            },
            config: key_settings(&settings(i), Mode::Create { now }, "").unwrap(),
        })
        .collect();
    s.insert_api_keys(&keys, &creator(), &[], now)
        .await
        .unwrap();
    // 1..=10 disabled, 11..=20 expired (fixed), 21..=25 expired (activation), 26..=30 exhausted.
    exec(
        s,
        "UPDATE api_keys SET is_active = FALSE WHERE id BETWEEN 'k001' AND 'k010'",
    )
    .await;
    exec(
        s,
        &format!(
            "UPDATE api_keys SET expires_at = {} WHERE id BETWEEN 'k011' AND 'k020'",
            now - 2 * day
        ),
    )
    .await;
    exec(s, &format!(
        "UPDATE api_keys SET activation_days = 1, activated_at = {} WHERE id BETWEEN 'k021' AND 'k025'",
        now - 3 * day
    ))
    .await;
    exec(
        s,
        "UPDATE api_keys SET spent_micros = 10000000 WHERE id BETWEEN 'k026' AND 'k030'",
    )
    .await;

    let count =
        |filter: KeyFilter| async move { s.list_api_keys(&filter, now, 500, 0).await.unwrap().1 };
    let status = |st: KeyStatus| KeyFilter {
        status: Some(st),
        ..Default::default()
    };
    assert_eq!(count(KeyFilter::default()).await, 300);
    assert_eq!(count(status(KeyStatus::Disabled)).await, 10);
    assert_eq!(count(status(KeyStatus::Expired)).await, 15);
    assert_eq!(count(status(KeyStatus::Exhausted)).await, 5);
    assert_eq!(count(status(KeyStatus::Active)).await, 270);
    let vip = || KeyFilter {
        tag: Some("vip".into()),
        ..Default::default()
    };
    assert_eq!(count(vip()).await, 100);
    assert_eq!(
        count(KeyFilter {
            status: Some(KeyStatus::Disabled),
            ..vip()
        })
        .await,
        3,
        "k003, k006, k009"
    );
    let search = |term: &str| KeyFilter {
        search: Some(term.into()),
        ..Default::default()
    };
    assert_eq!(count(search("KEY-29")).await, 10, "case-insensitive");
    assert_eq!(count(search("%_")).await, 1, "wildcards are literal");
    assert_eq!(
        count(search("ORDER #12")).await,
        11,
        "descriptions: 12, 120..129"
    );
    assert_eq!(count(search("tg_0000299")).await, 1, "display prefix");
    let by_hash = KeyFilter {
        search: Some("zzz".into()),
        search_key_hash: Some("hash-123".into()),
        ..Default::default()
    };
    assert_eq!(count(by_hash).await, 1);
    assert_eq!(
        count(KeyFilter {
            binding: Some("group:g1".into()),
            ..Default::default()
        })
        .await,
        6
    );
    assert_eq!(
        count(KeyFilter {
            preset_id: Some("preset-trial".into()),
            ..Default::default()
        })
        .await,
        75
    );

    let (page, total) = s
        .list_api_keys(&KeyFilter::default(), now, 50, 250)
        .await
        .unwrap();
    assert_eq!((page.len(), total), (50, 300));
    assert_eq!(
        (page[0].id.as_str(), page[49].id.as_str()),
        ("k049", "k000"),
        "newest (highest id) first"
    );
    let row = s.api_key_by_hash("hash-021").await.unwrap().unwrap();
    assert_eq!(row.status(now), KeyStatus::Expired);
    assert_eq!(row.expiry(), Some(now - 2 * day));
    assert_eq!(
        s.api_key_by_id("k026").await.unwrap().unwrap().status(now),
        KeyStatus::Exhausted
    );

    // Edits replace the tag index in step with the JSON column.
    let mut config = s
        .api_key_by_id("k000")
        .await
        .unwrap()
        .unwrap()
        .config()
        .unwrap();
    config.tags = vec!["gold".into()];
    assert!(s
        .update_api_key("k000", "renamed", &config, &event())
        .await
        .unwrap());
    assert_eq!(count(vip()).await, 99);
    assert_eq!(
        count(KeyFilter {
            tag: Some("gold".into()),
            ..Default::default()
        })
        .await,
        1
    );
    assert!(!s
        .update_api_key("nope", "x", &config, &event())
        .await
        .unwrap());

    assert!(s.soft_delete_api_key("k299", &event()).await.unwrap());
    assert!(!s.soft_delete_api_key("k299", &event()).await.unwrap());
    assert!(s.api_key_by_id("k299").await.unwrap().is_none());
    assert!(s.api_key_by_hash("hash-299").await.unwrap().is_none());
    assert_eq!(count(KeyFilter::default()).await, 299);

    // Cleanup: fixed expiries ended 2 days ago, activation ones 2 days ago too.
    let due = s.api_keys_expired_before(now - day).await.unwrap();
    assert_eq!(due.len(), 15);
    assert!(s
        .api_keys_expired_before(now - 3 * day)
        .await
        .unwrap()
        .is_empty());
    let gone = s
        .delete_api_keys_expired_before(now - day, |_| event())
        .await
        .unwrap();
    assert_eq!(
        gone.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
        due.iter().map(|k| k.id.as_str()).collect::<Vec<_>>()
    );
    assert_eq!(gone[0].expired_at, now - 2 * day);
    assert_eq!(count(KeyFilter::default()).await, 284);
    assert!(s
        .delete_api_keys_expired_before(now - day, |_| event())
        .await
        .unwrap()
        .is_empty());

    // Presets.
    s.insert_key_preset(
        "p1",
        "Custom",
        r#"{"validityDays":3,"settings":{}}"#,
        &event(),
    )
    .await
    .unwrap();
    assert!(s
        .insert_key_preset("p2", "Custom", "{}", &event())
        .await
        .unwrap_err()
        .is_unique_violation());
    assert!(s
        .update_key_preset("p1", "Renamed", "{}", &event())
        .await
        .unwrap());
    assert!(s
        .update_key_preset("p1", "Monthly", "{}", &event())
        .await
        .unwrap_err()
        .is_unique_violation());
    assert!(!s
        .update_key_preset("nope", "x", "{}", &event())
        .await
        .unwrap());
    assert_eq!(s.key_preset("p1").await.unwrap().unwrap().name, "Renamed");
    assert!(s.delete_key_preset("p1", &event()).await.unwrap());
    assert!(!s.delete_key_preset("p1", &event()).await.unwrap());
}

/// Runs raw SQL on either backend, for seeding rows the relay would write.
async fn report_sql(store: &tollgate::storage::Store, sql: &str) {
    match store {
        tollgate::storage::Store::Sqlite(p) => {
            sqlx::raw_sql(sql).execute(p).await.unwrap();
        }
        tollgate::storage::Store::Postgres(p) => {
            sqlx::raw_sql(sql).execute(p).await.unwrap();
        }
    }
}

story!(report_queries);
async fn report_queries(db: TestDb) {
    use app::types::SplitBy;
    use tollgate::storage::reports::SALES_SLOT_MS;
    let s = &db.store;
    // Two keys (one deleted: it still counts as sold), one account in one group, rollups on
    // two days, and usage events two of which were priced at the fallback.
    report_sql(
        s,
        "INSERT INTO accounts (id, name, platform, api_key_enc, api_key_hint, base_url, monthly_cost_micros,
             created_at, updated_at)
         VALUES ('a1', 'main', 'claude', 'x', 'sk…', 'http://127.0.0.1:1', 31000000, 1000, 1000);
         INSERT INTO account_groups (id, name, platform, created_at, updated_at)
         VALUES ('g1', 'vip', 'claude', 1000, 1000);
         INSERT INTO api_keys (id, key_hash, key_prefix, name, created_at, updated_at, preset_id,
             sale_price_micros, currency, spent_micros, quota_limit_micros, claude_account_id, deleted_at)
         VALUES ('k1', 'h1', 'tg_a', 'one', 1800000000000, 1, 'preset-trial', 35000000, 'CNY', 5000000,
                 20000000, 'group:g1', NULL),
                ('k2', 'h2', 'tg_b', 'two', 1800000900000, 1, 'preset-trial', 5000000, 'USD', 15000000,
                 20000000, '', 1800000999999),
                ('k3', 'h3', 'tg_c', 'three', 1700000000000, 1, NULL, 0, 'USD', 0, 0, '', NULL);
         INSERT INTO usage_daily (day, key_id, account_id, group_id, model, platform, requests, errors,
             input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, cost_micros)
         VALUES ('2026-03-01', 'k1', 'a1', 'g1', 'claude-x', 'claude', 3, 1, 30, 10, 5, 5, 3000000),
                ('2026-03-01', 'k2', 'a1', '', 'claude-y', 'claude', 1, 0, 10, 2, 0, 0, 1000000),
                ('2026-03-02', 'k1', 'a1', 'g1', 'claude-x', 'claude', 2, 0, 20, 8, 0, 0, 2000000),
                ('2026-03-05', 'k1', 'a1', 'g1', 'claude-x', 'claude', 9, 0, 90, 9, 0, 0, 9000000);
         INSERT INTO usage_events (request_id, key_id, platform, model, status, priced_by_fallback, created_at)
         VALUES ('r1', 'k1', 'claude', 'mystery-b', 200, TRUE, 10),
                ('r2', 'k1', 'claude', 'mystery-b', 200, TRUE, 30),
                ('r3', 'k1', 'claude', 'mystery-a', 200, TRUE, 20),
                ('r4', 'k1', 'claude', 'claude-x', 200, FALSE, 40);",
    )
    .await;

    let by_model = s
        .daily_usage("2026-03-01", "2026-03-02", SplitBy::Model)
        .await
        .unwrap();
    assert_eq!(by_model.len(), 3, "{by_model:?}");
    let first = by_model
        .iter()
        .find(|r| r.day == "2026-03-01" && r.split == "claude-x")
        .unwrap();
    assert_eq!(
        (
            first.requests,
            first.errors,
            first.tokens(),
            first.cost_micros
        ),
        (3, 1, 50, 3_000_000)
    );
    let by_group = s
        .daily_usage("2026-03-01", "2026-03-02", SplitBy::Group)
        .await
        .unwrap();
    let splits: Vec<(&str, &str, i64)> = by_group
        .iter()
        .map(|r| (r.day.as_str(), r.split.as_str(), r.cost_micros))
        .collect();
    assert!(
        splits.contains(&("2026-03-01", "", 1_000_000)),
        "{splits:?}"
    );
    assert!(splits.contains(&("2026-03-01", "g1", 3_000_000)));
    let by_account = s
        .daily_usage("2026-03-01", "2026-03-05", SplitBy::Account)
        .await
        .unwrap();
    assert_eq!(by_account.iter().map(|r| r.requests).sum::<i64>(), 15);
    let by_preset = s
        .daily_usage("2026-03-01", "2026-03-01", SplitBy::Preset)
        .await
        .unwrap();
    assert_eq!(
        by_preset.len(),
        1,
        "both keys are trial keys: {by_preset:?}"
    );
    assert_eq!(
        (by_preset[0].split.as_str(), by_preset[0].requests),
        ("preset-trial", 4)
    );

    let sales = s
        .key_sales(1_800_000_000_000, 1_800_001_000_000)
        .await
        .unwrap();
    assert_eq!(sales.len(), 2, "{sales:?}");
    assert_eq!(sales[0].slot, 1_800_000_000_000 / SALES_SLOT_MS);
    assert_eq!(
        (
            sales[0].currency.as_str(),
            sales[0].binding.as_str(),
            sales[0].keys,
            sales[0].sale_micros
        ),
        ("CNY", "group:g1", 1, 35_000_000)
    );
    assert_eq!(
        (sales[1].currency.as_str(), sales[1].binding.as_str()),
        ("USD", "")
    );
    assert_eq!(
        s.keys_created_between(1_800_000_000_000, 1_800_000_900_000)
            .await
            .unwrap(),
        1
    );
    assert_eq!(s.keys_created_between(0, i64::MAX).await.unwrap(), 3);

    let today = s.day_totals("2026-03-01").await.unwrap();
    assert_eq!((today.requests, today.cost_micros), (4, 4_000_000));
    assert_eq!(
        today.input_tokens + today.output_tokens + today.cache_tokens,
        62
    );
    assert_eq!(s.day_totals("1999-01-01").await.unwrap().requests, 0);

    let spend = s.preset_spend().await.unwrap();
    assert_eq!(spend.len(), 1);
    assert_eq!(
        (
            spend[0].preset_id.as_str(),
            spend[0].keys,
            spend[0].spent_micros,
            spend[0].quota_micros
        ),
        ("preset-trial", 2, 20_000_000, 40_000_000)
    );

    let days = s
        .key_usage_by_day("k1", "2026-03-01", "2026-03-04")
        .await
        .unwrap();
    assert_eq!(
        days.iter().map(|d| d.label.as_str()).collect::<Vec<_>>(),
        ["2026-03-01", "2026-03-02"]
    );
    assert_eq!((days[0].requests, days[0].cache_tokens), (3, 10));
    let models = s
        .key_usage_by_model("k1", "2026-03-01", "2026-03-31")
        .await
        .unwrap();
    assert_eq!(models.len(), 1);
    assert_eq!(
        (models[0].label.as_str(), models[0].cost_micros),
        ("claude-x", 14_000_000)
    );

    let fallback = s.fallback_priced_models(10).await.unwrap();
    assert_eq!(
        fallback,
        vec![("mystery-a".to_string(), 20), ("mystery-b".to_string(), 30)]
    );
    assert_eq!(
        s.fallback_priced_models(1).await.unwrap().len(),
        1,
        "limited"
    );

    let costs = s.account_costs().await.unwrap();
    assert_eq!(
        (costs[0].id.as_str(), costs[0].monthly_cost_micros),
        ("a1", 31_000_000)
    );

    assert_eq!(s.setting("currency").await.unwrap(), None);
    s.put_settings(
        &[
            ("currency", "\"CNY\"".into()),
            ("usd_exchange_rate", "7.2".into()),
        ],
        None,
    )
    .await
    .unwrap();
    s.put_settings(&[("usd_exchange_rate", "7.1".into())], None)
        .await
        .unwrap();
    assert_eq!(
        s.setting("currency").await.unwrap().as_deref(),
        Some("\"CNY\"")
    );
    assert_eq!(
        s.setting("usd_exchange_rate").await.unwrap().as_deref(),
        Some("7.1")
    );
}

story!(usage_retention);
async fn usage_retention(db: TestDb) {
    use app::types::SplitBy;
    use tollgate::storage::usage_export::ExportRange;
    let s = &db.store;
    let day_ms = 86_400_000;
    let now = tollgate::storage::now_ms();
    let old = now - 100 * day_ms;
    let recent = now - day_ms;
    // Seven events past a 90-day retention, three within it, and the rollup of the old day.
    let mut values = Vec::new();
    for i in 0..10 {
        let at = if i < 7 { old + i } else { recent + i };
        values.push(format!(
            "('r{i}', 'k1', 'claude', 'claude-x', 200, 1000, {at})"
        ));
    }
    report_sql(
        s,
        &format!(
            "INSERT INTO usage_events (request_id, key_id, platform, model, status, cost_micros, created_at)
             VALUES {};
             INSERT INTO usage_daily (day, key_id, account_id, group_id, model, platform, requests, errors,
                 input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, cost_micros)
             VALUES ('2020-01-01', 'k1', '', '', 'claude-x', 'claude', 7, 0, 70, 7, 0, 0, 7000);
             INSERT INTO usage_hourly (bucket, key_id, account_id, group_id, model, platform, requests, errors,
                 input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, cost_micros)
             VALUES (0, 'k1', '', '', 'claude-x', 'claude', 7, 0, 70, 7, 0, 0, 7000);",
            values.join(", ")
        ),
    )
    .await;
    let cutoff = now - 90 * day_ms;
    assert_eq!(s.count_usage_events_before(cutoff).await.unwrap(), 7);
    // One statement removes at most one batch.
    assert_eq!(s.prune_usage_events(cutoff, 3).await.unwrap(), 3);
    assert_eq!(s.count_usage_events_before(cutoff).await.unwrap(), 4);

    // The job's loop takes the rest in batches and leaves recent events alone.
    let stop = tokio_util::sync::CancellationToken::new();
    assert_eq!(tollgate::ops::prune_usage_events(s, 90, 3, &stop).await, 4);
    assert_eq!(s.count_usage_events_before(cutoff).await.unwrap(), 0);
    let everything = ExportRange {
        from_ms: 0,
        to_ms: i64::MAX,
        key_id: None,
    };
    let left = s.usage_export_page(&everything, 0, 100).await.unwrap();
    assert_eq!(
        left.iter()
            .map(|e| e.request_id.as_str())
            .collect::<Vec<_>>(),
        ["r7", "r8", "r9"]
    );
    assert_eq!(
        tollgate::ops::prune_usage_events(s, 90, 3, &stop).await,
        0,
        "nothing left to prune"
    );

    // Rollups are kept: the charts still answer for the pruned day.
    let daily = s
        .daily_usage("2020-01-01", "2020-01-01", SplitBy::Model)
        .await
        .unwrap();
    assert_eq!(
        (daily.len(), daily[0].requests, daily[0].cost_micros),
        (1, 7, 7000)
    );
    let hourly: i64 = match s {
        tollgate::storage::Store::Sqlite(p) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM usage_hourly")
                .fetch_one(p)
                .await
                .unwrap()
        }
        tollgate::storage::Store::Postgres(p) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM usage_hourly")
                .fetch_one(p)
                .await
                .unwrap()
        }
    };
    assert_eq!(hourly, 1);
}

story!(usage_export_pages);
async fn usage_export_pages(db: TestDb) {
    use tollgate::storage::usage_export::ExportRange;
    let s = &db.store;
    report_sql(
        s,
        "INSERT INTO accounts (id, name, platform, api_key_enc, api_key_hint, base_url, created_at, updated_at)
         VALUES ('a1', 'main', 'claude', 'x', 'sk…', 'http://127.0.0.1:1', 1, 1);
         INSERT INTO api_keys (id, key_hash, key_prefix, name, created_at, updated_at)
         VALUES ('k1', 'h1', 'tg_a', 'one', 1, 1), ('k2', 'h2', 'tg_b', 'two', 1, 1);
         INSERT INTO usage_events (request_id, key_id, account_id, platform, model, status, input_tokens,
             cost_micros, ttft_ms, stream, priced_by_fallback, created_at)
         VALUES ('e1', 'k1', 'a1', 'claude', 'm', 200, 5, 10, 40, TRUE, FALSE, 100),
                ('e2', 'k2', NULL, 'claude', 'm', 429, 0, 0, NULL, FALSE, FALSE, 150),
                ('e3', 'k1', 'gone', 'claude', 'm', 200, 1, 2, NULL, FALSE, TRUE, 200),
                ('e4', 'k1', 'a1', 'claude', 'm', 200, 1, 2, NULL, FALSE, FALSE, 300);",
    )
    .await;
    let range = ExportRange {
        from_ms: 100,
        to_ms: 300,
        key_id: None,
    };
    let first = s.usage_export_page(&range, 0, 2).await.unwrap();
    assert_eq!(
        first
            .iter()
            .map(|e| e.request_id.as_str())
            .collect::<Vec<_>>(),
        ["e1", "e2"]
    );
    let e1 = &first[0];
    assert_eq!(
        (
            e1.key_name.as_str(),
            e1.account_name.as_str(),
            e1.ttft_ms,
            e1.stream
        ),
        ("one", "main", Some(40), true)
    );
    assert_eq!(
        (
            first[1].account_id.as_str(),
            first[1].status,
            first[1].ttft_ms
        ),
        ("", 429, None)
    );
    let next = s.usage_export_page(&range, first[1].id, 2).await.unwrap();
    assert_eq!(next.len(), 1, "the end bound is exclusive");
    assert_eq!(
        (
            next[0].account_id.as_str(),
            next[0].account_name.as_str(),
            next[0].priced_by_fallback
        ),
        ("gone", "", true)
    );
    let k2 = ExportRange {
        key_id: Some("k2".into()),
        ..range
    };
    assert_eq!(s.usage_export_page(&k2, 0, 10).await.unwrap().len(), 1);
    assert!(s.api_key_exists("k2").await.unwrap());
    assert!(!s.api_key_exists("k9").await.unwrap());
}

/// An audit row for storage writes that need one (the story of audit rows is in
/// `storage_staff`).
fn event() -> tollgate::storage::audit::AuditRow {
    tollgate::storage::audit::AuditRow {
        id: uuid::Uuid::now_v7().to_string(),
        created_at: 1,
        actor_id: "test".into(),
        actor_name: "test".into(),
        client_addr: String::new(),
        action: "test".into(),
        target_type: String::new(),
        target_id: String::new(),
        target_name: String::new(),
        summary: "{}".into(),
    }
}

fn creator() -> app::types::KeyCreator {
    app::types::KeyCreator {
        id: "test".into(),
        name: "test".into(),
    }
}
