//! Each planted bug in the core is caught by some checker within the default seeds.
//!
//! This file builds `delivery-core` with its `planted-bugs` feature, through the harness's
//! dev-dependency. Which checker catches which bug, with the default seeds and the core as of
//! this writing (`CATCHERS` below asserts the checker, so the table cannot drift far):
//!
//! | planted bug          | first seed | checkers that fire                             |
//! |----------------------|------------|------------------------------------------------|
//! | SignWithCreatedTime  | 1          | signed_timestamp, signature, liveness          |
//! | OvertakeRetryingHead | 1          | order_log                                      |
//! | BudgetFromPublish    | 5          | final_outcome (retry_budget in other seeds)    |
//! | DropOn4xx            | 1          | final_outcome                                  |
//! | ExtraAttempt         | 3          | retry_budget                                   |
//!
//! ExtraAttempt stretches the budget by one attempt and 6 hours, so attempts start past the
//! 72-hour deadline (seed 3: attempt 24 at 77 h 24 min).

use delivery_core::{Config, PlantedBug};
use harness::{DEFAULT_SEEDS, RunOptions, Settings};

/// Each planted bug and the checkers allowed to be the first to catch it.
const CATCHERS: [(PlantedBug, &[&str]); 5] = [
    (
        PlantedBug::SignWithCreatedTime,
        &["signature", "signed_timestamp"],
    ),
    (
        PlantedBug::OvertakeRetryingHead,
        &["order_log", "order_arrivals"],
    ),
    (
        PlantedBug::BudgetFromPublish,
        &["final_outcome", "retry_budget"],
    ),
    (PlantedBug::DropOn4xx, &["final_outcome"]),
    (PlantedBug::ExtraAttempt, &["retry_budget", "final_outcome"]),
];

/// Runs the default seeds with `bug` planted and returns the first seed that fails and the
/// checkers that failed it.
fn first_catch(bug: PlantedBug) -> Option<(u64, Vec<&'static str>, String)> {
    let options = RunOptions {
        config: Config {
            planted_bug: Some(bug),
            ..Config::default()
        },
        trace: false,
    };
    for seed in DEFAULT_SEEDS {
        let report = harness::run_with(&Settings::draw(seed), &options, |_, _| {});
        if let Some(first) = report.verdict.violations.first() {
            let mut checkers: Vec<&'static str> = report
                .verdict
                .violations
                .iter()
                .map(|v| v.checker)
                .collect();
            checkers.sort_unstable();
            checkers.dedup();
            return Some((seed, checkers, first.to_string()));
        }
    }
    None
}

#[test]
fn planted_bugs_are_caught() {
    let mut missed = Vec::new();
    for (bug, expected) in CATCHERS {
        match first_catch(bug) {
            Some((seed, checkers, first)) => {
                println!("{bug:?}: seed {seed}, checkers {checkers:?}; first: {first}");
                if !checkers.iter().any(|checker| expected.contains(checker)) {
                    missed.push(format!("{bug:?} was caught at seed {seed} only by {checkers:?}, expected one of {expected:?}"));
                }
            }
            None => missed.push(format!("{bug:?} was not caught by any default seed")),
        }
    }
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}
