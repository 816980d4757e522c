//! Building the requests a check sends, and rendering them as `curl` commands.

use crate::catalog::{BodySpec, ChangeAfterSigning, SignatureForm, TimestampForm, TimestampSpec};
use crate::ids::{IdGenerator, rfc3339_millis};
use delivery_core::request::{ATTEMPT_HEADER, EVENT_ID_HEADER, EVENT_TYPE_HEADER, USER_AGENT};
use delivery_core::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER};
use delivery_core::{Event, SignedRequest, SigningKey, UnixMillis};
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Sha256;
use std::sync::Arc;

/// A secret no receiver under test uses, for the wrong-secret check.
const WRONG_SECRET: &str = "ags_Y29uZm9ybWFuY2Utc3VpdGUtd3Jvbmctc2VjcmV0LTAwMQ";

/// Bodies longer than this are left out of `curl` commands.
const CURL_BODY_LIMIT: usize = 8 * 1024;

/// One HTTP request, ready to send.
#[derive(Debug, Clone, Serialize)]
pub struct PreparedRequest {
    /// The event id in the body, used for the probe.
    pub event_id: String,
    /// Header names and values in the order they are sent. `Content-Length` is not listed,
    /// because the HTTP client (and `curl`) derives it from the body.
    pub headers: Vec<(String, String)>,
    #[serde(skip)]
    pub body: Arc<[u8]>,
}

impl PreparedRequest {
    /// Returns the value of the first header with this name, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Renders a `curl` command that sends the same bytes. Only the request is shown: the
    /// endpoint secret appears nowhere in it.
    pub fn to_curl(&self, url: &str) -> String {
        let body_command = self.body_command();
        let mut command = String::new();
        if let Some(body_command) = &body_command {
            command.push_str(body_command);
            command.push_str(" | ");
        }
        command.push_str("curl -sS -i -X POST ");
        command.push_str(&shell_quote(url));
        for (name, value) in &self.headers {
            // curl sends `Name;` as a header with an empty value, and drops `Name:`.
            let header = if value.is_empty() {
                format!("{name};")
            } else {
                format!("{name}: {value}")
            };
            command.push_str(" -H ");
            command.push_str(&shell_quote(&header));
        }
        if body_command.is_some() {
            command.push_str(" --data-binary @-");
        } else {
            command.push_str(&format!(
                "  # incomplete: the {}-byte body is too long to show; rerun the check with --only and its id",
                self.body.len()
            ));
        }
        command
    }

    /// Returns a shell command that writes the body to stdout, or `None` when the body is
    /// too long to show.
    ///
    /// A body up to [`CURL_BODY_LIMIT`] bytes is written with one `printf`. A longer body
    /// whose bulk repeats one short ASCII unit, such as a padded event, is written as the
    /// text before the repeats, `yes UNIT | tr -d '\n' | head -c N`, and the text after.
    pub fn body_command(&self) -> Option<String> {
        let body = &self.body[..];
        if body.len() <= CURL_BODY_LIMIT {
            return Some(format!("printf '{}'", printf_format(body)));
        }
        let run = longest_repeat(body)?;
        let before = &body[..run.start];
        let after = &body[run.start + run.len..];
        if before.len() + after.len() > CURL_BODY_LIMIT {
            return None;
        }
        let unit = std::str::from_utf8(&body[run.start..run.start + run.period]).ok()?;
        // `yes` would read a unit that starts with `-` as an option.
        if unit.starts_with('-') {
            return None;
        }
        Some(format!(
            "{{ printf '{}'; yes {} | tr -d '\\n' | head -c {}; printf '{}'; }}",
            printf_format(before),
            shell_quote(unit),
            run.len,
            printf_format(after)
        ))
    }
}

/// A stretch of a body that repeats one unit: `len` bytes from `start`, each equal to the
/// byte `period` before it, after the first unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Repeat {
    start: usize,
    period: usize,
    len: usize,
}

/// Maximum length, in bytes, of the unit that [`longest_repeat`] looks for.
const MAX_REPEAT_UNIT: usize = 128;

/// Finds the longest stretch of `body` that repeats a unit of printable ASCII other than
/// `'` and `\\`, so the unit can be passed to `yes` in single quotes.
fn longest_repeat(body: &[u8]) -> Option<Repeat> {
    let mut best: Option<Repeat> = None;
    for period in 1..=MAX_REPEAT_UNIT.min(body.len() / 2) {
        let mut start = 0;
        for index in 0..=body.len() - period {
            let continues = index + period < body.len()
                && body[index] == body[index + period]
                && is_plain_unit_byte(body[index]);
            if continues {
                continue;
            }
            // body[start..index + period] repeats the unit body[start..start + period]. With
            // at least two units, the unit lies within body[start..index], whose bytes all
            // passed `is_plain_unit_byte`.
            let len = index + period - start;
            if len >= 2 * period && best.is_none_or(|best| len > best.len) {
                best = Some(Repeat { start, period, len });
            }
            start = index + 1;
        }
    }
    best
}

fn is_plain_unit_byte(byte: u8) -> bool {
    (0x20..0x7f).contains(&byte) && byte != b'\'' && byte != b'\\'
}

/// Builds requests with fresh event ids.
#[derive(Debug)]
pub struct RequestFactory {
    key: SigningKey,
    secret: String,
    ids: IdGenerator,
}

/// A body with its event id and type, before signing.
#[derive(Debug, Clone)]
pub struct EventBody {
    pub id: String,
    pub event_type: String,
    pub bytes: Arc<[u8]>,
}

impl RequestFactory {
    /// Builds a factory that signs with `secret` and draws ids from `ids`.
    pub fn new(secret: &str, ids: IdGenerator) -> RequestFactory {
        RequestFactory {
            key: SigningKey::new(secret),
            secret: secret.to_owned(),
            ids,
        }
    }

    /// Renders a body with a fresh event id.
    pub fn body(&mut self, spec: &BodySpec, now_millis: u64) -> EventBody {
        let id = self.ids.next_id();
        let created = rfc3339_millis(now_millis);
        let bytes: Vec<u8> = match spec {
            BodySpec::Sample => with_fresh_id(fixtures::published_sample(), &id),
            BodySpec::Fixture(event_type) => {
                let fixture = fixtures::events()
                    .iter()
                    .find(|fixture| fixture.event_type == event_type)
                    .expect("the catalog loader checks fixture names");
                with_fresh_id(fixture.body, &id)
            }
            BodySpec::Text(template) => template
                .replace("{{id}}", &id)
                .replace("{{created}}", &created)
                .into_bytes(),
            BodySpec::PaddedTo(size) => padded_body(&id, &created, *size),
        };
        let event_type = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|value| value.get("type")?.as_str().map(str::to_owned))
            .unwrap_or_default();
        EventBody {
            id,
            event_type,
            bytes: Arc::from(bytes),
        }
    }

    /// Builds a correctly signed request with the headers the production sender writes.
    pub fn signed(&self, body: &EventBody, timestamp_secs: u64) -> PreparedRequest {
        let headers = match Event::from_body(&body.bytes) {
            // Valid events go through the production request builder, so the suite sends
            // exactly what the sender sends.
            Ok(event) => {
                let built = SignedRequest::build(
                    &event,
                    "",
                    &self.key,
                    1,
                    UnixMillis(timestamp_secs as i64 * 1000),
                );
                built
                    .headers
                    .into_iter()
                    .filter(|(name, _)| !name.eq_ignore_ascii_case("Content-Length"))
                    .map(|(name, value)| (name.to_owned(), value))
                    .collect()
            }
            // Events of unknown types fail validation; their headers are written the same way.
            Err(_) => {
                let timestamp = timestamp_secs.to_string();
                let signature = self.hmac_hex(&self.secret, Some(&timestamp), &body.bytes);
                production_headers(body, timestamp, signature)
            }
        };
        PreparedRequest {
            event_id: body.id.clone(),
            headers,
            body: Arc::clone(&body.bytes),
        }
    }

    /// Builds a request with the timestamp and signature in the forms a check specifies.
    pub fn delivery(
        &self,
        body: &EventBody,
        now_millis: u64,
        timestamp: &TimestampSpec,
        signature: SignatureForm,
        change: Option<&ChangeAfterSigning>,
    ) -> PreparedRequest {
        let now_secs = now_millis / 1000;
        let shifted_secs = now_secs.saturating_add_signed(timestamp.offset_secs);

        // The text the signature covers, and the header value (None leaves the header out).
        let (signed_text, header): (String, Option<String>) = match timestamp.form {
            TimestampForm::Seconds => (shifted_secs.to_string(), Some(shifted_secs.to_string())),
            TimestampForm::Millis => {
                let millis = now_millis.saturating_add_signed(timestamp.offset_secs * 1000);
                (millis.to_string(), Some(millis.to_string()))
            }
            TimestampForm::Omitted => (String::new(), None),
            TimestampForm::Empty => (String::new(), Some(String::new())),
            TimestampForm::Literal => {
                let text = timestamp.text.clone().unwrap_or_default();
                (text.clone(), Some(text))
            }
        };

        let mut request = if timestamp.form == TimestampForm::Seconds {
            self.signed(body, shifted_secs)
        } else {
            let signature = self.hmac_hex(&self.secret, Some(&signed_text), &body.bytes);
            PreparedRequest {
                event_id: body.id.clone(),
                headers: production_headers(body, signed_text.clone(), signature),
                body: Arc::clone(&body.bytes),
            }
        };
        set_header(&mut request.headers, TIMESTAMP_HEADER, header);

        let correct = request
            .header(SIGNATURE_HEADER)
            .unwrap_or_default()
            .to_owned();
        let signature_value = match signature {
            SignatureForm::Valid => Some(correct),
            SignatureForm::Omitted => None,
            SignatureForm::Empty => Some(String::new()),
            SignatureForm::Truncated => Some(correct[..correct.len() / 2].to_owned()),
            SignatureForm::NonHex => Some("zq".repeat(32)),
            SignatureForm::Uppercase => Some(correct.to_ascii_uppercase()),
            SignatureForm::WrongSecret => {
                Some(self.hmac_hex(WRONG_SECRET, Some(&signed_text), &body.bytes))
            }
            SignatureForm::BodyOnly => Some(self.hmac_hex(&self.secret, None, &body.bytes)),
        };
        set_header(&mut request.headers, SIGNATURE_HEADER, signature_value);

        if let Some(change) = change {
            if let Some([from, to]) = &change.body_replace {
                let text = String::from_utf8_lossy(&request.body).replacen(from.as_str(), to, 1);
                request.body = Arc::from(text.into_bytes());
            }
            if let Some(offset) = change.timestamp_offset_secs {
                let moved = shifted_secs.saturating_add_signed(offset);
                set_header(
                    &mut request.headers,
                    TIMESTAMP_HEADER,
                    Some(moved.to_string()),
                );
            }
        }
        request
    }

    /// Computes the lowercase hex HMAC-SHA256 over `<timestamp>.<body>`, or over the body
    /// alone when `timestamp` is `None`.
    fn hmac_hex(&self, secret: &str, timestamp: Option<&str>, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .expect("HMAC accepts keys of any length");
        if let Some(timestamp) = timestamp {
            mac.update(timestamp.as_bytes());
            mac.update(b".");
        }
        mac.update(body);
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}

/// Lists the headers in the order [`SignedRequest::build`] writes them, without
/// `Content-Length`.
fn production_headers(
    body: &EventBody,
    timestamp: String,
    signature: String,
) -> Vec<(String, String)> {
    vec![
        ("Content-Type".to_owned(), "application/json".to_owned()),
        ("User-Agent".to_owned(), USER_AGENT.to_owned()),
        (EVENT_ID_HEADER.to_owned(), body.id.clone()),
        (EVENT_TYPE_HEADER.to_owned(), body.event_type.clone()),
        (ATTEMPT_HEADER.to_owned(), "1".to_owned()),
        (TIMESTAMP_HEADER.to_owned(), timestamp),
        (SIGNATURE_HEADER.to_owned(), signature),
    ]
}

/// Replaces the value of header `name`, or removes the header when `value` is `None`.
fn set_header(headers: &mut Vec<(String, String)>, name: &str, value: Option<String>) {
    match value {
        Some(value) => {
            if let Some(entry) = headers
                .iter_mut()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
            {
                entry.1 = value;
            } else {
                headers.push((name.to_owned(), value));
            }
        }
        None => headers.retain(|(key, _)| !key.eq_ignore_ascii_case(name)),
    }
}

/// Replaces the quoted id of a fixture body with `id`. Both are `evt_` plus 26 characters,
/// so every other byte stays where it was.
fn with_fresh_id(body: &[u8], id: &str) -> Vec<u8> {
    let old_id = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|value| value.get("id")?.as_str().map(str::to_owned))
        .expect("fixture bodies carry a string id");
    let text = std::str::from_utf8(body).expect("fixture bodies are UTF-8");
    text.replacen(&format!("\"{old_id}\""), &format!("\"{id}\""), 1)
        .into_bytes()
}

/// Builds a `workflow.run.completed` body of exactly `size` bytes by padding a string field.
fn padded_body(id: &str, created: &str, size: usize) -> Vec<u8> {
    let head = format!(
        "{{\"id\":\"{id}\",\"type\":\"workflow.run.completed\",\"created\":\"{created}\",\"workspace_id\":\"ws_main\",\"data\":{{\"workflow_id\":\"wf_publish\",\"run_id\":\"run_01HZ8PJYTM6N9X7QWXAYBVS3J5\",\"status\":\"success\",\"duration_ms\":4218,\"cost_usd\":0.0382,\"log_excerpt\":\""
    );
    let tail = "\"}}";
    let padding = size.saturating_sub(head.len() + tail.len());
    let mut body = Vec::with_capacity(size);
    body.extend_from_slice(head.as_bytes());
    // A repeating line of log text, so the body reads like a real event.
    let line = b"step st_draft: generated 1200 words; ";
    body.extend(line.iter().copied().cycle().take(padding));
    body.extend_from_slice(tail.as_bytes());
    body
}

/// Quotes a string for a POSIX shell.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Escapes bytes for use as a `printf` format inside single quotes: `%` and `\` are doubled,
/// control bytes become octal escapes, and UTF-8 text stays as it is.
fn printf_format(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '%' => out.push_str("%%"),
            '\\' => out.push_str(r"\\"),
            '\'' => out.push_str(r"'\''"),
            '\n' => out.push_str(r"\n"),
            '\r' => out.push_str(r"\r"),
            '\t' => out.push_str(r"\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\{:03o}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use delivery_core::VerifyError;

    const SECRET: &str = "ags_dGVzdC1zZWNyZXQtZm9yLWNvbmZvcm1hbmNlLXRlc3RzLTE";
    const NOW_MILLIS: u64 = 1_778_487_262_184;

    fn factory() -> RequestFactory {
        RequestFactory::new(SECRET, IdGenerator::new(NOW_MILLIS, 1))
    }

    fn verify(request: &PreparedRequest, now_secs: u64) -> Result<u64, VerifyError> {
        SigningKey::new(SECRET).verify(
            request.header(TIMESTAMP_HEADER),
            request.header(SIGNATURE_HEADER),
            &request.body,
            now_secs,
        )
    }

    #[test]
    fn signed_sample_verifies_and_names_event() {
        let mut factory = factory();
        let body = factory.body(&BodySpec::Sample, NOW_MILLIS);
        let request = factory.signed(&body, NOW_MILLIS / 1000);
        assert_eq!(verify(&request, NOW_MILLIS / 1000), Ok(NOW_MILLIS / 1000));
        assert_eq!(request.header(EVENT_ID_HEADER), Some(body.id.as_str()));
        assert_eq!(
            request.header(EVENT_TYPE_HEADER),
            Some("workflow.run.completed")
        );
        assert!(Event::from_body(&request.body).is_ok());
    }

    #[test]
    fn manual_headers_match_production_builder() {
        let mut factory = factory();
        let body = factory.body(&BodySpec::Sample, NOW_MILLIS);
        let timestamp = NOW_MILLIS / 1000;
        let production = factory.signed(&body, timestamp);
        let signature = factory.hmac_hex(SECRET, Some(&timestamp.to_string()), &body.bytes);
        let manual = production_headers(&body, timestamp.to_string(), signature);
        assert_eq!(production.headers, manual);
    }

    #[test]
    fn padded_body_has_exact_size_and_is_valid() {
        let mut factory = factory();
        let body = factory.body(
            &BodySpec::PaddedTo(delivery_core::MAX_BODY_BYTES),
            NOW_MILLIS,
        );
        assert_eq!(body.bytes.len(), delivery_core::MAX_BODY_BYTES);
        assert!(Event::from_body(&body.bytes).is_ok());
    }

    #[test]
    fn fixture_bodies_get_fresh_ids() {
        let mut factory = factory();
        for fixture in fixtures::events() {
            let body = factory.body(&BodySpec::Fixture(fixture.event_type.to_owned()), 0);
            let event = Event::from_body(&body.bytes).expect("fixture stays valid");
            assert_eq!(event.id, body.id);
            assert_eq!(body.bytes.len(), fixture.body.len());
        }
    }

    #[test]
    fn stale_timestamp_is_rejected_by_verifier() {
        let mut factory = factory();
        let body = factory.body(&BodySpec::Sample, NOW_MILLIS);
        let spec = TimestampSpec {
            offset_secs: -310,
            ..TimestampSpec::default()
        };
        let request = factory.delivery(&body, NOW_MILLIS, &spec, SignatureForm::Valid, None);
        assert_eq!(
            verify(&request, NOW_MILLIS / 1000),
            Err(VerifyError::Stale { age_secs: 310 })
        );
    }

    #[test]
    fn signature_forms_are_rejected_by_verifier() {
        let mut factory = factory();
        let body = factory.body(&BodySpec::Sample, NOW_MILLIS);
        let spec = TimestampSpec::default();
        let cases = [
            (SignatureForm::Omitted, "missing"),
            (SignatureForm::Empty, "missing"),
            (SignatureForm::Truncated, "malformed"),
            (SignatureForm::NonHex, "malformed"),
            (SignatureForm::Uppercase, "malformed"),
            (SignatureForm::WrongSecret, "mismatch"),
            (SignatureForm::BodyOnly, "mismatch"),
        ];
        for (form, kind) in cases {
            let request = factory.delivery(&body, NOW_MILLIS, &spec, form, None);
            let error = verify(&request, NOW_MILLIS / 1000).unwrap_err();
            assert_eq!(error.kind(), kind, "{form:?}");
        }
    }

    #[test]
    fn literal_timestamp_is_signed_as_written() {
        let mut factory = factory();
        let body = factory.body(&BodySpec::Sample, NOW_MILLIS);
        let spec = TimestampSpec {
            form: TimestampForm::Literal,
            text: Some("yesterday".to_owned()),
            ..TimestampSpec::default()
        };
        let request = factory.delivery(&body, NOW_MILLIS, &spec, SignatureForm::Valid, None);
        assert_eq!(request.header(TIMESTAMP_HEADER), Some("yesterday"));
        let expected = factory.hmac_hex(SECRET, Some("yesterday"), &body.bytes);
        assert_eq!(request.header(SIGNATURE_HEADER), Some(expected.as_str()));
    }

    #[test]
    fn curl_escapes_body_and_omits_secret() {
        let mut factory = factory();
        let body = factory.body(
            &BodySpec::Text("{\"id\":\"{{id}}\",\"q\":\"it's 100%\\\\\"}\r\n".to_owned()),
            NOW_MILLIS,
        );
        let request = factory.signed(&body, NOW_MILLIS / 1000);
        let curl = request.to_curl("http://127.0.0.1:9/hooks");
        assert!(curl.starts_with("printf '"), "{curl}");
        assert!(curl.contains(r"it'\''s 100%%\\\\"), "{curl}");
        assert!(curl.contains(r"\r\n' | curl"), "{curl}");
        assert!(!curl.contains(SECRET));
    }

    /// Runs a body command in `sh` and returns what it writes.
    fn run_body_command(command: &str) -> Vec<u8> {
        let output = std::process::Command::new("sh")
            .args(["-c", command])
            .output()
            .expect("sh runs");
        assert!(output.status.success(), "{command}");
        output.stdout
    }

    #[test]
    fn body_command_regenerates_padded_body() {
        let mut factory = factory();
        let body = factory.body(
            &BodySpec::PaddedTo(delivery_core::MAX_BODY_BYTES),
            NOW_MILLIS,
        );
        let request = factory.signed(&body, NOW_MILLIS / 1000);
        let command = request.body_command().expect("a padded body repeats");
        assert!(command.len() < 2 * 1024, "{command}");
        assert_eq!(run_body_command(&command), &body.bytes[..]);
        let curl = request.to_curl("http://127.0.0.1:9/hooks");
        assert!(curl.contains("| head -c "), "{curl}");
        assert!(curl.ends_with("--data-binary @-"), "{curl}");
    }

    #[test]
    fn body_command_prints_short_body() {
        let mut factory = factory();
        let body = factory.body(
            &BodySpec::Text("{\"id\":\"{{id}}\",\"q\":\"it's 100%\\\\\"}\r\n".to_owned()),
            NOW_MILLIS,
        );
        let request = factory.signed(&body, NOW_MILLIS / 1000);
        let command = request.body_command().unwrap();
        assert_eq!(run_body_command(&command), &body.bytes[..]);
    }

    #[test]
    fn long_body_without_repeats_is_not_shown() {
        let mut factory = factory();
        let body = factory.body(&BodySpec::Sample, NOW_MILLIS);
        let mut request = factory.signed(&body, NOW_MILLIS / 1000);
        // Bytes from a linear congruential generator, with no repeating stretch.
        let mut state: u32 = 1;
        let noise: Vec<u8> = (0..CURL_BODY_LIMIT * 2)
            .map(|_| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                b'a' + (state >> 16) as u8 % 26
            })
            .collect();
        request.body = Arc::from(noise);
        assert_eq!(request.body_command(), None);
        let curl = request.to_curl("http://127.0.0.1:9/hooks");
        assert!(curl.contains("too long to show"), "{curl}");
        assert!(!curl.contains("@body.json"), "{curl}");
    }

    #[test]
    fn curl_uses_semicolon_for_empty_header() {
        let mut factory = factory();
        let body = factory.body(&BodySpec::Sample, NOW_MILLIS);
        let request = factory.delivery(
            &body,
            NOW_MILLIS,
            &TimestampSpec::default(),
            SignatureForm::Empty,
            None,
        );
        assert!(
            request
                .to_curl("http://127.0.0.1:9/")
                .contains("-H 'Aresgen-Signature;'")
        );
    }
}
