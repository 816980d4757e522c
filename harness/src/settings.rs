//! Run settings: which fault families are on and their parameters.
//!
//! [`Settings::draw`] expands a seed into a swarm configuration: each family is switched on or
//! off and its parameters drawn, so different seeds stress different combinations. A scenario
//! file states the same fields by hand. [`Settings`]'s `Display` prints every field, so one
//! printed block (or one seed) describes the whole run.

use crate::receiver::Behaviour;
use crate::rng::{Rng, Stream};
use serde::{Deserialize, Serialize};
use std::fmt;

mod validate;

pub use validate::SettingsError;

/// Everything that decides a run, next to the seed that draws the concrete schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub seed: u64,
    /// Length of the safety phase in simulated hours. Faults happen only within it.
    pub hours: u64,
    /// Length of the liveness phase that follows, in hours, with every fault healed. It must
    /// cover a whole retry budget (72 h) plus the longest backoff (6 h) for liveness to hold.
    pub settle_hours: u64,
    /// Whether the operator enables every disabled endpoint when the faults heal. When false,
    /// deliveries held on a disabled endpoint must stay held and be reported.
    pub reenable_on_heal: bool,
    pub workload: WorkloadSettings,
    pub network: NetworkSettings,
    pub receivers: ReceiverSettings,
    pub clocks: ClockSettings,
    pub crashes: CrashSettings,
    pub operator: OperatorSettings,
}

/// Workspaces, endpoints, events and replays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkloadSettings {
    pub workspaces: u32,
    /// Endpoints per workspace: each workspace gets between one and this many.
    pub max_endpoints_per_workspace: u32,
    /// Events published outside bursts, spread over `publish_hours`.
    pub events: u32,
    /// Hours, from the start, over which events are published.
    pub publish_hours: u64,
    /// Bursts: each publishes `burst_size` events within one second.
    pub bursts: u32,
    pub burst_size: u32,
    /// When set, the first burst starts at this minute instead of a drawn time.
    pub first_burst_minute: Option<u64>,
    /// Single-event replays issued at random times.
    pub replay_events: u32,
    /// Time-range replays issued at random times.
    pub replay_ranges: u32,
    /// Replays at fixed times.
    pub explicit_replays: Vec<ReplaySpec>,
}

/// A replay issued at a fixed time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplaySpec {
    /// When the operator issues it, in minutes from the start.
    pub at_minute: u64,
    /// Index of the target endpoint, in creation order.
    pub endpoint: usize,
    /// For a range replay: the range in minutes from the start, on the sender's wall clock.
    /// Without it, the replay names the endpoint's earliest published event.
    pub range_minutes: Option<(u64, u64)>,
}

/// The network between sender and receivers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkSettings {
    /// One-way latency in milliseconds.
    pub latency_ms: u64,
    /// Extra one-way latency drawn uniformly from `0..=jitter_ms` per leg.
    pub jitter_ms: u64,
    /// Probability, in per mille, that a request is lost on the way to the receiver.
    pub request_loss_permille: u32,
    /// Probability, in per mille, that a response is lost after the receiver processed the
    /// request.
    pub response_loss_permille: u32,
    /// Probability, in per mille, that a connection hangs until the attempt timeout.
    pub blackhole_permille: u32,
    /// Partitions drawn at random: each cuts one receiver off for a while.
    pub partitions: u32,
    pub partition_max_minutes: u64,
    pub explicit_partitions: Vec<WindowSpec>,
}

/// A stretch of time on one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// Index of the endpoint, in creation order.
    pub endpoint: usize,
    pub from_minute: u64,
    pub to_minute: u64,
}

/// Receiver faults: windows of a faulty behaviour, random failures and outages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReceiverSettings {
    /// Each receiver gets up to this many windows of a faulty behaviour.
    pub max_windows_per_receiver: u32,
    pub window_max_minutes: u64,
    /// Probability, in per mille, that a healthy receiver fails one request with a 500, 429 or
    /// 503.
    pub flaky_permille: u32,
    /// Receivers that go down (refuse connections) for a long stretch.
    pub outages: u32,
    pub outage_max_hours: u64,
    pub explicit_windows: Vec<BehaviourWindow>,
}

/// A faulty behaviour of one receiver at fixed times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BehaviourWindow {
    pub endpoint: usize,
    pub from_minute: u64,
    pub to_minute: u64,
    pub behaviour: Behaviour,
}

/// Wall clocks of the sender and of the receivers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClockSettings {
    /// Each receiver's wall clock is off by up to this many seconds, either way.
    pub receiver_max_skew_secs: u64,
    /// Each receiver's wall clock drifts by up to this many parts per million, either way.
    pub receiver_max_drift_ppm: u64,
    /// Steps of the sender's wall clock at random times.
    pub sender_steps: u32,
    pub sender_max_step_secs: u64,
    pub explicit_receiver_clocks: Vec<ReceiverClockSpec>,
}

/// A fixed skew and drift for one receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverClockSpec {
    pub endpoint: usize,
    pub skew_secs: i64,
    #[serde(default)]
    pub drift_ppm: i64,
}

/// Sender crashes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrashSettings {
    /// Crashes at random times of the safety phase.
    pub count: u32,
    pub max_downtime_minutes: u64,
    /// Probability, in per mille, that a crash strikes while the sender persists records, so
    /// the records after the cut, the transmits and the notifications of that step are lost.
    pub mid_drain_permille: u32,
    /// The store folds its records into a snapshot every this many records; zero never does.
    pub snapshot_every: u32,
    pub explicit: Vec<CrashSpec>,
}

/// A crash at a fixed time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrashSpec {
    pub at_minute: u64,
    #[serde(default)]
    pub downtime_minutes: u64,
    #[serde(default)]
    pub mid_drain: bool,
}

/// Operator actions during the safety phase.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OperatorSettings {
    /// Random disable-then-enable pairs on random endpoints.
    pub toggles: u32,
    /// When set, the operator enables an endpoint this many minutes after it was reported
    /// disabled.
    pub reenable_after_minutes: Option<u64>,
}

impl Default for Settings {
    /// Returns a quiet run: a small workload, a fast network and no faults.
    fn default() -> Self {
        Settings {
            seed: 1,
            hours: 72,
            settle_hours: 78,
            reenable_on_heal: true,
            workload: WorkloadSettings::default(),
            network: NetworkSettings::default(),
            receivers: ReceiverSettings::default(),
            clocks: ClockSettings::default(),
            crashes: CrashSettings::default(),
            operator: OperatorSettings::default(),
        }
    }
}

impl Default for WorkloadSettings {
    fn default() -> Self {
        WorkloadSettings {
            workspaces: 2,
            max_endpoints_per_workspace: 2,
            events: 50,
            publish_hours: 24,
            bursts: 0,
            burst_size: 0,
            first_burst_minute: None,
            replay_events: 0,
            replay_ranges: 0,
            explicit_replays: Vec::new(),
        }
    }
}

impl Default for NetworkSettings {
    fn default() -> Self {
        NetworkSettings {
            latency_ms: 20,
            jitter_ms: 0,
            request_loss_permille: 0,
            response_loss_permille: 0,
            blackhole_permille: 0,
            partitions: 0,
            partition_max_minutes: 0,
            explicit_partitions: Vec::new(),
        }
    }
}

impl Settings {
    /// Expands a seed into a swarm configuration: every fault family is switched on with
    /// probability one half (latency jitter and receiver faults with two thirds) and its
    /// parameters drawn.
    pub fn draw(seed: u64) -> Settings {
        let mut rng = Rng::stream(seed, Stream::Settings);
        let on = |rng: &mut Rng, permille: u32| rng.chance(permille);

        let workload = WorkloadSettings {
            workspaces: rng.between(2, 6) as u32,
            max_endpoints_per_workspace: rng.between(1, 3) as u32,
            events: rng.between(100, 500) as u32,
            publish_hours: rng.between(6, 48),
            bursts: if on(&mut rng, 500) {
                rng.between(1, 3) as u32
            } else {
                0
            },
            burst_size: rng.between(20, 200) as u32,
            first_burst_minute: None,
            replay_events: if on(&mut rng, 500) {
                rng.between(1, 8) as u32
            } else {
                0
            },
            replay_ranges: if on(&mut rng, 500) {
                rng.between(1, 3) as u32
            } else {
                0
            },
            explicit_replays: Vec::new(),
        };

        let network = NetworkSettings {
            latency_ms: rng.between(1, 200),
            jitter_ms: if on(&mut rng, 667) {
                rng.between(10, 4000)
            } else {
                0
            },
            request_loss_permille: if on(&mut rng, 500) {
                rng.between(5, 150) as u32
            } else {
                0
            },
            response_loss_permille: if on(&mut rng, 500) {
                rng.between(5, 150) as u32
            } else {
                0
            },
            blackhole_permille: if on(&mut rng, 500) {
                rng.between(5, 80) as u32
            } else {
                0
            },
            partitions: if on(&mut rng, 500) {
                rng.between(1, 4) as u32
            } else {
                0
            },
            partition_max_minutes: rng.between(5, 600),
            explicit_partitions: Vec::new(),
        };

        let receivers = ReceiverSettings {
            max_windows_per_receiver: if on(&mut rng, 667) {
                rng.between(1, 4) as u32
            } else {
                0
            },
            window_max_minutes: rng.between(10, 720),
            flaky_permille: if on(&mut rng, 500) {
                rng.between(10, 200) as u32
            } else {
                0
            },
            outages: if on(&mut rng, 500) {
                rng.between(1, 2) as u32
            } else {
                0
            },
            outage_max_hours: rng.between(4, 90),
            explicit_windows: Vec::new(),
        };

        let clocks = ClockSettings {
            receiver_max_skew_secs: if on(&mut rng, 500) {
                rng.between(5, 600)
            } else {
                0
            },
            receiver_max_drift_ppm: if on(&mut rng, 500) {
                rng.between(10, 500)
            } else {
                0
            },
            sender_steps: if on(&mut rng, 500) {
                rng.between(1, 4) as u32
            } else {
                0
            },
            sender_max_step_secs: rng.between(30, 3 * 3600),
            explicit_receiver_clocks: Vec::new(),
        };

        let crashes = CrashSettings {
            count: if on(&mut rng, 500) {
                rng.between(1, 4) as u32
            } else {
                0
            },
            max_downtime_minutes: rng.between(0, 240),
            mid_drain_permille: rng.between(0, 1000) as u32,
            snapshot_every: if on(&mut rng, 500) {
                rng.between(20, 2000) as u32
            } else {
                0
            },
            explicit: Vec::new(),
        };

        let operator = OperatorSettings {
            toggles: if on(&mut rng, 500) {
                rng.between(1, 4) as u32
            } else {
                0
            },
            reenable_after_minutes: if on(&mut rng, 500) {
                Some(rng.between(5, 24 * 60))
            } else {
                None
            },
        };

        // Safety phases longer than the 72-hour budget let budgets run out before the faults
        // heal, so the failed path is exercised too.
        let hours = rng.between(72, 100);

        Settings {
            seed,
            hours,
            workload,
            network,
            receivers,
            clocks,
            crashes,
            operator,
            ..Settings::default()
        }
    }
}

impl Settings {
    /// Returns the names of the fault families this run switches on.
    pub fn families(&self) -> Vec<&'static str> {
        let workload = &self.workload;
        let network = &self.network;
        let receivers = &self.receivers;
        let clocks = &self.clocks;
        let crashes = &self.crashes;
        let families = [
            ("burst", workload.bursts > 0 && workload.burst_size > 0),
            ("replay_event", workload.replay_events > 0),
            (
                "replay_range",
                workload.replay_ranges > 0 || !workload.explicit_replays.is_empty(),
            ),
            ("latency_jitter", network.jitter_ms > 0),
            ("request_lost", network.request_loss_permille > 0),
            ("response_lost", network.response_loss_permille > 0),
            ("blackhole", network.blackhole_permille > 0),
            (
                "partition",
                network.partitions > 0 || !network.explicit_partitions.is_empty(),
            ),
            (
                "receiver_window",
                receivers.max_windows_per_receiver > 0 || !receivers.explicit_windows.is_empty(),
            ),
            ("flaky", receivers.flaky_permille > 0),
            ("outage", receivers.outages > 0),
            (
                "receiver_clock",
                clocks.receiver_max_skew_secs > 0
                    || clocks.receiver_max_drift_ppm > 0
                    || !clocks.explicit_receiver_clocks.is_empty(),
            ),
            ("sender_clock_step", clocks.sender_steps > 0),
            ("crash", crashes.count > 0 || !crashes.explicit.is_empty()),
            ("snapshot", crashes.snapshot_every > 0),
            ("operator_toggle", self.operator.toggles > 0),
            (
                "operator_reenable",
                self.operator.reenable_after_minutes.is_some(),
            ),
        ];
        families
            .into_iter()
            .filter(|(_, on)| *on)
            .map(|(name, _)| name)
            .collect()
    }
}

impl fmt::Display for Settings {
    /// Prints the settings as TOML, which a scenario file can take unchanged.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match toml::to_string(self) {
            Ok(text) => f.write_str(text.trim_end()),
            Err(error) => write!(f, "{self:?} (TOML rendering failed: {error})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draw_is_deterministic() {
        assert_eq!(Settings::draw(9), Settings::draw(9));
        assert_ne!(Settings::draw(9), Settings::draw(10));
    }

    #[test]
    fn drawn_settings_are_valid() {
        for seed in 1..=500 {
            let settings = Settings::draw(seed);
            assert_eq!(settings.validate(), Ok(()), "seed {seed}");
        }
    }

    #[test]
    fn default_settings_are_valid() {
        assert_eq!(Settings::default().validate(), Ok(()));
    }

    /// Applies `change` to the default settings and returns the field and value that
    /// validation rejects.
    fn rejected(change: impl FnOnce(&mut Settings)) -> (String, String) {
        let mut settings = Settings::default();
        change(&mut settings);
        let error = settings.validate().expect_err("the change is invalid");
        (error.field, error.value)
    }

    #[test]
    fn validate_rejects_run_past_retention() {
        // 642 safety hours plus the default 78 settle hours fill the 720-hour retention.
        let mut settings = Settings {
            hours: 642,
            ..Settings::default()
        };
        assert_eq!(settings.validate(), Ok(()));

        settings.hours = 643;
        let error = settings
            .validate()
            .expect_err("643 hours exceed the retention");
        assert_eq!(error.field, "hours");
        assert_eq!(error.value, "643");
        assert!(error.valid.contains("1 to 642"), "{error}");
        assert!(error.valid.contains("720-hour retention"), "{error}");
    }

    #[test]
    fn validate_rejects_short_phases() {
        assert_eq!(rejected(|s| s.hours = 0), ("hours".into(), "0".into()));
        assert_eq!(
            rejected(|s| s.settle_hours = 0),
            ("settle_hours".into(), "0".into())
        );
        assert_eq!(
            rejected(|s| s.settle_hours = 77),
            ("settle_hours".into(), "77".into())
        );
    }

    #[test]
    fn validate_rejects_empty_workload() {
        assert_eq!(
            rejected(|s| s.workload.workspaces = 0),
            ("workload.workspaces".into(), "0".into())
        );
        assert_eq!(
            rejected(|s| s.workload.max_endpoints_per_workspace = 0),
            ("workload.max_endpoints_per_workspace".into(), "0".into())
        );
        assert_eq!(
            rejected(|s| s.workload.publish_hours = 73),
            ("workload.publish_hours".into(), "73".into())
        );
        assert_eq!(
            rejected(|s| s.workload.bursts = 1),
            ("workload.burst_size".into(), "0".into())
        );
    }

    #[test]
    fn validate_rejects_permille_above_1000() {
        let error = Settings {
            network: NetworkSettings {
                request_loss_permille: 5000,
                ..NetworkSettings::default()
            },
            ..Settings::default()
        }
        .validate()
        .expect_err("5000 per mille is invalid");
        assert_eq!(error.field, "network.request_loss_permille");
        assert_eq!(error.value, "5000");
        assert_eq!(error.valid, "expected 0 to 1000");
        assert_eq!(
            rejected(|s| s.receivers.flaky_permille = 1001),
            ("receivers.flaky_permille".into(), "1001".into())
        );
    }

    #[test]
    fn validate_rejects_bad_windows() {
        let window = |endpoint, from_minute, to_minute| BehaviourWindow {
            endpoint,
            from_minute,
            to_minute,
            behaviour: Behaviour::Refused,
        };
        assert_eq!(
            rejected(|s| s.receivers.explicit_windows = vec![window(99, 0, 10)]),
            ("receivers.explicit_windows.endpoint".into(), "99".into())
        );
        assert_eq!(
            rejected(|s| s.receivers.explicit_windows = vec![window(0, 100, 10)]),
            (
                "receivers.explicit_windows.from_minute".into(),
                "100".into()
            )
        );
        assert_eq!(
            rejected(|s| s.receivers.explicit_windows = vec![window(0, 0, 72 * 60 + 1)]),
            ("receivers.explicit_windows.to_minute".into(), "4321".into())
        );
        assert_eq!(
            rejected(|s| {
                s.network.explicit_partitions = vec![WindowSpec {
                    endpoint: 0,
                    from_minute: 5,
                    to_minute: 5,
                }]
            }),
            ("network.explicit_partitions.from_minute".into(), "5".into())
        );
        assert_eq!(
            rejected(|s| {
                s.workload.explicit_replays = vec![ReplaySpec {
                    at_minute: 10,
                    endpoint: 0,
                    range_minutes: Some((9, 1)),
                }]
            }),
            (
                "workload.explicit_replays.range_minutes".into(),
                "[9, 1]".into()
            )
        );
        assert_eq!(
            rejected(|s| {
                s.crashes.explicit = vec![CrashSpec {
                    at_minute: 72 * 60,
                    downtime_minutes: 0,
                    mid_drain: false,
                }]
            }),
            ("crashes.explicit.at_minute".into(), "4320".into())
        );
    }

    #[test]
    fn display_round_trips_through_toml() {
        let settings = Settings::draw(3);
        let parsed: Settings =
            toml::from_str(&settings.to_string()).expect("printed settings parse");
        assert_eq!(parsed, settings);
    }
}
