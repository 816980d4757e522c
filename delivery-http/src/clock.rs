//! Clocks that an attempt reads to measure its duration and to date its response.

use delivery_core::{Millis, Now, UnixMillis};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the two readings the core works with: monotonic time and wall time.
///
/// [`send_attempt`](crate::send_attempt) reads `monotonic` before and after the attempt to
/// measure its duration, and reads `wall` when the response head arrives, to turn a
/// `Retry-After` HTTP date into a wait.
pub trait Clock: Send + Sync {
    /// Reads both clocks.
    fn now(&self) -> Now;
}

/// The production clock: tokio's monotonic `Instant` and the system's wall clock.
///
/// Under tokio's paused test time the monotonic reading follows the paused clock, while the
/// wall reading is always the real system time.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    origin: tokio::time::Instant,
}

impl TokioClock {
    /// Starts a clock whose monotonic reading is zero now.
    pub fn new() -> TokioClock {
        TokioClock {
            origin: tokio::time::Instant::now(),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        TokioClock::new()
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Now {
        let monotonic = duration_to_millis(self.origin.elapsed());
        let wall = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(since_epoch) => {
                UnixMillis(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
            }
            Err(before_epoch) => {
                let before = i64::try_from(before_epoch.duration().as_millis()).unwrap_or(i64::MAX);
                UnixMillis(-before)
            }
        };
        Now::new(monotonic, wall)
    }
}

/// Converts a duration to whole milliseconds, saturating at `u64::MAX`.
pub(crate) fn duration_to_millis(duration: std::time::Duration) -> Millis {
    Millis(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
}
