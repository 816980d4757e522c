//! A connector and a clock for turmoil's simulated network and time.
//!
//! Both must be used from inside a turmoil host or client. The connector resolves names only
//! through turmoil's own table, because simulated host names exist nowhere else. The system
//! resolver behind tokio's `lookup_host` and hyper-util 0.1's `GaiResolver` both run the
//! lookup on a `spawn_blocking` thread, outside the simulation.

use crate::clock::{Clock, duration_to_millis};
use crate::connector::{ConnectError, Connector};
use crate::target::Target;
use delivery_core::{Now, UnixMillis};
use std::io;

/// Connects over turmoil's simulated TCP.
///
/// The target's host is a turmoil host name or an IP literal. A name that no simulated host
/// has gives [`ConnectError::Dns`]. No address filter applies, and `https` targets connect in
/// plain text, since the simulation has no TLS.
#[derive(Debug, Clone, Copy, Default)]
pub struct TurmoilConnector;

impl Connector for TurmoilConnector {
    type Stream = turmoil::net::TcpStream;

    async fn connect(&self, target: &Target) -> Result<turmoil::net::TcpStream, ConnectError> {
        // turmoil 0.7.2 reports a name missing from its table as `NotFound`, an error that its
        // TCP connect returns for no other reason.
        turmoil::net::TcpStream::connect((target.host.as_str(), target.port))
            .await
            .map_err(|source| match source.kind() {
                io::ErrorKind::NotFound => ConnectError::Dns {
                    host: target.host.clone(),
                    source,
                },
                _ => ConnectError::Io {
                    host: target.host.clone(),
                    source,
                },
            })
    }
}

/// A clock over turmoil's simulated time, for a host whose wall clock may be skewed.
///
/// The monotonic reading is `turmoil::elapsed()`, which in turmoil 0.7.2 keeps counting across
/// a crash and bounce of the host, unlike a real process clock. The wall reading is the simulation's epoch
/// plus the elapsed simulated time plus `wall_offset_ms`, which models clock skew.
#[derive(Debug, Clone, Copy, Default)]
pub struct TurmoilClock {
    /// Milliseconds added to the simulated wall time, negative for a clock that lags.
    pub wall_offset_ms: i64,
}

impl TurmoilClock {
    /// Builds a clock whose wall time is the simulated time shifted by `wall_offset_ms`.
    pub fn with_wall_offset(wall_offset_ms: i64) -> TurmoilClock {
        TurmoilClock { wall_offset_ms }
    }
}

impl Clock for TurmoilClock {
    /// Reads the simulated clocks.
    ///
    /// # Panics
    ///
    /// Panics when called outside a turmoil host or client.
    fn now(&self) -> Now {
        let monotonic = duration_to_millis(turmoil::elapsed());
        let since_epoch = turmoil::since_epoch()
            .expect("TurmoilClock must be read inside a turmoil host or client");
        let since_epoch_ms = i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX);
        let wall = UnixMillis(since_epoch_ms.saturating_add(self.wall_offset_ms));
        Now::new(monotonic, wall)
    }
}
