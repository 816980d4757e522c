//! `aresgen-hooks simulate`: the deterministic delivery simulation, over drawn seeds or a
//! scenario file.

use harness::report::{Stats, render_summary};
use harness::{DEFAULT_SEEDS, Report, RunOptions, Scenario, Settings, Verdict};
use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Status when a checker finds a violation or a scenario's expectation is not met.
const VIOLATION: u8 = 1;

/// Exit statuses and the meaning of the summary's less obvious keys, for `--help`.
const SUMMARY_LEGEND: &str = "\
Exit status: 0 when every check passes (and a scenario's expectations are met), 1 when a check
finds a violation or a scenario's expectation is not met, 2 for invalid usage: an invalid flag
value, seed range or setting, an unreadable scenario file, or a trace file that cannot be
created or written.

Summary keys:
  deliveries         one per (event, endpoint) pair a publish created, counted from the records
                     the sender persisted; replays create further deliveries of the same pairs
  outcomes           the final state of each (event, endpoint) pair after the healing phase
  faults fired       how often each fault family struck:
    receiver_window  a request arrived during one of the receiver's faulty-behaviour windows
    signature_skew   the receiver rejected a signature as stale or future, because its clock
                     is skewed from the sender's
    outage           a connection was refused during a long outage (a drawn outage, or a
                     scenario's refused window of an hour or more)
  responses          what receivers answered, and the transport outcomes the sender saw; an
                     attempt answered too late counts under both too_slow and timeout:
    slow             the receiver applied the event and answered 200 after a delay within the
                     attempt timeout
    too_slow         the receiver applied the event but answered after the attempt timeout
    timeout          the sender saw no response within the attempt timeout: a lost request,
                     a blackhole, a partition, a lost response or a too_slow receiver
    reset            a lost response that the sender saw as a reset connection
    refused          connection refused in a receiver's short refused window
    outage           connection refused during a long outage; counted apart from refused";

/// Runs seeds through the simulation and checks the delivery contract.
#[derive(clap::Args)]
#[command(after_long_help = SUMMARY_LEGEND)]
pub struct Args {
    /// First seed to run. Each seed draws its own fault settings. Without --seed and
    /// --scenario, the default seeds run (1 to 32).
    #[arg(long)]
    seed: Option<u64>,
    /// Number of consecutive seeds to run, starting at --seed (or at 1). At least 1, and the
    /// last seed must not pass 18446744073709551615.
    #[arg(long)]
    seeds: Option<u64>,
    /// Scenario file (TOML) to run instead of drawn settings. --seed replaces its seed.
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,
    /// Length of the safety phase, in simulated hours (default 72, or the scenario's). It plus
    /// settle_hours (78 unless the scenario sets it) must fit in the sender's 720-hour
    /// retention, so at most 642 by default.
    #[arg(long, value_name = "H")]
    hours: Option<u64>,
    /// Write the full event trace of every run to this file. It is created before the first
    /// run.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
}

/// Runs the requested seeds and prints a summary. Exits 1 on the first failing seed and 2 for
/// invalid usage or a trace file that cannot be created or written.
pub fn run(args: Args) -> ExitCode {
    ExitCode::from(run_status(&args))
}

/// Runs the requested seeds and returns the exit status.
fn run_status(args: &Args) -> u8 {
    match prepare(args) {
        Ok(prepared) => run_prepared(args, prepared),
        Err(message) => {
            eprintln!("error: {message}");
            crate::exit::USAGE
        }
    }
}

/// Everything checked before the first run.
struct Prepared {
    scenario: Option<Scenario>,
    /// Each seed's settings, already validated.
    runs: Vec<Settings>,
    /// The created trace file, when --trace was given.
    trace: Option<File>,
}

/// Loads the scenario, works out the seeds, validates every seed's settings and creates the
/// trace file, so that a usage error surfaces before any seed runs.
fn prepare(args: &Args) -> Result<Prepared, String> {
    let scenario = match &args.scenario {
        Some(path) => Some(Scenario::load(path).map_err(|error| error.to_string())?),
        None => None,
    };
    let seeds = seed_range(args.seed, args.seeds, scenario.as_ref())?;

    let config = RunOptions::default().config;
    let mut runs = Vec::new();
    for seed in seeds {
        let mut settings = match &scenario {
            Some(scenario) => scenario.settings.clone(),
            None => Settings::draw(seed),
        };
        settings.seed = seed;
        if let Some(hours) = args.hours {
            settings.hours = hours;
        }
        settings.validate_for(&config).map_err(|error| {
            let source = match &args.scenario {
                Some(path) => format!("scenario {}", path.display()),
                None => "the drawn settings".to_owned(),
            };
            format!("{error} (seed {seed}, {source})")
        })?;
        runs.push(settings);
    }

    let trace = match &args.trace {
        Some(path) => Some(File::create(path).map_err(|error| {
            format!("cannot create the trace file {}: {error}", path.display())
        })?),
        None => None,
    };
    Ok(Prepared {
        scenario,
        runs,
        trace,
    })
}

/// Returns the seeds to run: `count` consecutive seeds from `first`, the scenario's seed, or
/// the default seeds when neither flag nor scenario is given.
fn seed_range(
    first: Option<u64>,
    count: Option<u64>,
    scenario: Option<&Scenario>,
) -> Result<RangeInclusive<u64>, String> {
    if first.is_none() && count.is_none() && scenario.is_none() {
        return Ok(DEFAULT_SEEDS);
    }
    let first = first.unwrap_or_else(|| scenario.map_or(1, |s| s.settings.seed));
    let count = count.unwrap_or(1);
    if count == 0 {
        return Err("invalid --seeds 0: expected at least 1".to_owned());
    }
    let Some(last) = first.checked_add(count - 1) else {
        return Err(format!(
            "invalid --seeds {count} from seed {first}: the last seed would pass {}, so expected \
             1 to {}",
            u64::MAX,
            u64::MAX - first + 1
        ));
    };
    Ok(first..=last)
}

fn run_prepared(args: &Args, prepared: Prepared) -> u8 {
    let Prepared {
        scenario,
        runs,
        trace,
    } = prepared;
    let options = RunOptions {
        trace: trace.is_some(),
        ..RunOptions::default()
    };

    let started = Instant::now();
    let mut last_progress = Instant::now();
    let mut totals = Stats::default();
    let mut verdicts = Verdict::default();
    let mut traces = String::new();
    let mut failed = false;

    for (done, settings) in runs.iter().enumerate() {
        let seed = settings.seed;
        if runs.len() == 1 {
            println!("settings of seed {seed}:\n{settings}\n");
        }

        let report = harness::run_with(settings, &options, |simulated_ms, stats| {
            if last_progress.elapsed() >= Duration::from_secs(1) {
                last_progress = Instant::now();
                eprintln!(
                    "progress: seed {seed} ({}/{}), simulated {:.0} h, {} events published",
                    done + 1,
                    runs.len(),
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

        // With a scenario, its expectations decide, and they include whether the checks pass.
        let unmet = scenario
            .as_ref()
            .map(|s| s.unmet(&report))
            .unwrap_or_default();
        let seed_failed = if scenario.is_some() {
            !unmet.is_empty()
        } else {
            !report.passed()
        };
        println!(
            "seed {seed}: {} ({} events, {} attempts; faults on: {})",
            seed_verdict(report.passed(), &unmet, scenario.is_some()),
            report.stats.events_published,
            report.stats.attempts,
            settings.families().join(" ")
        );
        totals.absorb(&report.stats);
        verdicts.absorb(&report.verdict);

        if seed_failed {
            print_failure(seed, settings, &report, &unmet, args);
            failed = true;
            break;
        }
    }

    let written = write_trace(args.trace.as_deref(), trace, &traces);
    if failed {
        return VIOLATION;
    }
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
    if written { 0 } else { crate::exit::USAGE }
}

/// Returns the per-seed verdict: whether the checks passed and, with a scenario, whether its
/// expectations were met.
fn seed_verdict(passed: bool, unmet: &[String], with_scenario: bool) -> String {
    let count = unmet.len();
    let expectations = if count == 1 {
        "1 scenario expectation not met".to_owned()
    } else {
        format!("{count} scenario expectations not met")
    };
    match (passed, with_scenario, count) {
        (true, false, _) | (true, true, 0) => "passed".to_owned(),
        (false, false, _) => "FAILED".to_owned(),
        (false, true, 0) => "checks failed, as the scenario expects".to_owned(),
        (true, true, _) => format!("FAILED: every check passed, but {expectations}"),
        (false, true, _) => format!("FAILED: checks failed and {expectations}"),
    }
}

/// Writes the traces to the trace file, if there is one. Returns false, after printing the
/// error, when writing fails.
fn write_trace(path: Option<&Path>, file: Option<File>, traces: &str) -> bool {
    let (Some(path), Some(mut file)) = (path, file) else {
        return true;
    };
    match file.write_all(traces.as_bytes()) {
        Ok(()) => true,
        Err(error) => {
            eprintln!(
                "error: cannot write the trace to {}: {error}",
                path.display()
            );
            false
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(seed: Option<u64>, seeds: Option<u64>) -> Args {
        Args {
            seed,
            seeds,
            scenario: None,
            hours: None,
            trace: None,
        }
    }

    /// Returns a path in the temporary directory that is unique to this test process.
    fn temp_path(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("aresgen-simulate-{}-{name}", std::process::id()))
    }

    #[test]
    fn seed_range_defaults() {
        assert_eq!(seed_range(None, None, None), Ok(DEFAULT_SEEDS));
        assert_eq!(seed_range(Some(7), None, None), Ok(7..=7));
        assert_eq!(seed_range(None, Some(3), None), Ok(1..=3));
    }

    #[test]
    fn seed_range_reaches_max_seed() {
        assert_eq!(
            seed_range(Some(u64::MAX), None, None),
            Ok(u64::MAX..=u64::MAX)
        );
        let first = u64::MAX - 9;
        assert_eq!(
            seed_range(Some(first), Some(10), None),
            Ok(first..=u64::MAX)
        );
    }

    #[test]
    fn seed_range_rejects_zero_count() {
        let error = seed_range(Some(1), Some(0), None).expect_err("--seeds 0 is invalid");
        assert!(error.contains("--seeds 0"), "{error}");
        assert!(error.contains("at least 1"), "{error}");
    }

    #[test]
    fn seed_range_rejects_overflow() {
        let error = seed_range(Some(18446744073709551610), Some(10), None)
            .expect_err("the range passes the last seed");
        assert!(error.contains("--seeds 10"), "{error}");
        assert!(error.contains("18446744073709551610"), "{error}");
        assert!(error.contains("1 to 6"), "{error}");
    }

    #[test]
    fn usage_errors_exit_2() {
        assert_eq!(run_status(&args(Some(1), Some(0))), crate::exit::USAGE);
        assert_eq!(
            run_status(&args(Some(18446744073709551610), Some(10))),
            crate::exit::USAGE
        );
        let long = Args {
            hours: Some(643),
            ..args(Some(1), None)
        };
        assert_eq!(run_status(&long), crate::exit::USAGE);
    }

    #[test]
    fn unwritable_trace_exits_2() {
        let missing_folder = Args {
            trace: Some(PathBuf::from("/nonexistent/dir/t.txt")),
            ..args(Some(1), None)
        };
        assert_eq!(run_status(&missing_folder), crate::exit::USAGE);

        let folder = Args {
            trace: Some(std::env::temp_dir()),
            ..args(Some(1), None)
        };
        assert_eq!(run_status(&folder), crate::exit::USAGE);
    }

    #[test]
    fn trace_write_error_exits_2() {
        // Linux's /dev/full opens for writing but fails every write with ENOSPC.
        if !Path::new("/dev/full").exists() {
            return;
        }
        let full = Args {
            trace: Some(PathBuf::from("/dev/full")),
            ..args(Some(1), None)
        };
        assert_eq!(run_status(&full), crate::exit::USAGE);
    }

    #[test]
    fn trace_file_written() {
        let path = temp_path("trace.txt");
        let traced = Args {
            trace: Some(path.clone()),
            ..args(Some(1), None)
        };
        assert_eq!(run_status(&traced), 0);
        let text = std::fs::read_to_string(&path).expect("the trace file exists");
        let _ = std::fs::remove_file(&path);
        assert!(
            text.starts_with("# seed 1\n"),
            "{}",
            &text[..text.len().min(200)]
        );
    }

    #[test]
    fn unmet_expectation_exits_1() {
        let path = temp_path("unmet.toml");
        std::fs::write(
            &path,
            "name = \"unmet\"\ndescription = \"expects failures that never happen\"\n\
             [expect]\nfailed = 99\n",
        )
        .expect("the scenario file is written");
        let scenario = Args {
            scenario: Some(path.clone()),
            ..args(None, None)
        };
        let status = run_status(&scenario);
        let _ = std::fs::remove_file(&path);
        assert_eq!(status, VIOLATION);
    }

    #[test]
    fn invalid_scenario_setting_exits_2() {
        let path = temp_path("invalid.toml");
        std::fs::write(
            &path,
            "name = \"invalid\"\ndescription = \"no workspaces\"\n\
             [settings.workload]\nworkspaces = 0\n",
        )
        .expect("the scenario file is written");
        let scenario = Args {
            scenario: Some(path.clone()),
            ..args(None, None)
        };
        let status = run_status(&scenario);
        let _ = std::fs::remove_file(&path);
        assert_eq!(status, crate::exit::USAGE);
    }

    #[test]
    fn seed_verdict_agrees_with_outcome() {
        let unmet = vec!["expected 99 failed, got 0".to_owned()];
        assert_eq!(seed_verdict(true, &[], false), "passed");
        assert_eq!(seed_verdict(false, &[], false), "FAILED");
        assert_eq!(seed_verdict(true, &[], true), "passed");
        assert_eq!(
            seed_verdict(true, &unmet, true),
            "FAILED: every check passed, but 1 scenario expectation not met"
        );
        assert_eq!(
            seed_verdict(false, &[], true),
            "checks failed, as the scenario expects"
        );
        assert_eq!(
            seed_verdict(false, &unmet, true),
            "FAILED: checks failed and 1 scenario expectation not met"
        );
    }
}
