//! Attempts over real tokio TCP on 127.0.0.1, to show the simulated code path is the
//! production one.

use crate::receiver::Receiver;
use crate::signed_request;
use delivery_core::{AttemptResult, Millis, TransportError};
use delivery_http::{Clock, DEFAULT_ATTEMPT_TIMEOUT, TcpConnector, TokioClock, send_attempt};
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

fn system_now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the system clock is after 1970")
        .as_secs()
}

/// Serves the test receiver on an ephemeral loopback port.
async fn serve_receiver() -> (Receiver, SocketAddr, JoinHandle<()>) {
    let receiver = Receiver::new(system_now_secs);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = receiver.router();
    let server = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            eprintln!("loopback receiver stopped: {error}");
        }
    });
    (receiver, address, server)
}

#[tokio::test]
async fn real_tcp_success_and_retry_after() {
    let (receiver, address, server) = serve_receiver().await;
    let connector = TcpConnector::allow_all();
    let clock = TokioClock::new();

    let request = signed_request(&format!("http://{address}/ok"), clock.now().wall);
    let (result, elapsed) =
        send_attempt(&connector, &request, DEFAULT_ATTEMPT_TIMEOUT, &clock).await;
    assert!(result.is_success(), "{result:?}");
    assert!(elapsed < DEFAULT_ATTEMPT_TIMEOUT, "elapsed {elapsed}");

    let hits = receiver.hits();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].body, &request.body[..]);
    assert!(hits[0].verified.is_ok(), "{:?}", hits[0].verified);

    let request = signed_request(&format!("http://{address}/limited"), clock.now().wall);
    let (result, _elapsed) =
        send_attempt(&connector, &request, DEFAULT_ATTEMPT_TIMEOUT, &clock).await;
    assert!(
        matches!(
            result,
            AttemptResult::Response {
                status: 429,
                retry_after: Some(Millis(120_000)),
                ..
            }
        ),
        "{result:?}"
    );

    server.abort();
}

#[tokio::test]
async fn real_tcp_closed_port_is_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let clock = TokioClock::new();

    let request = signed_request(&format!("http://{address}/ok"), clock.now().wall);
    let (result, _elapsed) = send_attempt(
        &TcpConnector::allow_all(),
        &request,
        DEFAULT_ATTEMPT_TIMEOUT,
        &clock,
    )
    .await;
    assert_eq!(result, AttemptResult::Transport(TransportError::Refused));
}

#[tokio::test]
async fn real_tcp_dropped_connection_is_reset() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            drop(stream);
        }
    });
    let clock = TokioClock::new();

    let request = signed_request(&format!("http://{address}/ok"), clock.now().wall);
    let (result, _elapsed) = send_attempt(
        &TcpConnector::allow_all(),
        &request,
        DEFAULT_ATTEMPT_TIMEOUT,
        &clock,
    )
    .await;
    assert_eq!(result, AttemptResult::Transport(TransportError::Reset));

    server.abort();
}

#[tokio::test]
async fn real_tcp_silent_server_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            open.push(stream);
        }
    });
    let clock = TokioClock::new();
    let timeout = Millis(300);

    let request = signed_request(&format!("http://{address}/ok"), clock.now().wall);
    let (result, elapsed) =
        send_attempt(&TcpConnector::allow_all(), &request, timeout, &clock).await;
    assert_eq!(result, AttemptResult::Transport(TransportError::Timeout));
    assert!(elapsed >= timeout, "elapsed {elapsed}");

    server.abort();
}

#[tokio::test]
async fn public_only_connector_blocks_loopback() {
    let (receiver, address, server) = serve_receiver().await;
    let clock = TokioClock::new();

    let request = signed_request(&format!("http://{address}/ok"), clock.now().wall);
    let (result, _elapsed) = send_attempt(
        &TcpConnector::public_only(),
        &request,
        DEFAULT_ATTEMPT_TIMEOUT,
        &clock,
    )
    .await;

    assert_eq!(result, AttemptResult::Transport(TransportError::Other));
    assert!(receiver.hits().is_empty());
    server.abort();
}
