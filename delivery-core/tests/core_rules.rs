//! One test per delivery rule, driven in virtual time.

mod common;

use common::{Driver, SECRET, event_id, hours, sample_event, status};
use delivery_core::{
    AttemptResult, Config, CoreError, DeliveryStatus, DisabledReason, EventType, FinalOutcome,
    Millis, Notification, Published, ReplayTarget, RetryPolicy, SigningKey, TransportError,
    UnixMillis,
};

const HORIZON: Millis = Millis(200 * 3600 * 1000);

fn offsets(driver: &Driver) -> Vec<Millis> {
    let first = driver.sent[0].at;
    driver.sent.iter().map(|s| s.at - first).collect()
}

#[test]
fn failing_delivery_follows_attempt_table() {
    let mut driver = Driver::new(Config::default());
    driver.endpoint("ws_a", "ep_1", &["*"]);
    driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);

    driver.run(HORIZON, |_| status(500));

    let table: Vec<Millis> = RetryPolicy::default()
        .table()
        .iter()
        .map(|row| row.offset)
        .collect();
    assert_eq!(offsets(&driver), table);
    assert_eq!(driver.sent.len(), 24);
    assert_eq!(driver.sent[23].at - driver.sent[0].at, hours(72));
    let attempts: Vec<u32> = driver.sent.iter().map(|s| s.transmit.attempt).collect();
    assert_eq!(attempts, (1..=24).collect::<Vec<_>>());
}

#[test]
fn exhausted_delivery_is_failed_and_endpoint_disabled() {
    let mut driver = Driver::new(Config::default());
    let endpoint = driver.endpoint("ws_a", "ep_1", &["*"]);
    driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);
    driver.publish("ws_a", 2, EventType::WorkflowRunCompleted);

    driver.run(HORIZON, |_| status(503));

    assert!(
        driver
            .notifications
            .iter()
            .any(|n| matches!(n, Notification::Failed { attempts: 24, .. }))
    );
    assert!(driver.notifications.iter().any(|n| matches!(
        n,
        Notification::EndpointDisabled {
            reason: DisabledReason::Failing,
            backlog: 1,
            ..
        }
    )));
    let status_now = driver.core.endpoint_status(&endpoint).unwrap();
    assert_eq!(status_now.disabled, Some(DisabledReason::Failing));
    assert_eq!(status_now.backlog, 1);
    assert!(status_now.oldest_queued.is_some());
    // The second delivery was never attempted: it is held, not dropped.
    assert!(
        driver
            .sent
            .iter()
            .all(|s| s.transmit.event_id == event_id(1))
    );
}

#[test]
fn held_backlog_resumes_in_order_after_enable() {
    let mut driver = Driver::new(Config::default());
    let endpoint = driver.endpoint("ws_a", "ep_1", &["*"]);
    for n in 1..=3 {
        driver.publish("ws_a", n, EventType::ChatMessageCreated);
    }
    driver.run(HORIZON, |_| status(500));
    let before = driver.sent.len();

    driver
        .core
        .enable_endpoint(driver.now(), &endpoint)
        .unwrap();
    driver.drain();
    driver.run(HORIZON + HORIZON, |_| status(200));

    let resumed: Vec<String> = driver.sent[before..]
        .iter()
        .map(|s| s.transmit.event_id.clone())
        .collect();
    assert_eq!(resumed, vec![event_id(2), event_id(3)]);
    assert_eq!(driver.core.endpoint_status(&endpoint).unwrap().backlog, 0);
}

#[test]
fn success_stops_attempts() {
    let mut driver = Driver::new(Config::default());
    driver.endpoint("ws_a", "ep_1", &["*"]);
    driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);

    let mut calls = 0;
    driver.run(HORIZON, |_| {
        calls += 1;
        if calls < 3 { status(500) } else { status(204) }
    });

    assert_eq!(driver.sent.len(), 3);
    let finals: Vec<FinalOutcome> = driver.core.log().finals().map(|f| f.outcome).collect();
    assert_eq!(finals, vec![FinalOutcome::Delivered]);
}

#[test]
fn redirect_counts_as_failure() {
    let mut driver = Driver::new(Config::default());
    driver.endpoint("ws_a", "ep_1", &["*"]);
    driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);

    let mut calls = 0;
    driver.run(HORIZON, |_| {
        calls += 1;
        if calls == 1 { status(301) } else { status(200) }
    });

    assert_eq!(driver.sent.len(), 2);
    assert_eq!(driver.sent[1].at - driver.sent[0].at, Millis::from_secs(10));
}

#[test]
fn retry_after_postpones_next_attempt() {
    let mut driver = Driver::new(Config::default());
    driver.endpoint("ws_a", "ep_1", &["*"]);
    driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);

    let mut calls = 0;
    driver.run(HORIZON, |_| {
        calls += 1;
        if calls == 1 {
            AttemptResult::from_response(429, Some("600"), b"slow down", UnixMillis(0))
        } else {
            status(200)
        }
    });

    assert_eq!(
        driver.sent[1].at - driver.sent[0].at,
        Millis::from_secs(600)
    );
}

#[test]
fn retry_after_capped_at_six_hours() {
    let mut driver = Driver::new(Config::default());
    driver.endpoint("ws_a", "ep_1", &["*"]);
    driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);

    let mut calls = 0;
    driver.run(HORIZON, |_| {
        calls += 1;
        if calls == 1 {
            AttemptResult::from_response(503, Some("864000"), b"", UnixMillis(0))
        } else {
            status(200)
        }
    });

    assert_eq!(driver.sent[1].at - driver.sent[0].at, hours(6));
}

#[test]
fn gone_disables_endpoint_and_holds_queue() {
    let mut driver = Driver::new(Config::default());
    let endpoint = driver.endpoint("ws_a", "ep_1", &["*"]);
    driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);
    driver.publish("ws_a", 2, EventType::WorkflowRunCompleted);

    driver.run(HORIZON, |_| status(410));

    assert_eq!(driver.sent.len(), 1);
    let status_now = driver.core.endpoint_status(&endpoint).unwrap();
    assert_eq!(status_now.disabled, Some(DisabledReason::Gone));
    assert_eq!(status_now.backlog, 2);
    assert!(driver.core.log().finals().next().is_none());

    driver
        .core
        .enable_endpoint(driver.now(), &endpoint)
        .unwrap();
    driver.drain();
    driver.run(HORIZON + HORIZON, |_| status(200));
    let order: Vec<(String, u32)> = driver.sent[1..]
        .iter()
        .map(|s| (s.transmit.event_id.clone(), s.transmit.attempt))
        .collect();
    assert_eq!(order, vec![(event_id(1), 1), (event_id(2), 1)]);
}

#[test]
fn next_delivery_waits_for_retrying_head() {
    let mut driver = Driver::new(Config::default());
    driver.endpoint("ws_a", "ep_1", &["*"]);
    driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);
    driver.publish("ws_a", 2, EventType::WorkflowRunCompleted);

    driver.run(HORIZON, |t| {
        if t.event_id == event_id(1) && t.attempt < 4 {
            status(500)
        } else {
            status(200)
        }
    });

    let order: Vec<(String, u32)> = driver
        .sent
        .iter()
        .map(|s| (s.transmit.event_id.clone(), s.transmit.attempt))
        .collect();
    let expected: Vec<(String, u32)> = (1..=4)
        .map(|a| (event_id(1), a))
        .chain([(event_id(2), 1)])
        .collect();
    assert_eq!(order, expected);
}

#[test]
fn one_slow_endpoint_does_not_delay_another() {
    let mut driver = Driver::new(Config::default());
    driver.endpoint("ws_a", "slow", &["*"]);
    driver.endpoint("ws_a", "fast", &["*"]);
    driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);
    driver.publish("ws_a", 2, EventType::WorkflowRunCompleted);

    driver.run(hours(1), |t| {
        if t.endpoint.endpoint_id == "slow" {
            status(500)
        } else {
            status(200)
        }
    });

    let fast: Vec<&str> = driver
        .sent
        .iter()
        .filter(|s| s.transmit.endpoint.endpoint_id == "fast")
        .map(|s| s.transmit.event_id.as_str())
        .collect();
    assert_eq!(fast, vec![event_id(1), event_id(2)]);
}

#[test]
fn workspaces_are_isolated() {
    let mut driver = Driver::new(Config::default());
    driver.endpoint("ws_a", "ep_1", &["*"]);
    driver.endpoint("ws_b", "ep_1", &["*"]);
    driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);

    driver.run(HORIZON, |_| status(200));

    assert_eq!(driver.sent.len(), 1);
    assert_eq!(driver.sent[0].transmit.endpoint.workspace_id, "ws_a");

    let error = driver
        .core
        .replay_event(
            driver.now(),
            "ws_b",
            &event_id(1),
            ReplayTarget::AllSubscribed,
        )
        .unwrap_err();
    assert!(matches!(error, CoreError::UnknownEvent { .. }), "{error}");
}

#[test]
fn filters_select_matching_types() {
    let mut driver = Driver::new(Config::default());
    driver.endpoint("ws_a", "bots", &["chatbot.*"]);
    driver.endpoint("ws_a", "chat", &["chat.message.created"]);
    for (n, event_type) in EventType::ALL.into_iter().enumerate() {
        driver.publish("ws_a", n as u32, event_type);
    }

    driver.run(HORIZON, |_| status(200));

    let mut got: Vec<(String, String)> = driver
        .sent
        .iter()
        .map(|s| {
            let event_type = s.transmit.request.header("Aresgen-Event-Type").unwrap();
            (
                s.transmit.endpoint.endpoint_id.clone(),
                event_type.to_owned(),
            )
        })
        .collect();
    got.sort();
    let expected = vec![
        (
            "bots".to_owned(),
            "chatbot.conversation.escalated".to_owned(),
        ),
        ("bots".to_owned(), "chatbot.csat.received".to_owned()),
        ("chat".to_owned(), "chat.message.created".to_owned()),
    ];
    assert_eq!(got, expected);
}

#[test]
fn publish_is_idempotent_on_id() {
    let mut driver = Driver::new(Config::default());
    driver.endpoint("ws_a", "ep_1", &["*"]);
    let event = driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);

    let again = driver.core.publish(driver.now(), &event.body).unwrap();
    assert_eq!(again, Published::Duplicate);

    let other = sample_event("ws_a", 1, EventType::ChatMessageCreated);
    let error = driver.core.publish(driver.now(), &other.body).unwrap_err();
    assert!(matches!(error, CoreError::IdConflict { .. }), "{error}");

    driver.run(HORIZON, |_| status(200));
    assert_eq!(driver.sent.len(), 1);
}

#[test]
fn invalid_publish_changes_nothing() {
    let mut driver = Driver::new(Config::default());
    driver.endpoint("ws_a", "ep_1", &["*"]);
    let error = driver
        .core
        .publish(driver.now(), b"{\"id\":1}")
        .unwrap_err();
    assert!(error.to_string().contains("`id`"), "{error}");
    driver.drain();
    assert_eq!(driver.records.len(), 1);
    assert!(driver.sent.is_empty());
}

#[test]
fn replay_sends_same_bytes_with_fresh_signature() {
    let mut driver = Driver::new(Config::default());
    let endpoint = driver.endpoint("ws_a", "ep_1", &["*"]);
    let event = driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);
    driver.run(hours(1), |_| status(200));

    driver.advance(hours(5));
    driver
        .core
        .replay_event(
            driver.now(),
            "ws_a",
            &event.id,
            ReplayTarget::Endpoint("ep_1".into()),
        )
        .unwrap();
    driver.drain();
    driver.run(hours(10), |_| status(200));

    assert_eq!(driver.sent.len(), 2);
    let (first, replay) = (&driver.sent[0].transmit, &driver.sent[1].transmit);
    assert_eq!(first.request.body, replay.request.body);
    assert_eq!(replay.attempt, 1);
    let key = SigningKey::new(SECRET);
    for sent in &driver.sent {
        let request = &sent.transmit.request;
        let timestamp = request.header("Aresgen-Timestamp").unwrap();
        let expected_secs = (common::START_WALL as u64 + sent.at.0) / 1000;
        assert_eq!(timestamp, expected_secs.to_string());
        let verified = key.verify(
            Some(timestamp),
            request.header("Aresgen-Signature"),
            &request.body,
            expected_secs,
        );
        assert!(verified.is_ok(), "{verified:?}");
    }
    assert_ne!(
        first.request.header("Aresgen-Signature"),
        replay.request.header("Aresgen-Signature")
    );
    assert_eq!(driver.core.endpoint_status(&endpoint).unwrap().backlog, 0);
}

#[test]
fn replay_joins_tail_of_queue() {
    let mut driver = Driver::new(Config::default());
    driver.endpoint("ws_a", "ep_1", &["*"]);
    driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);
    driver.run(hours(1), |_| status(200));

    // Event 2 is retrying when the replay of event 1 arrives: the replay waits behind it.
    driver.publish("ws_a", 2, EventType::WorkflowRunCompleted);
    driver.answer_all(|_| status(500));
    driver
        .core
        .replay_event(
            driver.now(),
            "ws_a",
            &event_id(1),
            ReplayTarget::AllSubscribed,
        )
        .unwrap();
    driver.drain();
    driver.run(hours(2), |_| status(200));

    let order: Vec<String> = driver
        .sent
        .iter()
        .map(|s| s.transmit.event_id.clone())
        .collect();
    assert_eq!(
        order,
        vec![event_id(1), event_id(2), event_id(2), event_id(1)]
    );
}

#[test]
fn replay_range_failed_only() {
    let mut driver = Driver::new(Config {
        disable_after_failures: 0,
        ..Config::default()
    });
    let endpoint = driver.endpoint("ws_a", "ep_1", &["*"]);
    driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);
    driver.publish("ws_a", 2, EventType::WorkflowRunCompleted);
    driver.run(HORIZON, |t| {
        if t.event_id == event_id(1) {
            status(500)
        } else {
            status(200)
        }
    });

    let start = UnixMillis(common::START_WALL);
    let end = driver.now().wall;
    let replayed = driver
        .core
        .replay_range(driver.now(), &endpoint, start, end, true)
        .unwrap();
    driver.drain();
    assert_eq!(replayed.len(), 1);
    let delivery = driver.core.delivery(replayed[0]).unwrap();
    assert_eq!(delivery.event_id, event_id(1));
    assert!(delivery.replay);

    let everything = driver
        .core
        .replay_range(driver.now(), &endpoint, start, end, false)
        .unwrap();
    assert_eq!(everything.len(), 2);

    let error = driver
        .core
        .replay_range(driver.now(), &endpoint, end, start, false)
        .unwrap_err();
    assert!(matches!(error, CoreError::InvalidRange { .. }));
}

#[test]
fn replay_past_retention_rejected() {
    let mut driver = Driver::new(Config::default());
    driver.endpoint("ws_a", "ep_1", &["*"]);
    let event = driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);
    driver.run(hours(1), |_| status(200));

    driver.advance(hours(31 * 24));
    let error = driver
        .core
        .replay_event(driver.now(), "ws_a", &event.id, ReplayTarget::AllSubscribed)
        .unwrap_err();
    assert!(
        matches!(
            error,
            CoreError::PastRetention { .. } | CoreError::UnknownEvent { .. }
        ),
        "{error}"
    );
}

#[test]
fn log_pruned_after_thirty_days() {
    let mut driver = Driver::new(Config::default());
    driver.endpoint("ws_a", "ep_1", &["*"]);
    driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);
    driver.run(hours(1), |_| status(200));
    assert_eq!(driver.core.log().attempts().count(), 1);

    driver.run(hours(29 * 24), |_| status(200));
    assert_eq!(driver.core.log().attempts().count(), 1);

    driver.run(hours(31 * 24), |_| status(200));
    assert_eq!(driver.core.log().attempts().count(), 0);
    assert_eq!(driver.core.log().finals().count(), 0);
    assert!(driver.core.state().events.is_empty());
    assert!(driver.core.state().deliveries.is_empty());
}

#[test]
fn log_records_attempt_details() {
    let mut driver = Driver::new(Config::default());
    driver.endpoint("ws_a", "ep_1", &["*"]);
    driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);
    driver.advance(Millis(250));
    driver.answer_all(|_| AttemptResult::from_response(500, None, b"boom", UnixMillis(0)));

    let entry = driver.core.log().attempts().next().unwrap().clone();
    assert_eq!(entry.attempt, 1);
    assert_eq!(entry.duration, Millis(250));
    assert_eq!(entry.outcome, delivery_core::AttemptOutcome::Status(500));
    assert_eq!(entry.excerpt, "boom");
    assert_eq!(entry.sent_wall, UnixMillis(common::START_WALL));
}

#[test]
fn lost_result_times_out_in_core() {
    let mut driver = Driver::new(Config::default());
    driver.endpoint("ws_a", "ep_1", &["*"]);
    driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);
    driver.pending.clear();

    assert!(driver.step(HORIZON));
    let entry = driver.core.log().attempts().next().unwrap();
    assert_eq!(
        entry.outcome,
        delivery_core::AttemptOutcome::Error(TransportError::Timeout)
    );
    assert_eq!(entry.duration, Millis::from_secs(20));
}

#[test]
fn late_result_is_ignored() {
    let mut driver = Driver::new(Config::default());
    driver.endpoint("ws_a", "ep_1", &["*"]);
    driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);
    let sent = driver.pending.remove(0);
    assert!(driver.step(HORIZON));

    let error = driver
        .core
        .handle_result(driver.now(), sent.transmit.delivery_id, 1, status(200))
        .unwrap_err();
    assert!(matches!(error, CoreError::UnknownAttempt { .. }));
}

#[test]
fn wall_clock_steps_move_no_timer() {
    let mut driver = Driver::new(Config::default());
    driver.endpoint("ws_a", "ep_1", &["*"]);
    driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);
    driver.answer_all(|_| status(500));

    // Step the wall clock back a day, then forward two: the next attempts still follow the
    // monotonic schedule, and each is signed with the stepped wall time.
    driver.wall_offset -= 24 * 3600 * 1000;
    assert!(driver.step(HORIZON));
    driver.answer_all(|_| status(500));
    driver.wall_offset += 2 * 24 * 3600 * 1000;
    assert!(driver.step(HORIZON));

    assert_eq!(
        offsets(&driver),
        vec![Millis(0), Millis(10_000), Millis(30_000)]
    );
    let stamps: Vec<u64> = driver
        .sent
        .iter()
        .map(|s| {
            s.transmit
                .request
                .header("Aresgen-Timestamp")
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    let start = common::START_WALL as u64 / 1000;
    assert_eq!(
        stamps,
        vec![start, start + 10 - 86_400, start + 30 + 86_400]
    );
}

#[test]
fn restart_rebuilds_state_and_repeats_in_flight() {
    let mut driver = Driver::new(Config::default());
    driver.endpoint("ws_a", "ep_1", &["*"]);
    driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);
    driver.publish("ws_a", 2, EventType::WorkflowRunCompleted);
    driver.answer_all(|_| status(500));
    assert!(driver.step(HORIZON));
    // Attempt 2 of event 1 is in flight when the process dies.
    let state_before = driver.core.state().clone();

    driver.restart(Millis::from_secs(60));
    let restored = driver.core.state();
    assert_eq!(restored.endpoints, state_before.endpoints);
    assert_eq!(restored.events, state_before.events);
    assert_eq!(restored.queues, state_before.queues);

    driver.run(HORIZON, |_| status(200));
    let order: Vec<(String, u32)> = driver
        .sent
        .iter()
        .map(|s| (s.transmit.event_id.clone(), s.transmit.attempt))
        .collect();
    assert_eq!(
        order,
        vec![
            (event_id(1), 1),
            (event_id(1), 2),
            (event_id(1), 3),
            (event_id(2), 1)
        ]
    );
    let interrupted = driver
        .core
        .log()
        .attempts()
        .filter(|e| e.outcome == delivery_core::AttemptOutcome::Error(TransportError::Interrupted))
        .count();
    assert_eq!(interrupted, 1);
    // The backoff after attempt 2 (20 s) runs from the restart, not from before the crash.
    assert_eq!(
        driver.sent[2].at - driver.sent[1].at,
        Millis::from_secs(60 + 20)
    );
}

#[test]
fn restore_rejects_out_of_order_records() {
    let mut driver = Driver::new(Config::default());
    driver.endpoint("ws_a", "ep_1", &["*"]);
    driver.advance(Millis(1000));
    driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);
    let mut records = driver.records.clone();
    records.reverse();

    let result = delivery_core::Core::restore(Config::default(), None, records, driver.now());
    assert!(matches!(result, Err(CoreError::CorruptRecords { .. })));
}

#[test]
fn records_roundtrip_through_json() {
    let mut driver = Driver::new(Config::default());
    driver.endpoint("ws_a", "ep_1", &["*"]);
    driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);
    driver.answer_all(|_| status(500));

    let text = serde_json::to_string(&driver.records).unwrap();
    let back: Vec<delivery_core::Record> = serde_json::from_str(&text).unwrap();
    assert_eq!(back, driver.records);
}

#[test]
fn snapshot_plus_later_records_restore() {
    let mut driver = Driver::new(Config::default());
    driver.endpoint("ws_a", "ep_1", &["*"]);
    driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);
    driver.answer_all(|_| status(500));
    let snapshot = driver.core.state().clone();
    let cut = driver.records.len();
    driver.publish("ws_a", 2, EventType::WorkflowRunCompleted);

    let later = driver.records[cut..].to_vec();
    let core = delivery_core::Core::restore(Config::default(), Some(snapshot), later, driver.now())
        .unwrap();
    assert_eq!(core.state().queues, driver.core.state().queues);
    assert_eq!(core.state().deliveries, driver.core.state().deliveries);
}

#[test]
fn operator_disable_holds_and_keeps_in_flight_result() {
    let mut driver = Driver::new(Config::default());
    let endpoint = driver.endpoint("ws_a", "ep_1", &["*"]);
    driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);
    driver.publish("ws_a", 2, EventType::WorkflowRunCompleted);

    driver
        .core
        .disable_endpoint(driver.now(), &endpoint)
        .unwrap();
    driver.drain();
    driver.run(HORIZON, |_| status(200));

    assert_eq!(driver.sent.len(), 1);
    let first = driver
        .core
        .delivery(driver.sent[0].transmit.delivery_id)
        .unwrap();
    assert_eq!(first.status, DeliveryStatus::Delivered);
    assert_eq!(driver.core.endpoint_status(&endpoint).unwrap().backlog, 1);
}

#[test]
fn unknown_endpoint_commands_rejected() {
    let mut driver = Driver::new(Config::default());
    let missing = delivery_core::EndpointRef::new("ws_a", "nope");
    let error = driver
        .core
        .disable_endpoint(driver.now(), &missing)
        .unwrap_err();
    assert!(error.to_string().contains("ws_a/nope"), "{error}");
}

#[test]
fn late_wake_up_past_deadline_fails_without_attempt() {
    let mut driver = Driver::new(Config::default());
    let endpoint = driver.endpoint("ws_a", "ep_1", &["*"]);
    driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);
    driver.pending.clear();

    driver.advance(Millis::from_secs(70_338));
    driver.core.handle_timeout(driver.now());
    driver.drain();
    driver.advance(Millis::from_secs(188_863));
    driver.core.handle_timeout(driver.now());
    driver.drain();

    assert_eq!(driver.sent.len(), 1, "{:#?}", driver.records);
    assert!(
        driver
            .notifications
            .iter()
            .any(|n| matches!(n, Notification::Failed { attempts: 1, .. })),
        "{:#?}",
        driver.records
    );
    assert_eq!(
        driver.core.endpoint_status(&endpoint).unwrap().disabled,
        Some(DisabledReason::Failing)
    );
}

#[test]
fn private_endpoint_urls_rejected_by_default() {
    let mut driver = Driver::new(Config::default());
    let config = |url: &str| delivery_core::EndpointConfig {
        endpoint: delivery_core::EndpointRef::new("ws_a", "ep_1"),
        url: url.to_owned(),
        secret: SECRET.to_owned(),
        filters: vec!["*".to_owned()],
    };

    for url in [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://[fd00::1]/hook",
    ] {
        let error = driver
            .core
            .save_endpoint(driver.now(), config(url))
            .unwrap_err();
        assert!(
            matches!(error, CoreError::PrivateEndpoint { .. }),
            "{url}: {error}"
        );
        assert!(error.to_string().contains(url), "{error}");
    }
    driver.drain();
    assert!(driver.records.is_empty());

    let mut permissive = Driver::new(Config {
        allow_private_endpoints: true,
        ..Config::default()
    });
    let saved = permissive
        .core
        .save_endpoint(permissive.now(), config("http://127.0.0.1:8080/hook"));
    assert_eq!(saved, Ok(()));
}

#[test]
fn poll_timeout_uses_caller_clock() {
    // A core created when the caller's monotonic clock already reads 5 s reports wake-ups on
    // that clock, not on its own timeline that starts at zero.
    let start = delivery_core::Now::new(Millis(5_000), UnixMillis(common::START_WALL));
    let mut core = delivery_core::Core::new(Config::default(), start);
    assert_eq!(core.config(), &Config::default());
    assert_eq!(core.poll_timeout(), None);

    let endpoint = delivery_core::EndpointConfig {
        endpoint: delivery_core::EndpointRef::new("ws_a", "ep_1"),
        url: "https://ep.hooks.test/x".to_owned(),
        secret: SECRET.to_owned(),
        filters: vec!["*".to_owned()],
    };
    core.save_endpoint(start, endpoint).unwrap();
    let event = sample_event("ws_a", 1, EventType::WorkflowRunCompleted);
    core.publish(start, &event.body).unwrap();
    let transmit = core.poll_transmit().unwrap();
    core.handle_result(start, transmit.delivery_id, 1, status(500))
        .unwrap();

    assert_eq!(core.poll_timeout(), Some(Millis(15_000)));
    // The core's own timeline, stored in records, starts at zero.
    let first = core.poll_record().unwrap();
    assert_eq!(first.stamp().at, Millis::ZERO);
}

#[test]
fn prune_wake_up_scheduled_while_log_holds_entries() {
    let mut driver = Driver::new(Config::default());
    driver.endpoint("ws_a", "ep_1", &["*"]);
    assert_eq!(driver.core.poll_timeout(), None);

    driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);
    driver.answer_all(|_| status(200));

    assert_eq!(driver.core.poll_timeout(), Some(hours(1)));
}

#[test]
fn operator_disable_holds_failed_in_flight_attempt() {
    let mut driver = Driver::new(Config::default());
    let endpoint = driver.endpoint("ws_a", "ep_1", &["*"]);
    driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);

    driver
        .core
        .disable_endpoint(driver.now(), &endpoint)
        .unwrap();
    driver.drain();
    driver.run(HORIZON, |_| status(500));

    assert_eq!(driver.sent.len(), 1);
    let delivery = driver
        .core
        .delivery(driver.sent[0].transmit.delivery_id)
        .unwrap();
    assert_eq!(delivery.status, DeliveryStatus::Pending);
    assert_eq!(delivery.attempts, 0);
    let status_now = driver.core.endpoint_status(&endpoint).unwrap();
    assert_eq!(status_now.backlog, 1);
    assert_eq!(status_now.disabled, Some(DisabledReason::Operator));
    let disabled_notes = driver
        .notifications
        .iter()
        .filter(|n| matches!(n, Notification::EndpointDisabled { .. }))
        .count();
    assert_eq!(disabled_notes, 1);
}

#[test]
fn disable_threshold_counts_failed_deliveries() {
    let mut driver = Driver::new(Config {
        disable_after_failures: 2,
        ..Config::default()
    });
    let endpoint = driver.endpoint("ws_a", "ep_1", &["*"]);
    for n in 1..=3 {
        driver.publish("ws_a", n, EventType::WorkflowRunCompleted);
    }

    driver.run(hours(73), |_| status(500));
    let after_one = driver.core.endpoint_status(&endpoint).unwrap();
    assert_eq!(after_one.disabled, None);
    assert_eq!(after_one.consecutive_failures, 1);

    driver.run(hours(146), |_| status(500));
    let after_two = driver.core.endpoint_status(&endpoint).unwrap();
    assert_eq!(after_two.disabled, Some(DisabledReason::Failing));
    assert_eq!(after_two.backlog, 1);
}

#[test]
fn zero_threshold_never_disables() {
    let mut driver = Driver::new(Config {
        disable_after_failures: 0,
        ..Config::default()
    });
    let endpoint = driver.endpoint("ws_a", "ep_1", &["*"]);
    driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);
    driver.publish("ws_a", 2, EventType::WorkflowRunCompleted);

    driver.run(HORIZON, |_| status(500));

    let status_now = driver.core.endpoint_status(&endpoint).unwrap();
    assert_eq!(status_now.disabled, None);
    assert_eq!(status_now.consecutive_failures, 2);
    assert_eq!(driver.sent.len(), 48);
}

#[test]
fn custom_retry_policy_is_used() {
    let retry = RetryPolicy {
        max_attempts: 3,
        initial_backoff: Millis::from_secs(1),
        ..RetryPolicy::default()
    };
    let mut driver = Driver::new(Config {
        retry,
        ..Config::default()
    });
    driver.endpoint("ws_a", "ep_1", &["*"]);
    driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);

    driver.run(HORIZON, |_| status(500));

    assert_eq!(
        offsets(&driver),
        vec![Millis(0), Millis(1_000), Millis(3_000)]
    );
}

#[test]
fn restore_rejects_replay_of_unknown_event() {
    let mut driver = Driver::new(Config::default());
    let endpoint = driver.endpoint("ws_a", "ep_1", &["*"]);
    let mut records = driver.records.clone();
    records.push(delivery_core::Record::ReplayQueued {
        stamp: records[0].stamp(),
        workspace_id: "ws_a".to_owned(),
        event_id: event_id(9),
        deliveries: vec![(delivery_core::DeliveryId(0), endpoint)],
    });

    let result = delivery_core::Core::restore(Config::default(), None, records, driver.now());
    assert!(
        matches!(result, Err(CoreError::CorruptRecords { ref reason }) if reason.contains(&event_id(9))),
        "{:?}",
        result.err()
    );
}

#[test]
fn prune_wake_up_scheduled_for_event_without_subscribers() {
    // An event no endpoint subscribes to leaves the log empty but must still expire.
    let mut driver = Driver::new(Config::default());
    driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);

    assert!(driver.core.log().is_empty());
    assert_eq!(driver.core.poll_timeout(), Some(hours(1)));
}

#[test]
fn held_delivery_survives_pruning() {
    let mut driver = Driver::new(Config::default());
    let endpoint = driver.endpoint("ws_a", "ep_1", &["*"]);
    driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);
    driver.run(hours(1), |_| status(410));

    // Forty days later the log entries are gone, but the held delivery and its event are not.
    driver.run(hours(40 * 24), |_| status(200));
    assert!(driver.core.log().attempts().next().is_none());
    assert_eq!(driver.core.endpoint_status(&endpoint).unwrap().backlog, 1);

    driver
        .core
        .enable_endpoint(driver.now(), &endpoint)
        .unwrap();
    driver.drain();
    driver.run(hours(41 * 24), |_| status(200));
    assert_eq!(driver.sent.len(), 2);
    assert_eq!(driver.sent[1].transmit.event_id, event_id(1));
    assert_eq!(driver.core.endpoint_status(&endpoint).unwrap().backlog, 0);
}

#[test]
fn replay_range_selects_by_time_and_endpoint() {
    let mut driver = Driver::new(Config::default());
    let first = driver.endpoint("ws_a", "ep_1", &["*"]);
    driver.endpoint("ws_a", "ep_2", &["*"]);
    driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);
    driver.run(hours(1), |_| status(200));
    driver.advance(hours(2));
    // Event 2 is queued exactly at `between`, the end of the first range.
    let between = driver.now().wall;
    driver.publish("ws_a", 2, EventType::WorkflowRunCompleted);
    driver.run(hours(4), |_| status(200));
    let end = UnixMillis(driver.now().wall.0 + 1);
    let start = UnixMillis(common::START_WALL);

    // Only event 1 was queued in [start, between), and only ep_1's deliveries count.
    let early = driver
        .core
        .replay_range(driver.now(), &first, start, between, false)
        .unwrap();
    driver.drain();
    let early_events: Vec<String> = early
        .iter()
        .map(|id| driver.core.delivery(*id).unwrap().event_id.clone())
        .collect();
    assert_eq!(early_events, vec![event_id(1)]);
    assert!(
        early
            .iter()
            .all(|id| driver.core.delivery(*id).unwrap().endpoint == first)
    );

    // Event 2 alone lies in [between, end); the replay delivery made above is not replayed
    // again, although it was queued in that range.
    let late = driver
        .core
        .replay_range(driver.now(), &first, between, end, false)
        .unwrap();
    let late_events: Vec<String> = late
        .iter()
        .map(|id| driver.core.delivery(*id).unwrap().event_id.clone())
        .collect();
    assert_eq!(late_events, vec![event_id(2)]);
}

#[test]
fn gone_after_operator_disable_keeps_reason() {
    let mut driver = Driver::new(Config::default());
    let endpoint = driver.endpoint("ws_a", "ep_1", &["*"]);
    driver.publish("ws_a", 1, EventType::WorkflowRunCompleted);

    driver
        .core
        .disable_endpoint(driver.now(), &endpoint)
        .unwrap();
    driver.drain();
    driver.run(HORIZON, |_| status(410));

    let status_now = driver.core.endpoint_status(&endpoint).unwrap();
    assert_eq!(status_now.disabled, Some(DisabledReason::Operator));
    let disabled_notes = driver
        .notifications
        .iter()
        .filter(|n| matches!(n, Notification::EndpointDisabled { .. }))
        .count();
    assert_eq!(disabled_notes, 1);
}
