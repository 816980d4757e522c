//! The concrete schedule of one run, drawn from its settings and seed: endpoints, events,
//! receiver windows, partitions, clocks, crashes and operator actions.

use crate::clock::{ReceiverClock, SenderClock};
use crate::receiver::{Behaviour, Window};
use crate::rng::{Rng, Stream};
use crate::settings::Settings;
use crate::workload::{self, EndpointSpec, PlannedEvent};

const MINUTE: u64 = 60_000;
const HOUR: u64 = 3_600_000;

/// A replay the operator issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlannedReplay {
    /// Replays one event; `endpoint` names the target, or `None` for a random event to every
    /// subscribed endpoint or to one of them.
    Event { at: u64, endpoint: Option<usize> },
    /// Replays an endpoint's deliveries queued within `from..to` (simulated milliseconds,
    /// turned into the sender's wall-clock times when issued).
    Range {
        at: u64,
        endpoint: usize,
        from: u64,
        to: u64,
    },
}

/// A sender crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedCrash {
    pub at: u64,
    pub downtime: u64,
    pub mid_drain: bool,
}

/// An operator's disable at `from` and enable at `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedToggle {
    pub endpoint: usize,
    pub from: u64,
    pub to: u64,
}

/// Everything that happens in a run apart from the sender's own decisions.
#[derive(Debug, Clone)]
pub struct Plan {
    pub endpoints: Vec<EndpointSpec>,
    pub events: Vec<PlannedEvent>,
    pub receiver_windows: Vec<Vec<Window>>,
    pub receiver_clocks: Vec<ReceiverClock>,
    pub partitions: Vec<Vec<(u64, u64)>>,
    pub sender_clock: SenderClock,
    pub crashes: Vec<PlannedCrash>,
    pub toggles: Vec<PlannedToggle>,
    pub replays: Vec<PlannedReplay>,
    /// End of the safety phase: every fault heals here.
    pub heal_at: u64,
    /// End of the liveness phase and of the run.
    pub end_at: u64,
}

impl Plan {
    /// Draws the schedule. Each part draws from its own stream of the seed.
    pub fn draw(settings: &Settings) -> Plan {
        let seed = settings.seed;
        let heal_at = settings.hours.max(1) * HOUR;
        let end_at = heal_at + settings.settle_hours * HOUR;

        let mut workload_rng = Rng::stream(seed, Stream::Workload);
        let mut secrets = Rng::stream(seed, Stream::Secrets);
        let endpoints =
            workload::build_endpoints(&settings.workload, &mut workload_rng, &mut secrets);
        let mut events = workload::plan_events(&settings.workload, &mut workload_rng);
        for event in &mut events {
            event.at = event.at.min(heal_at.saturating_sub(1));
        }
        let count = endpoints.len();

        let receiver_windows = draw_windows(settings, count, heal_at);
        let receiver_clocks = draw_receiver_clocks(settings, count, heal_at);
        let partitions = draw_partitions(settings, count, heal_at);
        let sender_clock = draw_sender_clock(settings, heal_at);
        let crashes = draw_crashes(settings, heal_at);
        let toggles = draw_toggles(settings, count, heal_at);
        let replays = draw_replays(settings, count, heal_at, &mut workload_rng);

        Plan {
            endpoints,
            events,
            receiver_windows,
            receiver_clocks,
            partitions,
            sender_clock,
            crashes,
            toggles,
            replays,
            heal_at,
            end_at,
        }
    }
}

/// Keeps an index given in a scenario within the endpoints that exist.
fn clamp_index(index: usize, count: usize) -> usize {
    index.min(count.saturating_sub(1))
}

fn draw_windows(settings: &Settings, count: usize, heal_at: u64) -> Vec<Vec<Window>> {
    let faults = &settings.receivers;
    let mut rng = Rng::stream(settings.seed, Stream::Receivers);
    let mut windows: Vec<Vec<Window>> = vec![Vec::new(); count];

    for receiver in windows.iter_mut() {
        let n = rng.between(0, u64::from(faults.max_windows_per_receiver));
        for _ in 0..n {
            let from = rng.below(heal_at);
            let length = rng.between(1, faults.window_max_minutes.max(1)) * MINUTE;
            receiver.push(Window {
                from,
                to: (from + length).min(heal_at),
                behaviour: Behaviour::draw(&mut rng),
                outage: false,
            });
        }
    }
    for _ in 0..faults.outages {
        let receiver = rng.below(count as u64) as usize;
        let from = rng.below(heal_at / 2);
        let length = rng.between(1, faults.outage_max_hours.max(1)) * HOUR;
        windows[receiver].push(Window {
            from,
            to: (from + length).min(heal_at),
            behaviour: Behaviour::Refused,
            outage: true,
        });
    }
    for spec in &faults.explicit_windows {
        windows[clamp_index(spec.endpoint, count)].push(Window {
            from: spec.from_minute * MINUTE,
            to: spec.to_minute * MINUTE,
            behaviour: spec.behaviour,
            outage: spec.behaviour == Behaviour::Refused
                && spec.to_minute.saturating_sub(spec.from_minute) >= 60,
        });
    }
    for receiver in &mut windows {
        receiver.sort_by_key(|window| window.from);
    }
    windows
}

fn draw_receiver_clocks(settings: &Settings, count: usize, heal_at: u64) -> Vec<ReceiverClock> {
    let clocks = &settings.clocks;
    let mut rng = Rng::stream(settings.seed, Stream::Clocks);
    let mut drawn: Vec<ReceiverClock> = (0..count)
        .map(|_| ReceiverClock {
            skew_ms: rng.signed(clocks.receiver_max_skew_secs) * 1000,
            drift_ppm: rng.signed(clocks.receiver_max_drift_ppm),
            healed_at: heal_at,
        })
        .collect();
    for spec in &clocks.explicit_receiver_clocks {
        drawn[clamp_index(spec.endpoint, count)] = ReceiverClock {
            skew_ms: spec.skew_secs * 1000,
            drift_ppm: spec.drift_ppm,
            healed_at: heal_at,
        };
    }
    drawn
}

fn draw_partitions(settings: &Settings, count: usize, heal_at: u64) -> Vec<Vec<(u64, u64)>> {
    let network = &settings.network;
    let mut rng = Rng::stream(settings.seed, Stream::Network);
    let mut partitions: Vec<Vec<(u64, u64)>> = vec![Vec::new(); count];
    for _ in 0..network.partitions {
        let receiver = rng.below(count as u64) as usize;
        let from = rng.below(heal_at);
        let length = rng.between(1, network.partition_max_minutes.max(1)) * MINUTE;
        partitions[receiver].push((from, (from + length).min(heal_at)));
    }
    for spec in &network.explicit_partitions {
        partitions[clamp_index(spec.endpoint, count)]
            .push((spec.from_minute * MINUTE, spec.to_minute * MINUTE));
    }
    partitions
}

fn draw_sender_clock(settings: &Settings, heal_at: u64) -> SenderClock {
    let clocks = &settings.clocks;
    let mut rng = Rng::stream(settings.seed, Stream::SenderClock);
    let mut steps: Vec<(u64, i64)> = (0..clocks.sender_steps)
        .map(|_| {
            let at = rng.below(heal_at);
            (at, rng.signed(clocks.sender_max_step_secs) * 1000)
        })
        .collect();
    steps.sort_by_key(|(at, _)| *at);
    if !steps.is_empty() {
        // Healing sets the clock right again.
        steps.push((heal_at, 0));
    }
    SenderClock { steps }
}

fn draw_crashes(settings: &Settings, heal_at: u64) -> Vec<PlannedCrash> {
    let faults = &settings.crashes;
    let mut rng = Rng::stream(settings.seed, Stream::Crashes);
    let mut crashes: Vec<PlannedCrash> = (0..faults.count)
        .map(|_| PlannedCrash {
            at: rng.below(heal_at),
            downtime: rng.between(0, faults.max_downtime_minutes) * MINUTE,
            mid_drain: rng.chance(faults.mid_drain_permille),
        })
        .collect();
    crashes.extend(faults.explicit.iter().map(|spec| PlannedCrash {
        at: spec.at_minute * MINUTE,
        downtime: spec.downtime_minutes * MINUTE,
        mid_drain: spec.mid_drain,
    }));
    crashes.sort_by_key(|crash| crash.at);
    crashes
}

fn draw_toggles(settings: &Settings, count: usize, heal_at: u64) -> Vec<PlannedToggle> {
    let mut rng = Rng::stream(settings.seed, Stream::Operator);
    (0..settings.operator.toggles)
        .map(|_| {
            let from = rng.below(heal_at);
            PlannedToggle {
                endpoint: rng.below(count as u64) as usize,
                from,
                to: (from + rng.between(1, 12 * 60) * MINUTE).min(heal_at),
            }
        })
        .collect()
}

fn draw_replays(
    settings: &Settings,
    count: usize,
    heal_at: u64,
    rng: &mut Rng,
) -> Vec<PlannedReplay> {
    let workload = &settings.workload;
    let mut replays = Vec::new();
    for _ in 0..workload.replay_events {
        replays.push(PlannedReplay::Event {
            at: rng.between(HOUR.min(heal_at), heal_at),
            endpoint: None,
        });
    }
    for _ in 0..workload.replay_ranges {
        let at = rng.between(HOUR.min(heal_at), heal_at);
        let from = rng.below(at);
        let to = (from + rng.between(1, 12 * 60) * MINUTE).min(at);
        replays.push(PlannedReplay::Range {
            at,
            endpoint: rng.below(count as u64) as usize,
            from,
            to,
        });
    }
    for spec in &workload.explicit_replays {
        let at = spec.at_minute * MINUTE;
        let endpoint = clamp_index(spec.endpoint, count);
        replays.push(match spec.range_minutes {
            Some((from, to)) => PlannedReplay::Range {
                at,
                endpoint,
                from: from * MINUTE,
                to: to * MINUTE,
            },
            None => PlannedReplay::Event {
                at,
                endpoint: Some(endpoint),
            },
        });
    }
    replays
}
