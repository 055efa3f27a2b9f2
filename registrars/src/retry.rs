//! When to try a failed provider call again.
//!
//! Retrying is safe because every mutating call reads before it writes; what this module
//! decides is only how long to wait. Use it for errors where [`crate::Error::is_retryable`]
//! is true.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

/// Exponential backoff with full jitter that honours a provider's `Retry-After`.
///
/// After the `n`-th failed attempt the wait is drawn uniformly from zero up to
/// `min(cap, base * 2^(n-1))` ("full jitter", which spreads out clients that failed
/// together). When the provider said how long to wait, that wait is used as is, without
/// jitter; if it is longer than `cap` the policy gives up instead of retrying early into
/// the same refusal, and the caller reports the rate limit with the provider's wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first wait.
    pub base: Duration,
    /// The longest wait, jittered or requested.
    pub cap: Duration,
    /// The most attempts in total, the first one included; 1 means "never retry".
    pub max_attempts: u32,
}

impl Default for Backoff {
    /// 500 ms base, 30 s cap, 5 attempts.
    fn default() -> Self {
        Self {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
            max_attempts: 5,
        }
    }
}

impl Backoff {
    /// Returns how long to wait after `attempt` failed attempts, or `None` to give up.
    ///
    /// `attempt` counts from 1 (the first call failed); 0 is treated as 1. `retry_after` is
    /// the provider's requested wait, if it sent one.
    pub fn next_delay(&self, attempt: u32, retry_after: Option<Duration>) -> Option<Duration> {
        self.next_delay_with(attempt, retry_after, &mut SplitMix64::from_entropy())
    }

    /// Like [`Backoff::next_delay`], drawing the jitter from `random`.
    pub fn next_delay_with(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        random: &mut impl RandomSource,
    ) -> Option<Duration> {
        let attempt = attempt.max(1);
        if attempt >= self.max_attempts {
            return None;
        }
        if let Some(wait) = retry_after {
            return (wait <= self.cap).then_some(wait);
        }
        let factor = 1u32.checked_shl(attempt - 1).unwrap_or(u32::MAX);
        let ceiling = self.base.checked_mul(factor).unwrap_or(self.cap).min(self.cap);
        let span = u128::from(u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX)) + 1;
        let pick = (u128::from(random.next_u64()) * span) >> 64;
        Some(Duration::from_nanos(u64::try_from(pick).unwrap_or(u64::MAX)))
    }
}

/// A source of uniformly distributed 64-bit values for jitter.
pub trait RandomSource {
    /// Returns the next value.
    fn next_u64(&mut self) -> u64;
}

/// A small, fast, seedable generator (SplitMix64); not for cryptographic use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitMix64 {
    /// The generator state, advanced by a fixed odd constant per draw.
    state: u64,
}

impl SplitMix64 {
    /// Creates a generator that always yields the same sequence for the same seed.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// Creates a generator seeded from the standard library's per-process random keys.
    pub fn from_entropy() -> Self {
        Self::new(RandomState::new().hash_one(0u8))
    }
}

impl RandomSource for SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Always returns the same value, to pin the jitter to its extremes.
    struct Fixed(u64);

    impl RandomSource for Fixed {
        fn next_u64(&mut self) -> u64 {
            self.0
        }
    }

    /// 100 ms base, 1 s cap, 8 attempts.
    fn policy() -> Backoff {
        Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            max_attempts: 8,
        }
    }

    #[test]
    fn splitmix_reference_values() {
        let mut random = SplitMix64::new(0);
        assert_eq!(random.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(random.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(random.next_u64(), 0x06C4_5D18_8009_454F);
    }

    #[test]
    fn ceiling_doubles_up_to_the_cap() {
        let expected_ms = [100, 200, 400, 800, 1000, 1000, 1000];
        for (attempt, ms) in (1..).zip(expected_ms) {
            assert_eq!(
                policy().next_delay_with(attempt, None, &mut Fixed(u64::MAX)),
                Some(Duration::from_millis(ms)),
                "attempt {attempt}"
            );
            assert_eq!(
                policy().next_delay_with(attempt, None, &mut Fixed(0)),
                Some(Duration::ZERO)
            );
        }
    }

    #[test]
    fn gives_up_after_max_attempts() {
        assert!(policy().next_delay_with(7, None, &mut Fixed(0)).is_some());
        assert_eq!(policy().next_delay_with(8, None, &mut Fixed(0)), None);
        assert_eq!(policy().next_delay_with(9, None, &mut Fixed(0)), None);
        let never = Backoff {
            max_attempts: 1,
            ..policy()
        };
        assert_eq!(never.next_delay_with(1, None, &mut Fixed(0)), None);
        let none = Backoff {
            max_attempts: 0,
            ..policy()
        };
        assert_eq!(none.next_delay_with(1, None, &mut Fixed(0)), None);
    }

    #[test]
    fn attempt_zero_counts_as_the_first() {
        assert_eq!(
            policy().next_delay_with(0, None, &mut Fixed(u64::MAX)),
            Some(Duration::from_millis(100))
        );
    }

    #[test]
    fn retry_after_is_used_without_jitter() {
        let wait = Some(Duration::from_millis(750));
        for value in [0, 1 << 63, u64::MAX] {
            assert_eq!(
                policy().next_delay_with(3, wait, &mut Fixed(value)),
                Some(Duration::from_millis(750))
            );
        }
        assert_eq!(
            policy().next_delay_with(1, Some(Duration::from_secs(1)), &mut Fixed(0)),
            Some(Duration::from_secs(1)),
            "a wait equal to the cap is honoured"
        );
    }

    #[test]
    fn retry_after_beyond_the_cap_gives_up() {
        assert_eq!(
            policy().next_delay_with(1, Some(Duration::from_secs(300)), &mut Fixed(0)),
            None
        );
    }

    #[test]
    fn retry_after_still_respects_max_attempts() {
        assert_eq!(
            policy().next_delay_with(8, Some(Duration::from_millis(10)), &mut Fixed(0)),
            None
        );
    }

    #[test]
    fn large_attempts_and_durations_do_not_overflow() {
        let wide = Backoff {
            base: Duration::from_secs(u64::MAX / 2),
            cap: Duration::MAX,
            max_attempts: u32::MAX,
        };
        assert!(wide.next_delay_with(1_000, None, &mut Fixed(u64::MAX)).is_some());
        let unbounded = Backoff {
            max_attempts: u32::MAX,
            ..policy()
        };
        assert_eq!(
            unbounded.next_delay_with(u32::MAX - 1, None, &mut Fixed(u64::MAX)),
            Some(Duration::from_secs(1))
        );
    }

    #[test]
    fn seeded_jitter_is_reproducible_and_spread() {
        let draw = |seed| {
            let mut random = SplitMix64::new(seed);
            (0..1000)
                .map(|_| policy().next_delay_with(4, None, &mut random))
                .collect::<Option<Vec<_>>>()
                .expect("within max attempts")
        };
        let first = draw(42);
        assert_eq!(first, draw(42));
        assert_ne!(first, draw(43));

        let ceiling = Duration::from_millis(800);
        assert!(first.iter().all(|delay| *delay <= ceiling));
        let mean = first.iter().sum::<Duration>() / 1000;
        assert!(
            mean > Duration::from_millis(350) && mean < Duration::from_millis(450),
            "mean {mean:?} should be near half the ceiling"
        );
    }

    #[test]
    fn entropy_jitter_stays_within_bounds() {
        for _ in 0..100 {
            let delay = policy().next_delay(2, None).expect("within max attempts");
            assert!(delay <= Duration::from_millis(200));
        }
    }
}
