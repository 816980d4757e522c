//! Simulated wall clocks. Every wall clock is the simulation's time plus an offset, never a
//! second source of truth: a receiver's offset is a fixed skew plus a linear drift, and the
//! sender's offset is a step function.

/// Unix time, in milliseconds, at simulated time zero: 2026-05-11T00:00:00Z.
pub const EPOCH_UNIX_MS: i64 = 1_778_457_600_000;

/// One receiver's wall clock until the faults heal; afterwards it reads true time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverClock {
    pub skew_ms: i64,
    pub drift_ppm: i64,
    /// Simulated time at which the clock is set right.
    pub healed_at: u64,
}

impl ReceiverClock {
    /// Returns the clock's offset from true time at simulated time `at`, in milliseconds.
    pub fn offset_ms(&self, at: u64) -> i64 {
        if at >= self.healed_at {
            return 0;
        }
        let drift = i128::from(self.drift_ppm) * i128::from(at) / 1_000_000;
        self.skew_ms + drift as i64
    }

    /// Returns the clock's reading at simulated time `at`, in Unix milliseconds.
    pub fn wall_ms(&self, at: u64) -> i64 {
        EPOCH_UNIX_MS + at as i64 + self.offset_ms(at)
    }
}

/// The sender's wall clock: true time plus the offset of the last step at or before a time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SenderClock {
    /// `(simulated time, offset in ms from then on)`, sorted by time.
    pub steps: Vec<(u64, i64)>,
}

impl SenderClock {
    /// Returns the offset in force at simulated time `at`.
    pub fn offset_ms(&self, at: u64) -> i64 {
        let index = self.steps.partition_point(|(step_at, _)| *step_at <= at);
        if index == 0 {
            0
        } else {
            self.steps[index - 1].1
        }
    }

    /// Returns the smallest and the largest offset in force during `from..=to`.
    pub fn offset_range(&self, from: u64, to: u64) -> (i64, i64) {
        let mut low = self.offset_ms(from);
        let mut high = low;
        for (step_at, offset) in &self.steps {
            if *step_at > from && *step_at <= to {
                low = low.min(*offset);
                high = high.max(*offset);
            }
        }
        (low, high)
    }

    /// Returns the clock's reading at simulated time `at`, in Unix milliseconds.
    pub fn wall_ms(&self, at: u64) -> i64 {
        EPOCH_UNIX_MS + at as i64 + self.offset_ms(at)
    }
}

/// Formats Unix milliseconds as RFC 3339 UTC with milliseconds, e.g. `2026-05-11T08:14:22.184Z`.
pub fn format_rfc3339(unix_ms: i64) -> String {
    let days = unix_ms.div_euclid(86_400_000);
    let in_day = unix_ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute) = (in_day / 3_600_000, (in_day / 60_000) % 60);
    let (second, millis) = ((in_day / 1000) % 60, in_day % 1000);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{millis:03}Z")
}

/// Converts days since 1970-01-01 into a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_of_epoch() {
        assert_eq!(format_rfc3339(EPOCH_UNIX_MS), "2026-05-11T00:00:00.000Z");
        assert_eq!(
            format_rfc3339(EPOCH_UNIX_MS + 29_662_184),
            "2026-05-11T08:14:22.184Z"
        );
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn sender_steps_apply_from_their_time() {
        let clock = SenderClock {
            steps: vec![(100, -5_000), (200, 7_000)],
        };
        assert_eq!(clock.offset_ms(99), 0);
        assert_eq!(clock.offset_ms(100), -5_000);
        assert_eq!(clock.offset_ms(250), 7_000);
        assert_eq!(clock.offset_range(50, 250), (-5_000, 7_000));
    }

    #[test]
    fn receiver_drift_grows_then_heals() {
        let clock = ReceiverClock {
            skew_ms: 1_000,
            drift_ppm: 100,
            healed_at: 20_000_000,
        };
        assert_eq!(clock.offset_ms(0), 1_000);
        assert_eq!(clock.offset_ms(10_000_000), 2_000);
        assert_eq!(clock.offset_ms(20_000_000), 0);
    }
}
