//! The delivery state machine.

use crate::endpoint::{DisabledReason, EndpointConfig, EndpointError, EndpointRef};
use crate::event::{Event, EventError};
use crate::filter::Filter;
use crate::log::{DeliveryId, DeliveryLog};
use crate::outcome::{AttemptResult, TransportError};
use crate::record::{NextStep, Record, Stamp};
use crate::request::SignedRequest;
use crate::schedule::RetryPolicy;
use crate::signature::SigningKey;
use crate::state::{Delivery, State};
use crate::time::{Millis, Now, UnixMillis};
use std::collections::{BTreeMap, VecDeque};

#[cfg(feature = "planted-bugs")]
mod planted;
mod replay;

#[cfg(feature = "planted-bugs")]
pub use planted::PlantedBug;

/// Settings of a [`Core`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub retry: RetryPolicy,
    /// How long events can be replayed and log entries listed (30 days).
    pub retention: Millis,
    /// Number of deliveries in a row that may exhaust their whole budget on one endpoint before
    /// the endpoint is disabled and its queue held. Zero never disables.
    pub disable_after_failures: u32,
    /// Whether endpoint URLs may name loopback, private, link-local or reserved addresses (and
    /// `localhost`). Off by default, because a webhook sender could otherwise be used to reach
    /// internal services; turn it on only for local testing.
    pub allow_private_endpoints: bool,
    /// Extra time past the attempt timeout after which the core itself records a timeout for
    /// an attempt whose result never arrived, so a lost result cannot stall a queue.
    pub result_grace: Millis,
    /// Interval between prunes of the log and of expired events.
    pub prune_interval: Millis,
    /// A deliberately broken behaviour, used only to prove that the simulation's checkers
    /// catch bugs.
    #[cfg(feature = "planted-bugs")]
    pub planted_bug: Option<PlantedBug>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            retry: RetryPolicy::default(),
            retention: Millis::from_secs(30 * 24 * 3600),
            disable_after_failures: 1,
            allow_private_endpoints: false,
            result_grace: Millis::from_secs(5),
            prune_interval: Millis::from_secs(3600),
            #[cfg(feature = "planted-bugs")]
            planted_bug: None,
        }
    }
}

/// A change of a delivery or an endpoint, for the application to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// A 2xx arrived.
    Delivered {
        delivery_id: DeliveryId,
        endpoint: EndpointRef,
        event_id: String,
        attempts: u32,
    },
    /// The budget ran out without a 2xx.
    Failed {
        delivery_id: DeliveryId,
        endpoint: EndpointRef,
        event_id: String,
        attempts: u32,
    },
    /// The endpoint was disabled; `backlog` deliveries wait in its queue.
    EndpointDisabled {
        endpoint: EndpointRef,
        reason: DisabledReason,
        backlog: usize,
    },
}

/// One attempt to send: the signed request and where its result goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub delivery_id: DeliveryId,
    pub endpoint: EndpointRef,
    pub event_id: String,
    pub attempt: u32,
    pub request: SignedRequest,
    /// The caller reports `Transport(Timeout)` when no status line arrives within this. A 2xx
    /// status within it is a success even if the body is still arriving.
    pub timeout: Millis,
}

/// The result of a publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// The event was accepted with one delivery per subscribed endpoint.
    Accepted { deliveries: Vec<DeliveryId> },
    /// The same id with the same bytes was already accepted; nothing changed.
    Duplicate,
}

/// The target of a replay of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayTarget {
    /// One endpoint of the event's workspace, which must subscribe to the event's type.
    Endpoint(String),
    /// Every endpoint of the event's workspace that subscribes to its type.
    AllSubscribed,
}

/// An error returned by a command. Nothing changed when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    /// The event body is invalid.
    #[error(transparent)]
    Event(#[from] EventError),
    /// The endpoint configuration is invalid.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// The endpoint URL names a loopback, private or reserved address.
    #[error(
        "endpoint {endpoint} URL {url:?} is not allowed: {reason}; use a public address, or allow private endpoints for local testing"
    )]
    PrivateEndpoint {
        endpoint: EndpointRef,
        url: String,
        reason: String,
    },
    /// An event with this id and different bytes was already published in the workspace.
    #[error(
        "event {event_id} was already published in workspace {workspace_id} with a different body: publish changes under a new id"
    )]
    IdConflict {
        workspace_id: String,
        event_id: String,
    },
    /// The endpoint does not exist in the workspace.
    #[error("endpoint {endpoint} not found: create it first, in the same workspace")]
    UnknownEndpoint { endpoint: EndpointRef },
    /// The event does not exist in the workspace, or was pruned.
    #[error("event {event_id} not found in workspace {workspace_id}")]
    UnknownEvent {
        workspace_id: String,
        event_id: String,
    },
    /// The event is older than the retention period.
    #[error(
        "event {event_id} was published {age} ago, past the {retention} retention: it can no longer be replayed"
    )]
    PastRetention {
        event_id: String,
        age: Millis,
        retention: Millis,
    },
    /// The endpoint named in a replay does not subscribe to the event's type.
    #[error(
        "endpoint {endpoint} does not subscribe to {event_type}: add a matching filter or replay to all subscribed endpoints"
    )]
    NotSubscribed {
        endpoint: EndpointRef,
        event_type: String,
    },
    /// A replay matched no endpoint or no delivery.
    #[error("replay matched nothing: {reason}")]
    NothingToReplay { reason: String },
    /// A time range ends before it starts.
    #[error("invalid time range: it ends at {to} ms, before its start at {from} ms")]
    InvalidRange { from: i64, to: i64 },
    /// A result names no attempt in flight: it is late, repeated or unknown, and was ignored.
    #[error("no attempt {attempt} of delivery {delivery_id} is in flight; the result was ignored")]
    UnknownAttempt {
        delivery_id: DeliveryId,
        attempt: u32,
    },
    /// The records given to `restore` are out of order or contradict each other.
    #[error("cannot restore: {reason}")]
    CorruptRecords { reason: String },
}

/// The status and backlog of one endpoint's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointStatus {
    pub disabled: Option<DisabledReason>,
    /// Pending deliveries, the head included.
    pub backlog: usize,
    /// When the oldest pending delivery was queued, by the wall clock.
    pub oldest_queued: Option<UnixMillis>,
    pub consecutive_failures: u32,
}

/// The sans-IO delivery state machine.
///
/// Methods fall into four groups:
///
/// - commands: [`Core::save_endpoint`], [`Core::disable_endpoint`],
///   [`Core::enable_endpoint`], [`Core::publish`], [`Core::replay_event`],
///   [`Core::replay_range`];
/// - inputs: [`Core::handle_timeout`] when the time from [`Core::poll_timeout`] comes (a
///   spurious call is harmless) and [`Core::handle_result`] when an attempt ends;
/// - outputs, drained after every command and input, in this order: [`Core::poll_record`]
///   (persist each before going on), [`Core::poll_transmit`] (send each),
///   [`Core::poll_notification`], then [`Core::poll_timeout`];
/// - getters: [`Core::endpoint_status`], [`Core::delivery`], [`Core::log`], [`Core::state`].
///
/// Every command and input takes [`Now`]: the monotonic clock schedules attempts and the wall
/// clock signs them. The wall clock can step backwards or forwards without moving any timer, so
/// a clock step causes neither a burst of early retries nor a stuck queue.
pub struct Core {
    config: Config,
    state: State,
    /// Core timeline minus the caller's monotonic clock.
    offset: i128,
    filters: BTreeMap<EndpointRef, Filter>,
    keys: BTreeMap<EndpointRef, SigningKey>,
    records: VecDeque<Record>,
    transmits: VecDeque<Transmit>,
    notifications: VecDeque<Notification>,
}

impl Core {
    /// Creates an empty core whose timeline starts at zero.
    pub fn new(config: Config, now: Now) -> Core {
        let state = State {
            last_stamp: Stamp {
                at: Millis::ZERO,
                wall: now.wall,
            },
            ..State::default()
        };
        Core::from_parts(config, state, Millis::ZERO, now)
    }

    /// Rebuilds a core from a snapshot (or an empty state) and the records written after it.
    ///
    /// The timeline resumes at the last record's time plus the wall-clock time since that record
    /// (zero if the wall clock reads earlier). Attempts that were in flight are recorded as
    /// interrupted and retried on the normal schedule; their records are the first ones
    /// [`Core::poll_record`] returns.
    pub fn restore(
        config: Config,
        snapshot: Option<State>,
        records: impl IntoIterator<Item = Record>,
        now: Now,
    ) -> Result<Core, CoreError> {
        let mut state = snapshot.unwrap_or_default();
        for record in records {
            check_record(&state, &record)?;
            state.apply(&record);
        }

        let last = state.last_stamp;
        let downtime = u64::try_from(now.wall.0.saturating_sub(last.wall.0)).unwrap_or(0);
        let resume_at = last.at.saturating_add(Millis(downtime));
        let mut core = Core::from_parts(config, state, resume_at, now);

        let interrupted: Vec<(DeliveryId, u32)> = core
            .state
            .deliveries
            .values()
            .filter_map(|d| d.in_flight.map(|f| (d.id, f.attempt)))
            .collect();
        for (delivery_id, attempt) in interrupted {
            let stamp = core.stamp(now);
            let result = AttemptResult::Transport(TransportError::Interrupted);
            core.finish_attempt(stamp, delivery_id, attempt, result);
        }
        Ok(core)
    }

    fn from_parts(config: Config, state: State, resume_at: Millis, now: Now) -> Core {
        let mut core = Core {
            config,
            state,
            offset: i128::from(resume_at.0) - i128::from(now.monotonic.0),
            filters: BTreeMap::new(),
            keys: BTreeMap::new(),
            records: VecDeque::new(),
            transmits: VecDeque::new(),
            notifications: VecDeque::new(),
        };
        let configs: Vec<EndpointConfig> = core
            .state
            .endpoints
            .values()
            .map(|e| e.config.clone())
            .collect();
        for config in configs {
            core.cache_endpoint(&config);
        }
        core
    }

    fn cache_endpoint(&mut self, config: &EndpointConfig) {
        // Saved configurations were validated before their record was written.
        if let Ok(filter) = config.validate() {
            self.filters.insert(config.endpoint.clone(), filter);
        }
        self.keys
            .insert(config.endpoint.clone(), SigningKey::new(&config.secret));
    }

    /// Returns the settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Returns the whole durable state, for a snapshot or for inspection.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Returns the delivery log.
    pub fn log(&self) -> &DeliveryLog {
        &self.state.log
    }

    /// Returns one delivery, if it is still retained.
    pub fn delivery(&self, id: DeliveryId) -> Option<&Delivery> {
        self.state.deliveries.get(&id)
    }

    /// Returns the status and backlog of one endpoint.
    pub fn endpoint_status(&self, endpoint: &EndpointRef) -> Option<EndpointStatus> {
        let state = self.state.endpoints.get(endpoint)?;
        let queue = self.state.queues.get(endpoint);
        let oldest_queued = queue
            .and_then(VecDeque::front)
            .and_then(|id| self.state.deliveries.get(id))
            .map(|d| d.queued.wall);
        Some(EndpointStatus {
            disabled: state.disabled,
            backlog: queue.map_or(0, VecDeque::len),
            oldest_queued,
            consecutive_failures: state.consecutive_failures,
        })
    }

    // ---- outputs ----

    /// Returns the next record to persist. Persist it before sending any transmit drained
    /// after it.
    #[must_use]
    pub fn poll_record(&mut self) -> Option<Record> {
        self.records.pop_front()
    }

    /// Returns the next request to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// Returns the next notification.
    #[must_use]
    pub fn poll_notification(&mut self) -> Option<Notification> {
        self.notifications.pop_front()
    }

    /// Returns when [`Core::handle_timeout`] should be called next, on the caller's monotonic
    /// clock, or `None` when nothing is scheduled.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Millis> {
        let mut earliest: Option<Millis> = None;
        let mut consider = |at: Millis| {
            earliest = Some(earliest.map_or(at, |e| e.min(at)));
        };

        for queue in self.state.queues.values() {
            let Some(head) = queue.front().and_then(|id| self.state.deliveries.get(id)) else {
                continue;
            };
            if let Some(in_flight) = head.in_flight {
                consider(self.result_deadline(in_flight.sent.at));
            } else if let Some(at) = head.next_attempt_at
                && self.is_enabled(&head.endpoint)
            {
                consider(at);
            }
        }
        if !self.state.events.is_empty() || !self.state.log.is_empty() {
            consider(
                self.state
                    .last_prune
                    .saturating_add(self.config.prune_interval),
            );
        }

        earliest.map(|at| self.to_caller(at))
    }

    // ---- inputs ----

    /// Starts every attempt that is due, times out attempts whose result is overdue, and
    /// prunes expired entries.
    pub fn handle_timeout(&mut self, now: Now) {
        let stamp = self.stamp(now);

        if stamp.at
            >= self
                .state
                .last_prune
                .saturating_add(self.config.prune_interval)
        {
            let before = stamp.at.saturating_sub(self.config.retention);
            self.record(Record::Pruned { stamp, before });
        }

        // A timeout can make the next head of its queue due at once, so repeat until a pass
        // finds nothing to do. Every pass either starts attempts (now in flight) or ends them.
        loop {
            let (timed_out, due) = self.due_work(stamp);
            if timed_out.is_empty() && due.is_empty() {
                break;
            }

            for (delivery_id, attempt) in timed_out {
                let result = AttemptResult::Transport(TransportError::Timeout);
                self.finish_attempt(stamp, delivery_id, attempt, result);
            }

            let budget = self.retry_policy().budget;
            for delivery_id in due {
                let delivery = &self.state.deliveries[&delivery_id];
                let deadline = delivery
                    .first_attempt_at
                    .map(|first| first.saturating_add(budget));
                if deadline.is_some_and(|deadline| stamp.at > deadline) {
                    self.expire(stamp, delivery_id);
                } else {
                    self.start_attempt(stamp, delivery_id);
                }
            }
        }
    }

    /// Lists the attempts whose result is overdue and the queue heads whose next attempt is
    /// due, in queue order, without changing anything.
    fn due_work(&self, stamp: Stamp) -> (Vec<(DeliveryId, u32)>, Vec<DeliveryId>) {
        let mut timed_out = Vec::new();
        let mut due = Vec::new();

        for (endpoint, queue) in &self.state.queues {
            let Some(head) = queue.front().and_then(|id| self.state.deliveries.get(id)) else {
                continue;
            };
            if let Some(in_flight) = head.in_flight {
                if stamp.at >= self.result_deadline(in_flight.sent.at) {
                    timed_out.push((head.id, in_flight.attempt));
                }
                continue;
            }
            let is_due = head.next_attempt_at.is_some_and(|at| at <= stamp.at);
            if is_due && self.is_enabled(endpoint) {
                due.push(head.id);
            }
        }
        (timed_out, due)
    }

    /// Takes the result of an attempt from a [`Transmit`].
    ///
    /// A result for an attempt that is not in flight (late after the core's own timeout,
    /// repeated, or unknown) changes nothing and returns [`CoreError::UnknownAttempt`].
    pub fn handle_result(
        &mut self,
        now: Now,
        delivery_id: DeliveryId,
        attempt: u32,
        result: AttemptResult,
    ) -> Result<(), CoreError> {
        let in_flight = self
            .state
            .deliveries
            .get(&delivery_id)
            .and_then(|d| d.in_flight)
            .filter(|f| f.attempt == attempt);
        if in_flight.is_none() {
            return Err(CoreError::UnknownAttempt {
                delivery_id,
                attempt,
            });
        }

        let stamp = self.stamp(now);
        self.finish_attempt(stamp, delivery_id, attempt, result);
        self.handle_timeout(now);
        Ok(())
    }

    // ---- commands ----

    /// Creates an endpoint or changes its URL, secret or filters. Changes apply to attempts
    /// started afterwards; a new filter applies to events published afterwards.
    pub fn save_endpoint(&mut self, now: Now, config: EndpointConfig) -> Result<(), CoreError> {
        config.validate()?;
        if !self.config.allow_private_endpoints
            && let Some(reason) = crate::address::forbidden_host_reason(&config.url)
        {
            return Err(CoreError::PrivateEndpoint {
                endpoint: config.endpoint,
                url: config.url,
                reason,
            });
        }
        let stamp = self.stamp(now);
        self.cache_endpoint(&config);
        self.record(Record::EndpointSaved { stamp, config });
        Ok(())
    }

    /// Disables an endpoint: no attempt starts until it is enabled; its queue is held.
    pub fn disable_endpoint(&mut self, now: Now, endpoint: &EndpointRef) -> Result<(), CoreError> {
        self.known_endpoint(endpoint)?;
        let stamp = self.stamp(now);
        self.disable(stamp, endpoint, DisabledReason::Operator);
        Ok(())
    }

    /// Enables an endpoint; its held deliveries resume in order, each with a fresh budget.
    pub fn enable_endpoint(&mut self, now: Now, endpoint: &EndpointRef) -> Result<(), CoreError> {
        self.known_endpoint(endpoint)?;
        let stamp = self.stamp(now);
        self.record(Record::EndpointEnabled {
            stamp,
            endpoint: endpoint.clone(),
        });
        self.handle_timeout(now);
        Ok(())
    }

    /// Validates and accepts an event body, queueing one delivery per endpoint of its workspace
    /// whose filter matches its type. The body bytes are kept exactly as given.
    ///
    /// Publishing the same id again with the same bytes returns [`Published::Duplicate`]; with
    /// different bytes it returns [`CoreError::IdConflict`].
    pub fn publish(&mut self, now: Now, body: &[u8]) -> Result<Published, CoreError> {
        let event = Event::from_body(body)?;

        let key = (event.workspace_id.clone(), event.id.clone());
        if let Some(existing) = self.state.events.get(&key) {
            if existing.event.body == event.body {
                return Ok(Published::Duplicate);
            }
            return Err(CoreError::IdConflict {
                workspace_id: event.workspace_id,
                event_id: event.id,
            });
        }

        let targets: Vec<EndpointRef> = self
            .state
            .endpoints
            .keys()
            .filter(|endpoint| endpoint.workspace_id == event.workspace_id)
            .filter(|endpoint| self.subscribes(endpoint, &event))
            .cloned()
            .collect();
        let deliveries = self.allocate(targets);
        let ids = deliveries.iter().map(|(id, _)| *id).collect();

        let stamp = self.stamp(now);
        self.record(Record::EventAccepted {
            stamp,
            event,
            deliveries,
        });
        self.handle_timeout(now);
        Ok(Published::Accepted { deliveries: ids })
    }

    // ---- internals ----

    fn record(&mut self, record: Record) {
        self.state.apply(&record);
        self.records.push_back(record);
    }

    /// Maps the caller's clocks onto the core's timeline, which never runs backwards.
    fn stamp(&self, now: Now) -> Stamp {
        let mapped = i128::from(now.monotonic.0) + self.offset;
        let mapped = Millis(u64::try_from(mapped.max(0)).unwrap_or(u64::MAX));
        Stamp {
            at: mapped.max(self.state.last_stamp.at),
            wall: now.wall,
        }
    }

    fn to_caller(&self, at: Millis) -> Millis {
        let caller = i128::from(at.0) - self.offset;
        Millis(u64::try_from(caller.max(0)).unwrap_or(u64::MAX))
    }

    fn result_deadline(&self, sent_at: Millis) -> Millis {
        sent_at
            .saturating_add(self.config.retry.attempt_timeout)
            .saturating_add(self.config.result_grace)
    }

    fn is_enabled(&self, endpoint: &EndpointRef) -> bool {
        self.state
            .endpoints
            .get(endpoint)
            .is_some_and(|e| e.disabled.is_none())
    }

    fn subscribes(&self, endpoint: &EndpointRef, event: &Event) -> bool {
        self.filters
            .get(endpoint)
            .is_some_and(|filter| filter.matches(event.event_type))
    }

    fn known_endpoint(&self, endpoint: &EndpointRef) -> Result<(), CoreError> {
        if self.state.endpoints.contains_key(endpoint) {
            Ok(())
        } else {
            Err(CoreError::UnknownEndpoint {
                endpoint: endpoint.clone(),
            })
        }
    }

    fn check_retention(
        &self,
        stamp: Stamp,
        event_id: &str,
        accepted_at: Millis,
    ) -> Result<(), CoreError> {
        let age = stamp.at.saturating_sub(accepted_at);
        if age >= self.config.retention {
            return Err(CoreError::PastRetention {
                event_id: event_id.to_owned(),
                age,
                retention: self.config.retention,
            });
        }
        Ok(())
    }

    fn allocate(&mut self, targets: Vec<EndpointRef>) -> Vec<(DeliveryId, EndpointRef)> {
        let start = self.state.next_delivery_id;
        targets
            .into_iter()
            .enumerate()
            .map(|(i, endpoint)| (DeliveryId(start + i as u64), endpoint))
            .collect()
    }

    fn disable(&mut self, stamp: Stamp, endpoint: &EndpointRef, reason: DisabledReason) {
        self.record(Record::EndpointDisabled {
            stamp,
            endpoint: endpoint.clone(),
            reason,
        });
        let backlog = self.state.queues.get(endpoint).map_or(0, VecDeque::len);
        self.notifications
            .push_back(Notification::EndpointDisabled {
                endpoint: endpoint.clone(),
                reason,
                backlog,
            });
    }

    /// Fails a delivery whose retry came due only after its deadline, because no attempt may
    /// start later than the budget allows.
    fn expire(&mut self, stamp: Stamp, delivery_id: DeliveryId) {
        let delivery = &self.state.deliveries[&delivery_id];
        let endpoint = delivery.endpoint.clone();
        let event_id = delivery.event_id.clone();
        let attempts = delivery.attempts;

        self.record(Record::DeliveryExpired { stamp, delivery_id });
        self.notifications.push_back(Notification::Failed {
            delivery_id,
            endpoint: endpoint.clone(),
            event_id,
            attempts,
        });
        self.disable_if_failing(stamp, &endpoint);
    }

    fn disable_if_failing(&mut self, stamp: Stamp, endpoint: &EndpointRef) {
        let failures = self.state.endpoints[endpoint].consecutive_failures;
        let limit = self.config.disable_after_failures;
        if limit > 0 && failures >= limit && self.is_enabled(endpoint) {
            self.disable(stamp, endpoint, DisabledReason::Failing);
        }
    }

    fn start_attempt(&mut self, stamp: Stamp, delivery_id: DeliveryId) {
        let delivery = &self.state.deliveries[&delivery_id];
        let attempt = delivery.attempts + 1;
        let endpoint = delivery.endpoint.clone();
        let event_id = delivery.event_id.clone();

        let key = (endpoint.workspace_id.clone(), event_id.clone());
        let event = &self.state.events[&key].event;
        let url = &self.state.endpoints[&endpoint].config.url;
        let signing_key = &self.keys[&endpoint];
        let sent_at = self.signature_time(stamp, event);
        let request = SignedRequest::build(event, url, signing_key, attempt, sent_at);

        self.record(Record::AttemptStarted {
            stamp,
            delivery_id,
            attempt,
        });
        #[cfg(feature = "planted-bugs")]
        if self.config.planted_bug == Some(PlantedBug::BudgetFromPublish) && attempt == 1 {
            let accepted = self.state.events[&key].accepted.at;
            self.state.delivery_mut(delivery_id).first_attempt_at = Some(accepted);
        }
        self.transmits.push_back(Transmit {
            delivery_id,
            endpoint,
            event_id,
            attempt,
            request,
            timeout: self.config.retry.attempt_timeout,
        });
    }

    #[cfg(not(feature = "planted-bugs"))]
    fn signature_time(&self, stamp: Stamp, _event: &Event) -> UnixMillis {
        stamp.wall
    }

    fn finish_attempt(
        &mut self,
        stamp: Stamp,
        delivery_id: DeliveryId,
        attempt: u32,
        result: AttemptResult,
    ) {
        let delivery = &self.state.deliveries[&delivery_id];
        let endpoint = delivery.endpoint.clone();
        let event_id = delivery.event_id.clone();
        let first_attempt_at = delivery.first_attempt_at.unwrap_or(stamp.at);
        let status = match &result {
            AttemptResult::Response { status, .. } => Some(*status),
            AttemptResult::Transport(_) => None,
        };
        let retry_after = match &result {
            AttemptResult::Response { retry_after, .. } => *retry_after,
            AttemptResult::Transport(_) => None,
        };

        let next = if result.is_success() {
            NextStep::Delivered
        } else if status == Some(410) || !self.is_enabled(&endpoint) {
            NextStep::Held
        } else {
            match self.next_retry(first_attempt_at, attempt, stamp.at, retry_after, status) {
                Some(at) => NextStep::RetryAt(at),
                None => NextStep::Failed,
            }
        };

        self.record(Record::AttemptFinished {
            stamp,
            delivery_id,
            attempt,
            result,
            next,
        });
        self.plant_overtake(&endpoint, delivery_id, next);

        match next {
            NextStep::Delivered => {
                self.notifications.push_back(Notification::Delivered {
                    delivery_id,
                    endpoint,
                    event_id,
                    attempts: attempt,
                });
            }
            NextStep::Failed => {
                self.notifications.push_back(Notification::Failed {
                    delivery_id,
                    endpoint: endpoint.clone(),
                    event_id,
                    attempts: attempt,
                });
                self.disable_if_failing(stamp, &endpoint);
            }
            NextStep::Held if status == Some(410) && self.is_enabled(&endpoint) => {
                self.disable(stamp, &endpoint, DisabledReason::Gone);
            }
            NextStep::Held | NextStep::RetryAt(_) => {}
        }
    }

    #[cfg(not(feature = "planted-bugs"))]
    fn retry_policy(&self) -> RetryPolicy {
        self.config.retry
    }

    #[cfg(not(feature = "planted-bugs"))]
    fn next_retry(
        &self,
        first_attempt_at: Millis,
        attempt: u32,
        failed_at: Millis,
        retry_after: Option<Millis>,
        _status: Option<u16>,
    ) -> Option<Millis> {
        self.retry_policy()
            .next_attempt_at(first_attempt_at, attempt, failed_at, retry_after)
    }

    #[cfg(not(feature = "planted-bugs"))]
    fn plant_overtake(
        &mut self,
        _endpoint: &EndpointRef,
        _delivery_id: DeliveryId,
        _next: NextStep,
    ) {
    }
}

/// Checks that a record fits the state before `restore` applies it.
fn check_record(state: &State, record: &Record) -> Result<(), CoreError> {
    let corrupt = |reason: String| Err(CoreError::CorruptRecords { reason });

    if record.stamp().at < state.last_stamp.at {
        return corrupt(format!(
            "record at {} comes after one at {}: records must be replayed in the order written",
            record.stamp().at,
            state.last_stamp.at
        ));
    }
    match record {
        Record::AttemptStarted { delivery_id, .. }
        | Record::AttemptFinished { delivery_id, .. }
            if !state.deliveries.contains_key(delivery_id) =>
        {
            corrupt(format!("an attempt names unknown delivery {delivery_id}"))
        }
        Record::ReplayQueued {
            workspace_id,
            event_id,
            ..
        } if !state
            .events
            .contains_key(&(workspace_id.clone(), event_id.clone())) =>
        {
            corrupt(format!("a replay names unknown event {event_id}"))
        }
        _ => Ok(()),
    }
}
