//! Loading the endpoint secret from the environment or a file, never from a command-line value,
//! because command lines are visible to other users in the process list and in shell history.

use delivery_core::SigningKey;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

/// Environment variable that contains the endpoint secret.
pub const SECRET_ENV: &str = "ARESGEN_SECRET";

/// Secret source options, flattened into each subcommand that signs or verifies. They hold a
/// path at most, never the secret, so `Debug` is safe.
#[derive(Debug, clap::Args)]
pub struct SecretArgs {
    /// Read the endpoint secret from this file instead of the ARESGEN_SECRET environment
    /// variable. One trailing newline (LF or CRLF) is removed, and everything else is part of
    /// the secret.
    #[arg(long, value_name = "PATH")]
    secret_file: Option<PathBuf>,
}

/// An endpoint secret. `Debug` never prints it.
pub struct Secret(String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    /// Returns the secret text, for code that signs with it. Never log the result.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Builds the HMAC key from the secret's UTF-8 bytes, the whole string as given.
    pub fn signing_key(&self) -> SigningKey {
        SigningKey::new(&self.0)
    }

    /// Returns true when the secret starts or ends with whitespace, which is probably a
    /// copy-and-paste mistake but is still part of the key.
    pub fn has_surrounding_whitespace(&self) -> bool {
        self.0.trim() != self.0
    }
}

impl SecretArgs {
    /// Loads the secret from `--secret-file` when given, otherwise from `ARESGEN_SECRET`.
    ///
    /// Errors name the source and the fix, never the secret's content.
    pub fn load(&self) -> Result<Secret, String> {
        let secret = match &self.secret_file {
            Some(path) => read_secret_file(path)?,
            None => read_secret_env(std::env::var_os(SECRET_ENV))?,
        };
        if secret.has_surrounding_whitespace() {
            eprintln!(
                "warning: the secret starts or ends with whitespace, which is part of the key; \
                 check that this is intended"
            );
        }
        Ok(secret)
    }
}

fn read_secret_env(value: Option<OsString>) -> Result<Secret, String> {
    let Some(value) = value else {
        return Err(format!(
            "no secret given: set the {SECRET_ENV} environment variable or pass --secret-file PATH"
        ));
    };
    let text = value
        .into_string()
        .map_err(|_| format!("{SECRET_ENV} is not valid UTF-8: the secret must be text"))?;
    if text.is_empty() {
        return Err(format!(
            "{SECRET_ENV} is set but empty: set it to the endpoint secret or pass --secret-file PATH"
        ));
    }
    Ok(Secret(text))
}

fn read_secret_file(path: &Path) -> Result<Secret, String> {
    let bytes = std::fs::read(path).map_err(|error| {
        format!(
            "failed to read secret file {}: {error}: check the path and its permissions",
            path.display()
        )
    })?;
    let mut text = String::from_utf8(bytes).map_err(|_| {
        format!(
            "secret file {} is not valid UTF-8: the secret must be text",
            path.display()
        )
    })?;

    strip_one_newline(&mut text);
    if text.is_empty() {
        return Err(format!(
            "secret file {} is empty: write the endpoint secret into it",
            path.display()
        ));
    }
    Ok(Secret(text))
}

/// Removes one trailing LF or CRLF, as editors and `echo` append one.
fn strip_one_newline(text: &mut String) {
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stripped(text: &str) -> String {
        let mut text = text.to_owned();
        strip_one_newline(&mut text);
        text
    }

    #[test]
    fn strip_removes_one_line_end() {
        assert_eq!(stripped("ags_abc\n"), "ags_abc");
        assert_eq!(stripped("ags_abc\r\n"), "ags_abc");
        assert_eq!(stripped("ags_abc\n\n"), "ags_abc\n");
        assert_eq!(stripped("ags_abc"), "ags_abc");
        assert_eq!(stripped("ags_abc \n"), "ags_abc ");
        assert_eq!(stripped("ags_abc\r"), "ags_abc\r");
    }

    #[test]
    fn env_secret_is_taken_whole() {
        let secret = read_secret_env(Some(" ags_abc\n".into())).unwrap();
        assert_eq!(secret.0, " ags_abc\n");
        assert!(secret.has_surrounding_whitespace());
    }

    #[test]
    fn env_secret_missing_or_empty_is_rejected() {
        let missing = read_secret_env(None).unwrap_err();
        assert!(missing.contains("ARESGEN_SECRET"), "{missing}");
        assert!(missing.contains("--secret-file"), "{missing}");

        let empty = read_secret_env(Some(OsString::new())).unwrap_err();
        assert!(empty.contains("empty"), "{empty}");
    }

    #[test]
    fn debug_redacts_secret() {
        let secret = Secret("ags_do_not_print".to_owned());
        assert!(!format!("{secret:?}").contains("ags_"));
    }
}
