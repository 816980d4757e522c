//! Shared definitions for the signing benchmarks and the `signing-report` and
//! `signing-interleaved` binaries.
//!
//! The criterion bench `benches/signing.rs` measures, for each body size, the raw SHA-256
//! compression function, signing, verification and the `hmac` crate baseline. `signing-report`
//! reads the saved estimates and prints how close each size comes to the compression limit.

/// Body sizes in bytes that are signed and verified.
pub const BODY_SIZES: [usize; 4] = [256, 1024, 4096, 65_536];

/// Timestamp signed in every benchmark: ten digits, like any Unix time from 2001 to 2286.
pub const TIMESTAMP: u64 = 1_700_000_000;

/// Secret used in every benchmark.
pub const SECRET: &str = "ags_YmVuY2htYXJrLXNlY3JldC1ub3QtdXNlZC1hbnl3aGVyZS1lbHNl";

/// Number of 64-byte blocks compressed in the hardware-limit benchmark.
pub const LIMIT_BLOCKS: usize = 1024;

/// Benchmark of `compress256` over `LIMIT_BLOCKS` blocks, the hardware limit per block.
pub const COMPRESS: &str = "sha256-compress-1024-blocks";
/// Benchmark of this crate's `SigningKey::sign`.
pub const SIGN: &str = "sign";
/// Benchmark of signing with the RustCrypto `hmac` crate, the baseline.
pub const SIGN_HMAC_CRATE: &str = "sign-hmac-crate";
/// Benchmark of this crate's `SigningKey::verify`.
pub const VERIFY: &str = "verify";
/// Benchmark of verifying with the RustCrypto `hmac` crate.
pub const VERIFY_HMAC_CRATE: &str = "verify-hmac-crate";

/// Returns the criterion group that contains every benchmark of one body size.
///
/// Each group measures the compression limit right before signing, so a change in the load of
/// a shared machine skews the ratio less than one limit measured for the whole run would.
pub fn group_name(body_len: usize) -> String {
    format!("body-{body_len}")
}

/// Returns the SHA-256 block compressions that a pre-keyed HMAC-SHA256 needs for `body_len`
/// bytes signed at `TIMESTAMP`.
///
/// The inner hash covers `<timestamp>.<body>` plus at least 9 bytes of padding, and the outer
/// hash adds one block for the inner digest. The ipad and opad blocks are absorbed once per key
/// and are not counted.
pub fn hmac_blocks(body_len: usize) -> usize {
    let prefix_len = TIMESTAMP.to_string().len() + 1;
    (prefix_len + body_len + 9).div_ceil(64) + 1
}

/// Returns a body of `len` bytes of JSON-like text.
pub fn body(len: usize) -> Vec<u8> {
    let pattern = br#"{"id":"evt_01","type":"invoice.paid","data":{"amount":1999}},"#;
    pattern.iter().copied().cycle().take(len).collect()
}

/// Runs `openssl speed -hmac sha256 -seconds 3` and returns bytes per second by message size.
///
/// OpenSSL prints one row per algorithm in thousands of bytes per second, for the message sizes
/// named in its header row, for example `16 bytes` to `16384 bytes`. By default it divides by
/// its own CPU time, so other processes on the machine skew the figures less than wall time.
pub fn openssl_hmac_sha256_bytes_per_sec() -> Result<std::collections::BTreeMap<usize, f64>, String>
{
    eprintln!("running `openssl speed -hmac sha256 -seconds 3`, about 20 s");
    let output = std::process::Command::new("openssl")
        .args(["speed", "-hmac", "sha256", "-seconds", "3"])
        .output()
        .map_err(|error| format!("failed to run openssl: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "openssl speed failed with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);

    let header = stdout
        .lines()
        .find(|line| line.starts_with("type"))
        .ok_or("openssl speed printed no `type` header row")?;
    let sizes: Vec<usize> = header
        .split_whitespace()
        .filter_map(|word| word.parse().ok())
        .collect();
    let row = stdout
        .lines()
        .find(|line| line.starts_with("hmac(sha256)"))
        .ok_or("openssl speed printed no `hmac(sha256)` row")?;
    let rates = row
        .split_whitespace()
        .skip(1)
        .map(|value| {
            value
                .trim_end_matches('k')
                .parse::<f64>()
                .map(|thousands| thousands * 1000.0)
                .map_err(|_| format!("unexpected openssl rate {value:?} in {row:?}"))
        })
        .collect::<Result<Vec<f64>, String>>()?;
    if rates.len() != sizes.len() {
        return Err(format!(
            "openssl printed {} sizes but {} rates",
            sizes.len(),
            rates.len()
        ));
    }
    Ok(sizes.into_iter().zip(rates).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_blocks_match_known_counts() {
        assert_eq!(hmac_blocks(256), 6);
        assert_eq!(hmac_blocks(1024), 18);
        assert_eq!(hmac_blocks(4096), 66);
        assert_eq!(hmac_blocks(65_536), 1026);
    }

    #[test]
    fn hmac_blocks_step_at_padding_boundary() {
        // 11 prefix bytes + 44 body bytes + 9 padding bytes fill one block exactly.
        assert_eq!(hmac_blocks(44), 2);
        assert_eq!(hmac_blocks(45), 3);
    }
}
