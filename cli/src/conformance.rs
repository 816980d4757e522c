//! `aresgen-hooks conformance`: run the receiver conformance suite against a URL.

use std::process::ExitCode;

pub use ::conformance::ConformanceArgs as Args;

/// Runs the suite, or `list` and `explain`; see the `conformance` crate for the exit statuses.
pub fn run(args: Args) -> ExitCode {
    ::conformance::run_conformance(args)
}
