//! `aresgen-hooks`: sign and verify AresGen webhook requests and inspect the retry schedule.
//!
//! Each subcommand lives in its own module, which exposes an `Args` struct for clap and a
//! `run(args) -> ExitCode` function. To add a subcommand, add a module and one variant to
//! [`Command`].
//!
//! Exit status: 0 on success, 1 when `verify` rejects a signature, 2 for invalid usage, a
//! missing secret or an unreadable file.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod clock;
mod conformance;
mod exit;
mod input;
mod receive;
mod schedule;
mod secret;
mod sign;
mod simulate;
mod verify;

#[derive(Parser)]
#[command(name = "aresgen-hooks", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sign a request body and print the Aresgen-Timestamp and Aresgen-Signature headers.
    Sign(sign::Args),
    /// Verify a signed request body. Exits 0 when valid, 1 when rejected and 2 for invalid usage.
    Verify(verify::Args),
    /// Print when each attempt of a failing delivery starts under the default retry policy.
    Schedule(schedule::Args),
    /// Check a webhook receiver against the delivery contract. Exits 0 when no must-check
    /// failed (skipped ones are listed), 1 when a check fails, 2 for invalid usage, 3 when the
    /// target cannot be reached, rejects a valid delivery or a check cannot be graded.
    Conformance(conformance::Args),
    /// Serve the reference receiver, with its idempotency probe, on a loopback address.
    Receive(receive::Args),
    /// Run the deterministic delivery simulation over seeds or a scenario and check the
    /// delivery contract. Exits 0 when every check passes, 1 on a violation and 2 for invalid
    /// usage.
    Simulate(simulate::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Sign(args) => sign::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Schedule(args) => schedule::run(args),
        Command::Conformance(args) => conformance::run(args),
        Command::Receive(args) => receive::run(args),
        Command::Simulate(args) => simulate::run(args),
    }
}
