//! Numbers, money, shares and dates as each locale writes them. Times are shown in the
//! configured time zone (`TOLLGATE_TIMEZONE`), whose UTC offset the server renders into the
//! page, so the server's HTML and the browser's agree.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Offset, Timelike, Utc};

use super::{fmt_int, Locale};

/// A number with grouped thousands and `places` decimals: `1,234.50`.
pub fn fmt_decimal(x: f64, places: usize) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    let text = format!("{:.*}", places, x.abs());
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    let grouped = fmt_int(whole.parse::<i64>().unwrap_or(0));
    let sign = if x < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "-"
    } else {
        ""
    };
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{frac}")
    }
}

/// US dollars (the wire's unit for costs, quotas and prices): `$1,234.56`, `$0.0011`.
pub fn fmt_usd(usd: f64) -> String {
    fmt_money(usd, "USD")
}

/// Significant digits shown of an amount under one unit of its currency.
const SMALL_MONEY_DIGITS: i32 = 4;
/// Decimals shown at most: money is stored in millionths (micro-dollars), nothing is finer.
const MONEY_MAX_DECIMALS: i32 = 6;

/// An amount in `currency` (ISO code), with a symbol for the common ones, else the code.
///
/// The one rule for money on every page, table, chart axis and tooltip: amounts of one unit
/// (dollar, yuan, ...) or more show the currency's usual decimals (`$1,234.56`, `¥35.00`,
/// `¥1,200` for JPY); amounts under one unit show 4 significant digits, trailing zeros dropped
/// down to two decimals and at most 6 decimals (`$0.50`, `$0.1235`, `$0.0011`, `$0.000315`), so
/// a cost of a tenth of a cent never reads `$0.00` beside a `$0.0011` elsewhere. A non-zero
/// amount that rounds away at 6 decimals reads `<$0.000001`. CSV exports carry the exact values.
pub fn fmt_money(amount: f64, currency: &str) -> String {
    if !amount.is_finite() {
        return "–".into();
    }
    let symbol = match currency {
        "USD" => "$",
        "CNY" | "JPY" => "¥",
        "EUR" => "€",
        "GBP" => "£",
        "HKD" => "HK$",
        "TWD" => "NT$",
        _ => "",
    };
    let abs = amount.abs();
    let usual = if currency == "JPY" { 0 } else { 2 };
    let (number, tiny) = if abs >= 1.0 || abs == 0.0 {
        (fmt_decimal(abs, usual), false)
    } else {
        // Decimals that keep SMALL_MONEY_DIGITS significant digits of a number under 1.
        let leading_zeros = -abs.log10().floor() as i32 - 1;
        let places = (leading_zeros + SMALL_MONEY_DIGITS).clamp(usual as i32, MONEY_MAX_DECIMALS);
        let text = fmt_decimal(abs, places as usize);
        let trimmed = text.trim_end_matches('0');
        let keep = trimmed.len().max(text.len() - (places as usize - usual));
        let number = text[..keep].trim_end_matches('.').to_owned();
        let tiny = !number.chars().any(|c| c.is_ascii_digit() && c != '0');
        (number, tiny)
    };
    if tiny {
        let smallest = format!("0.{:0>width$}", 1, width = MONEY_MAX_DECIMALS as usize);
        return match symbol {
            "" => format!("<{smallest} {currency}"),
            _ => format!("<{symbol}{smallest}"),
        };
    }
    let sign = if amount < 0.0 && number.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "-"
    } else {
        ""
    };
    if symbol.is_empty() {
        format!("{sign}{number} {currency}")
    } else {
        format!("{sign}{symbol}{number}")
    }
}

/// A share (0.125) as a percentage: `12.5%`.
pub fn fmt_pct(share: f64) -> String {
    if !share.is_finite() {
        return "–".into();
    }
    let pct = share * 100.0;
    let text = if pct.abs() < 100.0 {
        fmt_decimal(pct, 1)
    } else {
        fmt_decimal(pct, 0)
    };
    format!("{}%", text.strip_suffix(".0").unwrap_or(&text))
}

/// A large count briefly: `1.2M` in English, `120万` in Chinese.
pub fn fmt_compact(locale: Locale, n: f64) -> String {
    let steps: &[(f64, &str)] = match locale {
        Locale::En => &[(1e9, "B"), (1e6, "M"), (1e3, "K")],
        Locale::ZhCn => &[(1e8, "亿"), (1e4, "万")],
    };
    for (size, unit) in steps {
        if n.abs() >= *size {
            let v = n / size;
            let places = if v.abs() < 10.0 { 1 } else { 0 };
            return format!("{}{unit}", fmt_decimal(v, places));
        }
    }
    if n.fract() == 0.0 {
        fmt_decimal(n, 0)
    } else {
        fmt_decimal(n, 1)
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn local(at: DateTime<Utc>, offset_secs: i32) -> DateTime<FixedOffset> {
    let offset = FixedOffset::east_opt(offset_secs).unwrap_or(Utc.fix());
    at.with_timezone(&offset)
}

fn date_text(locale: Locale, y: i32, m: u32, d: u32) -> String {
    match locale {
        Locale::En => format!("{} {d}, {y}", MONTHS[(m as usize + 11) % 12]),
        Locale::ZhCn => format!("{y}年{m}月{d}日"),
    }
}

/// A calendar date: `Mar 1, 2026` / `2026年3月1日`.
pub fn fmt_date(locale: Locale, at: DateTime<Utc>, offset_secs: i32) -> String {
    let t = local(at, offset_secs);
    date_text(locale, t.year(), t.month(), t.day())
}

/// A date and time to the minute: `Mar 1, 2026 14:05` / `2026年3月1日 14:05`.
pub fn fmt_datetime(locale: Locale, at: DateTime<Utc>, offset_secs: i32) -> String {
    let t = local(at, offset_secs);
    format!(
        "{} {:02}:{:02}",
        date_text(locale, t.year(), t.month(), t.day()),
        t.hour(),
        t.minute()
    )
}

/// A report day (`YYYY-MM-DD`) for tables; the text itself when it is not a date.
pub fn fmt_day(locale: Locale, day: &str) -> String {
    match NaiveDate::parse_from_str(day, "%Y-%m-%d") {
        Ok(d) => date_text(locale, d.year(), d.month(), d.day()),
        Err(_) => day.to_owned(),
    }
}

/// A report day for chart ticks: `03-01`.
pub fn fmt_day_short(day: &str) -> String {
    day.get(5..).unwrap_or(day).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// One rule for every amount: the usual decimals from one unit up, four significant
    /// digits below it, so a tenth of a cent never reads as nothing.
    #[test]
    fn money_keeps_small_amounts_visible() {
        assert_eq!(fmt_usd(20.0), "$20.00");
        assert_eq!(fmt_usd(1_234.567_89), "$1,234.57");
        assert_eq!(fmt_usd(1.0), "$1.00");
        assert_eq!(fmt_usd(0.0), "$0.00");
        assert_eq!(fmt_usd(-2.5), "-$2.50");
        assert_eq!(fmt_usd(0.5), "$0.50");
        assert_eq!(fmt_usd(0.1), "$0.10");
        assert_eq!(fmt_usd(0.123_456_7), "$0.1235");
        assert_eq!(fmt_usd(0.01), "$0.01");
        assert_eq!(fmt_usd(0.0123), "$0.0123");
        assert_eq!(fmt_usd(0.0011), "$0.0011");
        assert_eq!(fmt_usd(0.001_14), "$0.00114");
        assert_eq!(fmt_usd(0.0015), "$0.0015");
        assert_eq!(fmt_usd(0.000_315), "$0.000315");
        assert_eq!(fmt_usd(0.000_001), "$0.000001");
        assert_eq!(fmt_usd(0.999_999_9), "$1.00");
        assert_eq!(fmt_usd(-0.0011), "-$0.0011");
        assert_eq!(fmt_money(0.000_000_4, "CNY"), "<¥0.000001");
        assert_eq!(fmt_money(0.007_92, "CNY"), "¥0.00792");
        assert_eq!(fmt_money(0.5, "JPY"), "¥0.5");
        assert_eq!(fmt_money(1_234.6, "JPY"), "¥1,235");
        assert_eq!(fmt_money(0.25, "CHF"), "0.25 CHF");
        assert_eq!(fmt_money(f64::NAN, "USD"), "–");
        // The margin card's two lines agree on a cost of a tenth of a cent.
        assert_eq!(fmt_money(0.0011, "USD"), fmt_usd(0.0011));
    }

    #[test]
    fn formats_for_each_locale() {
        assert_eq!(fmt_decimal(1234.5, 2), "1,234.50");
        assert_eq!(fmt_decimal(-0.001, 2), "0.00");
        assert_eq!(fmt_decimal(-12.5, 1), "-12.5");
        assert_eq!(fmt_money(35.0, "CNY"), "¥35.00");
        assert_eq!(fmt_money(-1234.5, "USD"), "-$1,234.50");
        assert_eq!(fmt_money(3.0, "CHF"), "3.00 CHF");
        assert_eq!(fmt_pct(0.125), "12.5%");
        assert_eq!(fmt_pct(0.65), "65%");
        assert_eq!(fmt_compact(Locale::En, 1_234_567.0), "1.2M");
        assert_eq!(fmt_compact(Locale::ZhCn, 1_234_567.0), "123万");
        assert_eq!(fmt_compact(Locale::En, 12.0), "12");
        let t = Utc.with_ymd_and_hms(2026, 2, 28, 16, 5, 0).unwrap();
        assert_eq!(fmt_datetime(Locale::En, t, 0), "Feb 28, 2026 16:05");
        assert_eq!(
            fmt_datetime(Locale::ZhCn, t, 8 * 3600),
            "2026年3月1日 00:05"
        );
        assert_eq!(fmt_date(Locale::En, t, 8 * 3600), "Mar 1, 2026");
        assert_eq!(fmt_day(Locale::ZhCn, "2026-03-01"), "2026年3月1日");
        assert_eq!(fmt_day_short("2026-03-01"), "03-01");
    }
}
