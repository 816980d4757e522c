//! The simulated world: a seeded turmoil simulation with a coarse tick, receiver hosts, and
//! helpers that step it to a time or until a condition holds.

use crate::events::secret;
use crate::receiver::{Receiver, Reply};
use crate::sim_listener::SimListener;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};
use turmoil::Sim;
use turmoil::net::TcpListener;

/// Start of simulated time: 2026-05-11T08:14:20Z, in Unix seconds.
pub const EPOCH_UNIX_SECS: u64 = 1_778_487_260;

/// One simulated step. Fifty times shorter than the shortest backoff, and a tenth of the
/// shortest delay that the tests script.
pub const TICK: Duration = Duration::from_millis(50);

/// Maximum message latency on every link, below one tick so that each message arrives in
/// the step after it was sent.
const MAX_LATENCY: Duration = Duration::from_millis(10);

/// The port every receiver listens on.
pub const PORT: u16 = 8080;

/// Hard limit of every simulation, which the tests stop well before.
const SIMULATION_LIMIT: Duration = Duration::from_secs(10 * 60);

/// A seeded simulation and the name of the test that runs it, for failure messages.
pub struct World {
    pub sim: Sim<'static>,
    seed: u64,
    test: &'static str,
}

impl World {
    /// Builds a simulation with a fixed epoch, the given seed and a [`TICK`]-long step.
    pub fn new(test: &'static str, seed: u64) -> World {
        let sim = turmoil::Builder::new()
            .epoch(UNIX_EPOCH + Duration::from_secs(EPOCH_UNIX_SECS))
            .rng_seed(seed)
            .tick_duration(TICK)
            .min_message_latency(Duration::ZERO)
            .max_message_latency(MAX_LATENCY)
            .simulation_duration(SIMULATION_LIMIT)
            .build();
        World { sim, seed, test }
    }

    /// Returns the seed and the command that replays this test, for assertion messages.
    pub fn replay_hint(&self) -> String {
        format!(
            "seed {:#x}; replay with `cargo test -p delivery-http --test core_under_turmoil {}`",
            self.seed, self.test
        )
    }

    /// Adds a host named `name` that serves a receiver for the endpoint named after it.
    pub fn add_receiver(
        &mut self,
        name: &str,
        script: Vec<Reply>,
        default_reply: Reply,
    ) -> Receiver {
        let receiver = Receiver::new(
            &secret(name),
            Arc::new(simulated_clock),
            script,
            default_reply,
        );
        let served = receiver.clone();
        self.sim.host(name, move || {
            let router = served.router();
            async move {
                let listener =
                    TcpListener::bind((IpAddr::from(Ipv4Addr::UNSPECIFIED), PORT)).await?;
                axum::serve(
                    SimListener {
                        listener,
                        retry_after: TICK,
                    },
                    router,
                )
                .await?;
                Ok(())
            }
        });
        receiver
    }

    /// Returns the simulated time since the start.
    pub fn elapsed(&self) -> Duration {
        self.sim.elapsed()
    }

    /// Steps the simulation until `at` simulated time has passed.
    pub fn run_to(&mut self, at: Duration) {
        while self.sim.elapsed() < at {
            self.step();
        }
    }

    /// Steps the simulation until `done` returns true, and panics if `limit` of simulated
    /// time passes first.
    pub fn run_until(&mut self, limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
        while !done() {
            assert!(
                self.sim.elapsed() < limit,
                "{what} did not happen within {limit:?} of simulated time; {}",
                self.replay_hint()
            );
            self.step();
        }
    }

    fn step(&mut self) {
        if let Err(error) = self.sim.step() {
            panic!("a simulated host failed: {error}; {}", self.replay_hint());
        }
    }
}

/// URL of the endpoint served by the receiver host `name`.
pub fn receiver_url(name: &str) -> String {
    format!("http://{name}:{PORT}/hooks")
}

/// Reads the current host's simulated wall clock in Unix seconds, and the simulated time
/// since the start.
fn simulated_clock() -> (u64, Duration) {
    let since_epoch = turmoil::since_epoch().expect("the receiver runs inside a turmoil host");
    let elapsed = turmoil::sim_elapsed().expect("the receiver runs inside a turmoil host");
    (since_epoch.as_secs(), elapsed)
}

/// Returns the simulated time since the start, read inside a host.
pub fn sim_now() -> Duration {
    turmoil::sim_elapsed().expect("read inside a turmoil host")
}
