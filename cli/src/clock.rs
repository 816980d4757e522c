//! The system clock and the `--timestamp` values that refer to it.

use std::time::{SystemTime, UNIX_EPOCH};

/// Returns the current Unix time in whole seconds.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the system clock is set before 1970")
        .as_secs()
}

/// Parses Unix seconds as a decimal integer, or `now` for the current time.
pub fn parse_timestamp_or_now(value: &str) -> Result<u64, String> {
    if value == "now" {
        return Ok(now_secs());
    }
    if value.is_empty() || !value.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(format!(
            "expected Unix seconds as a decimal integer, or `now`, not {value:?}"
        ));
    }
    value
        .parse()
        .map_err(|_| format!("{value} is too large for Unix seconds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decimal_seconds() {
        assert_eq!(parse_timestamp_or_now("1778487262"), Ok(1_778_487_262));
        assert_eq!(parse_timestamp_or_now("0"), Ok(0));
    }

    #[test]
    fn now_reads_the_clock() {
        let before = now_secs();
        let parsed = parse_timestamp_or_now("now").unwrap();
        assert!(parsed >= before, "{parsed} < {before}");
        assert!(parsed <= now_secs(), "{parsed} is in the future");
    }

    #[test]
    fn rejects_other_values() {
        for value in [
            "",
            "-1",
            "+5",
            "1.5",
            "12a",
            "NOW",
            " 1",
            "99999999999999999999999",
        ] {
            assert!(parse_timestamp_or_now(value).is_err(), "{value:?}");
        }
    }
}
