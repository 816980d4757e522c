//! Serves a receiver that makes one common mistake, to see how the conformance suite reports
//! it. Listens on 127.0.0.1 with a free port and prints the delivery and probe URLs.
//!
//! ```text
//! ARESGEN_SECRET=... cargo run -p conformance --features testing --example faulty_receiver -- no-timestamp-check
//! ```

use conformance::faulty::{Fault, spawn};
use std::process::ExitCode;
use std::time::Duration;

const FAULTS: [(&str, Fault); 11] = [
    ("no-timestamp-check", Fault::NoTimestampCheck),
    ("reserializes", Fault::Reserializes),
    ("accepts-unsigned", Fault::AcceptsUnsigned),
    ("guesses-milliseconds", Fault::GuessesMilliseconds),
    ("conflict-on-duplicate", Fault::ConflictOnDuplicate),
    (
        "slow-for-voice-trained",
        Fault::SlowForType {
            delay: Duration::from_secs(20),
        },
    ),
    ("redirects-duplicates", Fault::RedirectsDuplicates),
    (
        "server-error-on-malformed-signature",
        Fault::ServerErrorOnMalformedSignature,
    ),
    ("rejects-unknown-types", Fault::RejectsUnknownTypes),
    ("rejects-everything", Fault::RejectsEverything),
    ("racy-dedupe", Fault::RacyDedupe),
];

#[tokio::main]
async fn main() -> ExitCode {
    let names: Vec<&str> = FAULTS.iter().map(|(name, _)| *name).collect();
    let Some(name) = std::env::args().nth(1) else {
        eprintln!(
            "usage: faulty_receiver FAULT, where FAULT is one of {}",
            names.join(", ")
        );
        return ExitCode::from(2);
    };
    let Some((_, fault)) = FAULTS.iter().find(|(known, _)| *known == name) else {
        eprintln!(
            "error: unknown fault {name:?}; expected one of {}",
            names.join(", ")
        );
        return ExitCode::from(2);
    };
    let Ok(secret) = std::env::var(conformance::cli::SECRET_ENV) else {
        eprintln!(
            "error: missing secret: set {}",
            conformance::cli::SECRET_ENV
        );
        return ExitCode::from(2);
    };

    let receiver = spawn(Some(*fault), &secret).await;
    println!("listening on {}", receiver.url());
    println!("idempotency probe at {}", receiver.probe_url());
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}
