//! The usage writer's insert of raw events: how a batch is cut into chunks, each chunk's SQL on
//! either database (built once per size) and its values bound straight into the arguments.

pub(super) const EVENT_COLUMNS: usize = 22;

/// The most rows one insert takes. A batch is cut into inserts of this many rows and, for what
/// is left, of the powers of two below it (100 rows: 64, 32 and 4), so every insert is one of
/// seven statements, each compiled once per connection and kept. An insert of any other length
/// was another statement, compiled for that one batch and thrown away: SQLite's parser then
/// cost more per row than the insert itself (below about 5,000 requests/s, where batches are
/// smaller than the queue's 1,024, that was every row). All seven together (127 rows) keep less
/// compiled program per connection than the one 200-row insert kept before.
pub(super) const ROWS_PER_INSERT: usize = 64;

/// The row counts of the inserts that write `n` events, largest first; they add up to `n`.
fn chunk_sizes(n: usize) -> impl Iterator<Item = usize> {
    let full = n / ROWS_PER_INSERT;
    let rest = n % ROWS_PER_INSERT;
    std::iter::repeat_n(ROWS_PER_INSERT, full).chain(
        (0..ROWS_PER_INSERT.trailing_zeros())
            .rev()
            .map(|bit| 1 << bit)
            .filter(move |size| rest & size != 0),
    )
}

/// `events` cut into the inserts that write them, in [`chunk_sizes`]'s order.
pub(super) fn chunks<T>(events: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = events;
    chunk_sizes(events.len()).map(move |size| {
        // The sizes add up to the length, so the split always fits.
        let (chunk, tail) = rest.split_at_checked(size).unwrap_or((rest, &[]));
        rest = tail;
        chunk
    })
}

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

/// The insert of a chunk of `rows` rows (one of [`chunk_sizes`]'s: a power of two up to
/// [`ROWS_PER_INSERT`]) for the pool's database, built once.
pub(super) fn chunk_insert_sql<DB: sqlx::Database>(
    _: &sqlx::Pool<DB>,
    rows: usize,
) -> &'static str {
    type Built = [std::sync::OnceLock<String>; SIZES];
    const SIZES: usize = ROWS_PER_INSERT.trailing_zeros() as usize + 1;
    static QUESTION: Built = [const { std::sync::OnceLock::new() }; SIZES];
    static NUMBERED: Built = [const { std::sync::OnceLock::new() }; SIZES];
    debug_assert!(rows.is_power_of_two() && rows <= ROWS_PER_INSERT);
    let numbered = is_postgres::<DB>();
    let cells = if numbered { &NUMBERED } else { &QUESTION };
    let slot = (rows.trailing_zeros() as usize).min(SIZES - 1);
    cells[slot].get_or_init(|| insert_sql(1 << slot, false, numbered))
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
        // Room for every value at once: a full chunk binds 1,408, and the list grown value by
        // value was reallocated and copied about eight times per chunk.
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every batch size from empty to well past the queue's: the chunks add up to it, each is
    /// one of the seven kept statements' sizes, and at most one of each size below the largest.
    #[test]
    fn a_batch_is_cut_into_the_kept_sizes() {
        for n in 0..=2_100 {
            let sizes: Vec<usize> = chunk_sizes(n).collect();
            assert_eq!(sizes.iter().sum::<usize>(), n, "{n}: {sizes:?}");
            assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{n}: {sizes:?}");
            for size in &sizes {
                assert!(
                    size.is_power_of_two() && *size <= ROWS_PER_INSERT,
                    "{n}: {sizes:?}"
                );
            }
            let small: Vec<usize> = sizes
                .iter()
                .copied()
                .filter(|s| *s < ROWS_PER_INSERT)
                .collect();
            let mut distinct = small.clone();
            distinct.dedup();
            assert_eq!(small, distinct, "{n}: {sizes:?}");
        }
        assert_eq!(chunk_sizes(100).collect::<Vec<_>>(), [64, 32, 4]);
        let events: Vec<usize> = (0..100).collect();
        let cut: Vec<&[usize]> = chunks(&events).collect();
        assert_eq!(cut.iter().map(|c| c.len()).collect::<Vec<_>>(), [64, 32, 4]);
        assert_eq!(cut.concat(), events, "in order, each event once");
        assert_eq!(chunk_sizes(1024).count(), 16);
    }

    /// Each size's statement has exactly its rows' placeholders, on either database.
    #[test]
    fn a_chunks_statement_takes_its_rows_values() {
        for size in chunk_sizes(127) {
            let question = insert_sql(size, false, false);
            assert_eq!(question.matches('?').count(), size * EVENT_COLUMNS);
            let numbered = insert_sql(size, false, true);
            let last = format!("${})", size * EVENT_COLUMNS);
            assert!(numbered.contains(&last), "{size}");
            assert!(!numbered.contains(&format!("${}", size * EVENT_COLUMNS + 1)));
        }
    }
}
