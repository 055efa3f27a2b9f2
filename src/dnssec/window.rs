//! The validity window shared by every signature made in one week.
//!
//! Like PowerDNS, pooldns aligns signature times to weeks so that a
//! signature made on Monday and one made on Friday carry the same inception
//! and expiration: caches, restarts and fleet members all produce equally
//! valid signatures, and a snapshot's signatures can be reused for days.
//! The window starts at the beginning of the week (Thursday 00:00 UTC, the
//! epoch's weekday) minus one day, for clocks that run behind, and ends
//! three weeks after that start. A signature is served only during its
//! week, so it stays valid for at least two weeks in any validator's cache.

/// Seconds in a week.
pub const WEEK: u64 = 604_800;

/// Slack before the week's start, for validators whose clock is behind.
const INCEPTION_SLACK: u64 = 86_400;

/// How long after the week's start signatures expire.
const LIFETIME: u64 = 3 * WEEK;

/// Inception and expiration of the signatures made in one week
/// (RFC 4034 §3.1.5 fields, seconds since the epoch modulo 2^32).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Which week since the epoch this window belongs to.
    pub week: u64,
    pub inception: u32,
    pub expiration: u32,
}

impl Window {
    /// The window for the week containing `now` (seconds since the epoch).
    pub fn at(now: u64) -> Window {
        let week = now / WEEK;
        let start = week * WEEK;
        Window {
            week,
            // Serial number arithmetic (RFC 4034 §3.1.5) wraps at 2^32.
            inception: start.saturating_sub(INCEPTION_SLACK) as u32,
            expiration: (start + LIFETIME) as u32,
        }
    }

    /// The window for the current week.
    pub fn now() -> Window {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        Window::at(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_window_per_week() {
        // A Thursday noon: its week began twelve hours earlier.
        let thursday_noon = 1_795_089_600;
        assert_eq!(thursday_noon % WEEK, 43_200);
        let window = Window::at(thursday_noon);
        assert_eq!(Window::at(thursday_noon + 6 * 86_400), window);
        assert_ne!(Window::at(thursday_noon + 7 * 86_400), window);
        let start = thursday_noon - thursday_noon % WEEK;
        assert_eq!(u64::from(window.inception), start - 86_400);
        assert_eq!(u64::from(window.expiration), start + 3 * WEEK);
        assert!(
            u64::from(window.inception) <= thursday_noon && thursday_noon + 2 * WEEK <= u64::from(window.expiration)
        );
    }
}
