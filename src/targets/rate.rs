//! Staying inside a provider's rate limit: one token bucket shared by every
//! connection of an http target, and an adaptive pause when the provider
//! says 429 anyway. A 429 means the whole run is too fast, not one request,
//! so every connection waits out the `Retry-After` and the rate is halved,
//! then recovers step by step while answers come back clean.
//!
//! Time comes from a [`Clock`], so the bucket is tested with an injected
//! clock rather than with timed tests.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Monotonic time and sleeping, injectable for tests.
pub trait Clock: Send + Sync {
    /// Time since an arbitrary fixed start.
    fn now(&self) -> Duration;
    fn sleep(&self, d: Duration);
}

/// The real clock.
pub struct SystemClock(Instant);

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock(Instant::now())
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d)
    }
}

struct State {
    tokens: f64,
    last: Duration,
    /// Nobody sends before this (a 429's Retry-After, for the whole run).
    paused_until: Duration,
    /// The current rate: the configured one, lowered after each 429.
    rate: f64,
    /// Time requests spent waiting for a token or a pause, summed.
    throttled: Duration,
    /// When the rate was last lowered: at most once a second, since the
    /// answers to requests already in flight say nothing about the new rate.
    lowered_at: Option<Duration>,
    /// The lowest the rate may go: an eighth of the rate at the first 429.
    floor: f64,
}

/// A token bucket holding one token: requests go out evenly spaced at
/// `rate` per second, so no one-second window ever sees more than
/// `rate + 1` (a bigger bucket would allow a double burst in the first
/// second). `rate = None`: no limit, but 429s still pause everyone.
pub struct RateLimiter<C: Clock = SystemClock> {
    limit: Option<f64>,
    clock: C,
    state: Mutex<State>,
}

/// The lowest a 429 can push the rate, in requests per second, unless the
/// configured limit is lower still.
const MIN_RATE: f64 = 1.0;
/// Clean answers needed to step the rate back up by a tenth.
const RECOVER_AFTER: u32 = 10;

impl<C: Clock> RateLimiter<C> {
    pub fn new(limit: Option<f64>, clock: C) -> Self {
        let now = clock.now();
        let rate = limit.unwrap_or(f64::INFINITY);
        RateLimiter {
            limit,
            clock,
            state: Mutex::new(State {
                tokens: 1.0,
                last: now,
                paused_until: now,
                rate,
                throttled: Duration::ZERO,
                lowered_at: None,
                floor: 0.0,
            }),
        }
    }

    /// Blocks until this request may go; returns how long it waited.
    pub fn acquire(&self) -> Duration {
        let mut waited = Duration::ZERO;
        loop {
            let wait = {
                let mut s = self.state.lock().expect("rate state");
                let now = self.clock.now();
                if now < s.paused_until {
                    s.paused_until - now
                } else if s.rate.is_infinite() {
                    s.throttled += waited;
                    return waited;
                } else {
                    s.tokens = (s.tokens + (now - s.last).as_secs_f64() * s.rate).min(1.0);
                    s.last = now;
                    if s.tokens >= 1.0 {
                        s.tokens -= 1.0;
                        s.throttled += waited;
                        return waited;
                    }
                    Duration::from_secs_f64((1.0 - s.tokens) / s.rate)
                }
            };
            self.clock.sleep(wait);
            waited += wait;
        }
    }

    /// A 429: everyone pauses for `after`, and the rate halves (at most once
    /// a second, never below an eighth of the rate at the first 429, nor
    /// below one per second unless the configured limit is lower). Without
    /// a configured limit, the rate the run had reached is where halving starts.
    pub fn throttled_by_server(&self, after: Duration, observed_rate: f64) {
        let mut s = self.state.lock().expect("rate state");
        let now = self.clock.now();
        s.paused_until = s.paused_until.max(now + after);
        s.last = s.last.max(s.paused_until);
        s.tokens = s.tokens.min(1.0);
        if s.lowered_at.is_some_and(|at| now < at + Duration::from_secs(1)) {
            return;
        }
        let current = if s.rate.is_infinite() { observed_rate.max(MIN_RATE) } else { s.rate };
        if s.lowered_at.is_none() {
            s.floor = (current / 8.0).max(MIN_RATE.min(self.limit.unwrap_or(MIN_RATE)));
        }
        s.rate = (current / 2.0).max(s.floor);
        s.lowered_at = Some(now);
    }

    /// A clean answer; every [`RECOVER_AFTER`] of them the rate steps back
    /// up towards the configured limit.
    pub fn answered(&self, clean_in_a_row: u32) {
        if clean_in_a_row == 0 || !clean_in_a_row.is_multiple_of(RECOVER_AFTER) {
            return;
        }
        let mut s = self.state.lock().expect("rate state");
        let ceiling = self.limit.unwrap_or(f64::INFINITY);
        if s.rate < ceiling {
            s.rate = (s.rate * 1.1).min(ceiling);
        }
    }

    /// Time requests spent waiting, summed over all connections.
    pub fn throttled(&self) -> Duration {
        self.state.lock().expect("rate state").throttled
    }

    pub fn rate(&self) -> f64 {
        self.state.lock().expect("rate state").rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A clock that only moves when someone sleeps.
    #[derive(Default)]
    struct FakeClock(AtomicU64);

    impl Clock for FakeClock {
        fn now(&self) -> Duration {
            Duration::from_nanos(self.0.load(Ordering::SeqCst))
        }
        fn sleep(&self, d: Duration) {
            self.0.fetch_add(d.as_nanos() as u64, Ordering::SeqCst);
        }
    }

    /// Requests per one-second window of the fake clock.
    fn windows(limiter: &RateLimiter<FakeClock>, requests: usize) -> Vec<usize> {
        let mut counts = vec![0usize; 64];
        for _ in 0..requests {
            limiter.acquire();
            counts[limiter.clock.now().as_secs() as usize] += 1;
        }
        counts.into_iter().filter(|&c| c > 0).collect()
    }

    #[test]
    fn forty_per_second_never_exceeds_forty_one_in_any_second() {
        let limiter = RateLimiter::new(Some(40.0), FakeClock::default());
        let counts = windows(&limiter, 400);
        assert!(counts.iter().all(|&c| c <= 41), "{counts:?}");
        assert!(counts[0] >= 39, "evenly paced from the start: {counts:?}");
        assert!(limiter.clock.now() >= Duration::from_secs(9), "400 requests at 40/s take 9+ s");
        assert!(limiter.throttled() >= Duration::from_secs(8));
    }

    #[test]
    fn a_429_pauses_everyone_and_halves_the_rate_then_it_recovers() {
        let limiter = RateLimiter::new(Some(40.0), FakeClock::default());
        limiter.acquire();
        limiter.throttled_by_server(Duration::from_secs(2), 40.0);
        let before = limiter.clock.now();
        limiter.acquire();
        assert!(limiter.clock.now() - before >= Duration::from_secs(2), "waited out Retry-After");
        assert_eq!(limiter.rate(), 20.0);
        for n in 1..=RECOVER_AFTER * 10 {
            limiter.answered(n);
        }
        assert_eq!(limiter.rate(), 40.0, "back to the configured limit, never above");
    }

    #[test]
    fn repeated_429s_lower_the_rate_once_a_second_down_to_an_eighth() {
        let limiter = RateLimiter::new(Some(80.0), FakeClock::default());
        for _ in 0..5 {
            limiter.throttled_by_server(Duration::ZERO, 80.0);
        }
        assert_eq!(limiter.rate(), 40.0, "answers already in flight lower it once");
        for _ in 0..10 {
            limiter.clock.sleep(Duration::from_secs(1));
            limiter.throttled_by_server(Duration::ZERO, 80.0);
        }
        assert_eq!(limiter.rate(), 10.0, "never below an eighth of the rate at the first 429");
    }

    #[test]
    fn without_a_limit_nothing_waits_until_a_429() {
        let limiter = RateLimiter::new(None, FakeClock::default());
        for _ in 0..1000 {
            assert_eq!(limiter.acquire(), Duration::ZERO);
        }
        limiter.throttled_by_server(Duration::from_secs(1), 500.0);
        assert_eq!(limiter.rate(), 250.0, "half the rate the run had reached");
        assert!(limiter.acquire() >= Duration::from_secs(1));
    }
}
