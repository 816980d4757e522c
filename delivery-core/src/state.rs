//! The core's durable state and the one function that changes it: [`State::apply`].
//!
//! Command handlers in [`crate::machine`] decide what happens and express it as records;
//! `apply` carries a record out. Restoring replays the same records through the same function,
//! which is why a restored core equals the one that wrote them.

use crate::endpoint::{DisabledReason, EndpointConfig, EndpointRef};
use crate::event::Event;
use crate::log::{AttemptEntry, AttemptOutcome, DeliveryId, DeliveryLog, FinalEntry, FinalOutcome};
use crate::outcome::AttemptResult;
use crate::record::{NextStep, Record, Stamp};
use crate::time::Millis;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// An event and when it was accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    pub event: Event,
    pub accepted: Stamp,
}

/// The status of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryStatus {
    /// Waiting in its queue, or at the head of it between attempts.
    Pending,
    /// A 2xx arrived.
    Delivered,
    /// The budget ran out.
    Failed,
}

/// An attempt that was sent and has no result yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlight {
    pub attempt: u32,
    pub sent: Stamp,
}

/// One event on its way to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: DeliveryId,
    pub endpoint: EndpointRef,
    pub event_id: String,
    /// Whether an operator's replay created it.
    pub replay: bool,
    pub status: DeliveryStatus,
    /// Attempts made in the current budget.
    pub attempts: u32,
    /// Start of the current budget: the first attempt's time.
    pub first_attempt_at: Option<Millis>,
    /// When the next attempt is due, if one is scheduled.
    pub next_attempt_at: Option<Millis>,
    pub in_flight: Option<InFlight>,
    /// When the delivery was queued.
    pub queued: Stamp,
    /// When it reached `Delivered` or `Failed`.
    pub finished: Option<Stamp>,
}

impl Delivery {
    fn reset_budget(&mut self) {
        self.attempts = 0;
        self.first_attempt_at = None;
        self.next_attempt_at = None;
    }
}

/// An endpoint's configuration and status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointState {
    pub config: EndpointConfig,
    pub disabled: Option<DisabledReason>,
    /// Deliveries in a row that ran out of budget; reset by a success or by enabling.
    pub consecutive_failures: u32,
}

/// Everything a store must keep. Serializable, so a store can write it whole as a snapshot and
/// keep only the records that follow.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub endpoints: BTreeMap<EndpointRef, EndpointState>,
    /// Events keyed by (workspace id, event id): ids are unique within a workspace.
    pub events: BTreeMap<(String, String), StoredEvent>,
    pub deliveries: BTreeMap<DeliveryId, Delivery>,
    /// One FIFO of pending deliveries per (workspace, endpoint).
    pub queues: BTreeMap<EndpointRef, VecDeque<DeliveryId>>,
    pub log: DeliveryLog,
    pub next_delivery_id: u64,
    /// The last record's stamp.
    pub last_stamp: Stamp,
    /// When the last prune ran.
    pub last_prune: Millis,
}

impl State {
    /// Carries out one record.
    ///
    /// Panics only on a record that contradicts the state, which means the record stream is
    /// corrupt or out of order; [`crate::Core::restore`] checks for that first.
    pub fn apply(&mut self, record: &Record) {
        self.last_stamp = record.stamp();

        match record {
            Record::EndpointSaved { config, .. } => self.save_endpoint(config),
            Record::EndpointDisabled {
                endpoint, reason, ..
            } => self.disable_endpoint(endpoint, *reason),
            Record::EndpointEnabled { stamp, endpoint } => self.enable_endpoint(endpoint, *stamp),
            Record::EventAccepted {
                stamp,
                event,
                deliveries,
            } => {
                let key = (event.workspace_id.clone(), event.id.clone());
                self.events.insert(
                    key,
                    StoredEvent {
                        event: event.clone(),
                        accepted: *stamp,
                    },
                );
                self.queue_deliveries(&event.id, deliveries, false, *stamp);
            }
            Record::ReplayQueued {
                stamp,
                event_id,
                deliveries,
                ..
            } => self.queue_deliveries(event_id, deliveries, true, *stamp),
            Record::AttemptStarted {
                stamp,
                delivery_id,
                attempt,
            } => {
                let delivery = self.delivery_mut(*delivery_id);
                delivery.attempts = *attempt;
                delivery.first_attempt_at.get_or_insert(stamp.at);
                delivery.next_attempt_at = None;
                delivery.in_flight = Some(InFlight {
                    attempt: *attempt,
                    sent: *stamp,
                });
            }
            Record::AttemptFinished {
                stamp,
                delivery_id,
                attempt,
                result,
                next,
            } => self.finish_attempt(*stamp, *delivery_id, *attempt, result, *next),
            Record::DeliveryExpired { stamp, delivery_id } => {
                let attempts = self.delivery_mut(*delivery_id).attempts;
                self.finalize(*stamp, *delivery_id, FinalOutcome::Failed, attempts);
            }
            Record::Pruned { before, stamp } => {
                self.prune(*before);
                self.last_prune = stamp.at;
            }
        }
    }

    pub(crate) fn delivery_mut(&mut self, id: DeliveryId) -> &mut Delivery {
        self.deliveries
            .get_mut(&id)
            .unwrap_or_else(|| panic!("record names unknown delivery {id}"))
    }

    fn save_endpoint(&mut self, config: &EndpointConfig) {
        let endpoint = config.endpoint.clone();
        match self.endpoints.get_mut(&endpoint) {
            Some(state) => state.config = config.clone(),
            None => {
                self.endpoints.insert(
                    endpoint.clone(),
                    EndpointState {
                        config: config.clone(),
                        disabled: None,
                        consecutive_failures: 0,
                    },
                );
            }
        }
        self.queues.entry(endpoint).or_default();
    }

    fn disable_endpoint(&mut self, endpoint: &EndpointRef, reason: DisabledReason) {
        if let Some(state) = self.endpoints.get_mut(endpoint) {
            state.disabled = Some(reason);
        }

        // Held deliveries get a fresh budget when the endpoint is enabled again. An attempt in
        // flight keeps its state until its result arrives.
        let ids: Vec<DeliveryId> = self
            .queues
            .get(endpoint)
            .into_iter()
            .flatten()
            .copied()
            .collect();
        for id in ids {
            let delivery = self.delivery_mut(id);
            if delivery.in_flight.is_none() {
                delivery.reset_budget();
            }
        }
    }

    fn enable_endpoint(&mut self, endpoint: &EndpointRef, stamp: Stamp) {
        if let Some(state) = self.endpoints.get_mut(endpoint) {
            state.disabled = None;
            state.consecutive_failures = 0;
        }
        self.schedule_head(endpoint, stamp.at);
    }

    fn queue_deliveries(
        &mut self,
        event_id: &str,
        deliveries: &[(DeliveryId, EndpointRef)],
        replay: bool,
        stamp: Stamp,
    ) {
        for (id, endpoint) in deliveries {
            self.deliveries.insert(
                *id,
                Delivery {
                    id: *id,
                    endpoint: endpoint.clone(),
                    event_id: event_id.to_owned(),
                    replay,
                    status: DeliveryStatus::Pending,
                    attempts: 0,
                    first_attempt_at: None,
                    next_attempt_at: None,
                    in_flight: None,
                    queued: stamp,
                    finished: None,
                },
            );
            self.queues
                .entry(endpoint.clone())
                .or_default()
                .push_back(*id);
            self.next_delivery_id = self.next_delivery_id.max(id.0 + 1);
            self.schedule_head(endpoint, stamp.at);
        }
    }

    /// Makes the head of an enabled endpoint's queue due at `at` when it has nothing scheduled
    /// and nothing in flight.
    fn schedule_head(&mut self, endpoint: &EndpointRef, at: Millis) {
        let enabled = self
            .endpoints
            .get(endpoint)
            .is_some_and(|state| state.disabled.is_none());
        if !enabled {
            return;
        }
        let Some(&head) = self.queues.get(endpoint).and_then(VecDeque::front) else {
            return;
        };

        let delivery = self.delivery_mut(head);
        if delivery.in_flight.is_none() && delivery.next_attempt_at.is_none() {
            delivery.next_attempt_at = Some(at);
        }
    }

    fn finish_attempt(
        &mut self,
        stamp: Stamp,
        delivery_id: DeliveryId,
        attempt: u32,
        result: &AttemptResult,
        next: NextStep,
    ) {
        let delivery = self.delivery_mut(delivery_id);
        let sent = delivery
            .in_flight
            .take()
            .map_or(stamp, |in_flight| in_flight.sent);

        let (outcome, excerpt) = match result {
            AttemptResult::Response {
                status, excerpt, ..
            } => (AttemptOutcome::Status(*status), excerpt.clone()),
            AttemptResult::Transport(error) => (AttemptOutcome::Error(*error), String::new()),
        };
        let entry = AttemptEntry {
            delivery_id,
            endpoint: delivery.endpoint.clone(),
            event_id: delivery.event_id.clone(),
            attempt,
            sent_at: sent.at,
            sent_wall: sent.wall,
            duration: stamp.at.saturating_sub(sent.at),
            outcome,
            excerpt,
        };
        match next {
            NextStep::RetryAt(at) => delivery.next_attempt_at = Some(at),
            NextStep::Held => delivery.reset_budget(),
            NextStep::Delivered | NextStep::Failed => {}
        }
        self.log.push_attempt(entry);

        match next {
            NextStep::RetryAt(_) | NextStep::Held => {}
            NextStep::Delivered => {
                self.finalize(stamp, delivery_id, FinalOutcome::Delivered, attempt);
            }
            NextStep::Failed => self.finalize(stamp, delivery_id, FinalOutcome::Failed, attempt),
        }
    }

    /// Ends a delivery, removes it from its queue and makes the next one due.
    fn finalize(
        &mut self,
        stamp: Stamp,
        delivery_id: DeliveryId,
        outcome: FinalOutcome,
        attempts: u32,
    ) {
        let delivery = self.delivery_mut(delivery_id);
        delivery.status = match outcome {
            FinalOutcome::Delivered => DeliveryStatus::Delivered,
            FinalOutcome::Failed => DeliveryStatus::Failed,
        };
        delivery.next_attempt_at = None;
        delivery.finished = Some(stamp);
        let endpoint = delivery.endpoint.clone();
        let final_entry = FinalEntry {
            delivery_id,
            endpoint: endpoint.clone(),
            event_id: delivery.event_id.clone(),
            outcome,
            attempts,
            at: stamp.at,
            wall: stamp.wall,
        };

        if let Some(queue) = self.queues.get_mut(&endpoint) {
            queue.retain(|id| *id != delivery_id);
        }
        if let Some(state) = self.endpoints.get_mut(&endpoint) {
            if outcome == FinalOutcome::Delivered {
                state.consecutive_failures = 0;
            } else {
                state.consecutive_failures += 1;
            }
        }
        self.log.push_final(final_entry);
        self.schedule_head(&endpoint, stamp.at);
    }

    fn prune(&mut self, before: Millis) {
        self.log.prune(before);

        self.deliveries.retain(|_, delivery| {
            delivery.status == DeliveryStatus::Pending
                || delivery
                    .finished
                    .is_none_or(|finished| finished.at >= before)
        });

        let mut referenced: std::collections::BTreeSet<(&str, &str)> = Default::default();
        for delivery in self.deliveries.values() {
            referenced.insert((&delivery.endpoint.workspace_id, &delivery.event_id));
        }
        let keep: std::collections::BTreeSet<(String, String)> = self
            .events
            .iter()
            .filter(|((workspace, id), stored)| {
                stored.accepted.at >= before
                    || referenced.contains(&(workspace.as_str(), id.as_str()))
            })
            .map(|(key, _)| key.clone())
            .collect();
        self.events.retain(|key, _| keep.contains(key));
    }
}
