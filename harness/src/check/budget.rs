//! The retry budget. A budget has at most 24 attempts, none later than 72 h after its first.
//! Gaps are at least the backoff, and at least a `Retry-After`. No attempt follows a success,
//! and a delivery is recorded failed only once its budget is spent.

use super::{Findings, Observations, TimeBase};
use delivery_core::log::{AttemptEntry, AttemptOutcome};
use delivery_core::request::{ATTEMPT_HEADER, EVENT_ID_HEADER};
use delivery_core::{DeliveryId, EndpointRef, FinalOutcome, Millis};
use std::collections::BTreeMap;

/// Groups the log's attempts by delivery, in the order they were logged.
fn attempts_by_delivery<'a>(
    observations: &'a Observations,
) -> BTreeMap<DeliveryId, Vec<&'a AttemptEntry>> {
    let mut grouped: BTreeMap<DeliveryId, Vec<&AttemptEntry>> = BTreeMap::new();
    for entry in observations.log.attempts() {
        grouped.entry(entry.delivery_id).or_default().push(entry);
    }
    grouped
}

/// Returns the `Retry-After` that a receiver sent for one attempt, when the sender received
/// that response (the log records a 429 or 503) and every matching arrival agrees on it.
fn retry_after(
    retry_afters: &BTreeMap<(&EndpointRef, &str, u32), Vec<Option<u64>>>,
    entry: &AttemptEntry,
) -> Option<Millis> {
    if !matches!(entry.outcome, AttemptOutcome::Status(429 | 503)) {
        return None;
    }
    let values = retry_afters.get(&(&entry.endpoint, entry.event_id.as_str(), entry.attempt))?;
    let first = *values.first()?;
    if values.iter().all(|value| *value == first) {
        first.map(Millis::from_secs)
    } else {
        None
    }
}

fn finish(entry: &AttemptEntry) -> Millis {
    entry.sent_at.saturating_add(entry.duration)
}

/// Checks every attempt of every delivery against the schedule.
pub(super) fn check_attempts(observations: &Observations) -> Findings {
    let mut findings = Findings::new("retry_budget");
    let policy = observations.policy;

    let mut retry_afters: BTreeMap<(&EndpointRef, &str, u32), Vec<Option<u64>>> = BTreeMap::new();
    for receiver in observations.receivers {
        for arrival in &receiver.arrivals {
            let attempt: u32 = arrival
                .header(ATTEMPT_HEADER)
                .and_then(|value| value.parse().ok())
                .unwrap_or(0);
            findings.checked += 1;
            if attempt == 0 || attempt > policy.max_attempts {
                findings.violation(
                    TimeBase::Simulated,
                    arrival.at,
                    format!(
                        "{} received attempt number {attempt}, outside 1 to {}",
                        receiver.endpoint, policy.max_attempts
                    ),
                    vec![
                        arrival
                            .header(EVENT_ID_HEADER)
                            .unwrap_or_default()
                            .to_owned(),
                    ],
                );
            }
            if matches!(arrival.status, 429 | 503) {
                let event = arrival.header(EVENT_ID_HEADER).unwrap_or_default();
                retry_afters
                    .entry((&receiver.endpoint, event, attempt))
                    .or_default()
                    .push(arrival.retry_after_secs);
            }
        }
    }

    for (delivery_id, entries) in attempts_by_delivery(observations) {
        let mut budget_start = Millis::ZERO;
        let mut previous: Option<&AttemptEntry> = None;
        for entry in entries {
            findings.checked += 1;
            let event = vec![entry.event_id.clone()];
            let mut report = |at: Millis, message: String| {
                findings.violation(
                    TimeBase::Core,
                    at.0,
                    format!("{delivery_id}: {message}"),
                    event.clone(),
                );
            };

            if entry.attempt > policy.max_attempts {
                report(
                    entry.sent_at,
                    format!(
                        "attempt {} exceeds the {} attempts of a budget",
                        entry.attempt, policy.max_attempts
                    ),
                );
            }
            if let Some(prev) = previous
                && matches!(prev.outcome, AttemptOutcome::Status(status) if (200..300).contains(&status))
            {
                report(
                    entry.sent_at,
                    format!(
                        "attempt {} was sent after attempt {} succeeded",
                        entry.attempt, prev.attempt
                    ),
                );
            }

            if entry.attempt == 1 {
                // A fresh budget: the first attempt, or the first after the endpoint was
                // disabled and enabled again.
                budget_start = entry.sent_at;
            } else if let Some(prev) = previous {
                if entry.attempt != prev.attempt + 1 {
                    report(
                        entry.sent_at,
                        format!("attempt {} follows attempt {}", entry.attempt, prev.attempt),
                    );
                }
                let deadline = budget_start.saturating_add(policy.budget);
                if entry.sent_at > deadline {
                    report(
                        entry.sent_at,
                        format!(
                            "attempt {} started {} after the budget's first attempt, past the {} deadline",
                            entry.attempt,
                            entry.sent_at - budget_start,
                            policy.budget
                        ),
                    );
                }
                let mut wait = policy.backoff_after(prev.attempt);
                if let Some(requested) = retry_after(&retry_afters, prev) {
                    wait = wait.max(requested.min(policy.max_backoff));
                }
                let earliest = finish(prev).saturating_add(wait).min(deadline);
                if entry.sent_at < earliest {
                    report(
                        entry.sent_at,
                        format!(
                            "attempt {} started {} after attempt {} ended; the schedule requires {}",
                            entry.attempt,
                            entry.sent_at.saturating_sub(finish(prev)),
                            prev.attempt,
                            earliest.saturating_sub(finish(prev))
                        ),
                    );
                }
            } else {
                report(
                    entry.sent_at,
                    format!("the first logged attempt is number {}", entry.attempt),
                );
            }
            previous = Some(entry);
        }
    }
    findings
}

/// Checks final outcomes. A delivered delivery's last attempt got a 2xx. A failed one spent its
/// whole budget, which means 24 attempts or a last attempt that ended at or after the deadline.
/// A failure is also accepted when the next attempt came due while no sender process ran, so
/// that it could start only after the deadline.
pub(super) fn check_finals(observations: &Observations) -> Findings {
    let mut findings = Findings::new("final_outcome");
    let policy = observations.policy;
    let attempts = attempts_by_delivery(observations);

    for final_entry in observations.log.finals() {
        findings.checked += 1;
        let entries = attempts
            .get(&final_entry.delivery_id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let Some(last) = entries.last() else {
            findings.violation(
                TimeBase::Core,
                final_entry.at.0,
                format!(
                    "{} has a final outcome but no attempt",
                    final_entry.delivery_id
                ),
                vec![final_entry.event_id.clone()],
            );
            continue;
        };
        let budget_start = entries
            .iter()
            .rev()
            .find(|entry| entry.attempt == 1)
            .map_or(Millis::ZERO, |entry| entry.sent_at);

        match final_entry.outcome {
            FinalOutcome::Delivered => {
                let success = matches!(last.outcome, AttemptOutcome::Status(status) if (200..300).contains(&status));
                if !success {
                    findings.violation(
                        TimeBase::Core,
                        final_entry.at.0,
                        format!(
                            "{} is recorded delivered but its last attempt got {:?}",
                            final_entry.delivery_id, last.outcome
                        ),
                        vec![final_entry.event_id.clone()],
                    );
                }
            }
            FinalOutcome::Failed => {
                let deadline = budget_start.saturating_add(policy.budget);
                // The next attempt came due somewhere between the backoff (a Retry-After only
                // lengthens it) and the deadline.
                let earliest_due = finish(last)
                    .saturating_add(policy.backoff_after(last.attempt))
                    .min(deadline);
                let due_while_down = observations
                    .sender_gaps
                    .iter()
                    .any(|(from, to)| *from <= deadline.0 && earliest_due.0 <= *to);
                let spent = last.attempt >= policy.max_attempts
                    || finish(last) >= deadline
                    || (due_while_down && final_entry.at >= deadline);
                if !spent {
                    findings.violation(
                        TimeBase::Core,
                        final_entry.at.0,
                        format!(
                            "{} to {} is recorded failed after {} attempts over {}, before its budget of {} attempts or {} was spent (last result {:?})",
                            final_entry.delivery_id,
                            final_entry.endpoint,
                            last.attempt,
                            finish(last).saturating_sub(budget_start),
                            policy.max_attempts,
                            policy.budget,
                            last.outcome
                        ),
                        vec![final_entry.event_id.clone()],
                    );
                }
            }
        }
    }
    findings
}
