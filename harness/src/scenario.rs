//! Named scenarios: hand-written settings plus the outcome they must produce.
//!
//! A scenario file is TOML with a `name`, a `description`, a `[settings]` table (the fields of
//! [`Settings`], every one optional, defaulting to a quiet run) and an `[expect]` table.

use crate::report::Report;
use crate::settings::Settings;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    #[serde(default)]
    pub settings: Settings,
    #[serde(default)]
    pub expect: Expect,
}

/// The outcome a scenario must produce. Absent fields are not checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Expect {
    /// Whether every checker passes.
    pub passes: bool,
    pub events: Option<u64>,
    pub delivered: Option<u64>,
    pub failed: Option<u64>,
    pub held: Option<u64>,
    pub lost: Option<u64>,
    pub disabled_gone: Option<u64>,
    pub disabled_failing: Option<u64>,
    pub min_held: Option<u64>,
    pub min_duplicates: Option<u64>,
    pub min_replayed_deliveries: Option<u64>,
    pub min_publish_retries: Option<u64>,
    /// Minimum firings per fault family, by the names the summary prints.
    pub min_faults: BTreeMap<String, u64>,
    /// Minimum occurrences per response kind, by the names the summary prints.
    pub min_responses: BTreeMap<String, u64>,
}

impl Default for Expect {
    fn default() -> Self {
        Expect {
            passes: true,
            events: None,
            delivered: None,
            failed: None,
            held: None,
            lost: None,
            disabled_gone: None,
            disabled_failing: None,
            min_held: None,
            min_duplicates: None,
            min_replayed_deliveries: None,
            min_publish_retries: None,
            min_faults: BTreeMap::new(),
            min_responses: BTreeMap::new(),
        }
    }
}

/// Error loading a scenario file.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not a valid scenario.
    #[error("invalid scenario {path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
}

impl Scenario {
    /// Reads and parses a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ScenarioError::Parse {
            path: path.to_owned(),
            source,
        })
    }

    /// Returns every expectation the report does not meet, as a readable line each.
    pub fn unmet(&self, report: &Report) -> Vec<String> {
        let expect = &self.expect;
        let outcomes = &report.verdict.outcomes;
        let stats = &report.stats;
        let mut unmet = Vec::new();

        if expect.passes != report.passed() {
            let first = report
                .verdict
                .violations
                .first()
                .map_or("none".to_owned(), ToString::to_string);
            unmet.push(format!(
                "expected the checks to {}, but they {} (first violation: {first})",
                if expect.passes { "pass" } else { "fail" },
                if report.passed() { "passed" } else { "failed" },
            ));
        }
        let exact = [
            ("events published", expect.events, stats.events_published),
            ("delivered", expect.delivered, outcomes.delivered),
            ("failed", expect.failed, outcomes.failed),
            ("held", expect.held, outcomes.held),
            ("lost", expect.lost, outcomes.lost),
            (
                "endpoints disabled as gone",
                expect.disabled_gone,
                outcomes.disabled_gone,
            ),
            (
                "endpoints disabled as failing",
                expect.disabled_failing,
                outcomes.disabled_failing,
            ),
        ];
        for (what, expected, actual) in exact {
            if let Some(expected) = expected
                && expected != actual
            {
                unmet.push(format!("expected {expected} {what}, got {actual}"));
            }
        }
        let minimums = [
            ("held", expect.min_held, outcomes.held),
            ("duplicates", expect.min_duplicates, stats.duplicates),
            (
                "replayed deliveries",
                expect.min_replayed_deliveries,
                stats.replayed_deliveries,
            ),
            (
                "publish retries",
                expect.min_publish_retries,
                stats.publish_retries,
            ),
        ];
        for (what, expected, actual) in minimums {
            if let Some(expected) = expected
                && actual < expected
            {
                unmet.push(format!("expected at least {expected} {what}, got {actual}"));
            }
        }
        for (family, expected) in &expect.min_faults {
            let actual = stats.faults.get(family.as_str()).copied().unwrap_or(0);
            if actual < *expected {
                unmet.push(format!(
                    "expected fault {family} to fire at least {expected} times, got {actual}"
                ));
            }
        }
        for (kind, expected) in &expect.min_responses {
            let actual = stats.responses.get(kind.as_str()).copied().unwrap_or(0);
            if actual < *expected {
                unmet.push(format!(
                    "expected response {kind} at least {expected} times, got {actual}"
                ));
            }
        }
        unmet
    }
}
