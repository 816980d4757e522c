//! Signing and verification throughput, next to the `hmac` crate and the raw SHA-256
//! compression function that bounds both.
//!
//! Run with `cargo bench -p aresgen-benches --bench signing`, then
//! `cargo run -p aresgen-benches --release --bin signing-report` for the ratio table.

use aresgen_benches::{
    BODY_SIZES, COMPRESS, LIMIT_BLOCKS, SECRET, SIGN, SIGN_HMAC_CRATE, TIMESTAMP, VERIFY,
    VERIFY_HMAC_CRATE, body, group_name,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use delivery_core::signature::{SigningKey, format_decimal};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use sha2::block_api::compress256;
use std::hint::black_box;
use std::time::Duration;

type HmacSha256 = Hmac<Sha256>;

/// Feeds `<timestamp>.<body>` to the `hmac` crate, three updates and no copy of the body.
fn keyed_reference(reference: &HmacSha256, timestamp: u64, body: &[u8]) -> HmacSha256 {
    let mut mac = reference.clone();
    let mut digits = [0u8; 20];
    mac.update(format_decimal(timestamp, &mut digits));
    mac.update(b".");
    mac.update(body);
    mac
}

fn signing(c: &mut Criterion) {
    let key = SigningKey::new(SECRET);
    let reference = HmacSha256::new_from_slice(SECRET.as_bytes()).expect("any key length");
    let blocks = vec![[0x5a_u8; 64]; LIMIT_BLOCKS];
    let timestamp_header = TIMESTAMP.to_string();

    for size in BODY_SIZES {
        let body = body(size);
        let signature = key.sign(TIMESTAMP, &body);
        let expected = keyed_reference(&reference, TIMESTAMP, &body)
            .finalize()
            .into_bytes();
        let mut group = c.benchmark_group(group_name(size));

        group.throughput(Throughput::Bytes((LIMIT_BLOCKS * 64) as u64));
        group.bench_function(COMPRESS, |b| {
            let mut state = [0u32; 8];
            b.iter(|| {
                compress256(&mut state, black_box(&blocks));
                black_box(state)
            })
        });

        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(SIGN, |b| {
            b.iter(|| key.sign(black_box(TIMESTAMP), black_box(&body)))
        });
        // The baseline returns the raw 32-byte MAC and skips hex encoding.
        group.bench_function(SIGN_HMAC_CRATE, |b| {
            b.iter(|| {
                keyed_reference(&reference, black_box(TIMESTAMP), black_box(&body))
                    .finalize()
                    .into_bytes()
            })
        });
        group.bench_function(VERIFY, |b| {
            b.iter(|| {
                key.verify(
                    Some(black_box(&timestamp_header)),
                    Some(black_box(signature.as_str())),
                    black_box(&body),
                    TIMESTAMP,
                )
                .expect("signature matches")
            })
        });
        // The baseline compares against already decoded bytes and parses no headers.
        group.bench_function(VERIFY_HMAC_CRATE, |b| {
            b.iter(|| {
                keyed_reference(&reference, black_box(TIMESTAMP), black_box(&body))
                    .verify_slice(black_box(&expected))
                    .expect("signature matches")
            })
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = signing
}
criterion_main!(benches);
