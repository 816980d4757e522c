//! The seeded, sans-IO network between the sender and the receivers.
//!
//! The model decides the fate of each request when it is sent: how long each leg takes, and
//! whether the request or its response is lost. It keeps no sockets and no clock: the caller
//! passes the simulated time and schedules the arrivals itself.

use crate::rng::Rng;
use crate::settings::NetworkSettings;

/// Why a request never reached its receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Loss {
    /// The receiver was cut off by a partition.
    Partition,
    /// The connection hung without an answer.
    Blackhole,
    /// The request was lost on the way.
    RequestLost,
}

impl Loss {
    /// Returns the fault family's name, for counts.
    pub fn name(self) -> &'static str {
        match self {
            Loss::Partition => "partition",
            Loss::Blackhole => "blackhole",
            Loss::RequestLost => "request_lost",
        }
    }
}

/// The fate of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The request arrives after `request_ms`; the response, unless lost, takes `response_ms`.
    Deliver {
        request_ms: u64,
        response_ms: u64,
        response_lost: bool,
    },
    /// The request never arrives; the sender sees the connection hang until its timeout.
    Lost(Loss),
}

/// The network model of one run.
#[derive(Debug, Clone)]
pub struct Network {
    settings: NetworkSettings,
    /// Per receiver, the partitions as `(from, to)` in simulated milliseconds.
    partitions: Vec<Vec<(u64, u64)>>,
    /// From this simulated time on, no fault fires and latency has no jitter.
    healed_at: u64,
    rng: Rng,
}

impl Network {
    /// Builds the model; `partitions` lists each receiver's cut-off windows.
    pub fn new(
        settings: NetworkSettings,
        partitions: Vec<Vec<(u64, u64)>>,
        healed_at: u64,
        rng: Rng,
    ) -> Network {
        Network {
            settings,
            partitions,
            healed_at,
            rng,
        }
    }

    /// Returns whether a partition cuts `receiver` off at `at`.
    pub fn partitioned(&self, receiver: usize, at: u64) -> bool {
        at < self.healed_at
            && self.partitions[receiver]
                .iter()
                .any(|(from, to)| *from <= at && at < *to)
    }

    /// Decides the fate of a request sent to `receiver` at `at`.
    pub fn route(&mut self, receiver: usize, at: u64) -> Route {
        let healed = at >= self.healed_at;
        if self.partitioned(receiver, at) {
            return Route::Lost(Loss::Partition);
        }
        if !healed && self.rng.chance(self.settings.blackhole_permille) {
            return Route::Lost(Loss::Blackhole);
        }
        if !healed && self.rng.chance(self.settings.request_loss_permille) {
            return Route::Lost(Loss::RequestLost);
        }

        let request_ms = self.leg(healed);
        let response_ms = self.leg(healed);
        let response_lost = !healed && self.rng.chance(self.settings.response_loss_permille);
        Route::Deliver {
            request_ms,
            response_ms,
            response_lost,
        }
    }

    /// Draws how the sender sees a lost response: a connection reset (true) or a hang until
    /// the attempt timeout (false).
    pub fn lost_response_resets(&mut self) -> bool {
        self.rng.chance(500)
    }

    fn leg(&mut self, healed: bool) -> u64 {
        let jitter = if healed {
            0
        } else {
            self.rng.between(0, self.settings.jitter_ms)
        };
        self.settings.latency_ms + jitter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network(settings: NetworkSettings, partitions: Vec<Vec<(u64, u64)>>) -> Network {
        Network::new(settings, partitions, 1_000_000, Rng::new(1))
    }

    #[test]
    fn partition_loses_requests_until_healed() {
        let mut net = network(NetworkSettings::default(), vec![vec![(100, 2_000_000)]]);
        assert_eq!(net.route(0, 150), Route::Lost(Loss::Partition));
        assert!(matches!(net.route(0, 1_000_000), Route::Deliver { .. }));
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let settings = NetworkSettings {
            latency_ms: 10,
            jitter_ms: 5,
            ..NetworkSettings::default()
        };
        let mut net = network(settings, vec![Vec::new()]);
        for _ in 0..1000 {
            let Route::Deliver { request_ms, .. } = net.route(0, 0) else {
                panic!("no loss is configured");
            };
            assert!((10..=15).contains(&request_ms));
        }
    }
}
