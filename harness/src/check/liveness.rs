//! Liveness, checked after every fault healed: each published event reached each endpoint that
//! subscribes to it, or is recorded failed after its budget, or is held on a disabled endpoint
//! that was reported disabled. Nothing is lost.

use super::{Findings, Observations, TimeBase};
use delivery_core::{FinalOutcome, Notification};
use std::collections::{BTreeMap, BTreeSet};

/// Outcome counts over every (event, subscribed endpoint) pair.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcomes {
    /// Pairs whose delivery log records a success.
    pub delivered: u64,
    /// Pairs recorded failed and never delivered.
    pub failed: u64,
    /// Pairs still queued on a disabled endpoint.
    pub held: u64,
    /// Pairs with none of the above.
    pub lost: u64,
    /// Endpoints reported disabled after a 410 Gone response.
    pub disabled_gone: u64,
    /// Endpoints reported disabled for exhausting a budget.
    pub disabled_failing: u64,
}

/// Returns the liveness findings and the outcome counts.
pub(super) fn check(observations: &Observations) -> (Findings, Outcomes) {
    let mut findings = Findings::new("liveness");
    let mut outcomes = Outcomes::default();
    let end = observations.end_at;

    let mut finals: BTreeMap<(&str, &str, &str), FinalOutcome> = BTreeMap::new();
    for entry in observations.log.finals() {
        let key = (
            entry.endpoint.workspace_id.as_str(),
            entry.endpoint.endpoint_id.as_str(),
            entry.event_id.as_str(),
        );
        // A success anywhere (original or replay) counts as delivered.
        let current = finals.entry(key).or_insert(entry.outcome);
        if entry.outcome == FinalOutcome::Delivered {
            *current = FinalOutcome::Delivered;
        }
    }

    let mut reported_disabled: BTreeSet<String> = BTreeSet::new();
    let mut gone: BTreeSet<String> = BTreeSet::new();
    let mut failing: BTreeSet<String> = BTreeSet::new();
    for (_, notification) in observations.notifications {
        if let Notification::EndpointDisabled {
            endpoint, reason, ..
        } = notification
        {
            reported_disabled.insert(endpoint.to_string());
            match reason {
                delivery_core::DisabledReason::Gone => gone.insert(endpoint.to_string()),
                delivery_core::DisabledReason::Failing => failing.insert(endpoint.to_string()),
                delivery_core::DisabledReason::Operator => false,
            };
        }
    }
    outcomes.disabled_gone = gone.len() as u64;
    outcomes.disabled_failing = failing.len() as u64;

    for (index, spec) in observations.endpoints.iter().enumerate() {
        let endpoint = spec.endpoint();
        let status = observations.statuses[index].as_ref();
        let disabled = status.is_some_and(|s| s.disabled.is_some());
        let backlog = status.map_or(0, |s| s.backlog);
        let receiver = &observations.receivers[index];

        if !disabled && backlog > 0 {
            findings.violation(
                TimeBase::Simulated,
                end,
                format!("{endpoint} is enabled but still has {backlog} pending deliveries after the faults healed"),
                Vec::new(),
            );
        }
        if disabled && observations.reenabled_on_heal {
            findings.violation(
                TimeBase::Simulated,
                end,
                format!(
                    "{endpoint} is still disabled although the operator enabled every endpoint"
                ),
                Vec::new(),
            );
        }

        for published in observations.published {
            let event = &published.event;
            if event.workspace_id != endpoint.workspace_id || !spec.subscribes(event.event_type) {
                continue;
            }
            findings.checked += 1;
            let key = (
                endpoint.workspace_id.as_str(),
                endpoint.endpoint_id.as_str(),
                event.id.as_str(),
            );
            match finals.get(&key) {
                Some(FinalOutcome::Delivered) => {
                    outcomes.delivered += 1;
                    if !receiver.has_applied(&event.id) {
                        findings.violation(
                            TimeBase::Simulated,
                            end,
                            format!(
                                "{endpoint} never applied {} although the log records it delivered",
                                event.id
                            ),
                            vec![event.id.clone()],
                        );
                    }
                }
                Some(FinalOutcome::Failed) => outcomes.failed += 1,
                None if disabled && reported_disabled.contains(&endpoint.to_string()) => {
                    outcomes.held += 1;
                }
                None => {
                    outcomes.lost += 1;
                    findings.violation(
                        TimeBase::Simulated,
                        end,
                        format!(
                            "{} never reached {endpoint}: it is neither delivered, recorded failed, nor held on a reported disabled endpoint",
                            event.id
                        ),
                        vec![event.id.clone()],
                    );
                }
            }
        }
    }
    (findings, outcomes)
}
