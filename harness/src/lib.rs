//! Deterministic simulation of AresGen webhook delivery.
//!
//! One `u64` seed decides a whole run: [`Settings::draw`] expands it into the fault families
//! that are switched on and their parameters, and [`plan::Plan`] draws the concrete schedule
//! from it. The simulation drives the sans-IO [`delivery_core::Core`] through simulated
//! receivers, a lossy network, skewed clocks and sender crashes. Virtual time jumps to the next
//! wake-up, so 72 simulated hours cost milliseconds.
//!
//! A run has two phases. In the safety phase every fault may fire. When it ends, everything
//! heals: receivers answer, the network stops losing requests, clocks are set right, a crashed
//! sender restarts and the operator enables every disabled endpoint. The liveness phase then
//! runs long enough for every delivery to finish. The checkers in [`check`] read what an
//! observer could see and report every broken invariant.
//!
//! ```
//! let report = harness::run(&harness::Settings::draw(7));
//! assert!(report.passed(), "{}", report.summary());
//! ```

pub mod check;
pub mod clock;
pub mod network;
pub mod plan;
pub mod receiver;
pub mod report;
pub mod rng;
pub mod scenario;
pub mod settings;
pub mod sim;
pub mod store;
pub mod trace;
pub mod workload;

pub use check::{Outcomes, Verdict, Violation};
pub use report::{Report, Stats};
pub use scenario::Scenario;
pub use settings::{Settings, SettingsError};

use check::Observations;
use delivery_core::Config;
use std::ops::RangeInclusive;

/// Seeds that the test suite and `aresgen-hooks simulate` without flags run.
pub const DEFAULT_SEEDS: RangeInclusive<u64> = 1..=32;

/// How to run a simulation apart from its settings.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The sender's configuration.
    pub config: Config,
    /// Whether to record the full event trace.
    pub trace: bool,
}

/// Runs one simulation with the default sender configuration and no trace.
pub fn run(settings: &Settings) -> Report {
    run_with(settings, &RunOptions::default(), |_, _| {})
}

/// Runs one simulation. `progress` is called with the simulated time and the counters every
/// six simulated hours. Callers should first check `settings` with [`Settings::validate_for`]
/// and `options.config`, because a run longer than the sender's retention reports violations
/// that come from the pruned delivery log, not from the sender.
pub fn run_with(
    settings: &Settings,
    options: &RunOptions,
    progress: impl FnMut(u64, &Stats),
) -> Report {
    let simulation = sim::Simulation::new(settings, options.config.clone(), options.trace);
    let finished = simulation.run(progress);

    let statuses = finished
        .plan
        .endpoints
        .iter()
        .map(|spec| finished.core.endpoint_status(spec.endpoint()))
        .collect();
    let observations = Observations {
        endpoints: &finished.plan.endpoints,
        receivers: &finished.receivers,
        published: &finished.observed.published,
        replays: &finished.observed.replays,
        notifications: &finished.observed.notifications,
        log: finished.core.log(),
        statuses,
        sender_clock: &finished.plan.sender_clock,
        policy: finished.core.config().retry,
        reenabled_on_heal: settings.reenable_on_heal,
        end_at: finished.end_at,
        sender_gaps: &finished.sender_gaps,
    };
    let mut verdict = check::check_all(&observations);
    for error in &finished.driver_errors {
        verdict.violations.insert(
            0,
            Violation {
                checker: "driver",
                time_base: check::TimeBase::Simulated,
                at: 0,
                message: error.clone(),
                events: Vec::new(),
            },
        );
    }

    let mut stats = finished.stats;
    stats.runs = 1;
    stats.simulated_ms = finished.end_at;
    Report {
        settings: finished.settings,
        stats,
        verdict,
        trace: finished.trace.lines().map(<[String]>::to_vec),
    }
}
