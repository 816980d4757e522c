//! Every scenario file in `scenarios/` (the conformance folder aside) produces the outcome it
//! states.

use harness::Scenario;
use std::path::{Path, PathBuf};

fn scenario_files() -> Vec<PathBuf> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", folder.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn scenarios_meet_their_expectations() {
    let files = scenario_files();
    assert!(
        files.len() >= 7,
        "expected at least 7 scenarios, found {files:?}"
    );

    let mut failures = Vec::new();
    for file in &files {
        let scenario = Scenario::load(file).unwrap_or_else(|error| panic!("{error}"));
        if let Err(error) = scenario.settings.validate() {
            failures.push(format!("{} ({}): {error}", scenario.name, file.display()));
            continue;
        }
        let report = harness::run(&scenario.settings);
        println!("{}:\n{}\n", scenario.name, report.summary());
        let unmet = scenario.unmet(&report);
        if !unmet.is_empty() {
            failures.push(format!(
                "{} ({}):\n  {}",
                scenario.name,
                file.display(),
                unmet.join("\n  ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn crash_mid_burst_counts_each_delivery_once() {
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/sender-crash-mid-burst.toml");
    let scenario = Scenario::load(&file).unwrap_or_else(|error| panic!("{error}"));
    let report = harness::run(&scenario.settings);
    assert!(report.stats.publish_retries >= 1, "{}", report.summary());
    assert_eq!(report.stats.replayed_deliveries, 0, "{}", report.summary());

    // Without replays, every (event, endpoint) pair has exactly one delivery.
    let outcomes = &report.verdict.outcomes;
    let pairs = outcomes.delivered + outcomes.failed + outcomes.held + outcomes.lost;
    assert_eq!(report.stats.deliveries, pairs, "{}", report.summary());
}
