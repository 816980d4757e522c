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
/// Contains the SHA-256 chaining values after compressing `key ^ ipad` and `key ^ opad`, so a
/// signature costs the message's blocks plus one outer block. The chaining values are as secret
/// as the key itself. Build one per endpoint and reuse it. `Debug` never prints the secret.
#[derive(Clone)]
pub struct SigningKey {
    inner_state: [u32; 8],
    outer_state: [u32; 8],
    /// Whether the CPU has the x86 SHA extensions, checked once per key.
    #[cfg(target_arch = "x86_64")]
    sha_ni: bool,
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
        // The buffer contains only ASCII hex digits.
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

/// The reason a signed request was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The timestamp header is absent or empty.
    #[error("missing Aresgen-Timestamp header: send the attempt's Unix time in seconds")]
    MissingTimestamp,
    /// The timestamp is not a decimal integer of Unix seconds without leading zeros.
    #[error(
        "malformed Aresgen-Timestamp {value:?}: expected Unix seconds as a decimal integer without leading zeros"
    )]
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
            #[cfg(target_arch = "x86_64")]
            sha_ni: sha_ni::is_supported(),
        }
    }

    /// Signs `<timestamp>.<body>` and returns the lowercase hex signature.
    pub fn sign(&self, timestamp: u64, body: &[u8]) -> Signature {
        #[cfg(target_arch = "x86_64")]
        if self.sha_ni {
            // SAFETY: `sha_ni` is true only when `SigningKey::new` detected every CPU feature
            // that `sha_ni::sign` enables.
            return Signature(unsafe {
                sha_ni::sign(&self.inner_state, &self.outer_state, timestamp, body)
            });
        }
        let mac = compute_mac_portable(&self.inner_state, &self.outer_state, timestamp, body);
        Signature(encode_hex(&mac))
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
    fn compute_mac(&self, timestamp: u64, body: &[u8]) -> [u32; 8] {
        #[cfg(target_arch = "x86_64")]
        if self.sha_ni {
            // SAFETY: `sha_ni` is true only when `SigningKey::new` detected every CPU feature
            // that `sha_ni::compute_mac` enables.
            return unsafe {
                sha_ni::compute_mac(&self.inner_state, &self.outer_state, timestamp, body)
            };
        }
        compute_mac_portable(&self.inner_state, &self.outer_state, timestamp, body)
    }
}

/// The inner hash's message after the ipad block, `<timestamp>.<body>` with SHA-256 padding,
/// cut into the runs of blocks that are compressed in order.
///
/// The body is never copied whole: its full blocks are borrowed straight from the slice. The
/// head block, which starts with the timestamp, is built by the backend from `timestamp` and
/// `body`, and only the padded last block or two are staged here.
struct InnerMessage<'a> {
    timestamp: u64,
    body: &'a [u8],
    /// Length of `<timestamp>.` in bytes.
    prefix_len: usize,
    /// Whether the message continues past its first block, so the head block comes before
    /// `body_blocks` and `tail`. Otherwise the whole message is in `tail`.
    has_head: bool,
    /// The body's whole blocks after the head block.
    body_blocks: &'a [[u8; BLOCK_LEN]],
    /// The rest of the message with its padding.
    tail: [[u8; BLOCK_LEN]; 2],
    tail_blocks: usize,
}

impl<'a> InnerMessage<'a> {
    /// Stages the message's tail. Each backend builds the message in place, because moving it
    /// costs about as much as staging it.
    #[inline(always)]
    fn new(timestamp: u64, body: &'a [u8]) -> Self {
        let digit_count = timestamp.checked_ilog10().unwrap_or(0) as usize + 1;
        let prefix_len = digit_count + 1;
        // The inner hash's message is the ipad block, then the prefix, then the body. SHA-256
        // records its length modulo 2^64 bits.
        let message_bits = ((BLOCK_LEN + prefix_len + body.len()) as u64).wrapping_mul(8);

        let mut tail = [[0u8; BLOCK_LEN]; 2];
        let has_head = prefix_len + body.len() >= BLOCK_LEN;
        let (body_blocks, tail_len) = if has_head {
            let (body_blocks, rest) = body[BLOCK_LEN - prefix_len..].as_chunks::<BLOCK_LEN>();
            tail.as_flattened_mut()[..rest.len()].copy_from_slice(rest);
            (body_blocks, rest.len())
        } else {
            let tail_bytes = tail.as_flattened_mut();
            write_prefix(timestamp, &mut tail_bytes[..prefix_len]);
            tail_bytes[prefix_len..prefix_len + body.len()].copy_from_slice(body);
            (&[][..], prefix_len + body.len())
        };

        // SHA-256 padding: the byte 0x80, zeros, then the message length in bits as a big-endian
        // u64 at the end of the last block. It needs a second block when fewer than 9 bytes of
        // the first one are free.
        let tail_bytes = tail.as_flattened_mut();
        tail_bytes[tail_len] = 0x80;
        let tail_blocks = if tail_len + 9 <= BLOCK_LEN { 1 } else { 2 };
        let end = tail_blocks * BLOCK_LEN;
        tail_bytes[end - 8..end].copy_from_slice(&message_bits.to_be_bytes());

        InnerMessage {
            timestamp,
            body,
            prefix_len,
            has_head,
            body_blocks,
            tail,
            tail_blocks,
        }
    }

    /// Returns the head block staged in memory. Call it only when `has_head` is true.
    #[inline(always)]
    fn stage_head(&self) -> [[u8; BLOCK_LEN]; 1] {
        let mut head = [[0u8; BLOCK_LEN]; 1];
        let head_bytes = head.as_flattened_mut();
        write_prefix(self.timestamp, &mut head_bytes[..self.prefix_len]);
        head_bytes[self.prefix_len..].copy_from_slice(&self.body[..BLOCK_LEN - self.prefix_len]);
        head
    }

    fn tail(&self) -> &[[u8; BLOCK_LEN]] {
        &self.tail[..self.tail_blocks]
    }
}

/// Writes `value` in decimal followed by `.` into `prefix`, which has room for exactly that.
#[inline(always)]
fn write_prefix(mut value: u64, prefix: &mut [u8]) {
    let (dot, digits) = prefix
        .split_last_mut()
        .expect("the prefix has room for the dot");
    *dot = b'.';
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Returns `<timestamp>.` as little-endian bytes in integers, its first 16 bytes in the `u128`
/// and the rest in the `u64`, for building the head block in registers.
///
/// The head block waits for these bytes, so timestamps below 10^16 are converted eight digits
/// at a time in parallel instead of by a chain of divisions.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
fn prefix_bytes(timestamp: u64, digit_count: usize) -> (u128, u64) {
    const SPLIT: u64 = 100_000_000;
    if digit_count > 16 {
        return prefix_bytes_by_division(timestamp, digit_count);
    }

    // Sixteen digits padded with leading zeros, the most significant in the lowest byte.
    let digits = u128::from(eight_digits((timestamp / SPLIT) as u32))
        | (u128::from(eight_digits((timestamp % SPLIT) as u32)) << 64);
    let digits = digits >> (8 * (16 - digit_count));
    if digit_count < 16 {
        (digits | (u128::from(b'.') << (8 * digit_count)), 0)
    } else {
        (digits, u64::from(b'.'))
    }
}

/// Returns the eight decimal digits of `value`, below 10^8, as ASCII with leading zeros, the most
/// significant digit in the lowest byte.
///
/// Each step splits every lane in two at once: 4-digit halves in 32-bit lanes, then 2-digit
/// quarters in 16-bit lanes, then single digits in bytes. The multiply-shift pairs divide by 100
/// and by 10 exactly for lanes below 10^4 and below 100.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
fn eight_digits(value: u32) -> u64 {
    let halves = u64::from(value / 10_000) | (u64::from(value % 10_000) << 32);
    let hundreds = ((halves * 5243) >> 19) & 0x0000_007f_0000_007f;
    let quarters = hundreds | ((halves - hundreds * 100) << 16);
    let tens = ((quarters * 103) >> 10) & 0x000f_000f_000f_000f;
    let digits = tens | ((quarters - tens * 10) << 8);
    digits + 0x3030_3030_3030_3030
}

/// Returns the same bytes as `prefix_bytes` for any timestamp, one division per digit.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn prefix_bytes_by_division(mut timestamp: u64, digit_count: usize) -> (u128, u64) {
    let mut low = 0u128;
    let mut high = 0u64;
    let mut put = |position: usize, byte: u8| {
        if position < 16 {
            low |= u128::from(byte) << (8 * position);
        } else {
            high |= u64::from(byte) << (8 * (position - 16));
        }
    };

    put(digit_count, b'.');
    for position in (0..digit_count).rev() {
        put(position, b'0' + (timestamp % 10) as u8);
        timestamp /= 10;
    }
    (low, high)
}

/// Computes the MAC with `sha2`'s compression function, on any CPU.
fn compute_mac_portable(
    inner_state: &[u32; 8],
    outer_state: &[u32; 8],
    timestamp: u64,
    body: &[u8],
) -> [u32; 8] {
    let message = InnerMessage::new(timestamp, body);
    let mut inner = *inner_state;
    if message.has_head {
        compress256(&mut inner, &message.stage_head());
    }
    if !message.body_blocks.is_empty() {
        compress256(&mut inner, message.body_blocks);
    }
    compress256(&mut inner, message.tail());

    // The outer hash's message is the opad block and the 32-byte inner digest, so its
    // remaining input and padding fit in one block.
    let mut outer_block = [0u8; BLOCK_LEN];
    for (chunk, word) in outer_block.chunks_exact_mut(4).zip(inner) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    outer_block[DIGEST_LEN] = 0x80;
    outer_block[BLOCK_LEN - 8..].copy_from_slice(&OUTER_MESSAGE_BITS.to_be_bytes());
    let mut outer = *outer_state;
    compress256(&mut outer, &[outer_block]);
    outer
}

#[cfg(target_arch = "x86_64")]
mod sha_ni;

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
/// accumulator from the optimizer so it cannot turn the fold into a branching compare. The
/// fold costs a few nanoseconds and needs no dependency.
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
    // The signed text is the header's exact digits, and the signer never writes a leading
    // zero, so "01778487262" would verify against the wrong bytes: reject it.
    let has_leading_zero = value.len() > 1 && value.starts_with('0');
    if !value.bytes().all(|b| b.is_ascii_digit()) || has_leading_zero {
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

    // Decode every digit branch-free, a loop the compiler turns into SIMD code, and look for
    // the offending character only when some digit was invalid.
    let mut values = [0u8; SIGNATURE_HEX_LEN];
    let mut invalid = false;
    for (value, &digit) in values.iter_mut().zip(value.as_bytes()) {
        let (decoded, is_valid) = decode_hex_digit(digit);
        *value = decoded;
        invalid |= !is_valid;
    }
    if invalid {
        let offset = value
            .bytes()
            .position(|digit| !decode_hex_digit(digit).1)
            .expect("some digit is invalid");
        return Err(VerifyError::MalformedSignature {
            reason: format!("character at offset {offset} is not a lowercase hex digit"),
        });
    }

    let mut bytes = [0u8; DIGEST_LEN];
    for (byte, pair) in bytes.iter_mut().zip(values.as_chunks::<2>().0) {
        *byte = (pair[0] << 4) | pair[1];
    }
    Ok(bytes)
}

/// Returns the value of a lowercase hex digit and whether `digit` is one.
fn decode_hex_digit(digit: u8) -> (u8, bool) {
    let decimal = digit.wrapping_sub(b'0');
    let letter = digit.wrapping_sub(b'a');
    let is_decimal = decimal < 10;
    let is_letter = letter < 6;
    let value = if is_decimal {
        decimal
    } else {
        letter.wrapping_add(10)
    };
    (value, is_decimal | is_letter)
}

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
mod tests;
