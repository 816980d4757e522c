//! Runs the whole catalog against the reference receiver and against receivers that each
//! make one mistake, and checks that the suite flags exactly the checks that mistake breaks.

use conformance::faulty::{Fault, TestReceiver, spawn};
use conformance::runner::{RunReport, SuiteConfig, exit, run_suite};
use conformance::{Catalog, Verdict};
use std::collections::BTreeSet;
use std::time::Duration;

const SECRET: &str = "ags_c3VpdGUtdGVzdHMtb25seS1ub3QtYS1yZWFsLXNlY3JldC0wMDE";

fn config(receiver: &TestReceiver) -> SuiteConfig {
    SuiteConfig {
        url: receiver.url(),
        secret: SECRET.to_owned(),
        probe_url: Some(receiver.probe_url()),
        timeout: Duration::from_secs(15),
        // Only the slow-answer test grades speed. A loaded CI machine can take over 2 s to
        // answer a 256 KiB body, which must not flag the other receivers.
        slow_threshold: Duration::from_secs(10),
        strict: false,
    }
}

async fn run_all(config: &SuiteConfig) -> RunReport {
    let catalog = Catalog::builtin().expect("catalog loads");
    let all: Vec<String> = catalog
        .checks
        .iter()
        .map(|check| check.id.clone())
        .collect();
    run_suite(&catalog, &all, config).await
}

fn non_passing(report: &RunReport) -> BTreeSet<String> {
    report
        .non_passing_ids()
        .into_iter()
        .map(str::to_owned)
        .collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|id| (*id).to_owned()).collect()
}

fn describe(report: &RunReport) -> String {
    report
        .results
        .iter()
        .filter(|result| result.verdict != Verdict::Pass)
        .map(|result| {
            format!(
                "{} {}: {}",
                result.id,
                result.verdict,
                result
                    .observed
                    .as_deref()
                    .or(result.reason.as_deref())
                    .unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn assert_flags(fault: Fault, expected: &[&str]) -> RunReport {
    let receiver = spawn(Some(fault), SECRET).await;
    let report = run_all(&config(&receiver)).await;
    assert_eq!(
        non_passing(&report),
        set(expected),
        "{fault:?}:\n{}",
        describe(&report)
    );
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_receiver_passes_strict() {
    let receiver = spawn(None, SECRET).await;
    let mut config = config(&receiver);
    config.strict = true;
    let report = run_all(&config).await;
    assert!(report.non_passing_ids().is_empty(), "{}", describe(&report));
    assert_eq!(report.exit_code(), exit::PASSED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_without_probe_skips_probe_checks() {
    let receiver = spawn(None, SECRET).await;
    let mut config = config(&receiver);
    config.probe_url = None;
    let report = run_all(&config).await;
    assert_eq!(
        non_passing(&report),
        set(&["idem.003", "idem.004", "idem.005", "idem.006"])
    );
    for result in report.results.iter().filter(|r| r.verdict != Verdict::Pass) {
        assert_eq!(result.verdict, Verdict::Skip, "{}", result.id);
        assert!(
            result
                .reason
                .as_deref()
                .unwrap_or("")
                .contains("--probe-url")
        );
    }
    assert_eq!(report.exit_code(), exit::PASSED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_timestamp_check_is_flagged() {
    let report = assert_flags(
        Fault::NoTimestampCheck,
        &[
            "ts.001",
            "ts.002",
            "ts.003",
            "ts.004",
            "ts.005",
            "ts.009",
            "replay.001",
            "replay.002",
        ],
    )
    .await;
    let future = report.results.iter().find(|r| r.id == "ts.005").unwrap();
    assert_eq!(future.verdict, Verdict::Warn);
    assert_eq!(report.exit_code(), exit::FAILED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserializing_receiver_is_flagged() {
    assert_flags(
        Fault::Reserializes,
        &[
            "body.002", "body.003", "body.004", "body.006", "body.007", "body.008", "body.009",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_acceptance_is_flagged() {
    assert_flags(Fault::AcceptsUnsigned, &["sig.001"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn millisecond_guessing_is_flagged() {
    assert_flags(Fault::GuessesMilliseconds, &["ts.003"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflict_on_duplicate_is_flagged() {
    assert_flags(
        Fault::ConflictOnDuplicate,
        &["idem.001", "idem.002", "idem.003", "idem.004"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_on_duplicate_is_flagged() {
    assert_flags(
        Fault::RedirectsDuplicates,
        &["idem.001", "idem.002", "idem.003", "idem.004", "resp.003"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_error_on_malformed_signature_is_flagged() {
    // The case-insensitive hex decoder also accepts the uppercase signature of sig.009.
    let report = assert_flags(
        Fault::ServerErrorOnMalformedSignature,
        &["sig.004", "sig.009"],
    )
    .await;
    let non_hex = report.results.iter().find(|r| r.id == "sig.004").unwrap();
    assert_eq!(non_hex.verdict, Verdict::Warn);
    assert_eq!(report.exit_code(), exit::PASSED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_type_rejection_is_flagged() {
    assert_flags(Fault::RejectsUnknownTypes, &["event.011"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racy_dedupe_is_flagged_by_probe() {
    assert_flags(Fault::RacyDedupe, &["idem.004"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_answer_is_flagged() {
    // The receiver takes 3 s for voice.trained; a 1 s suite timeout replaces the 15 s
    // attempt timeout so the test stays fast.
    let receiver = spawn(
        Some(Fault::SlowForType {
            delay: Duration::from_secs(3),
        }),
        SECRET,
    )
    .await;
    let mut config = config(&receiver);
    config.timeout = Duration::from_secs(1);
    config.slow_threshold = Duration::from_millis(800);
    let report = run_all(&config).await;
    assert_eq!(
        non_passing(&report),
        set(&["event.003", "resp.001", "resp.002"]),
        "{}",
        describe(&report)
    );
    let slow = report.results.iter().find(|r| r.id == "resp.002").unwrap();
    assert_eq!(slow.verdict, Verdict::Warn);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejecting_everything_blocks_the_rest() {
    let receiver = spawn(Some(Fault::RejectsEverything), SECRET).await;
    let report = run_all(&config(&receiver)).await;
    assert!(!report.preflight_passed);
    assert_eq!(report.exit_code(), exit::UNREACHABLE);
    for result in &report.results {
        let expected = match result.id.as_str() {
            "pre.001" => Verdict::Pass,
            "pre.002" => Verdict::Fail,
            _ => Verdict::Blocked,
        };
        assert_eq!(result.verdict, expected, "{}", result.id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_target_fails_preflight() {
    // Bind a port, then free it, so nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let config = SuiteConfig {
        url: format!("http://{addr}/webhooks"),
        secret: SECRET.to_owned(),
        probe_url: None,
        timeout: Duration::from_secs(2),
        slow_threshold: Duration::from_secs(2),
        strict: false,
    };
    let report = run_all(&config).await;
    assert_eq!(report.exit_code(), exit::UNREACHABLE);
    let first = &report.results[0];
    assert_eq!(first.id, "pre.001");
    assert_eq!(first.verdict, Verdict::Fail);
}
