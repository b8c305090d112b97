//! Reading times as browsers send them, resolved to a UTC instant with microsecond precision.
//!
//! Accepted forms (SPEC §3): an RFC 3339 string with `Z` or an offset; an epoch number (below
//! 100,000,000,000 seconds, from there on milliseconds); a time of day without a date as
//! `toLocaleTimeString()` gives it (`15:45:12`, `3:45:12 PM`), resolved to the moment nearest
//! the receive time that shows that clock time in the server's local time zone.

use chrono::{
    DateTime, Duration, FixedOffset, Local, LocalResult, NaiveDate, NaiveDateTime, NaiveTime,
    TimeZone, Timelike, Utc,
};

/// Epoch numbers below this are seconds (`time.time()`), from here on milliseconds (`Date.now()`).
pub const EPOCH_MILLIS_FROM: f64 = 100_000_000_000.0;

/// The range a MySQL `DATETIME(6)` column holds: years 1000 to 9999.
fn storable_range() -> (DateTime<Utc>, DateTime<Utc>) {
    let first = NaiveDate::from_ymd_opt(1000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or(NaiveDateTime::MIN);
    let last = NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_micro_opt(23, 59, 59, 999_999))
        .unwrap_or(NaiveDateTime::MAX);
    (first.and_utc(), last.and_utc())
}

/// Why a timestamp was refused; the text goes to the client as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TimestampError(String);

fn error(message: impl Into<String>) -> TimestampError {
    TimestampError(message.into())
}

/// Keeps an instant only when a `DATETIME(6)` column can hold it, truncated to microseconds.
fn storable(instant: DateTime<Utc>) -> Result<DateTime<Utc>, TimestampError> {
    let (first, last) = storable_range();
    if instant < first || instant > last {
        return Err(error("timestamp is outside the years 1000 to 9999"));
    }
    // Truncate (never round) so that 23:59:59.9999999 stays on its own day; a leap second's
    // extra nanoseconds are folded into the last microsecond of its second.
    let micros = instant.timestamp_subsec_micros().min(999_999);
    Ok(instant.with_nanosecond(micros * 1_000).unwrap_or(instant))
}

/// An epoch number as JSON number text (`1764763200.25`, `1764763200250`, `1.7e9`): seconds
/// below [`EPOCH_MILLIS_FROM`], milliseconds from there on. Converted from the decimal digits
/// exactly, truncated (floored) to the microsecond: no float rounding can carry
/// `…59.9999999` into the next second or day.
pub fn from_epoch_text(raw: &str) -> Result<DateTime<Utc>, TimestampError> {
    let out_of_range = || error("timestamp is outside the years 1000 to 9999");
    let not_a_number = || error("timestamp is not a number");
    let (negative, unsigned) = match raw.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, raw),
    };
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        // Beyond ±400 the value is far outside any storable time (or indistinguishable from 0).
        Some((m, e)) => (
            m,
            e.parse::<i64>()
                .ok()
                .filter(|e| e.abs() <= 400)
                .ok_or_else(out_of_range)?,
        ),
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if whole.is_empty() || !(whole.bytes().chain(fraction.bytes())).all(|b| b.is_ascii_digit()) {
        return Err(not_a_number());
    }
    // value = digits × 10^-scale
    let digits = format!("{whole}{fraction}");
    let digits = digits.trim_start_matches('0');
    let scale = fraction.len() as i64 - exponent;
    // Digits before the decimal point; a storable time has at most 15 (milliseconds).
    if digits.len() as i64 - scale > 16 {
        return Err(out_of_range());
    }
    let whole_value = truncate_decimal(digits, scale);
    let unit_shift = if negative || whole_value < EPOCH_MILLIS_FROM as i128 {
        6
    } else {
        3
    };
    let mut micros = truncate_decimal(digits, scale - unit_shift);
    if negative {
        // Floor, not truncate toward zero: -0.0000001 s is 1 µs before the epoch.
        let dropped = scale - unit_shift;
        let exact = dropped <= 0 || {
            let keep = digits.len().saturating_sub(dropped as usize);
            digits[keep..].bytes().all(|b| b == b'0')
        };
        micros = -micros - i128::from(!exact);
    }
    let micros = i64::try_from(micros).map_err(|_| out_of_range())?;
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(out_of_range)
        .and_then(storable)
}

/// ⌊digits × 10^-scale⌋ for a digit string whose value has at most 16 whole digits.
fn truncate_decimal(digits: &str, scale: i64) -> i128 {
    if scale <= 0 {
        let mut value: i128 = digits.parse().unwrap_or(0);
        for _ in 0..(-scale).min(30) {
            value = value.saturating_mul(10);
        }
        value
    } else {
        let keep = digits.len().saturating_sub(scale as usize);
        digits[..keep].parse().unwrap_or(0)
    }
}

/// A string: RFC 3339 with an offset, or a local time of day.
pub fn from_text(text: &str, received_at: DateTime<Utc>) -> Result<DateTime<Utc>, TimestampError> {
    if let Ok(instant) = DateTime::<FixedOffset>::parse_from_rfc3339(text.trim()) {
        let instant = instant.with_timezone(&Utc);
        // chrono takes `:60` at any minute; a real leap second is only ever 23:59:60 UTC.
        let is_leap = instant.nanosecond() >= 1_000_000_000;
        if is_leap && (instant.hour(), instant.minute()) != (23, 59) {
            return Err(error("second 60 exists only at 23:59 UTC"));
        }
        return storable(instant);
    }
    if let Some(clock) = parse_time_of_day(text) {
        return nearest_local_moment(clock, received_at, &Local)
            .ok_or_else(|| error("time of day does not exist in the server's time zone"))
            .and_then(storable);
    }
    Err(error(
        "timestamp must be an RFC 3339 string with an offset, an epoch number, or a time of day",
    ))
}

/// `15:45:12`, `3:45:12 PM`, `03:45 am`, `15:45:12.250`; any Unicode space before the
/// meridiem (browsers put U+202F there). Hours 0–23 without a meridiem, 1–12 with one.
pub fn parse_time_of_day(text: &str) -> Option<NaiveTime> {
    let text = text.trim();
    let (clock, meridiem) = split_meridiem(text);
    let mut parts = clock.split(':');
    let hour: u32 = parse_digits(parts.next()?, 1, 2)?;
    let minute: u32 = parse_digits(parts.next()?, 2, 2)?;
    let (second, micro) = match parts.next() {
        Some(seconds) => parse_seconds(seconds)?,
        None => (0, 0),
    };
    if parts.next().is_some() {
        return None;
    }
    let hour = match meridiem {
        None if hour <= 23 => hour,
        Some(is_pm) if (1..=12).contains(&hour) => (hour % 12) + if is_pm { 12 } else { 0 },
        _ => return None,
    };
    NaiveTime::from_hms_micro_opt(hour, minute, second, micro)
}

/// Splits `3:45:12 PM` into the clock and whether it is PM (`None`: no meridiem).
fn split_meridiem(text: &str) -> (&str, Option<bool>) {
    let lower = text.to_ascii_lowercase();
    for (suffix, is_pm) in [("am", false), ("a.m.", false), ("pm", true), ("p.m.", true)] {
        if lower.ends_with(suffix) {
            let clock = text[..text.len() - suffix.len()].trim_end_matches(char::is_whitespace);
            return (clock, Some(is_pm));
        }
    }
    (text, None)
}

fn parse_digits(text: &str, min_len: usize, max_len: usize) -> Option<u32> {
    let ok = (min_len..=max_len).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| text.parse().ok()).flatten()
}

/// `12` or `12.345678` (digits past the sixth are dropped, never rounded up).
fn parse_seconds(text: &str) -> Option<(u32, u32)> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let second = parse_digits(whole, 2, 2)?;
    if second > 59 {
        return None;
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) || (text.contains('.') && fraction.is_empty())
    {
        return None;
    }
    let micro_digits: String = fraction.chars().chain("000000".chars()).take(6).collect();
    Some((second, micro_digits.parse().ok()?))
}

/// The instant nearest `received_at` whose wall clock in `zone` shows `clock`.
pub fn nearest_local_moment<Z: TimeZone>(
    clock: NaiveTime,
    received_at: DateTime<Utc>,
    zone: &Z,
) -> Option<DateTime<Utc>> {
    let today = received_at.with_timezone(zone).date_naive();
    [today - Duration::days(1), today, today + Duration::days(1)]
        .into_iter()
        .flat_map(|day| match zone.from_local_datetime(&day.and_time(clock)) {
            LocalResult::Single(t) => vec![t],
            LocalResult::Ambiguous(a, b) => vec![a, b],
            LocalResult::None => vec![],
        })
        .map(|t| t.with_timezone(&Utc))
        .min_by_key(|t| (*t - received_at).abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn rfc3339_with_offset_is_converted_to_utc() {
        let t = from_text("2026-12-03T13:00:00.5+01:00", Utc::now()).unwrap();
        assert_eq!(t, utc("2026-12-03T12:00:00.500Z"));
    }

    #[test]
    fn sub_microsecond_digits_are_truncated_not_rounded_into_the_next_day() {
        let t = from_text("2024-01-01T23:59:59.9999999Z", Utc::now()).unwrap();
        assert_eq!(t, utc("2024-01-01T23:59:59.999999Z"));
    }

    #[test]
    fn leap_seconds_only_at_the_end_of_a_utc_day() {
        assert_eq!(
            from_text("2016-12-31T23:59:60.5Z", Utc::now()).unwrap(),
            utc("2016-12-31T23:59:59.999999Z")
        );
        assert!(from_text("2026-06-01T12:34:60Z", Utc::now()).is_err());
    }

    #[test]
    fn rfc3339_without_offset_is_refused() {
        assert!(from_text("2026-12-03T12:00:00", Utc::now()).is_err());
    }

    #[test]
    fn epoch_numbers_switch_from_seconds_to_milliseconds() {
        let t = |raw: &str| from_epoch_text(raw).unwrap();
        assert_eq!(t("1764763200.25"), utc("2025-12-03T12:00:00.250Z"));
        assert_eq!(t("1764763200250"), utc("2025-12-03T12:00:00.250Z"));
        assert_eq!(t("1.76476320025e12"), utc("2025-12-03T12:00:00.250Z"));
        assert_eq!(t("99999999999"), utc("5138-11-16T09:46:39Z"));
        assert_eq!(t("100000000000"), utc("1973-03-03T09:46:40Z"));
        assert_eq!(t("0"), utc("1970-01-01T00:00:00Z"));
        assert_eq!(t("-1.5"), utc("1969-12-31T23:59:58.5Z"));
        assert_eq!(t("-0.0000001"), utc("1969-12-31T23:59:59.999999Z"));
    }

    #[test]
    fn epoch_digits_are_truncated_never_rounded_into_the_next_day() {
        assert_eq!(
            from_epoch_text("1764806399.9999999").unwrap(),
            utc("2025-12-03T23:59:59.999999Z")
        );
        assert_eq!(
            from_epoch_text("1764806399999.9999").unwrap(),
            utc("2025-12-03T23:59:59.999999Z")
        );
    }

    #[test]
    fn epoch_numbers_outside_datetime_range_are_refused() {
        for bad in [
            "9e18",
            "-9e18",
            "1e300",
            "1e400",
            "-1e400",
            "99999999999999999999",
            "1e-99999999999999999999",
        ] {
            assert!(from_epoch_text(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(
            from_epoch_text("1e-300").unwrap(),
            utc("1970-01-01T00:00:00Z")
        );
        assert!(from_epoch_text("1e-401").is_err());
    }

    #[test]
    fn times_of_day_parse_in_browser_forms() {
        let t = |h, m, s| NaiveTime::from_hms_opt(h, m, s).unwrap();
        assert_eq!(parse_time_of_day("15:45:12"), Some(t(15, 45, 12)));
        assert_eq!(parse_time_of_day("3:45:12 PM"), Some(t(15, 45, 12)));
        assert_eq!(parse_time_of_day("3:45:12\u{202f}PM"), Some(t(15, 45, 12)));
        assert_eq!(parse_time_of_day("12:00:01 AM"), Some(t(0, 0, 1)));
        assert_eq!(parse_time_of_day("12:00:01 pm"), Some(t(12, 0, 1)));
        assert_eq!(parse_time_of_day("09:05"), Some(t(9, 5, 0)));
        assert_eq!(
            parse_time_of_day("15:45:12.25"),
            NaiveTime::from_hms_micro_opt(15, 45, 12, 250_000)
        );
        for bad in [
            "13:00:00 PM",
            "24:00:00",
            "0:00 AM",
            "15:60:00",
            "15:45:61",
            "1545",
            "",
            "15:45:12.",
        ] {
            assert_eq!(parse_time_of_day(bad), None, "{bad:?} accepted");
        }
    }

    #[test]
    fn time_of_day_resolves_to_the_nearest_matching_moment() {
        let zone = FixedOffset::east_opt(3600).unwrap();
        let received = utc("2026-12-03T23:30:00Z"); // 00:30 on the 4th, local
        let clock = NaiveTime::from_hms_opt(23, 59, 0).unwrap(); // just before local midnight
        assert_eq!(
            nearest_local_moment(clock, received, &zone),
            Some(utc("2026-12-03T22:59:00Z"))
        );
        let clock = NaiveTime::from_hms_opt(0, 31, 0).unwrap();
        assert_eq!(
            nearest_local_moment(clock, received, &zone),
            Some(utc("2026-12-03T23:31:00Z"))
        );
    }
}
