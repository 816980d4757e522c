//! `aresgen-hooks simulate`: the deterministic delivery simulation, over drawn seeds or a
//! scenario file.

use harness::report::{Stats, render_summary};
use harness::{DEFAULT_SEEDS, Report, RunOptions, Scenario, Settings, Verdict};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Status when a checker finds a violation or a scenario's expectation is not met.
const VIOLATION: u8 = 1;

/// Runs seeds through the simulation and checks the delivery contract.
#[derive(clap::Args)]
pub struct Args {
    /// First seed to run. Each seed draws its own fault settings. Without --seed and
    /// --scenario, the default seeds run (1 to 32).
    #[arg(long)]
    seed: Option<u64>,
    /// Number of consecutive seeds to run, starting at --seed (or at 1).
    #[arg(long)]
    seeds: Option<u64>,
    /// Scenario file (TOML) to run instead of drawn settings. --seed replaces its seed.
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,
    /// Length of the safety phase, in simulated hours (default 72, or the scenario's).
    #[arg(long, value_name = "H")]
    hours: Option<u64>,
    /// Write the full event trace of every run to this file.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
}

/// Runs the requested seeds, prints a summary, and exits 1 on the first failing seed.
pub fn run(args: Args) -> ExitCode {
    let scenario = match &args.scenario {
        Some(path) => match Scenario::load(path) {
            Ok(scenario) => Some(scenario),
            Err(error) => return crate::exit::usage_error(error),
        },
        None => None,
    };
    let seeds: Vec<u64> = match (args.seed, args.seeds, &scenario) {
        (None, None, None) => DEFAULT_SEEDS.collect(),
        (seed, count, scenario) => {
            let first = seed.unwrap_or_else(|| scenario.as_ref().map_or(1, |s| s.settings.seed));
            (first..first.saturating_add(count.unwrap_or(1).max(1))).collect()
        }
    };
    let options = RunOptions {
        trace: args.trace.is_some(),
        ..RunOptions::default()
    };

    let started = Instant::now();
    let mut last_progress = Instant::now();
    let mut totals = Stats::default();
    let mut verdicts = Verdict::default();
    let mut traces = String::new();

    for (done, seed) in seeds.iter().copied().enumerate() {
        let mut settings = match &scenario {
            Some(scenario) => scenario.settings.clone(),
            None => Settings::draw(seed),
        };
        settings.seed = seed;
        if let Some(hours) = args.hours {
            settings.hours = hours;
        }
        if seeds.len() == 1 {
            println!("settings of seed {seed}:\n{settings}\n");
        }

        let report = harness::run_with(&settings, &options, |simulated_ms, stats| {
            if last_progress.elapsed() >= Duration::from_secs(1) {
                last_progress = Instant::now();
                eprintln!(
                    "progress: seed {seed} ({}/{}), simulated {:.0} h, {} events published",
                    done + 1,
                    seeds.len(),
                    simulated_ms as f64 / 3_600_000.0,
                    stats.events_published
                );
            }
        });
        if let Some(lines) = &report.trace {
            let _ = writeln!(traces, "# seed {seed}");
            for line in lines {
                traces.push_str(line);
                traces.push('\n');
            }
        }
        println!(
            "seed {seed}: {} ({} events, {} attempts; faults on: {})",
            if report.passed() { "passed" } else { "FAILED" },
            report.stats.events_published,
            report.stats.attempts,
            settings.families().join(" ")
        );
        totals.absorb(&report.stats);
        verdicts.absorb(&report.verdict);

        let unmet = scenario
            .as_ref()
            .map(|s| s.unmet(&report))
            .unwrap_or_default();
        if !report.passed() || !unmet.is_empty() {
            write_trace(args.trace.as_deref(), &traces);
            print_failure(seed, &settings, &report, &unmet, &args);
            return ExitCode::from(VIOLATION);
        }
    }

    write_trace(args.trace.as_deref(), &traces);
    let elapsed = started.elapsed().as_secs_f64().max(1e-9);
    println!(
        "\n{}",
        render_summary(&totals, &verdicts.outcomes, &verdicts)
    );
    println!(
        "speed: {:.0} simulated hours per second, {:.0} events per second ({:.3} s wall time)",
        totals.simulated_ms as f64 / 3_600_000.0 / elapsed,
        totals.events_published as f64 / elapsed,
        elapsed
    );
    ExitCode::SUCCESS
}

fn write_trace(path: Option<&Path>, traces: &str) {
    if let Some(path) = path
        && let Err(error) = std::fs::write(path, traces)
    {
        eprintln!(
            "error: cannot write the trace to {}: {error}",
            path.display()
        );
    }
}

fn print_failure(seed: u64, settings: &Settings, report: &Report, unmet: &[String], args: &Args) {
    println!("\nseed {seed} FAILED. Its settings:\n{settings}\n");
    println!("{}\n", report.summary());
    if let Some(first) = report.verdict.violations.first() {
        println!("first broken invariant: {first}");
        println!("{} violations in all", report.verdict.violations.len());
    }
    for line in unmet {
        println!("unmet expectation: {line}");
    }

    let mut command = format!("aresgen-hooks simulate --seed {seed}");
    if let Some(path) = &args.scenario {
        let _ = write!(command, " --scenario {}", path.display());
    }
    if let Some(hours) = args.hours {
        let _ = write!(command, " --hours {hours}");
    }
    println!("replay with: {command} --trace trace.txt");
}
