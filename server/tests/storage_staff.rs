//! The storage story of staff, on SQLite and on PostgreSQL: users and roles, the last active
//! admin checked inside the write's transaction, sessions and tokens ended with a role change,
//! `createdBy` on keys (kept when the user goes), and audit rows written with their change,
//! filtered, paged and pruned.

mod common;

use app::types::{KeyCreator, KeySettings};
use common::{Backend, TestDb};
use tollgate::keys::validate::{key_settings, Mode};
use tollgate::storage::audit::{AuditFilter, AuditRow};
use tollgate::storage::keys::{KeyFilter, NewKey};
use tollgate::storage::users::{NewUser, UserChange, UserWrite};

macro_rules! story {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(super::TestDb::new(super::Backend::Sqlite).await).await;
            }
            #[tokio::test]
            async fn postgres() {
                super::$name(super::TestDb::new(super::Backend::Postgres).await).await;
            }
        }
    };
}

fn event(action: &str, actor: &str, at: i64) -> AuditRow {
    AuditRow {
        id: uuid::Uuid::now_v7().to_string(),
        created_at: at,
        actor_id: actor.into(),
        actor_name: format!("{actor}-name"),
        client_addr: "127.0.0.1".into(),
        action: action.into(),
        target_type: "user".into(),
        target_id: String::new(),
        target_name: String::new(),
        summary: r#"{"password":"changed"}"#.into(),
    }
}

fn user(id: &str, role: &str) -> NewUser {
    NewUser {
        id: id.into(),
        username: id.into(),
        password_hash: "hash".into(),
        role: role.into(),
        display_name: String::new(),
        allowed_preset_ids: r#"["p1"]"#.into(),
    }
}

async fn audit_count(db: &TestDb, action: &str) -> i64 {
    let filter = AuditFilter {
        action: Some(action.into()),
        ..Default::default()
    };
    db.store.list_audit_events(&filter, 100, 0).await.unwrap().1
}

story!(users_roles_and_the_last_admin);
async fn users_roles_and_the_last_admin(db: TestDb) {
    let s = &db.store;
    assert_eq!(
        s.insert_user(&user("root", "admin"), &event("user.create", "cli", 1))
            .await
            .unwrap(),
        UserWrite::Done
    );
    assert_eq!(
        s.insert_user(&user("sam", "seller"), &event("user.create", "root", 2))
            .await
            .unwrap(),
        UserWrite::Done
    );
    assert_eq!(
        s.insert_user(&user("sam", "viewer"), &event("user.create", "root", 3))
            .await
            .unwrap(),
        UserWrite::Duplicate
    );
    assert_eq!(
        audit_count(&db, "user.create").await,
        2,
        "the duplicate wrote no audit row"
    );
    let rows = s.list_users().await.unwrap();
    assert_eq!(rows.len(), 2);
    let sam = rows.iter().find(|r| r.id == "sam").unwrap();
    assert_eq!(
        (
            sam.role.as_str(),
            sam.is_active,
            sam.allowed_preset_ids.as_str()
        ),
        ("seller", true, r#"["p1"]"#)
    );

    // Demoting or disabling the only active admin rolls back, audit row included.
    for change in [
        UserChange {
            role: Some("seller".into()),
            ..Default::default()
        },
        UserChange {
            is_active: Some(false),
            ..Default::default()
        },
    ] {
        assert_eq!(
            s.update_user("root", &change, &event("user.update", "root", 4))
                .await
                .unwrap(),
            UserWrite::LastAdmin
        );
    }
    assert_eq!(
        s.delete_user("root", &event("user.delete", "root", 4))
            .await
            .unwrap(),
        UserWrite::LastAdmin
    );
    assert_eq!(
        audit_count(&db, "user.update").await + audit_count(&db, "user.delete").await,
        0
    );
    assert_eq!(s.admin_by_id("root").await.unwrap().unwrap().role, "admin");

    // A role change ends the user's tokens in the same transaction.
    s.insert_admin_token("tok-sam", "sam", i64::MAX)
        .await
        .unwrap();
    assert_eq!(
        s.admin_for_token("tok-sam").await.unwrap().as_deref(),
        Some("sam")
    );
    let change = UserChange {
        role: Some("viewer".into()),
        end_sessions: true,
        ..Default::default()
    };
    assert_eq!(
        s.update_user("sam", &change, &event("user.update", "root", 5))
            .await
            .unwrap(),
        UserWrite::Done
    );
    assert_eq!(s.admin_for_token("tok-sam").await.unwrap(), None);
    assert_eq!(s.admin_by_id("sam").await.unwrap().unwrap().role, "viewer");
    assert_eq!(audit_count(&db, "user.update").await, 1);
    assert_eq!(
        s.update_user("nobody", &change, &event("user.update", "root", 6))
            .await
            .unwrap(),
        UserWrite::NotFound
    );

    // With a second admin the first may go.
    s.insert_user(&user("ann", "admin"), &event("user.create", "root", 7))
        .await
        .unwrap();
    assert_eq!(
        s.delete_user("root", &event("user.delete", "ann", 8))
            .await
            .unwrap(),
        UserWrite::Done
    );
    assert!(s.admin_by_id("root").await.unwrap().is_none());
    assert_eq!(audit_count(&db, "user.delete").await, 1);
}

story!(keys_remember_their_creator);
async fn keys_remember_their_creator(db: TestDb) {
    let s = &db.store;
    let now = 1_800_000_000_000;
    s.insert_user(&user("sam", "seller"), &event("user.create", "cli", 1))
        .await
        .unwrap();
    s.insert_user(&user("root", "admin"), &event("user.create", "cli", 1))
        .await
        .unwrap();
    let keys: Vec<NewKey> = ["o1", "o2", "o3"]
        .iter()
        .map(|name| NewKey {
            id: (*name).into(),
            key_hash: format!("hash-{name}"),
            key_prefix: format!("tg_{name}"),
            name: (*name).into(),
            config: key_settings(
                &KeySettings {
                    sale_price: Some(2.0),
                    ..Default::default()
                },
                Mode::Create { now },
                "",
            )
            .unwrap(),
        })
        .collect();
    let sam = KeyCreator {
        id: "sam".into(),
        name: "sam".into(),
    };
    let events: Vec<AuditRow> = keys
        .iter()
        .map(|_| event("key.create", "sam", now))
        .collect();
    s.insert_api_keys(&keys, &sam, &events, now).await.unwrap();
    assert_eq!(
        audit_count(&db, "key.create").await,
        3,
        "one row per key, with the keys"
    );
    let filter = KeyFilter {
        created_by: Some("sam".into()),
        ..Default::default()
    };
    let (rows, total) = s.list_api_keys(&filter, now, 10, 0).await.unwrap();
    assert_eq!(total, 3);
    assert!(rows
        .iter()
        .all(|r| r.created_by_id.as_deref() == Some("sam")));
    let other = KeyFilter {
        created_by: Some("root".into()),
        ..Default::default()
    };
    assert_eq!(s.list_api_keys(&other, now, 10, 0).await.unwrap().1, 0);

    // The seller goes; the keys keep who created them, and the sales report groups by them.
    s.delete_user("sam", &event("user.delete", "root", now))
        .await
        .unwrap();
    let row = s.api_key_by_id("o1").await.unwrap().unwrap();
    assert_eq!(
        (row.created_by_id.as_deref(), row.created_by_name.as_deref()),
        (Some("sam"), Some("sam"))
    );
    let sales = s.key_sales(now - 1, now + 1).await.unwrap();
    let mine: i64 = sales
        .iter()
        .filter(|r| r.seller_id == "sam")
        .map(|r| r.keys)
        .sum();
    assert_eq!(mine, 3);
    assert!(sales.iter().all(|r| r.seller_name == "sam"));
}

story!(audit_rows_filter_page_and_prune);
async fn audit_rows_filter_page_and_prune(db: TestDb) {
    let s = &db.store;
    for i in 0..25 {
        let actor = if i % 5 == 0 { "ann" } else { "bob" };
        s.insert_audit_event(&event(
            if i % 2 == 0 { "login" } else { "key.update" },
            actor,
            1_000 + i,
        ))
        .await
        .unwrap();
    }
    let all = AuditFilter::default();
    let (page, total) = s.list_audit_events(&all, 10, 0).await.unwrap();
    assert_eq!((page.len(), total), (10, 25));
    assert_eq!(page[0].created_at, 1_024, "newest first");
    let (last, _) = s.list_audit_events(&all, 10, 20).await.unwrap();
    assert_eq!(last.len(), 5);
    let ann = AuditFilter {
        actor_id: Some("ann".into()),
        ..Default::default()
    };
    assert_eq!(s.list_audit_events(&ann, 100, 0).await.unwrap().1, 5);
    let window = AuditFilter {
        since: Some(1_010),
        until: Some(1_020),
        action: Some("login".into()),
        ..Default::default()
    };
    let (rows, n) = s.list_audit_events(&window, 100, 0).await.unwrap();
    assert_eq!(n, 5);
    assert!(rows
        .iter()
        .all(|r| (1_010..1_020).contains(&r.created_at) && r.action == "login"));
    assert_eq!(rows[0].summary, r#"{"password":"changed"}"#);
    assert_eq!(s.prune_audit_events(1_020).await.unwrap(), 20);
    assert_eq!(s.list_audit_events(&all, 100, 0).await.unwrap().1, 5);
}

story!(concurrent_cross_demotions_leave_an_admin);
/// Two admins demote (or disable) each other at the same moment, many times over: exactly one
/// of each pair passes, never both (on PostgreSQL the active admins' rows are locked first).
async fn concurrent_cross_demotions_leave_an_admin(db: TestDb) {
    let s = &db.store;
    for id in ["a1", "a2"] {
        s.insert_user(&user(id, "admin"), &event("user.create", "cli", 1))
            .await
            .unwrap();
    }
    let demote = UserChange {
        role: Some("seller".into()),
        end_sessions: true,
        ..Default::default()
    };
    let disable = UserChange {
        is_active: Some(false),
        ..Default::default()
    };
    let restore = UserChange {
        role: Some("admin".into()),
        is_active: Some(true),
        ..Default::default()
    };
    for round in 0..30 {
        let (first, second) = if round % 2 == 0 {
            (&demote, &disable)
        } else {
            (&demote, &demote)
        };
        let (e1, e2) = (
            event("user.update", "a2", 10),
            event("user.update", "a1", 10),
        );
        let (r1, r2) = tokio::join!(
            s.update_user("a1", first, &e1),
            s.update_user("a2", second, &e2)
        );
        let outcomes = [r1.unwrap(), r2.unwrap()];
        assert!(
            outcomes.contains(&UserWrite::Done) && outcomes.contains(&UserWrite::LastAdmin),
            "round {round}: {outcomes:?}"
        );
        let active: i64 = s
            .list_users()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.role == "admin" && r.is_active)
            .count() as i64;
        assert_eq!(active, 1, "round {round}");
        for id in ["a1", "a2"] {
            s.update_user(id, &restore, &event("user.update", "cli", 11))
                .await
                .unwrap();
        }
    }
}
