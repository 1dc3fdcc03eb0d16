//! The one reading of the wall clock: milliseconds since the Unix epoch, as the store keeps
//! times. Everything that stamps or compares a time reads it here.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in milliseconds since the Unix epoch (0 if the system clock is set before 1970).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    #[test]
    fn now_is_after_this_code_was_written() {
        // 2026-11-28
        assert!(super::now_ms() > 1_795_000_000_000);
    }
}
