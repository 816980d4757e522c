//! Attempts over turmoil's simulated network, with its faults.

use crate::receiver::{
    RETRY_AFTER_DATE, Receiver, SLOW_DELAY, TRICKLE_CHUNK_BYTES, TRICKLE_INTERVAL,
};
use crate::signed_request;
use crate::sim_listener::SimListener;
use delivery_core::outcome::EXCERPT_BYTES;
use delivery_core::{AttemptResult, Millis, SignedRequest, TransportError};
use delivery_http::{Clock, DEFAULT_ATTEMPT_TIMEOUT, TurmoilClock, TurmoilConnector, send_attempt};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use turmoil::Sim;
use turmoil::net::{TcpListener, TcpStream};

/// Start of simulated time: 2026-05-11T08:14:20Z, in Unix seconds.
const EPOCH_UNIX_SECS: u64 = 1_778_487_260;

/// One simulated step; a hundredth of the shortest interval the tests measure.
const TICK: Duration = Duration::from_millis(10);

/// Seed of every simulation except the message-loss runs, which list their own.
const SEED: u64 = 0x5EED_0001;

/// The port every simulated receiver listens on.
const PORT: u16 = 8080;

/// Timeout of every attempt, in milliseconds.
const TIMEOUT_MS: u64 = DEFAULT_ATTEMPT_TIMEOUT.as_u64();

/// One attempt as the sender saw it.
#[derive(Debug)]
struct Sent {
    request: SignedRequest,
    result: AttemptResult,
    elapsed: Millis,
}

fn build_sim(seed: u64) -> Sim<'static> {
    turmoil::Builder::new()
        .epoch(UNIX_EPOCH + Duration::from_secs(EPOCH_UNIX_SECS))
        .rng_seed(seed)
        .tick_duration(TICK)
        .simulation_duration(Duration::from_secs(20 * 60))
        .build()
}

/// Reads the current host's simulated wall clock in Unix seconds.
fn simulated_now_secs() -> u64 {
    turmoil::since_epoch()
        .expect("the receiver's clock is read inside a turmoil host")
        .as_secs()
}

async fn bind() -> std::io::Result<TcpListener> {
    TcpListener::bind((IpAddr::from(Ipv4Addr::UNSPECIFIED), PORT)).await
}

/// Adds a host named `name` that serves the test receiver, and returns the receiver's state.
fn add_receiver(sim: &mut Sim<'static>, name: &str) -> Receiver {
    let receiver = Receiver::new(simulated_now_secs);
    let served = receiver.clone();
    sim.host(name, move || {
        let router = served.router();
        async move {
            axum::serve(
                SimListener {
                    listener: bind().await?,
                    retry_after: TICK,
                },
                router,
            )
            .await?;
            Ok(())
        }
    });
    receiver
}

/// Adds a host named `name` that runs `handle` on each accepted connection.
fn add_raw_server<F, Fut>(sim: &mut Sim<'static>, name: &str, handle: F)
where
    F: Fn(TcpStream) -> Fut + Clone + 'static,
    Fut: Future<Output = ()> + 'static,
{
    sim.host(name, move || {
        let handle = handle.clone();
        async move {
            let listener = bind().await?;
            loop {
                let (stream, _) = listener.accept().await?;
                tokio::task::spawn_local(handle(stream));
            }
        }
    });
}

/// Adds the client host `sender`, which signs and sends one attempt to each URL in turn, and
/// returns where its attempts are recorded.
fn add_sender(sim: &mut Sim<'static>, urls: &[&str]) -> Arc<Mutex<Vec<Sent>>> {
    let sent = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&sent);
    let urls: Vec<String> = urls.iter().map(|url| url.to_string()).collect();
    sim.client("sender", async move {
        let clock = TurmoilClock::default();
        for url in urls {
            let request = signed_request(&url, clock.now().wall);
            let (result, elapsed) =
                send_attempt(&TurmoilConnector, &request, DEFAULT_ATTEMPT_TIMEOUT, &clock).await;
            record.lock().unwrap().push(Sent {
                request,
                result,
                elapsed,
            });
        }
        Ok(())
    });
    sent
}

/// Runs the simulation to the end of the sender and returns its attempts, checking that each
/// one finished.
fn run(sim: &mut Sim<'static>, sent: &Arc<Mutex<Vec<Sent>>>, expected: usize) -> Vec<Sent> {
    sim.run().expect("the simulation ends without error");
    let sent = std::mem::take(&mut *sent.lock().unwrap());
    assert_eq!(sent.len(), expected, "attempts that finished");
    sent
}

/// Sends one attempt from `sender` to `receiver` at `path` and returns it with the
/// receiver's record.
fn deliver_once(path: &str) -> (Sent, Receiver) {
    let mut sim = build_sim(SEED);
    let receiver = add_receiver(&mut sim, "receiver");
    let sent = add_sender(&mut sim, &[&format!("http://receiver:{PORT}{path}")]);
    let mut sent = run(&mut sim, &sent, 1);
    (sent.remove(0), receiver)
}

fn status_of(result: &AttemptResult) -> Option<u16> {
    match result {
        AttemptResult::Response { status, .. } => Some(*status),
        AttemptResult::Transport(_) => None,
    }
}

fn retry_after_of(result: &AttemptResult) -> Option<Millis> {
    match result {
        AttemptResult::Response { retry_after, .. } => *retry_after,
        AttemptResult::Transport(_) => None,
    }
}

fn excerpt_of(result: &AttemptResult) -> &str {
    match result {
        AttemptResult::Response { excerpt, .. } => excerpt,
        AttemptResult::Transport(_) => "",
    }
}

/// Asserts that `elapsed` is the attempt timeout, give or take the two ticks it takes the
/// timer to fire and the clock to be read.
fn assert_timed_out_at_deadline(sent: &Sent) {
    assert_eq!(
        sent.result,
        AttemptResult::Transport(TransportError::Timeout)
    );
    let elapsed = sent.elapsed.as_u64();
    let slack = 2 * TICK.as_millis() as u64;
    assert!(
        (TIMEOUT_MS..=TIMEOUT_MS + slack).contains(&elapsed),
        "elapsed {elapsed} ms, expected the {TIMEOUT_MS} ms timeout"
    );
}

#[test]
fn success_sends_exact_signed_bytes() {
    let (sent, receiver) = deliver_once("/ok");

    assert!(sent.result.is_success(), "{:?}", sent.result);
    assert_eq!(status_of(&sent.result), Some(200));
    assert_eq!(excerpt_of(&sent.result), "accepted");
    assert!(sent.elapsed < Millis(1000), "elapsed {}", sent.elapsed);

    let hits = receiver.hits();
    assert_eq!(hits.len(), 1);
    let hit = &hits[0];
    assert_eq!(hit.path, "/ok");
    assert_eq!(hit.body, &sent.request.body[..]);
    let expected_timestamp: u64 = sent
        .request
        .header("Aresgen-Timestamp")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(hit.verified, Ok(expected_timestamp));
    assert_eq!(expected_timestamp, EPOCH_UNIX_SECS);

    for (name, value) in &sent.request.headers {
        let received: Vec<_> = hit.headers.get_all(*name).iter().collect();
        assert_eq!(received, [value.as_str()], "header {name}");
    }
    assert_eq!(hit.headers["host"], format!("receiver:{PORT}"));
    assert!(hit.headers.get("transfer-encoding").is_none());
    assert!(hit.headers.get("content-encoding").is_none());
}

#[test]
fn error_statuses_are_responses() {
    for (path, expected_status, expected_excerpt) in [
        ("/server-error", 500, "database unavailable"),
        ("/no-such-hook", 404, "no such hook"),
    ] {
        let (sent, receiver) = deliver_once(path);
        assert_eq!(status_of(&sent.result), Some(expected_status), "{path}");
        assert_eq!(excerpt_of(&sent.result), expected_excerpt, "{path}");
        assert_eq!(retry_after_of(&sent.result), None, "{path}");
        assert!(!sent.result.is_success(), "{path}");
        assert_eq!(receiver.hits().len(), 1, "{path}");
    }
}

#[test]
fn redirect_is_not_followed() {
    let (sent, receiver) = deliver_once("/redirect");

    assert_eq!(status_of(&sent.result), Some(301));
    assert!(!sent.result.is_success());
    let paths: Vec<String> = receiver.hits().into_iter().map(|hit| hit.path).collect();
    assert_eq!(paths, ["/redirect"]);
}

#[test]
fn retry_after_seconds_on_429_and_503() {
    for (path, expected_status) in [("/limited", 429), ("/unavailable", 503)] {
        let (sent, _receiver) = deliver_once(path);
        assert_eq!(status_of(&sent.result), Some(expected_status), "{path}");
        assert_eq!(
            retry_after_of(&sent.result),
            Some(Millis::from_secs(120)),
            "{path}"
        );
    }
}

#[test]
fn retry_after_http_date() {
    let (sent, _receiver) = deliver_once("/unavailable-until");

    assert_eq!(status_of(&sent.result), Some(503));
    // The date is 120 s after the epoch and the response arrives within the first second,
    // so the wait is between 119 and 120 s, rounded to the millisecond.
    let wait = retry_after_of(&sent.result).expect("a parsed Retry-After date");
    assert!(
        (Millis(119_000)..=Millis(120_000)).contains(&wait),
        "wait {wait} for Retry-After {RETRY_AFTER_DATE}"
    );
}

#[test]
fn partitioned_host_is_refused() {
    let mut sim = build_sim(SEED);
    let receiver = add_receiver(&mut sim, "receiver");
    let sent = add_sender(&mut sim, &[&format!("http://receiver:{PORT}/ok")]);
    sim.partition("sender", "receiver");

    let sent = run(&mut sim, &sent, 1);
    assert_eq!(
        sent[0].result,
        AttemptResult::Transport(TransportError::Refused)
    );
    assert!(
        sent[0].elapsed < Millis(1000),
        "elapsed {}",
        sent[0].elapsed
    );
    assert!(receiver.hits().is_empty());
}

#[test]
fn crashed_host_times_out_at_deadline() {
    // turmoil 0.7.2 delivers no message to a crashed host, so nothing answers the connection
    // request. It hangs as it would towards a machine that lost power.
    let mut sim = build_sim(SEED);
    let receiver = add_receiver(&mut sim, "receiver");
    for _ in 0..10 {
        sim.step().expect("the receiver starts");
    }
    sim.crash("receiver");
    let sent = add_sender(&mut sim, &[&format!("http://receiver:{PORT}/ok")]);

    let sent = run(&mut sim, &sent, 1);
    assert_timed_out_at_deadline(&sent[0]);
    assert!(receiver.hits().is_empty());
}

#[test]
fn port_without_listener_is_refused() {
    // A running host whose receiver process is gone: the port has no listener.
    let mut sim = build_sim(SEED);
    sim.host("idle", || async {
        std::future::pending::<()>().await;
        Ok(())
    });
    let sent = add_sender(&mut sim, &[&format!("http://idle:{PORT}/ok")]);

    let sent = run(&mut sim, &sent, 1);
    assert_eq!(
        sent[0].result,
        AttemptResult::Transport(TransportError::Refused)
    );
    assert!(
        sent[0].elapsed < Millis(1000),
        "elapsed {}",
        sent[0].elapsed
    );
}

#[test]
fn unknown_host_is_dns_error() {
    let mut sim = build_sim(SEED);
    let sent = add_sender(&mut sim, &[&format!("http://nowhere:{PORT}/ok")]);

    let sent = run(&mut sim, &sent, 1);
    assert_eq!(
        sent[0].result,
        AttemptResult::Transport(TransportError::Dns)
    );
}

#[test]
fn blackholed_host_times_out_at_deadline() {
    let mut sim = build_sim(SEED);
    let receiver = add_receiver(&mut sim, "receiver");
    let sent = add_sender(&mut sim, &[&format!("http://receiver:{PORT}/ok")]);
    sim.hold("sender", "receiver");

    let sent = run(&mut sim, &sent, 1);
    assert_timed_out_at_deadline(&sent[0]);
    assert!(receiver.hits().is_empty());
}

#[test]
fn slow_answer_times_out_at_deadline() {
    let (sent, receiver) = deliver_once("/slow");

    assert!(SLOW_DELAY.as_millis() as u64 > TIMEOUT_MS);
    assert_timed_out_at_deadline(&sent);
    assert_eq!(receiver.hits().len(), 1, "the request itself arrived");
}

#[test]
fn trickling_body_keeps_status() {
    let (sent, _receiver) = deliver_once("/trickle");

    // The status line arrived at once, so the result is the 200 and counts as success. The
    // excerpt contains the chunks sent at 0, 5 and 10 s, plus the one sent at 15 s if it
    // arrives before the timer fires.
    assert!(sent.result.is_success(), "{:?}", sent.result);
    let excerpt_len = excerpt_of(&sent.result).len();
    let chunks_before_deadline = (TIMEOUT_MS / TRICKLE_INTERVAL.as_millis() as u64) as usize;
    assert!(
        (chunks_before_deadline * TRICKLE_CHUNK_BYTES
            ..=(chunks_before_deadline + 1) * TRICKLE_CHUNK_BYTES)
            .contains(&excerpt_len),
        "excerpt of {excerpt_len} bytes"
    );
    assert!(excerpt_len < EXCERPT_BYTES);

    let elapsed = sent.elapsed.as_u64();
    let slack = 2 * TICK.as_millis() as u64;
    assert!(
        (TIMEOUT_MS..=TIMEOUT_MS + slack).contains(&elapsed),
        "elapsed {elapsed} ms, expected the {TIMEOUT_MS} ms deadline"
    );
}

#[test]
fn large_body_read_stops_at_excerpt() {
    let (sent, _receiver) = deliver_once("/large");

    assert_eq!(status_of(&sent.result), Some(200));
    let excerpt = excerpt_of(&sent.result);
    assert_eq!(excerpt.len(), EXCERPT_BYTES);
    assert!(excerpt.bytes().all(|byte| byte == b'L'));
}

#[test]
fn connection_dropped_after_accept_is_reset() {
    let mut sim = build_sim(SEED);
    add_raw_server(&mut sim, "dropper", |stream| async move { drop(stream) });
    add_raw_server(&mut sim, "reader", |mut stream| async move {
        let mut buffer = [0u8; 256];
        let _ = stream.read(&mut buffer).await;
        drop(stream);
    });
    let sent = add_sender(
        &mut sim,
        &[
            &format!("http://dropper:{PORT}/ok"),
            &format!("http://reader:{PORT}/ok"),
        ],
    );

    let sent = run(&mut sim, &sent, 2);
    for attempt in &sent {
        assert_eq!(
            attempt.result,
            AttemptResult::Transport(TransportError::Reset),
            "{}",
            attempt.request.url
        );
        assert!(
            attempt.elapsed < Millis(1000),
            "elapsed {}",
            attempt.elapsed
        );
    }
}

#[test]
fn request_bytes_on_the_wire() {
    let captured = Arc::new(Mutex::new(Vec::new()));
    let store = Arc::clone(&captured);

    let mut sim = build_sim(SEED);
    add_raw_server(&mut sim, "capture", move |mut stream| {
        let store = Arc::clone(&store);
        async move {
            let request = read_http_request(&mut stream).await;
            store.lock().unwrap().push(request);
            let _ = stream
                .write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
                .await;
        }
    });
    let sent = add_sender(
        &mut sim,
        &[&format!("http://capture:{PORT}/hooks/in?via=test")],
    );

    let sent = run(&mut sim, &sent, 1);
    assert_eq!(status_of(&sent[0].result), Some(204));

    let captured = captured.lock().unwrap();
    assert_eq!(captured.len(), 1);
    let raw = &captured[0];
    let head_end = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap();
    let head = std::str::from_utf8(&raw[..head_end]).unwrap();
    let body = &raw[head_end + 4..];

    let request = &sent[0].request;
    let mut expected_lines = vec![
        "POST /hooks/in?via=test HTTP/1.1".to_owned(),
        format!("Host: capture:{PORT}"),
    ];
    expected_lines.extend(
        request
            .headers
            .iter()
            .map(|(name, value)| format!("{name}: {value}")),
    );
    expected_lines.push("Connection: close".to_owned());
    let lines: Vec<&str> = head.split("\r\n").collect();
    assert_eq!(lines, expected_lines);
    assert_eq!(body, &request.body[..]);
}

/// Reads one request head and a body of its `Content-Length`, and returns the raw bytes.
async fn read_http_request(stream: &mut TcpStream) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut buffer = [0u8; 1024];
    loop {
        if let Some(head_end) = raw.windows(4).position(|window| window == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
            let content_length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length: "))
                .and_then(|value| value.trim().parse().ok())
                .unwrap_or(0);
            if raw.len() >= head_end + 4 + content_length {
                return raw;
            }
        }
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return raw,
            Ok(read) => raw.extend_from_slice(&buffer[..read]),
        }
    }
}

#[test]
fn blackholed_endpoint_delays_no_other() {
    let mut sim = build_sim(SEED);
    add_receiver(&mut sim, "held");
    add_receiver(&mut sim, "healthy");

    let sent = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&sent);
    sim.client("sender", async move {
        let clock = TurmoilClock::default();
        let attempt = move |url: String| {
            let record = Arc::clone(&record);
            async move {
                let request = signed_request(&url, clock.now().wall);
                let (result, elapsed) =
                    send_attempt(&TurmoilConnector, &request, DEFAULT_ATTEMPT_TIMEOUT, &clock)
                        .await;
                let finished_at = clock.now().monotonic;
                record
                    .lock()
                    .unwrap()
                    .push((url, result, elapsed, finished_at));
            }
        };
        let blackholed = tokio::spawn(attempt(format!("http://held:{PORT}/ok")));
        let healthy = tokio::spawn(attempt(format!("http://healthy:{PORT}/ok")));
        blackholed.await?;
        healthy.await?;
        Ok(())
    });
    sim.hold("sender", "held");

    sim.run().expect("the simulation ends without error");
    let sent = sent.lock().unwrap();
    assert_eq!(sent.len(), 2);

    let (healthy_url, healthy_result, healthy_elapsed, healthy_finished_at) = &sent[0];
    assert_eq!(healthy_url, &format!("http://healthy:{PORT}/ok"));
    assert!(healthy_result.is_success(), "{healthy_result:?}");
    assert!(*healthy_elapsed < Millis(1000), "elapsed {healthy_elapsed}");

    let (held_url, held_result, held_elapsed, held_finished_at) = &sent[1];
    assert_eq!(held_url, &format!("http://held:{PORT}/ok"));
    assert_eq!(
        held_result,
        &AttemptResult::Transport(TransportError::Timeout)
    );
    assert!(
        held_elapsed.as_u64() >= TIMEOUT_MS,
        "elapsed {held_elapsed}"
    );
    assert!(healthy_finished_at < held_finished_at);
}

#[test]
fn message_loss_never_hangs_an_attempt() {
    const ATTEMPTS: usize = 25;
    let url = format!("http://receiver:{PORT}/ok");

    for seed in [0x1055_0001, 0x1055_0002, 0x1055_0003] {
        let mut sim = build_sim(seed);
        add_receiver(&mut sim, "receiver");
        let urls = vec![url.as_str(); ATTEMPTS];
        let sent = add_sender(&mut sim, &urls);
        sim.set_link_fail_rate("sender", "receiver", 0.05);

        // `run` checks that every attempt finished; the simulation's 20-minute limit would
        // fail the test if one hung.
        let sent = run(&mut sim, &sent, ATTEMPTS);
        let mut failures = BTreeMap::new();
        for attempt in &sent {
            let elapsed = attempt.elapsed.as_u64();
            assert!(
                elapsed <= TIMEOUT_MS + 2 * TICK.as_millis() as u64,
                "seed {seed:#x}: elapsed {elapsed} ms"
            );
            match &attempt.result {
                result if result.is_success() => {}
                AttemptResult::Transport(
                    kind @ (TransportError::Reset
                    | TransportError::Timeout
                    | TransportError::Refused),
                ) => *failures.entry(kind.as_str()).or_insert(0) += 1,
                other => panic!("seed {seed:#x}: unexpected result {other:?}"),
            }
        }
        let failed: usize = failures.values().sum();
        println!("seed {seed:#x}: {failed} of {ATTEMPTS} attempts failed: {failures:?}");
        assert!(
            failed > 0,
            "seed {seed:#x}: the loss rate caused no failure"
        );
        assert!(failed < ATTEMPTS, "seed {seed:#x}: no attempt succeeded");
    }
}
