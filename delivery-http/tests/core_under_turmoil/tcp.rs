//! The same worker over real tokio TCP on 127.0.0.1, against an axum receiver.

use crate::events::{WORKSPACE, endpoint, event_body, event_id, secret};
use crate::receiver::{Receiver, Reply};
use delivery_core::{Config, Notification, Published};
use delivery_http::worker::{MemoryStore, Worker};
use delivery_http::{TcpConnector, TokioClock};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Upper bound on the real time the loopback deliveries may take.
const DELIVERY_LIMIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn loopback_tcp_delivers_in_order() {
    let started = Instant::now();
    let clock = Arc::new(move || {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("the system clock is after 1970");
        (wall.as_secs(), started.elapsed())
    });
    let receiver = Receiver::new(
        &secret("loopback"),
        clock,
        vec![Reply::Status(503)],
        Reply::Status(200),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = receiver.router();
    let server = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            eprintln!("loopback receiver stopped: {error}");
        }
    });

    // The first response is a 503, so the first event needs a retry. A shorter first backoff
    // keeps the test fast.
    let mut config = Config::default();
    config.retry.initial_backoff = delivery_core::Millis(200);
    // The receiver listens on loopback, which the default policy forbids.
    config.allow_private_endpoints = true;
    let store = MemoryStore::new();
    let (worker, handle) = Worker::new(
        config,
        TcpConnector::allow_all(),
        TokioClock::new(),
        store.clone(),
    );
    let (notifications, mut notified) = mpsc::unbounded_channel();
    let worker = worker.on_notification(move |notification| {
        let _ = notifications.send(notification.clone());
    });
    let running = tokio::spawn(worker.run());

    let config = endpoint("loopback", format!("http://{address}/hooks"), &["*"]);
    handle
        .save_endpoint(config)
        .await
        .expect("the endpoint is valid");
    for index in [1, 2] {
        let published = handle
            .publish(event_body(index))
            .await
            .expect("the event is valid");
        assert!(
            matches!(published, Published::Accepted { ref deliveries } if deliveries.len() == 1)
        );
    }

    let mut delivered = Vec::new();
    while delivered.len() < 2 {
        let notification = tokio::time::timeout(DELIVERY_LIMIT, notified.recv())
            .await
            .expect("both events are delivered within the limit")
            .expect("the worker is running");
        if let Notification::Delivered {
            event_id,
            attempts,
            endpoint,
            ..
        } = notification
        {
            assert_eq!(endpoint.workspace_id, WORKSPACE);
            delivered.push((event_id, attempts));
        }
    }
    assert_eq!(delivered, [(event_id(1), 2), (event_id(2), 1)]);

    let arrivals = receiver.arrivals();
    let seen: Vec<(String, u32, u16)> = arrivals
        .iter()
        .map(|arrival| (arrival.event_id.clone(), arrival.attempt, arrival.status))
        .collect();
    assert_eq!(
        seen,
        [
            (event_id(1), 1, 503),
            (event_id(1), 2, 200),
            (event_id(2), 1, 200)
        ]
    );
    for arrival in &arrivals {
        assert!(arrival.verified.is_ok(), "{:?}", arrival.verified);
    }

    drop(handle);
    running
        .await
        .expect("the worker task ends")
        .expect("the in-memory store never fails");
    assert!(!store.is_empty());
    server.abort();
}
