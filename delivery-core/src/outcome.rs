//! The result of one attempt, as the I/O layer reports it to the core.

use crate::time::{Millis, UnixMillis};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Maximum number of bytes of a response body kept in the delivery log.
pub const EXCERPT_BYTES: usize = 512;

/// The result of one attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttemptResult {
    /// The receiver responded with a status line within the attempt timeout.
    Response {
        status: u16,
        /// The wait a 429 or 503 asked for with `Retry-After`, already parsed.
        retry_after: Option<Millis>,
        /// The start of the response body, at most [`EXCERPT_BYTES`] bytes, lossily decoded.
        excerpt: String,
    },
    /// No response arrived: the connection failed or the attempt timed out.
    Transport(TransportError),
}

/// A failure below HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TransportError {
    /// No status line within the attempt timeout.
    Timeout,
    /// The connection was refused.
    Refused,
    /// The connection was reset or closed before the status line.
    Reset,
    /// The host name could not be resolved.
    Dns,
    /// The sender process stopped while the attempt was in flight; found on restart.
    Interrupted,
    /// Any other failure to send the request or read the response.
    Other,
}

impl TransportError {
    /// Returns the short name used in the delivery log, such as `timeout`.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportError::Timeout => "timeout",
            TransportError::Refused => "refused",
            TransportError::Reset => "reset",
            TransportError::Dns => "dns",
            TransportError::Interrupted => "interrupted",
            TransportError::Other => "other",
        }
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AttemptResult {
    /// Builds a response result, cutting the body to [`EXCERPT_BYTES`] and parsing
    /// `Retry-After` for a 429 or 503 only.
    pub fn from_response(
        status: u16,
        retry_after_header: Option<&str>,
        body: &[u8],
        now: UnixMillis,
    ) -> AttemptResult {
        let retry_after = match status {
            429 | 503 => retry_after_header.and_then(|value| parse_retry_after(value, now)),
            _ => None,
        };
        let cut = &body[..body.len().min(EXCERPT_BYTES)];
        AttemptResult::Response {
            status,
            retry_after,
            excerpt: String::from_utf8_lossy(cut).into_owned(),
        }
    }

    /// Returns whether this result counts as success: a 2xx status.
    pub fn is_success(&self) -> bool {
        matches!(self, AttemptResult::Response { status, .. } if (200..300).contains(status))
    }
}

/// Parses a `Retry-After` value: delay seconds, or an IMF-fixdate such as
/// `Wed, 21 Oct 2026 07:28:00 GMT` measured against `now`. Returns `None` for anything else.
/// A date in the past gives a zero wait.
pub fn parse_retry_after(value: &str, now: UnixMillis) -> Option<Millis> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value
            .parse::<u64>()
            .ok()
            .map(|secs| Millis(secs.saturating_mul(1000)));
    }

    let at = parse_imf_fixdate(value)?;
    Some(Millis(u64::try_from(at.saturating_sub(now.0)).unwrap_or(0)))
}

/// Parses `Sun, 06 Nov 1994 08:49:37 GMT` into Unix milliseconds.
fn parse_imf_fixdate(value: &str) -> Option<i64> {
    let parts: Vec<&str> = value.split_ascii_whitespace().collect();
    let [_weekday, day, month, year, clock, "GMT"] = parts.as_slice() else {
        return None;
    };

    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| m == month)? as i64 + 1;
    let day: i64 = day.parse().ok()?;
    let year: i64 = year.parse().ok()?;
    let clock: Vec<i64> = clock
        .split(':')
        .map(|part| part.parse().ok())
        .collect::<Option<_>>()?;
    let [hour, minute, second] = clock.as_slice() else {
        return None;
    };
    if !(1..=31).contains(&day) || *hour > 23 || *minute > 59 || *second > 60 {
        return None;
    }

    let days = days_from_civil(year, month, day);
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000)
}

/// Counts days since 1970-01-01 in the proleptic Gregorian calendar.
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds() {
        assert_eq!(
            parse_retry_after("120", UnixMillis(0)),
            Some(Millis(120_000))
        );
    }

    #[test]
    fn retry_after_http_date() {
        // 2026-10-21T07:28:00Z is 1_792_567_680 s after the epoch.
        let now = UnixMillis(1_792_567_620_000);
        let wait = parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT", now);
        assert_eq!(wait, Some(Millis(60_000)));
    }

    #[test]
    fn retry_after_past_date_is_zero() {
        let now = UnixMillis(1_900_000_000_000);
        let wait = parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT", now);
        assert_eq!(wait, Some(Millis(0)));
    }

    #[test]
    fn retry_after_garbage_is_none() {
        for value in ["", "-1", "soon", "1.5", "Wed, 21 Oct 2026 07:28:00 UTC"] {
            assert_eq!(parse_retry_after(value, UnixMillis(0)), None, "{value:?}");
        }
    }

    #[test]
    fn retry_after_ignored_outside_429_and_503() {
        let result = AttemptResult::from_response(500, Some("60"), b"", UnixMillis(0));
        assert!(matches!(
            result,
            AttemptResult::Response {
                retry_after: None,
                ..
            }
        ));
        let result = AttemptResult::from_response(503, Some("60"), b"", UnixMillis(0));
        assert!(matches!(
            result,
            AttemptResult::Response {
                retry_after: Some(_),
                ..
            }
        ));
    }

    #[test]
    fn excerpt_is_cut() {
        let body = vec![b'a'; 4096];
        let AttemptResult::Response { excerpt, .. } =
            AttemptResult::from_response(500, None, &body, UnixMillis(0))
        else {
            panic!("expected a response");
        };
        assert_eq!(excerpt.len(), EXCERPT_BYTES);
    }

    #[test]
    fn only_2xx_is_success() {
        let at = |status| AttemptResult::from_response(status, None, b"", UnixMillis(0));
        assert!(at(200).is_success());
        assert!(at(204).is_success());
        assert!(!at(301).is_success());
        assert!(!at(410).is_success());
        assert!(!AttemptResult::Transport(TransportError::Timeout).is_success());
    }
}
