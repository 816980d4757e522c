//! The check catalog, kept as data in `scenarios/conformance/`, one TOML file per category.
//!
//! Every check has a stable id `<category>.<NNN>`. Ids are never renumbered or reused: a new
//! check takes the next free number of its category, so exclusion lists and reports keyed on
//! ids stay valid across versions. The files are compiled into the binary.

use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;

/// The catalog files in the order their checks run. Preflight comes first because its
/// positive control gates every other check.
const FILES: [(&str, &str); 8] = [
    (
        "pre.toml",
        include_str!("../../scenarios/conformance/pre.toml"),
    ),
    (
        "sig.toml",
        include_str!("../../scenarios/conformance/sig.toml"),
    ),
    (
        "ts.toml",
        include_str!("../../scenarios/conformance/ts.toml"),
    ),
    (
        "body.toml",
        include_str!("../../scenarios/conformance/body.toml"),
    ),
    (
        "event.toml",
        include_str!("../../scenarios/conformance/event.toml"),
    ),
    (
        "idem.toml",
        include_str!("../../scenarios/conformance/idem.toml"),
    ),
    (
        "replay.toml",
        include_str!("../../scenarios/conformance/replay.toml"),
    ),
    (
        "resp.toml",
        include_str!("../../scenarios/conformance/resp.toml"),
    ),
];

/// The category whose checks form the positive control.
pub const PREFLIGHT_CATEGORY: &str = "pre";

/// The binding level of a requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A violation fails the run.
    Must,
    /// A violation is a warning, or a failure under `--strict`.
    Should,
    /// A violation is reported as a warning and never changes the exit status.
    Info,
}

impl Severity {
    /// Returns the lowercase name used in catalogs and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Must => "must",
            Severity::Should => "should",
            Severity::Info => "info",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The status class a check expects for each request it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// A 2xx status.
    Accept,
    /// A 4xx status. A 5xx is graded as a missed `should`, because the contract requires
    /// that malformed input never gets a 5xx.
    Reject,
    /// Any HTTP response at all.
    Answer,
}

impl Expect {
    /// Returns the expected status class as shown in reports.
    pub fn describe(self) -> &'static str {
        match self {
            Expect::Accept => "2xx",
            Expect::Reject => "4xx",
            Expect::Answer => "any HTTP response",
        }
    }
}

/// The body a request carries. `{{id}}` and `{{created}}` in a text body are replaced with a
/// fresh event id and the current time.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum BodySpec {
    /// The published sample (`workflow.run.completed`) with a fresh id.
    #[default]
    Sample,
    /// The sample event of this type from the `fixtures` crate, with a fresh id.
    Fixture(String),
    /// The exact text given, after placeholder substitution.
    Text(String),
    /// A `workflow.run.completed` event padded with a long string field to exactly this many
    /// bytes.
    PaddedTo(usize),
}

/// The form of the `Aresgen-Timestamp` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TimestampForm {
    /// Unix seconds, as the sender writes it.
    #[default]
    Seconds,
    /// Unix milliseconds.
    Millis,
    /// The header is left out; the signature covers an empty timestamp.
    Omitted,
    /// The header is sent with an empty value; the signature covers an empty timestamp.
    Empty,
    /// The header carries `text` verbatim, and the signature covers that text.
    Literal,
}

/// The timestamp a request is signed with.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TimestampSpec {
    /// Seconds added to the current time; negative values are in the past.
    #[serde(default)]
    pub offset_secs: i64,
    #[serde(default)]
    pub form: TimestampForm,
    /// The header value for [`TimestampForm::Literal`].
    pub text: Option<String>,
}

/// The form of the `Aresgen-Signature` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SignatureForm {
    /// The correct signature.
    #[default]
    Valid,
    /// The header is left out.
    Omitted,
    /// The header is sent with an empty value.
    Empty,
    /// The first 32 of the 64 hex characters.
    Truncated,
    /// 64 characters that are not hex digits.
    NonHex,
    /// The correct signature in uppercase hex.
    Uppercase,
    /// A well-formed signature made with a different secret.
    WrongSecret,
    /// An HMAC over the body alone, without the timestamp and the dot.
    BodyOnly,
}

/// A change made to a correctly signed request before it is sent.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeAfterSigning {
    /// Replaces the first occurrence of the first string in the body with the second.
    pub body_replace: Option<[String; 2]>,
    /// Adds this many seconds to the timestamp header.
    pub timestamp_offset_secs: Option<i64>,
}

/// The property an aggregate check requires of every response to a valid delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// Every valid delivery got a response within `--timeout`.
    AnsweredWithinTimeout,
    /// Every valid delivery got a response within `--slow-threshold`.
    AnsweredWithinSlowThreshold,
    /// No valid delivery got a 3xx.
    NoRedirect,
    /// No valid delivery got a 410 Gone.
    NotGone,
}

/// The requests a check sends: a request kind the runner implements, with its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Send {
    /// One request, possibly malformed.
    Delivery {
        #[serde(default)]
        body: BodySpec,
        #[serde(default)]
        timestamp: TimestampSpec,
        #[serde(default)]
        signature: SignatureForm,
        change_after_signing: Option<ChangeAfterSigning>,
    },
    /// The same event sent `times` times in a row, each with a later timestamp and its own
    /// signature.
    Redelivery {
        #[serde(default)]
        body: BodySpec,
        times: u32,
    },
    /// The same event sent as `copies` identical requests at once.
    ConcurrentCopies {
        #[serde(default)]
        body: BodySpec,
        copies: u32,
    },
    /// `deliveries` different events sent at once.
    Burst { deliveries: u32 },
    /// An event delivered fresh, then a copy of an earlier attempt signed `age_secs` ago.
    StaleCopyAfterDelivery { age_secs: u64 },
    /// One fresh delivery, then a look at every response to a valid delivery in the run.
    ValidDeliveries { criterion: Criterion },
}

impl Send {
    /// Describes what is sent, in one sentence for reports and `explain`.
    pub fn describe(&self) -> String {
        match self {
            Send::Delivery {
                body,
                timestamp,
                signature,
                change_after_signing,
            } => {
                let mut parts = vec![format!("POST of {}", describe_body(body))];
                parts.push(describe_timestamp(timestamp));
                parts.push(describe_signature(*signature).to_owned());
                if let Some(change) = change_after_signing {
                    if let Some([from, to]) = &change.body_replace {
                        parts.push(format!("then {from} replaced by {to} in the body"));
                    }
                    if let Some(offset) = change.timestamp_offset_secs {
                        parts.push(format!("then the timestamp header moved by {offset:+} s"));
                    }
                }
                parts.join(", ")
            }
            Send::Redelivery { body, times } => format!(
                "{} sent {times} times in a row, each with a new timestamp and signature",
                describe_body(body)
            ),
            Send::ConcurrentCopies { body, copies } => format!(
                "{copies} identical, correctly signed copies of {} sent at once",
                describe_body(body)
            ),
            Send::Burst { deliveries } => {
                format!("{deliveries} different, correctly signed events sent at once")
            }
            Send::StaleCopyAfterDelivery { age_secs } => format!(
                "a fresh delivery of an event, then a captured copy of the same event signed {age_secs} s ago"
            ),
            Send::ValidDeliveries { criterion } => format!(
                "one fresh delivery; then every response to a valid delivery in this run is inspected ({})",
                match criterion {
                    Criterion::AnsweredWithinTimeout => "all answered within --timeout",
                    Criterion::AnsweredWithinSlowThreshold =>
                        "all answered within --slow-threshold",
                    Criterion::NoRedirect => "none answered with a 3xx",
                    Criterion::NotGone => "none answered with 410 Gone",
                }
            ),
        }
    }
}

fn describe_body(body: &BodySpec) -> String {
    match body {
        BodySpec::Sample => "the published sample event".to_owned(),
        BodySpec::Fixture(event_type) => format!("a sample {event_type} event"),
        BodySpec::Text(_) => "the body text given in the catalog".to_owned(),
        BodySpec::PaddedTo(size) => format!("an event body of exactly {size} bytes"),
    }
}

fn describe_timestamp(timestamp: &TimestampSpec) -> String {
    let when = match timestamp.offset_secs {
        0 => "the current time".to_owned(),
        offset if offset < 0 => format!("{} s in the past", -offset),
        offset => format!("{offset} s in the future"),
    };
    match timestamp.form {
        TimestampForm::Seconds => format!("timestamp {when} in Unix seconds"),
        TimestampForm::Millis => format!("timestamp {when} in Unix milliseconds"),
        TimestampForm::Omitted => "no Aresgen-Timestamp header".to_owned(),
        TimestampForm::Empty => "an empty Aresgen-Timestamp header".to_owned(),
        TimestampForm::Literal => format!(
            "Aresgen-Timestamp {:?}",
            timestamp.text.as_deref().unwrap_or_default()
        ),
    }
}

fn describe_signature(signature: SignatureForm) -> &'static str {
    match signature {
        SignatureForm::Valid => "correctly signed",
        SignatureForm::Omitted => "no Aresgen-Signature header",
        SignatureForm::Empty => "an empty Aresgen-Signature header",
        SignatureForm::Truncated => "the signature cut to its first 32 hex characters",
        SignatureForm::NonHex => "a signature of 64 characters that are not hex digits",
        SignatureForm::Uppercase => "the correct signature in uppercase hex",
        SignatureForm::WrongSecret => "signed with a different secret",
        SignatureForm::BodyOnly => "an HMAC over the body alone, without the timestamp",
    }
}

/// One check of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// Stable id, `<category>.<NNN>`.
    pub id: String,
    pub severity: Severity,
    /// The requirement, in one sentence.
    pub requirement: String,
    /// Why the requirement exists, shown by `explain`.
    pub why: Option<String>,
    /// The status class every request of the check must get. Absent only for
    /// `valid_deliveries` checks, which grade other responses.
    pub expect: Option<Expect>,
    /// When set, the check also reads the receiver's idempotency probe and expects the event
    /// to have been applied this many times.
    pub probe_applied: Option<u64>,
    pub send: Send,
    /// Filled in from the file's `category` key.
    #[serde(skip)]
    pub category: String,
}

impl Check {
    /// Describes what passes, for reports and `explain`.
    pub fn describe_pass(&self) -> String {
        let mut text = match (&self.send, self.expect) {
            (Send::ValidDeliveries { .. }, _) => {
                "the fresh delivery gets a 2xx and every inspected response meets the criterion"
                    .to_owned()
            }
            (Send::StaleCopyAfterDelivery { .. }, _) => {
                "the fresh delivery gets a 2xx and the stale copy gets a 4xx".to_owned()
            }
            (_, Some(expect)) => format!("every request gets {}", expect.describe()),
            (_, None) => "no expectation".to_owned(),
        };
        if self.expect == Some(Expect::Reject) {
            text.push_str(" (a 5xx is a warning)");
        }
        if let Some(applied) = self.probe_applied {
            text.push_str(&format!(
                ", and the probe reports the event applied {applied} time{}",
                if applied == 1 { "" } else { "s" }
            ));
        }
        text
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    category: String,
    title: String,
    #[serde(default)]
    check: Vec<Check>,
}

/// A category of checks with its title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub name: String,
    pub title: String,
}

/// All checks, in run order.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub categories: Vec<Category>,
    pub checks: Vec<Check>,
}

/// Why the catalog data is invalid.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{file}: invalid TOML: {source}")]
    Toml {
        file: String,
        #[source]
        source: Box<toml::de::Error>,
    },
    #[error("{file}: check {id}: {reason}")]
    Invalid {
        file: String,
        id: String,
        reason: String,
    },
}

impl Catalog {
    /// Loads the catalog compiled into the binary.
    pub fn builtin() -> Result<Catalog, CatalogError> {
        Catalog::from_sources(FILES.iter().copied())
    }

    /// Parses and validates catalog files given as `(file name, TOML text)` pairs, in run
    /// order.
    pub fn from_sources<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Catalog, CatalogError> {
        let mut catalog = Catalog {
            categories: Vec::new(),
            checks: Vec::new(),
        };
        let mut seen = HashSet::new();

        for (file, text) in files {
            let parsed: CatalogFile =
                toml::from_str(text).map_err(|source| CatalogError::Toml {
                    file: file.to_owned(),
                    source: Box::new(source),
                })?;
            catalog.categories.push(Category {
                name: parsed.category.clone(),
                title: parsed.title,
            });
            for mut check in parsed.check {
                check.category = parsed.category.clone();
                let invalid = |reason: String| CatalogError::Invalid {
                    file: file.to_owned(),
                    id: check.id.clone(),
                    reason,
                };
                validate(&check).map_err(invalid)?;
                if !seen.insert(check.id.clone()) {
                    return Err(invalid("the id is used twice".to_owned()));
                }
                catalog.checks.push(check);
            }
        }
        Ok(catalog)
    }

    /// Returns the check with this exact id.
    pub fn get(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|check| check.id == id)
    }
}

fn validate(check: &Check) -> Result<(), String> {
    let Some((category, number)) = check.id.split_once('.') else {
        return Err("the id must be <category>.<NNN>".to_owned());
    };
    if category != check.category {
        return Err(format!(
            "the id's category {category:?} differs from the file's category {:?}",
            check.category
        ));
    }
    if number.len() != 3 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err("the number after the dot must have exactly three digits".to_owned());
    }
    if check.requirement.trim().is_empty() {
        return Err("the requirement is empty".to_owned());
    }

    match (&check.send, check.expect) {
        (Send::ValidDeliveries { .. }, Some(_)) => {
            return Err("valid_deliveries checks grade other responses and take no expect".into());
        }
        (Send::ValidDeliveries { .. }, None) => {}
        (_, None) => return Err("expect is missing".to_owned()),
        (Send::Delivery { .. }, Some(_)) => {}
        (_, Some(Expect::Accept)) => {}
        (Send::StaleCopyAfterDelivery { .. }, Some(Expect::Reject)) => {}
        (_, Some(other)) => {
            return Err(format!(
                "this kind of request sends only valid deliveries, so expect must be accept, not {other:?}"
            ));
        }
    }

    if check.probe_applied.is_some()
        && !matches!(
            check.send,
            Send::Delivery { .. } | Send::Redelivery { .. } | Send::ConcurrentCopies { .. }
        )
    {
        return Err("probe_applied needs a delivery, redelivery or concurrent_copies".to_owned());
    }

    match &check.send {
        Send::Delivery {
            timestamp,
            change_after_signing,
            body,
            ..
        } => {
            if (timestamp.form == TimestampForm::Literal) != timestamp.text.is_some() {
                return Err("timestamp.text is required for, and only for, form literal".into());
            }
            if let Some(change) = change_after_signing
                && change.body_replace.is_some() == change.timestamp_offset_secs.is_some()
            {
                return Err(
                    "change_after_signing needs exactly one of body_replace and timestamp_offset_secs"
                        .to_owned(),
                );
            }
            validate_body(body)?;
        }
        Send::Redelivery { body, times } => {
            validate_body(body)?;
            if *times < 2 {
                return Err("a redelivery sends the event at least twice".to_owned());
            }
        }
        Send::ConcurrentCopies { body, copies } => {
            validate_body(body)?;
            if *copies < 2 {
                return Err("concurrent_copies needs at least two copies".to_owned());
            }
        }
        Send::Burst { deliveries } if *deliveries < 2 => {
            return Err("a burst needs at least two deliveries".to_owned());
        }
        _ => {}
    }
    Ok(())
}

fn validate_body(body: &BodySpec) -> Result<(), String> {
    match body {
        BodySpec::Fixture(event_type)
            if !fixtures::events()
                .iter()
                .any(|fixture| fixture.event_type == event_type) =>
        {
            Err(format!("no fixture event of type {event_type:?}"))
        }
        BodySpec::Text(text) if !text.contains("{{id}}") => {
            Err("a text body must contain {{id}} so that every run uses a fresh id".to_owned())
        }
        BodySpec::PaddedTo(size) if *size > delivery_core::MAX_BODY_BYTES => Err(format!(
            "padded_to {size} is over the {}-byte limit",
            delivery_core::MAX_BODY_BYTES
        )),
        _ => Ok(()),
    }
}
