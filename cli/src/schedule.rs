//! `aresgen-hooks schedule`: the nominal attempt table of the default retry policy.

use clap::ValueEnum;
use delivery_core::{Millis, RetryPolicy, ScheduledAttempt};
use serde::Serialize;
use std::io::Write;
use std::process::ExitCode;

/// Lists every attempt of a delivery whose attempts all fail at once, without `Retry-After`.
#[derive(clap::Args)]
pub struct Args {
    /// Output format: an aligned table with readable durations, or JSON with whole seconds.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

/// Prints the table for `RetryPolicy::default()`.
pub fn run(args: Args) -> ExitCode {
    let table = RetryPolicy::default().table();
    let output = match args.format {
        Format::Text => render_text(&table),
        Format::Json => render_json(&table),
    };
    // A reader that closes the pipe early (`| head`) has all it wants: that is not an error.
    let _ = writeln!(std::io::stdout().lock(), "{output}");
    ExitCode::SUCCESS
}

/// Renders a header and one row per attempt, each column right-aligned.
fn render_text(table: &[ScheduledAttempt]) -> String {
    let headers = ["attempt", "offset", "gap"];
    let rows: Vec<[String; 3]> = table
        .iter()
        .map(|row| {
            [
                row.attempt.to_string(),
                row.offset.to_string(),
                row.gap.to_string(),
            ]
        })
        .collect();

    let mut widths = headers.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }

    let format_line = |cells: [&str; 3]| {
        let [attempt, offset, gap] = cells;
        let [attempt_width, offset_width, gap_width] = widths;
        format!("{attempt:>attempt_width$}  {offset:>offset_width$}  {gap:>gap_width$}")
    };
    let mut lines = vec![format_line(headers)];
    for [attempt, offset, gap] in &rows {
        lines.push(format_line([attempt, offset, gap]));
    }
    lines.join("\n")
}

/// One row of the JSON output.
#[derive(Serialize)]
struct JsonRow {
    attempt: u32,
    /// Seconds since the first attempt.
    offset_secs: u64,
    /// Seconds since the previous attempt, zero for the first.
    gap_secs: u64,
}

/// Renders a JSON array with one `{"attempt", "offset_secs", "gap_secs"}` object per attempt.
fn render_json(table: &[ScheduledAttempt]) -> String {
    let rows: Vec<JsonRow> = table
        .iter()
        .map(|row| JsonRow {
            attempt: row.attempt,
            offset_secs: whole_secs(row.offset),
            gap_secs: whole_secs(row.gap),
        })
        .collect();
    serde_json::to_string_pretty(&rows).expect("rows of integers always serialize")
}

/// Converts to seconds, rounding down. Every time in the default policy is a whole second.
fn whole_secs(duration: Millis) -> u64 {
    duration.as_u64() / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_columns_align() {
        let table = RetryPolicy::default().table();
        let text = render_text(&table);
        let widths: Vec<usize> = text.lines().map(str::len).collect();
        assert_eq!(widths.len(), 25);
        assert!(widths.iter().all(|&width| width == widths[0]), "{text}");
    }
}
