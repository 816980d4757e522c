//! Sans-IO core of AresGen webhook delivery.
//!
//! The core decides what to send, when to retry, in which order, and what to record. It opens
//! no sockets, reads no clock and draws no random numbers: time and responses are inputs,
//! requests, wake-ups and records are outputs.

pub mod event;
pub mod filter;
pub mod schedule;
pub mod signature;
pub mod time;

pub use event::{Event, EventError, EventType, MAX_BODY_BYTES};
pub use filter::{Filter, FilterError, Pattern};
pub use schedule::{RetryPolicy, ScheduledAttempt};
pub use signature::{Signature, SigningKey, VerifyError};
pub use time::{Millis, Now, UnixMillis};
pub mod request;
pub use request::SignedRequest;
pub mod outcome;
pub use outcome::{AttemptResult, TransportError};
pub mod address;
pub mod endpoint;
pub mod log;
pub mod machine;
pub mod record;
pub mod state;

pub use endpoint::{DisabledReason, EndpointConfig, EndpointError, EndpointRef};
pub use log::{AttemptEntry, AttemptOutcome, DeliveryId, DeliveryLog, FinalEntry, FinalOutcome};
#[cfg(feature = "planted-bugs")]
pub use machine::PlantedBug;
pub use machine::{
    Config, Core, CoreError, EndpointStatus, Notification, Published, ReplayTarget, Transmit,
};
pub use record::{NextStep, Record, Stamp};
pub use state::{Delivery, DeliveryStatus, State};
