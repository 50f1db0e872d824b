//! The key's state on every answer: `x-tollgate-quota-remaining` (USD, six decimals, or
//! `unlimited`), and with a request-limited rate window `x-ratelimit-limit-requests`,
//! `x-ratelimit-remaining-requests` and `x-ratelimit-reset` (RFC 3339, whole seconds, UTC).
//!
//! Every answer carries them, so they are made without formatting machinery: the header names
//! are built once, the amount is written digit by digit, and the reset time is formatted once
//! per second (per thread) and reused.

use std::cell::RefCell;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderName, HeaderValue};

use crate::limits::{KeyLimits, LimitState};

static QUOTA_REMAINING: HeaderName = HeaderName::from_static("x-tollgate-quota-remaining");
static LIMIT_REQUESTS: HeaderName = HeaderName::from_static("x-ratelimit-limit-requests");
static REMAINING_REQUESTS: HeaderName = HeaderName::from_static("x-ratelimit-remaining-requests");
static RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// Adds the key's headers to an answer.
pub(super) fn insert(state: &dyn LimitState, key: &KeyLimits, headers: &mut HeaderMap) {
    let remaining = if key.quota_limit > 0 {
        let usage = state.usage(&key.id);
        usd_header(key.quota_limit - usage.spent - usage.reserved)
    } else {
        HeaderValue::from_static("unlimited")
    };
    headers.insert(&QUOTA_REMAINING, remaining);
    if let Some((left, reset)) = state.rate_remaining(key, Instant::now()) {
        headers.insert(&LIMIT_REQUESTS, HeaderValue::from(key.rate_requests));
        headers.insert(&REMAINING_REQUESTS, HeaderValue::from(left));
        if let Some(v) = reset_header(SystemTime::now() + reset) {
            headers.insert(&RESET, v);
        }
    }
}

/// Amounts below this are written from their integer digits: their `f64` value (micro-USD /
/// 10⁶) is within half a micro-USD of the exact amount (its ulp is at most 2⁻²⁰ below 2³²),
/// so `{:.6}` of it prints exactly those digits. Larger ones go through `{:.6}` as they always
/// did.
const EXACT_BELOW: i64 = 4_000_000_000 * 1_000_000;

/// A micro-USD amount as USD with six decimals (negative amounts as 0), as `{:.6}` of
/// `micros / 1e6` writes it.
pub(super) fn usd_header(micros: i64) -> HeaderValue {
    let micros = micros.max(0);
    if micros >= EXACT_BELOW {
        return HeaderValue::from_str(&format!("{:.6}", micros as f64 / 1_000_000.0))
            .unwrap_or(HeaderValue::from_static("0"));
    }
    let mut buf = [0u8; 24];
    let mut at = buf.len();
    let mut push = |digit: u8| {
        at -= 1;
        buf[at] = digit;
    };
    let mut fraction = micros % 1_000_000;
    for _ in 0..6 {
        push(b'0' + (fraction % 10) as u8);
        fraction /= 10;
    }
    push(b'.');
    let mut whole = micros / 1_000_000;
    loop {
        push(b'0' + (whole % 10) as u8);
        whole /= 10;
        if whole == 0 {
            break;
        }
    }
    HeaderValue::from_bytes(&buf[at..]).unwrap_or(HeaderValue::from_static("0"))
}

thread_local! {
    /// The reset header last made on this thread, by its Unix second.
    static LAST_RESET: RefCell<Option<(u64, HeaderValue)>> = const { RefCell::new(None) };
}

/// `at` in RFC 3339 to the second (`2026-01-02T03:04:05Z`, the fraction dropped).
fn reset_header(at: SystemTime) -> Option<HeaderValue> {
    let secs = at
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    LAST_RESET.with(|last| {
        let mut last = last.borrow_mut();
        if let Some((s, v)) = last.as_ref() {
            if *s == secs {
                return Some(v.clone());
            }
        }
        let time = chrono::DateTime::from_timestamp(i64::try_from(secs).ok()?, 0)?;
        let v =
            HeaderValue::from_str(&time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).ok()?;
        *last = Some((secs, v.clone()));
        Some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by_float(micros: i64) -> String {
        format!("{:.6}", micros.max(0) as f64 / 1_000_000.0)
    }

    #[test]
    fn amounts_read_as_the_float_formatting_wrote_them() {
        let mut cases: Vec<i64> = (-3..300_000).collect();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..50_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            cases.push((x % (EXACT_BELOW as u64 + 10_000_000)) as i64);
            cases.push((x % 1_000_000_000_000) as i64);
        }
        cases.extend([
            EXACT_BELOW - 1,
            EXACT_BELOW,
            EXACT_BELOW + 1,
            i64::MAX,
            i64::MIN,
        ]);
        for m in cases {
            assert_eq!(usd_header(m).to_str().unwrap(), by_float(m), "{m}");
        }
    }

    #[test]
    fn reset_is_rfc3339_to_the_second() {
        let at = UNIX_EPOCH + Duration::from_millis(1_767_323_045_999);
        let expected = (chrono::DateTime::<chrono::Utc>::from(at))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        assert_eq!(reset_header(at).unwrap().to_str().unwrap(), expected);
        assert_eq!(expected, "2026-01-02T03:04:05Z");
        // Reused within the second, made afresh for the next.
        let same = at - Duration::from_millis(500);
        assert_eq!(reset_header(same).unwrap().to_str().unwrap(), expected);
        let next = at + Duration::from_millis(1);
        assert_eq!(
            reset_header(next).unwrap().to_str().unwrap(),
            "2026-01-02T03:04:06Z"
        );
    }
}
