//! Property tests over random sequences of publishes, endpoint changes, responses, lost
//! results, clock steps, replays and restarts. Virtual time jumps to the core's next wake-up.
//!
//! Every property runs the same generated scenario: the operations first, then a healing phase
//! in which every endpoint is enabled and responds 200 until nothing is left to do. The checks
//! read the durable records, which are in causal order, and the requests the core sent.

mod common;

use common::{Driver, SECRET, hours, sample_event, status};
use delivery_core::{
    AttemptResult, Config, DeliveryId, EndpointRef, EventType, Filter, Millis, NextStep, Record,
    ReplayTarget, RetryPolicy, SigningKey, State, TransportError, UnixMillis,
};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

const WORKSPACES: [&str; 2] = ["ws_a", "ws_b"];
const ENDPOINTS: [&str; 3] = ["ep_0", "ep_1", "ep_2"];
const FILTERS: [&[&str]; 4] = [
    &["*"],
    &["chatbot.*"],
    &["workflow.run.completed"],
    &["chat.*", "audit.*"],
];

#[derive(Debug, Clone)]
enum Answer {
    Status(u16),
    RetryAfter(u16, u32),
    Transport(TransportError),
}

#[derive(Debug, Clone)]
enum Op {
    Publish {
        workspace: usize,
        event_type: usize,
    },
    SaveEndpoint {
        workspace: usize,
        endpoint: usize,
        filter: usize,
    },
    Disable {
        workspace: usize,
        endpoint: usize,
    },
    Enable {
        workspace: usize,
        endpoint: usize,
    },
    Answer(Answer),
    LoseResult,
    NextWakeUp,
    Advance {
        secs: u32,
    },
    StepWallClock {
        secs: i32,
    },
    ReplayEvent {
        index: usize,
        all: bool,
    },
    ReplayRange {
        workspace: usize,
        endpoint: usize,
        failed_only: bool,
    },
    Restart {
        downtime_secs: u32,
    },
}

fn answer_strategy() -> impl Strategy<Value = Answer> {
    prop_oneof![
        4 => Just(Answer::Status(200)),
        3 => Just(Answer::Status(500)),
        1 => Just(Answer::Status(404)),
        1 => Just(Answer::Status(301)),
        1 => Just(Answer::Status(410)),
        1 => (prop_oneof![Just(429u16), Just(503u16)], 0u32..30_000).prop_map(|(s, r)| Answer::RetryAfter(s, r)),
        1 => prop_oneof![
            Just(TransportError::Timeout),
            Just(TransportError::Refused),
            Just(TransportError::Reset),
        ]
        .prop_map(Answer::Transport),
    ]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..2usize, 0..10usize).prop_map(|(workspace, event_type)| Op::Publish { workspace, event_type }),
        2 => (0..2usize, 0..3usize, 0..4usize).prop_map(|(workspace, endpoint, filter)| Op::SaveEndpoint { workspace, endpoint, filter }),
        1 => (0..2usize, 0..3usize).prop_map(|(workspace, endpoint)| Op::Disable { workspace, endpoint }),
        1 => (0..2usize, 0..3usize).prop_map(|(workspace, endpoint)| Op::Enable { workspace, endpoint }),
        8 => answer_strategy().prop_map(Op::Answer),
        1 => Just(Op::LoseResult),
        6 => Just(Op::NextWakeUp),
        2 => (1u32..200_000).prop_map(|secs| Op::Advance { secs }),
        1 => (-90_000i32..90_000).prop_map(|secs| Op::StepWallClock { secs }),
        1 => (0..64usize, any::<bool>()).prop_map(|(index, all)| Op::ReplayEvent { index, all }),
        1 => (0..2usize, 0..3usize, any::<bool>()).prop_map(|(workspace, endpoint, failed_only)| Op::ReplayRange { workspace, endpoint, failed_only }),
        1 => (0u32..3_600).prop_map(|downtime_secs| Op::Restart { downtime_secs }),
    ]
}

fn ops_strategy() -> impl Strategy<Value = Vec<Op>> {
    // Start with one endpoint per workspace so most runs deliver something.
    let setup = vec![
        Op::SaveEndpoint {
            workspace: 0,
            endpoint: 0,
            filter: 0,
        },
        Op::SaveEndpoint {
            workspace: 1,
            endpoint: 0,
            filter: 0,
        },
    ];
    proptest::collection::vec(op_strategy(), 1..80).prop_map(move |ops| {
        let mut all = setup.clone();
        all.extend(ops);
        all
    })
}

fn to_result(answer: &Answer) -> AttemptResult {
    match answer {
        Answer::Status(code) => status(*code),
        Answer::RetryAfter(code, secs) => {
            AttemptResult::from_response(*code, Some(&secs.to_string()), b"", UnixMillis(0))
        }
        Answer::Transport(error) => AttemptResult::Transport(*error),
    }
}

/// Everything a run produced, for the checks.
struct Run {
    driver: Driver,
    /// Each endpoint's filter patterns at the time of every record index where they changed.
    published: Vec<(String, String)>,
}

fn run(ops: &[Op]) -> Run {
    let mut driver = Driver::new(Config::default());
    let mut published: Vec<(String, String)> = Vec::new();
    let mut next_event = 0u32;

    for op in ops {
        match op {
            Op::Publish {
                workspace,
                event_type,
            } => {
                next_event += 1;
                let event = sample_event(
                    WORKSPACES[*workspace],
                    next_event,
                    EventType::ALL[*event_type],
                );
                driver.core.publish(driver.now(), &event.body).unwrap();
                published.push((event.workspace_id.clone(), event.id.clone()));
            }
            Op::SaveEndpoint {
                workspace,
                endpoint,
                filter,
            } => {
                driver.endpoint(
                    WORKSPACES[*workspace],
                    ENDPOINTS[*endpoint],
                    FILTERS[*filter],
                );
            }
            Op::Disable {
                workspace,
                endpoint,
            } => {
                let endpoint = EndpointRef::new(WORKSPACES[*workspace], ENDPOINTS[*endpoint]);
                let _ = driver.core.disable_endpoint(driver.now(), &endpoint);
            }
            Op::Enable {
                workspace,
                endpoint,
            } => {
                let endpoint = EndpointRef::new(WORKSPACES[*workspace], ENDPOINTS[*endpoint]);
                let _ = driver.core.enable_endpoint(driver.now(), &endpoint);
            }
            Op::Answer(answer) => {
                if !driver.pending.is_empty() {
                    let sent = driver.pending.remove(0);
                    let result = to_result(answer);
                    let transmit = sent.transmit;
                    let _ = driver.core.handle_result(
                        driver.now(),
                        transmit.delivery_id,
                        transmit.attempt,
                        result,
                    );
                }
            }
            Op::LoseResult => {
                if !driver.pending.is_empty() {
                    driver.pending.remove(0);
                }
            }
            Op::NextWakeUp => {
                driver.step(Millis(u64::MAX));
            }
            Op::Advance { secs } => {
                driver.advance(Millis::from_secs(u64::from(*secs)));
                driver.core.handle_timeout(driver.now());
            }
            Op::StepWallClock { secs } => driver.wall_offset += i64::from(*secs) * 1000,
            Op::ReplayEvent { index, all } => {
                if let Some((workspace, event_id)) = published.get(index % published.len().max(1)) {
                    let target = if *all {
                        ReplayTarget::AllSubscribed
                    } else {
                        ReplayTarget::Endpoint(ENDPOINTS[index % 3].to_owned())
                    };
                    let _ = driver
                        .core
                        .replay_event(driver.now(), workspace, event_id, target);
                }
            }
            Op::ReplayRange {
                workspace,
                endpoint,
                failed_only,
            } => {
                let endpoint = EndpointRef::new(WORKSPACES[*workspace], ENDPOINTS[*endpoint]);
                let to = UnixMillis(driver.now().wall.0 + 1);
                let from = UnixMillis(to.0 - 48 * 3600 * 1000);
                let _ = driver
                    .core
                    .replay_range(driver.now(), &endpoint, from, to, *failed_only);
            }
            Op::Restart { downtime_secs } => {
                driver.drain();
                driver.restart(Millis::from_secs(u64::from(*downtime_secs)));
            }
        }
        driver.drain();
    }

    heal(&mut driver);
    Run { driver, published }
}

/// Enables every endpoint and responds 200 until nothing is scheduled.
fn heal(driver: &mut Driver) {
    let endpoints: Vec<EndpointRef> = driver.core.state().endpoints.keys().cloned().collect();
    for endpoint in &endpoints {
        let _ = driver.core.enable_endpoint(driver.now(), endpoint);
        driver.drain();
    }
    let limit = driver.time() + hours(24 * 365);
    // Results lost earlier time out in the core. Every later attempt gets a 200.
    driver.run(limit, |_| status(200));
}

fn deliveries_of(records: &[Record]) -> BTreeMap<DeliveryId, (EndpointRef, String, String)> {
    let mut deliveries = BTreeMap::new();
    for record in records {
        match record {
            Record::EventAccepted {
                event,
                deliveries: list,
                ..
            } => {
                for (id, endpoint) in list {
                    deliveries.insert(
                        *id,
                        (
                            endpoint.clone(),
                            event.workspace_id.clone(),
                            event.id.clone(),
                        ),
                    );
                }
            }
            Record::ReplayQueued {
                workspace_id,
                event_id,
                deliveries: list,
                ..
            } => {
                for (id, endpoint) in list {
                    deliveries.insert(
                        *id,
                        (endpoint.clone(), workspace_id.clone(), event_id.clone()),
                    );
                }
            }
            _ => {}
        }
    }
    deliveries
}

fn final_steps(records: &[Record]) -> BTreeMap<DeliveryId, NextStep> {
    records
        .iter()
        .filter_map(|record| match record {
            Record::AttemptFinished {
                delivery_id,
                next: next @ (NextStep::Delivered | NextStep::Failed),
                ..
            } => Some((*delivery_id, *next)),
            Record::DeliveryExpired { delivery_id, .. } => Some((*delivery_id, NextStep::Failed)),
            _ => None,
        })
        .collect()
}

/// When an attempt failed, its number, and the `Retry-After` it carried.
type LastFailure = (Millis, u32, Option<Millis>);

/// Reads `PROPTEST_CASES` so a longer run is one variable away; CI uses the default.
fn cases_from_env(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases_from_env(48), ..ProptestConfig::default() })]

    #[test]
    fn at_least_once_every_delivery_ends(ops in ops_strategy()) {
        let run = run(&ops);
        let records = &run.driver.records;
        let finals = final_steps(records);
        for (id, (endpoint, _, event_id)) in deliveries_of(records) {
            prop_assert!(finals.contains_key(&id), "delivery {id} of {event_id} to {endpoint} never ended");
        }
        // A failed delivery used its whole budget: 24 attempts, or its end at the deadline.
        let mut first_attempt: BTreeMap<DeliveryId, (Millis, u32)> = BTreeMap::new();
        for record in records {
            match record {
                Record::AttemptStarted { stamp, delivery_id, attempt } => {
                    if *attempt == 1 {
                        first_attempt.insert(*delivery_id, (stamp.at, 1));
                    } else if let Some(entry) = first_attempt.get_mut(delivery_id) {
                        entry.1 = *attempt;
                    }
                }
                Record::AttemptFinished { stamp, delivery_id, next: NextStep::Failed, .. }
                | Record::DeliveryExpired { stamp, delivery_id } => {
                    let (first, attempts) = first_attempt[delivery_id];
                    prop_assert!(attempts == 24 || stamp.at - first >= hours(72),
                        "delivery {delivery_id} failed after {attempts} attempts over {}", stamp.at - first);
                }
                _ => {}
            }
        }
    }

    #[test]
    fn every_accepted_event_reaches_each_subscriber(ops in ops_strategy()) {
        let run = run(&ops);
        let records = &run.driver.records;
        let mut filters: BTreeMap<EndpointRef, Filter> = BTreeMap::new();
        for record in records {
            match record {
                Record::EndpointSaved { config, .. } => {
                    filters.insert(config.endpoint.clone(), Filter::parse(&config.filters).unwrap());
                }
                Record::EventAccepted { event, deliveries, .. } => {
                    let expected: BTreeSet<&EndpointRef> = filters.iter()
                        .filter(|(e, f)| e.workspace_id == event.workspace_id && f.matches(event.event_type))
                        .map(|(e, _)| e)
                        .collect();
                    let got: BTreeSet<&EndpointRef> = deliveries.iter().map(|(_, e)| e).collect();
                    prop_assert_eq!(got, expected, "event {}", event.id);
                }
                _ => {}
            }
        }
        let accepted = records.iter().filter(|r| matches!(r, Record::EventAccepted { .. })).count();
        prop_assert_eq!(run.published.len(), accepted);
    }

    #[test]
    fn per_endpoint_order_holds(ops in ops_strategy()) {
        let run = run(&ops);
        let records = &run.driver.records;
        let deliveries = deliveries_of(records);
        let mut finished: BTreeSet<DeliveryId> = BTreeSet::new();
        for record in records {
            match record {
                Record::AttemptStarted { delivery_id, .. } => {
                    let endpoint = &deliveries[delivery_id].0;
                    for (earlier, (other, _, _)) in deliveries.range(..delivery_id) {
                        prop_assert!(other != endpoint || finished.contains(earlier),
                            "delivery {delivery_id} to {endpoint} started before {earlier} ended");
                    }
                }
                Record::AttemptFinished { delivery_id, next: NextStep::Delivered | NextStep::Failed, .. }
                | Record::DeliveryExpired { delivery_id, .. } => {
                    finished.insert(*delivery_id);
                }
                _ => {}
            }
        }
    }

    #[test]
    fn attempts_and_gaps_within_budget(ops in ops_strategy()) {
        let run = run(&ops);
        let policy = RetryPolicy::default();
        // Per delivery in its current budget: the first attempt's time and the last failure.
        let mut budget: BTreeMap<DeliveryId, (Millis, Option<LastFailure>)> = BTreeMap::new();
        for record in &run.driver.records {
            match record {
                Record::AttemptStarted { stamp, delivery_id, attempt } => {
                    prop_assert!(*attempt >= 1 && *attempt <= policy.max_attempts, "attempt {attempt}");
                    if *attempt == 1 {
                        budget.insert(*delivery_id, (stamp.at, None));
                        continue;
                    }
                    let (first, last) = budget[delivery_id];
                    let (failed_at, failed_attempt, retry_after) = last.expect("a retry follows a failure");
                    prop_assert_eq!(*attempt, failed_attempt + 1);
                    prop_assert!(stamp.at - first <= policy.budget, "delivery {delivery_id} attempt {attempt} at {} past the budget", stamp.at - first);
                    let mut wait = policy.backoff_after(failed_attempt);
                    if let Some(requested) = retry_after {
                        wait = wait.max(requested.min(policy.max_backoff));
                    }
                    let deadline = first + policy.budget;
                    let earliest = (failed_at + wait).min(deadline);
                    prop_assert!(stamp.at >= earliest, "delivery {delivery_id} attempt {attempt} at {} before {}", stamp.at, earliest);
                }
                Record::AttemptFinished { stamp, delivery_id, attempt, result, next } => {
                    let retry_after = match result {
                        AttemptResult::Response { retry_after, .. } => *retry_after,
                        AttemptResult::Transport(_) => None,
                    };
                    if let Some(entry) = budget.get_mut(delivery_id) {
                        entry.1 = Some((stamp.at, *attempt, retry_after));
                    }
                    if *next == NextStep::Held {
                        budget.remove(delivery_id);
                    }
                }
                _ => {}
            }
        }
    }

    #[test]
    fn no_attempt_after_success(ops in ops_strategy()) {
        let run = run(&ops);
        let mut delivered: BTreeSet<DeliveryId> = BTreeSet::new();
        for record in &run.driver.records {
            match record {
                Record::AttemptStarted { delivery_id, .. } => {
                    prop_assert!(!delivered.contains(delivery_id), "delivery {delivery_id} attempted after success");
                }
                Record::AttemptFinished { delivery_id, next: NextStep::Delivered, .. } => {
                    delivered.insert(*delivery_id);
                }
                _ => {}
            }
        }
    }

    #[test]
    fn replay_sends_same_bytes_with_valid_signature(ops in ops_strategy()) {
        let run = run(&ops);
        let key = SigningKey::new(SECRET);
        let mut bodies: BTreeMap<(String, String), std::sync::Arc<[u8]>> = BTreeMap::new();
        for record in &run.driver.records {
            if let Record::EventAccepted { event, .. } = record {
                bodies.insert((event.workspace_id.clone(), event.id.clone()), event.body.clone());
            }
        }
        for sent in &run.driver.sent {
            let transmit = &sent.transmit;
            let key_of = (transmit.endpoint.workspace_id.clone(), transmit.event_id.clone());
            prop_assert_eq!(&transmit.request.body, &bodies[&key_of]);
            let timestamp = transmit.request.header("Aresgen-Timestamp").unwrap();
            let secs: u64 = timestamp.parse().unwrap();
            let verified = key.verify(Some(timestamp), transmit.request.header("Aresgen-Signature"), &transmit.request.body, secs);
            prop_assert_eq!(verified, Ok(secs));
        }
    }

    #[test]
    fn filters_deliver_exactly_matching_types(ops in ops_strategy()) {
        let run = run(&ops);
        let mut filters: BTreeMap<EndpointRef, Filter> = BTreeMap::new();
        let mut types: BTreeMap<(String, String), EventType> = BTreeMap::new();
        for record in &run.driver.records {
            match record {
                Record::EndpointSaved { config, .. } => {
                    filters.insert(config.endpoint.clone(), Filter::parse(&config.filters).unwrap());
                }
                Record::EventAccepted { event, deliveries, .. } => {
                    types.insert((event.workspace_id.clone(), event.id.clone()), event.event_type);
                    for (_, endpoint) in deliveries {
                        prop_assert!(filters[endpoint].matches(event.event_type));
                    }
                }
                Record::ReplayQueued { workspace_id, event_id, deliveries, .. } => {
                    let event_type = types[&(workspace_id.clone(), event_id.clone())];
                    for (_, endpoint) in deliveries {
                        prop_assert!(filters[endpoint].matches(event_type), "replay of {event_id} to {endpoint}");
                    }
                }
                _ => {}
            }
        }
    }

    #[test]
    fn no_cross_workspace_delivery(ops in ops_strategy()) {
        let run = run(&ops);
        for (id, (endpoint, workspace, event_id)) in deliveries_of(&run.driver.records) {
            prop_assert_eq!(&endpoint.workspace_id, &workspace, "delivery {} of {}", id, event_id);
        }
        for sent in &run.driver.sent {
            let body: serde_json::Value = serde_json::from_slice(&sent.transmit.request.body).unwrap();
            prop_assert_eq!(body["workspace_id"].as_str().unwrap(), sent.transmit.endpoint.workspace_id.as_str());
        }
    }

    #[test]
    fn restart_preserves_state(ops in ops_strategy()) {
        let run = run(&ops);
        let mut rebuilt = State::default();
        for record in &run.driver.records {
            rebuilt.apply(record);
        }
        prop_assert_eq!(&rebuilt, run.driver.core.state());
    }

    #[test]
    fn same_inputs_same_outputs(ops in ops_strategy()) {
        let first = run(&ops);
        let second = run(&ops);
        let text = |run: &Run| serde_json::to_string(&run.driver.records).unwrap();
        prop_assert_eq!(text(&first), text(&second));
        let sent = |run: &Run| run.driver.sent.iter().map(|s| format!("{:?}", s.transmit)).collect::<Vec<_>>();
        prop_assert_eq!(sent(&first), sent(&second));
    }
}
