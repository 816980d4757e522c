//! Range checks of [`Settings`], for scenario files and drawn settings alike.

use super::Settings;
use crate::rng::{Rng, Stream};
use crate::workload;
use delivery_core::Config;

const HOUR_MS: u64 = 3_600_000;

/// A setting outside its valid range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid setting {field} = {value}: {valid}")]
pub struct SettingsError {
    /// Path of the field, as a scenario file's `[settings]` table spells it.
    pub field: String,
    pub value: String,
    /// The valid range, as a sentence fragment.
    pub valid: String,
}

fn invalid(field: impl Into<String>, value: impl ToString, valid: String) -> SettingsError {
    SettingsError {
        field: field.into(),
        value: value.to_string(),
        valid,
    }
}

/// Rejects a per-mille probability above 1000.
fn check_permille(field: &str, value: u32) -> Result<(), SettingsError> {
    if value > 1000 {
        return Err(invalid(field, value, "expected 0 to 1000".to_owned()));
    }
    Ok(())
}

/// Rejects a `from_minute..to_minute` window that is empty or reaches past the safety phase.
fn check_window(field: &str, from: u64, to: u64, safety_minutes: u64) -> Result<(), SettingsError> {
    if to > safety_minutes {
        return Err(invalid(
            format!("{field}.to_minute"),
            to,
            format!("expected at most {safety_minutes}, the end of the safety phase (hours * 60)"),
        ));
    }
    if from >= to {
        return Err(invalid(
            format!("{field}.from_minute"),
            from,
            format!("expected less than to_minute ({to})"),
        ));
    }
    Ok(())
}

/// Rejects an endpoint index that names no endpoint of the run.
fn check_endpoint(field: &str, index: usize, count: usize) -> Result<(), SettingsError> {
    if index >= count {
        return Err(invalid(
            format!("{field}.endpoint"),
            index,
            format!(
                "this seed's workload creates {count} endpoints, so expected 0 to {}",
                count - 1
            ),
        ));
    }
    Ok(())
}

/// Rejects a minute of the run that lies outside the safety phase.
fn check_minute(field: &str, minute: u64, safety_minutes: u64) -> Result<(), SettingsError> {
    if minute >= safety_minutes {
        return Err(invalid(
            field,
            minute,
            format!(
                "expected 0 to {}, within the safety phase",
                safety_minutes - 1
            ),
        ));
    }
    Ok(())
}

impl Settings {
    /// Checks every field against its valid range for a sender with the default
    /// configuration. The error names the first field out of range, its value and the range.
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.validate_for(&Config::default())
    }

    /// Checks every field against its valid range for a sender with `config`. The whole run
    /// must fit in the sender's retention, because the core prunes its delivery log, finished
    /// deliveries and events after it and the checkers read that log. The liveness phase must
    /// cover a whole retry budget plus the longest backoff.
    pub fn validate_for(&self, config: &Config) -> Result<(), SettingsError> {
        self.validate_length(config)?;
        let endpoints = self.validate_workload()?;
        self.validate_faults(endpoints)
    }

    fn validate_length(&self, config: &Config) -> Result<(), SettingsError> {
        let retention_hours = config.retention.0 / HOUR_MS;
        let policy = config.retry;
        let min_settle_hours = (policy.budget.0 + policy.max_backoff.0).div_ceil(HOUR_MS);
        if self.settle_hours < min_settle_hours || self.settle_hours >= retention_hours {
            return Err(invalid(
                "settle_hours",
                self.settle_hours,
                format!(
                    "expected {min_settle_hours} to {}: the liveness phase must cover the \
                     retry budget plus the longest backoff, and leave at least one hour of the \
                     {retention_hours}-hour retention for the safety phase",
                    retention_hours - 1
                ),
            ));
        }
        let max_hours = retention_hours - self.settle_hours;
        if !(1..=max_hours).contains(&self.hours) {
            return Err(invalid(
                "hours",
                self.hours,
                format!(
                    "expected 1 to {max_hours}: the safety phase plus settle_hours \
                     ({}) must fit in the sender's {retention_hours}-hour retention, after \
                     which it prunes the delivery log that the checkers read",
                    self.settle_hours
                ),
            ));
        }
        Ok(())
    }

    /// Checks the workload and returns how many endpoints it creates for this seed.
    fn validate_workload(&self) -> Result<usize, SettingsError> {
        let workload = &self.workload;
        if workload.workspaces == 0 {
            return Err(invalid(
                "workload.workspaces",
                0,
                "expected at least 1".to_owned(),
            ));
        }
        if workload.max_endpoints_per_workspace == 0 {
            return Err(invalid(
                "workload.max_endpoints_per_workspace",
                0,
                "expected at least 1".to_owned(),
            ));
        }
        if !(1..=self.hours).contains(&workload.publish_hours) {
            return Err(invalid(
                "workload.publish_hours",
                workload.publish_hours,
                format!("expected 1 to {}, the safety phase's hours", self.hours),
            ));
        }
        if workload.bursts > 0 && workload.burst_size == 0 {
            return Err(invalid(
                "workload.burst_size",
                0,
                format!("expected at least 1 when bursts is {}", workload.bursts),
            ));
        }
        let safety_minutes = self.hours * 60;
        if let Some(minute) = workload.first_burst_minute {
            check_minute("workload.first_burst_minute", minute, safety_minutes)?;
        }

        // The endpoint count is drawn per workspace, so explicit indices are checked against
        // the endpoints this seed creates.
        let endpoints = workload::build_endpoints(
            workload,
            &mut Rng::stream(self.seed, Stream::Workload),
            &mut Rng::stream(self.seed, Stream::Secrets),
        )
        .len();
        for replay in &workload.explicit_replays {
            let field = "workload.explicit_replays";
            check_minute(
                &format!("{field}.at_minute"),
                replay.at_minute,
                safety_minutes,
            )?;
            check_endpoint(field, replay.endpoint, endpoints)?;
            if let Some((from, to)) = replay.range_minutes
                && from > to
            {
                return Err(invalid(
                    format!("{field}.range_minutes"),
                    format!("[{from}, {to}]"),
                    "expected [from, to] with from at most to".to_owned(),
                ));
            }
        }
        Ok(endpoints)
    }

    fn validate_faults(&self, endpoints: usize) -> Result<(), SettingsError> {
        let safety_minutes = self.hours * 60;
        let network = &self.network;
        check_permille(
            "network.request_loss_permille",
            network.request_loss_permille,
        )?;
        check_permille(
            "network.response_loss_permille",
            network.response_loss_permille,
        )?;
        check_permille("network.blackhole_permille", network.blackhole_permille)?;
        for window in &network.explicit_partitions {
            let field = "network.explicit_partitions";
            check_endpoint(field, window.endpoint, endpoints)?;
            check_window(field, window.from_minute, window.to_minute, safety_minutes)?;
        }

        let receivers = &self.receivers;
        check_permille("receivers.flaky_permille", receivers.flaky_permille)?;
        for window in &receivers.explicit_windows {
            let field = "receivers.explicit_windows";
            check_endpoint(field, window.endpoint, endpoints)?;
            check_window(field, window.from_minute, window.to_minute, safety_minutes)?;
        }

        // A drift of a million parts per million or more would stop or reverse a clock.
        let clocks = &self.clocks;
        if clocks.receiver_max_drift_ppm >= 1_000_000 {
            return Err(invalid(
                "clocks.receiver_max_drift_ppm",
                clocks.receiver_max_drift_ppm,
                "expected 0 to 999999".to_owned(),
            ));
        }
        for clock in &clocks.explicit_receiver_clocks {
            let field = "clocks.explicit_receiver_clocks";
            check_endpoint(field, clock.endpoint, endpoints)?;
            if clock.drift_ppm.unsigned_abs() >= 1_000_000 {
                return Err(invalid(
                    format!("{field}.drift_ppm"),
                    clock.drift_ppm,
                    "expected -999999 to 999999".to_owned(),
                ));
            }
        }

        let crashes = &self.crashes;
        check_permille("crashes.mid_drain_permille", crashes.mid_drain_permille)?;
        for crash in &crashes.explicit {
            check_minute(
                "crashes.explicit.at_minute",
                crash.at_minute,
                safety_minutes,
            )?;
        }
        Ok(())
    }
}
