//! Ordering per (workspace, endpoint): a delivery is not attempted until every delivery queued
//! before it on the same endpoint has succeeded or spent its budget.

use super::{Findings, Observations, TimeBase};
use delivery_core::request::EVENT_ID_HEADER;
use delivery_core::{DeliveryId, EndpointRef, FinalOutcome};
use std::collections::{BTreeMap, BTreeSet};

/// Checks the delivery log: deliveries are queued in id order, so no attempt of a delivery may
/// start before every lower-numbered delivery on its endpoint has a final entry.
pub(super) fn check_log(observations: &Observations) -> Findings {
    let mut findings = Findings::new("order_log");

    let mut finished: BTreeMap<DeliveryId, u64> = BTreeMap::new();
    for entry in observations.log.finals() {
        finished.insert(entry.delivery_id, entry.at.0);
    }
    // Per endpoint, each delivery's event and first attempt time.
    let mut first_sent: BTreeMap<&EndpointRef, BTreeMap<DeliveryId, (&str, u64)>> = BTreeMap::new();
    for entry in observations.log.attempts() {
        first_sent
            .entry(&entry.endpoint)
            .or_default()
            .entry(entry.delivery_id)
            .or_insert((entry.event_id.as_str(), entry.sent_at.0));
    }

    for (endpoint, deliveries) in first_sent {
        // The latest finish among the deliveries seen so far, and which one it was.
        let mut blocking: Option<(u64, DeliveryId, &str)> = None;
        for (delivery_id, (event_id, sent_at)) in deliveries {
            findings.checked += 1;
            if let Some((until, earlier, earlier_event)) = blocking
                && until > sent_at
            {
                let until = if until == u64::MAX {
                    "it never finished".to_owned()
                } else {
                    format!("it finished at {}", delivery_core::Millis(until))
                };
                findings.violation(
                    TimeBase::Core,
                    sent_at,
                    format!(
                        "{delivery_id} on {endpoint} was attempted while earlier {earlier} was still pending ({until})"
                    ),
                    vec![earlier_event.to_owned(), event_id.to_owned()],
                );
            }
            let done = finished.get(&delivery_id).copied().unwrap_or(u64::MAX);
            if blocking.is_none_or(|(until, _, _)| done >= until) {
                blocking = Some((done, delivery_id, event_id));
            }
        }
    }
    findings
}

/// Checks the receivers' arrival logs: an event never arrives for the first time before every
/// event published earlier for the same endpoint got a 2xx or was recorded failed.
/// Events replayed to the endpoint are exempt, since a replay joins the tail of the queue.
pub(super) fn check_arrivals(observations: &Observations) -> Findings {
    let mut findings = Findings::new("order_arrivals");

    for (index, receiver) in observations.receivers.iter().enumerate() {
        let spec = &observations.endpoints[index];
        let expected: Vec<&str> = observations
            .published
            .iter()
            .map(|published| &published.event)
            .filter(|event| {
                event.workspace_id == spec.endpoint().workspace_id
                    && spec.subscribes(event.event_type)
            })
            .map(|event| event.id.as_str())
            .collect();
        let position: BTreeMap<&str, usize> = expected
            .iter()
            .enumerate()
            .map(|(i, id)| (*id, i))
            .collect();
        let replayed: BTreeSet<&str> = observations
            .replays
            .iter()
            .filter(|replay| replay.endpoint == index)
            .map(|replay| replay.event_id.as_str())
            .collect();
        let failed: BTreeSet<&str> = observations
            .log
            .finals()
            .filter(|entry| {
                &entry.endpoint == spec.endpoint() && entry.outcome == FinalOutcome::Failed
            })
            .map(|entry| entry.event_id.as_str())
            .collect();

        let mut succeeded: BTreeSet<&str> = BTreeSet::new();
        let mut arrived: BTreeSet<&str> = BTreeSet::new();
        // Every event before this position is done.
        let mut frontier = 0usize;
        for arrival in &receiver.arrivals {
            let event = arrival.header(EVENT_ID_HEADER).unwrap_or_default();
            let first = arrived.insert(event);
            if (200..300).contains(&arrival.status) {
                succeeded.insert(event);
            }
            while frontier < expected.len() {
                let id = expected[frontier];
                if succeeded.contains(id) || failed.contains(id) || replayed.contains(id) {
                    frontier += 1;
                } else {
                    break;
                }
            }
            let Some(&at) = position.get(event) else {
                continue;
            };
            if first && !replayed.contains(event) {
                findings.checked += 1;
                if at > frontier {
                    let pending = expected[frontier];
                    findings.violation(
                        TimeBase::Simulated,
                        arrival.at,
                        format!(
                            "{event} arrived at {} before the earlier-published {pending} had a 2xx or was recorded failed",
                            receiver.endpoint
                        ),
                        vec![pending.to_owned(), event.to_owned()],
                    );
                }
            }
        }
    }
    findings
}
