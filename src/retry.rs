//! The one retry policy: exponential backoff with jitter until a deadline, asking each error
//! what it allows ([`Error::retry_action`]).
//!
//! Every loop that retries a request uses [`Retry`]: a loop bounded by a failure count would
//! give up after milliseconds against a fast-failing broker and after many minutes against a
//! slow one, where a deadline means the same thing to the caller in both cases.

use crate::error::{Error, Result, RetryAction};
use rand::Rng;
use std::time::Duration;
use tokio::time::Instant;

/// Exponential backoff with ±20% jitter, as `reconnect.backoff.ms` and
/// `reconnect.backoff.max.ms` (or `retry.backoff.ms` and `retry.backoff.max.ms`) describe it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The wait after `failures` consecutive failures (the first failure waits `initial`).
    pub(crate) fn delay(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        let exp = self
            .initial
            .saturating_mul(1u32 << (failures - 1).min(20))
            .min(self.max);
        let jitter = rand::rng().random_range(0.8..1.2);
        // An absurd setting (Duration::MAX) cannot grow by 20%; it stays as it is.
        Duration::try_from_secs_f64(exp.as_secs_f64() * jitter).unwrap_or(exp)
    }
}

/// `now + timeout`, saturating instead of panicking on absurd timeouts (`Duration::MAX`).
pub(crate) fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        // About 30 years: later than anything will wait, early enough for tokio's timer.
        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30))
}

/// The retry state of one operation.
#[derive(Debug)]
pub(crate) struct Retry {
    deadline: Instant,
    backoff: Backoff,
    failures: u32,
}

impl Retry {
    /// Retries for at most `timeout` from now.
    pub(crate) fn new(timeout: Duration, backoff: Backoff) -> Self {
        Self::until(deadline_after(timeout), backoff)
    }

    /// Retries until `deadline`.
    pub(crate) fn until(deadline: Instant, backoff: Backoff) -> Self {
        Self {
            deadline,
            backoff,
            failures: 0,
        }
    }

    /// After a failed attempt: gives `error` back when it must not be retried, or when the
    /// backoff would end past the deadline; otherwise waits the backoff and says what the
    /// error asks to do before the next attempt.
    pub(crate) async fn wait(&mut self, error: Error) -> Result<RetryAction> {
        let action = error.retry_action();
        self.wait_for(error, action).await
    }

    /// Like [`wait`](Self::wait), with the caller's own verdict on the error: for protocol
    /// steps where a code that ends a request elsewhere means "again" (a JoinGroup answered
    /// `MEMBER_ID_REQUIRED`).
    pub(crate) async fn wait_for(
        &mut self,
        error: Error,
        action: RetryAction,
    ) -> Result<RetryAction> {
        if action == RetryAction::NoRetry {
            return Err(error);
        }
        self.failures = self.failures.saturating_add(1);
        let delay = self.backoff.delay(self.failures);
        if deadline_after(delay) >= self.deadline {
            return Err(error);
        }
        tracing::debug!(%error, failures = self.failures, ?delay, "retrying");
        tokio::time::sleep(delay).await;
        Ok(action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn backoff() -> Backoff {
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        }
    }

    #[test]
    fn backoff_grows_exponentially_to_the_cap_with_jitter() {
        let b = Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_secs(1),
        };
        assert_eq!(b.delay(0), Duration::ZERO);
        for (failures, base) in [(1, 50), (2, 100), (3, 200), (5, 800), (6, 1000), (40, 1000)] {
            let d = b.delay(failures).as_secs_f64() * 1000.0;
            let base = base as f64;
            assert!(
                d >= base * 0.8 - 1e-6 && d <= base * 1.2 + 1e-6,
                "{failures}: {d}"
            );
        }
    }

    #[test]
    fn absurd_timeouts_saturate() {
        assert!(deadline_after(Duration::MAX) > Instant::now() + Duration::from_secs(86_400));
        let forever = Backoff {
            initial: Duration::MAX,
            max: Duration::MAX,
        };
        assert!(forever.delay(3) >= Duration::from_secs(86_400));
    }

    /// Each row: the error, and whether `wait` lets the operation try again (with the action).
    #[tokio::test(start_paused = true)]
    async fn the_error_decides_and_the_deadline_bounds() {
        let rows: [(Error, Option<RetryAction>); 5] = [
            (
                Error::broker(ErrorCode::NOT_COORDINATOR, "g"),
                Some(RetryAction::RefreshMetadataAndRetry),
            ),
            (
                Error::broker(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS, "g"),
                Some(RetryAction::Retry),
            ),
            (
                Error::connection("b:1", "reset"),
                Some(RetryAction::Reconnect),
            ),
            (
                Error::broker(ErrorCode::GROUP_AUTHORIZATION_FAILED, "g"),
                None,
            ),
            (Error::config("bad"), None),
        ];
        for (error, expected) in rows {
            let mut retry = Retry::new(Duration::from_secs(10), backoff());
            let text = error.to_string();
            match (retry.wait(error).await, expected) {
                (Ok(action), Some(want)) => assert_eq!(action, want, "{text}"),
                (Err(e), None) => assert_eq!(e.to_string(), text),
                (got, want) => panic!("{text}: got {got:?}, wanted {want:?}"),
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_end_at_the_deadline_not_after_a_count() {
        let start = Instant::now();
        let mut retry = Retry::new(Duration::from_secs(5), backoff());
        let mut attempts = 1;
        while retry
            .wait(Error::broker(ErrorCode::REQUEST_TIMED_OUT, "t"))
            .await
            .is_ok()
        {
            attempts += 1;
        }
        let waited = start.elapsed();
        assert!(waited <= Duration::from_secs(5), "{waited:?}");
        // 100 + 200 + 400 + 800 ms, then 1 s each (±20%): about 7 attempts fit in 5 s.
        assert!(
            (5..=9).contains(&attempts),
            "{attempts} attempts in {waited:?}"
        );
    }
}
