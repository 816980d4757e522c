//! Runs selected checks against a receiver and grades what comes back.

use crate::catalog::{
    BodySpec, Catalog, Check, Criterion, Expect, PREFLIGHT_CATEGORY, Send, Severity, SignatureForm,
    TimestampForm, TimestampSpec,
};
use crate::ids::{IdGenerator, now_millis};
use crate::request::{PreparedRequest, RequestFactory};
use crate::verdict::{Exchange, Outcome, Verdict, grade, missed};
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Characters of a response body kept for reports.
const EXCERPT_CHARS: usize = 200;
/// Bytes of a response body read at most.
const MAX_RESPONSE_READ: usize = 64 * 1024;
/// How long the probe may take to report an accepted event, for receivers that record it
/// right after responding.
const PROBE_SETTLE: Duration = Duration::from_secs(1);
const PROBE_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Reason given for a check skipped because no `--probe-url` was passed.
pub const NO_PROBE_REASON: &str = "needs the receiver's idempotency probe: pass --probe-url, where GET <probe-url>/<event id> returns {\"applied\": N}";

/// Settings of one run.
#[derive(Debug, Clone)]
pub struct SuiteConfig {
    /// The receiver's delivery URL.
    pub url: String,
    /// The endpoint secret; used only to sign and never printed.
    pub secret: String,
    /// Base URL of the idempotency probe: GET `<probe_url>/<event id>` returns
    /// `{"applied": N}`.
    pub probe_url: Option<String>,
    /// Time allowed for each request, 15 s by default.
    pub timeout: Duration,
    /// Response time above which resp.002 warns, 2 s by default.
    pub slow_threshold: Duration,
    /// Grade missed `should` requirements as failures.
    pub strict: bool,
}

/// The result of one check.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub id: String,
    pub category: String,
    pub severity: Severity,
    pub requirement: String,
    pub verdict: Verdict,
    /// Reason the check was skipped, blocked or not completed.
    pub reason: Option<String>,
    /// Description of the requests sent.
    pub sent: String,
    /// Description of the passing condition.
    pub expected: String,
    /// Description of the response to the deciding request.
    pub observed: Option<String>,
    /// The deciding request and its outcome: the first one that got the worst verdict.
    pub exchange: Option<Exchange>,
}

/// The results of a run, in catalog order.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub target: String,
    pub strict: bool,
    pub probe: bool,
    pub timeout_ms: u64,
    pub slow_threshold_ms: u64,
    pub duration_ms: u64,
    /// Whether every preflight check passed; when not, every other check is blocked.
    pub preflight_passed: bool,
    pub results: Vec<CheckResult>,
    /// Why a report file could not be written after the run. When set, the exit status is
    /// [`exit::USAGE`], and the printed report shows that status and the error.
    pub output_error: Option<String>,
}

/// Exit statuses of `aresgen-hooks conformance`.
pub mod exit {
    /// No `must` check failed (nor a `should` check under `--strict`). Skipped checks do not
    /// count as failed, and the report's result line names how many `must` checks were skipped.
    pub const PASSED: u8 = 0;
    /// A check failed.
    pub const FAILED: u8 = 1;
    /// Invalid usage: an unknown option, a bad URL, an empty selection, a missing secret, or
    /// a JUnit file that cannot be written.
    pub const USAGE: u8 = 2;
    /// The target could not be reached, the positive control failed, or a check could not
    /// be completed.
    pub const UNREACHABLE: u8 = 3;
}

/// Counts of each verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub pass: usize,
    pub fail: usize,
    pub warn: usize,
    pub skip: usize,
    pub blocked: usize,
    pub error: usize,
}

impl RunReport {
    /// Counts the verdicts.
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for result in &self.results {
            match result.verdict {
                Verdict::Pass => counts.pass += 1,
                Verdict::Fail => counts.fail += 1,
                Verdict::Warn => counts.warn += 1,
                Verdict::Skip => counts.skip += 1,
                Verdict::Blocked => counts.blocked += 1,
                Verdict::Error => counts.error += 1,
            }
        }
        counts
    }

    /// Returns the exit status: 2 when a report file could not be written, else 3 when the
    /// preflight failed or a check could not be completed, else 1 when a check failed,
    /// else 0.
    pub fn exit_code(&self) -> u8 {
        let counts = self.counts();
        if self.output_error.is_some() {
            exit::USAGE
        } else if !self.preflight_passed || counts.error > 0 {
            exit::UNREACHABLE
        } else if counts.fail > 0 {
            exit::FAILED
        } else {
            exit::PASSED
        }
    }

    /// Returns the ids of checks whose verdict is not `pass`, in report order.
    pub fn non_passing_ids(&self) -> Vec<&str> {
        self.results
            .iter()
            .filter(|result| result.verdict != Verdict::Pass)
            .map(|result| result.id.as_str())
            .collect()
    }
}

/// Installs the ring crypto provider for rustls once per process; `https` targets need it.
fn install_crypto_provider() {
    // A second install fails harmlessly, for example when another part of the process
    // installed a provider first.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Runs the preflight checks and then `selected` (ids from `catalog`), in catalog order,
/// with checks that inspect every valid delivery last.
pub async fn run_suite(catalog: &Catalog, selected: &[String], config: &SuiteConfig) -> RunReport {
    let started = Instant::now();
    let runner = Runner::new(config);

    let preflight: Vec<&Check> = catalog
        .checks
        .iter()
        .filter(|check| check.category == PREFLIGHT_CATEGORY)
        .collect();
    let mut results = Vec::new();
    for check in &preflight {
        results.push(runner.run_check(check).await);
    }
    let control_failure = results
        .iter()
        .find(|result| result.verdict != Verdict::Pass)
        .map(blocked_reason);

    let rest: Vec<&Check> = catalog
        .checks
        .iter()
        .filter(|check| check.category != PREFLIGHT_CATEGORY && selected.contains(&check.id))
        .collect();
    let (aggregate, ordinary): (Vec<&Check>, Vec<&Check>) = rest
        .iter()
        .partition(|check| matches!(check.send, Send::ValidDeliveries { .. }));

    let mut rest_results = Vec::new();
    for check in ordinary.iter().chain(aggregate.iter()) {
        let result = match &control_failure {
            Some(reason) => blocked(check, reason),
            None => runner.run_check(check).await,
        };
        rest_results.push(result);
    }
    // Report in catalog order, whatever order the checks ran in.
    for check in &rest {
        if let Some(index) = rest_results.iter().position(|r| r.id == check.id) {
            results.push(rest_results.swap_remove(index));
        }
    }

    RunReport {
        target: config.url.clone(),
        strict: config.strict,
        probe: config.probe_url.is_some(),
        timeout_ms: config.timeout.as_millis() as u64,
        slow_threshold_ms: config.slow_threshold.as_millis() as u64,
        duration_ms: started.elapsed().as_millis() as u64,
        preflight_passed: control_failure.is_none(),
        results,
        output_error: None,
    }
}

/// Describes why the other checks are blocked, by the preflight check that did not pass.
fn blocked_reason(failed: &CheckResult) -> String {
    let observed = failed.observed.as_deref().unwrap_or("no result");
    if failed
        .exchange
        .as_ref()
        .and_then(|e| e.outcome.status())
        .is_none()
    {
        format!(
            "blocked because the target could not be reached: {} got no HTTP response ({observed})",
            failed.id
        )
    } else {
        format!(
            "blocked because the target rejected a correctly signed delivery: {} got {observed}, and a receiver that rejects every request would pass the rejection checks",
            failed.id
        )
    }
}

fn blocked(check: &Check, reason: &str) -> CheckResult {
    CheckResult {
        verdict: Verdict::Blocked,
        reason: Some(reason.to_owned()),
        ..CheckResult::new(check)
    }
}

impl CheckResult {
    fn new(check: &Check) -> CheckResult {
        CheckResult {
            id: check.id.clone(),
            category: check.category.clone(),
            severity: check.severity,
            requirement: check.requirement.clone(),
            verdict: Verdict::Pass,
            reason: None,
            sent: check.send.describe(),
            expected: check.describe_pass(),
            observed: None,
            exchange: None,
        }
    }
}

/// One graded step of a check: the verdict, a description of what was observed and the
/// exchange it came from.
struct Step {
    verdict: Verdict,
    observed: String,
    exchange: Option<Exchange>,
}

impl Step {
    fn from_exchange(verdict: Verdict, exchange: Exchange) -> Step {
        Step {
            verdict,
            observed: exchange.outcome.to_string(),
            exchange: Some(exchange),
        }
    }
}

struct Runner<'a> {
    config: &'a SuiteConfig,
    client: reqwest::Client,
    factory: Mutex<RequestFactory>,
    /// Every exchange of a valid delivery so far, for the `valid_deliveries` checks.
    valid_log: Arc<Mutex<Vec<Exchange>>>,
}

impl<'a> Runner<'a> {
    fn new(config: &'a SuiteConfig) -> Runner<'a> {
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(delivery_core::request::USER_AGENT)
            .build()
            .expect("a client without custom TLS settings always builds");
        Runner {
            config,
            client,
            factory: Mutex::new(RequestFactory::new(
                &config.secret,
                IdGenerator::from_clock(),
            )),
            valid_log: Arc::new(Mutex::new(Vec::new())),
        }
    }

    async fn run_check(&self, check: &Check) -> CheckResult {
        if check.probe_applied.is_some() && self.config.probe_url.is_none() {
            return CheckResult {
                verdict: Verdict::Skip,
                reason: Some(NO_PROBE_REASON.to_owned()),
                ..CheckResult::new(check)
            };
        }

        let (steps, event_id) = self.run_steps(check).await;
        let mut steps = steps;
        if let (Some(expected), Some(event_id)) = (check.probe_applied, event_id) {
            let accepted = steps.iter().any(|step| {
                step.exchange
                    .as_ref()
                    .and_then(|exchange| exchange.outcome.status())
                    .is_some_and(|status| (200..=299).contains(&status))
            });
            steps.push(self.probe_step(check, &event_id, expected, accepted).await);
        }

        let mut result = CheckResult::new(check);
        let worst = steps.iter().map(|step| step.verdict).max();
        result.verdict = worst.unwrap_or(Verdict::Pass);
        if let Some(step) = steps
            .into_iter()
            .find(|step| step.verdict == result.verdict)
        {
            result.observed = Some(step.observed);
            result.exchange = step.exchange;
        }
        result
    }

    /// Sends the check's requests and grades each; returns the steps and the event id for
    /// the probe.
    async fn run_steps(&self, check: &Check) -> (Vec<Step>, Option<String>) {
        let severity = check.severity;
        let strict = self.config.strict;
        let expect = check.expect.unwrap_or(Expect::Accept);
        let now = now_millis();
        let now_secs = now / 1000;

        match &check.send {
            Send::Delivery {
                body,
                timestamp,
                signature,
                change_after_signing,
            } => {
                let (request, valid) = {
                    let mut factory = self.factory.lock().expect("factory lock");
                    let event = factory.body(body, now);
                    let request = factory.delivery(
                        &event,
                        now,
                        timestamp,
                        *signature,
                        change_after_signing.as_ref(),
                    );
                    let valid = expect == Expect::Accept
                        && *signature == SignatureForm::Valid
                        && timestamp.form == TimestampForm::Seconds
                        && change_after_signing.is_none();
                    (request, valid)
                };
                let event_id = request.event_id.clone();
                let exchange = self.send(&check.id, request, valid).await;
                let verdict = grade(expect, severity, strict, &exchange.outcome);
                (vec![Step::from_exchange(verdict, exchange)], Some(event_id))
            }
            Send::Redelivery { body, times } => {
                let event = self.factory.lock().expect("factory lock").body(body, now);
                let mut steps = Vec::new();
                for attempt in 0..u64::from(*times) {
                    // Earlier attempts carry earlier timestamps, so every copy has its own
                    // timestamp and signature, as a retry or replay does.
                    let timestamp = now_secs - (u64::from(*times) - 1 - attempt);
                    let request = self
                        .factory
                        .lock()
                        .expect("factory lock")
                        .signed(&event, timestamp);
                    let exchange = self.send(&check.id, request, true).await;
                    let verdict = grade(expect, severity, strict, &exchange.outcome);
                    steps.push(Step::from_exchange(verdict, exchange));
                }
                (steps, Some(event.id))
            }
            Send::ConcurrentCopies { body, copies } => {
                let request = {
                    let mut factory = self.factory.lock().expect("factory lock");
                    let event = factory.body(body, now);
                    factory.signed(&event, now_secs)
                };
                let event_id = request.event_id.clone();
                let requests = vec![request; *copies as usize];
                let steps = self.send_all(check, requests, expect).await;
                (steps, Some(event_id))
            }
            Send::Burst { deliveries } => {
                let requests = {
                    let mut factory = self.factory.lock().expect("factory lock");
                    (0..*deliveries)
                        .map(|_| {
                            let event = factory.body(&BodySpec::Sample, now);
                            factory.signed(&event, now_secs)
                        })
                        .collect()
                };
                (self.send_all(check, requests, expect).await, None)
            }
            Send::StaleCopyAfterDelivery { age_secs } => {
                let (fresh, stale) = {
                    let mut factory = self.factory.lock().expect("factory lock");
                    let event = factory.body(&BodySpec::Sample, now);
                    let stale_spec = TimestampSpec {
                        offset_secs: -(*age_secs as i64),
                        ..TimestampSpec::default()
                    };
                    (
                        factory.signed(&event, now_secs),
                        factory.delivery(&event, now, &stale_spec, SignatureForm::Valid, None),
                    )
                };
                let event_id = fresh.event_id.clone();
                let first = self.send(&check.id, fresh, true).await;
                let first_verdict = grade(Expect::Accept, severity, strict, &first.outcome);
                let second = self.send(&check.id, stale, false).await;
                let second_verdict = grade(Expect::Reject, severity, strict, &second.outcome);
                (
                    vec![
                        Step::from_exchange(first_verdict, first),
                        Step::from_exchange(second_verdict, second),
                    ],
                    Some(event_id),
                )
            }
            Send::ValidDeliveries { criterion } => {
                let request = {
                    let mut factory = self.factory.lock().expect("factory lock");
                    let event = factory.body(&BodySpec::Sample, now);
                    factory.signed(&event, now_secs)
                };
                let exchange = self.send(&check.id, request, true).await;
                let own = grade(Expect::Accept, severity, strict, &exchange.outcome);
                let steps = vec![
                    Step::from_exchange(own, exchange),
                    self.inspect_valid_deliveries(check, *criterion),
                ];
                (steps, None)
            }
        }
    }

    /// Sends all requests at once and grades each response.
    async fn send_all(
        &self,
        check: &Check,
        requests: Vec<PreparedRequest>,
        expect: Expect,
    ) -> Vec<Step> {
        let mut tasks = JoinSet::new();
        for request in requests {
            let client = self.client.clone();
            let url = self.config.url.clone();
            let timeout = self.config.timeout;
            let check_id = check.id.clone();
            tasks.spawn(async move {
                let outcome = send_request(&client, &url, &request, timeout).await;
                Exchange {
                    check_id,
                    request,
                    outcome,
                    valid: true,
                }
            });
        }

        let mut steps = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let exchange = joined.expect("request tasks do not panic");
            self.valid_log
                .lock()
                .expect("log lock")
                .push(exchange.clone());
            let verdict = grade(
                expect,
                check.severity,
                self.config.strict,
                &exchange.outcome,
            );
            steps.push(Step::from_exchange(verdict, exchange));
        }
        steps
    }

    async fn send(&self, check_id: &str, request: PreparedRequest, valid: bool) -> Exchange {
        let outcome = send_request(
            &self.client,
            &self.config.url,
            &request,
            self.config.timeout,
        )
        .await;
        let exchange = Exchange {
            check_id: check_id.to_owned(),
            request,
            outcome,
            valid,
        };
        if valid {
            self.valid_log
                .lock()
                .expect("log lock")
                .push(exchange.clone());
        }
        exchange
    }

    fn inspect_valid_deliveries(&self, check: &Check, criterion: Criterion) -> Step {
        let log = self.valid_log.lock().expect("log lock");
        let slow = self.config.slow_threshold;
        let violates = |outcome: &Outcome| match criterion {
            Criterion::AnsweredWithinTimeout => outcome.status().is_none(),
            Criterion::AnsweredWithinSlowThreshold => {
                outcome.elapsed().is_none_or(|elapsed| elapsed > slow)
            }
            Criterion::NoRedirect => matches!(outcome.status(), Some(300..=399)),
            Criterion::NotGone => outcome.status() == Some(410),
        };
        let offenders: Vec<&Exchange> = log
            .iter()
            .filter(|exchange| violates(&exchange.outcome))
            .collect();

        let Some(first) = offenders.first() else {
            return Step {
                verdict: Verdict::Pass,
                observed: format!("all {} valid deliveries of this run met it", log.len()),
                exchange: None,
            };
        };
        let mut check_ids: Vec<&str> = offenders.iter().map(|e| e.check_id.as_str()).collect();
        check_ids.dedup();
        Step {
            verdict: missed(check.severity, self.config.strict),
            observed: format!(
                "{} of {} valid deliveries did not, sent by {}; the first got {}",
                offenders.len(),
                log.len(),
                check_ids.join(", "),
                first.outcome
            ),
            exchange: Some((*first).clone()),
        }
    }

    /// Reads the probe until it reports `expected` or the settle time ends.
    ///
    /// `accepted` is true when the receiver responded to a delivery of the event with a 2xx.
    /// A probe that still answers 404 for such an event is graded `error`, not as a receiver
    /// failure, because a wrong `--probe-url` answers 404 for every id.
    async fn probe_step(
        &self,
        check: &Check,
        event_id: &str,
        expected: u64,
        accepted: bool,
    ) -> Step {
        let base = self
            .config
            .probe_url
            .as_deref()
            .expect("probe checks are skipped without a probe URL");
        let url = format!("{}/{event_id}", base.trim_end_matches('/'));
        let deadline = Instant::now() + PROBE_SETTLE;
        loop {
            let reading = match read_probe(&self.client, &url, self.config.timeout).await {
                Ok(reading) => reading,
                Err(error) => {
                    return Step {
                        verdict: Verdict::Error,
                        observed: format!("the probe GET {url} failed: {error}: check --probe-url"),
                        exchange: None,
                    };
                }
            };
            let applied = reading.applied();
            if applied == expected {
                return Step {
                    verdict: Verdict::Pass,
                    observed: format!("the probe reports the event applied {applied} times"),
                    exchange: None,
                };
            }
            if applied > expected || Instant::now() >= deadline {
                if reading == ProbeReading::NotFound && accepted {
                    return Step {
                        verdict: Verdict::Error,
                        observed: format!(
                            "the probe at {base} answered 404 for {event_id}, an event the receiver accepted with a 2xx: check --probe-url, or make the probe report accepted events"
                        ),
                        exchange: None,
                    };
                }
                return Step {
                    verdict: missed(check.severity, self.config.strict),
                    observed: format!(
                        "the probe reports event {event_id} applied {applied} times, expected {expected}"
                    ),
                    exchange: None,
                };
            }
            tokio::time::sleep(PROBE_POLL_INTERVAL).await;
        }
    }
}

/// One response of the idempotency probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProbeReading {
    /// `200` with `{"applied": N}`.
    Applied(u64),
    /// `404`, which the probe contract counts as never applied.
    NotFound,
}

impl ProbeReading {
    fn applied(self) -> u64 {
        match self {
            ProbeReading::Applied(count) => count,
            ProbeReading::NotFound => 0,
        }
    }
}

/// Reads `{"applied": N}` from the probe.
async fn read_probe(
    client: &reqwest::Client,
    url: &str,
    timeout: Duration,
) -> Result<ProbeReading, String> {
    let response = client
        .get(url)
        .timeout(timeout)
        .send()
        .await
        .map_err(|error| error_chain(&error))?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Ok(ProbeReading::NotFound);
    }
    if !status.is_success() {
        return Err(format!(
            "status {status}, expected 200 with {{\"applied\": N}}"
        ));
    }
    let body = response
        .bytes()
        .await
        .map_err(|error| error_chain(&error))?;
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|error| format!("the body is not JSON ({error}); expected {{\"applied\": N}}"))?;
    value
        .get("applied")
        .and_then(serde_json::Value::as_u64)
        .map(ProbeReading::Applied)
        .ok_or_else(|| format!("expected {{\"applied\": N}} with N a whole number, got {value}"))
}

/// Sends one request and records what came back.
async fn send_request(
    client: &reqwest::Client,
    url: &str,
    request: &PreparedRequest,
    timeout: Duration,
) -> Outcome {
    let mut builder = client.post(url).timeout(timeout);
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let started = Instant::now();
    let result = builder.body(request.body.to_vec()).send().await;
    let elapsed_ms = started.elapsed().as_millis() as u64;

    let mut response = match result {
        Ok(response) => response,
        Err(error) if error.is_timeout() => {
            return Outcome::TimedOut {
                after_ms: timeout.as_millis() as u64,
            };
        }
        Err(error) => {
            return Outcome::Transport {
                error: error_chain(&error),
                elapsed_ms,
            };
        }
    };

    let status = response.status().as_u16();
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
    let mut body = Vec::new();
    // The excerpt needs only the start of the body; a read error after the status line does
    // not change the status the receiver chose.
    while body.len() < MAX_RESPONSE_READ {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    Outcome::Response {
        status,
        elapsed_ms,
        body_excerpt: excerpt(&body),
        location,
    }
}

/// Returns the first [`EXCERPT_CHARS`] characters of a response body as text, with invalid
/// UTF-8 replaced and `…` appended when the body is longer. Nothing is escaped here, so the
/// JSON report carries the receiver's text after one decode.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.chars().take(EXCERPT_CHARS).collect();
    if text.chars().nth(EXCERPT_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// Joins an error with its sources, so "error sending request" comes with its cause.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_keeps_text_unescaped() {
        assert_eq!(
            excerpt(b"{\"status\":\"a\\b\"}\n"),
            "{\"status\":\"a\\b\"}\n"
        );
    }

    #[test]
    fn excerpt_truncates_long_body() {
        let body = "é".repeat(EXCERPT_CHARS + 1);
        let text = excerpt(body.as_bytes());
        assert_eq!(text.chars().count(), EXCERPT_CHARS + 1);
        assert!(text.ends_with("é…"), "{text}");
        assert_eq!(
            excerpt("é".repeat(EXCERPT_CHARS).as_bytes())
                .chars()
                .count(),
            EXCERPT_CHARS
        );
    }
}
