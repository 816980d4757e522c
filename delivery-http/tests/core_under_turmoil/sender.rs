//! The sender host: a worker over turmoil's TCP, restored from a shared in-memory store each
//! time the host starts, and a producer that sends it a timed script of commands.

use crate::events::event_body;
use crate::sim::{World, sim_now};
use delivery_core::{
    AttemptEntry, Config, DeliveryStatus, EndpointConfig, EndpointRef, EndpointStatus,
    Notification, Now, Published, Record, State, TransportError,
};
use delivery_http::worker::{MemoryStore, Worker, WorkerError, WorkerHandle};
use delivery_http::{Clock, TurmoilClock, TurmoilConnector};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Name of the sender host.
pub const SENDER: &str = "sender";

/// One command of the producer's script.
#[derive(Debug, Clone)]
pub enum Step {
    Save(EndpointConfig),
    /// Publishes test event `index`.
    Publish(u32),
    Enable(EndpointRef),
    Status(EndpointRef),
}

/// What the worker replied to one step.
#[derive(Debug, Clone)]
pub enum Outcome {
    Published(Result<Published, WorkerError>),
    Done(Result<(), WorkerError>),
    Status(Option<EndpointStatus>),
}

/// One step and its reply.
#[derive(Debug, Clone)]
pub struct StepReply {
    pub step: Step,
    pub outcome: Outcome,
}

/// What the sender host leaves behind: its store and logs, shared across restarts.
#[derive(Clone, Default)]
pub struct Sender {
    pub store: MemoryStore,
    notifications: Arc<Mutex<Vec<(Duration, Notification)>>>,
    replies: Arc<Mutex<Vec<StepReply>>>,
    /// The clock reading at each start of the host.
    starts: Arc<Mutex<Vec<Now>>>,
}

impl Sender {
    /// Adds the sender host, which runs `script` (each step at its simulated time) against
    /// its worker.
    ///
    /// The producer advances through the script only on a reply, so after a crash the
    /// restarted host sends again the step whose reply was lost, as a client that retries
    /// an unacknowledged publish would.
    pub fn add(world: &mut World, script: Vec<(Duration, Step)>) -> Sender {
        let sender = Sender::default();
        let script = Arc::new(script);
        let cursor = Arc::new(AtomicUsize::new(0));

        let shared = sender.clone();
        world.sim.host(SENDER, move || {
            let shared = shared.clone();
            let script = Arc::clone(&script);
            let cursor = Arc::clone(&cursor);
            async move {
                let clock = TurmoilClock::default();
                shared.starts.lock().unwrap().push(clock.now());

                let records = shared.store.records();
                let (worker, handle) = if records.is_empty() {
                    Worker::new(
                        Config::default(),
                        TurmoilConnector,
                        clock,
                        shared.store.clone(),
                    )
                } else {
                    Worker::restore(
                        Config::default(),
                        None,
                        records,
                        TurmoilConnector,
                        clock,
                        shared.store.clone(),
                    )?
                };
                let notifications = Arc::clone(&shared.notifications);
                let worker = worker.on_notification(move |notification| {
                    notifications
                        .lock()
                        .unwrap()
                        .push((sim_now(), notification.clone()));
                });

                tokio::spawn(produce(
                    handle.clone(),
                    script,
                    cursor,
                    Arc::clone(&shared.replies),
                ));
                // This handle keeps the worker running after the script ends.
                let _running = handle;
                worker.run().await?;
                Ok(())
            }
        });
        sender
    }

    /// Returns every notification with its simulated time, across restarts.
    pub fn notifications(&self) -> Vec<(Duration, Notification)> {
        self.notifications.lock().unwrap().clone()
    }

    /// Returns every step reply, across restarts.
    pub fn replies(&self) -> Vec<StepReply> {
        self.replies.lock().unwrap().clone()
    }

    /// Returns the clock reading at each start of the host.
    pub fn starts(&self) -> Vec<Now> {
        self.starts.lock().unwrap().clone()
    }

    /// Returns the number of `Delivered` notifications so far.
    pub fn delivered_count(&self) -> usize {
        self.notifications
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, notification)| matches!(notification, Notification::Delivered { .. }))
            .count()
    }

    /// Rebuilds the core's state from the stored records.
    pub fn state(&self) -> State {
        let mut state = State::default();
        for record in self.store.records() {
            state.apply(&record);
        }
        state
    }

    /// Returns the logged attempts of every delivery of `event_id` to `endpoint`, in order.
    pub fn attempts(&self, endpoint: &EndpointRef, event_id: &str) -> Vec<AttemptEntry> {
        self.state()
            .log
            .attempts()
            .filter(|entry| &entry.endpoint == endpoint && entry.event_id == event_id)
            .cloned()
            .collect()
    }

    /// Returns the stored deliveries to `endpoint` that are not delivered.
    pub fn undelivered(&self, endpoint: &EndpointRef) -> Vec<String> {
        self.state()
            .deliveries
            .values()
            .filter(|delivery| &delivery.endpoint == endpoint)
            .filter(|delivery| delivery.status != DeliveryStatus::Delivered)
            .map(|delivery| delivery.event_id.clone())
            .collect()
    }

    /// Returns the event ids of the attempts recorded as interrupted by a restart, per
    /// endpoint.
    pub fn interrupted(&self) -> Vec<(EndpointRef, String)> {
        let state = self.state();
        self.store
            .records()
            .iter()
            .filter_map(|record| match record {
                Record::AttemptFinished {
                    delivery_id,
                    result: delivery_core::AttemptResult::Transport(TransportError::Interrupted),
                    ..
                } => state
                    .deliveries
                    .get(delivery_id)
                    .map(|delivery| (delivery.endpoint.clone(), delivery.event_id.clone())),
                _ => None,
            })
            .collect()
    }
}

/// Runs the script from `cursor` on, each step no earlier than its simulated time.
async fn produce(
    handle: WorkerHandle,
    script: Arc<Vec<(Duration, Step)>>,
    cursor: Arc<AtomicUsize>,
    replies: Arc<Mutex<Vec<StepReply>>>,
) {
    loop {
        let index = cursor.load(Ordering::SeqCst);
        let Some((at, step)) = script.get(index) else {
            return;
        };
        let now = sim_now();
        if *at > now {
            tokio::time::sleep(*at - now).await;
        }

        let outcome = match step.clone() {
            Step::Save(config) => Outcome::Done(handle.save_endpoint(config).await),
            Step::Publish(index) => Outcome::Published(handle.publish(event_body(index)).await),
            Step::Enable(endpoint) => Outcome::Done(handle.enable_endpoint(endpoint).await),
            Step::Status(endpoint) => match handle.endpoint_status(endpoint).await {
                Ok(status) => Outcome::Status(status),
                Err(_stopped) => return,
            },
        };
        let stopped = matches!(
            outcome,
            Outcome::Published(Err(WorkerError::Stopped))
                | Outcome::Done(Err(WorkerError::Stopped))
        );
        if stopped {
            return;
        }

        replies.lock().unwrap().push(StepReply {
            step: step.clone(),
            outcome,
        });
        cursor.store(index + 1, Ordering::SeqCst);
    }
}
