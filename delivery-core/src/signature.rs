//! Request signing and verification.
//!
//! Every request carries `Aresgen-Timestamp` (the attempt's send time in Unix seconds) and
//! `Aresgen-Signature`: the lowercase hex of HMAC-SHA256 over `<timestamp>.<raw body>`, keyed
//! with the endpoint secret's UTF-8 bytes. The secret is used whole, prefix included, and is
//! never base64-decoded.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::fmt;

/// Name of the header that carries the send time in Unix seconds.
pub const TIMESTAMP_HEADER: &str = "Aresgen-Timestamp";
/// Name of the header that carries the hex signature.
pub const SIGNATURE_HEADER: &str = "Aresgen-Signature";
/// Maximum age, and maximum distance into the future, of a timestamp the verifier accepts.
pub const TOLERANCE_SECS: u64 = 300;
/// Length of a signature in hex characters.
pub const SIGNATURE_HEX_LEN: usize = 64;

type HmacSha256 = Hmac<Sha256>;

/// An HMAC-SHA256 key with its inner and outer pads already absorbed.
///
/// Build one per endpoint and reuse it: cloning the keyed state is cheaper than keying again.
/// `Debug` never prints the secret.
#[derive(Clone)]
pub struct SigningKey {
    keyed: HmacSha256,
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
        let keyed =
            HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
        SigningKey { keyed }
    }

    /// Signs `<timestamp>.<body>` and returns the lowercase hex signature.
    pub fn sign(&self, timestamp: u64, body: &[u8]) -> Signature {
        let mut mac = self.keyed.clone();
        feed_signed_payload(&mut mac, timestamp, body);

        let digest = mac.finalize().into_bytes();
        Signature(encode_hex(
            digest.as_slice().try_into().expect("32-byte digest"),
        ))
    }

    /// Verifies the two header values against the raw body at `now_secs` (Unix seconds).
    ///
    /// Returns the parsed timestamp on success. The digest comparison runs in constant time;
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

        let mut mac = self.keyed.clone();
        feed_signed_payload(&mut mac, timestamp, body);
        mac.verify_slice(&expected)
            .map_err(|_| VerifyError::Mismatch)?;

        check_tolerance(timestamp, now_secs)?;
        Ok(timestamp)
    }
}

/// Feeds the timestamp, the dot and the body as separate updates, so the body is never copied.
fn feed_signed_payload(mac: &mut HmacSha256, timestamp: u64, body: &[u8]) {
    let mut digits = [0u8; 20];
    let text = format_decimal(timestamp, &mut digits);
    mac.update(text);
    mac.update(b".");
    mac.update(body);
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

fn encode_hex(bytes: &[u8; 32]) -> [u8; SIGNATURE_HEX_LEN] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; SIGNATURE_HEX_LEN];
    for (i, byte) in bytes.iter().enumerate() {
        out[2 * i] = DIGITS[(byte >> 4) as usize];
        out[2 * i + 1] = DIGITS[(byte & 0x0f) as usize];
    }
    out
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

fn parse_signature(header: Option<&str>) -> Result<[u8; 32], VerifyError> {
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

    let mut bytes = [0u8; 32];
    for (i, pair) in value.as_bytes().chunks_exact(2).enumerate() {
        match (hex_value(pair[0]), hex_value(pair[1])) {
            (Some(high), Some(low)) => bytes[i] = (high << 4) | low,
            _ => {
                return Err(VerifyError::MalformedSignature {
                    reason: format!(
                        "character at offset {} is not a lowercase hex digit",
                        2 * i + usize::from(hex_value(pair[0]).is_some())
                    ),
                });
            }
        }
    }
    Ok(bytes)
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
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
