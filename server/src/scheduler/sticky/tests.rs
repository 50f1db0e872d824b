use super::*;
use serde_json::json;

#[test]
fn session_ids_from_claude_code_and_older_clients() {
    let new_style = r#"{"device_id":"abc","account_uuid":"","session_id":"5f0c-11"}"#;
    assert_eq!(session_from_user_id(new_style), Some("5f0c-11"));
    let old = "user_abc123_account__session_7d1e2f3a-0000-1111-2222-333344445555";
    assert_eq!(
        session_from_user_id(old),
        Some("7d1e2f3a-0000-1111-2222-333344445555")
    );
    assert_eq!(session_from_user_id("plain-user"), None);
}

#[test]
fn content_hash_ignores_cache_control() {
    let sys1 =
        json!([{"type":"text","text":"You are helpful","cache_control":{"type":"ephemeral"}}]);
    let sys2 = json!([{"type":"text","text":"You are helpful"}]);
    let u = json!({"role":"user","content":"hi"});
    assert_eq!(
        session_hash(None, Some(&sys1), Some(&u)),
        session_hash(None, Some(&sys2), Some(&u))
    );
    let other = json!({"role":"user","content":"hello"});
    assert_ne!(
        session_hash(None, Some(&sys2), Some(&u)),
        session_hash(None, Some(&sys2), Some(&other))
    );
    assert_ne!(
        session_hash(Some("a"), None, None),
        session_hash(Some("b"), None, None)
    );
    assert_eq!(session_hash(None, None, None), None);
}

/// The hash without copies is the hash of a stripped copy (as bindings made before it).
#[test]
fn content_hash_is_the_stripped_copys() {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                map.remove("cache_control");
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let sys = json!([{"type":"text","text":"You are \"helpful\"","cache_control":{"type":"ephemeral"}},
        {"type":"text","text":"ü\u{1}","nested":{"cache_control":1,"k":[1.5,null,true,{"cache_control":[]}]}}]);
    let u = json!({"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral"}}]});
    for (sys, u) in [(Some(&sys), Some(&u)), (None, Some(&u)), (Some(&sys), None)] {
        let (mut s2, mut u2) = (
            sys.cloned().unwrap_or(Value::Null),
            u.cloned().unwrap_or(Value::Null),
        );
        strip(&mut s2);
        strip(&mut u2);
        let old = hash64(&[
            b"content",
            &serde_json::to_vec(&s2).unwrap(),
            &serde_json::to_vec(&u2).unwrap(),
        ]);
        assert_eq!(session_hash(None, sys, u), Some(old));
    }
}

#[test]
fn ttl_and_renewal() {
    let k: Arc<str> = "key".into();
    let m = StickyMap::new(1_000, 0);
    m.set(&k, 1, "a".into(), 0);
    assert_eq!(m.get(&k, 1, 999).as_deref(), Some("a"));
    assert_eq!(m.get(&k, 1, 1_000), None, "expired");
    let other: Arc<str> = "other".into();
    m.set(&k, 2, "a".into(), 0);
    assert_eq!(m.get(&other, 2, 1), None, "scoped per key");

    let r = StickyMap::new(1_000, 300);
    r.set(&k, 1, "a".into(), 0);
    assert_eq!(r.get(&k, 1, 500).as_deref(), Some("a"));
    assert_eq!(
        r.get(&k, 1, 800).as_deref(),
        Some("a"),
        "renewed: 200 ms left < 300"
    );
    assert_eq!(
        r.get(&k, 1, 1_400).as_deref(),
        Some("a"),
        "lives until 800 + 1000; 400 ms left, no renewal"
    );
    assert_eq!(r.get(&k, 1, 1_801), None);
    assert_eq!(r.sweep(10_000), 0);
}

#[test]
fn bindings_and_renewals_are_shared_and_seeds_taken() {
    let k: Arc<str> = "key".into();
    let m = StickyMap::new(1_000, 300);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    m.share_to(tx);
    m.set(&k, 1, "a".into(), 0);
    assert!(
        rx.try_recv().is_err(),
        "the scheduler writes new bindings itself"
    );
    // A read far from the end neither renews nor writes; peeking never does.
    assert_eq!(m.get(&k, 1, 100).as_deref(), Some("a"));
    assert_eq!(m.peek(&k, 1, 800), Some(("a".into(), 1_000)));
    assert!(rx.try_recv().is_err());
    assert_eq!(m.get(&k, 1, 800).as_deref(), Some("a"));
    assert_eq!(rx.try_recv().unwrap(), (k.clone(), 1, "a".into(), 1_800));
    // Another instance renewed it further: the seed moves the end; a shorter one does not.
    m.seed(&k, 1, "a".into(), 2_500);
    m.seed(&k, 1, "a".into(), 2_000);
    assert_eq!(m.peek(&k, 1, 2_400), Some(("a".into(), 2_500)));
    assert_eq!(m.peek(&k, 1, 2_500), None);
    // A conversation bound elsewhere, or moved there, is taken as it is.
    m.seed(&k, 2, "b".into(), 900);
    m.seed(&k, 1, "c".into(), 1_500);
    assert_eq!(m.peek(&k, 2, 0), Some(("b".into(), 900)));
    assert_eq!(m.peek(&k, 1, 0), Some(("c".into(), 1_500)));
    assert!(rx.try_recv().is_err(), "seeds are not written back");
}

#[test]
fn each_key_keeps_a_bounded_number_of_sessions() {
    let (k, other): (Arc<str>, Arc<str>) = ("key".into(), "other".into());
    let m = StickyMap::with_cap(60_000, 0, 100);
    m.set(&other, 1, "b".into(), 0);
    for session in 0..10_000u64 {
        m.set(&k, session, "a".into(), 0);
    }
    assert_eq!(m.sessions_of(&k), 100);
    // The most recent survive; the oldest were forgotten; other keys are untouched.
    assert_eq!(m.get(&k, 9_999, 1).as_deref(), Some("a"));
    assert_eq!(m.get(&k, 0, 1), None);
    assert_eq!(m.get(&other, 1, 1).as_deref(), Some("b"));
    assert_eq!(m.sweep(1), 101);
    assert_eq!(m.sweep(60_001), 0);
}
