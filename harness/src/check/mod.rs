//! Checkers of the delivery contract. They live apart from the system under test and read only
//! what a real observer could. That is the receivers' arrival logs, the sender's delivery log,
//! its notifications and endpoint status, and the publisher's and operator's own records. They
//! also read the run's clock settings, to know when a signature rejection is expected.
//!
//! Every checker reads the whole history once the run has ended. A violation carries the time
//! it happened, so the first broken invariant is the earliest one, not the first one found.

mod budget;
mod liveness;
mod order;
mod routing;
mod signature;

use crate::clock::SenderClock;
use crate::receiver::Receiver;
use crate::report::{PublishedEvent, ReplayIssued};
use crate::workload::EndpointSpec;
use delivery_core::{DeliveryLog, EndpointStatus, Notification, RetryPolicy};
use std::fmt;

pub use liveness::Outcomes;

/// The clock a violation's time is read on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TimeBase {
    /// Simulated time, as the receivers see it.
    Simulated,
    /// The core's timeline, as the delivery log records it. It equals simulated time until
    /// the first restart, and differs afterwards by the sender's downtime adjustments.
    Core,
}

/// One broken invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Name of the checker that found it.
    pub checker: &'static str,
    pub time_base: TimeBase,
    /// When it happened, in milliseconds on `time_base`.
    pub at: u64,
    pub message: String,
    /// Ids of the events involved.
    pub events: Vec<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let clock = match self.time_base {
            TimeBase::Simulated => "simulated time",
            TimeBase::Core => "core time",
        };
        write!(
            f,
            "[{}] at {} ({clock}): {}",
            self.checker,
            delivery_core::Millis(self.at),
            self.message
        )?;
        if !self.events.is_empty() {
            write!(f, " (events: {})", self.events.join(", "))?;
        }
        Ok(())
    }
}

/// How many items one checker examined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub checker: &'static str,
    pub checked: u64,
}

/// Data the checkers may read.
pub struct Observations<'a> {
    pub endpoints: &'a [EndpointSpec],
    pub receivers: &'a [Receiver],
    pub published: &'a [PublishedEvent],
    pub replays: &'a [ReplayIssued],
    pub notifications: &'a [(u64, Notification)],
    pub log: &'a DeliveryLog,
    /// The status of each endpoint at the end, by index.
    pub statuses: Vec<Option<EndpointStatus>>,
    pub sender_clock: &'a SenderClock,
    pub policy: RetryPolicy,
    /// Whether the operator enabled every disabled endpoint when the faults healed.
    pub reenabled_on_heal: bool,
    /// Simulated time at which the run ended.
    pub end_at: u64,
    /// Stretches of the core's timeline, in milliseconds, that no sender process lived
    /// through: from the last record a crashed sender persisted to the time its successor
    /// resumed at. A process supervisor and the store together show them.
    pub sender_gaps: &'a [(u64, u64)],
}

/// Collects violations and counts for one checker.
struct Findings {
    checker: &'static str,
    checked: u64,
    violations: Vec<Violation>,
}

impl Findings {
    fn new(checker: &'static str) -> Findings {
        Findings {
            checker,
            checked: 0,
            violations: Vec::new(),
        }
    }

    fn violation(&mut self, time_base: TimeBase, at: u64, message: String, events: Vec<String>) {
        self.violations.push(Violation {
            checker: self.checker,
            time_base,
            at,
            message,
            events,
        });
    }
}

/// Everything the checkers found.
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    pub tallies: Vec<Tally>,
    /// Sorted by time, earliest first.
    pub violations: Vec<Violation>,
    pub outcomes: Outcomes,
}

impl Verdict {
    /// Adds another run's tallies and violations to these; outcomes are added separately.
    pub fn absorb(&mut self, other: &Verdict) {
        for tally in &other.tallies {
            match self.tallies.iter_mut().find(|t| t.checker == tally.checker) {
                Some(existing) => existing.checked += tally.checked,
                None => self.tallies.push(*tally),
            }
        }
        self.violations.extend(other.violations.iter().cloned());
        crate::report::add_outcomes(&mut self.outcomes, &other.outcomes);
    }
}

/// Runs every safety checker and the liveness checker.
pub fn check_all(observations: &Observations) -> Verdict {
    let (liveness, outcomes) = liveness::check(observations);
    let all = [
        signature::check_signatures(observations),
        signature::check_signed_time(observations),
        order::check_log(observations),
        order::check_arrivals(observations),
        budget::check_attempts(observations),
        budget::check_finals(observations),
        routing::check_arrivals(observations),
        routing::check_log(observations),
        liveness,
    ];

    let mut verdict = Verdict {
        outcomes,
        ..Verdict::default()
    };
    for findings in all {
        verdict.tallies.push(Tally {
            checker: findings.checker,
            checked: findings.checked,
        });
        verdict.violations.extend(findings.violations);
    }
    verdict
        .violations
        .sort_by_key(|v| (v.at, v.time_base, v.checker));
    verdict
}
