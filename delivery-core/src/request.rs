//! The signed HTTP request that one attempt sends.

use crate::event::Event;
use crate::signature::{SIGNATURE_HEADER, SigningKey, TIMESTAMP_HEADER};
use crate::time::UnixMillis;
use std::sync::Arc;

/// Value of the `User-Agent` header: the sender's name and version.
pub const USER_AGENT: &str = concat!("AresGen-Webhooks/", env!("CARGO_PKG_VERSION"));
/// Header naming the event id, informational and unsigned.
pub const EVENT_ID_HEADER: &str = "Aresgen-Event-Id";
/// Header naming the event type, informational and unsigned.
pub const EVENT_TYPE_HEADER: &str = "Aresgen-Event-Type";
/// Header carrying the attempt number (1 to 24), informational and unsigned.
pub const ATTEMPT_HEADER: &str = "Aresgen-Attempt";

/// A fully built request: always a `POST` of the event's fixed body bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    pub url: String,
    /// Header names and values, in the order they are sent.
    pub headers: Vec<(&'static str, String)>,
    pub body: Arc<[u8]>,
}

impl SignedRequest {
    /// The HTTP method of every delivery.
    pub const METHOD: &'static str = "POST";

    /// Signs `event` for one attempt sent at `sent_at` and lists its headers.
    ///
    /// The signed timestamp is the send time in Unix seconds, never the event's `created` time,
    /// so a retry hours later still verifies within the receiver's tolerance.
    pub fn build(
        event: &Event,
        url: &str,
        key: &SigningKey,
        attempt: u32,
        sent_at: UnixMillis,
    ) -> SignedRequest {
        let timestamp = sent_at.as_unix_secs();
        let signature = key.sign(timestamp, &event.body);

        let headers = vec![
            ("Content-Type", "application/json".to_owned()),
            ("Content-Length", event.body.len().to_string()),
            ("User-Agent", USER_AGENT.to_owned()),
            (EVENT_ID_HEADER, event.id.clone()),
            (EVENT_TYPE_HEADER, event.event_type.as_str().to_owned()),
            (ATTEMPT_HEADER, attempt.to_string()),
            (TIMESTAMP_HEADER, timestamp.to_string()),
            (SIGNATURE_HEADER, signature.as_str().to_owned()),
        ];

        SignedRequest {
            url: url.to_owned(),
            headers,
            body: Arc::clone(&event.body),
        }
    }

    /// Returns the value of the first header named `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}
