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

    s.set_admin_password("a1", "hash-3").await.unwrap();
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
    let store = DbSessionStore::new(db.store.clone());
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

    record.data.insert("extra".into(), serde_json::json!(42));
    store.save(&record).await.unwrap();
    assert_eq!(
        store.load(&record.id).await.unwrap().unwrap().data["extra"],
        42
    );

    // A password change ends the admin's sessions.
    db.store.set_admin_password("a1", "h2").await.unwrap();
    assert!(store.load(&record.id).await.unwrap().is_none());

    let mut expired = Record {
        id: Id::default(),
        data: Default::default(),
        expiry_date: time::OffsetDateTime::now_utc() - time::Duration::minutes(1),
    };
    store.create(&mut expired).await.unwrap();
    assert!(
        store.load(&expired.id).await.unwrap().is_none(),
        "expired sessions do not load"
    );
    store.delete(&expired.id).await.unwrap();
}

story!(overview_counts);
async fn overview_counts(db: TestDb) {
    let counts = db.store.overview_counts().await.unwrap();
    assert_eq!(counts, Default::default());
}

story!(migrations_are_idempotent);
async fn migrations_are_idempotent(db: TestDb) {
    db.store.migrate().await.unwrap();
    db.store.ping().await.unwrap();
}
