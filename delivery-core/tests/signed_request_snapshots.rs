//! Snapshots of the request that `SignedRequest::build` makes for each fixture event and the
//! published sample, rendered as text: method and URL, the headers in send order, a blank line,
//! then the body. A change to a header, its order, the signature or the body bytes shows up as
//! a diff.
//!
//! To record changed snapshots, run the tests with `INSTA_UPDATE=always` and review the diff.

use delivery_core::{Event, SignedRequest, SigningKey, UnixMillis};

/// A test-only secret in the generated format: `ags_` and 43 base64url characters.
const TEST_SECRET: &str = "ags_dGVzdC1vbmx5IHNlY3JldCBmb3Igc25hcHNob3RzISE";
/// 2026-05-11T15:00:00.250Z, a send time after every fixture's `created` time.
const SENT_AT: UnixMillis = UnixMillis(1_778_511_600_250);
const URL: &str = "https://hooks.northwind.example/aresgen";

fn render(request: &SignedRequest) -> String {
    let mut text = format!("{} {}\n", SignedRequest::METHOD, request.url);
    for (name, value) in &request.headers {
        text.push_str(&format!("{name}: {value}\n"));
    }
    text.push('\n');
    text.push_str(std::str::from_utf8(&request.body).expect("fixture bodies are UTF-8"));
    text
}

fn build(body: &[u8], attempt: u32) -> SignedRequest {
    let event = Event::from_body(body).expect("fixture bodies are valid events");
    SignedRequest::build(&event, URL, &SigningKey::new(TEST_SECRET), attempt, SENT_AT)
}

#[test]
fn request_for_each_fixture_event() {
    for fixture in fixtures::events() {
        let request = build(fixture.body, 1);
        let name = format!("event_{}", fixture.event_type.replace('.', "_"));
        insta::assert_snapshot!(name, render(&request));
    }
}

#[test]
fn request_for_published_sample() {
    let request = build(fixtures::published_sample(), 1);
    insta::assert_snapshot!("published_sample", render(&request));
}

#[test]
fn request_for_published_sample_last_attempt() {
    let request = build(fixtures::published_sample(), 24);
    insta::assert_snapshot!("published_sample_attempt_24", render(&request));
}
