//! `aresgen-hooks receive`: serve the reference receiver on a loopback address.

use std::process::ExitCode;

pub use ::conformance::ReceiveArgs as Args;

/// Serves deliveries until interrupted.
pub fn run(args: Args) -> ExitCode {
    ::conformance::run_receive(args)
}
