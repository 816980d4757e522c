//! One delivery attempt: connect, send the signed request, read the status and an excerpt.

use crate::classify::classify_hyper_error;
use crate::clock::Clock;
use crate::connector::Connector;
use crate::target::Target;
use bytes::Bytes;
use delivery_core::outcome::EXCERPT_BYTES;
use delivery_core::request::{ATTEMPT_HEADER, EVENT_ID_HEADER};
use delivery_core::{AttemptResult, Millis, SignedRequest, TransportError, UnixMillis};
use http::header::{CONNECTION, HOST, RETRY_AFTER};
use http::{Method, Request, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tokio::time::Instant;
use tracing::debug;

/// The attempt timeout the contract sets by default: 15 seconds.
pub const DEFAULT_ATTEMPT_TIMEOUT: Millis = Millis::from_secs(15);

/// Sends one attempt of `request` and returns its result with its measured duration.
///
/// The request is an HTTP/1.1 `POST` of the exact body bytes, with a `Host` header built from
/// the URL, then the request's headers in their order, then `Connection: close`. Header names
/// are written in title case, as the request spells them. Every attempt opens its own
/// connection, and a 3xx is reported as its status and never followed.
///
/// `timeout` bounds the whole attempt: connecting, writing the request, reading the status
/// line and headers, and reading the body excerpt.
///
/// - No status line by the deadline: [`TransportError::Timeout`].
/// - A status line in time: a [`AttemptResult::Response`] with that status, whatever happens
///   to the body afterwards. The body is read until it ends, until [`EXCERPT_BYTES`] bytes
///   have arrived, until it fails or until the deadline, whichever comes first, and the
///   excerpt holds what arrived. So a 2xx whose body is still trickling in at the deadline
///   counts as success: the receiver has already accepted the delivery, and retrying it
///   would only send a duplicate.
///
/// `Retry-After` is parsed against `clock`'s wall time when the response head arrived. The
/// returned duration is the difference of `clock`'s monotonic readings before and after the
/// attempt. The timeout itself runs on tokio's timer, which turmoil simulates.
///
/// Never panics on network input. The returned future is `Send`, so a driver can spawn one
/// attempt per endpoint and run them concurrently.
pub async fn send_attempt<C, K>(
    connector: &C,
    request: &SignedRequest,
    timeout: Millis,
    clock: &K,
) -> (AttemptResult, Millis)
where
    C: Connector,
    K: Clock + ?Sized,
{
    let started = clock.now().monotonic;
    let result = run_attempt(connector, request, timeout, clock).await;
    let elapsed = clock.now().monotonic.saturating_sub(started);
    (result, elapsed)
}

/// The parts of a response head that the result needs.
struct ResponseHead {
    status: u16,
    retry_after: Option<String>,
    /// The wall time at which the head arrived, for an HTTP-date `Retry-After`.
    received_at: UnixMillis,
}

/// The response data one exchange has received so far.
///
/// It outlives the exchange's future, so a deadline that cancels the future keeps the status
/// and the partial excerpt.
#[derive(Default)]
struct Received {
    head: Option<ResponseHead>,
    excerpt: Vec<u8>,
}

impl Received {
    /// Builds the result from the head if one arrived, and from `failure` otherwise.
    fn into_result(self, failure: TransportError) -> AttemptResult {
        match self.head {
            Some(head) => AttemptResult::from_response(
                head.status,
                head.retry_after.as_deref(),
                &self.excerpt,
                head.received_at,
            ),
            None => AttemptResult::Transport(failure),
        }
    }
}

async fn run_attempt<C, K>(
    connector: &C,
    request: &SignedRequest,
    timeout: Millis,
    clock: &K,
) -> AttemptResult
where
    C: Connector,
    K: Clock + ?Sized,
{
    let event_id = request.header(EVENT_ID_HEADER).unwrap_or_default();
    let attempt = request.header(ATTEMPT_HEADER).unwrap_or_default();

    let target = match Target::parse(&request.url) {
        Ok(target) => target,
        Err(error) => {
            debug!(%event_id, %attempt, %error, "attempt not sent: invalid endpoint URL");
            return AttemptResult::Transport(TransportError::Other);
        }
    };
    let http_request = match build_http_request(request, &target) {
        Ok(http_request) => http_request,
        Err(error) => {
            debug!(%event_id, %attempt, %error, "attempt not sent: invalid request header");
            return AttemptResult::Transport(TransportError::Other);
        }
    };

    let deadline = Instant::now() + Duration::from_millis(timeout.as_u64());
    let mut received = Received::default();
    let exchange = exchange(connector, &target, http_request, clock, &mut received);
    let failure = match tokio::time::timeout_at(deadline, exchange).await {
        // The exchange returns `Ok` only after storing the head, so this kind is never used.
        Ok(Ok(())) => TransportError::Other,
        Ok(Err(kind)) => kind,
        Err(_elapsed) => TransportError::Timeout,
    };

    if received.head.is_none() {
        debug!(%event_id, %attempt, host = %target.host, error = %failure, "attempt failed");
    }
    received.into_result(failure)
}

/// Builds the HTTP/1.1 request: `Host`, then the signed request's headers in order, then
/// `Connection: close`.
fn build_http_request(
    request: &SignedRequest,
    target: &Target,
) -> Result<Request<Full<Bytes>>, http::Error> {
    let method = Method::from_bytes(SignedRequest::METHOD.as_bytes())?;
    let mut builder = Request::builder()
        .method(method)
        .uri(target.path_and_query.as_str())
        .version(Version::HTTP_11);

    if request.header(HOST.as_str()).is_none() {
        builder = builder.header(HOST, target.host_header.as_str());
    }
    for (name, value) in &request.headers {
        builder = builder.header(*name, value.as_str());
    }
    builder = builder.header(CONNECTION, "close");

    // The body shares the request's buffer, so the exact signed bytes are sent uncopied.
    let body = Bytes::from_owner(request.body.clone());
    builder.body(Full::new(body))
}

/// Connects, sends the request and fills `received`. Returns the kind of the failure that
/// ended the exchange before a status line, or `Ok` once the head and excerpt are in.
async fn exchange<C, K>(
    connector: &C,
    target: &Target,
    http_request: Request<Full<Bytes>>,
    clock: &K,
    received: &mut Received,
) -> Result<(), TransportError>
where
    C: Connector,
    K: Clock + ?Sized,
{
    let stream = connector.connect(target).await.map_err(|error| {
        debug!(host = %target.host, %error, "connect failed");
        error.transport_error()
    })?;

    let (mut sender, connection) = http1::Builder::new()
        .title_case_headers(true)
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|error| classify_hyper_error(&error))?;

    let request_and_response = async {
        let response = sender.send_request(http_request).await.map_err(|error| {
            debug!(host = %target.host, %error, "no response");
            classify_hyper_error(&error)
        })?;

        received.head = Some(ResponseHead {
            status: response.status().as_u16(),
            retry_after: response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned),
            received_at: clock.now().wall,
        });
        read_excerpt(response.into_body(), &mut received.excerpt).await;
        Ok(())
    };

    // The connection future performs the reads and writes, so it is polled alongside the
    // request, in this task, and dropped with it when the deadline passes.
    tokio::pin!(connection, request_and_response);
    let mut connection_open = true;
    loop {
        tokio::select! {
            biased;
            outcome = &mut request_and_response => return outcome,
            ended = &mut connection, if connection_open => {
                connection_open = false;
                if let Err(error) = ended {
                    debug!(host = %target.host, %error, "connection ended with an error");
                }
            }
        }
    }
}

/// Appends body bytes to `excerpt` until the body ends, fails, or [`EXCERPT_BYTES`] are in.
///
/// A body error after the status line does not change the result, so it is only logged.
async fn read_excerpt(mut body: Incoming, excerpt: &mut Vec<u8>) {
    while excerpt.len() < EXCERPT_BYTES {
        match body.frame().await {
            None => return,
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    let remaining = EXCERPT_BYTES - excerpt.len();
                    excerpt.extend_from_slice(&data[..data.len().min(remaining)]);
                }
            }
            Some(Err(error)) => {
                debug!(%error, "response body ended with an error after the status line");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use delivery_core::{Event, EventType, SigningKey};

    fn sample_request(url: &str) -> SignedRequest {
        let event = Event::build(
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
        .unwrap();
        let key = SigningKey::new("ags_test-secret");
        SignedRequest::build(&event, url, &key, 1, UnixMillis(1_778_487_262_184))
    }

    #[test]
    fn http_request_header_order() {
        let signed = sample_request("http://receiver:8080/hooks?x=1");
        let target = Target::parse(&signed.url).unwrap();
        let http_request = build_http_request(&signed, &target).unwrap();

        assert_eq!(http_request.method(), Method::POST);
        assert_eq!(http_request.uri(), "/hooks?x=1");

        let names: Vec<&str> = http_request
            .headers()
            .keys()
            .map(|name| name.as_str())
            .collect();
        let mut expected = vec!["host"];
        expected.extend(signed.headers.iter().map(|(name, _)| name));
        expected.push("connection");
        let expected: Vec<String> = expected
            .iter()
            .map(|name| name.to_ascii_lowercase())
            .collect();
        assert_eq!(names, expected);

        assert_eq!(http_request.headers()[HOST], "receiver:8080");
        assert_eq!(http_request.headers()[CONNECTION], "close");
    }

    #[test]
    fn http_request_invalid_header_rejected() {
        let mut signed = sample_request("http://receiver/");
        signed
            .headers
            .push(("Aresgen-Event-Id", "evt\nbroken".to_owned()));
        let target = Target::parse(&signed.url).unwrap();
        assert!(build_http_request(&signed, &target).is_err());
    }

    #[tokio::test]
    async fn invalid_url_is_other() {
        let signed = sample_request("ftp://receiver/");
        let clock = crate::TokioClock::new();
        let connector = crate::TcpConnector::with_address_filter(|_| {
            panic!("an invalid URL must not be resolved")
        });

        let (result, _elapsed) =
            send_attempt(&connector, &signed, DEFAULT_ATTEMPT_TIMEOUT, &clock).await;
        assert_eq!(result, AttemptResult::Transport(TransportError::Other));
    }

    #[test]
    fn send_attempt_future_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        let signed = sample_request("http://receiver/");
        let connector = crate::TcpConnector::allow_all();
        let clock = crate::TokioClock::new();
        let future = send_attempt(&connector, &signed, DEFAULT_ATTEMPT_TIMEOUT, &clock);
        assert_send(&future);
    }
}
