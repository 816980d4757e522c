//! `aresgen-hooks sign`: print the signature headers for a body.

use crate::secret::SecretArgs;
use crate::{clock, exit, input};
use delivery_core::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER};
use std::path::PathBuf;
use std::process::ExitCode;

/// Signs `<timestamp>.<body>` with the endpoint secret from ARESGEN_SECRET or --secret-file.
#[derive(clap::Args)]
pub struct Args {
    /// Unix time in seconds to sign with, or `now` for the current system time.
    #[arg(
        long,
        value_name = "SECONDS|now",
        value_parser = clock::parse_timestamp_or_now,
        allow_hyphen_values = true
    )]
    timestamp: u64,

    /// File containing the raw body. Standard input is read when absent. The bytes are
    /// signed exactly as read, trailing newline included.
    #[arg(long, value_name = "PATH")]
    body_file: Option<PathBuf>,

    #[command(flatten)]
    secret: SecretArgs,
}

/// Prints `Aresgen-Timestamp: <timestamp>` and `Aresgen-Signature: <hex>`, one per line.
pub fn run(args: Args) -> ExitCode {
    // The secret is loaded first, so a missing one is reported without waiting on stdin.
    let secret = match args.secret.load() {
        Ok(secret) => secret,
        Err(message) => return exit::usage_error(message),
    };
    let body = match input::read_body(args.body_file.as_deref()) {
        Ok(body) => body,
        Err(message) => return exit::usage_error(message),
    };

    let signature = secret.signing_key().sign(args.timestamp, &body);
    println!("{TIMESTAMP_HEADER}: {}", args.timestamp);
    println!("{SIGNATURE_HEADER}: {signature}");
    ExitCode::SUCCESS
}
