//! The delivery worker driving the sans-IO core over real HTTP: over turmoil's simulated TCP
//! against axum receivers with network faults and host crashes, and once over loopback TCP.
//!
//! Each simulation has a fixed seed and epoch and a 50 ms tick. Receivers verify every
//! signature with their own clock and record each arrival in a shared log, which the tests
//! check after the simulation, because turmoil swallows panics inside the hosts' tasks.

#[path = "core_under_turmoil/events.rs"]
mod events;
#[path = "core_under_turmoil/receiver.rs"]
mod receiver;
#[path = "core_under_turmoil/sender.rs"]
mod sender;
#[path = "core_under_turmoil/sim.rs"]
mod sim;
#[path = "support/sim_listener.rs"]
mod sim_listener;
#[path = "core_under_turmoil/tcp.rs"]
mod tcp;

use delivery_core::{
    AttemptEntry, AttemptOutcome, DisabledReason, EndpointRef, FinalOutcome, Millis, Notification,
    Published, TransportError,
};
use events::{endpoint, endpoint_ref, event_body, event_id, event_index};
use receiver::{Arrival, Receiver, Reply};
use sender::{Outcome, SENDER, Sender, Step};
use sim::{TICK, World, receiver_url};
use std::collections::BTreeMap;
use std::time::Duration;

const OK: Reply = Reply::Status(200);

/// The core's default first backoff, 10 s, in milliseconds.
const FIRST_BACKOFF_MS: u64 = 10_000;

/// The attempt timeout, 15 s, in milliseconds.
const TIMEOUT_MS: u64 = 15_000;

fn secs(value: f64) -> Duration {
    Duration::from_secs_f64(value)
}

fn tick_ms() -> u64 {
    TICK.as_millis() as u64
}

/// Saves an endpoint for each receiver host at time zero, with the given filters.
fn save_steps(endpoints: &[(&str, &[&str])]) -> Vec<(Duration, Step)> {
    endpoints
        .iter()
        .map(|(host, filters)| {
            let config = endpoint(host, receiver_url(host), filters);
            (Duration::ZERO, Step::Save(config))
        })
        .collect()
}

/// Publishes events `indices` at `start`, then one every `spacing`.
fn publish_steps(
    indices: impl IntoIterator<Item = u32>,
    start: Duration,
    spacing: Duration,
) -> Vec<(Duration, Step)> {
    indices
        .into_iter()
        .enumerate()
        .map(|(position, index)| (start + spacing * position as u32, Step::Publish(index)))
        .collect()
}

/// Returns the event indices of `arrivals`, repeats included.
fn indices(arrivals: &[Arrival]) -> Vec<u32> {
    arrivals
        .iter()
        .map(|arrival| event_index(&arrival.event_id))
        .collect()
}

/// Returns the distinct event indices of `arrivals` in order of first arrival.
fn first_arrival_order(arrivals: &[Arrival]) -> Vec<u32> {
    let mut order = Vec::new();
    for index in indices(arrivals) {
        if !order.contains(&index) {
            order.push(index);
        }
    }
    order
}

/// Asserts that every arrival verified and carries the published bytes of its event.
fn assert_signed_and_intact(arrivals: &[Arrival], world: &World) {
    for arrival in arrivals {
        assert!(
            arrival.verified.is_ok(),
            "{} attempt {}: {:?}; {}",
            arrival.event_id,
            arrival.attempt,
            arrival.verified,
            world.replay_hint()
        );
        assert_eq!(
            arrival.body,
            event_body(event_index(&arrival.event_id)),
            "body of {} attempt {}",
            arrival.event_id,
            arrival.attempt
        );
    }
}

/// Returns the outcomes of logged attempts, in order.
fn outcomes(entries: &[AttemptEntry]) -> Vec<AttemptOutcome> {
    entries.iter().map(|entry| entry.outcome).collect()
}

/// Returns the wait between the end of each logged attempt and the start of the next one.
fn backoffs(entries: &[AttemptEntry]) -> Vec<u64> {
    entries
        .windows(2)
        .map(|pair| {
            let failed_at = pair[0].sent_at + pair[0].duration;
            pair[1].sent_at.as_u64() - failed_at.as_u64()
        })
        .collect()
}

/// Returns the number of attempts of each `Delivered` notification, by endpoint and event.
fn delivered(sender: &Sender) -> BTreeMap<(EndpointRef, u32), u32> {
    let mut delivered = BTreeMap::new();
    for (_, notification) in sender.notifications() {
        if let Notification::Delivered {
            endpoint,
            event_id,
            attempts,
            ..
        } = notification
        {
            let previous = delivered.insert((endpoint, event_index(&event_id)), attempts);
            assert_eq!(previous, None, "{event_id} was delivered twice");
        }
    }
    delivered
}

#[test]
fn healthy_receivers_get_each_event_once() {
    let mut world = World::new("healthy_receivers_get_each_event_once", 0xA11_0001);
    let all = world.add_receiver("alpha", vec![], OK);
    let workflows = world.add_receiver("beta", vec![], OK);
    let chats = world.add_receiver("gamma", vec![], OK);

    let mut script = save_steps(&[
        ("alpha", &["*"]),
        ("beta", &["workflow.*"]),
        ("gamma", &["chat.message.created"]),
    ]);
    script.extend(publish_steps(1..=9, secs(1.0), secs(0.2)));
    let sender = Sender::add(&mut world, script);

    world.run_until(secs(60.0), "15 deliveries", || {
        sender.delivered_count() == 15
    });
    let delivered_at = world.elapsed();
    world.run_to(delivered_at + secs(20.0));

    let expected: [(&Receiver, &str, Vec<u32>); 3] = [
        (&all, "alpha", (1..=9).collect()),
        (&workflows, "beta", vec![3, 6, 9]),
        (&chats, "gamma", vec![1, 4, 7]),
    ];
    for (receiver, host, expected_order) in expected {
        let arrivals = receiver.arrivals();
        assert_eq!(indices(&arrivals), expected_order, "arrivals at {host}");
        assert_signed_and_intact(&arrivals, &world);
        for arrival in &arrivals {
            assert_eq!(arrival.attempt, 1, "{} at {host}", arrival.event_id);
            assert_eq!(arrival.status, 200);
        }
    }

    let delivered = delivered(&sender);
    assert_eq!(delivered.len(), 15);
    assert!(
        delivered.values().all(|attempts| *attempts == 1),
        "{delivered:?}"
    );
}

#[test]
fn server_errors_retry_after_backoff() {
    let mut world = World::new("server_errors_retry_after_backoff", 0xA11_0002);
    let flaky = world.add_receiver("flaky", vec![Reply::Status(500), Reply::Status(500)], OK);

    let mut script = save_steps(&[("flaky", &["*"])]);
    script.extend(publish_steps([1], secs(1.0), secs(0.0)));
    let sender = Sender::add(&mut world, script);

    world.run_until(secs(120.0), "the delivery", || {
        sender.delivered_count() == 1
    });
    let delivered_at = world.elapsed();
    world.run_to(delivered_at + secs(20.0));

    let arrivals = flaky.arrivals();
    assert_eq!(indices(&arrivals), [1, 1, 1]);
    let attempt_numbers: Vec<u32> = arrivals.iter().map(|arrival| arrival.attempt).collect();
    assert_eq!(attempt_numbers, [1, 2, 3]);
    assert_signed_and_intact(&arrivals, &world);

    // Arrivals at the receiver are apart by the backoff plus the round trip of the failed response, which takes
    // two ticks at most, plus up to one tick until the worker's timer fires.
    let slack = 3 * tick_ms();
    for (pair, expected_ms) in arrivals
        .windows(2)
        .zip([FIRST_BACKOFF_MS, 2 * FIRST_BACKOFF_MS])
    {
        let gap = (pair[1].at - pair[0].at).as_millis() as u64;
        assert!(
            (expected_ms..=expected_ms + slack).contains(&gap),
            "gap of {gap} ms before attempt {}, expected {expected_ms} ms; {}",
            pair[1].attempt,
            world.replay_hint()
        );
    }

    let entries = sender.attempts(&endpoint_ref("flaky"), &event_id(1));
    assert_eq!(
        outcomes(&entries),
        [
            AttemptOutcome::Status(500),
            AttemptOutcome::Status(500),
            AttemptOutcome::Status(200)
        ]
    );
    for (backoff, expected_ms) in backoffs(&entries).into_iter().zip([10_000, 20_000]) {
        assert!(
            (expected_ms..=expected_ms + tick_ms()).contains(&backoff),
            "core waited {backoff} ms, expected {expected_ms} ms"
        );
    }
    assert_eq!(
        delivered(&sender).get(&(endpoint_ref("flaky"), 1)),
        Some(&3)
    );
    let finals: Vec<(FinalOutcome, u32)> = sender
        .state()
        .log
        .finals()
        .map(|entry| (entry.outcome, entry.attempts))
        .collect();
    assert_eq!(finals, [(FinalOutcome::Delivered, 3)]);
}

#[test]
fn partition_is_refused_then_delivered_in_order() {
    let mut world = World::new("partition_is_refused_then_delivered_in_order", 0xA11_0003);
    let cut = world.add_receiver("alpha", vec![], OK);
    let other = world.add_receiver("beta", vec![], OK);

    let mut script = save_steps(&[("alpha", &["*"]), ("beta", &["*"])]);
    script.extend(publish_steps(1..=6, secs(1.0), secs(4.0)));
    let sender = Sender::add(&mut world, script);

    let partitioned_at = secs(7.0);
    let repaired_at = secs(45.0);
    world.run_to(partitioned_at);
    world.sim.partition(SENDER, "alpha");
    world.run_to(repaired_at);
    world.sim.repair(SENDER, "alpha");
    world.run_until(secs(180.0), "12 deliveries", || {
        sender.delivered_count() == 12
    });
    let delivered_at = world.elapsed();
    world.run_to(delivered_at + secs(20.0));

    let cut_arrivals = cut.arrivals();
    assert_eq!(
        indices(&cut_arrivals),
        [1, 2, 3, 4, 5, 6],
        "{}",
        world.replay_hint()
    );
    assert_signed_and_intact(&cut_arrivals, &world);
    assert!(
        cut_arrivals
            .iter()
            .all(|arrival| arrival.at < partitioned_at || arrival.at >= repaired_at),
        "no request crosses the partition"
    );

    let other_arrivals = other.arrivals();
    assert_eq!(indices(&other_arrivals), [1, 2, 3, 4, 5, 6]);
    assert_signed_and_intact(&other_arrivals, &world);
    assert!(
        other_arrivals
            .iter()
            .all(|arrival| arrival.at < repaired_at),
        "the partitioned endpoint delayed the other one: {:?}",
        other_arrivals
            .iter()
            .map(|arrival| arrival.at)
            .collect::<Vec<_>>()
    );

    let entries = sender.attempts(&endpoint_ref("alpha"), &event_id(3));
    let (last, failed) = entries.split_last().expect("event 3 was attempted");
    assert!(failed.len() >= 2, "{entries:?}");
    assert!(
        failed
            .iter()
            .all(|entry| entry.outcome == AttemptOutcome::Error(TransportError::Refused)),
        "{entries:?}"
    );
    assert_eq!(last.outcome, AttemptOutcome::Status(200));
}

#[test]
fn blackhole_times_out_then_retries() {
    let mut world = World::new("blackhole_times_out_then_retries", 0xA11_0004);
    let held = world.add_receiver("alpha", vec![], OK);

    let mut script = save_steps(&[("alpha", &["*"])]);
    script.extend(publish_steps([1], secs(2.0), secs(0.0)));
    let sender = Sender::add(&mut world, script);

    world.run_to(secs(1.0));
    world.sim.hold(SENDER, "alpha");
    world.run_to(secs(20.0));
    world.sim.release(SENDER, "alpha");
    world.run_until(secs(120.0), "the delivery", || {
        sender.delivered_count() == 1
    });
    let delivered_at = world.elapsed();
    world.run_to(delivered_at + secs(20.0));

    let entries = sender.attempts(&endpoint_ref("alpha"), &event_id(1));
    assert_eq!(
        outcomes(&entries),
        [
            AttemptOutcome::Error(TransportError::Timeout),
            AttemptOutcome::Status(200)
        ],
        "{}",
        world.replay_hint()
    );
    let timed_out_after = entries[0].duration.as_u64();
    assert!(
        (TIMEOUT_MS..=TIMEOUT_MS + 2 * tick_ms()).contains(&timed_out_after),
        "the first attempt ended after {timed_out_after} ms"
    );
    let backoff = backoffs(&entries)[0];
    assert!(
        (FIRST_BACKOFF_MS..=FIRST_BACKOFF_MS + tick_ms()).contains(&backoff),
        "retried {backoff} ms after the timeout"
    );

    let arrivals = held.arrivals();
    let attempt_numbers: Vec<u32> = arrivals.iter().map(|arrival| arrival.attempt).collect();
    assert_eq!(attempt_numbers, [2], "only the retry reaches the receiver");
    assert_signed_and_intact(&arrivals, &world);
}

#[test]
fn message_loss_delivers_every_event() {
    const EVENTS: u32 = 12;
    // The seed makes two attempts fail after the receiver took the request, so lost responses
    // are exercised.
    let seed = 0x1055_0004;
    let mut world = World::new("message_loss_delivers_every_event", seed);
    let lossy = world.add_receiver("alpha", vec![], OK);

    let mut script = save_steps(&[("alpha", &["*"])]);
    script.extend(publish_steps(1..=EVENTS, secs(1.0), secs(0.5)));
    let sender = Sender::add(&mut world, script);

    world.sim.set_link_fail_rate(SENDER, "alpha", 0.1);
    world.run_to(secs(40.0));
    world.sim.set_link_fail_rate(SENDER, "alpha", 0.0);
    world.run_until(secs(300.0), "every delivery", || {
        sender.delivered_count() == EVENTS as usize
    });
    let delivered_at = world.elapsed();
    world.run_to(delivered_at + secs(20.0));

    let arrivals = lossy.arrivals();
    assert_signed_and_intact(&arrivals, &world);
    let order = indices(&arrivals);
    assert!(
        order.windows(2).all(|pair| pair[0] <= pair[1]),
        "an event arrived after a later one: {order:?}; {}",
        world.replay_hint()
    );
    assert_eq!(
        first_arrival_order(&arrivals),
        (1..=EVENTS).collect::<Vec<_>>()
    );

    // Every arrival that is not the delivered attempt is a duplicate, and its attempt must
    // have failed at the sender without a status: the response was lost.
    let endpoint = endpoint_ref("alpha");
    let mut failures = 0;
    let mut duplicates = 0;
    for index in 1..=EVENTS {
        let entries = sender.attempts(&endpoint, &event_id(index));
        failures += entries.len() - 1;
        for arrival in arrivals
            .iter()
            .filter(|arrival| event_index(&arrival.event_id) == index)
        {
            let entry = entries
                .iter()
                .find(|entry| entry.attempt == arrival.attempt)
                .unwrap_or_else(|| panic!("no logged attempt for {arrival:?}"));
            match entry.outcome {
                AttemptOutcome::Status(200) => {}
                AttemptOutcome::Error(_) => duplicates += 1,
                other => panic!("event {index} attempt {}: {other:?}", arrival.attempt),
            }
        }
    }
    assert!(
        failures > 0,
        "the loss rate caused no failure; {}",
        world.replay_hint()
    );
    assert!(
        duplicates > 0,
        "no response was lost, so the duplicate path is untested; {}",
        world.replay_hint()
    );
    assert_eq!(delivered(&sender).len(), EVENTS as usize);
}

#[test]
fn receiver_crash_and_bounce() {
    let mut world = World::new("receiver_crash_and_bounce", 0xA11_0006);
    let crashing = world.add_receiver("alpha", vec![], OK);

    let mut script = save_steps(&[("alpha", &["*"])]);
    script.extend(publish_steps([1], secs(1.0), secs(0.0)));
    script.extend(publish_steps([2, 3], secs(5.0), secs(1.0)));
    let sender = Sender::add(&mut world, script);

    world.run_to(secs(3.0));
    world.sim.crash("alpha");
    world.run_to(secs(25.0));
    world.sim.bounce("alpha");
    world.run_until(secs(180.0), "3 deliveries", || {
        sender.delivered_count() == 3
    });
    let delivered_at = world.elapsed();
    world.run_to(delivered_at + secs(20.0));

    let arrivals = crashing.arrivals();
    assert_eq!(indices(&arrivals), [1, 2, 3], "{}", world.replay_hint());
    assert_signed_and_intact(&arrivals, &world);

    let entries = sender.attempts(&endpoint_ref("alpha"), &event_id(2));
    let (last, failed) = entries.split_last().expect("event 2 was attempted");
    // turmoil 0.7.2 delivers nothing to a crashed host, so the connection request hangs
    // until the attempt timeout.
    assert_eq!(
        outcomes(failed),
        [AttemptOutcome::Error(TransportError::Timeout)],
        "{entries:?}"
    );
    assert_eq!(last.outcome, AttemptOutcome::Status(200));
}

#[test]
fn sender_crash_loses_no_accepted_event() {
    const EVENTS: u32 = 8;
    let mut world = World::new("sender_crash_loses_no_accepted_event", 0xA11_0007);
    // alpha responds after 2 s, so an attempt is in flight when the sender crashes.
    let slow = world.add_receiver("alpha", vec![], Reply::After(secs(2.0), 200));
    let fast = world.add_receiver("beta", vec![], OK);

    let mut script = save_steps(&[("alpha", &["*"]), ("beta", &["*"])]);
    script.extend(publish_steps(1..=EVENTS, secs(1.0), secs(1.0)));
    let sender = Sender::add(&mut world, script);

    world.run_to(secs(5.5));
    world.sim.crash(SENDER);
    world.run_to(secs(12.0));
    world.sim.bounce(SENDER);
    world.run_until(secs(180.0), "every delivery", || {
        sender.undelivered(&endpoint_ref("alpha")).is_empty()
            && sender.undelivered(&endpoint_ref("beta")).is_empty()
            && sender.state().events.len() == EVENTS as usize
    });
    let delivered_at = world.elapsed();
    world.run_to(delivered_at + secs(20.0));

    assert_eq!(sender.starts().len(), 2, "the sender started twice");
    let accepted: Vec<u32> = sender
        .replies()
        .iter()
        .filter_map(|reply| match (&reply.step, &reply.outcome) {
            (Step::Publish(index), Outcome::Published(Ok(_))) => Some(*index),
            _ => None,
        })
        .collect();
    assert_eq!(
        accepted,
        (1..=EVENTS).collect::<Vec<_>>(),
        "every publish was acknowledged"
    );
    assert_eq!(sender.state().events.len(), EVENTS as usize);

    let interrupted = sender.interrupted();
    assert!(
        !interrupted.is_empty(),
        "no attempt was in flight at the crash; {}",
        world.replay_hint()
    );

    for (receiver, host) in [(&slow, "alpha"), (&fast, "beta")] {
        let arrivals = receiver.arrivals();
        assert_signed_and_intact(&arrivals, &world);
        let order = indices(&arrivals);
        assert!(
            order.windows(2).all(|pair| pair[0] <= pair[1]),
            "{host}: an event arrived after a later one: {order:?}"
        );
        assert_eq!(
            first_arrival_order(&arrivals),
            (1..=EVENTS).collect::<Vec<_>>(),
            "{host}: every accepted event arrives"
        );

        // Only an attempt in flight at the crash may arrive twice.
        let endpoint = endpoint_ref(host);
        let repeated: Vec<u32> = (1..=EVENTS)
            .filter(|index| order.iter().filter(|arrived| *arrived == index).count() > 1)
            .collect();
        let interrupted_here: Vec<u32> = interrupted
            .iter()
            .filter(|(interrupted_endpoint, _)| *interrupted_endpoint == endpoint)
            .map(|(_, event_id)| event_index(event_id))
            .collect();
        for index in &repeated {
            assert!(
                interrupted_here.contains(index),
                "{host}: event {index} arrived twice but was not in flight at the crash"
            );
        }
        assert!(
            arrivals.len() <= EVENTS as usize + interrupted_here.len(),
            "{host}: {} arrivals",
            arrivals.len()
        );
    }
}

#[test]
fn gone_disables_endpoint_and_holds_queue() {
    let mut world = World::new("gone_disables_endpoint_and_holds_queue", 0xA11_0008);
    let gone = world.add_receiver("alpha", vec![OK, Reply::Status(410)], OK);

    let alpha = endpoint_ref("alpha");
    let mut script = save_steps(&[("alpha", &["*"])]);
    script.extend(publish_steps(1..=4, secs(1.0), secs(1.0)));
    script.push((secs(30.0), Step::Status(alpha.clone())));
    script.push((secs(40.0), Step::Enable(alpha.clone())));
    let sender = Sender::add(&mut world, script);

    world.run_until(secs(120.0), "4 deliveries", || {
        sender.delivered_count() == 4
    });
    let delivered_at = world.elapsed();
    world.run_to(delivered_at + secs(20.0));

    let arrivals = gone.arrivals();
    assert_signed_and_intact(&arrivals, &world);
    let seen: Vec<(u32, u32, u16)> = arrivals
        .iter()
        .map(|arrival| {
            (
                event_index(&arrival.event_id),
                arrival.attempt,
                arrival.status,
            )
        })
        .collect();
    // After the 410, event 2 waits with the rest and resumes with a fresh budget.
    assert_eq!(
        seen,
        [
            (1, 1, 200),
            (2, 1, 410),
            (2, 1, 200),
            (3, 1, 200),
            (4, 1, 200)
        ],
        "{}",
        world.replay_hint()
    );
    assert!(
        arrivals[1].at < secs(30.0),
        "the 410 came at {:?}",
        arrivals[1].at
    );
    assert!(
        arrivals[2].at >= secs(40.0),
        "event 2 was sent again at {:?}, before the endpoint was enabled",
        arrivals[2].at
    );

    let disabled: Vec<(DisabledReason, usize)> = sender
        .notifications()
        .into_iter()
        .filter_map(|(_, notification)| match notification {
            Notification::EndpointDisabled {
                reason, backlog, ..
            } => Some((reason, backlog)),
            _ => None,
        })
        .collect();
    // Only event 2 was queued when the 410 came, and events 3 and 4 queued behind it later.
    assert_eq!(disabled, [(DisabledReason::Gone, 1)]);

    let status = sender
        .replies()
        .into_iter()
        .find_map(|reply| match reply.outcome {
            Outcome::Status(status) => status,
            _ => None,
        })
        .expect("the status step ran");
    assert_eq!(status.disabled, Some(DisabledReason::Gone));
    assert_eq!(status.backlog, 3);
}

#[test]
fn late_response_times_out() {
    let mut world = World::new("late_response_times_out", 0xA11_0009);
    let late = world.add_receiver("alpha", vec![Reply::After(secs(20.0), 200)], OK);

    let mut script = save_steps(&[("alpha", &["*"])]);
    script.extend(publish_steps([1], secs(1.0), secs(0.0)));
    let sender = Sender::add(&mut world, script);

    world.run_until(secs(120.0), "the delivery", || {
        sender.delivered_count() == 1
    });
    let delivered_at = world.elapsed();
    world.run_to(delivered_at + secs(20.0));

    let entries = sender.attempts(&endpoint_ref("alpha"), &event_id(1));
    assert_eq!(
        outcomes(&entries),
        [
            AttemptOutcome::Error(TransportError::Timeout),
            AttemptOutcome::Status(200)
        ]
    );
    let timed_out_after = entries[0].duration.as_u64();
    assert!(
        (TIMEOUT_MS..=TIMEOUT_MS + 2 * tick_ms()).contains(&timed_out_after),
        "the first attempt ended after {timed_out_after} ms"
    );

    // The receiver handled the first request too, only too late.
    let attempt_numbers: Vec<u32> = late
        .arrivals()
        .iter()
        .map(|arrival| arrival.attempt)
        .collect();
    assert_eq!(attempt_numbers, [1, 2]);
    assert_eq!(
        delivered(&sender).get(&(endpoint_ref("alpha"), 1)),
        Some(&2)
    );
}

#[test]
fn trickling_body_after_status_is_success() {
    let mut world = World::new("trickling_body_after_status_is_success", 0xA11_000A);
    let trickle = world.add_receiver("alpha", vec![Reply::TrickleFor(secs(20.0))], OK);

    let mut script = save_steps(&[("alpha", &["*"])]);
    script.extend(publish_steps([1], secs(1.0), secs(0.0)));
    let sender = Sender::add(&mut world, script);

    world.run_until(secs(60.0), "the delivery", || sender.delivered_count() == 1);

    // `send_attempt` counts a 2xx status line that arrives in time as success, even while
    // the body is still arriving at the deadline, so the attempt ends at the timeout.
    let entries = sender.attempts(&endpoint_ref("alpha"), &event_id(1));
    assert_eq!(outcomes(&entries), [AttemptOutcome::Status(200)]);
    let duration = entries[0].duration.as_u64();
    assert!(
        (TIMEOUT_MS..=TIMEOUT_MS + 2 * tick_ms()).contains(&duration),
        "the attempt ended after {duration} ms"
    );
    assert_eq!(trickle.arrivals().len(), 1);
    assert!(
        entries[0].excerpt.starts_with("ttt"),
        "{:?}",
        entries[0].excerpt
    );
}

/// Publishing the same event twice through the worker is acknowledged as a duplicate and
/// sends nothing more.
#[test]
fn duplicate_publish_sends_once() {
    let mut world = World::new("duplicate_publish_sends_once", 0xA11_000B);
    let receiver = world.add_receiver("alpha", vec![], OK);

    let mut script = save_steps(&[("alpha", &["*"])]);
    script.extend(publish_steps([1, 1], secs(1.0), secs(1.0)));
    let sender = Sender::add(&mut world, script);

    world.run_to(secs(20.0));

    let published: Vec<Published> = sender
        .replies()
        .into_iter()
        .filter_map(|reply| match reply.outcome {
            Outcome::Published(outcome) => Some(outcome.expect("the publish is accepted")),
            _ => None,
        })
        .collect();
    assert!(
        matches!(published[0], Published::Accepted { .. }),
        "{published:?}"
    );
    assert_eq!(published[1], Published::Duplicate);
    assert_eq!(indices(&receiver.arrivals()), [1]);
    assert_eq!(sender.state().log.attempts().count(), 1);
    assert!(
        sender
            .state()
            .log
            .attempts()
            .all(|entry| entry.duration < Millis(1000))
    );
}
