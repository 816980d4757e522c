//! End-to-end attempts against axum receivers, over turmoil's simulated TCP and over real
//! loopback TCP.

mod receiver;
mod sim;
#[path = "../support/sim_listener.rs"]
mod sim_listener;
mod tcp;

use delivery_core::{Event, EventType, SignedRequest, SigningKey, UnixMillis};

/// Builds the published sample event, `workflow.run.completed`.
fn sample_event() -> Event {
    Event::build(
        "evt_01HZ8PJYTM6N9X7QWXAYBVS3J5",
        EventType::WorkflowRunCompleted,
        "2026-05-11T08:14:22.184Z",
        "ws_main",
        serde_json::json!({
            "workflow_id": "wf_publish",
            "run_id": "run_01HZ8PJYTM6N9X7QWXAYBVS3J5",
            "status": "success",
            "duration_ms": 4218,
            "cost_usd": 0.0382
        }),
    )
    .expect("the sample event is valid")
}

/// Signs the sample event for attempt 1 to `url`, as sent at `sent_at`.
fn signed_request(url: &str, sent_at: UnixMillis) -> SignedRequest {
    let key = SigningKey::new(receiver::SECRET);
    SignedRequest::build(&sample_event(), url, &key, 1, sent_at)
}
