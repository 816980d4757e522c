//! Shared definitions for the signing benchmarks and the `signing-report` binary.
//!
//! The criterion bench `benches/signing.rs` measures signing, verification, the `hmac` crate
//! baseline and the raw SHA-256 compression function. `signing-report` reads the saved estimates
//! and prints how close each signing size comes to the compression limit.

/// Body sizes in bytes that are signed and verified.
pub const BODY_SIZES: [usize; 4] = [256, 1024, 4096, 65_536];

/// Timestamp signed in every benchmark: ten digits, like any Unix time from 2001 to 2286.
pub const TIMESTAMP: u64 = 1_700_000_000;

/// Secret used in every benchmark.
pub const SECRET: &str = "ags_YmVuY2htYXJrLXNlY3JldC1ub3QtdXNlZC1hbnl3aGVyZS1lbHNl";

/// Number of 64-byte blocks compressed in the hardware-limit benchmark.
pub const LIMIT_BLOCKS: usize = 1024;

/// Criterion group of the raw compression benchmark.
pub const COMPRESS_GROUP: &str = "sha256-compress";
/// Criterion group of the signing benchmarks.
pub const SIGN_GROUP: &str = "sign";
/// Criterion group of the verification benchmarks.
pub const VERIFY_GROUP: &str = "verify";
/// Benchmark name of this crate's `SigningKey`.
pub const ARESGEN: &str = "aresgen";
/// Benchmark name of the RustCrypto `hmac` crate baseline.
pub const HMAC_CRATE: &str = "hmac-crate";

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
