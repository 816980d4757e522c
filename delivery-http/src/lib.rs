//! HTTP/1.1 I/O for one webhook attempt.
//!
//! The sans-IO core in `delivery-core` decides what to send and when. This crate sends one
//! [`SignedRequest`](delivery_core::SignedRequest) and reports what became of it as an
//! [`AttemptResult`](delivery_core::AttemptResult), with the attempt's measured duration.
//! It is generic over the connection through [`Connector`], so the production runner sends
//! over tokio's TCP with [`TcpConnector`], and simulation tests send the same bytes through the
//! same code over turmoil's TCP with `TurmoilConnector` (feature `turmoil`).
//!
//! A driver calls [`send_attempt`] once per attempt, and may run attempts for different
//! endpoints concurrently:
//!
//! ```no_run
//! use delivery_http::{DEFAULT_ATTEMPT_TIMEOUT, TcpConnector, TokioClock, send_attempt};
//! # async fn drive(request: delivery_core::SignedRequest) {
//! let connector = TcpConnector::with_address_filter(|address| !address.is_loopback());
//! let clock = TokioClock::new();
//!
//! let (result, elapsed) = send_attempt(&connector, &request, DEFAULT_ATTEMPT_TIMEOUT, &clock).await;
//! println!("{result:?} after {elapsed}");
//! # }
//! ```
//!
//! [`Worker`] is the driver that production and the simulation tests share: it runs the
//! core's loop, stores its records through a [`RecordStore`], and sends its attempts with
//! [`send_attempt`].

mod attempt;
pub mod classify;
mod clock;
mod connector;
#[cfg(feature = "turmoil")]
mod sim;
mod target;
pub mod worker;

pub use attempt::{DEFAULT_ATTEMPT_TIMEOUT, send_attempt};
pub use clock::{Clock, TokioClock};
pub use connector::{ConnectError, Connector, TcpConnector};
#[cfg(feature = "turmoil")]
pub use sim::{TurmoilClock, TurmoilConnector};
pub use target::{Target, TargetError};
pub use worker::{MemoryStore, RecordStore, Worker, WorkerError, WorkerHandle};
