//! `aresgen-hooks verify`: check a signature the way a receiver does.

use crate::secret::SecretArgs;
use crate::{clock, exit, input};
use std::path::PathBuf;
use std::process::ExitCode;

/// Status when the request is rejected: wrong, malformed, missing, stale or future.
const REJECTED: u8 = 1;

/// Verifies the header values against the raw body, with the secret from ARESGEN_SECRET or
/// --secret-file, and checks that the timestamp is within five minutes of the current time.
#[derive(clap::Args)]
pub struct Args {
    /// The Aresgen-Timestamp header value as received (Unix seconds).
    #[arg(long, value_name = "SECONDS", allow_hyphen_values = true)]
    timestamp: String,

    /// The Aresgen-Signature header value as received (64 lowercase hex characters).
    #[arg(long, value_name = "HEX", allow_hyphen_values = true)]
    signature: String,

    /// File containing the raw body. Standard input is read when absent. The bytes are
    /// verified exactly as read, trailing newline included.
    #[arg(long, value_name = "PATH")]
    body_file: Option<PathBuf>,

    /// Unix time in seconds to check the timestamp's age against. Defaults to the system clock.
    #[arg(long, value_name = "SECONDS")]
    now: Option<u64>,

    #[command(flatten)]
    secret: SecretArgs,
}

/// Prints `valid` and exits 0, or prints `<kind>: <reason>` to standard error and exits 1.
/// The kind is one of mismatch, malformed, missing, stale and future.
pub fn run(args: Args) -> ExitCode {
    let secret = match args.secret.load() {
        Ok(secret) => secret,
        Err(message) => return exit::usage_error(message),
    };
    let body = match input::read_body(args.body_file.as_deref()) {
        Ok(body) => body,
        Err(message) => return exit::usage_error(message),
    };
    let now = args.now.unwrap_or_else(clock::now_secs);

    let result =
        secret
            .signing_key()
            .verify(Some(&args.timestamp), Some(&args.signature), &body, now);
    match result {
        Ok(_) => {
            println!("valid");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{}: {error}", error.kind());
            ExitCode::from(REJECTED)
        }
    }
}
