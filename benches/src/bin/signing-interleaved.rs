//! Measures signing against the SHA-256 compression limit by taking, for each operation, the
//! fastest of many short runs, with all operations interleaved round by round.
//!
//! On a shared machine criterion's medians move with the load of other processes, and the limit
//! and the signer are measured seconds apart. Here every round measures all of them back to
//! back, and the minimum over rounds keeps the runs that other processes did not interrupt.
//!
//! Usage: `signing-interleaved [--openssl] [ROUNDS]`. With `--openssl` it also runs
//! `openssl speed -hmac sha256 -seconds 3`, which divides by its own CPU time, and compares
//! throughput at the sizes both measured.

use aresgen_benches::{
    BODY_SIZES, LIMIT_BLOCKS, SECRET, TIMESTAMP, body, hmac_blocks,
    openssl_hmac_sha256_bytes_per_sec,
};
use delivery_core::signature::{SigningKey, format_decimal};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use sha2::block_api::compress256;
use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

/// Rounds when no count is given, about half a second of timed runs on an idle 2-vCPU AMD EPYC
/// (Zen 5).
const DEFAULT_ROUNDS: usize = 1000;
/// Total bytes each timed run processes, so runs of every body size last about as long: about
/// 35 µs at 2 GB/s.
const BYTES_PER_RUN: usize = 65_536;

/// Returns the time of one call of `operation` in nanoseconds, averaged over `calls` calls.
fn time_calls(calls: usize, operation: &mut dyn FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..calls {
        operation();
    }
    start.elapsed().as_nanos() as f64 / calls as f64
}

fn main() -> ExitCode {
    let mut rounds = DEFAULT_ROUNDS;
    let mut run_openssl = false;
    for argument in std::env::args().skip(1) {
        match argument.as_str() {
            "--openssl" => run_openssl = true,
            "-h" | "--help" => {
                println!("usage: signing-interleaved [--openssl] [ROUNDS]");
                println!("  --openssl  also run `openssl speed -hmac sha256 -seconds 3`");
                println!("  ROUNDS     rounds of timed runs (default: {DEFAULT_ROUNDS})");
                return ExitCode::SUCCESS;
            }
            _ => match argument.parse::<usize>() {
                Ok(count) if count > 0 => rounds = count,
                _ => {
                    eprintln!(
                        "signing-interleaved: invalid argument {argument:?}: expected --openssl \
                         or a positive number of rounds"
                    );
                    return ExitCode::FAILURE;
                }
            },
        }
    }

    let key = SigningKey::new(SECRET);
    let reference = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    let timestamp_header = TIMESTAMP.to_string();
    let blocks = vec![[0x5a_u8; 64]; LIMIT_BLOCKS];
    let bodies: Vec<Vec<u8>> = BODY_SIZES.iter().map(|&size| body(size)).collect();
    let signatures: Vec<_> = bodies
        .iter()
        .map(|body| key.sign(TIMESTAMP, body))
        .collect();

    let mut block_ns = f64::MAX;
    let mut sign_ns = [f64::MAX; BODY_SIZES.len()];
    let mut verify_ns = [f64::MAX; BODY_SIZES.len()];
    let mut hmac_ns = [f64::MAX; BODY_SIZES.len()];
    let mut state = [0u32; 8];
    for _ in 0..rounds {
        let compress_ns = time_calls(1, &mut || {
            compress256(&mut state, black_box(&blocks));
            black_box(state);
        });
        block_ns = block_ns.min(compress_ns / LIMIT_BLOCKS as f64);

        for (i, body) in bodies.iter().enumerate() {
            let calls = (BYTES_PER_RUN / body.len()).max(1);
            let sign = time_calls(calls, &mut || {
                black_box(key.sign(black_box(TIMESTAMP), black_box(body)));
            });
            sign_ns[i] = sign_ns[i].min(sign);

            let verify = time_calls(calls, &mut || {
                let result = key.verify(
                    Some(black_box(&timestamp_header)),
                    Some(black_box(signatures[i].as_str())),
                    black_box(body),
                    TIMESTAMP,
                );
                black_box(result).expect("signature matches");
            });
            verify_ns[i] = verify_ns[i].min(verify);

            let hmac = time_calls(calls, &mut || {
                let mut mac = reference.clone();
                let mut digits = [0u8; 20];
                mac.update(format_decimal(black_box(TIMESTAMP), &mut digits));
                mac.update(b".");
                mac.update(black_box(body));
                black_box(mac.finalize().into_bytes());
            });
            hmac_ns[i] = hmac_ns[i].min(hmac);
        }
    }

    let openssl = if run_openssl {
        match openssl_hmac_sha256_bytes_per_sec() {
            Ok(rates) => rates,
            Err(message) => {
                eprintln!("signing-interleaved: {message}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        Default::default()
    };

    println!("SHA-256 compression: {block_ns:.2} ns per block, fastest of {rounds} rounds");
    println!();
    println!(
        "| body | blocks | limit ns | sign ns | % of limit | sign MB/s | verify ns | % of limit \
         | hmac crate ns | hmac crate / sign | openssl MB/s | sign / openssl |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (i, size) in BODY_SIZES.into_iter().enumerate() {
        let blocks = hmac_blocks(size);
        let limit_ns = blocks as f64 * block_ns;
        // Bytes per nanosecond times 1000 is megabytes (10^6 bytes) per second.
        let sign_mb_per_sec = size as f64 / sign_ns[i] * 1000.0;
        let (openssl_column, ratio_column) = match openssl.get(&size) {
            Some(bytes_per_sec) => {
                let openssl_mb_per_sec = bytes_per_sec / 1e6;
                (
                    format!("{openssl_mb_per_sec:.0}"),
                    format!("{:.2}", sign_mb_per_sec / openssl_mb_per_sec),
                )
            }
            None => ("-".to_owned(), "-".to_owned()),
        };
        println!(
            "| {size} B | {blocks} | {limit_ns:.0} | {:.0} | {:.1} | {sign_mb_per_sec:.0} | {:.0} \
             | {:.1} | {:.0} | {:.2} | {openssl_column} | {ratio_column} |",
            sign_ns[i],
            100.0 * limit_ns / sign_ns[i],
            verify_ns[i],
            100.0 * limit_ns / verify_ns[i],
            hmac_ns[i],
            hmac_ns[i] / sign_ns[i],
        );
    }
    ExitCode::SUCCESS
}
