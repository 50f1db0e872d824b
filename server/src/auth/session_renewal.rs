//! Sessions end `SESSION_TTL_HOURS` after their last use, not after the login.
//!
//! tower-sessions writes a session (and sends a fresh cookie) only when it was modified, so an
//! untouched session used to die a fixed time after the login however busy its admin was.
//! Writing on every request would cost a database write per page and server call; instead a
//! session is renewed (its `renewed_at` mark updated, which saves it with a new expiry and sends
//! a new cookie) on the first request after an eighth of the TTL has passed since the last
//! renewal. An idle session therefore ends between ⅞ of the TTL and the whole TTL after its last
//! request, and an active one is written at most once per eighth of the TTL.

use std::time::Duration;

use tower_sessions::Session;

/// Session key holding when the session was last renewed (epoch ms).
pub const RENEWED_AT_KEY: &str = "renewed_at";

/// Renews the session if an eighth of `ttl` has passed since it was last renewed.
pub async fn renew_if_due(
    session: &Session,
    now_ms: i64,
    ttl: Duration,
) -> Result<bool, tower_sessions::session::Error> {
    let every = (ttl.as_millis() / 8) as i64;
    let last: Option<i64> = session.get(RENEWED_AT_KEY).await?;
    if last.is_some_and(|t| now_ms - t < every) {
        return Ok(false);
    }
    session.insert(RENEWED_AT_KEY, now_ms).await?;
    Ok(true)
}
