//! Money on the wire: USD amounts are JSON numbers (`20.0`), stored and computed as integer
//! micro-dollars. These helpers are the only place the two meet.

/// USD → micro-USD, rounded to the nearest micro-dollar. `None` for NaN, infinities and values
/// too large to store.
pub fn usd_to_micros(usd: f64) -> Option<i64> {
    if !usd.is_finite() || usd.abs() > 9.0e12 {
        return None;
    }
    Some((usd * 1_000_000.0).round() as i64)
}

/// micro-USD → USD for display and JSON.
pub fn micros_to_usd(micros: i64) -> f64 {
    micros as f64 / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        assert_eq!(usd_to_micros(20.0), Some(20_000_000));
        assert_eq!(usd_to_micros(0.1 + 0.2), Some(300_000));
        assert_eq!(usd_to_micros(f64::NAN), None);
        assert_eq!(micros_to_usd(1_500_000), 1.5);
    }
}
