//! Durability records: what a store writes so that a restarted core rebuilds its state.
//!
//! Every change of state goes through one [`Record`]. The core emits the record from
//! `poll_record` before it emits the transmit or notification that the change causes, and a
//! store must persist every drained record before the caller sends the transmits drained after
//! it. Replaying the records in order through [`crate::Core::restore`] rebuilds the same queues,
//! budgets and log. An attempt whose `AttemptStarted` was persisted but whose `AttemptFinished`
//! was not is repeated after a restart: that is the only work a crash can repeat.

use crate::endpoint::{DisabledReason, EndpointConfig, EndpointRef};
use crate::event::Event;
use crate::log::DeliveryId;
use crate::outcome::AttemptResult;
use crate::time::{Millis, UnixMillis};
use serde::{Deserialize, Serialize};

/// When a record was made: on the core's monotonic timeline and by the wall clock.
///
/// The core's timeline continues across restarts: a restored core resumes it from the last
/// record, adding the wall-clock time that passed since (never a negative amount).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub at: Millis,
    pub wall: UnixMillis,
}

/// The step that follows a finished attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NextStep {
    /// Another attempt starts at this time on the core's timeline.
    RetryAt(Millis),
    /// A 2xx arrived: the delivery is done.
    Delivered,
    /// The budget ran out: the delivery is recorded as failed.
    Failed,
    /// The endpoint is disabled: the delivery waits in its queue with a fresh budget.
    Held,
}

/// One durable change of the core's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Record {
    /// An endpoint was created or its URL, secret or filters changed.
    EndpointSaved {
        stamp: Stamp,
        config: EndpointConfig,
    },
    /// An endpoint stopped receiving attempts; its queue is held.
    EndpointDisabled {
        stamp: Stamp,
        endpoint: EndpointRef,
        reason: DisabledReason,
    },
    /// A disabled endpoint was enabled again; its held queue resumes.
    EndpointEnabled { stamp: Stamp, endpoint: EndpointRef },
    /// An event was accepted, with one delivery per subscribed endpoint of its workspace.
    EventAccepted {
        stamp: Stamp,
        event: Event,
        deliveries: Vec<(DeliveryId, EndpointRef)>,
    },
    /// An accepted event was queued again, with a fresh budget for each new delivery.
    ReplayQueued {
        stamp: Stamp,
        workspace_id: String,
        event_id: String,
        deliveries: Vec<(DeliveryId, EndpointRef)>,
    },
    /// An attempt is about to be sent.
    AttemptStarted {
        stamp: Stamp,
        delivery_id: DeliveryId,
        attempt: u32,
    },
    /// An attempt ended, and what follows it.
    AttemptFinished {
        stamp: Stamp,
        delivery_id: DeliveryId,
        attempt: u32,
        result: AttemptResult,
        next: NextStep,
    },
    /// A retry came due only after the budget's deadline had passed (the sender was not
    /// running at the deadline), so the delivery failed without another attempt.
    DeliveryExpired {
        stamp: Stamp,
        delivery_id: DeliveryId,
    },
    /// Log entries, finished deliveries and events older than `before` were dropped.
    Pruned { stamp: Stamp, before: Millis },
}

impl Record {
    /// Returns when the record was made.
    pub fn stamp(&self) -> Stamp {
        match self {
            Record::EndpointSaved { stamp, .. }
            | Record::EndpointDisabled { stamp, .. }
            | Record::EndpointEnabled { stamp, .. }
            | Record::EventAccepted { stamp, .. }
            | Record::ReplayQueued { stamp, .. }
            | Record::AttemptStarted { stamp, .. }
            | Record::AttemptFinished { stamp, .. }
            | Record::DeliveryExpired { stamp, .. }
            | Record::Pruned { stamp, .. } => *stamp,
        }
    }
}
