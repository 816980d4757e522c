//! Across the default seeds, every fault family and every response kind fires at least once,
//! so a passing seed set has really exercised the whole fault catalog.

use harness::{DEFAULT_SEEDS, Settings, Stats};

/// Fault families, by the names the summary prints.
const FAULT_FAMILIES: [&str; 19] = [
    "latency_jitter",
    "request_lost",
    "response_lost",
    "partition",
    "blackhole",
    "receiver_window",
    "receiver_clock",
    "sender_clock_step",
    "crash",
    "crash_mid_drain",
    "snapshot_restore",
    "operator_toggle",
    "operator_reenable",
    "replay_event",
    "replay_range",
    "burst",
    "flaky",
    "outage",
    "signature_skew",
];

/// Response kinds and transport outcomes, by the names the summary prints.
const RESPONSE_KINDS: [&str; 14] = [
    "2xx",
    "slow",
    "too_slow",
    "5xx",
    "4xx",
    "signature_rejected",
    "3xx",
    "410",
    "429",
    "503",
    "refused",
    "outage",
    "timeout",
    "reset",
];

#[test]
fn default_seeds_fire_every_fault_and_response() {
    let mut total = Stats::default();
    for seed in DEFAULT_SEEDS {
        total.absorb(&harness::run(&Settings::draw(seed)).stats);
    }

    let silent_faults: Vec<&str> = FAULT_FAMILIES
        .iter()
        .copied()
        .filter(|family| total.faults.get(family).copied().unwrap_or(0) == 0)
        .collect();
    assert!(
        silent_faults.is_empty(),
        "fault families that never fired: {silent_faults:?}; counts: {:?}",
        total.faults
    );

    let silent_responses: Vec<&str> = RESPONSE_KINDS
        .iter()
        .copied()
        .filter(|kind| total.responses.get(kind).copied().unwrap_or(0) == 0)
        .collect();
    assert!(
        silent_responses.is_empty(),
        "response kinds that never occurred: {silent_responses:?}; counts: {:?}",
        total.responses
    );
}
