//! The run loop that drives the sans-IO [`Core`] over a [`Connector`] and a [`Clock`].
//!
//! A [`Worker`] owns the core. It takes commands from [`WorkerHandle`]s over a channel, sends
//! each attempt with [`send_attempt`] in its own task, and wakes up when the core's next timer
//! is due. After every input it drains the core's outputs in the order the core requires:
//!
//! 1. every record, appended to the [`RecordStore`] before anything else happens;
//! 2. every transmit, spawned as an attempt whose result comes back to the loop;
//! 3. every notification, logged with `tracing` and passed to the notification handler.
//!
//! Time comes only from the [`Clock`], and sleeps run on tokio's timer, so the same loop runs
//! over real TCP in production and over turmoil's simulated network and time in tests.
//!
//! ```no_run
//! use delivery_core::Config;
//! use delivery_http::worker::{MemoryStore, Worker};
//! use delivery_http::{TcpConnector, TokioClock};
//!
//! # async fn run(body: Vec<u8>) -> Result<(), Box<dyn std::error::Error>> {
//! let connector = TcpConnector::with_address_filter(|address| !address.is_loopback());
//! let store = MemoryStore::new();
//! let (worker, handle) = Worker::new(Config::default(), connector, TokioClock::new(), store);
//! let worker = tokio::spawn(worker.run());
//!
//! handle.publish(body).await?;
//! drop(handle);
//! worker.await??;
//! # Ok(())
//! # }
//! ```

use crate::attempt::send_attempt;
use crate::clock::Clock;
use crate::connector::Connector;
use delivery_core::{
    AttemptResult, Config, Core, CoreError, DeliveryId, EndpointConfig, EndpointRef,
    EndpointStatus, Millis, Notification, Published, Record, ReplayTarget, State, Transmit,
    UnixMillis,
};
use std::convert::Infallible;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinError, JoinSet};
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// Number of commands that can wait in the channel before [`WorkerHandle`] calls wait too.
pub const COMMAND_CAPACITY: usize = 64;

/// Shortest sleep of the run loop, so that a timer the core did not clear cannot make the
/// loop spin without yielding.
const MIN_SLEEP: Duration = Duration::from_millis(1);

/// Durable storage for the core's records.
///
/// `append` must return only once the record is persisted: the worker sends the transmits
/// that follow a record only after `append` returns. [`Worker::restore`] takes the stored
/// records back, in the order they were appended.
pub trait RecordStore: Send + 'static {
    /// The error of a failed append.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Persists one record after all the records appended before it.
    fn append(&mut self, record: &Record) -> Result<(), Self::Error>;
}

/// A [`RecordStore`] that keeps records in memory, shared by every clone.
///
/// It survives the worker that appends to it, so a test can restart a worker (or bounce a
/// turmoil host) from the records a clone still holds. It replaces a durable store in tests and
/// persists nothing across processes.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    records: Arc<Mutex<Vec<Record>>>,
}

impl MemoryStore {
    /// Creates an empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Returns a copy of every record appended so far, in order.
    pub fn records(&self) -> Vec<Record> {
        self.lock().clone()
    }

    /// Returns the number of records appended so far.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Returns whether no record was appended yet.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Locks the records, also after a panic in another holder: every push is complete, so
    /// the vector is never left half-changed.
    fn lock(&self) -> MutexGuard<'_, Vec<Record>> {
        self.records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl RecordStore for MemoryStore {
    type Error = Infallible;

    fn append(&mut self, record: &Record) -> Result<(), Infallible> {
        self.lock().push(record.clone());
        Ok(())
    }
}

/// An error returned by a [`WorkerHandle`] call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkerError {
    /// The core rejected the command, and nothing changed.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The worker stopped before it replied, so the command may not have been stored.
    #[error(
        "the delivery worker stopped before it replied: restore it from the store and send the command again"
    )]
    Stopped,
}

/// A command for the worker, with the channel that carries the core's reply.
enum Command {
    Publish {
        body: Vec<u8>,
        reply: oneshot::Sender<Result<Published, CoreError>>,
    },
    SaveEndpoint {
        config: EndpointConfig,
        reply: oneshot::Sender<Result<(), CoreError>>,
    },
    DisableEndpoint {
        endpoint: EndpointRef,
        reply: oneshot::Sender<Result<(), CoreError>>,
    },
    EnableEndpoint {
        endpoint: EndpointRef,
        reply: oneshot::Sender<Result<(), CoreError>>,
    },
    ReplayEvent {
        workspace_id: String,
        event_id: String,
        target: ReplayTarget,
        reply: oneshot::Sender<Result<Vec<DeliveryId>, CoreError>>,
    },
    ReplayRange {
        endpoint: EndpointRef,
        from: UnixMillis,
        to: UnixMillis,
        failed_only: bool,
        reply: oneshot::Sender<Result<Vec<DeliveryId>, CoreError>>,
    },
    EndpointStatus {
        endpoint: EndpointRef,
        reply: oneshot::Sender<Option<EndpointStatus>>,
    },
}

/// Sends commands to a running [`Worker`]. Cheap to clone.
///
/// Each call returns once the worker has applied the command and appended its records to the
/// store, so an `Ok` from [`WorkerHandle::publish`] means the event is durably accepted. The
/// worker stops when every handle is dropped.
#[derive(Debug, Clone)]
pub struct WorkerHandle {
    commands: mpsc::Sender<Command>,
}

impl WorkerHandle {
    /// Publishes an event body, as [`Core::publish`] describes.
    pub async fn publish(&self, body: Vec<u8>) -> Result<Published, WorkerError> {
        self.request(|reply| Command::Publish { body, reply })
            .await?
            .map_err(WorkerError::from)
    }

    /// Creates or changes an endpoint, as [`Core::save_endpoint`] describes.
    pub async fn save_endpoint(&self, config: EndpointConfig) -> Result<(), WorkerError> {
        self.request(|reply| Command::SaveEndpoint { config, reply })
            .await?
            .map_err(WorkerError::from)
    }

    /// Disables an endpoint, whose queue is held until it is enabled, as
    /// [`Core::disable_endpoint`] describes.
    pub async fn disable_endpoint(&self, endpoint: EndpointRef) -> Result<(), WorkerError> {
        self.request(|reply| Command::DisableEndpoint { endpoint, reply })
            .await?
            .map_err(WorkerError::from)
    }

    /// Enables an endpoint and resumes its queue, as [`Core::enable_endpoint`] describes.
    pub async fn enable_endpoint(&self, endpoint: EndpointRef) -> Result<(), WorkerError> {
        self.request(|reply| Command::EnableEndpoint { endpoint, reply })
            .await?
            .map_err(WorkerError::from)
    }

    /// Queues an event again, as [`Core::replay_event`] describes.
    pub async fn replay_event(
        &self,
        workspace_id: impl Into<String>,
        event_id: impl Into<String>,
        target: ReplayTarget,
    ) -> Result<Vec<DeliveryId>, WorkerError> {
        let workspace_id = workspace_id.into();
        let event_id = event_id.into();
        self.request(|reply| Command::ReplayEvent {
            workspace_id,
            event_id,
            target,
            reply,
        })
        .await?
        .map_err(WorkerError::from)
    }

    /// Queues again the deliveries of one endpoint queued in `[from, to)`, as
    /// [`Core::replay_range`] describes.
    pub async fn replay_range(
        &self,
        endpoint: EndpointRef,
        from: UnixMillis,
        to: UnixMillis,
        failed_only: bool,
    ) -> Result<Vec<DeliveryId>, WorkerError> {
        self.request(|reply| Command::ReplayRange {
            endpoint,
            from,
            to,
            failed_only,
            reply,
        })
        .await?
        .map_err(WorkerError::from)
    }

    /// Returns the status and backlog of one endpoint, or `None` if it does not exist.
    pub async fn endpoint_status(
        &self,
        endpoint: EndpointRef,
    ) -> Result<Option<EndpointStatus>, WorkerError> {
        self.request(|reply| Command::EndpointStatus { endpoint, reply })
            .await
    }

    /// Sends one command and waits for its reply.
    async fn request<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, WorkerError> {
        let (reply, response) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_closed| WorkerError::Stopped)?;
        response.await.map_err(|_dropped| WorkerError::Stopped)
    }
}

/// The result of one attempt, as its task returns it to the loop.
struct AttemptDone {
    delivery_id: DeliveryId,
    endpoint: EndpointRef,
    event_id: String,
    attempt: u32,
    result: AttemptResult,
    elapsed: Millis,
}

/// The callback that receives every notification.
type NotificationHandler = Box<dyn FnMut(&Notification) + Send>;

/// The async run loop around one [`Core`].
///
/// Build it with [`Worker::new`] or [`Worker::restore`], which also return the
/// [`WorkerHandle`] that sends it commands, and drive it with [`Worker::run`].
pub struct Worker<C, K, S> {
    core: Core,
    connector: Arc<C>,
    clock: Arc<K>,
    store: S,
    notification_handler: Option<NotificationHandler>,
    commands: mpsc::Receiver<Command>,
    /// Attempts in flight, at most one per endpoint because the core starts no more.
    attempts: JoinSet<AttemptDone>,
}

impl<C, K, S> fmt::Debug for Worker<C, K, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("attempts_in_flight", &self.attempts.len())
            .finish_non_exhaustive()
    }
}

impl<C, K, S> Worker<C, K, S>
where
    C: Connector + 'static,
    K: Clock + 'static,
    S: RecordStore,
{
    /// Builds a worker around an empty core, and the handle that sends it commands.
    pub fn new(
        config: Config,
        connector: C,
        clock: K,
        store: S,
    ) -> (Worker<C, K, S>, WorkerHandle) {
        let core = Core::new(config, clock.now());
        Worker::around(core, connector, clock, store)
    }

    /// Builds a worker around a core rebuilt from a snapshot and the records stored after
    /// it, as [`Core::restore`] describes.
    ///
    /// Attempts that were in flight when the previous worker stopped are recorded as
    /// interrupted and retried after the normal backoff. Their records reach `store` when
    /// [`Worker::run`] starts, before any attempt is sent.
    pub fn restore(
        config: Config,
        snapshot: Option<State>,
        records: impl IntoIterator<Item = Record>,
        connector: C,
        clock: K,
        store: S,
    ) -> Result<(Worker<C, K, S>, WorkerHandle), CoreError> {
        let core = Core::restore(config, snapshot, records, clock.now())?;
        Ok(Worker::around(core, connector, clock, store))
    }

    fn around(core: Core, connector: C, clock: K, store: S) -> (Worker<C, K, S>, WorkerHandle) {
        let (sender, receiver) = mpsc::channel(COMMAND_CAPACITY);
        let worker = Worker {
            core,
            connector: Arc::new(connector),
            clock: Arc::new(clock),
            store,
            notification_handler: None,
            commands: receiver,
            attempts: JoinSet::new(),
        };
        (worker, WorkerHandle { commands: sender })
    }

    /// Sets the callback that receives every notification, after it is logged.
    ///
    /// The callback runs inside the loop, so it must not block: forward to a channel for
    /// slow work.
    pub fn on_notification(
        mut self,
        handler: impl FnMut(&Notification) + Send + 'static,
    ) -> Worker<C, K, S> {
        self.notification_handler = Some(Box::new(handler));
        self
    }

    /// Returns the core, for inspection before the loop starts.
    pub fn core(&self) -> &Core {
        &self.core
    }

    /// Runs the loop until every [`WorkerHandle`] is dropped or an append fails.
    ///
    /// On return, attempts still in flight are aborted. Their `AttemptStarted` records have
    /// no matching `AttemptFinished`, so a worker restored from the store retries them as
    /// interrupted, exactly as after a crash. An append error is returned at once, before
    /// any transmit drained after the failed record is sent.
    pub async fn run(mut self) -> Result<(), S::Error> {
        info!("delivery worker started");

        // A restored core starts with the records of its interrupted attempts.
        self.drain()?;

        loop {
            let wake_at = self.wake_instant();

            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(command) => self.handle_command(command)?,
                    None => break,
                },
                Some(joined) = self.attempts.join_next(), if !self.attempts.is_empty() => {
                    self.handle_joined(joined)?;
                }
                () = sleep_until(wake_at) => {
                    self.core.handle_timeout(self.clock.now());
                    self.drain()?;
                }
            }
        }

        info!(
            attempts_in_flight = self.attempts.len(),
            "delivery worker stopped: every handle was dropped"
        );
        self.attempts.abort_all();
        Ok(())
    }

    /// Applies one command, drains its outputs, and only then replies.
    fn handle_command(&mut self, command: Command) -> Result<(), S::Error> {
        let now = self.clock.now();

        match command {
            Command::Publish { body, reply } => {
                let outcome = self.core.publish(now, &body);
                self.drain()?;
                let _ = reply.send(outcome);
            }
            Command::SaveEndpoint { config, reply } => {
                let outcome = self.core.save_endpoint(now, config);
                self.drain()?;
                let _ = reply.send(outcome);
            }
            Command::DisableEndpoint { endpoint, reply } => {
                let outcome = self.core.disable_endpoint(now, &endpoint);
                self.drain()?;
                let _ = reply.send(outcome);
            }
            Command::EnableEndpoint { endpoint, reply } => {
                let outcome = self.core.enable_endpoint(now, &endpoint);
                self.drain()?;
                let _ = reply.send(outcome);
            }
            Command::ReplayEvent {
                workspace_id,
                event_id,
                target,
                reply,
            } => {
                let outcome = self
                    .core
                    .replay_event(now, &workspace_id, &event_id, target);
                self.drain()?;
                let _ = reply.send(outcome);
            }
            Command::ReplayRange {
                endpoint,
                from,
                to,
                failed_only,
                reply,
            } => {
                let outcome = self
                    .core
                    .replay_range(now, &endpoint, from, to, failed_only);
                self.drain()?;
                let _ = reply.send(outcome);
            }
            Command::EndpointStatus { endpoint, reply } => {
                let _ = reply.send(self.core.endpoint_status(&endpoint));
            }
        }
        Ok(())
    }

    /// Passes a finished attempt's result to the core and drains what follows.
    fn handle_joined(&mut self, joined: Result<AttemptDone, JoinError>) -> Result<(), S::Error> {
        let done = match joined {
            Ok(done) => done,
            Err(error) => {
                // The core times the attempt out itself once the attempt timeout and its
                // grace period have passed, so the queue does not stall.
                warn!(%error, "an attempt task ended without a result; the core will time it out");
                return Ok(());
            }
        };

        let outcome = outcome_name(&done.result);
        if done.result.is_success() {
            debug!(
                endpoint_id = %done.endpoint,
                event_id = %done.event_id,
                delivery_id = %done.delivery_id,
                attempt = done.attempt,
                %outcome,
                elapsed_ms = done.elapsed.as_u64(),
                "attempt succeeded"
            );
        } else {
            info!(
                endpoint_id = %done.endpoint,
                event_id = %done.event_id,
                delivery_id = %done.delivery_id,
                attempt = done.attempt,
                %outcome,
                elapsed_ms = done.elapsed.as_u64(),
                "attempt failed"
            );
        }

        let now = self.clock.now();
        if let Err(error) =
            self.core
                .handle_result(now, done.delivery_id, done.attempt, done.result)
        {
            // Only a result that arrives after the core's own timeout gets here.
            warn!(
                endpoint_id = %done.endpoint,
                event_id = %done.event_id,
                attempt = done.attempt,
                %error,
                "attempt result ignored"
            );
        }
        self.drain()
    }

    /// Drains records, then transmits, then notifications.
    ///
    /// The core emits each record before the transmits it causes, so appending every record
    /// before starting any transmit keeps the store ahead of the network.
    fn drain(&mut self) -> Result<(), S::Error> {
        while let Some(record) = self.core.poll_record() {
            self.store.append(&record)?;
        }
        while let Some(transmit) = self.core.poll_transmit() {
            self.start_attempt(transmit);
        }
        while let Some(notification) = self.core.poll_notification() {
            log_notification(&notification);
            if let Some(handler) = self.notification_handler.as_mut() {
                handler(&notification);
            }
        }
        Ok(())
    }

    /// Spawns one attempt, whose result returns through `attempts`.
    fn start_attempt(&mut self, transmit: Transmit) {
        debug!(
            endpoint_id = %transmit.endpoint,
            event_id = %transmit.event_id,
            delivery_id = %transmit.delivery_id,
            attempt = transmit.attempt,
            "attempt started"
        );

        let connector = Arc::clone(&self.connector);
        let clock = Arc::clone(&self.clock);
        self.attempts.spawn(async move {
            let (result, elapsed) = send_attempt(
                connector.as_ref(),
                &transmit.request,
                transmit.timeout,
                clock.as_ref(),
            )
            .await;
            AttemptDone {
                delivery_id: transmit.delivery_id,
                endpoint: transmit.endpoint,
                event_id: transmit.event_id,
                attempt: transmit.attempt,
                result,
                elapsed,
            }
        });
    }

    /// Converts the core's next timer, on the clock's monotonic timeline, to a tokio instant.
    fn wake_instant(&self) -> Option<Instant> {
        let due = self.core.poll_timeout()?;
        let now = self.clock.now().monotonic;
        let wait = Duration::from_millis(due.saturating_sub(now).as_u64()).max(MIN_SLEEP);
        Some(Instant::now() + wait)
    }
}

/// Sleeps until `at`, or forever when there is no timer.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Names an attempt's outcome for the logs: its status code or its transport error.
fn outcome_name(result: &AttemptResult) -> String {
    match result {
        AttemptResult::Response { status, .. } => status.to_string(),
        AttemptResult::Transport(kind) => kind.as_str().to_owned(),
    }
}

fn log_notification(notification: &Notification) {
    match notification {
        Notification::Delivered {
            delivery_id,
            endpoint,
            event_id,
            attempts,
        } => info!(
            endpoint_id = %endpoint,
            %event_id,
            %delivery_id,
            attempt = attempts,
            "delivered"
        ),
        Notification::Failed {
            delivery_id,
            endpoint,
            event_id,
            attempts,
        } => warn!(
            endpoint_id = %endpoint,
            %event_id,
            %delivery_id,
            attempt = attempts,
            "delivery failed: the retry budget ran out"
        ),
        Notification::EndpointDisabled {
            endpoint,
            reason,
            backlog,
        } => warn!(
            endpoint_id = %endpoint,
            ?reason,
            backlog,
            "endpoint disabled: its queue is held until it is enabled"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::ConnectError;
    use crate::target::Target;
    use crate::{TcpConnector, TokioClock};
    use delivery_core::{Event, EventType, TransportError};
    use std::io;

    /// A connector that refuses every connection and, at each connect, counts the
    /// `AttemptStarted` records already in the store.
    struct StoreCheckingConnector {
        store: MemoryStore,
        started_records_at_connect: Arc<Mutex<Vec<usize>>>,
    }

    impl Connector for StoreCheckingConnector {
        type Stream = tokio::io::DuplexStream;

        async fn connect(&self, target: &Target) -> Result<Self::Stream, ConnectError> {
            let started = self
                .store
                .records()
                .iter()
                .filter(|record| matches!(record, Record::AttemptStarted { .. }))
                .count();
            self.started_records_at_connect
                .lock()
                .unwrap()
                .push(started);
            Err(ConnectError::Io {
                host: target.host.clone(),
                source: io::ErrorKind::ConnectionRefused.into(),
            })
        }
    }

    fn sample_body() -> Vec<u8> {
        let event = Event::build(
            "evt_01HZ8PJYTM6N9X7QWXAYBVS3J5",
            EventType::WorkflowRunCompleted,
            "2026-05-11T08:14:22.184Z",
            "ws_main",
            serde_json::json!({
                "workflow_id": "wf_publish",
                "run_id": "run_01HZ8PJYTM6N9X7QWXAYBVS3J5",
                "status": "success",
                "duration_ms": 4218,
                "cost_usd": 0.0382
            }),
        )
        .unwrap();
        event.body.to_vec()
    }

    #[tokio::test(start_paused = true)]
    async fn records_stored_before_reply_and_send() {
        let store = MemoryStore::new();
        let started_records_at_connect = Arc::new(Mutex::new(Vec::new()));
        let connector = StoreCheckingConnector {
            store: store.clone(),
            started_records_at_connect: Arc::clone(&started_records_at_connect),
        };
        let (worker, handle) = Worker::new(
            Config::default(),
            connector,
            TokioClock::new(),
            store.clone(),
        );
        let running = tokio::spawn(worker.run());

        let endpoint = EndpointRef::new("ws_main", "ep_refusing");
        handle
            .save_endpoint(EndpointConfig {
                endpoint: endpoint.clone(),
                url: "http://receiver.test/hooks".to_owned(),
                secret: "ags_test-secret".to_owned(),
                filters: vec!["*".to_owned()],
            })
            .await
            .unwrap();
        let published = handle.publish(sample_body()).await.unwrap();
        assert!(matches!(published, Published::Accepted { .. }));
        assert!(
            store
                .records()
                .iter()
                .any(|record| matches!(record, Record::EventAccepted { .. })),
            "the event is stored when the publish returns"
        );

        // Attempts start at 0, 10 and 30 s, and paused time jumps over the waits.
        tokio::time::sleep(Duration::from_secs(35)).await;
        assert_eq!(*started_records_at_connect.lock().unwrap(), [1, 2, 3]);

        let refused = store
            .records()
            .iter()
            .filter(|record| {
                matches!(
                    record,
                    Record::AttemptFinished {
                        result: AttemptResult::Transport(TransportError::Refused),
                        ..
                    }
                )
            })
            .count();
        assert_eq!(refused, 3);
        let status = handle.endpoint_status(endpoint).await.unwrap().unwrap();
        assert_eq!(status.backlog, 1);

        drop(handle);
        running.await.unwrap().unwrap();
    }

    #[test]
    fn run_future_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        let (worker, _handle) = Worker::new(
            Config::default(),
            TcpConnector::allow_all(),
            TokioClock::new(),
            MemoryStore::new(),
        );
        let future = worker.run();
        assert_send(&future);
    }

    #[tokio::test]
    async fn handle_after_stop_reports_stopped() {
        let (worker, handle) = Worker::new(
            Config::default(),
            TcpConnector::allow_all(),
            TokioClock::new(),
            MemoryStore::new(),
        );
        drop(worker);

        let outcome = handle.publish(b"{}".to_vec()).await;
        assert_eq!(outcome, Err(WorkerError::Stopped));
    }
}
