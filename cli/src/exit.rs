//! Exit statuses shared by the subcommands.

use std::fmt::Display;
use std::process::ExitCode;

/// Status for invalid usage, a missing secret or an unreadable file. clap exits with the same
/// status for its own parse errors.
pub const USAGE: u8 = 2;

/// Prints `error: <message>` to standard error and returns the usage status.
pub fn usage_error(message: impl Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(USAGE)
}
