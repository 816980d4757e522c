//! `aresgen-hooks receive`: serve the reference receiver on a loopback address.

use crate::secret::SecretArgs;
use std::process::ExitCode;

/// Serves the reference receiver, which verifies deliveries with the endpoint secret from
/// ARESGEN_SECRET or --secret-file.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    receiver: ::conformance::ReceiveArgs,

    #[command(flatten)]
    secret: SecretArgs,
}

/// Serves deliveries until interrupted. The secret is loaded the way `sign` and `verify` load
/// it, with the same rules and messages.
pub fn run(args: Args) -> ExitCode {
    let secret = args.secret;
    ::conformance::run_receive(args.receiver, || {
        secret.load().map(|secret| secret.signing_key())
    })
}
