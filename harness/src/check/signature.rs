//! Signatures: every arrival verifies over its raw body with the receiver's own clock whenever
//! that clock is within tolerance of the sender's, and is signed with the attempt's send time.

use super::{Findings, Observations, TimeBase};
use delivery_core::request::{ATTEMPT_HEADER, EVENT_ID_HEADER};
use delivery_core::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER, TOLERANCE_SECS};
use delivery_core::{EndpointRef, SigningKey, VerifyError};
use std::collections::BTreeMap;

/// Maximum time, in milliseconds, that a request spends on the way in the simulation. Latency
/// plus jitter stay well below it.
const MAX_TRANSIT_MS: u64 = 20_000;

/// Safety margin, in milliseconds, for whole-second timestamps and transit time.
const MARGIN_MS: i64 = 25_000;

/// Checks each arrival's signature against the receiver's own clock.
pub(super) fn check_signatures(observations: &Observations) -> Findings {
    let mut findings = Findings::new("signature");
    let tolerance_ms = TOLERANCE_SECS as i64 * 1000;

    for (index, receiver) in observations.receivers.iter().enumerate() {
        let key = SigningKey::new(&observations.endpoints[index].config.secret);
        for arrival in &receiver.arrivals {
            findings.checked += 1;
            let now_secs = u64::try_from(arrival.wall_ms.div_euclid(1000)).unwrap_or(0);
            let verdict = key.verify(
                arrival.header(TIMESTAMP_HEADER),
                arrival.header(SIGNATURE_HEADER),
                &arrival.body,
                now_secs,
            );
            let event = arrival
                .header(EVENT_ID_HEADER)
                .unwrap_or_default()
                .to_owned();
            let error = match verdict {
                Ok(_) => continue,
                Err(error) => error,
            };

            let in_tolerance = {
                let receiver_offset = receiver.clock.offset_ms(arrival.at);
                let (low, high) = observations
                    .sender_clock
                    .offset_range(arrival.at.saturating_sub(MAX_TRANSIT_MS), arrival.at);
                let disagreement = (receiver_offset - low)
                    .abs()
                    .max((receiver_offset - high).abs());
                disagreement + MARGIN_MS < tolerance_ms
            };
            match error {
                VerifyError::Stale { .. } | VerifyError::Future { .. } if !in_tolerance => {}
                VerifyError::Stale { .. } | VerifyError::Future { .. } => findings.violation(
                    TimeBase::Simulated,
                    arrival.at,
                    format!(
                        "{} rejected a signature as {} although its clock is within {} s of the sender's: {error}",
                        receiver.endpoint,
                        error.kind(),
                        TOLERANCE_SECS
                    ),
                    vec![event],
                ),
                _ => findings.violation(
                    TimeBase::Simulated,
                    arrival.at,
                    format!("{} got a request whose signature does not verify over the raw body: {error}", receiver.endpoint),
                    vec![event],
                ),
            }
        }
    }
    findings
}

/// Checks that each arrival's signed timestamp is its attempt's send time, as the delivery log
/// records it.
pub(super) fn check_signed_time(observations: &Observations) -> Findings {
    let mut findings = Findings::new("signed_timestamp");

    let mut sent: BTreeMap<(&EndpointRef, &str, u32), Vec<u64>> = BTreeMap::new();
    for entry in observations.log.attempts() {
        sent.entry((&entry.endpoint, entry.event_id.as_str(), entry.attempt))
            .or_default()
            .push(entry.sent_wall.as_unix_secs());
    }

    for receiver in observations.receivers {
        for arrival in &receiver.arrivals {
            let event = arrival.header(EVENT_ID_HEADER).unwrap_or_default();
            let attempt: u32 = arrival
                .header(ATTEMPT_HEADER)
                .and_then(|value| value.parse().ok())
                .unwrap_or(0);
            let timestamp: Option<u64> = arrival
                .header(TIMESTAMP_HEADER)
                .and_then(|v| v.parse().ok());
            let Some(logged) = sent.get(&(&receiver.endpoint, event, attempt)) else {
                // The attempt has no log entry yet (it was still in flight at the end).
                continue;
            };
            findings.checked += 1;
            if timestamp.is_none_or(|ts| !logged.contains(&ts)) {
                findings.violation(
                    TimeBase::Simulated,
                    arrival.at,
                    format!(
                        "attempt {attempt} to {} was signed with timestamp {timestamp:?}, but the log records it sent at {logged:?} (Unix seconds)",
                        receiver.endpoint
                    ),
                    vec![event.to_owned()],
                );
            }
        }
    }
    findings
}
