//! The event trace: one line per step of a run, kept only when asked for.

use std::fmt::Write as _;

/// Lines of a run, each prefixed with the simulated time in milliseconds.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    lines: Option<Vec<String>>,
}

impl Trace {
    /// Creates a trace that records lines when `enabled`.
    pub fn new(enabled: bool) -> Trace {
        Trace {
            lines: enabled.then(Vec::new),
        }
    }

    /// Appends a line; `text` runs only when the trace is enabled.
    pub fn line(&mut self, at: u64, text: impl FnOnce() -> String) {
        if let Some(lines) = &mut self.lines {
            let mut line = String::with_capacity(96);
            let _ = write!(line, "{at:>12} ");
            line.push_str(&text());
            lines.push(line);
        }
    }

    /// Returns the recorded lines, or `None` when the trace was off.
    pub fn lines(&self) -> Option<&[String]> {
        self.lines.as_deref()
    }
}
