//! One seed gives one run: the same seed twice yields byte-identical traces.

use harness::{RunOptions, Settings};

fn traced(seed: u64) -> (Vec<String>, String) {
    let options = RunOptions {
        trace: true,
        ..RunOptions::default()
    };
    let report = harness::run_with(&Settings::draw(seed), &options, |_, _| {});
    let trace = report.trace.clone().expect("the trace was asked for");
    (trace, report.summary())
}

#[test]
fn same_seed_gives_identical_trace() {
    for seed in [1, 2, 3] {
        let (first_trace, first_summary) = traced(seed);
        let (second_trace, second_summary) = traced(seed);
        assert!(
            first_trace.len() > 100,
            "seed {seed} traced only {} lines",
            first_trace.len()
        );
        assert_eq!(
            first_trace.join("\n").as_bytes(),
            second_trace.join("\n").as_bytes(),
            "seed {seed}"
        );
        assert_eq!(first_summary, second_summary, "seed {seed}");
    }
}

#[test]
fn different_seeds_give_different_traces() {
    let (first, _) = traced(1);
    let (second, _) = traced(2);
    assert_ne!(first, second);
}

#[test]
fn trace_does_not_change_the_run() {
    let settings = Settings::draw(5);
    let plain = harness::run(&settings);
    let options = RunOptions {
        trace: true,
        ..RunOptions::default()
    };
    let traced = harness::run_with(&settings, &options, |_, _| {});
    assert_eq!(plain.stats, traced.stats);
}
