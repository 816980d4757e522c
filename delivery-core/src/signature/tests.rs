//! Tests of signing and verification, including differential checks against the `hmac`
//! crate on both backends.

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
    let cases: [(Option<&str>, Option<&str>, &str); 9] = [
        (None, Some(good.as_str()), "missing"),
        (Some(""), Some(good.as_str()), "missing"),
        (Some("12a"), Some(good.as_str()), "malformed"),
        (Some("-5"), Some(good.as_str()), "malformed"),
        (Some("01"), Some(good.as_str()), "malformed"),
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
            for timestamp in EDGE_TIMESTAMPS {
                let header = timestamp.to_string();
                for len in [0, 1, 53, 64, 256, 1024] {
                    let body = patterned_body(len);
                    let signature = reference_signature(secret.as_bytes(), timestamp, &body);
                    assert_eq!(
                        key.verify(Some(&header), Some(&signature), &body, timestamp),
                        Ok(timestamp),
                        "{backend}: secret length {}, timestamp {timestamp}, body length {len}",
                        secret.len()
                    );
                }
            }
        }
    }
}

#[test]
fn verify_rejects_leading_zero_timestamp() {
    // A receiver that signs the header's text would compute a different HMAC for
    // "01700000000" than for "1700000000", so the verifier accepts only the canonical form.
    for (backend, key) in keys_per_backend(SECRET) {
        for len in [0, 64, 256] {
            let body = patterned_body(len);
            let signature = key.sign(1_700_000_000, &body);
            let result = key.verify(
                Some("01700000000"),
                Some(signature.as_str()),
                &body,
                1_700_000_000,
            );
            assert_eq!(
                result,
                Err(VerifyError::MalformedTimestamp {
                    value: "01700000000".to_owned()
                }),
                "{backend}: body length {len}"
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
