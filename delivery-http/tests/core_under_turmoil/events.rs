//! Event bodies and endpoint configurations shared by the tests.

use delivery_core::{EndpointConfig, EndpointRef, Event, EventType};
use serde_json::json;

/// The workspace of every test event and endpoint.
pub const WORKSPACE: &str = "ws_main";

/// Returns the id of test event `index`: a valid ULID that sorts by index.
pub fn event_id(index: u32) -> String {
    format!("evt_01HZ8PJYTM6N9X7QWXAYBV{index:04}")
}

/// Returns the type of test event `index`, cycling through three groups.
pub fn event_type(index: u32) -> EventType {
    match index % 3 {
        0 => EventType::WorkflowRunCompleted,
        1 => EventType::ChatMessageCreated,
        _ => EventType::DocumentPublished,
    }
}

/// Builds the body of test event `index`.
pub fn event_body(index: u32) -> Vec<u8> {
    let event_type = event_type(index);
    let data = match event_type {
        EventType::WorkflowRunCompleted => json!({
            "workflow_id": "wf_publish",
            "run_id": format!("run_{index}"),
            "status": "success",
            "duration_ms": 4218,
            "cost_usd": 0.0382
        }),
        EventType::ChatMessageCreated => json!({
            "thread_id": "thr_1",
            "message_id": format!("msg_{index}"),
            "role": "assistant",
            "content": "Grüße, \"quoted\" and \u{1F600}",
            "model": "ares-large",
            "voice_id": "voice_brand"
        }),
        _ => json!({
            "document_id": format!("doc_{index}"),
            "published_at": "2026-05-11T08:14:22.184Z",
            "author": "usr_7",
            "project_id": "prj_launch"
        }),
    };
    let event = Event::build(
        &event_id(index),
        event_type,
        "2026-05-11T08:14:22.184Z",
        WORKSPACE,
        data,
    )
    .expect("test events are valid");
    event.body.to_vec()
}

/// Returns the index of a test event id, the inverse of [`event_id`].
pub fn event_index(id: &str) -> u32 {
    id.trim_start_matches("evt_01HZ8PJYTM6N9X7QWXAYBV")
        .parse()
        .unwrap_or_else(|_| panic!("{id:?} is not a test event id"))
}

/// Returns the signing secret of the endpoint on host `host`, different for each endpoint.
pub fn secret(host: &str) -> String {
    format!("ags_{host}-secret-0123456789abcdefghijklmnopqrstuvw")
}

/// Returns the endpoint named after its receiver host.
pub fn endpoint_ref(host: &str) -> EndpointRef {
    EndpointRef::new(WORKSPACE, format!("ep_{host}"))
}

/// Builds the configuration of an endpoint that posts to `url`.
pub fn endpoint(host: &str, url: String, filters: &[&str]) -> EndpointConfig {
    EndpointConfig {
        endpoint: endpoint_ref(host),
        url,
        secret: secret(host),
        filters: filters.iter().map(|filter| filter.to_string()).collect(),
    }
}
