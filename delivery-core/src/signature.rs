//! Request signing and verification.
//!
//! Every request carries `Aresgen-Timestamp` (the attempt's send time in Unix seconds) and
//! `Aresgen-Signature`: the lowercase hex of HMAC-SHA256 over `<timestamp>.<raw body>`, keyed
//! with the endpoint secret's UTF-8 bytes. The secret is used whole, prefix included, and is
//! never base64-decoded.

use sha2::block_api::compress256;
use sha2::{Digest, Sha256};
use std::fmt;

/// Name of the header that carries the send time in Unix seconds.
pub const TIMESTAMP_HEADER: &str = "Aresgen-Timestamp";
/// Name of the header that carries the hex signature.
pub const SIGNATURE_HEADER: &str = "Aresgen-Signature";
/// Maximum age, and maximum distance into the future, of a timestamp the verifier accepts.
pub const TOLERANCE_SECS: u64 = 300;
/// Length of a signature in hex characters.
pub const SIGNATURE_HEX_LEN: usize = 64;

/// SHA-256 block length in bytes.
const BLOCK_LEN: usize = 64;
/// SHA-256 digest length in bytes.
const DIGEST_LEN: usize = 32;
/// SHA-256 initial hash value (FIPS 180-4, section 5.3.3).
const SHA256_INITIAL_STATE: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];
/// HMAC inner pad byte (RFC 2104).
const IPAD: u8 = 0x36;
/// HMAC outer pad byte (RFC 2104).
const OPAD: u8 = 0x5c;
/// Bit length of the outer hash's message: the opad block followed by the inner digest.
const OUTER_MESSAGE_BITS: u64 = ((BLOCK_LEN + DIGEST_LEN) * 8) as u64;

/// An HMAC-SHA256 key with its inner and outer pads already absorbed.
///
/// Holds the SHA-256 chaining values after compressing `key ^ ipad` and `key ^ opad`, so a
/// signature costs the message's blocks plus one outer block. The chaining values are as secret
/// as the key itself. Build one per endpoint and reuse it. `Debug` never prints the secret.
#[derive(Clone)]
pub struct SigningKey {
    inner_state: [u32; 8],
    outer_state: [u32; 8],
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

/// A signature as 64 lowercase hex characters, kept on the stack.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature([u8; SIGNATURE_HEX_LEN]);

impl Signature {
    /// Returns the signature as a string slice of 64 lowercase hex characters.
    pub fn as_str(&self) -> &str {
        // The buffer only ever holds ASCII hex digits.
        std::str::from_utf8(&self.0).expect("hex digits are ASCII")
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.as_str())
    }
}

/// Why a signed request was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The timestamp header is absent or empty.
    #[error("missing Aresgen-Timestamp header: send the attempt's Unix time in seconds")]
    MissingTimestamp,
    /// The timestamp is not a decimal integer of Unix seconds.
    #[error("malformed Aresgen-Timestamp {value:?}: expected Unix seconds as a decimal integer")]
    MalformedTimestamp { value: String },
    /// The signature header is absent or empty.
    #[error("missing Aresgen-Signature header")]
    MissingSignature,
    /// The signature is not 64 lowercase hex characters.
    #[error("malformed Aresgen-Signature: {reason}")]
    MalformedSignature { reason: String },
    /// The signature is well formed but does not match the body and timestamp.
    #[error("signature mismatch: the body, the timestamp or the secret differs from the signer's")]
    Mismatch,
    /// The timestamp is more than the tolerance in the past.
    #[error("stale timestamp: {age_secs} s old, more than the {TOLERANCE_SECS} s tolerance")]
    Stale { age_secs: u64 },
    /// The timestamp is more than the tolerance in the future.
    #[error("future timestamp: {ahead_secs} s ahead, more than the {TOLERANCE_SECS} s tolerance")]
    Future { ahead_secs: u64 },
}

impl VerifyError {
    /// Returns a short, stable name for the kind of failure: `missing`, `malformed`,
    /// `mismatch`, `stale` or `future`.
    pub fn kind(&self) -> &'static str {
        match self {
            VerifyError::MissingTimestamp | VerifyError::MissingSignature => "missing",
            VerifyError::MalformedTimestamp { .. } | VerifyError::MalformedSignature { .. } => {
                "malformed"
            }
            VerifyError::Mismatch => "mismatch",
            VerifyError::Stale { .. } => "stale",
            VerifyError::Future { .. } => "future",
        }
    }
}

impl SigningKey {
    /// Keys an HMAC with the secret's UTF-8 bytes, the whole string as given.
    pub fn new(secret: &str) -> Self {
        // RFC 2104: a key longer than the block is replaced by its hash, and a shorter key is
        // padded with zeros to the block length.
        let secret = secret.as_bytes();
        let mut key_block = [0u8; BLOCK_LEN];
        if secret.len() > BLOCK_LEN {
            key_block[..DIGEST_LEN].copy_from_slice(&Sha256::digest(secret));
        } else {
            key_block[..secret.len()].copy_from_slice(secret);
        }

        SigningKey {
            inner_state: absorb_pad(&key_block, IPAD),
            outer_state: absorb_pad(&key_block, OPAD),
        }
    }

    /// Signs `<timestamp>.<body>` and returns the lowercase hex signature.
    pub fn sign(&self, timestamp: u64, body: &[u8]) -> Signature {
        Signature(encode_hex(&self.compute_mac(timestamp, body)))
    }

    /// Verifies the two header values against the raw body at `now_secs` (Unix seconds).
    ///
    /// Returns the parsed timestamp on success. The MAC comparison runs in constant time;
    /// the checks on the headers' shapes do not, since they reveal nothing about the secret.
    /// Never panics, whatever the inputs.
    pub fn verify(
        &self,
        timestamp_header: Option<&str>,
        signature_header: Option<&str>,
        body: &[u8],
        now_secs: u64,
    ) -> Result<u64, VerifyError> {
        let timestamp = parse_timestamp(timestamp_header)?;
        let expected = parse_signature(signature_header)?;

        let actual = self.compute_mac(timestamp, body);
        if !mac_matches(&actual, &expected) {
            return Err(VerifyError::Mismatch);
        }

        check_tolerance(timestamp, now_secs)?;
        Ok(timestamp)
    }

    /// Computes HMAC-SHA256 over `<timestamp>.<body>` and returns the MAC as eight words, the
    /// final SHA-256 state of the outer hash.
    ///
    /// The body is never copied whole: its full 64-byte blocks go straight from the slice to the
    /// compression function, and only the block that starts with the timestamp and the padded
    /// final block or two are staged on the stack.
    fn compute_mac(&self, timestamp: u64, body: &[u8]) -> [u32; 8] {
        let mut digits = [0u8; 20];
        let timestamp_text = format_decimal(timestamp, &mut digits);
        let prefix_len = timestamp_text.len() + 1;
        // The inner hash's message is the ipad block, then the prefix, then the body. SHA-256
        // records its length modulo 2^64 bits.
        let message_bits = ((BLOCK_LEN + prefix_len + body.len()) as u64).wrapping_mul(8);

        let mut state = self.inner_state;
        let mut staging = [[0u8; BLOCK_LEN]; 2];
        let staged_bytes = staging.as_flattened_mut();
        staged_bytes[..timestamp_text.len()].copy_from_slice(timestamp_text);
        staged_bytes[timestamp_text.len()] = b'.';
        let head_len = body.len().min(BLOCK_LEN - prefix_len);
        staged_bytes[prefix_len..prefix_len + head_len].copy_from_slice(&body[..head_len]);
        let mut staged_len = prefix_len + head_len;

        if staged_len == BLOCK_LEN {
            compress256(&mut state, &staging[..1]);

            let (blocks, tail) = body[head_len..].as_chunks::<BLOCK_LEN>();
            if !blocks.is_empty() {
                compress256(&mut state, blocks);
            }

            staging = [[0u8; BLOCK_LEN]; 2];
            staging.as_flattened_mut()[..tail.len()].copy_from_slice(tail);
            staged_len = tail.len();
        }

        // SHA-256 padding: the byte 0x80, zeros, then the message length in bits as a big-endian
        // u64 at the end of the last block. It needs a second block when fewer than 9 bytes of
        // the first one are free.
        let staged_bytes = staging.as_flattened_mut();
        staged_bytes[staged_len] = 0x80;
        let final_blocks = if staged_len + 9 <= BLOCK_LEN { 1 } else { 2 };
        let end = final_blocks * BLOCK_LEN;
        staged_bytes[end - 8..end].copy_from_slice(&message_bits.to_be_bytes());
        compress256(&mut state, &staging[..final_blocks]);

        // The outer hash's message is the opad block and the 32-byte inner digest, so its
        // remaining input and padding fit in one block.
        let mut outer_block = [0u8; BLOCK_LEN];
        for (chunk, word) in outer_block.chunks_exact_mut(4).zip(state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        outer_block[DIGEST_LEN] = 0x80;
        outer_block[BLOCK_LEN - 8..].copy_from_slice(&OUTER_MESSAGE_BITS.to_be_bytes());
        let mut outer = self.outer_state;
        compress256(&mut outer, &[outer_block]);
        outer
    }
}

/// Compresses the key block XOR-ed with `pad` into a fresh SHA-256 state.
fn absorb_pad(key_block: &[u8; BLOCK_LEN], pad: u8) -> [u32; 8] {
    let padded = key_block.map(|byte| byte ^ pad);
    let mut state = SHA256_INITIAL_STATE;
    compress256(&mut state, &[padded]);
    state
}

/// Compares a computed MAC with the expected bytes without an early exit.
///
/// Every word's difference is OR-ed into one accumulator, and `black_box` hides the
/// accumulator from the optimizer so it cannot turn the fold into a branching compare. This
/// costs a few nanoseconds, where `subtle`'s byte-wise `ct_eq` costs tens.
// NOTE: `black_box` is documented as best effort, so constant time rests on the compiled code
// and is not guaranteed by the language.
fn mac_matches(actual: &[u32; 8], expected: &[u8; DIGEST_LEN]) -> bool {
    let mut difference = 0u32;
    for (word, bytes) in actual.iter().zip(expected.as_chunks::<4>().0) {
        difference |= word ^ u32::from_be_bytes(*bytes);
    }
    std::hint::black_box(difference) == 0
}

/// Writes `value` in decimal into the end of `buf` and returns the written digits.
pub fn format_decimal(mut value: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    &buf[start..]
}

/// Encodes the MAC's words as big-endian lowercase hex.
///
/// The high and low digits are computed in two separate passes and then interleaved, a shape
/// the compiler turns into SIMD code with no table lookups and no branches.
fn encode_hex(words: &[u32; 8]) -> [u8; SIGNATURE_HEX_LEN] {
    let mut bytes = [0u8; DIGEST_LEN];
    for (chunk, word) in bytes.chunks_exact_mut(4).zip(words) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }

    let mut high_digits = [0u8; DIGEST_LEN];
    let mut low_digits = [0u8; DIGEST_LEN];
    for ((high, low), byte) in high_digits.iter_mut().zip(&mut low_digits).zip(bytes) {
        *high = hex_digit(byte >> 4);
        *low = hex_digit(byte & 0x0f);
    }

    let mut out = [0u8; SIGNATURE_HEX_LEN];
    for ((pair, high), low) in out.chunks_exact_mut(2).zip(high_digits).zip(low_digits) {
        pair[0] = high;
        pair[1] = low;
    }
    out
}

/// Returns the lowercase hex digit of a value below 16.
fn hex_digit(nibble: u8) -> u8 {
    nibble + b'0' + u8::from(nibble > 9) * (b'a' - b'0' - 10)
}

fn parse_timestamp(header: Option<&str>) -> Result<u64, VerifyError> {
    let value = match header.map(str::trim) {
        None | Some("") => return Err(VerifyError::MissingTimestamp),
        Some(value) => value,
    };

    let malformed = || VerifyError::MalformedTimestamp {
        value: truncate_for_message(value),
    };
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed());
    }
    value.parse::<u64>().map_err(|_| malformed())
}

fn parse_signature(header: Option<&str>) -> Result<[u8; DIGEST_LEN], VerifyError> {
    let value = match header.map(str::trim) {
        None | Some("") => return Err(VerifyError::MissingSignature),
        Some(value) => value,
    };

    if value.len() != SIGNATURE_HEX_LEN {
        return Err(VerifyError::MalformedSignature {
            reason: format!(
                "expected {SIGNATURE_HEX_LEN} lowercase hex characters, got {} bytes",
                value.len()
            ),
        });
    }

    let mut bytes = [0u8; DIGEST_LEN];
    let mut invalid = 0u8;
    for (byte, pair) in bytes.iter_mut().zip(value.as_bytes().as_chunks::<2>().0) {
        let high = HEX_VALUES[usize::from(pair[0])];
        let low = HEX_VALUES[usize::from(pair[1])];
        invalid |= high | low;
        *byte = (high << 4) | low;
    }
    if invalid > MAX_HEX_VALUE {
        let offset = value
            .bytes()
            .position(|digit| HEX_VALUES[usize::from(digit)] == INVALID_HEX)
            .expect("some digit is invalid");
        return Err(VerifyError::MalformedSignature {
            reason: format!("character at offset {offset} is not a lowercase hex digit"),
        });
    }
    Ok(bytes)
}

/// Marks a byte that is not a lowercase hex digit in `HEX_VALUES`. Its high nibble is set and no
/// digit's value has one, so OR-ing the values of a whole signature shows whether any was invalid.
const INVALID_HEX: u8 = 0xff;
/// The largest value of a valid hex digit.
const MAX_HEX_VALUE: u8 = 0x0f;

/// The value of each byte as a lowercase hex digit, or `INVALID_HEX`.
const HEX_VALUES: [u8; 256] = {
    let mut values = [INVALID_HEX; 256];
    let mut digit = 0;
    while digit < 16 {
        values[b"0123456789abcdef"[digit] as usize] = digit as u8;
        digit += 1;
    }
    values
};

fn check_tolerance(timestamp: u64, now_secs: u64) -> Result<(), VerifyError> {
    if timestamp < now_secs {
        let age_secs = now_secs - timestamp;
        if age_secs > TOLERANCE_SECS {
            return Err(VerifyError::Stale { age_secs });
        }
    } else {
        let ahead_secs = timestamp - now_secs;
        if ahead_secs > TOLERANCE_SECS {
            return Err(VerifyError::Future { ahead_secs });
        }
    }
    Ok(())
}

fn truncate_for_message(value: &str) -> String {
    const LIMIT: usize = 40;
    match value.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "ags_dGVzdC1zZWNyZXQtZm9yLXVuaXQtdGVzdHMtb25seS0xMjM0";

    #[test]
    fn sign_then_verify_accepts() {
        let key = SigningKey::new(SECRET);
        let signature = key.sign(1_700_000_000, b"{\"a\":1}");
        let result = key.verify(
            Some("1700000000"),
            Some(signature.as_str()),
            b"{\"a\":1}",
            1_700_000_000,
        );
        assert_eq!(result, Ok(1_700_000_000));
    }

    #[test]
    fn verify_rejects_changed_body() {
        let key = SigningKey::new(SECRET);
        let signature = key.sign(1_700_000_000, b"{\"a\":1}");
        let result = key.verify(
            Some("1700000000"),
            Some(signature.as_str()),
            b"{\"a\":2}",
            1_700_000_000,
        );
        assert_eq!(result, Err(VerifyError::Mismatch));
    }

    #[test]
    fn verify_rejects_wrong_secret() {
        let signature = SigningKey::new(SECRET).sign(1_700_000_000, b"x");
        let result = SigningKey::new("ags_other").verify(
            Some("1700000000"),
            Some(signature.as_str()),
            b"x",
            1_700_000_000,
        );
        assert_eq!(result, Err(VerifyError::Mismatch));
    }

    #[test]
    fn verify_tolerance_edges() {
        let key = SigningKey::new(SECRET);
        let ts = 1_700_000_000;
        let signature = key.sign(ts, b"x");
        let verify_at = |now| key.verify(Some("1700000000"), Some(signature.as_str()), b"x", now);

        assert_eq!(verify_at(ts + 300), Ok(ts));
        assert_eq!(
            verify_at(ts + 301),
            Err(VerifyError::Stale { age_secs: 301 })
        );
        assert_eq!(verify_at(ts - 300), Ok(ts));
        assert_eq!(
            verify_at(ts - 301),
            Err(VerifyError::Future { ahead_secs: 301 })
        );
    }

    #[test]
    fn verify_distinguishes_malformed_inputs() {
        let key = SigningKey::new(SECRET);
        let good = key.sign(1, b"x");
        let cases: [(Option<&str>, Option<&str>, &str); 8] = [
            (None, Some(good.as_str()), "missing"),
            (Some(""), Some(good.as_str()), "missing"),
            (Some("12a"), Some(good.as_str()), "malformed"),
            (Some("-5"), Some(good.as_str()), "malformed"),
            (
                Some("99999999999999999999999"),
                Some(good.as_str()),
                "malformed",
            ),
            (Some("1"), None, "missing"),
            (Some("1"), Some("abc"), "malformed"),
            (Some("1"), Some(&"Z".repeat(64)), "malformed"),
        ];
        for (timestamp, signature, kind) in cases {
            let error = key.verify(timestamp, signature, b"x", 1).unwrap_err();
            assert_eq!(error.kind(), kind, "{timestamp:?} {signature:?}: {error}");
        }
    }

    #[test]
    fn verify_rejects_uppercase_hex() {
        let key = SigningKey::new(SECRET);
        let upper = key.sign(1, b"x").as_str().to_ascii_uppercase();
        let error = key.verify(Some("1"), Some(&upper), b"x", 1).unwrap_err();
        assert_eq!(error.kind(), "malformed");
    }

    #[test]
    fn debug_redacts_secret() {
        let key = SigningKey::new(SECRET);
        assert!(!format!("{key:?}").contains("ags_"));
    }

    #[test]
    fn format_decimal_writes_digits() {
        let mut buf = [0u8; 20];
        assert_eq!(format_decimal(0, &mut buf), b"0");
        assert_eq!(format_decimal(1_700_000_000, &mut buf), b"1700000000");
        assert_eq!(format_decimal(u64::MAX, &mut buf), b"18446744073709551615");
    }

    /// Signs with the `hmac` crate, the reference the block-level code must match.
    fn reference_signature(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
        use hmac::{KeyInit, Mac};
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// Returns `len` bytes that differ from block to block, so a misplaced block changes the MAC.
    fn patterned_body(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 + i / 64) as u8).collect()
    }

    const EDGE_TIMESTAMPS: [u64; 7] = [0, 9, 10, 99, 1_700_000_000, 10_000_000_000, u64::MAX];

    #[test]
    fn sign_matches_hmac_crate_for_lengths_0_to_300() {
        let key = SigningKey::new(SECRET);
        for timestamp in EDGE_TIMESTAMPS {
            for len in 0..=300 {
                let body = patterned_body(len);
                assert_eq!(
                    key.sign(timestamp, &body).as_str(),
                    reference_signature(SECRET.as_bytes(), timestamp, &body),
                    "timestamp {timestamp}, body length {len}"
                );
            }
        }
    }

    #[test]
    fn sign_matches_hmac_crate_for_large_bodies() {
        let key = SigningKey::new(SECRET);
        for len in [1023, 1024, 1025, 4096, 65_535, 65_536, 65_537] {
            let body = patterned_body(len);
            assert_eq!(
                key.sign(1_700_000_000, &body).as_str(),
                reference_signature(SECRET.as_bytes(), 1_700_000_000, &body),
                "body length {len}"
            );
        }
    }

    #[test]
    fn sign_matches_hmac_crate_for_key_lengths() {
        // Keys of 64 bytes or fewer are zero-padded, and longer ones are hashed first.
        for key_len in [0, 1, 31, 32, 33, 63, 64, 65, 100, 128, 200] {
            let secret = "k".repeat(key_len);
            let key = SigningKey::new(&secret);
            for len in [0, 52, 53, 54, 117, 300] {
                let body = patterned_body(len);
                assert_eq!(
                    key.sign(1_700_000_000, &body).as_str(),
                    reference_signature(secret.as_bytes(), 1_700_000_000, &body),
                    "key length {key_len}, body length {len}"
                );
            }
        }
    }

    #[test]
    fn sign_matches_openssl_vector() {
        // Expected value from OpenSSL 3.0:
        // printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac "$SECRET"
        let key = SigningKey::new(SECRET);
        assert_eq!(
            key.sign(1_700_000_000, b"{\"a\":1}").as_str(),
            "a6564a7f43340b086e70e8fbb75c28c8ee3e0d2658819990c9c210a53f3b9e9c"
        );
    }

    #[test]
    fn verify_accepts_reference_signature() {
        let long_secret = "s".repeat(100);
        for secret in [SECRET, long_secret.as_str()] {
            let key = SigningKey::new(secret);
            for len in [0, 1, 53, 64, 256, 1024] {
                let body = patterned_body(len);
                let signature = reference_signature(secret.as_bytes(), 1_700_000_000, &body);
                assert_eq!(
                    key.verify(Some("1700000000"), Some(&signature), &body, 1_700_000_000),
                    Ok(1_700_000_000),
                    "secret length {}, body length {len}",
                    secret.len()
                );
            }
        }
    }

    #[test]
    fn verify_rejects_each_changed_signature_digit() {
        let key = SigningKey::new(SECRET);
        let signature = key.sign(1_700_000_000, b"x").as_str().to_owned();
        for offset in 0..SIGNATURE_HEX_LEN {
            let mut changed = signature.clone().into_bytes();
            changed[offset] = if changed[offset] == b'0' { b'1' } else { b'0' };
            let changed = String::from_utf8(changed).expect("hex is ASCII");
            assert_eq!(
                key.verify(Some("1700000000"), Some(&changed), b"x", 1_700_000_000),
                Err(VerifyError::Mismatch),
                "digit {offset} changed"
            );
        }
    }

    #[test]
    fn verify_reports_first_invalid_digit_offset() {
        let key = SigningKey::new(SECRET);
        let mut signature = "0".repeat(SIGNATURE_HEX_LEN).into_bytes();
        signature[41] = b'g';
        signature[50] = b'G';
        let signature = String::from_utf8(signature).expect("ASCII");
        let error = key
            .verify(Some("1"), Some(&signature), b"x", 1)
            .unwrap_err();
        assert_eq!(
            error,
            VerifyError::MalformedSignature {
                reason: "character at offset 41 is not a lowercase hex digit".to_owned()
            }
        );
    }

    #[test]
    fn encode_hex_covers_every_nibble() {
        let words = [
            0x0123_4567,
            0x89ab_cdef,
            0,
            u32::MAX,
            0x0f0f_0f0f,
            0xf0f0_f0f0,
            9,
            10,
        ];
        let expected = "0123456789abcdef00000000ffffffff0f0f0f0ff0f0f0f0000000090000000a";
        assert_eq!(&encode_hex(&words)[..], expected.as_bytes());
    }

    proptest::proptest! {
        #[test]
        fn verify_never_panics_on_any_input(
            timestamp in proptest::option::of(".{0,30}"),
            signature in proptest::option::of(".{0,80}"),
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
            now in proptest::num::u64::ANY,
        ) {
            let key = SigningKey::new(SECRET);
            let _ = key.verify(timestamp.as_deref(), signature.as_deref(), &body, now);
        }

        #[test]
        fn sign_matches_hmac_crate_on_random_inputs(
            secret in ".{0,100}",
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..2000),
            timestamp in proptest::num::u64::ANY,
        ) {
            let signature = SigningKey::new(&secret).sign(timestamp, &body);
            proptest::prop_assert_eq!(
                signature.as_str(),
                reference_signature(secret.as_bytes(), timestamp, &body)
            );
        }

        #[test]
        fn signature_verifies_only_its_own_bytes(
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
            flip in proptest::num::usize::ANY,
            timestamp in 0u64..4_000_000_000,
        ) {
            let key = SigningKey::new(SECRET);
            let signature = key.sign(timestamp, &body);
            let header = timestamp.to_string();
            proptest::prop_assert_eq!(
                key.verify(Some(&header), Some(signature.as_str()), &body, timestamp),
                Ok(timestamp)
            );
            if !body.is_empty() {
                let mut changed = body.clone();
                changed[flip % body.len()] ^= 0x01;
                proptest::prop_assert_eq!(
                    key.verify(Some(&header), Some(signature.as_str()), &changed, timestamp),
                    Err(VerifyError::Mismatch)
                );
            }
        }
    }
}
