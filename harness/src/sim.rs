//! The discrete-event simulation: virtual time jumps from one scheduled action or core wake-up
//! to the next, and the sender's sans-IO core is driven through the fault layer.

use crate::network::{Network, Route};
use crate::plan::{Plan, PlannedCrash, PlannedReplay};
use crate::receiver::Receiver;
use crate::report::{Observed, PublishedEvent, ReplayIssued, Stats};
use crate::rng::{Rng, Stream};
use crate::settings::Settings;
use crate::store::Store;
use crate::trace::Trace;
use crate::workload::{EndpointSpec, EventFactory, workspace_id};
use delivery_core::{
    AttemptResult, Config, Core, DeliveryId, EndpointRef, Event, Millis, Notification, Now,
    Published, Record, ReplayTarget, Transmit, TransportError, UnixMillis,
};
use std::collections::BTreeMap;

const MINUTE: u64 = 60_000;

/// Consecutive core wake-ups at one instant after which the driver reports a stalled core.
const MAX_WAKES_AT_ONE_INSTANT: u32 = 10_000;

/// Something scheduled to happen at a simulated time.
#[derive(Debug, Clone)]
enum Action {
    /// Publishes planned event `index`; `event` is the body of a retried publish.
    Publish {
        index: usize,
        event: Option<Event>,
    },
    Replay(PlannedReplay),
    Disable(usize),
    Enable(usize),
    Crash(PlannedCrash),
    /// Crashes a sender whose mid-drain crash found no drain to cut within ten minutes.
    CrashFallback,
    Restart,
    /// A request reaches its receiver.
    Arrive(u64),
    /// An attempt's result reaches the sender process `incarnation`.
    Result {
        incarnation: u32,
        delivery_id: DeliveryId,
        attempt: u32,
        result: AttemptResult,
    },
    Heal,
}

/// A request on the wire.
#[derive(Debug, Clone)]
struct Flight {
    transmit: Transmit,
    receiver: usize,
    incarnation: u32,
    sent_at: u64,
    response_ms: u64,
    response_lost: bool,
}

/// The sender process: a core, or nothing while it is down.
struct Sender {
    core: Option<Core>,
    /// Counts restarts; results addressed to an older process are dropped.
    incarnation: u32,
    /// Simulated time at which the process started.
    boot_at: u64,
    /// Reading of the process's monotonic clock at `boot_at`. Its origin is arbitrary.
    monotonic_base: u64,
}

/// A run in progress.
pub struct Simulation {
    settings: Settings,
    config: Config,
    plan: Plan,
    now: u64,
    queue: BTreeMap<(u64, u64), Action>,
    next_sequence: u64,
    sender: Sender,
    store: Store,
    endpoint_index: BTreeMap<EndpointRef, usize>,
    receivers: Vec<Receiver>,
    network: Network,
    factory: EventFactory,
    flights: BTreeMap<u64, Flight>,
    next_flight: u64,
    /// A mid-drain crash waiting for the next drain that persists records: its downtime.
    armed_crash: Option<u64>,
    /// Commands that found the sender down, repeated when it restarts.
    deferred: Vec<Action>,
    receiver_rng: Rng,
    crash_rng: Rng,
    operator_rng: Rng,
    observed: Observed,
    stats: Stats,
    trace: Trace,
    /// Problems of the driver itself, such as a failed restore or a stalled core.
    driver_errors: Vec<String>,
    /// Stretches of the core's timeline that no sender process lived through, as
    /// `(last persisted record, resume time)` of each restart.
    sender_gaps: Vec<(u64, u64)>,
}

/// Everything a finished run leaves for the checkers and the report.
pub struct Finished {
    pub settings: Settings,
    pub plan: Plan,
    pub core: Core,
    pub receivers: Vec<Receiver>,
    pub observed: Observed,
    pub stats: Stats,
    pub trace: Trace,
    pub driver_errors: Vec<String>,
    pub sender_gaps: Vec<(u64, u64)>,
    pub end_at: u64,
}

impl Simulation {
    /// Prepares a run of `settings` whose sender uses `config`.
    pub fn new(settings: &Settings, config: Config, trace: bool) -> Simulation {
        let plan = Plan::draw(settings);
        let seed = settings.seed;

        let receivers: Vec<Receiver> = plan
            .endpoints
            .iter()
            .zip(&plan.receiver_clocks)
            .zip(&plan.receiver_windows)
            .map(|((spec, clock), windows)| {
                let mut receiver =
                    Receiver::new(spec.endpoint().clone(), &spec.config.secret, *clock);
                receiver.windows = windows.clone();
                receiver.flaky_permille = settings.receivers.flaky_permille;
                receiver.healed_at = plan.heal_at;
                receiver
            })
            .collect();
        let endpoint_index = plan
            .endpoints
            .iter()
            .enumerate()
            .map(|(index, spec)| (spec.endpoint().clone(), index))
            .collect();
        let network = Network::new(
            settings.network.clone(),
            plan.partitions.clone(),
            plan.heal_at,
            Rng::stream(seed, Stream::Network),
        );
        let mut factory_rng = Rng::stream(seed, Stream::Workload);

        let mut simulation = Simulation {
            settings: settings.clone(),
            config,
            now: 0,
            queue: BTreeMap::new(),
            next_sequence: 0,
            sender: Sender {
                core: None,
                incarnation: 0,
                boot_at: 0,
                monotonic_base: 0,
            },
            store: Store::new(settings.crashes.snapshot_every),
            endpoint_index,
            receivers,
            network,
            factory: EventFactory::new(&mut factory_rng),
            flights: BTreeMap::new(),
            next_flight: 0,
            armed_crash: None,
            deferred: Vec::new(),
            receiver_rng: Rng::stream(seed, Stream::Receivers),
            crash_rng: Rng::stream(seed, Stream::Crashes),
            operator_rng: Rng::stream(seed, Stream::Operator),
            observed: Observed::default(),
            stats: Stats::default(),
            trace: Trace::new(trace),
            driver_errors: Vec::new(),
            sender_gaps: Vec::new(),
            plan,
        };
        simulation.schedule_plan();
        simulation
    }

    fn schedule(&mut self, at: u64, action: Action) {
        self.queue.insert((at, self.next_sequence), action);
        self.next_sequence += 1;
    }

    fn schedule_plan(&mut self) {
        let plan = self.plan.clone();
        for (index, event) in plan.events.iter().enumerate() {
            self.schedule(event.at, Action::Publish { index, event: None });
        }
        for replay in &plan.replays {
            let at = match replay {
                PlannedReplay::Event { at, .. } | PlannedReplay::Range { at, .. } => *at,
            };
            self.schedule(at, Action::Replay(*replay));
        }
        for toggle in &plan.toggles {
            self.schedule(toggle.from, Action::Disable(toggle.endpoint));
            self.schedule(toggle.to, Action::Enable(toggle.endpoint));
        }
        for crash in &plan.crashes {
            self.schedule(crash.at, Action::Crash(*crash));
        }
        self.schedule(plan.heal_at, Action::Heal);

        self.stats.fault_planned(
            "sender_clock_step",
            plan.sender_clock.steps.len().saturating_sub(1) as u64,
        );
        if self.settings.workload.bursts > 0 && self.settings.workload.burst_size > 0 {
            self.stats
                .fault_planned("burst", u64::from(self.settings.workload.bursts));
        }
    }

    /// Returns the sender's two clocks now.
    fn sender_now(&self) -> Now {
        Now {
            monotonic: Millis(self.sender.monotonic_base + (self.now - self.sender.boot_at)),
            wall: UnixMillis(self.plan.sender_clock.wall_ms(self.now)),
        }
    }

    /// Runs to the end and returns what the checkers need.
    pub fn run(mut self, mut progress: impl FnMut(u64, &Stats)) -> Finished {
        self.boot();
        let mut wakes_here = 0u32;
        let mut last_progress = 0u64;

        loop {
            let next_action = self.queue.first_key_value().map(|((at, _), _)| *at);
            let next_wake = self.next_wake();
            let next = match (next_action, next_wake) {
                (Some(a), Some(w)) => a.min(w),
                (Some(a), None) => a,
                (None, Some(w)) => w,
                (None, None) => break,
            };
            if next > self.plan.end_at {
                break;
            }
            let advanced = next > self.now;
            self.now = self.now.max(next);
            if self.now >= last_progress + 6 * 60 * MINUTE {
                last_progress = self.now;
                progress(self.now, &self.stats);
            }

            if next_wake == Some(next) && next_action.is_none_or(|a| a > next) {
                wakes_here = if advanced { 0 } else { wakes_here + 1 };
                if wakes_here > MAX_WAKES_AT_ONE_INSTANT {
                    self.driver_errors.push(format!(
                        "the core asked for a wake-up at {} ms {MAX_WAKES_AT_ONE_INSTANT} times without progress",
                        self.now
                    ));
                    break;
                }
                let now = self.sender_now();
                if let Some(core) = self.sender.core.as_mut() {
                    core.handle_timeout(now);
                }
                self.drain();
            } else {
                let (_, action) = self.queue.pop_first().expect("an action is due");
                self.perform(action);
            }
            if !self.driver_errors.is_empty() {
                break;
            }
        }

        if self.sender.core.is_none() {
            self.restart();
        }
        let core = self.sender.core.take().expect("the sender runs at the end");
        Finished {
            settings: self.settings,
            end_at: self.plan.end_at,
            plan: self.plan,
            core,
            receivers: self.receivers,
            observed: self.observed,
            stats: self.stats,
            trace: self.trace,
            driver_errors: self.driver_errors,
            sender_gaps: self.sender_gaps,
        }
    }

    /// Returns the simulated time of the core's next wake-up.
    fn next_wake(&self) -> Option<u64> {
        let core = self.sender.core.as_ref()?;
        let monotonic = core.poll_timeout()?;
        Some(self.sender.boot_at + monotonic.0.saturating_sub(self.sender.monotonic_base))
    }

    /// Starts the first sender process and creates every endpoint.
    fn boot(&mut self) {
        let now = self.sender_now();
        let mut core = Core::new(self.config.clone(), now);
        for spec in &self.plan.endpoints {
            core.save_endpoint(now, spec.config.clone())
                .expect("built endpoints are valid");
        }
        self.sender.core = Some(core);
        self.drain();
        self.trace.line(self.now, || {
            format!("boot endpoints={}", self.plan.endpoints.len())
        });
    }

    fn perform(&mut self, action: Action) {
        match action {
            Action::Publish { index, event } => self.publish(index, event),
            Action::Replay(replay) => self.replay(replay),
            Action::Disable(endpoint) => self.operator_disable(endpoint),
            Action::Enable(endpoint) => self.operator_enable(endpoint),
            Action::Crash(crash) => {
                if self.sender.core.is_none() {
                    return;
                }
                if crash.mid_drain {
                    self.armed_crash = Some(crash.downtime);
                    self.schedule(self.now + 10 * MINUTE, Action::CrashFallback);
                } else {
                    self.crash(crash.downtime, false);
                }
            }
            Action::CrashFallback => {
                if let Some(downtime) = self.armed_crash.take() {
                    self.crash(downtime, false);
                }
            }
            Action::Restart => self.restart(),
            Action::Arrive(flight) => self.arrive(flight),
            Action::Result {
                incarnation,
                delivery_id,
                attempt,
                result,
            } => self.deliver_result(incarnation, delivery_id, attempt, result),
            Action::Heal => self.heal(),
        }
    }

    // ---- the sender's outputs ----

    /// Drains the core's outputs in the documented order. Returns false when a crash struck.
    fn drain(&mut self) -> bool {
        let Some(core) = self.sender.core.as_mut() else {
            return false;
        };
        let mut records = Vec::new();
        while let Some(record) = core.poll_record() {
            records.push(record);
        }

        if let Some(downtime) = self.armed_crash
            && !records.is_empty()
        {
            self.armed_crash = None;
            let cut = self.crash_rng.below(records.len() as u64 + 1) as usize;
            records.truncate(cut);
            for record in records {
                self.persist(record);
            }
            self.crash(downtime, true);
            return false;
        }
        for record in records {
            self.persist(record);
        }

        let core = self.sender.core.as_mut().expect("the sender is up");
        let mut transmits = Vec::new();
        while let Some(transmit) = core.poll_transmit() {
            transmits.push(transmit);
        }
        let mut notifications = Vec::new();
        while let Some(notification) = core.poll_notification() {
            notifications.push(notification);
        }
        for transmit in transmits {
            self.send(transmit);
        }
        for notification in notifications {
            self.notify(notification);
        }
        true
    }

    fn persist(&mut self, record: Record) {
        // Deliveries are counted from the records that reach the store, because a crash in the
        // middle of a publish's drain can keep its records yet swallow its acknowledgement.
        if let Record::EventAccepted { deliveries, .. } = &record {
            self.stats.deliveries += deliveries.len() as u64;
        }
        if let Record::ReplayQueued {
            event_id,
            deliveries,
            ..
        } = &record
        {
            self.stats.replayed_deliveries += deliveries.len() as u64;
            for (_, endpoint) in deliveries {
                let index = self.endpoint_index[endpoint];
                self.observed.replays.push(ReplayIssued {
                    at: self.now,
                    endpoint: index,
                    event_id: event_id.clone(),
                });
            }
        }
        self.store.persist(record);
    }

    fn notify(&mut self, notification: Notification) {
        self.trace
            .line(self.now, || format!("notify {notification:?}"));
        if let Notification::EndpointDisabled { endpoint, .. } = &notification {
            let index = self.endpoint_index[endpoint];
            let healed = self.now >= self.plan.heal_at;
            if healed && self.settings.reenable_on_heal {
                self.schedule(self.now + MINUTE, Action::Enable(index));
            } else if let (false, Some(minutes)) =
                (healed, self.settings.operator.reenable_after_minutes)
            {
                self.stats.fault("operator_reenable");
                self.schedule(self.now + minutes * MINUTE, Action::Enable(index));
            }
        }
        self.observed.notifications.push((self.now, notification));
    }

    /// Puts one request on the wire.
    fn send(&mut self, transmit: Transmit) {
        self.stats.attempts += 1;
        let receiver = self.endpoint_index[&transmit.endpoint];
        let route = self.network.route(receiver, self.now);
        self.trace.line(self.now, || {
            format!(
                "send {} {} attempt={} to={} route={route:?}",
                transmit.delivery_id, transmit.event_id, transmit.attempt, transmit.endpoint
            )
        });
        let timeout = transmit.timeout.0;
        let sent_at = self.now;
        let (delivery_id, attempt) = (transmit.delivery_id, transmit.attempt);

        match route {
            Route::Lost(loss) => {
                self.stats.fault(loss.name());
                self.stats.response("timeout");
                self.schedule_result(
                    sent_at + timeout,
                    delivery_id,
                    attempt,
                    AttemptResult::Transport(TransportError::Timeout),
                );
            }
            Route::Deliver {
                request_ms,
                response_ms,
                response_lost,
            } => {
                if self.settings.network.jitter_ms > 0 && self.now < self.plan.heal_at {
                    self.stats.fault("latency_jitter");
                }
                let flight = self.next_flight;
                self.next_flight += 1;
                self.flights.insert(
                    flight,
                    Flight {
                        transmit,
                        receiver,
                        incarnation: self.sender.incarnation,
                        sent_at,
                        response_ms,
                        response_lost,
                    },
                );
                self.schedule(sent_at + request_ms, Action::Arrive(flight));
            }
        }
    }

    fn schedule_result(
        &mut self,
        at: u64,
        delivery_id: DeliveryId,
        attempt: u32,
        result: AttemptResult,
    ) {
        let incarnation = self.sender.incarnation;
        self.schedule_result_for(incarnation, at, delivery_id, attempt, result);
    }

    fn schedule_result_for(
        &mut self,
        incarnation: u32,
        at: u64,
        delivery_id: DeliveryId,
        attempt: u32,
        result: AttemptResult,
    ) {
        self.schedule(
            at,
            Action::Result {
                incarnation,
                delivery_id,
                attempt,
                result,
            },
        );
    }

    /// Hands a request to its receiver and schedules the result the sender will see.
    fn arrive(&mut self, id: u64) {
        let flight = self.flights.remove(&id).expect("every flight arrives once");
        let deadline = flight.sent_at + flight.transmit.timeout.0;
        let (delivery_id, attempt) = (flight.transmit.delivery_id, flight.transmit.attempt);
        let receiver = &mut self.receivers[flight.receiver];
        let window = receiver.window_at(self.now).copied();

        if !receiver.accepts_connection(self.now) {
            let outage = window.is_some_and(|w| w.outage);
            self.stats
                .response(if outage { "outage" } else { "refused" });
            if outage {
                self.stats.fault("outage");
            }
            let at = (self.now + flight.response_ms).min(deadline);
            self.schedule_result_for(
                flight.incarnation,
                at,
                delivery_id,
                attempt,
                AttemptResult::Transport(TransportError::Refused),
            );
            return;
        }

        let reply = receiver.handle(self.now, &flight.transmit.request, &mut self.receiver_rng);
        let arrival = receiver.arrivals.last().expect("handle logs the arrival");
        if arrival.duplicate {
            self.stats.duplicates += 1;
        }
        if receiver.clock.offset_ms(self.now) != 0 {
            self.stats.fault("receiver_clock");
        }
        if window.is_some() {
            self.stats.fault("receiver_window");
        }
        if reply.flaky {
            self.stats.fault("flaky");
        }
        if matches!(arrival.rejected, Some("stale" | "future")) {
            self.stats.fault("signature_skew");
        }
        self.stats.arrivals += 1;
        self.stats.response(reply.kind);
        self.trace.line(self.now, || {
            format!(
                "arrive {} {} attempt={} status={} rejected={:?} duplicate={}",
                flight.transmit.endpoint,
                flight.transmit.event_id,
                attempt,
                reply.status,
                arrival.rejected,
                arrival.duplicate
            )
        });

        let responded_at = self.now + reply.delay_ms;
        let (at, result) = if flight.response_lost {
            self.stats.fault("response_lost");
            if self.network.lost_response_resets() && responded_at < deadline {
                self.stats.response("reset");
                (
                    responded_at,
                    AttemptResult::Transport(TransportError::Reset),
                )
            } else {
                self.stats.response("timeout");
                (deadline, AttemptResult::Transport(TransportError::Timeout))
            }
        } else if responded_at + flight.response_ms > deadline {
            self.stats.response("timeout");
            (deadline, AttemptResult::Transport(TransportError::Timeout))
        } else {
            let at = responded_at + flight.response_ms;
            let retry_after = reply.retry_after_secs.map(|secs| secs.to_string());
            let wall = UnixMillis(self.plan.sender_clock.wall_ms(at));
            let result =
                AttemptResult::from_response(reply.status, retry_after.as_deref(), b"", wall);
            (at, result)
        };
        self.schedule_result_for(flight.incarnation, at, delivery_id, attempt, result);
    }

    fn deliver_result(
        &mut self,
        incarnation: u32,
        delivery_id: DeliveryId,
        attempt: u32,
        result: AttemptResult,
    ) {
        if incarnation != self.sender.incarnation {
            self.stats.results_for_dead_process += 1;
            return;
        }
        let now = self.sender_now();
        let Some(core) = self.sender.core.as_mut() else {
            return;
        };
        self.trace.line(self.now, || {
            format!("result {delivery_id} attempt={attempt} {result:?}")
        });
        if core
            .handle_result(now, delivery_id, attempt, result)
            .is_err()
        {
            self.stats.late_results += 1;
        }
        self.drain();
    }

    // ---- commands ----

    fn publish(&mut self, index: usize, event: Option<Event>) {
        if self.sender.core.is_none() {
            self.deferred.push(Action::Publish { index, event });
            return;
        }
        let planned = self.plan.events[index];
        let retry = event.is_some();
        let event = event.unwrap_or_else(|| {
            let wall = self.plan.sender_clock.wall_ms(self.now);
            self.factory
                .build(planned.event_type, &workspace_id(planned.workspace), wall)
        });

        let now = self.sender_now();
        let core = self.sender.core.as_mut().expect("the sender is up");
        let outcome = core.publish(now, &event.body);
        if !self.drain() {
            // The publisher saw no acknowledgement and publishes the same bytes again.
            self.stats.publish_retries += 1;
            self.deferred.push(Action::Publish {
                index,
                event: Some(event),
            });
            return;
        }
        match outcome {
            Ok(Published::Accepted { .. }) => {}
            Ok(Published::Duplicate) if retry => {}
            Ok(Published::Duplicate) => {
                self.driver_errors.push(format!(
                    "fresh event {} was reported as a duplicate",
                    event.id
                ));
            }
            Err(error) => {
                self.driver_errors
                    .push(format!("publish of {} failed: {error}", event.id));
                return;
            }
        }
        self.trace.line(self.now, || {
            format!(
                "publish {} {} {}",
                event.workspace_id,
                event.id,
                event.event_type.as_str()
            )
        });
        self.stats.events_published += 1;
        self.observed.published.push(PublishedEvent {
            at: self.now,
            workspace: planned.workspace,
            event,
        });
    }

    fn replay(&mut self, replay: PlannedReplay) {
        if self.sender.core.is_none() || self.observed.published.is_empty() {
            return;
        }
        let now = self.sender_now();
        let result = match replay {
            PlannedReplay::Event { endpoint, .. } => {
                let (event, target) = match endpoint {
                    Some(index) => {
                        let spec = &self.plan.endpoints[index];
                        let Some(event) = self.first_event_for(spec) else {
                            return;
                        };
                        (
                            event,
                            ReplayTarget::Endpoint(spec.endpoint().endpoint_id.clone()),
                        )
                    }
                    None => {
                        let count = self.observed.published.len() as u64;
                        let event = self.observed.published
                            [self.operator_rng.below(count) as usize]
                            .event
                            .clone();
                        let target = self.random_target(&event);
                        (event, target)
                    }
                };
                self.stats.fault("replay_event");
                let core = self.sender.core.as_mut().expect("the sender is up");
                core.replay_event(now, &event.workspace_id, &event.id, target)
            }
            PlannedReplay::Range {
                endpoint, from, to, ..
            } => {
                let spec = &self.plan.endpoints[endpoint];
                let from_wall = self.plan.sender_clock.wall_ms(from);
                let to_wall = self.plan.sender_clock.wall_ms(to).max(from_wall);
                let failed_only = self.operator_rng.chance(250);
                self.stats.fault("replay_range");
                let core = self.sender.core.as_mut().expect("the sender is up");
                core.replay_range(
                    now,
                    spec.endpoint(),
                    UnixMillis(from_wall),
                    UnixMillis(to_wall),
                    failed_only,
                )
            }
        };
        self.trace
            .line(self.now, || format!("replay {replay:?} -> {result:?}"));
        if result.is_err() {
            self.stats.replays_with_nothing_to_do += 1;
        }
        self.drain();
    }

    /// Returns the earliest published event that `spec` subscribes to.
    fn first_event_for(&self, spec: &EndpointSpec) -> Option<Event> {
        self.observed
            .published
            .iter()
            .map(|published| &published.event)
            .find(|event| {
                event.workspace_id == spec.endpoint().workspace_id
                    && spec.subscribes(event.event_type)
            })
            .cloned()
    }

    /// Draws a replay target for `event`: every subscribed endpoint, or one of them.
    fn random_target(&mut self, event: &Event) -> ReplayTarget {
        let subscribed: Vec<&EndpointSpec> = self
            .plan
            .endpoints
            .iter()
            .filter(|spec| {
                spec.endpoint().workspace_id == event.workspace_id
                    && spec.subscribes(event.event_type)
            })
            .collect();
        if subscribed.is_empty() || self.operator_rng.chance(500) {
            return ReplayTarget::AllSubscribed;
        }
        let spec = *self.operator_rng.pick(&subscribed);
        ReplayTarget::Endpoint(spec.endpoint().endpoint_id.clone())
    }

    fn operator_disable(&mut self, index: usize) {
        if self.now >= self.plan.heal_at {
            return;
        }
        let now = self.sender_now();
        let Some(core) = self.sender.core.as_mut() else {
            self.deferred.push(Action::Disable(index));
            return;
        };
        self.stats.fault("operator_toggle");
        let endpoint = self.plan.endpoints[index].endpoint().clone();
        core.disable_endpoint(now, &endpoint)
            .expect("the endpoint exists");
        self.trace
            .line(self.now, || format!("operator disables {endpoint}"));
        self.drain();
    }

    fn operator_enable(&mut self, index: usize) {
        let now = self.sender_now();
        let Some(core) = self.sender.core.as_mut() else {
            self.deferred.push(Action::Enable(index));
            return;
        };
        let endpoint = self.plan.endpoints[index].endpoint().clone();
        let disabled = core
            .endpoint_status(&endpoint)
            .is_some_and(|status| status.disabled.is_some());
        if !disabled {
            return;
        }
        core.enable_endpoint(now, &endpoint)
            .expect("the endpoint exists");
        self.trace
            .line(self.now, || format!("operator enables {endpoint}"));
        self.drain();
    }

    // ---- crashes ----

    fn crash(&mut self, downtime: u64, mid_drain: bool) {
        self.sender.core = None;
        self.sender.incarnation += 1;
        self.stats.fault("crash");
        if mid_drain {
            self.stats.fault("crash_mid_drain");
        }
        self.trace.line(self.now, || {
            format!("crash mid_drain={mid_drain} downtime={downtime}")
        });
        let restart_at = (self.now + downtime).min(self.plan.heal_at.max(self.now));
        self.schedule(restart_at, Action::Restart);
    }

    fn restart(&mut self) {
        if self.sender.core.is_some() {
            return;
        }
        self.sender.boot_at = self.now;
        self.sender.monotonic_base = self.crash_rng.between(0, 1 << 40);
        let now = self.sender_now();
        let (snapshot, records) = self.store.load();
        if snapshot.is_some() {
            self.stats.fault("snapshot_restore");
        }
        // The restored core resumes its timeline at the last record's time plus the wall-clock
        // time since. Work after that record was lost, so the gap starts there.
        let last = records
            .last()
            .map(Record::stamp)
            .or_else(|| snapshot.as_ref().map(|state| state.last_stamp));
        if let Some(last) = last {
            let downtime = u64::try_from(now.wall.0.saturating_sub(last.wall.0)).unwrap_or(0);
            self.sender_gaps.push((last.at.0, last.at.0 + downtime));
        }
        match Core::restore(self.config.clone(), snapshot, records, now) {
            Ok(core) => self.sender.core = Some(core),
            Err(error) => {
                self.driver_errors
                    .push(format!("restore failed at {} ms: {error}", self.now));
                return;
            }
        }
        self.trace.line(self.now, || {
            format!("restart incarnation={}", self.sender.incarnation)
        });
        self.drain();
        for action in std::mem::take(&mut self.deferred) {
            self.schedule(self.now, action);
        }
    }

    // ---- healing ----

    /// Ends the safety phase. Receivers, network and clocks were built to heal at this time.
    /// The sender restarts if it is down, and the operator enables every disabled endpoint.
    fn heal(&mut self) {
        self.trace.line(self.now, || "heal".to_owned());
        self.armed_crash = None;
        if self.sender.core.is_none() {
            self.restart();
        }
        if !self.settings.reenable_on_heal {
            return;
        }
        for index in 0..self.plan.endpoints.len() {
            self.operator_enable(index);
        }
    }
}
