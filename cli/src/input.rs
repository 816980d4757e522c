//! Reading the request body to sign or verify.

use std::io::Read;
use std::path::Path;

/// Reads the raw body from `path`, or from standard input when `path` is `None`.
///
/// The bytes are returned exactly as read: no trimming, no newline or encoding conversion.
pub fn read_body(path: Option<&Path>) -> Result<Vec<u8>, String> {
    match path {
        Some(path) => std::fs::read(path)
            .map_err(|error| format!("failed to read body file {}: {error}", path.display())),
        None => {
            let mut body = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut body)
                .map_err(|error| format!("failed to read the body from standard input: {error}"))?;
            Ok(body)
        }
    }
}
