//! Prints how close signing and verification come to the SHA-256 compression limit, from the
//! estimates that `cargo bench -p aresgen-benches --bench signing` saved.
//!
//! Usage: `signing-report [--openssl] [CRITERION_DIR]`. With `--openssl` it also runs
//! `openssl speed -hmac sha256 -seconds 3` and compares throughput at the sizes both measured.

use aresgen_benches::{
    BODY_SIZES, COMPRESS, LIMIT_BLOCKS, SIGN, SIGN_HMAC_CRATE, VERIFY, group_name, hmac_blocks,
    openssl_hmac_sha256_bytes_per_sec,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut run_openssl = false;
    let mut criterion_dir = None;
    for argument in std::env::args().skip(1) {
        match argument.as_str() {
            "--openssl" => run_openssl = true,
            "-h" | "--help" => {
                println!("usage: signing-report [--openssl] [CRITERION_DIR]");
                println!("  --openssl      also run `openssl speed -hmac sha256 -seconds 3`");
                println!(
                    "  CRITERION_DIR  criterion output (default: the workspace's target/criterion)"
                );
                return ExitCode::SUCCESS;
            }
            _ => criterion_dir = Some(PathBuf::from(argument)),
        }
    }
    let criterion_dir = criterion_dir.unwrap_or_else(default_criterion_dir);

    match report(&criterion_dir, run_openssl) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("signing-report: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Returns where criterion writes by default: `$CRITERION_HOME`, else
/// `$CARGO_TARGET_DIR/criterion`, else `target/criterion` in the workspace root.
fn default_criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/criterion")
}

fn report(criterion_dir: &Path, run_openssl: bool) -> Result<(), String> {
    let openssl = if run_openssl {
        openssl_hmac_sha256_bytes_per_sec()?
    } else {
        BTreeMap::new()
    };

    println!(
        "| body | blocks | ns per block | limit ns | sign ns | % of limit | sign MB/s | verify ns \
         | % of limit | hmac crate ns | hmac crate / sign | openssl MB/s | sign / openssl |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut above_limit = false;
    for size in BODY_SIZES {
        let group = group_name(size);
        let block_ns = median_ns(criterion_dir, &group, COMPRESS)? / LIMIT_BLOCKS as f64;
        let blocks = hmac_blocks(size);
        let limit_ns = blocks as f64 * block_ns;
        let sign_ns = median_ns(criterion_dir, &group, SIGN)?;
        let verify_ns = median_ns(criterion_dir, &group, VERIFY)?;
        let hmac_ns = median_ns(criterion_dir, &group, SIGN_HMAC_CRATE)?;
        let sign_share = 100.0 * limit_ns / sign_ns;
        let verify_share = 100.0 * limit_ns / verify_ns;
        above_limit |= sign_share > 100.5 || verify_share > 100.5;

        // Bytes per nanosecond times 1000 is megabytes (10^6 bytes) per second.
        let sign_mb_per_sec = size as f64 / sign_ns * 1000.0;
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
            "| {} | {blocks} | {block_ns:.2} | {limit_ns:.0} | {sign_ns:.0} | {sign_share:.1} \
             | {sign_mb_per_sec:.0} | {verify_ns:.0} | {verify_share:.1} | {hmac_ns:.0} | {:.2} \
             | {openssl_column} | {ratio_column} |",
            size_label(size),
            hmac_ns / sign_ns,
        );
    }

    if above_limit {
        println!();
        println!(
            "NOTE: a share above 100% means the machine was busier while the limit was measured \
             than while signing; rerun on a quieter machine."
        );
    }
    Ok(())
}

/// Reads the median time in nanoseconds of one benchmark from criterion's `estimates.json`.
fn median_ns(criterion_dir: &Path, group: &str, function: &str) -> Result<f64, String> {
    let path = criterion_dir
        .join(group)
        .join(function)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(&path).map_err(|error| {
        format!(
            "cannot read {}: {error}; run `cargo bench -p aresgen-benches --bench signing` first",
            path.display()
        )
    })?;
    let estimates: serde_json::Value = serde_json::from_str(&text)
        .map_err(|error| format!("invalid JSON in {}: {error}", path.display()))?;
    estimates["median"]["point_estimate"]
        .as_f64()
        .ok_or_else(|| format!("{} has no median.point_estimate", path.display()))
}

fn size_label(size: usize) -> String {
    if size >= 1024 && size.is_multiple_of(1024) {
        format!("{} KiB", size / 1024)
    } else {
        format!("{size} B")
    }
}
