//! Deliberately faulty receivers, one per common mistake, for the suite's own tests.
//!
//! Each receiver behaves like the reference receiver except for its one mistake, so a test
//! can check that the suite fails exactly the checks that mistake should fail.

use crate::receiver::{
    DedupeStore, Envelope, PROBE_PATH, acknowledge, header_text, probe_response, reject, status_for,
};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use delivery_core::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER, TOLERANCE_SECS};
use delivery_core::{EventType, MAX_BODY_BYTES, SigningKey};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The event type the slow receiver processes before it responds.
pub const SLOW_EVENT_TYPE: &str = "voice.trained";

/// One mistake a receiver can make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Verifies the HMAC over the timestamp header as written but never checks its age, like
    /// the published receiver sample. A missing header counts as empty.
    NoTimestampCheck,
    /// Parses the body and verifies the HMAC over a re-serialization written the way
    /// JavaScript's `JSON.stringify` writes it.
    Reserializes,
    /// Skips verification when the signature header is missing.
    AcceptsUnsigned,
    /// Guesses the timestamp's unit: values above 10^11 are read as milliseconds.
    GuessesMilliseconds,
    /// Responds to a repeated event id with 409 Conflict.
    ConflictOnDuplicate,
    /// Retrains synchronously before answering a `voice.trained` event, taking `delay`.
    SlowForType { delay: Duration },
    /// Responds to a repeated event id with 303 See Other pointing at the stored event.
    RedirectsDuplicates,
    /// Decodes the signature with a case-insensitive hex decoder and answers 500 when
    /// decoding fails.
    ServerErrorOnMalformedSignature,
    /// Answers an unknown event type with 422.
    RejectsUnknownTypes,
    /// Answers every delivery with 401.
    RejectsEverything,
    /// Deduplicates with a check, an await and then an insert, so concurrent copies are all
    /// applied.
    RacyDedupe,
}

/// A receiver serving on a loopback port until dropped.
#[derive(Debug)]
pub struct TestReceiver {
    pub addr: SocketAddr,
    handle: JoinHandle<()>,
}

impl TestReceiver {
    /// Returns the delivery URL.
    pub fn url(&self) -> String {
        format!("http://{}{}", self.addr, crate::receiver::DELIVERY_PATH)
    }

    /// Returns the base URL of the idempotency probe.
    pub fn probe_url(&self) -> String {
        format!("http://{}{}", self.addr, PROBE_PATH)
    }
}

impl Drop for TestReceiver {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// Serves the reference receiver (`fault` is `None`) or a faulty one on 127.0.0.1 with a
/// free port. Call it inside a Tokio runtime.
pub async fn spawn(fault: Option<Fault>, secret: &str) -> TestReceiver {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("bound address");
    let app = match fault {
        None => crate::receiver::router(secret),
        Some(fault) => router(fault, secret),
    };
    let handle = tokio::spawn(async move {
        axum::serve(listener, app)
            .await
            .expect("test receiver serves");
    });
    TestReceiver { addr, handle }
}

#[derive(Clone)]
struct FaultyState {
    fault: Fault,
    secret: String,
    store: DedupeStore,
}

/// Builds the routes of a receiver with one mistake.
pub fn router(fault: Fault, secret: &str) -> Router {
    let state = FaultyState {
        fault,
        secret: secret.to_owned(),
        store: DedupeStore::default(),
    };
    Router::new()
        .route(crate::receiver::DELIVERY_PATH, post(receive))
        .route(&format!("{PROBE_PATH}/{{event_id}}"), get(probe))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn probe(State(state): State<FaultyState>, Path(event_id): Path<String>) -> Response {
    probe_response(&state.store, &event_id)
}

async fn receive(
    State(state): State<FaultyState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if state.fault == Fault::RejectsEverything {
        return reject(StatusCode::UNAUTHORIZED, "mismatch", "rejected");
    }
    let (Ok(timestamp), Ok(signature)) = (
        header_text(&headers, TIMESTAMP_HEADER).transpose(),
        header_text(&headers, SIGNATURE_HEADER).transpose(),
    ) else {
        return reject(StatusCode::BAD_REQUEST, "malformed", "non-ASCII header");
    };

    if let Err(response) = verify(&state, timestamp, signature, &body) {
        return *response;
    }

    let Ok(envelope) = serde_json::from_slice::<Envelope>(&body) else {
        return reject(StatusCode::BAD_REQUEST, "invalid_body", "not an envelope");
    };
    if state.fault == Fault::RejectsUnknownTypes && EventType::parse(&envelope.event_type).is_none()
    {
        return reject(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_type",
            "unknown event type",
        );
    }
    if let Fault::SlowForType { delay } = state.fault
        && envelope.event_type == SLOW_EVENT_TYPE
    {
        tokio::time::sleep(delay).await;
    }

    let first = if state.fault == Fault::RacyDedupe {
        let seen = state.store.applied(&envelope.id) > 0;
        // Stands in for a database round trip between the lookup and the insert.
        tokio::time::sleep(Duration::from_millis(50)).await;
        if !seen {
            state.store.apply_again(&envelope.id);
        }
        !seen
    } else {
        state.store.first_delivery(&envelope.id)
    };
    if first {
        return acknowledge("accepted");
    }
    match state.fault {
        Fault::ConflictOnDuplicate => {
            reject(StatusCode::CONFLICT, "duplicate", "event already received")
        }
        Fault::RedirectsDuplicates => {
            let mut response = acknowledge("duplicate");
            *response.status_mut() = StatusCode::SEE_OTHER;
            let location = format!("/events/{}", envelope.id);
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, value);
            }
            response
        }
        _ => acknowledge("duplicate"),
    }
}

fn verify(
    state: &FaultyState,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
) -> Result<(), Box<Response>> {
    let now_secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let key = SigningKey::new(&state.secret);
    let unauthorized = || {
        Box::new(reject(
            StatusCode::UNAUTHORIZED,
            "mismatch",
            "signature mismatch",
        ))
    };
    let bad_timestamp = || {
        Box::new(reject(
            StatusCode::BAD_REQUEST,
            "malformed",
            "bad timestamp",
        ))
    };

    match state.fault {
        Fault::AcceptsUnsigned if signature.is_none() => Ok(()),
        Fault::NoTimestampCheck => {
            let expected = hmac_hex(&state.secret, timestamp.unwrap_or_default(), body);
            if signature == Some(expected.as_str()) {
                Ok(())
            } else {
                Err(unauthorized())
            }
        }
        Fault::Reserializes => {
            let rewritten = js_stringify(body)
                .map_err(|_| reject(StatusCode::BAD_REQUEST, "invalid_body", "body is not JSON"))?;
            key.verify(timestamp, signature, &rewritten, now_secs)
                .map(|_| ())
                .map_err(|error| {
                    Box::new(reject(status_for(&error), error.kind(), &error.to_string()))
                })
        }
        Fault::GuessesMilliseconds => {
            let text = timestamp.ok_or_else(bad_timestamp)?;
            let value: u64 = text.parse().map_err(|_| bad_timestamp())?;
            if signature != Some(hmac_hex(&state.secret, text, body).as_str()) {
                return Err(unauthorized());
            }
            let secs = if value > 100_000_000_000 {
                value / 1000
            } else {
                value
            };
            within_tolerance(secs, now_secs).ok_or_else(unauthorized)
        }
        Fault::ServerErrorOnMalformedSignature => {
            let text = timestamp.ok_or_else(bad_timestamp)?;
            let value: u64 = text.parse().map_err(|_| bad_timestamp())?;
            let signature = signature.ok_or_else(unauthorized)?;
            let Some(decoded) = decode_hex_any_case(signature) else {
                return Err(Box::new(reject(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal server error",
                )));
            };
            let mut mac = Hmac::<Sha256>::new_from_slice(state.secret.as_bytes())
                .expect("HMAC accepts keys of any length");
            mac.update(format!("{text}.").as_bytes());
            mac.update(body);
            mac.verify_slice(&decoded).map_err(|_| unauthorized())?;
            within_tolerance(value, now_secs).ok_or_else(unauthorized)
        }
        _ => key
            .verify(timestamp, signature, body, now_secs)
            .map(|_| ())
            .map_err(|error| {
                Box::new(reject(status_for(&error), error.kind(), &error.to_string()))
            }),
    }
}

fn within_tolerance(timestamp: u64, now_secs: u64) -> Option<()> {
    (timestamp.abs_diff(now_secs) <= TOLERANCE_SECS).then_some(())
}

fn hmac_hex(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Decodes hex of any case and any even length, like common hex crates do.
fn decode_hex_any_case(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes()
        .chunks_exact(2)
        .map(|pair| {
            let high = (pair[0] as char).to_digit(16)?;
            let low = (pair[1] as char).to_digit(16)?;
            Some((high * 16 + low) as u8)
        })
        .collect()
}

/// A JSON value that keeps the order of object keys, as JavaScript objects do.
#[derive(Debug)]
enum Json {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

/// Parses `body` and writes it back the way `JSON.stringify` does: compact, keys in their
/// original order, `/` and non-ASCII unescaped, numbers in their shortest form.
fn js_stringify(body: &[u8]) -> Result<Vec<u8>, ()> {
    let text = std::str::from_utf8(body).map_err(|_| ())?;
    let mut parser = Parser {
        text: text.as_bytes(),
        position: 0,
    };
    let value = parser.value()?;
    parser.skip_whitespace();
    if parser.position != parser.text.len() {
        return Err(());
    }
    let mut out = String::new();
    write_json(&value, &mut out);
    Ok(out.into_bytes())
}

struct Parser<'a> {
    text: &'a [u8],
    position: usize,
}

impl Parser<'_> {
    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.position += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.position).copied()
    }

    fn expect(&mut self, byte: u8) -> Result<(), ()> {
        self.skip_whitespace();
        if self.peek() == Some(byte) {
            self.position += 1;
            Ok(())
        } else {
            Err(())
        }
    }

    fn value(&mut self) -> Result<Json, ()> {
        self.skip_whitespace();
        match self.peek().ok_or(())? {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => self.string().map(Json::String),
            b't' => self.literal("true", Json::Bool(true)),
            b'f' => self.literal("false", Json::Bool(false)),
            b'n' => self.literal("null", Json::Null),
            _ => self.number(),
        }
    }

    fn literal(&mut self, word: &str, value: Json) -> Result<Json, ()> {
        if self.text[self.position..].starts_with(word.as_bytes()) {
            self.position += word.len();
            Ok(value)
        } else {
            Err(())
        }
    }

    fn object(&mut self) -> Result<Json, ()> {
        self.expect(b'{')?;
        let mut entries = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.position += 1;
            return Ok(Json::Object(entries));
        }
        loop {
            self.skip_whitespace();
            let key = self.string()?;
            self.expect(b':')?;
            entries.push((key, self.value()?));
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.position += 1,
                Some(b'}') => {
                    self.position += 1;
                    return Ok(Json::Object(entries));
                }
                _ => return Err(()),
            }
        }
    }

    fn array(&mut self) -> Result<Json, ()> {
        self.expect(b'[')?;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.position += 1;
            return Ok(Json::Array(items));
        }
        loop {
            items.push(self.value()?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.position += 1,
                Some(b']') => {
                    self.position += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(()),
            }
        }
    }

    fn number(&mut self) -> Result<Json, ()> {
        let start = self.position;
        while matches!(
            self.peek(),
            Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
        ) {
            self.position += 1;
        }
        let text = std::str::from_utf8(&self.text[start..self.position]).map_err(|_| ())?;
        text.parse().map(Json::Number).map_err(|_| ())
    }

    fn string(&mut self) -> Result<String, ()> {
        if self.peek() != Some(b'"') {
            return Err(());
        }
        self.position += 1;
        let mut units: Vec<u16> = Vec::new();
        let mut out = String::new();
        loop {
            let byte = self.peek().ok_or(())?;
            if byte != b'\\' && !units.is_empty() {
                out.push_str(&String::from_utf16(&units).map_err(|_| ())?);
                units.clear();
            }
            match byte {
                b'"' => {
                    self.position += 1;
                    return Ok(out);
                }
                b'\\' => {
                    let escape = *self.text.get(self.position + 1).ok_or(())?;
                    self.position += 2;
                    let simple = match escape {
                        b'"' => Some('"'),
                        b'\\' => Some('\\'),
                        b'/' => Some('/'),
                        b'b' => Some('\u{8}'),
                        b'f' => Some('\u{c}'),
                        b'n' => Some('\n'),
                        b'r' => Some('\r'),
                        b't' => Some('\t'),
                        b'u' => None,
                        _ => return Err(()),
                    };
                    match simple {
                        Some(character) => {
                            if !units.is_empty() {
                                out.push_str(&String::from_utf16(&units).map_err(|_| ())?);
                                units.clear();
                            }
                            out.push(character);
                        }
                        None => {
                            let digits =
                                self.text.get(self.position..self.position + 4).ok_or(())?;
                            let digits = std::str::from_utf8(digits).map_err(|_| ())?;
                            units.push(u16::from_str_radix(digits, 16).map_err(|_| ())?);
                            self.position += 4;
                        }
                    }
                }
                _ => {
                    // Copy one UTF-8 character as it is.
                    let rest = std::str::from_utf8(&self.text[self.position..]).map_err(|_| ())?;
                    let character = rest.chars().next().ok_or(())?;
                    out.push(character);
                    self.position += character.len_utf8();
                }
            }
        }
    }
}

fn write_json(value: &Json, out: &mut String) {
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Json::Number(number) => {
            if number.fract() == 0.0 && number.abs() < 1e21 {
                out.push_str(&format!("{}", *number as i128));
            } else {
                out.push_str(&format!("{number}"));
            }
        }
        Json::String(text) => write_string(text, out),
        Json::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_json(item, out);
            }
            out.push(']');
        }
        Json::Object(entries) => {
            out.push('{');
            for (index, (key, item)) in entries.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_json(item, out);
            }
            out.push('}');
        }
    }
}

fn write_string(text: &str, out: &mut String) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn js_stringify_keeps_compact_bodies() {
        for fixture in fixtures::events() {
            assert_eq!(
                js_stringify(fixture.body).unwrap(),
                fixture.body,
                "{}",
                fixture.event_type
            );
        }
    }

    #[test]
    fn js_stringify_rewrites_other_spellings() {
        let cases: [(&str, &str); 5] = [
            (r#"{"a":"caf\u00e9"}"#, "{\"a\":\"café\"}"),
            (r#"{"a":"https:\/\/x"}"#, r#"{"a":"https://x"}"#),
            ("{ \"a\" : 1 }\n", r#"{"a":1}"#),
            (r#"{"a":4.218e3,"b":0.03820}"#, r#"{"a":4218,"b":0.0382}"#),
            (r#"{"a":"\ud83d\ude80"}"#, "{\"a\":\"🚀\"}"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                String::from_utf8(js_stringify(input.as_bytes()).unwrap()).unwrap(),
                expected
            );
        }
    }
}
