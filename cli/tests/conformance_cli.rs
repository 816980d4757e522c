//! Runs `aresgen-hooks conformance` and `aresgen-hooks receive` as processes and checks exit
//! statuses, reports and that the secret never appears in any output.

use conformance::faulty::{Fault, TestReceiver, spawn};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

const SECRET: &str = "ags_Y2xpLXRlc3RzLW9ubHktbm90LWEtcmVhbC1zZWNyZXQtMDAwMDAwMQ";
const BINARY: &str = env!("CARGO_BIN_EXE_aresgen-hooks");

fn hooks(args: &[&str]) -> Output {
    Command::new(BINARY)
        .args(args)
        .env("ARESGEN_SECRET", SECRET)
        .env_remove("RUST_LOG")
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The reference receiver as a child process, killed on drop.
struct ReferenceProcess {
    child: Child,
    url: String,
    probe_url: String,
}

impl ReferenceProcess {
    fn start() -> ReferenceProcess {
        let mut child = Command::new(BINARY)
            .args(["receive", "--listen", "127.0.0.1:0"])
            .env("ARESGEN_SECRET", SECRET)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("receive starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = lines.next().unwrap().unwrap();
        let probe = lines.next().unwrap().unwrap();
        ReferenceProcess {
            child,
            url: url.strip_prefix("listening on ").unwrap().to_owned(),
            probe_url: probe
                .strip_prefix("idempotency probe at ")
                .unwrap()
                .to_owned(),
        }
    }
}

impl Drop for ReferenceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn faulty(fault: Fault) -> (tokio::runtime::Runtime, TestReceiver) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = runtime.block_on(spawn(Some(fault), SECRET));
    (runtime, receiver)
}

/// An element name with its attributes in document order.
type StartTag = (String, Vec<(String, String)>);

/// A minimal XML well-formedness check: tags nest and close, attributes are quoted, and
/// only the five predefined entities appear. Returns every start tag with its attributes.
fn parse_xml(text: &str) -> Result<Vec<StartTag>, String> {
    let body = text
        .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
        .ok_or("missing XML declaration")?;
    let mut stack: Vec<String> = Vec::new();
    let mut tags = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find('<') {
        check_text(&rest[..start])?;
        let end = rest[start..].find('>').ok_or("unclosed tag")? + start;
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().ok_or("close tag without open tag")?;
            if open != name {
                return Err(format!("</{name}> closes <{open}>"));
            }
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let (name, mut attributes_text) = tag.split_once(' ').unwrap_or((tag, ""));
        let mut attributes = Vec::new();
        loop {
            attributes_text = attributes_text.trim_start();
            if attributes_text.is_empty() {
                break;
            }
            let (key, after) = attributes_text
                .split_once("=\"")
                .ok_or("unquoted attribute")?;
            let close = after.find('"').ok_or("unterminated attribute")?;
            check_text(&after[..close])?;
            attributes.push((key.to_owned(), after[..close].to_owned()));
            attributes_text = &after[close + 1..];
        }
        tags.push((name.to_owned(), attributes));
        if !self_closing {
            stack.push(name.to_owned());
        }
    }
    check_text(rest)?;
    if !stack.is_empty() {
        return Err(format!("unclosed elements: {stack:?}"));
    }
    Ok(tags)
}

fn check_text(text: &str) -> Result<(), String> {
    if text.contains('<') {
        return Err("stray <".to_owned());
    }
    let mut rest = text;
    while let Some(index) = rest.find('&') {
        let entity = &rest[index..];
        if !["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
            .iter()
            .any(|known| entity.starts_with(known))
        {
            return Err(format!(
                "unknown entity at {:?}",
                &entity[..entity.len().min(10)]
            ));
        }
        rest = &rest[index + 1..];
    }
    Ok(())
}

fn attribute<'a>(attributes: &'a [(String, String)], key: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|(name, _)| name == key)
        .map(|(_, value)| value.as_str())
}

#[test]
fn reference_receiver_passes_strict_with_reports() {
    let reference = ReferenceProcess::start();
    let junit_dir = tempfile_dir();
    let junit_path = junit_dir.join("conformance.xml");
    let output = hooks(&[
        "conformance",
        "--url",
        &reference.url,
        "--probe-url",
        &reference.probe_url,
        "--strict",
        // Speed is graded elsewhere; a loaded CI machine may answer a 256 KiB body slowly.
        "--slow-threshold",
        "10s",
        "--format",
        "json",
        "--junit",
        junit_path.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    assert_eq!(report["exit_code"], 0);
    assert_eq!(report["counts"]["fail"], 0);
    assert_eq!(report["counts"]["warn"], 0);
    assert_eq!(report["counts"]["skip"], 0);
    let results = report["results"].as_array().unwrap();
    assert!(results.len() >= 50);
    assert!(results.iter().all(|result| result["verdict"] == "pass"));

    let junit = std::fs::read_to_string(&junit_path).unwrap();
    let tags = parse_xml(&junit).expect("well-formed JUnit XML");
    let cases: Vec<_> = tags.iter().filter(|(name, _)| name == "testcase").collect();
    assert_eq!(cases.len(), results.len());
    for (_, attributes) in &cases {
        assert!(attribute(attributes, "name").is_some_and(|name| !name.is_empty()));
        assert!(attribute(attributes, "classname").is_some());
    }
    let root = tags.iter().find(|(name, _)| name == "testsuites").unwrap();
    assert_eq!(
        attribute(&root.1, "tests"),
        Some(results.len().to_string().as_str())
    );
    assert_eq!(attribute(&root.1, "failures"), Some("0"));

    for text in [stdout(&output), stderr(&output), junit] {
        assert!(!text.contains(SECRET));
    }
    std::fs::remove_dir_all(junit_dir).unwrap();
}

#[test]
fn missing_timestamp_check_fails_with_reproduction() {
    let (_runtime, receiver) = faulty(Fault::NoTimestampCheck);
    let junit_dir = tempfile_dir();
    let junit_path = junit_dir.join("conformance.xml");
    let output = hooks(&[
        "conformance",
        "--url",
        &receiver.url(),
        "--probe-url",
        &receiver.probe_url(),
        "--junit",
        junit_path.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));

    let text = stdout(&output);
    assert!(text.contains("\nts.004 FAIL [must]"), "{text}");
    assert!(text.contains("expected:  every request gets 4xx"), "{text}");
    assert!(text.contains("observed:  200 OK"), "{text}");
    assert!(text.contains("reproduce: printf '"), "{text}");
    assert!(text.contains("-H 'Aresgen-Signature: "), "{text}");
    assert!(text.contains("\nts.005 WARN [should]"), "{text}");
    assert!(!text.contains(SECRET));

    let junit = std::fs::read_to_string(&junit_path).unwrap();
    let tags = parse_xml(&junit).expect("well-formed JUnit XML");
    let failures = tags.iter().filter(|(name, _)| name == "failure").count();
    let root = tags.iter().find(|(name, _)| name == "testsuites").unwrap();
    assert_eq!(
        attribute(&root.1, "failures"),
        Some(failures.to_string().as_str())
    );
    assert_eq!(failures, 7);
    assert!(!junit.contains(SECRET));
    std::fs::remove_dir_all(junit_dir).unwrap();
}

#[test]
fn strict_mode_fails_on_warning() {
    let (_runtime, receiver) = faulty(Fault::RejectsUnknownTypes);
    let lenient = hooks(&["conformance", "--url", &receiver.url(), "--only", "event.*"]);
    assert_eq!(lenient.status.code(), Some(0), "{}", stdout(&lenient));
    let strict = hooks(&[
        "conformance",
        "--url",
        &receiver.url(),
        "--only",
        "event.*",
        "--strict",
    ]);
    assert_eq!(strict.status.code(), Some(1), "{}", stdout(&strict));
    assert!(stdout(&strict).contains("\nevent.011 FAIL [should]"));
}

#[test]
fn rejecting_everything_is_blocked_with_exit_3() {
    let (_runtime, receiver) = faulty(Fault::RejectsEverything);
    let output = hooks(&["conformance", "--url", &receiver.url(), "--format", "json"]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["preflight_passed"], false);
    let results = report["results"].as_array().unwrap();
    let pre = results.iter().find(|r| r["id"] == "pre.002").unwrap();
    assert_eq!(pre["verdict"], "fail");
    let sig = results.iter().find(|r| r["id"] == "sig.001").unwrap();
    assert_eq!(sig["verdict"], "blocked");
    assert_eq!(report["counts"]["blocked"], results.len() - 2);
}

#[test]
fn unreachable_url_exits_3() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/webhooks", listener.local_addr().unwrap());
    drop(listener);
    let output = hooks(&["conformance", "--url", &url, "--timeout", "2s"]);
    assert_eq!(output.status.code(), Some(3), "{}", stdout(&output));
    assert!(stdout(&output).contains("FAIL    pre.001"));
}

#[test]
fn empty_selection_exits_2() {
    let output = hooks(&[
        "conformance",
        "--url",
        "http://127.0.0.1:9/webhooks",
        "--only",
        "sig.001",
        "--skip",
        "sig.*",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("selection is empty"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn unknown_pattern_exits_2() {
    let output = hooks(&[
        "conformance",
        "--url",
        "http://127.0.0.1:9/webhooks",
        "--only",
        "sgi.*",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("\"sgi.*\""), "{}", stderr(&output));
}

#[test]
fn bad_url_exits_2_naming_value() {
    let output = hooks(&["conformance", "--url", "127.0.0.1:8787/webhooks"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("\"127.0.0.1:8787/webhooks\""),
        "{}",
        stderr(&output)
    );
}

#[test]
fn missing_secret_exits_2() {
    let output = Command::new(BINARY)
        .args(["conformance", "--url", "http://127.0.0.1:9/webhooks"])
        .env_remove("ARESGEN_SECRET")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("ARESGEN_SECRET"));
}

#[test]
fn list_and_explain() {
    let list = hooks(&["conformance", "list"]);
    assert_eq!(list.status.code(), Some(0));
    assert!(stdout(&list).contains("ts.004"));
    let explain = hooks(&["conformance", "explain", "replay.002"]);
    assert_eq!(explain.status.code(), Some(0));
    assert!(stdout(&explain).contains("signed 400 s ago"));
    let unknown = hooks(&["conformance", "explain", "replay.999"]);
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn receive_refuses_non_loopback() {
    let output = hooks(&["receive", "--listen", "0.0.0.0:0"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--allow-non-loopback"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn junit_in_missing_directory_exits_2_before_run() {
    let junit_dir = tempfile_dir();
    let junit_path = junit_dir.join("missing").join("conformance.xml");
    let output = hooks(&[
        "conformance",
        "--url",
        "http://127.0.0.1:9/webhooks",
        "--junit",
        junit_path.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    assert!(
        stderr(&output).contains(junit_path.to_str().unwrap()),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("does not exist"),
        "{}",
        stderr(&output)
    );
    assert!(!stderr(&output).contains("running"), "{}", stderr(&output));
    assert_eq!(stdout(&output), "");
    std::fs::remove_dir_all(junit_dir).unwrap();
}

#[test]
fn junit_write_failure_matches_printed_status() {
    // Opening /dev/full succeeds and every write to it fails with "no space left".
    if !Path::new("/dev/full").exists() {
        return;
    }
    let reference = ReferenceProcess::start();
    let text = hooks(&[
        "conformance",
        "--url",
        &reference.url,
        "--only",
        "sig.001",
        "--junit",
        "/dev/full",
    ]);
    assert_eq!(text.status.code(), Some(2), "{}", stderr(&text));
    assert!(
        stdout(&text).contains("(exit status 2)"),
        "{}",
        stdout(&text)
    );
    assert!(stderr(&text).contains("/dev/full"), "{}", stderr(&text));

    let json = hooks(&[
        "conformance",
        "--url",
        &reference.url,
        "--only",
        "sig.001",
        "--junit",
        "/dev/full",
        "--format",
        "json",
    ]);
    assert_eq!(json.status.code(), Some(2), "{}", stderr(&json));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["exit_code"], 2);
    let output_error = report["output_error"].as_str().unwrap();
    assert!(output_error.contains("/dev/full"), "{output_error}");
}

#[test]
fn probe_answering_404_is_an_error() {
    let reference = ReferenceProcess::start();
    let wrong_probe = reference.probe_url.replace("/probe", "/no-such-probe");
    let output = hooks(&[
        "conformance",
        "--url",
        &reference.url,
        "--probe-url",
        &wrong_probe,
        "--only",
        "idem.*",
        "--format",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(3), "{}", stdout(&output));

    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let results = report["results"].as_array().unwrap();
    let verdict = |id: &str| {
        results.iter().find(|r| r["id"] == id).unwrap()["verdict"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(verdict("idem.003"), "error");
    assert_eq!(verdict("idem.004"), "error");
    assert_eq!(verdict("idem.005"), "error");
    // A forged delivery is rejected, so a 404 for it matches "never applied".
    assert_eq!(verdict("idem.006"), "pass");
    assert_eq!(report["counts"]["fail"], 0);

    let idem005 = results.iter().find(|r| r["id"] == "idem.005").unwrap();
    let observed = idem005["observed"].as_str().unwrap();
    assert!(observed.contains("answered 404"), "{observed}");
    assert!(observed.contains(&wrong_probe), "{observed}");
    assert!(observed.contains("check --probe-url"), "{observed}");
}

#[test]
fn skipped_must_checks_are_named_in_result() {
    let reference = ReferenceProcess::start();
    let output = hooks(&["conformance", "--url", &reference.url, "--only", "idem.*"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("Result: conforming, 2 must-checks skipped: no --probe-url (exit status 0)"),
        "{text}"
    );

    let json = hooks(&[
        "conformance",
        "--url",
        &reference.url,
        "--only",
        "idem.*",
        "--format",
        "json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        report["skipped_gating_checks"],
        serde_json::json!(["idem.005", "idem.006"])
    );
}

#[test]
fn preflight_only_selection_exits_2() {
    let output = hooks(&[
        "conformance",
        "--url",
        "http://127.0.0.1:9/webhooks",
        "--only",
        "pre.*",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    assert!(
        stderr(&output).contains("selection is empty"),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("aresgen-hooks conformance list"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn skipping_everything_names_fix() {
    let output = hooks(&[
        "conformance",
        "--url",
        "http://127.0.0.1:9/webhooks",
        "--skip",
        "*",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("select at least one other check"),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("aresgen-hooks conformance list"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn json_body_excerpt_is_decoded_once() {
    let (_runtime, receiver) = faulty(Fault::NoTimestampCheck);
    let output = hooks(&[
        "conformance",
        "--url",
        &receiver.url(),
        "--only",
        "ts.004",
        "--format",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let results = report["results"].as_array().unwrap();
    let ts004 = results.iter().find(|r| r["id"] == "ts.004").unwrap();
    let excerpt = ts004["exchange"]["outcome"]["body_excerpt"]
        .as_str()
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(excerpt).expect("the excerpt is JSON");
    assert_eq!(body["status"], "accepted");
}

#[test]
fn blocked_reason_names_unreachable_target() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/webhooks", listener.local_addr().unwrap());
    drop(listener);
    let output = hooks(&["conformance", "--url", &url, "--timeout", "2s"]);
    assert_eq!(output.status.code(), Some(3));
    let text = stdout(&output);
    assert!(text.contains("the target could not be reached"), "{text}");
    assert!(!text.contains("rejects every request"), "{text}");
    assert!(!text.contains("rejected a correctly signed"), "{text}");
}

#[test]
fn blocked_reason_names_rejected_delivery() {
    let (_runtime, receiver) = faulty(Fault::RejectsEverything);
    let output = hooks(&["conformance", "--url", &receiver.url()]);
    assert_eq!(output.status.code(), Some(3));
    let text = stdout(&output);
    assert!(
        text.contains("the target rejected a correctly signed delivery: pre.002 got 401"),
        "{text}"
    );
    assert!(!text.contains("could not be reached"), "{text}");
}

#[test]
fn slow_threshold_not_below_timeout_exits_2() {
    for (slow, timeout) in [("5s", "1s"), ("2s", "2s")] {
        let output = hooks(&[
            "conformance",
            "--url",
            "http://127.0.0.1:9/webhooks",
            "--slow-threshold",
            slow,
            "--timeout",
            timeout,
        ]);
        assert_eq!(output.status.code(), Some(2), "{slow} {timeout}");
        let message = stderr(&output);
        assert!(
            message.contains(&format!("--slow-threshold {slow}")),
            "{message}"
        );
        assert!(
            message.contains(&format!("--timeout {timeout}")),
            "{message}"
        );
    }
}

#[test]
fn receive_secret_errors_match_sign() {
    let run = |args: &[&str]| {
        Command::new(BINARY)
            .args(args)
            .env_remove("ARESGEN_SECRET")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let receive = run(&["receive", "--listen", "127.0.0.1:0"]);
    let sign = run(&["sign", "--timestamp", "1"]);
    assert_eq!(receive.status.code(), Some(2));
    assert_eq!(stderr(&receive), stderr(&sign));

    let dir = tempfile_dir();
    let empty = dir.join("empty-secret");
    std::fs::write(&empty, "\n").unwrap();
    let empty = empty.to_str().unwrap();
    let receive = run(&["receive", "--listen", "127.0.0.1:0", "--secret-file", empty]);
    let sign = run(&["sign", "--timestamp", "1", "--secret-file", empty]);
    assert_eq!(receive.status.code(), Some(2));
    assert!(stderr(&receive).contains(empty), "{}", stderr(&receive));
    assert_eq!(stderr(&receive), stderr(&sign));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Creates a fresh directory under the target's temporary directory.
fn tempfile_dir() -> std::path::PathBuf {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = base.join(format!(
        "conformance-cli-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
