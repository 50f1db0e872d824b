//! Writing a batch whatever is in it: a batch the database refuses is split in halves until the
//! offending events are alone; each of those is set aside in `usage_dead_letters` (its cost
//! still billed through a sanitised copy when the database takes that), with a log line, a
//! Prometheus counter and a `usage.dead_letter` webhook. No batch is retried forever for what
//! is in it.
//!
//! A batch that fails because the database is unavailable (connection lost, locked, read-only,
//! out of space, permission denied) is not poison: it is kept whole and retried with backoff.
//! The two are told apart by the error, and by a last check: an event is dead-lettered only if
//! the dead-letter insert itself succeeds, so a database that takes no writes at all never has
//! its events set aside.

use std::sync::atomic::Ordering;

use serde_json::json;

use super::{Shared, UsageEvent};
use crate::storage::usage_write::{write_batch, DeadLetter};
use crate::storage::StoreError;
use crate::webhooks::EventKind;

/// Longest model name (in characters) a sanitised copy keeps, and the caps of dead-letter text.
const SANE_MODEL_CHARS: usize = 128;
const MAX_FIELD_CHARS: usize = 1024;
const MAX_ERROR_CHARS: usize = 2000;

/// Why a write did not go through.
#[derive(Debug)]
pub enum Failure {
    /// The database is unavailable: keep the events and retry later.
    Unavailable(StoreError),
}

/// True when `e` says the database cannot take writes now, rather than that one of the rows is
/// unacceptable.
pub fn is_unavailable(e: &StoreError) -> bool {
    let StoreError::Db(e) = e else {
        return false;
    };
    let sqlx::Error::Database(db) = e else {
        // I/O, TLS, protocol, pool timeouts and closed pools: the connection, never the row.
        return !matches!(
            e,
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) | sqlx::Error::Encode(_)
        );
    };
    let Some(code) = db.code() else {
        return false;
    };
    let postgres = db
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .is_some();
    if let (false, Ok(n)) = (postgres, code.parse::<i32>()) {
        // SQLite (extended) result codes: BUSY, LOCKED, NOMEM, READONLY, INTERRUPT, IOERR,
        // CORRUPT, FULL, CANTOPEN, PROTOCOL, NOTADB, and ERROR (no such table and the like:
        // the schema, not the row).
        return matches!(n & 0xff, 1 | 5..=11 | 13..=15 | 26);
    }
    // PostgreSQL SQLSTATE classes: connection, transaction state, authorization, syntax or
    // access rule (permission denied, missing table), resources, object state, operator
    // intervention, system, and transaction rollback (serialization, deadlock).
    let class = code.get(..2).unwrap_or("");
    matches!(
        class,
        "08" | "25" | "28" | "3D" | "3F" | "40" | "42" | "53" | "55" | "57" | "58" | "XX"
    )
}

/// Writes `events`, splitting on refusals; returns the events newly written, or
/// [`Failure::Unavailable`] (nothing is lost: whatever was written is skipped next time).
pub async fn write_all(shared: &Shared, events: &[UsageEvent]) -> Result<usize, Failure> {
    if events.is_empty() {
        return Ok(0);
    }
    // Halves still to write, the last pushed first: the batch's order is kept.
    let mut todo: Vec<&[UsageEvent]> = vec![events];
    let mut written = 0;
    let mut set_aside = Vec::new();
    while let Some(part) = todo.pop() {
        match write_batch(&shared.store, shared.tz, part).await {
            Ok(n) => written += n,
            Err(e) if is_unavailable(&e) => return Err(Failure::Unavailable(e)),
            Err(e) if part.len() == 1 => {
                let billed = dead_letter(shared, &part[0], &e).await?;
                written += usize::from(billed);
                set_aside.push(part[0].request_id.clone());
            }
            Err(_) => {
                let (a, b) = part.split_at(part.len() / 2);
                todo.push(b);
                todo.push(a);
            }
        }
    }
    if !set_aside.is_empty() {
        shared.alert(
            EventKind::UsageDeadLetter,
            json!({
                "component": "usage_writer",
                "message": "usage events the database refused were set aside in usage_dead_letters",
                "events": set_aside.len(),
                "requestIds": set_aside.iter().take(10).collect::<Vec<_>>(),
            }),
        );
    }
    Ok(written)
}

/// Sets one refused event aside; true when a sanitised copy was billed in its place.
async fn dead_letter(shared: &Shared, e: &UsageEvent, error: &StoreError) -> Result<bool, Failure> {
    let sane = sanitised(e);
    let billed = match write_batch(&shared.store, shared.tz, std::slice::from_ref(&sane)).await {
        Ok(_) => true,
        Err(e) if is_unavailable(&e) => return Err(Failure::Unavailable(e)),
        Err(_) => false,
    };
    let event = safe_text(
        &serde_json::to_string(&super::Spooled::from(&capped(e))).unwrap_or_default(),
        usize::MAX,
    );
    let error_text = safe_text(&error.to_string(), MAX_ERROR_CHARS);
    let letter = DeadLetter {
        request_id: &safe_text(&e.request_id, 200),
        key_id: &safe_text(&e.key_id, 200),
        event: &event,
        error: &error_text,
        billed,
        created_at: crate::storage::now_ms(),
    };
    if let Err(err) = shared.store.insert_dead_letter(&letter).await {
        // A database that refuses even this takes no writes: keep the event.
        return Err(Failure::Unavailable(err));
    }
    shared.stats.dead_letters.fetch_add(1, Ordering::Relaxed);
    tracing::error!(
        request_id = %letter.request_id,
        key_id = %letter.key_id,
        billed,
        error = %error_text,
        "a usage event the database refused was set aside in usage_dead_letters"
    );
    Ok(billed)
}

/// Text any database stores: no NUL or other control character (escaped as `\u{..}`), at
/// most `max` characters.
pub fn safe_text(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max));
    for (n, c) in s.chars().enumerate() {
        if n >= max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// The event with its client-chosen texts capped, for the dead-letter record.
fn capped(e: &UsageEvent) -> UsageEvent {
    let mut c = e.clone();
    c.model = safe_text(&e.model, MAX_FIELD_CHARS);
    c.error_type = e
        .error_type
        .as_deref()
        .map(|t| safe_text(t, MAX_FIELD_CHARS));
    c
}

/// The copy that is billed: the model without control characters, at most 128 characters; the
/// error type likewise. Same request id, so it is written once however often it is retried.
fn sanitised(e: &UsageEvent) -> UsageEvent {
    let clean = |s: &str, max: usize| -> String {
        s.chars().filter(|c| !c.is_control()).take(max).collect()
    };
    let mut c = e.clone();
    c.model = clean(&e.model, SANE_MODEL_CHARS);
    c.error_type = e.error_type.as_deref().map(|t| clean(t, SANE_MODEL_CHARS));
    c.price = clean(&e.price, MAX_FIELD_CHARS * 4);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_text_escapes_controls_and_caps() {
        assert_eq!(safe_text("a\0b\n", 10), "a\\u{0}b\\u{a}");
        assert_eq!(safe_text("abcdef", 3), "abc…");
        assert_eq!(safe_text("模型", 5), "模型");
    }

    #[test]
    fn the_sanitised_copy_keeps_money_and_identity() {
        let e = UsageEvent {
            request_id: "r1".into(),
            model: format!("x\0{}", "y".repeat(5000)),
            cost_micros: 42,
            ..Default::default()
        };
        let s = sanitised(&e);
        assert_eq!(s.request_id, "r1");
        assert_eq!(s.cost_micros, 42);
        assert_eq!(s.model.chars().count(), 128);
        assert!(!s.model.contains('\0'));
    }
}
