//! Reports of a run: readable text, JSON and JUnit XML.

use crate::catalog::Severity;
use crate::runner::{NO_PROBE_REASON, RunReport, exit};
use crate::verdict::Verdict;
use std::fmt::Write as _;

/// Renders the readable report: one line per check, then the details of every check that
/// did not pass, then the summary.
pub fn text(report: &RunReport) -> String {
    let mut out = String::new();
    let counts = report.counts();
    let _ = writeln!(
        out,
        "Conformance of {} ({} checks, timeout {} ms, slow threshold {} ms, strict {}, probe {})",
        report.target,
        report.results.len(),
        report.timeout_ms,
        report.slow_threshold_ms,
        if report.strict { "on" } else { "off" },
        if report.probe { "on" } else { "off" },
    );
    out.push('\n');

    for result in &report.results {
        let _ = write!(
            out,
            "{:<7} {:<10} {:<6} {}",
            result.verdict.label(),
            result.id,
            result.severity.as_str(),
            result.requirement
        );
        if result.verdict == Verdict::Skip
            && let Some(reason) = &result.reason
        {
            let _ = write!(out, " ({reason})");
        }
        out.push('\n');
    }

    if let Some(reason) = report
        .results
        .iter()
        .find(|result| result.verdict == Verdict::Blocked)
        .and_then(|result| result.reason.as_deref())
    {
        let _ = writeln!(out, "\nEvery BLOCKED check was {reason}.");
    }

    let details: Vec<_> = report
        .results
        .iter()
        .filter(|result| {
            matches!(
                result.verdict,
                Verdict::Fail | Verdict::Warn | Verdict::Error
            )
        })
        .collect();
    if !details.is_empty() {
        out.push_str("\nDetails of failures, warnings and errors\n");
        out.push_str(
            "(reproduce commands carry this run's timestamps, so receivers reject them as stale \
             300 s after the run; rerun one check with --only ID)\n",
        );
        for result in details {
            let _ = writeln!(
                out,
                "\n{} {} [{}] {}",
                result.id,
                result.verdict.label(),
                result.severity,
                result.requirement
            );
            let _ = writeln!(out, "  sent:      {}", result.sent);
            let _ = writeln!(out, "  expected:  {}", result.expected);
            if let Some(observed) = &result.observed {
                let _ = writeln!(out, "  observed:  {observed}");
            }
            if let Some(reason) = &result.reason {
                let _ = writeln!(out, "  reason:    {reason}");
            }
            if let Some(exchange) = &result.exchange {
                let _ = writeln!(
                    out,
                    "  reproduce: {}",
                    exchange.request.to_curl(&report.target)
                );
            }
        }
    }

    let _ = writeln!(
        out,
        "\nSummary: {} pass, {} fail, {} warn, {} skip, {} blocked, {} error in {} ms",
        counts.pass,
        counts.fail,
        counts.warn,
        counts.skip,
        counts.blocked,
        counts.error,
        report.duration_ms
    );
    let _ = writeln!(
        out,
        "Result: {} (exit status {})",
        outcome(report),
        report.exit_code()
    );
    out
}

/// Describes the result of the run in one line, to match [`RunReport::exit_code`].
pub fn outcome(report: &RunReport) -> String {
    if let Some(error) = &report.output_error {
        return format!("report incomplete: {error}");
    }
    match report.exit_code() {
        exit::PASSED => {
            let skipped = skipped_gating_checks(report);
            if skipped.is_empty() {
                return "conforming".to_owned();
            }
            let mut reasons: Vec<&str> = skipped.iter().map(|(_, reason)| *reason).collect();
            reasons.sort_unstable();
            reasons.dedup();
            let kind = if report.strict {
                "must- or should-check"
            } else {
                "must-check"
            };
            format!(
                "conforming, {} {kind}{} skipped: {}",
                skipped.len(),
                if skipped.len() == 1 { "" } else { "s" },
                reasons.join("; ")
            )
        }
        exit::FAILED => "not conforming: a check failed".to_owned(),
        _ if !report.preflight_passed => {
            let unreachable = report.results.iter().any(|result| {
                result.category == crate::catalog::PREFLIGHT_CATEGORY
                    && result.verdict != Verdict::Pass
                    && result
                        .exchange
                        .as_ref()
                        .and_then(|exchange| exchange.outcome.status())
                        .is_none()
            });
            if unreachable {
                "not tested: the target could not be reached".to_owned()
            } else {
                "not tested: the target rejected a correctly signed delivery".to_owned()
            }
        }
        _ => "incomplete: a check could not be completed".to_owned(),
    }
}

/// Returns the skipped checks whose failure would have failed the run (`must` checks, and
/// `should` checks under `--strict`), each with a short reason.
pub fn skipped_gating_checks(report: &RunReport) -> Vec<(&str, &str)> {
    report
        .results
        .iter()
        .filter(|result| result.verdict == Verdict::Skip)
        .filter(|result| {
            result.severity == Severity::Must
                || (report.strict && result.severity == Severity::Should)
        })
        .map(|result| {
            let reason = match result.reason.as_deref() {
                Some(NO_PROBE_REASON) => "no --probe-url",
                Some(reason) => reason,
                None => "no reason given",
            };
            (result.id.as_str(), reason)
        })
        .collect()
}

/// Renders the machine-readable report.
pub fn json(report: &RunReport) -> String {
    let results: Vec<serde_json::Value> = report
        .results
        .iter()
        .map(|result| {
            let mut value = serde_json::to_value(result).expect("results serialize");
            let reproduce = result
                .exchange
                .as_ref()
                .map(|exchange| exchange.request.to_curl(&report.target));
            value["reproduce"] = serde_json::json!(reproduce);
            value
        })
        .collect();
    let document = serde_json::json!({
        "target": report.target,
        "strict": report.strict,
        "probe": report.probe,
        "timeout_ms": report.timeout_ms,
        "slow_threshold_ms": report.slow_threshold_ms,
        "duration_ms": report.duration_ms,
        "preflight_passed": report.preflight_passed,
        "exit_code": report.exit_code(),
        "result": outcome(report),
        "output_error": report.output_error,
        "skipped_gating_checks": skipped_gating_checks(report)
            .into_iter()
            .map(|(id, _)| id)
            .collect::<Vec<_>>(),
        "counts": report.counts(),
        "results": results,
    });
    let mut text = serde_json::to_string_pretty(&document).expect("JSON serializes");
    text.push('\n');
    text
}

/// Renders JUnit XML: one `testsuite` per category and one `testcase` per check, with
/// `name` and `classname` on every case. Failures are `<failure>`, errors `<error>`, skipped
/// and blocked checks `<skipped>`; warnings pass and describe the miss in `<system-out>`.
pub fn junit(report: &RunReport) -> String {
    let mut categories: Vec<&str> = Vec::new();
    for result in &report.results {
        if !categories.contains(&result.category.as_str()) {
            categories.push(&result.category);
        }
    }

    let counts = report.counts();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"aresgen-conformance\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        report.results.len(),
        counts.fail,
        counts.error,
        counts.skip + counts.blocked,
        report.duration_ms as f64 / 1000.0
    );
    for category in categories {
        let results: Vec<_> = report
            .results
            .iter()
            .filter(|result| result.category == category)
            .collect();
        let count = |verdicts: &[Verdict]| {
            results
                .iter()
                .filter(|result| verdicts.contains(&result.verdict))
                .count()
        };
        let _ = writeln!(
            out,
            "  <testsuite name=\"conformance.{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
            xml_escape(category),
            results.len(),
            count(&[Verdict::Fail]),
            count(&[Verdict::Error]),
            count(&[Verdict::Skip, Verdict::Blocked]),
        );
        for result in results {
            let time = result
                .exchange
                .as_ref()
                .and_then(|exchange| exchange.outcome.elapsed())
                .map_or(0.0, |elapsed| elapsed.as_secs_f64());
            let _ = write!(
                out,
                "    <testcase name=\"{}: {}\" classname=\"conformance.{}\" time=\"{:.3}\"",
                xml_escape(&result.id),
                xml_escape(&result.requirement),
                xml_escape(&result.category),
                time
            );
            let detail = detail_text(result, &report.target);
            let message = result
                .observed
                .clone()
                .or_else(|| result.reason.clone())
                .unwrap_or_default();
            match result.verdict {
                Verdict::Pass => out.push_str("/>\n"),
                Verdict::Warn => {
                    let _ = write!(
                        out,
                        ">\n      <system-out>warning [{}]: {}</system-out>\n    </testcase>\n",
                        result.severity,
                        xml_escape(&detail)
                    );
                }
                Verdict::Fail => {
                    let _ = write!(
                        out,
                        ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                        xml_escape(&message),
                        result.severity,
                        xml_escape(&detail)
                    );
                }
                Verdict::Error => {
                    let _ = write!(
                        out,
                        ">\n      <error message=\"{}\" type=\"error\">{}</error>\n    </testcase>\n",
                        xml_escape(&message),
                        xml_escape(&detail)
                    );
                }
                Verdict::Skip | Verdict::Blocked => {
                    let reason = result.reason.as_deref().unwrap_or("not run");
                    let _ = write!(
                        out,
                        ">\n      <skipped message=\"{}: {}\"/>\n    </testcase>\n",
                        result.verdict,
                        xml_escape(reason)
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn detail_text(result: &crate::runner::CheckResult, target: &str) -> String {
    let mut text = format!("sent: {}\nexpected: {}\n", result.sent, result.expected);
    if let Some(observed) = &result.observed {
        let _ = writeln!(text, "observed: {observed}");
    }
    if let Some(reason) = &result.reason {
        let _ = writeln!(text, "reason: {reason}");
    }
    if let Some(exchange) = &result.exchange {
        let _ = writeln!(text, "reproduce: {}", exchange.request.to_curl(target));
    }
    text
}

/// Escapes text for XML attributes and content, and drops characters XML 1.0 forbids.
fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(character),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escape_handles_markup_and_controls() {
        assert_eq!(
            xml_escape("a<b & \"c\"\u{1}"),
            "a&lt;b &amp; &quot;c&quot;\\u{1}"
        );
    }
}
