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
    /// Stages the message. Built in place by each backend, since moving it costs as much as
    /// staging it.
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
    let digits = digits >> (8 * (16 - digit_count.max(11)));
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

/// HMAC-SHA256 on the x86 SHA extensions, with the hash state kept in registers from the first
/// inner block to the last outer one.
///
/// `sha2::block_api::compress256` converts the state between memory and registers on every call,
/// and the MAC needs four calls, which costs about 4 ns each on an AMD EPYC (Zen 5). Here the
/// conversion happens once, and the outer block is built from the inner digest in registers.
/// The round code follows the x86 SHA backend of RustCrypto `sha2` 0.11.
#[cfg(target_arch = "x86_64")]
mod sha_ni {
    use super::{BLOCK_LEN, InnerMessage, OUTER_MESSAGE_BITS, SIGNATURE_HEX_LEN};
    use std::arch::x86_64::*;

    /// Returns whether the CPU has every feature that `compute_mac` enables.
    pub(super) fn is_supported() -> bool {
        is_x86_feature_detected!("sha")
            && is_x86_feature_detected!("sse2")
            && is_x86_feature_detected!("ssse3")
            && is_x86_feature_detected!("sse4.1")
    }

    /// SHA-256 round constants (FIPS 180-4, section 4.2.2).
    const K: [u32; 64] = [
        0x428a_2f98,
        0x7137_4491,
        0xb5c0_fbcf,
        0xe9b5_dba5,
        0x3956_c25b,
        0x59f1_11f1,
        0x923f_82a4,
        0xab1c_5ed5,
        0xd807_aa98,
        0x1283_5b01,
        0x2431_85be,
        0x550c_7dc3,
        0x72be_5d74,
        0x80de_b1fe,
        0x9bdc_06a7,
        0xc19b_f174,
        0xe49b_69c1,
        0xefbe_4786,
        0x0fc1_9dc6,
        0x240c_a1cc,
        0x2de9_2c6f,
        0x4a74_84aa,
        0x5cb0_a9dc,
        0x76f9_88da,
        0x983e_5152,
        0xa831_c66d,
        0xb003_27c8,
        0xbf59_7fc7,
        0xc6e0_0bf3,
        0xd5a7_9147,
        0x06ca_6351,
        0x1429_2967,
        0x27b7_0a85,
        0x2e1b_2138,
        0x4d2c_6dfc,
        0x5338_0d13,
        0x650a_7354,
        0x766a_0abb,
        0x81c2_c92e,
        0x9272_2c85,
        0xa2bf_e8a1,
        0xa81a_664b,
        0xc24b_8b70,
        0xc76c_51a3,
        0xd192_e819,
        0xd699_0624,
        0xf40e_3585,
        0x106a_a070,
        0x19a4_c116,
        0x1e37_6c08,
        0x2748_774c,
        0x34b0_bcb5,
        0x391c_0cb3,
        0x4ed8_aa4a,
        0x5b9c_ca4f,
        0x682e_6ff3,
        0x748f_82ee,
        0x78a5_636f,
        0x84c8_7814,
        0x8cc7_0208,
        0x90be_fffa,
        0xa450_6ceb,
        0xbef9_a3f7,
        0xc671_78f2,
    ];

    /// SHA-256 state in the lane order that `sha256rnds2` takes: words A, B, E, F in one
    /// register and C, D, G, H in the other.
    #[derive(Clone, Copy)]
    struct State {
        abef: __m128i,
        cdgh: __m128i,
    }

    #[target_feature(enable = "sse2,ssse3,sse4.1")]
    fn load_state(words: &[u32; 8]) -> State {
        // SAFETY: `words` is 32 bytes, so both unaligned 16-byte loads stay inside it.
        let (dcba, hgfe) = unsafe {
            let pointer = words.as_ptr().cast::<__m128i>();
            (_mm_loadu_si128(pointer), _mm_loadu_si128(pointer.add(1)))
        };
        let cdab = _mm_shuffle_epi32(dcba, 0xb1);
        let efgh = _mm_shuffle_epi32(hgfe, 0x1b);
        State {
            abef: _mm_alignr_epi8(cdab, efgh, 8),
            cdgh: _mm_blend_epi16(efgh, cdab, 0xf0),
        }
    }

    /// Returns the state's words as two registers in message order: A..D and E..H.
    #[target_feature(enable = "sse2,ssse3,sse4.1")]
    fn state_words(state: State) -> [__m128i; 2] {
        let feba = _mm_shuffle_epi32(state.abef, 0x1b);
        let dchg = _mm_shuffle_epi32(state.cdgh, 0xb1);
        [
            _mm_blend_epi16(feba, dchg, 0xf0),
            _mm_alignr_epi8(dchg, feba, 8),
        ]
    }

    #[target_feature(enable = "sse2,ssse3")]
    fn load_block(block: &[u8; BLOCK_LEN]) -> [__m128i; 4] {
        let pointer = block.as_ptr().cast::<__m128i>();
        let mut words = [_mm_setzero_si128(); 4];
        for (i, word) in words.iter_mut().enumerate() {
            // SAFETY: `block` is 64 bytes, so each unaligned 16-byte load stays inside it.
            let bytes = unsafe { _mm_loadu_si128(pointer.add(i)) };
            *word = _mm_shuffle_epi8(bytes, big_endian_words());
        }
        words
    }

    #[target_feature(enable = "sha,sse2")]
    fn rounds4(group: usize, state: &mut State, words: __m128i) {
        let constants = _mm_set_epi32(
            K[4 * group + 3] as i32,
            K[4 * group + 2] as i32,
            K[4 * group + 1] as i32,
            K[4 * group] as i32,
        );
        let sum = _mm_add_epi32(words, constants);
        state.cdgh = _mm_sha256rnds2_epu32(state.cdgh, state.abef, sum);
        let upper = _mm_shuffle_epi32(sum, 0x0e);
        state.abef = _mm_sha256rnds2_epu32(state.abef, state.cdgh, upper);
    }

    /// Compresses one block, given as its 16 message words in four registers.
    #[target_feature(enable = "sha,sse2,ssse3")]
    fn compress_words(state: &mut State, mut words: [__m128i; 4]) {
        let saved = *state;
        for (group, word) in words.iter().enumerate() {
            rounds4(group, state, *word);
        }
        for group in (4..16).step_by(4) {
            for i in 0..4 {
                let schedule = _mm_sha256msg1_epu32(words[i], words[(i + 1) % 4]);
                let shifted = _mm_alignr_epi8(words[(i + 3) % 4], words[(i + 2) % 4], 4);
                words[i] =
                    _mm_sha256msg2_epu32(_mm_add_epi32(schedule, shifted), words[(i + 3) % 4]);
                rounds4(group + i, state, words[i]);
            }
        }
        state.abef = _mm_add_epi32(state.abef, saved.abef);
        state.cdgh = _mm_add_epi32(state.cdgh, saved.cdgh);
    }

    #[target_feature(enable = "sha,sse2,ssse3")]
    fn compress_blocks(state: &mut State, blocks: &[[u8; BLOCK_LEN]]) {
        for block in blocks {
            compress_words(state, load_block(block));
        }
    }

    /// Byte shuffle that reverses the bytes of each 32-bit lane, between message bytes and
    /// SHA-256 words.
    #[target_feature(enable = "sse2")]
    fn big_endian_words() -> __m128i {
        _mm_set_epi64x(0x0c0d_0e0f_0809_0a0b, 0x0405_0607_0001_0203)
    }

    /// Shuffle masks for moving bytes up by 0 to 16 positions: the 16 bytes at `16 - shift` move
    /// byte `i` to `i + shift` and zero the first `shift` bytes.
    const SHIFT_UP_MASKS: [u8; 32] = {
        let mut masks = [0x80u8; 32];
        let mut i = 0;
        while i < 16 {
            masks[16 + i] = i as u8;
            i += 1;
        }
        masks
    };

    #[target_feature(enable = "sse2")]
    fn load_16(bytes: &[u8]) -> __m128i {
        let bytes: &[u8; 16] = bytes[..16].try_into().expect("16 bytes");
        // SAFETY: `bytes` is 16 bytes long, so the unaligned 16-byte load stays inside it.
        unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) }
    }

    /// Builds the head block, `<timestamp>.` followed by the body's first bytes, in registers.
    ///
    /// A block staged in memory from several smaller stores cannot be loaded until those stores
    /// retire, because x86 forwards a load from one store only, and that wait cost about 20 ns
    /// per signature. Needs a body of at least one block, so every load stays inside it.
    #[target_feature(enable = "sse2,ssse3")]
    fn load_head_block(message: &InnerMessage<'_>) -> [__m128i; 4] {
        let InnerMessage {
            timestamp,
            body,
            prefix_len,
            ..
        } = *message;
        let (prefix_low, prefix_high) = super::prefix_bytes(timestamp, prefix_len - 1);
        let prefix = [
            _mm_set_epi64x((prefix_low >> 64) as i64, prefix_low as i64),
            _mm_set_epi64x(0, prefix_high as i64),
        ];
        let body_start = load_16(body);

        let mut words = [_mm_setzero_si128(); 4];
        for (chunk, word) in words.iter_mut().enumerate() {
            let start = 16 * chunk;
            let bytes = if start >= prefix_len {
                load_16(&body[start - prefix_len..])
            } else {
                // The prefix is at most 21 bytes, so it ends within the first two chunks.
                let shift = (prefix_len - start).min(16);
                let mask = load_16(&SHIFT_UP_MASKS[16 - shift..]);
                _mm_or_si128(prefix[chunk], _mm_shuffle_epi8(body_start, mask))
            };
            *word = _mm_shuffle_epi8(bytes, big_endian_words());
        }
        words
    }

    /// Computes the MAC from the pre-keyed chaining values and returns it as two registers of
    /// words in order, A..D and E..H.
    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    fn mac_words(
        inner_state: &[u32; 8],
        outer_state: &[u32; 8],
        timestamp: u64,
        body: &[u8],
    ) -> [__m128i; 2] {
        let message = InnerMessage::new(timestamp, body);
        let mut inner = load_state(inner_state);
        if message.has_head {
            if body.len() >= BLOCK_LEN {
                compress_words(&mut inner, load_head_block(&message));
            } else {
                compress_blocks(&mut inner, &message.stage_head());
            }
        }
        compress_blocks(&mut inner, message.body_blocks);
        compress_blocks(&mut inner, message.tail());

        // The outer message block is the inner digest, the padding byte 0x80 and the length.
        let [digest_low, digest_high] = state_words(inner);
        let padding = _mm_set_epi32(0, 0, 0, 0x8000_0000_u32 as i32);
        let length = _mm_set_epi32(OUTER_MESSAGE_BITS as i32, 0, 0, 0);
        let mut outer = load_state(outer_state);
        compress_words(&mut outer, [digest_low, digest_high, padding, length]);
        state_words(outer)
    }

    /// Computes the MAC from the pre-keyed chaining values.
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    pub(super) fn compute_mac(
        inner_state: &[u32; 8],
        outer_state: &[u32; 8],
        timestamp: u64,
        body: &[u8],
    ) -> [u32; 8] {
        let [low, high] = mac_words(inner_state, outer_state, timestamp, body);
        let mut mac = [0u32; 8];
        // SAFETY: `mac` is 32 bytes, so both unaligned 16-byte stores stay inside it.
        unsafe {
            let pointer = mac.as_mut_ptr().cast::<__m128i>();
            _mm_storeu_si128(pointer, low);
            _mm_storeu_si128(pointer.add(1), high);
        }
        mac
    }

    /// Computes the MAC and returns it as lowercase hex, encoded in registers.
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    pub(super) fn sign(
        inner_state: &[u32; 8],
        outer_state: &[u32; 8],
        timestamp: u64,
        body: &[u8],
    ) -> [u8; SIGNATURE_HEX_LEN] {
        let words = mac_words(inner_state, outer_state, timestamp, body);
        let hex_digits = _mm_setr_epi8(
            b'0' as i8, b'1' as i8, b'2' as i8, b'3' as i8, b'4' as i8, b'5' as i8, b'6' as i8,
            b'7' as i8, b'8' as i8, b'9' as i8, b'a' as i8, b'b' as i8, b'c' as i8, b'd' as i8,
            b'e' as i8, b'f' as i8,
        );
        let low_nibble = _mm_set1_epi8(0x0f);

        let mut hex = [0u8; SIGNATURE_HEX_LEN];
        for (chunk, word) in hex.as_chunks_mut::<32>().0.iter_mut().zip(words) {
            let bytes = _mm_shuffle_epi8(word, big_endian_words());
            let high = _mm_and_si128(_mm_srli_epi16(bytes, 4), low_nibble);
            let low = _mm_and_si128(bytes, low_nibble);
            let high_digits = _mm_shuffle_epi8(hex_digits, high);
            let low_digits = _mm_shuffle_epi8(hex_digits, low);
            // SAFETY: `chunk` is 32 bytes, so both unaligned 16-byte stores stay inside it.
            unsafe {
                let pointer = chunk.as_mut_ptr().cast::<__m128i>();
                _mm_storeu_si128(pointer, _mm_unpacklo_epi8(high_digits, low_digits));
                _mm_storeu_si128(pointer.add(1), _mm_unpackhi_epi8(high_digits, low_digits));
            }
        }
        hex
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

    /// Timestamps at digit-count boundaries, including the 16-to-17-digit switch between the
    /// two ways of writing the prefix in registers.
    const EDGE_TIMESTAMPS: [u64; 10] = [
        0,
        9,
        10,
        99,
        1_700_000_000,
        10_000_000_000,
        9_999_999_999_999_999,
        10_000_000_000_000_000,
        12_345_678_901_234_567_890,
        u64::MAX,
    ];

    /// Returns a key for `secret` for every backend this CPU can run, with its name.
    fn keys_per_backend(secret: &str) -> Vec<(&'static str, SigningKey)> {
        let key = SigningKey::new(secret);
        #[cfg(target_arch = "x86_64")]
        if key.sha_ni {
            let portable = SigningKey {
                sha_ni: false,
                ..key.clone()
            };
            return vec![("sha-ni", key), ("portable", portable)];
        }
        vec![("portable", key)]
    }

    #[test]
    fn sign_matches_hmac_for_short_bodies() {
        for (backend, key) in keys_per_backend(SECRET) {
            for timestamp in EDGE_TIMESTAMPS {
                for len in 0..=300 {
                    let body = patterned_body(len);
                    assert_eq!(
                        key.sign(timestamp, &body).as_str(),
                        reference_signature(SECRET.as_bytes(), timestamp, &body),
                        "{backend}: timestamp {timestamp}, body length {len}"
                    );
                }
            }
        }
    }

    #[test]
    fn sign_matches_hmac_for_large_bodies() {
        for (backend, key) in keys_per_backend(SECRET) {
            for len in [1023, 1024, 1025, 4096, 65_535, 65_536, 65_537] {
                let body = patterned_body(len);
                assert_eq!(
                    key.sign(1_700_000_000, &body).as_str(),
                    reference_signature(SECRET.as_bytes(), 1_700_000_000, &body),
                    "{backend}: body length {len}"
                );
            }
        }
    }

    #[test]
    fn sign_matches_hmac_for_key_lengths() {
        // Keys of 64 bytes or fewer are zero-padded, and longer ones are hashed first.
        for key_len in [0, 1, 31, 32, 33, 63, 64, 65, 100, 128, 200] {
            let secret = "k".repeat(key_len);
            for (backend, key) in keys_per_backend(&secret) {
                for len in [0, 52, 53, 54, 63, 64, 117, 300] {
                    let body = patterned_body(len);
                    assert_eq!(
                        key.sign(1_700_000_000, &body).as_str(),
                        reference_signature(secret.as_bytes(), 1_700_000_000, &body),
                        "{backend}: key length {key_len}, body length {len}"
                    );
                }
            }
        }
    }

    #[test]
    fn sign_matches_openssl_vector() {
        // Expected value from OpenSSL 3.0:
        // printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac "$SECRET"
        for (backend, key) in keys_per_backend(SECRET) {
            assert_eq!(
                key.sign(1_700_000_000, b"{\"a\":1}").as_str(),
                "a6564a7f43340b086e70e8fbb75c28c8ee3e0d2658819990c9c210a53f3b9e9c",
                "{backend}"
            );
        }
    }

    #[test]
    fn verify_accepts_reference_signature() {
        let long_secret = "s".repeat(100);
        for secret in [SECRET, long_secret.as_str()] {
            for (backend, key) in keys_per_backend(secret) {
                for len in [0, 1, 53, 64, 256, 1024] {
                    let body = patterned_body(len);
                    let signature = reference_signature(secret.as_bytes(), 1_700_000_000, &body);
                    assert_eq!(
                        key.verify(Some("1700000000"), Some(&signature), &body, 1_700_000_000),
                        Ok(1_700_000_000),
                        "{backend}: secret length {}, body length {len}",
                        secret.len()
                    );
                }
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
    fn prefix_bytes_match_decimal_text() {
        let mut values = vec![0, 1, 9, 99_999_999, 100_000_000, 1_700_000_000, u64::MAX];
        for power in 1..=19 {
            let base = 10u64.pow(power);
            values.extend([base - 1, base, base + 1]);
        }
        for value in values {
            let text = format!("{value}.");
            let digit_count = text.len() - 1;
            let (low, high) = prefix_bytes(value, digit_count);
            let mut bytes = low.to_le_bytes().to_vec();
            bytes.extend(high.to_le_bytes());
            assert_eq!(&bytes[..text.len()], text.as_bytes(), "value {value}");
            assert!(
                bytes[text.len()..].iter().all(|&byte| byte == 0),
                "value {value}"
            );
            assert_eq!(
                prefix_bytes_by_division(value, digit_count),
                (low, high),
                "value {value}"
            );
        }
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
        fn sign_matches_hmac_on_random_inputs(
            secret in ".{0,100}",
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..2000),
            timestamp in proptest::prop_oneof![
                0u64..10_000_000_000_000_000,
                proptest::num::u64::ANY,
            ],
        ) {
            let expected = reference_signature(secret.as_bytes(), timestamp, &body);
            for (backend, key) in keys_per_backend(&secret) {
                let signature = key.sign(timestamp, &body);
                proptest::prop_assert_eq!(signature.as_str(), &expected, "{}", backend);
            }
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
