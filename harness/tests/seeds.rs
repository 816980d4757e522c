//! Every default seed passes every checker.

use harness::{DEFAULT_SEEDS, Settings};

#[test]
fn default_seeds_pass_every_check() {
    let mut failures = Vec::new();
    for seed in DEFAULT_SEEDS {
        let report = harness::run(&Settings::draw(seed));
        if !report.passed() {
            failures.push(format!(
                "seed {seed}: {} violations, first: {}\n  replay: aresgen-hooks simulate --seed {seed}",
                report.verdict.violations.len(),
                report.verdict.violations[0]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
