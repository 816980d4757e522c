//! What a run records for the checkers, and the summary it prints.

use crate::check::{Outcomes, Verdict};
use crate::settings::Settings;
use delivery_core::{Event, Notification};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// An event whose publish the sender acknowledged.
#[derive(Debug, Clone)]
pub struct PublishedEvent {
    /// Simulated time of the acknowledgement.
    pub at: u64,
    pub workspace: usize,
    pub event: Event,
}

/// A replay the sender persisted: one event queued again for one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayIssued {
    pub at: u64,
    /// Index of the endpoint, in creation order.
    pub endpoint: usize,
    pub event_id: String,
}

/// The publisher's and operator's own records of a run.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub published: Vec<PublishedEvent>,
    pub replays: Vec<ReplayIssued>,
    /// Each notification with the simulated time it was drained.
    pub notifications: Vec<(u64, Notification)>,
}

/// Counters of a run or of several runs added together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub runs: u64,
    pub simulated_ms: u64,
    pub events_published: u64,
    /// Deliveries created by publishes, counted from the `EventAccepted` records the sender
    /// persisted. Replays add theirs to `replayed_deliveries`.
    pub deliveries: u64,
    pub replayed_deliveries: u64,
    /// Requests the sender put on the wire.
    pub attempts: u64,
    /// Requests that reached a receiver.
    pub arrivals: u64,
    /// Arrivals of an event the receiver had already applied.
    pub duplicates: u64,
    /// Publishes repeated because a crash swallowed their acknowledgement.
    pub publish_retries: u64,
    /// Results the core ignored because it no longer waited for them.
    pub late_results: u64,
    /// Results addressed to a sender process that had crashed.
    pub results_for_dead_process: u64,
    /// Replays that matched nothing.
    pub replays_with_nothing_to_do: u64,
    /// How often each fault family fired.
    pub faults: BTreeMap<&'static str, u64>,
    /// How often each kind of response or transport outcome occurred.
    pub responses: BTreeMap<&'static str, u64>,
}

impl Stats {
    /// Counts one firing of a fault family.
    pub fn fault(&mut self, family: &'static str) {
        *self.faults.entry(family).or_default() += 1;
    }

    /// Counts `count` planned firings of a fault family.
    pub fn fault_planned(&mut self, family: &'static str, count: u64) {
        if count > 0 {
            *self.faults.entry(family).or_default() += count;
        }
    }

    /// Counts one response or transport outcome.
    pub fn response(&mut self, kind: &'static str) {
        *self.responses.entry(kind).or_default() += 1;
    }

    /// Adds another run's counters to these.
    pub fn absorb(&mut self, other: &Stats) {
        self.runs += other.runs;
        self.simulated_ms += other.simulated_ms;
        self.events_published += other.events_published;
        self.deliveries += other.deliveries;
        self.replayed_deliveries += other.replayed_deliveries;
        self.attempts += other.attempts;
        self.arrivals += other.arrivals;
        self.duplicates += other.duplicates;
        self.publish_retries += other.publish_retries;
        self.late_results += other.late_results;
        self.results_for_dead_process += other.results_for_dead_process;
        self.replays_with_nothing_to_do += other.replays_with_nothing_to_do;
        for (family, count) in &other.faults {
            *self.faults.entry(family).or_default() += count;
        }
        for (kind, count) in &other.responses {
            *self.responses.entry(kind).or_default() += count;
        }
    }
}

/// The result of one run.
#[derive(Debug, Clone)]
pub struct Report {
    pub settings: Settings,
    pub stats: Stats,
    pub verdict: Verdict,
    /// The event trace, when it was asked for.
    pub trace: Option<Vec<String>>,
}

impl Report {
    /// Returns whether every check passed.
    pub fn passed(&self) -> bool {
        self.verdict.violations.is_empty()
    }

    /// Renders the summary of this run.
    pub fn summary(&self) -> String {
        render_summary(&self.stats, &self.verdict.outcomes, &self.verdict)
    }
}

/// Adds the outcome counts of several runs.
pub fn add_outcomes(total: &mut Outcomes, other: &Outcomes) {
    total.delivered += other.delivered;
    total.failed += other.failed;
    total.held += other.held;
    total.lost += other.lost;
    total.disabled_gone += other.disabled_gone;
    total.disabled_failing += other.disabled_failing;
}

/// Renders counters, outcomes, fault counts and check tallies as indented lines.
pub fn render_summary(stats: &Stats, outcomes: &Outcomes, verdict: &Verdict) -> String {
    let mut text = String::new();
    let hours = stats.simulated_ms as f64 / 3_600_000.0;
    let _ = writeln!(text, "runs: {}, simulated hours: {hours:.1}", stats.runs);
    let _ = writeln!(
        text,
        "events: {} published ({} publish retries after crashes)",
        stats.events_published, stats.publish_retries
    );
    let _ = writeln!(
        text,
        "deliveries: {} from publishes, {} from replays",
        stats.deliveries, stats.replayed_deliveries
    );
    let _ = writeln!(
        text,
        "attempts: {} sent, {} reached a receiver, {} duplicates seen by receivers",
        stats.attempts, stats.arrivals, stats.duplicates
    );
    let _ = writeln!(
        text,
        "outcomes per (event, endpoint): {} delivered, {} failed, {} held, {} lost; endpoints disabled: {} gone, {} failing",
        outcomes.delivered,
        outcomes.failed,
        outcomes.held,
        outcomes.lost,
        outcomes.disabled_gone,
        outcomes.disabled_failing
    );
    let _ = writeln!(text, "faults fired: {}", render_counts(&stats.faults));
    let _ = writeln!(text, "responses: {}", render_counts(&stats.responses));
    let tallies: Vec<String> = verdict
        .tallies
        .iter()
        .map(|tally| format!("{}={}", tally.checker, tally.checked))
        .collect();
    let _ = write!(
        text,
        "checks: {} items checked ({}), {} violations",
        verdict.tallies.iter().map(|t| t.checked).sum::<u64>(),
        tallies.join(" "),
        verdict.violations.len()
    );
    text
}

fn render_counts(counts: &BTreeMap<&'static str, u64>) -> String {
    if counts.is_empty() {
        return "none".to_owned();
    }
    counts
        .iter()
        .map(|(name, count)| format!("{name}={count}"))
        .collect::<Vec<_>>()
        .join(" ")
}
