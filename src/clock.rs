//! The one reading of the wall clock: milliseconds since the Unix epoch, as the store keeps
//! times. Everything that stamps or compares a time reads it here.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in milliseconds since the Unix epoch (0 if the system clock is set before 1970).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Unix milliseconds as RFC 3339 UTC to the second: `2024-02-29T13:05:09Z`.
pub fn rfc3339(ms: i64) -> String {
    let (date, (h, m, s)) = split_time(ms);
    format!("{date}T{h:02}:{m:02}:{s:02}Z")
}

/// The UTC date (`YYYY-MM-DD`) and time of day of unix milliseconds.
pub fn split_time(ms: i64) -> (String, (i64, i64, i64)) {
    let secs = ms.div_euclid(1000);
    let (days, of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, mo, d) = crate::text::civil_from_days(days);
    (
        format!("{y:04}-{mo:02}-{d:02}"),
        (of_day / 3600, of_day % 3600 / 60, of_day % 60),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_formatted_in_utc() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(999), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(super::rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(super::rfc3339(951_868_799_000), "2000-02-29T23:59:59Z");
        assert_eq!(super::rfc3339(1_709_211_909_000), "2024-02-29T13:05:09Z");
        assert_eq!(super::rfc3339(1_735_689_599_000), "2024-12-31T23:59:59Z");
        assert_eq!(super::rfc3339(1_735_689_600_000), "2025-01-01T00:00:00Z");
        // 2100 is not a leap year.
        assert_eq!(super::rfc3339(4_107_542_400_000), "2100-03-01T00:00:00Z");
        assert_eq!(super::rfc3339(-2_208_988_800_000), "1900-01-01T00:00:00Z");
    }

    #[test]
    fn now_is_after_this_code_was_written() {
        // 2026-11-28
        assert!(super::now_ms() > 1_795_000_000_000);
    }
}
