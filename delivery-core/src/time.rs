//! Time as the core uses it: a caller-supplied monotonic clock for scheduling and a wall clock
//! for signatures and records.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, Sub};

/// A duration or a point on a millisecond timeline.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Millis(pub u64);

impl Millis {
    /// Zero milliseconds.
    pub const ZERO: Millis = Millis(0);

    /// Converts whole seconds.
    pub const fn from_secs(secs: u64) -> Millis {
        Millis(secs * 1000)
    }

    /// Returns the raw number of milliseconds.
    pub const fn as_u64(self) -> u64 {
        self.0
    }

    /// Adds without overflowing.
    pub const fn saturating_add(self, other: Millis) -> Millis {
        Millis(self.0.saturating_add(other.0))
    }

    /// Subtracts, stopping at zero.
    pub const fn saturating_sub(self, other: Millis) -> Millis {
        Millis(self.0.saturating_sub(other.0))
    }
}

impl Add for Millis {
    type Output = Millis;
    fn add(self, other: Millis) -> Millis {
        Millis(self.0 + other.0)
    }
}

impl Sub for Millis {
    type Output = Millis;
    fn sub(self, other: Millis) -> Millis {
        Millis(self.0 - other.0)
    }
}

impl fmt::Display for Millis {
    /// Formats as `1h 2m 3.004s`, dropping leading zero units.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total_secs = self.0 / 1000;
        let millis = self.0 % 1000;
        let (h, m, s) = (total_secs / 3600, (total_secs / 60) % 60, total_secs % 60);
        if h > 0 {
            write!(f, "{h}h {m}m ")?;
        } else if m > 0 {
            write!(f, "{m}m ")?;
        }
        if millis == 0 {
            write!(f, "{s}s")
        } else {
            write!(f, "{s}.{millis:03}s")
        }
    }
}

/// Wall-clock time in milliseconds since the Unix epoch.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct UnixMillis(pub i64);

impl UnixMillis {
    /// Returns whole Unix seconds, rounded down, as the `Aresgen-Timestamp` value. Times before
    /// the epoch give zero.
    pub fn as_unix_secs(self) -> u64 {
        u64::try_from(self.0.div_euclid(1000)).unwrap_or(0)
    }
}

/// The two clocks a caller passes with every input.
///
/// `monotonic` drives every timer: it must never go backwards within one process, and its
/// origin is arbitrary (it restarts with the process). `wall` is the system clock: it signs
/// requests and stamps records, and it may step backwards or forwards at any time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    pub monotonic: Millis,
    pub wall: UnixMillis,
}

impl Now {
    /// Builds a `Now` from the two clock readings.
    pub fn new(monotonic: Millis, wall: UnixMillis) -> Now {
        Now { monotonic, wall }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_drops_leading_zero_units() {
        assert_eq!(Millis(0).to_string(), "0s");
        assert_eq!(Millis(10_000).to_string(), "10s");
        assert_eq!(Millis::from_secs(40_950).to_string(), "11h 22m 30s");
        assert_eq!(Millis(61_500).to_string(), "1m 1.500s");
    }

    #[test]
    fn unix_secs_round_down() {
        assert_eq!(UnixMillis(1_700_000_000_999).as_unix_secs(), 1_700_000_000);
        assert_eq!(UnixMillis(-5).as_unix_secs(), 0);
    }
}
