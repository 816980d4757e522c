//! A webhook receiver for tests: an axum app that verifies every request's signature, records
//! it, and responds according to the request path.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use delivery_core::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER};
use delivery_core::{SigningKey, VerifyError};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The endpoint secret that both the tests' sender and the receiver use.
pub const SECRET: &str = "ags_5Jm1mQnC6oY3bq0Hk8s2TtGx7vVwR4eLzN9pA1cD0fE";

/// `Retry-After` that `/unavailable-until` sends: 120 s after the simulation's epoch.
pub const RETRY_AFTER_DATE: &str = "Mon, 11 May 2026 08:16:20 GMT";

/// Size of each chunk that `/trickle` sends, in bytes.
pub const TRICKLE_CHUNK_BYTES: usize = 64;

/// Pause between the chunks that `/trickle` sends.
pub const TRICKLE_INTERVAL: Duration = Duration::from_secs(5);

/// How long `/slow` waits before it responds.
pub const SLOW_DELAY: Duration = Duration::from_secs(20);

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Hit {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The outcome of verifying the signature with the receiver's clock.
    pub verified: Result<u64, VerifyError>,
}

/// The receiver's shared state: its key, its clock and the requests it has seen.
#[derive(Clone)]
pub struct Receiver {
    key: SigningKey,
    /// Reads the receiver's wall clock in Unix seconds.
    now_secs: fn() -> u64,
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl Receiver {
    /// Builds a receiver that verifies with [`SECRET`] against the clock `now_secs`.
    pub fn new(now_secs: fn() -> u64) -> Receiver {
        Receiver {
            key: SigningKey::new(SECRET),
            now_secs,
            hits: Arc::default(),
        }
    }

    /// Returns a copy of every request recorded so far, in arrival order.
    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// Builds the axum app; every path goes to one handler.
    pub fn router(&self) -> axum::Router {
        axum::Router::new()
            .fallback(handle)
            .with_state(self.clone())
    }
}

/// Records the request, rejects a bad signature with 401, and responds by path:
///
/// - `/ok`: 200.
/// - `/server-error`: 500.
/// - `/redirect`: 301 to `/ok`.
/// - `/limited` and `/unavailable`: 429 and 503 with `Retry-After: 120`.
/// - `/unavailable-until`: 503 with `Retry-After` set to [`RETRY_AFTER_DATE`].
/// - `/slow`: 200 after [`SLOW_DELAY`].
/// - `/trickle`: 200, then a body chunk every [`TRICKLE_INTERVAL`] for ten minutes.
/// - `/large`: 200 with a 64 KiB body.
/// - anything else: 404.
async fn handle(
    State(receiver): State<Receiver>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header_value = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let verified = receiver.key.verify(
        header_value(TIMESTAMP_HEADER),
        header_value(SIGNATURE_HEADER),
        &body,
        (receiver.now_secs)(),
    );

    let path = uri.path().to_owned();
    receiver.hits.lock().unwrap().push(Hit {
        path: path.clone(),
        headers: headers.clone(),
        body: body.to_vec(),
        verified: verified.clone(),
    });
    if let Err(error) = verified {
        return (StatusCode::UNAUTHORIZED, error.to_string()).into_response();
    }

    match path.as_str() {
        "/ok" => (StatusCode::OK, "accepted").into_response(),
        "/server-error" => {
            (StatusCode::INTERNAL_SERVER_ERROR, "database unavailable").into_response()
        }
        "/redirect" => (
            StatusCode::MOVED_PERMANENTLY,
            [(header::LOCATION, "/ok")],
            "moved",
        )
            .into_response(),
        "/limited" => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "120")],
            "slow down",
        )
            .into_response(),
        "/unavailable" => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "120")],
            "maintenance",
        )
            .into_response(),
        "/unavailable-until" => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, RETRY_AFTER_DATE)],
            "maintenance",
        )
            .into_response(),
        "/slow" => {
            tokio::time::sleep(SLOW_DELAY).await;
            (StatusCode::OK, "accepted late").into_response()
        }
        "/trickle" => (StatusCode::OK, trickling_body()).into_response(),
        "/large" => (StatusCode::OK, vec![b'L'; 64 * 1024]).into_response(),
        _ => (StatusCode::NOT_FOUND, "no such hook").into_response(),
    }
}

/// Builds a body that sends one chunk at once and then one more every [`TRICKLE_INTERVAL`],
/// for 120 chunks in all.
fn trickling_body() -> Body {
    let chunks = futures_util::stream::unfold(0u32, |sent| async move {
        if sent == 120 {
            return None;
        }
        if sent > 0 {
            tokio::time::sleep(TRICKLE_INTERVAL).await;
        }
        let chunk = Bytes::from(vec![b't'; TRICKLE_CHUNK_BYTES]);
        Some((Ok::<_, Infallible>(chunk), sent + 1))
    });
    Body::from_stream(chunks)
}
