//! Runs the built `aresgen-hooks` binary for `sign` and `verify`: round trips, rejections, exit
//! statuses, and that the secret never appears in any output.

use std::io::{ErrorKind, Write};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

const SECRET: &str = "ags_Y2xpLXRlc3Qtc2VjcmV0LW5vdC1mb3ItcHJvZHVjdGlvbg0";
const TIMESTAMP: u64 = 1_778_487_262;
const BODY: &[u8] = br#"{"id":"evt_01HZ8PJYTM6N9X7QWXAYBVS3J5","type":"workflow.run.completed"}"#;

/// Builds a command for the binary with `ARESGEN_SECRET` removed, so the caller's environment cannot
/// leak in.
fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_aresgen-hooks"));
    command.args(args).env_remove("ARESGEN_SECRET");
    command
}

/// Runs `command` with `stdin` as standard input and returns its output.
fn run_with_stdin(mut command: Command, stdin: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the aresgen-hooks binary starts");
    // A binary that exits before reading, on a usage error, closes the pipe early.
    let written = child.stdin.take().unwrap().write_all(stdin);
    if let Err(error) = written {
        assert_eq!(
            error.kind(),
            ErrorKind::BrokenPipe,
            "writing stdin: {error}"
        );
    }
    child.wait_with_output().expect("the binary exits")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Writes `contents` to a file unique to this test process and returns its path.
fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("aresgen-hooks-{}-{name}", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path
}

/// Signs `body` through stdin and returns the two printed header values.
fn sign(secret: &str, timestamp: &str, body: &[u8]) -> (String, String) {
    let mut command = command(&["sign", "--timestamp", timestamp]);
    command.env("ARESGEN_SECRET", secret);
    let output = run_with_stdin(command, body);
    assert!(output.status.success(), "{}", stderr(&output));
    parse_sign_output(&stdout(&output))
}

fn parse_sign_output(text: &str) -> (String, String) {
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let timestamp = lines[0].strip_prefix("Aresgen-Timestamp: ").expect(text);
    let signature = lines[1].strip_prefix("Aresgen-Signature: ").expect(text);
    (timestamp.to_owned(), signature.to_owned())
}

/// Verifies `body` through stdin at `now` and returns the output.
fn verify(timestamp: &str, signature: &str, body: &[u8], now: u64) -> Output {
    let now = now.to_string();
    let mut command = command(&[
        "verify",
        "--timestamp",
        timestamp,
        "--signature",
        signature,
        "--now",
        &now,
    ]);
    command.env("ARESGEN_SECRET", SECRET);
    run_with_stdin(command, body)
}

fn assert_secret_absent(output: &Output) {
    for text in [stdout(output), stderr(output)] {
        assert!(!text.contains(SECRET), "output contains the secret: {text}");
    }
}

#[test]
fn sign_verify_round_trip_stdin() {
    let (timestamp, signature) = sign(SECRET, &TIMESTAMP.to_string(), BODY);
    assert_eq!(timestamp, TIMESTAMP.to_string());
    assert_eq!(signature.len(), 64);

    let output = verify(&timestamp, &signature, BODY, TIMESTAMP);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "valid\n");
    assert_secret_absent(&output);
}

#[test]
fn sign_verify_round_trip_file() {
    let body_path = temp_file("round-trip-body.json", BODY);
    let secret_path = temp_file("round-trip-secret", format!("{SECRET}\n").as_bytes());
    let body_arg = body_path.to_str().unwrap();
    let secret_arg = secret_path.to_str().unwrap();

    let sign_output = command(&[
        "sign",
        "--timestamp",
        &TIMESTAMP.to_string(),
        "--body-file",
        body_arg,
        "--secret-file",
        secret_arg,
    ])
    .stdin(Stdio::null())
    .output()
    .unwrap();
    assert!(sign_output.status.success(), "{}", stderr(&sign_output));
    let (timestamp, signature) = parse_sign_output(&stdout(&sign_output));

    let verify_output = command(&[
        "verify",
        "--timestamp",
        &timestamp,
        "--signature",
        &signature,
        "--body-file",
        body_arg,
        "--secret-file",
        secret_arg,
        "--now",
        &(TIMESTAMP + 60).to_string(),
    ])
    .stdin(Stdio::null())
    .output()
    .unwrap();
    assert_eq!(
        verify_output.status.code(),
        Some(0),
        "{}",
        stderr(&verify_output)
    );
    assert_eq!(stdout(&verify_output), "valid\n");

    // The file and stdin paths sign the same bytes the same way.
    assert_eq!(sign(SECRET, &timestamp, BODY).1, signature);
}

#[test]
fn secret_file_loses_one_newline_only() {
    let (_, from_env) = sign(SECRET, "1", BODY);
    let sign_with_file = |name: &str, contents: String| {
        let path = temp_file(name, contents.as_bytes());
        let mut command = command(&["sign", "--timestamp", "1", "--secret-file"]);
        command.arg(&path);
        let output = run_with_stdin(command, BODY);
        assert!(output.status.success(), "{}", stderr(&output));
        parse_sign_output(&stdout(&output)).1
    };

    assert_eq!(sign_with_file("secret-lf", format!("{SECRET}\n")), from_env);
    assert_eq!(
        sign_with_file("secret-crlf", format!("{SECRET}\r\n")),
        from_env
    );
    assert_eq!(sign_with_file("secret-bare", SECRET.to_owned()), from_env);
    assert_ne!(
        sign_with_file("secret-lf-lf", format!("{SECRET}\n\n")),
        from_env
    );
}

#[test]
fn sign_keeps_body_bytes_untrimmed() {
    let (_, bare) = sign(SECRET, "1", b"{}");
    let (_, with_newline) = sign(SECRET, "1", b"{}\n");
    let (_, with_space) = sign(SECRET, "1", b" {}");
    assert_ne!(bare, with_newline);
    assert_ne!(bare, with_space);
}

#[test]
fn sign_matches_every_fixture_vector() {
    for vector in fixtures::signature_vectors() {
        let (timestamp, signature) =
            sign(&vector.secret, &vector.timestamp.to_string(), &vector.body);
        assert_eq!(
            timestamp,
            vector.timestamp.to_string(),
            "vector {}",
            vector.name
        );
        assert_eq!(signature, vector.signature, "vector {}", vector.name);
    }
}

#[test]
fn sign_matches_published_sample_vector() {
    let vectors = fixtures::signature_vectors();
    let vector = vectors
        .iter()
        .find(|vector| vector.name == "published-sample")
        .unwrap();
    let body_path = temp_file("published-sample.json", fixtures::published_sample());

    let mut command = command(&[
        "sign",
        "--timestamp",
        &vector.timestamp.to_string(),
        "--body-file",
    ]);
    command
        .arg(&body_path)
        .env("ARESGEN_SECRET", &vector.secret)
        .stdin(Stdio::null());
    let output = command.output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        format!(
            "Aresgen-Timestamp: {}\nAresgen-Signature: {}\n",
            vector.timestamp, vector.signature
        )
    );
}

#[test]
fn sign_timestamp_now_uses_clock() {
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (timestamp, signature) = sign(SECRET, "now", BODY);
    let after = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();

    let timestamp: u64 = timestamp.parse().unwrap();
    assert!((before..=after).contains(&timestamp), "{timestamp}");

    // Without --now, verify reads the same clock, so a fresh signature is valid.
    let mut command = command(&[
        "verify",
        "--timestamp",
        &timestamp.to_string(),
        "--signature",
    ]);
    command.arg(&signature).env("ARESGEN_SECRET", SECRET);
    let output = run_with_stdin(command, BODY);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn verify_rejects_tampered_body() {
    let (timestamp, signature) = sign(SECRET, &TIMESTAMP.to_string(), BODY);
    let mut tampered = BODY.to_vec();
    tampered[10] ^= 0x01;

    let output = verify(&timestamp, &signature, &tampered, TIMESTAMP);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).starts_with("mismatch: "),
        "{}",
        stderr(&output)
    );
    assert_eq!(stdout(&output), "");
    assert_secret_absent(&output);
}

#[test]
fn verify_rejects_changed_timestamp() {
    let (_, signature) = sign(SECRET, &TIMESTAMP.to_string(), BODY);
    let output = verify(&(TIMESTAMP + 1).to_string(), &signature, BODY, TIMESTAMP);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).starts_with("mismatch: "),
        "{}",
        stderr(&output)
    );
}

#[test]
fn verify_rejects_wrong_secret() {
    let (timestamp, signature) = sign(
        "ags_some_other_endpoint_secret",
        &TIMESTAMP.to_string(),
        BODY,
    );
    let output = verify(&timestamp, &signature, BODY, TIMESTAMP);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).starts_with("mismatch: "),
        "{}",
        stderr(&output)
    );
}

#[test]
fn verify_rejects_stale_timestamp() {
    let (timestamp, signature) = sign(SECRET, &TIMESTAMP.to_string(), BODY);

    let at_limit = verify(&timestamp, &signature, BODY, TIMESTAMP + 300);
    assert_eq!(at_limit.status.code(), Some(0), "{}", stderr(&at_limit));

    let output = verify(&timestamp, &signature, BODY, TIMESTAMP + 301);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).starts_with("stale: "),
        "{}",
        stderr(&output)
    );
}

#[test]
fn verify_rejects_future_timestamp() {
    let (timestamp, signature) = sign(SECRET, &TIMESTAMP.to_string(), BODY);
    let output = verify(&timestamp, &signature, BODY, TIMESTAMP - 301);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).starts_with("future: "),
        "{}",
        stderr(&output)
    );
}

#[test]
fn verify_rejects_malformed_headers() {
    let (timestamp, signature) = sign(SECRET, &TIMESTAMP.to_string(), BODY);
    let cases = [
        ("12a", signature.as_str(), "malformed: "),
        ("-5", signature.as_str(), "malformed: "),
        ("", signature.as_str(), "missing: "),
        (timestamp.as_str(), "abc", "malformed: "),
        (timestamp.as_str(), "", "missing: "),
    ];
    let uppercase = signature.to_ascii_uppercase();
    let cases = cases
        .into_iter()
        .chain([(timestamp.as_str(), uppercase.as_str(), "malformed: ")]);

    for (timestamp, signature, prefix) in cases {
        let output = verify(timestamp, signature, BODY, TIMESTAMP);
        assert_eq!(output.status.code(), Some(1), "{timestamp:?} {signature:?}");
        assert!(
            stderr(&output).starts_with(prefix),
            "{timestamp:?} {signature:?}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn missing_secret_exits_2() {
    for subcommand in [
        vec!["sign", "--timestamp", "1"],
        vec!["verify", "--timestamp", "1", "--signature", "00"],
    ] {
        let output = run_with_stdin(command(&subcommand), BODY);
        assert_eq!(output.status.code(), Some(2), "{subcommand:?}");
        let message = stderr(&output);
        assert!(message.contains("ARESGEN_SECRET"), "{message}");
        assert!(message.contains("--secret-file"), "{message}");
    }
}

#[test]
fn empty_secret_exits_2() {
    let mut from_env = command(&["sign", "--timestamp", "1"]);
    from_env.env("ARESGEN_SECRET", "");
    let output = run_with_stdin(from_env, BODY);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("empty"), "{}", stderr(&output));

    let path = temp_file("empty-secret", b"\n");
    let mut from_file = command(&["sign", "--timestamp", "1", "--secret-file"]);
    from_file.arg(&path);
    let output = run_with_stdin(from_file, BODY);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("empty"), "{}", stderr(&output));
}

#[test]
fn unreadable_files_exit_2() {
    let missing = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("aresgen-hooks-no-such-file");

    let mut secret_file = command(&["sign", "--timestamp", "1", "--secret-file"]);
    secret_file.arg(&missing);
    let output = run_with_stdin(secret_file, BODY);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("failed to read secret file"),
        "{}",
        stderr(&output)
    );

    let mut body_file = command(&["sign", "--timestamp", "1", "--body-file"]);
    body_file.arg(&missing).env("ARESGEN_SECRET", SECRET);
    let output = run_with_stdin(body_file, b"");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("failed to read body file"),
        "{}",
        stderr(&output)
    );
    assert_secret_absent(&output);
}

#[test]
fn usage_errors_exit_2() {
    let cases: [&[&str]; 4] = [
        &["sign"],
        &["sign", "--timestamp", "yesterday"],
        &["verify", "--timestamp", "1"],
        &[
            "verify",
            "--timestamp",
            "1",
            "--signature",
            "00",
            "--now",
            "soon",
        ],
    ];
    for args in cases {
        let mut command = command(args);
        command.env("ARESGEN_SECRET", SECRET);
        let output = run_with_stdin(command, BODY);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert_secret_absent(&output);
    }
}

#[test]
fn help_never_shows_secret() {
    for subcommand in ["sign", "verify"] {
        let output = command(&[subcommand, "--help"])
            .env("ARESGEN_SECRET", SECRET)
            .output()
            .unwrap();
        assert!(output.status.success());
        assert!(stdout(&output).contains("ARESGEN_SECRET"));
        assert_secret_absent(&output);
    }
}
