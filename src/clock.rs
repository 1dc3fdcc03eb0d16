//! Time, read in one place: the [`Clock`] handed to everything that stamps or compares a wall-clock
//! time (the handlers' context, the sender, the ops and review pages, the CLI), in milliseconds
//! since the Unix epoch as the store keeps times. Tests give a [`Clock::manual`] one and move it;
//! the store never reads the clock itself, it is given the time by its callers.
//!
//! Durations that are not wall-clock times (throttling, timeouts, latency) use the monotonic
//! `Instant`s of std and tokio, which tests control with tokio's paused time.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The wall clock: the system's, or a manual one that tests set.
#[derive(Clone, Debug, Default)]
pub struct Clock(Option<Arc<AtomicI64>>);

impl Clock {
    /// The system's clock.
    pub fn system() -> Clock {
        Clock(None)
    }

    /// A clock that stands at `ms` until moved with [`Clock::advance`] or [`Clock::set`].
    pub fn manual(ms: i64) -> Clock {
        Clock(Some(Arc::new(AtomicI64::new(ms))))
    }

    /// Now, in milliseconds since the Unix epoch (0 if the system clock is set before 1970).
    pub fn now_ms(&self) -> i64 {
        match &self.0 {
            None => system_now_ms(),
            Some(at) => at.load(Ordering::Relaxed),
        }
    }

    /// Moves a manual clock forward (or back, with a negative `ms`); the system's is unmoved.
    pub fn advance(&self, ms: i64) {
        if let Some(at) = &self.0 {
            at.fetch_add(ms, Ordering::Relaxed);
        }
    }

    /// Sets a manual clock; the system's is unmoved.
    pub fn set(&self, ms: i64) {
        if let Some(at) = &self.0 {
            at.store(ms, Ordering::Relaxed);
        }
    }
}

fn system_now_ms() -> i64 {
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
        assert!(super::Clock::system().now_ms() > 1_795_000_000_000);
    }

    #[test]
    fn a_manual_clock_stands_still_until_moved_and_its_copies_follow() {
        let clock = super::Clock::manual(1_000);
        let copy = clock.clone();
        assert_eq!(copy.now_ms(), 1_000);
        clock.advance(250);
        assert_eq!(copy.now_ms(), 1_250);
        copy.set(5);
        assert_eq!(clock.now_ms(), 5);
        let system = super::Clock::system();
        system.set(5);
        assert!(system.now_ms() > 1_795_000_000_000);
    }
}
