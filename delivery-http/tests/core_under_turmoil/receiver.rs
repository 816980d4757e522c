//! A webhook receiver for the worker tests: an axum app that verifies each request's
//! signature on its own clock, records the arrival, and responds from a script of replies.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use delivery_core::request::{ATTEMPT_HEADER, EVENT_ID_HEADER};
use delivery_core::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER};
use delivery_core::{SigningKey, VerifyError};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The receiver's response to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// This status at once.
    Status(u16),
    /// This status after the delay.
    After(Duration, u16),
    /// A 200 head at once, then a body chunk every interval for this long.
    TrickleFor(Duration),
}

/// Interval between the chunks of a [`Reply::TrickleFor`] body.
pub const TRICKLE_INTERVAL: Duration = Duration::from_secs(1);

impl Reply {
    fn status(self) -> u16 {
        match self {
            Reply::Status(status) | Reply::After(_, status) => status,
            Reply::TrickleFor(_) => 200,
        }
    }
}

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub event_id: String,
    /// The `Aresgen-Attempt` header, or zero if it is missing.
    pub attempt: u32,
    pub body: Vec<u8>,
    /// The outcome of verifying the signature with the receiver's clock.
    pub verified: Result<u64, VerifyError>,
    /// When the request arrived, as the receiver's clock reads elapsed time.
    pub at: Duration,
    /// The status of the receiver's response, which a delayed reply sends later.
    pub status: u16,
}

/// The two readings a receiver takes: its wall clock in Unix seconds, and elapsed time for
/// the arrival log.
pub type ReceiverClock = Arc<dyn Fn() -> (u64, Duration) + Send + Sync>;

/// The receiver's state, shared by every clone and kept across host restarts.
#[derive(Clone)]
pub struct Receiver {
    key: SigningKey,
    clock: ReceiverClock,
    /// Replies for the next requests, in order, followed by `default_reply` once empty.
    script: Arc<Mutex<VecDeque<Reply>>>,
    default_reply: Reply,
    arrivals: Arc<Mutex<Vec<Arrival>>>,
}

impl Receiver {
    /// Builds a receiver that verifies with `secret`, responds with `script` and then with
    /// `default_reply`.
    pub fn new(
        secret: &str,
        clock: ReceiverClock,
        script: Vec<Reply>,
        default_reply: Reply,
    ) -> Receiver {
        Receiver {
            key: SigningKey::new(secret),
            clock,
            script: Arc::new(Mutex::new(script.into())),
            default_reply,
            arrivals: Arc::default(),
        }
    }

    /// Returns every request recorded so far, in arrival order.
    pub fn arrivals(&self) -> Vec<Arrival> {
        self.arrivals.lock().unwrap().clone()
    }

    /// Builds the axum app, which sends every path to one handler.
    pub fn router(&self) -> axum::Router {
        axum::Router::new()
            .fallback(handle)
            .with_state(self.clone())
    }

    fn next_reply(&self) -> Reply {
        self.script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(self.default_reply)
    }
}

/// Verifies, records, and responds with the next scripted reply, or 401 for a bad signature.
async fn handle(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let (now_secs, at) = (receiver.clock)();
    let verified = receiver.key.verify(
        header(TIMESTAMP_HEADER),
        header(SIGNATURE_HEADER),
        &body,
        now_secs,
    );

    let reply = if verified.is_ok() {
        receiver.next_reply()
    } else {
        Reply::Status(401)
    };
    receiver.arrivals.lock().unwrap().push(Arrival {
        event_id: header(EVENT_ID_HEADER).unwrap_or_default().to_owned(),
        attempt: header(ATTEMPT_HEADER)
            .and_then(|value| value.parse().ok())
            .unwrap_or(0),
        body: body.to_vec(),
        verified,
        at,
        status: reply.status(),
    });

    match reply {
        Reply::Status(status) => status_response(status),
        Reply::After(delay, status) => {
            tokio::time::sleep(delay).await;
            status_response(status)
        }
        Reply::TrickleFor(duration) => (StatusCode::OK, trickling_body(duration)).into_response(),
    }
}

fn status_response(status: u16) -> Response {
    let status = StatusCode::from_u16(status).expect("scripted statuses are valid");
    (status, "scripted reply").into_response()
}

/// Builds a body that sends one chunk at once and one more every [`TRICKLE_INTERVAL`] until
/// `duration` has passed.
fn trickling_body(duration: Duration) -> Body {
    let chunks = (duration.as_millis() / TRICKLE_INTERVAL.as_millis()) as u32;
    let stream = futures_util::stream::unfold(0u32, move |sent| async move {
        if sent > chunks {
            return None;
        }
        if sent > 0 {
            tokio::time::sleep(TRICKLE_INTERVAL).await;
        }
        Some((Ok::<_, Infallible>(Bytes::from_static(b"t")), sent + 1))
    });
    Body::from_stream(stream)
}
