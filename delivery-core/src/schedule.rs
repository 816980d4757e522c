//! The retry budget and its backoff.
//!
//! After failed attempt `n` the next waits `min(10 s × 2^(n−1), 6 h)`. No attempt starts later
//! than 72 h after the delivery's first attempt. When the next nominal time falls past that
//! deadline, the last attempt is made at the deadline itself. With instant failures that gives
//! 24 attempts: 0 s, 10 s, 30 s, 70 s, …, 11 h 22 min 30 s (attempt 13), every 6 h to
//! 71 h 22 min 30 s (attempt 23), and attempt 24 at exactly 72 h.

use crate::time::Millis;

/// The retry budget of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Maximum number of attempts, the first included.
    pub max_attempts: u32,
    /// Wait after the first failed attempt.
    pub initial_backoff: Millis,
    /// Upper bound of every wait, `Retry-After` included.
    pub max_backoff: Millis,
    /// Time after the first attempt past which no attempt starts.
    pub budget: Millis,
    /// Time after which an attempt without a response counts as timed out.
    pub attempt_timeout: Millis,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 24,
            initial_backoff: Millis::from_secs(10),
            max_backoff: Millis::from_secs(6 * 3600),
            budget: Millis::from_secs(72 * 3600),
            attempt_timeout: Millis::from_secs(15),
        }
    }
}

/// One row of the nominal attempt table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduledAttempt {
    /// Attempt number, from 1.
    pub attempt: u32,
    /// Time since the first attempt.
    pub offset: Millis,
    /// Time since the previous attempt (zero for the first).
    pub gap: Millis,
}

impl RetryPolicy {
    /// Returns the wait after failed attempt `attempt` (1-based), before any deadline clamp.
    pub fn backoff_after(&self, attempt: u32) -> Millis {
        let doublings = attempt.saturating_sub(1).min(40);
        let wait = self
            .initial_backoff
            .as_u64()
            .saturating_mul(1u64 << doublings);
        Millis(wait.min(self.max_backoff.as_u64()))
    }

    /// Decides when attempt `failed_attempt + 1` starts, or `None` when the budget is spent.
    ///
    /// `first_attempt_at` is when the delivery's first attempt started and `failed_at` when
    /// attempt `failed_attempt` failed. `retry_after` is a server-requested wait (from a 429 or
    /// 503), which lengthens the backoff but is capped at `max_backoff`. The result is never
    /// past the deadline; a nominal time past it becomes the deadline itself, unless the last
    /// attempt already started at the deadline.
    pub fn next_attempt_at(
        &self,
        first_attempt_at: Millis,
        failed_attempt: u32,
        failed_at: Millis,
        retry_after: Option<Millis>,
    ) -> Option<Millis> {
        if failed_attempt >= self.max_attempts {
            return None;
        }

        let mut wait = self.backoff_after(failed_attempt);
        if let Some(requested) = retry_after {
            wait = wait.max(requested.min(self.max_backoff));
        }

        let deadline = first_attempt_at.saturating_add(self.budget);
        if failed_at >= deadline {
            return None;
        }
        Some(failed_at.saturating_add(wait).min(deadline))
    }

    /// Returns the nominal table: every attempt when each fails at once, without `Retry-After`.
    pub fn table(&self) -> Vec<ScheduledAttempt> {
        let mut rows = vec![ScheduledAttempt {
            attempt: 1,
            offset: Millis(0),
            gap: Millis(0),
        }];
        let mut at = Millis(0);
        let mut attempt = 1;
        while let Some(next) = self.next_attempt_at(Millis(0), attempt, at, None) {
            rows.push(ScheduledAttempt {
                attempt: attempt + 1,
                offset: next,
                gap: next - at,
            });
            at = next;
            attempt += 1;
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hms(h: u64, m: u64, s: u64) -> Millis {
        Millis::from_secs(h * 3600 + m * 60 + s)
    }

    #[test]
    fn default_table_matches_contract() {
        let table = RetryPolicy::default().table();
        let offsets: Vec<Millis> = table.iter().map(|row| row.offset).collect();

        let mut expected = vec![Millis(0)];
        let mut at = 0u64;
        for n in 1..=12u32 {
            at += 10 * (1 << (n - 1));
            expected.push(Millis::from_secs(at));
        }
        for _ in 0..10 {
            at += 6 * 3600;
            expected.push(Millis::from_secs(at));
        }
        expected.push(hms(72, 0, 0));

        assert_eq!(offsets, expected);
        assert_eq!(table.len(), 24);
        let numbers: Vec<u32> = table.iter().map(|row| row.attempt).collect();
        assert_eq!(numbers, (1..=24).collect::<Vec<u32>>());
        assert_eq!(table[1].offset, Millis::from_secs(10));
        assert_eq!(table[2].offset, Millis::from_secs(30));
        assert_eq!(table[3].offset, Millis::from_secs(70));
        assert_eq!(table[12].offset, hms(11, 22, 30));
        assert_eq!(table[13].offset, hms(17, 22, 30));
        assert_eq!(table[22].offset, hms(71, 22, 30));
        assert_eq!(table[23].offset, hms(72, 0, 0));
        assert_eq!(table[23].gap, hms(0, 37, 30));
    }

    #[test]
    fn gaps_never_exceed_six_hours() {
        let table = RetryPolicy::default().table();
        assert!(table.iter().all(|row| row.gap <= hms(6, 0, 0)));
    }

    #[test]
    fn no_attempt_after_the_twenty_fourth() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.next_attempt_at(Millis(0), 24, hms(72, 0, 0), None),
            None
        );
    }

    #[test]
    fn no_attempt_after_deadline_reached() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.next_attempt_at(Millis(0), 5, hms(72, 0, 0), None),
            None
        );
    }

    #[test]
    fn retry_after_lengthens_wait() {
        let policy = RetryPolicy::default();
        let next = policy.next_attempt_at(Millis(0), 1, Millis(0), Some(Millis::from_secs(120)));
        assert_eq!(next, Some(Millis::from_secs(120)));
    }

    #[test]
    fn retry_after_shorter_than_backoff_is_ignored() {
        let policy = RetryPolicy::default();
        let next = policy.next_attempt_at(Millis(0), 3, Millis(0), Some(Millis::from_secs(1)));
        assert_eq!(next, Some(Millis::from_secs(40)));
    }

    #[test]
    fn retry_after_capped_at_six_hours() {
        let policy = RetryPolicy::default();
        let next = policy.next_attempt_at(Millis(0), 1, Millis(0), Some(hms(48, 0, 0)));
        assert_eq!(next, Some(hms(6, 0, 0)));
    }

    #[test]
    fn retry_after_capped_at_deadline() {
        let policy = RetryPolicy::default();
        let next = policy.next_attempt_at(Millis(0), 20, hms(70, 0, 0), Some(hms(5, 0, 0)));
        assert_eq!(next, Some(hms(72, 0, 0)));
    }

    #[test]
    fn slow_failures_shift_schedule_but_keep_deadline() {
        let policy = RetryPolicy::default();
        let next = policy.next_attempt_at(Millis(0), 1, Millis::from_secs(15), None);
        assert_eq!(next, Some(Millis::from_secs(25)));
    }
}
