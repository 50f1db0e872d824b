//! The usage writer's insert of raw events: its SQL for a chunk of events on either database
//! (the full chunk's built once) and the chunk's values bound straight into the arguments.

use super::ROWS_PER_INSERT;

pub(super) const EVENT_COLUMNS: usize = 22;

/// The insert of `rows` events, skipping those already stored; with `returning`, it sends back
/// the (key, request id) of each row it inserted. Placeholders are `?` on SQLite (numbered ones
/// are looked up by name there, quadratic in their count) and `$n` on PostgreSQL.
pub(super) fn insert_sql(rows: usize, returning: bool, numbered: bool) -> String {
    use std::fmt::Write;
    let mut sql = String::with_capacity(400 + rows * EVENT_COLUMNS * 6);
    sql.push_str(
        "INSERT INTO usage_events (request_id, key_id, account_id, group_id, platform, model, input_tokens,
         output_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens, cost_micros, price,
         priced_by_fallback, status, error_type, latency_ms, ttft_ms, stream, client_disconnected, created_at,
         usage_estimated) VALUES ",
    );
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for col in 0..EVENT_COLUMNS {
            if col > 0 {
                sql.push_str(", ");
            }
            if numbered {
                let _ = write!(sql, "${}", row * EVENT_COLUMNS + col + 1);
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    sql.push_str(" ON CONFLICT (key_id, request_id) DO NOTHING");
    if returning {
        sql.push_str(" RETURNING key_id, request_id");
    }
    sql
}

/// The insert of a full chunk ([`ROWS_PER_INSERT`] rows) for the pool's database, built once.
pub(super) fn full_insert_sql<DB: sqlx::Database>(_: &sqlx::Pool<DB>) -> &'static str {
    static QUESTION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static NUMBERED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let numbered = is_postgres::<DB>();
    let cell = if numbered { &NUMBERED } else { &QUESTION };
    cell.get_or_init(|| insert_sql(ROWS_PER_INSERT, false, numbered))
}

pub(super) fn is_postgres_pool<DB: sqlx::Database>(_: &sqlx::Pool<DB>) -> bool {
    is_postgres::<DB>()
}

fn is_postgres<DB: sqlx::Database>() -> bool {
    DB::NAME == <sqlx::Postgres as sqlx::Database>::NAME
}

/// The placeholders' values for a chunk of events, in [`insert_sql`]'s column order. (A macro:
/// each backend's arguments; the caller has `no_arguments` and `tokens` in scope.)
macro_rules! event_args {
    ($pool:expr, $rows:expr) => {{
        let mut args = no_arguments($pool);
        // Room for every value at once: a full chunk binds 4,400, and the list grown value by
        // value was reallocated and copied about ten times per chunk.
        sqlx::Arguments::reserve(&mut args, $rows.len() * EVENT_COLUMNS, $rows.len() * 256);
        for e in $rows {
            sqlx::Arguments::add(&mut args, &e.request_id).map_err(sqlx::Error::Encode)?;
            sqlx::Arguments::add(&mut args, e.key_id.as_ref()).map_err(sqlx::Error::Encode)?;
            sqlx::Arguments::add(&mut args, e.account_id.as_deref())
                .map_err(sqlx::Error::Encode)?;
            sqlx::Arguments::add(&mut args, e.group_id.as_deref()).map_err(sqlx::Error::Encode)?;
            sqlx::Arguments::add(&mut args, e.platform).map_err(sqlx::Error::Encode)?;
            sqlx::Arguments::add(&mut args, &e.model).map_err(sqlx::Error::Encode)?;
            sqlx::Arguments::add(&mut args, tokens(e.usage.input)).map_err(sqlx::Error::Encode)?;
            sqlx::Arguments::add(&mut args, tokens(e.usage.output)).map_err(sqlx::Error::Encode)?;
            sqlx::Arguments::add(&mut args, tokens(e.usage.cache_write_5m))
                .map_err(sqlx::Error::Encode)?;
            sqlx::Arguments::add(&mut args, tokens(e.usage.cache_write_1h))
                .map_err(sqlx::Error::Encode)?;
            sqlx::Arguments::add(&mut args, tokens(e.usage.cache_read))
                .map_err(sqlx::Error::Encode)?;
            sqlx::Arguments::add(&mut args, e.cost_micros).map_err(sqlx::Error::Encode)?;
            sqlx::Arguments::add(&mut args, &e.price).map_err(sqlx::Error::Encode)?;
            sqlx::Arguments::add(&mut args, e.priced_by_fallback).map_err(sqlx::Error::Encode)?;
            sqlx::Arguments::add(&mut args, i64::from(e.status)).map_err(sqlx::Error::Encode)?;
            sqlx::Arguments::add(&mut args, e.error_type.as_deref())
                .map_err(sqlx::Error::Encode)?;
            sqlx::Arguments::add(&mut args, e.latency_ms).map_err(sqlx::Error::Encode)?;
            sqlx::Arguments::add(&mut args, e.ttft_ms).map_err(sqlx::Error::Encode)?;
            sqlx::Arguments::add(&mut args, e.stream).map_err(sqlx::Error::Encode)?;
            sqlx::Arguments::add(&mut args, e.client_disconnected).map_err(sqlx::Error::Encode)?;
            sqlx::Arguments::add(&mut args, e.created_at).map_err(sqlx::Error::Encode)?;
            sqlx::Arguments::add(&mut args, e.usage_estimated).map_err(sqlx::Error::Encode)?;
        }
        args
    }};
}

pub(super) fn no_arguments<'q, DB: sqlx::Database>(_: &sqlx::Pool<DB>) -> DB::Arguments<'q> {
    Default::default()
}
pub(super) use event_args;
