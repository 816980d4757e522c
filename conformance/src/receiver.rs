//! The reference receiver: a webhook endpoint built the way the docs recommend.
//!
//! - It reads the raw body bytes and verifies them with [`SigningKey::verify`], which
//!   compares in constant time and enforces the ±300 s timestamp tolerance. The body is
//!   parsed only after it verified, and never re-serialized.
//! - Every bad signature or timestamp gets a 4xx; malformed input never gets a 5xx.
//! - It deduplicates on the event id in the signed body, with one lock around the check and
//!   the insert, so concurrent copies are applied once.
//! - It responds as soon as the event is queued, and a worker task does the slow work later.
//! - It accepts unknown event types and unknown fields.
//! - GET `/probe/{event_id}` returns `{"applied": N}`, the idempotency probe the conformance
//!   suite reads with `--probe-url`.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use delivery_core::request::ATTEMPT_HEADER;
use delivery_core::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER};
use delivery_core::{MAX_BODY_BYTES, SigningKey, VerifyError};
use serde::Deserialize;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// Path that receives deliveries.
pub const DELIVERY_PATH: &str = "/webhooks";
/// Path prefix of the idempotency probe.
pub const PROBE_PATH: &str = "/probe";
/// Accepted events that may wait for the worker before new ones get a 503.
const QUEUE_CAPACITY: usize = 1024;

/// Event ids seen so far and how often each was applied.
///
/// NOTE: the store lives in memory and grows with every new event. A production receiver
/// keeps ids for at least as long as events can be replayed, in a durable store with a
/// unique constraint on the id.
#[derive(Debug, Clone, Default)]
pub struct DedupeStore {
    applied: Arc<Mutex<HashMap<String, u64>>>,
}

impl DedupeStore {
    /// Records the event as applied and returns `true` the first time an id is seen. The
    /// check and the insert happen under one lock, so of several concurrent copies exactly
    /// one gets `true`.
    pub fn first_delivery(&self, event_id: &str) -> bool {
        let mut applied = self.applied.lock().expect("dedupe store lock");
        match applied.entry(event_id.to_owned()) {
            Entry::Vacant(entry) => {
                entry.insert(1);
                true
            }
            Entry::Occupied(_) => false,
        }
    }

    /// Counts one more application of the event, whether or not it was seen before. Only
    /// faulty receivers use this.
    pub fn apply_again(&self, event_id: &str) {
        *self
            .applied
            .lock()
            .expect("dedupe store lock")
            .entry(event_id.to_owned())
            .or_insert(0) += 1;
    }

    /// Returns how many times the event was applied.
    pub fn applied(&self, event_id: &str) -> u64 {
        self.applied
            .lock()
            .expect("dedupe store lock")
            .get(event_id)
            .copied()
            .unwrap_or(0)
    }
}

/// The part of the envelope the receiver needs; serde ignores every other field.
#[derive(Debug, Deserialize)]
pub struct Envelope {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
}

/// An event handed to the worker after the receiver responded.
#[derive(Debug)]
struct AcceptedEvent {
    id: String,
    event_type: String,
    body: axum::body::Bytes,
}

#[derive(Clone)]
struct ReceiverState {
    key: SigningKey,
    store: DedupeStore,
    queue: mpsc::Sender<AcceptedEvent>,
}

/// Builds the reference receiver's routes and starts its worker task. Call it inside a
/// Tokio runtime.
pub fn router(secret: &str) -> Router {
    router_with_key(SigningKey::new(secret))
}

/// Builds the reference receiver's routes for a key built by the caller, as [`router`] does.
pub fn router_with_key(key: SigningKey) -> Router {
    let (queue, events) = mpsc::channel(QUEUE_CAPACITY);
    tokio::spawn(process_events(events));
    let state = ReceiverState {
        key,
        store: DedupeStore::default(),
        queue,
    };
    Router::new()
        .route(DELIVERY_PATH, post(receive_delivery))
        .route(&format!("{PROBE_PATH}/{{event_id}}"), get(read_probe))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Does the slow work for each accepted event, after the sender got its response.
async fn process_events(mut events: mpsc::Receiver<AcceptedEvent>) {
    while let Some(event) = events.recv().await {
        tracing::info!(
            event_id = %event.id,
            event_type = %event.event_type,
            bytes = event.body.len(),
            "processed event"
        );
    }
}

async fn receive_delivery(
    State(state): State<ReceiverState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let attempt = header_text(&headers, ATTEMPT_HEADER)
        .and_then(Result::ok)
        .unwrap_or_default();
    let (Ok(timestamp), Ok(signature)) = (
        header_text(&headers, TIMESTAMP_HEADER).transpose(),
        header_text(&headers, SIGNATURE_HEADER).transpose(),
    ) else {
        tracing::warn!("rejected delivery: a signing header is not visible ASCII");
        return reject(
            StatusCode::BAD_REQUEST,
            "malformed",
            "Aresgen-Timestamp and Aresgen-Signature must be visible ASCII",
        );
    };

    let now_secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    if let Err(error) = state.key.verify(timestamp, signature, &body, now_secs) {
        tracing::warn!(kind = error.kind(), %error, "rejected delivery");
        return reject(status_for(&error), error.kind(), &error.to_string());
    }

    // The body verified, so its id can be trusted; the Aresgen-Event-Id header is not signed.
    let envelope: Envelope = match serde_json::from_slice(&body) {
        Ok(envelope) => envelope,
        Err(error) => {
            tracing::warn!(%error, "rejected delivery: the signed body is not an event envelope");
            return reject(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                "the body is not a JSON object with string `id` and `type`",
            );
        }
    };

    // Reserve queue space before recording the id, so a 503 never loses an event: the
    // sender retries, and the retry is not mistaken for a duplicate.
    let Ok(permit) = state.queue.try_reserve() else {
        tracing::warn!(event_id = %envelope.id, "queue full; asking the sender to retry");
        let mut response = reject(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "the receiver's queue is full; retry later",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return response;
    };

    if !state.store.first_delivery(&envelope.id) {
        tracing::info!(event_id = %envelope.id, event_type = %envelope.event_type, attempt, "acknowledged duplicate delivery");
        return acknowledge("duplicate");
    }
    tracing::info!(event_id = %envelope.id, event_type = %envelope.event_type, attempt, "accepted delivery");
    permit.send(AcceptedEvent {
        id: envelope.id,
        event_type: envelope.event_type,
        body,
    });
    acknowledge("accepted")
}

async fn read_probe(
    State(state): State<ReceiverState>,
    Path(event_id): Path<String>,
) -> impl IntoResponse {
    probe_response(&state.store, &event_id)
}

/// Builds the probe's `{"event_id": ..., "applied": N}` answer.
pub fn probe_response(store: &DedupeStore, event_id: &str) -> Response {
    axum::Json(serde_json::json!({
        "event_id": event_id,
        "applied": store.applied(event_id),
    }))
    .into_response()
}

/// Returns the header's value as text: `None` when absent, `Some(Err)` when it is not
/// visible ASCII.
pub fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<Result<&'a str, ()>> {
    headers
        .get(name)
        .map(|value| value.to_str().map_err(|_| ()))
}

/// Maps a verification failure to its status: 400 for missing or malformed headers, 401 for
/// a signature that does not match or a timestamp outside the tolerance.
pub fn status_for(error: &VerifyError) -> StatusCode {
    match error {
        VerifyError::MissingTimestamp
        | VerifyError::MalformedTimestamp { .. }
        | VerifyError::MissingSignature
        | VerifyError::MalformedSignature { .. } => StatusCode::BAD_REQUEST,
        VerifyError::Mismatch | VerifyError::Stale { .. } | VerifyError::Future { .. } => {
            StatusCode::UNAUTHORIZED
        }
    }
}

/// Builds a JSON error answer.
pub fn reject(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({ "error": kind, "message": message })),
    )
        .into_response()
}

/// Builds the 200 answer for an accepted or duplicate delivery.
pub fn acknowledge(status: &str) -> Response {
    (
        StatusCode::OK,
        axum::Json(serde_json::json!({ "status": status })),
    )
        .into_response()
}
