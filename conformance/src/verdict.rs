//! Verdicts, observed outcomes and how one response is graded.

use crate::catalog::{Expect, Severity};
use crate::request::PreparedRequest;
use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// The result of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The receiver meets the requirement.
    Pass,
    /// A `should` or `info` requirement is missed, or a rejection came as a 5xx.
    Warn,
    /// The check did not run; the result carries the reason.
    Skip,
    /// The check did not run because the positive control failed.
    Blocked,
    /// A `must` requirement is missed (or a `should` one under `--strict`).
    Fail,
    /// The suite could not complete the check, for example because the probe did not answer.
    Error,
}

impl Verdict {
    /// Returns the uppercase label used in text reports.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Warn => "WARN",
            Verdict::Skip => "SKIP",
            Verdict::Blocked => "BLOCKED",
            Verdict::Fail => "FAIL",
            Verdict::Error => "ERROR",
        }
    }

    /// Returns the lowercase name used in JSON reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Skip => "skip",
            Verdict::Blocked => "blocked",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The response, or its absence, for one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// An HTTP response; `elapsed_ms` runs until the status line and headers arrived.
    Response {
        status: u16,
        elapsed_ms: u64,
        /// The start of the response body as text, unescaped.
        body_excerpt: String,
        /// The `Location` header, if any.
        location: Option<String>,
    },
    /// No response within the request timeout.
    TimedOut { after_ms: u64 },
    /// The connection failed or broke before a complete response arrived.
    Transport { error: String, elapsed_ms: u64 },
}

impl Outcome {
    /// Returns the HTTP status, if a response arrived.
    pub fn status(&self) -> Option<u16> {
        match self {
            Outcome::Response { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Returns the time until the response arrived, or `None` if none did.
    pub fn elapsed(&self) -> Option<Duration> {
        match self {
            Outcome::Response { elapsed_ms, .. } => Some(Duration::from_millis(*elapsed_ms)),
            _ => None,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Response {
                status,
                elapsed_ms,
                body_excerpt,
                location,
            } => {
                let reason = reqwest::StatusCode::from_u16(*status)
                    .ok()
                    .and_then(|code| code.canonical_reason())
                    .unwrap_or("");
                write!(f, "{status} {reason} after {elapsed_ms} ms")?;
                if let Some(location) = location {
                    write!(f, ", Location {location:?}")?;
                }
                if body_excerpt.is_empty() {
                    write!(f, ", empty body")
                } else {
                    // Debug formatting quotes the text and escapes quotes and control
                    // characters, so the excerpt stays on one line.
                    write!(f, ", body {body_excerpt:?}")
                }
            }
            Outcome::TimedOut { after_ms } => write!(f, "no response within {after_ms} ms"),
            Outcome::Transport { error, elapsed_ms } => {
                write!(f, "request failed after {elapsed_ms} ms: {error}")
            }
        }
    }
}

/// One request sent by a check and what came back.
#[derive(Debug, Clone, Serialize)]
pub struct Exchange {
    /// The check that sent the request.
    pub check_id: String,
    pub request: PreparedRequest,
    pub outcome: Outcome,
    /// Whether the request was a correctly signed, fresh delivery.
    pub valid: bool,
}

/// Returns the verdict for a missed requirement of this severity.
pub fn missed(severity: Severity, strict: bool) -> Verdict {
    match severity {
        Severity::Must => Verdict::Fail,
        Severity::Should if strict => Verdict::Fail,
        Severity::Should | Severity::Info => Verdict::Warn,
    }
}

/// Grades one outcome against the expected status class.
pub fn grade(expect: Expect, severity: Severity, strict: bool, outcome: &Outcome) -> Verdict {
    let Some(status) = outcome.status() else {
        return missed(severity, strict);
    };
    match (expect, status) {
        (Expect::Answer, _) => Verdict::Pass,
        (Expect::Accept, 200..=299) => Verdict::Pass,
        (Expect::Reject, 400..=499) => Verdict::Pass,
        // The request was rejected, but a 5xx makes the sender retry and hides the cause,
        // so the contract ranks it as a missed `should`.
        (Expect::Reject, 500..=599) => missed(severity.max(Severity::Should), strict),
        _ => missed(severity, strict),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16) -> Outcome {
        Outcome::Response {
            status,
            elapsed_ms: 1,
            body_excerpt: String::new(),
            location: None,
        }
    }

    #[test]
    fn reject_grades_by_status_class() {
        let grade_must = |outcome: &Outcome| grade(Expect::Reject, Severity::Must, false, outcome);
        assert_eq!(grade_must(&response(401)), Verdict::Pass);
        assert_eq!(grade_must(&response(500)), Verdict::Warn);
        assert_eq!(grade_must(&response(200)), Verdict::Fail);
        assert_eq!(grade_must(&response(302)), Verdict::Fail);
        assert_eq!(
            grade_must(&Outcome::TimedOut { after_ms: 10 }),
            Verdict::Fail
        );
    }

    #[test]
    fn strict_turns_should_misses_into_failures() {
        assert_eq!(
            grade(Expect::Reject, Severity::Must, true, &response(503)),
            Verdict::Fail
        );
        assert_eq!(
            grade(Expect::Accept, Severity::Should, true, &response(400)),
            Verdict::Fail
        );
        assert_eq!(
            grade(Expect::Accept, Severity::Should, false, &response(400)),
            Verdict::Warn
        );
    }

    #[test]
    fn info_misses_stay_warnings_under_strict() {
        assert_eq!(
            grade(Expect::Reject, Severity::Info, true, &response(200)),
            Verdict::Warn
        );
        assert_eq!(
            grade(Expect::Reject, Severity::Info, true, &response(500)),
            Verdict::Warn
        );
    }

    #[test]
    fn accept_needs_2xx() {
        assert_eq!(
            grade(Expect::Accept, Severity::Must, false, &response(204)),
            Verdict::Pass
        );
        assert_eq!(
            grade(Expect::Accept, Severity::Must, false, &response(303)),
            Verdict::Fail
        );
    }
}
