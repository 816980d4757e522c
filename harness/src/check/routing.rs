//! Routing: no event reaches an endpoint of another workspace or one whose filter does not
//! match it, and every copy of an event (retries and replays alike) carries the body bytes it
//! was published with.

use super::{Findings, Observations, TimeBase};
use delivery_core::Event;
use delivery_core::request::EVENT_ID_HEADER;
use std::collections::BTreeMap;

/// Indexes the published events by id; ids are unique across workspaces in a run.
fn published_by_id<'a>(observations: &'a Observations) -> BTreeMap<&'a str, &'a Event> {
    observations
        .published
        .iter()
        .map(|published| (published.event.id.as_str(), &published.event))
        .collect()
}

/// Checks every arrival's workspace, filter and body bytes.
pub(super) fn check_arrivals(observations: &Observations) -> Findings {
    let mut findings = Findings::new("routing_arrivals");
    let published = published_by_id(observations);

    for (index, receiver) in observations.receivers.iter().enumerate() {
        let spec = &observations.endpoints[index];
        for arrival in &receiver.arrivals {
            findings.checked += 1;
            let id = arrival.header(EVENT_ID_HEADER).unwrap_or_default();
            let Some(event) = published.get(id) else {
                findings.violation(
                    TimeBase::Simulated,
                    arrival.at,
                    format!(
                        "{} received {id:?}, which was never published",
                        receiver.endpoint
                    ),
                    vec![id.to_owned()],
                );
                continue;
            };
            if event.workspace_id != spec.endpoint().workspace_id {
                findings.violation(
                    TimeBase::Simulated,
                    arrival.at,
                    format!(
                        "{} received an event of workspace {}",
                        receiver.endpoint, event.workspace_id
                    ),
                    vec![id.to_owned()],
                );
            }
            if !spec.subscribes(event.event_type) {
                findings.violation(
                    TimeBase::Simulated,
                    arrival.at,
                    format!(
                        "{} received a {} event although its filters {:?} do not match it",
                        receiver.endpoint,
                        event.event_type.as_str(),
                        spec.config.filters
                    ),
                    vec![id.to_owned()],
                );
            }
            if arrival.body[..] != event.body[..] {
                findings.violation(
                    TimeBase::Simulated,
                    arrival.at,
                    format!(
                        "{} received body bytes that differ from the published ones",
                        receiver.endpoint
                    ),
                    vec![id.to_owned()],
                );
            }
        }
    }
    findings
}

/// Checks every logged attempt's workspace and filter.
pub(super) fn check_log(observations: &Observations) -> Findings {
    let mut findings = Findings::new("routing_log");
    let published = published_by_id(observations);
    let specs: BTreeMap<_, _> = observations
        .endpoints
        .iter()
        .map(|spec| (spec.endpoint(), spec))
        .collect();

    for entry in observations.log.attempts() {
        findings.checked += 1;
        let event = published.get(entry.event_id.as_str());
        let spec = specs.get(&entry.endpoint);
        let routed = match (event, spec) {
            (Some(event), Some(spec)) => {
                event.workspace_id == entry.endpoint.workspace_id
                    && spec.subscribes(event.event_type)
            }
            _ => false,
        };
        if !routed {
            findings.violation(
                TimeBase::Core,
                entry.sent_at.0,
                format!(
                    "{} attempted to {}, which is not a subscribed endpoint of the event's workspace",
                    entry.delivery_id, entry.endpoint
                ),
                vec![entry.event_id.clone()],
            );
        }
    }
    findings
}
