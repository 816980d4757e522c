//! The event envelope and the ten event types.
//!
//! An event body is one JSON object with `id`, `type`, `created`, `workspace_id` and `data`.
//! Its bytes are fixed when it is published: every attempt and every replay sends them
//! unchanged.

use crate::outcome::days_from_civil;
use crate::time::UnixMillis;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::fmt;
use std::sync::Arc;

/// Maximum size of an event body in bytes (256 KiB).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The ten event types, in the order of the published catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventType {
    ChatMessageCreated,
    DocumentPublished,
    VoiceTrained,
    ChatbotConversationEscalated,
    ChatbotCsatReceived,
    WorkflowRunCompleted,
    WorkflowRunApprovalRequired,
    WorkspaceMemberAdded,
    WorkspaceMemberRemoved,
    AuditPolicyViolation,
}

impl EventType {
    /// Every event type, in catalogue order.
    pub const ALL: [EventType; 10] = [
        EventType::ChatMessageCreated,
        EventType::DocumentPublished,
        EventType::VoiceTrained,
        EventType::ChatbotConversationEscalated,
        EventType::ChatbotCsatReceived,
        EventType::WorkflowRunCompleted,
        EventType::WorkflowRunApprovalRequired,
        EventType::WorkspaceMemberAdded,
        EventType::WorkspaceMemberRemoved,
        EventType::AuditPolicyViolation,
    ];

    /// Returns the wire name, for example `chat.message.created`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ChatMessageCreated => "chat.message.created",
            EventType::DocumentPublished => "document.published",
            EventType::VoiceTrained => "voice.trained",
            EventType::ChatbotConversationEscalated => "chatbot.conversation.escalated",
            EventType::ChatbotCsatReceived => "chatbot.csat.received",
            EventType::WorkflowRunCompleted => "workflow.run.completed",
            EventType::WorkflowRunApprovalRequired => "workflow.run.approval_required",
            EventType::WorkspaceMemberAdded => "workspace.member.added",
            EventType::WorkspaceMemberRemoved => "workspace.member.removed",
            EventType::AuditPolicyViolation => "audit.policy.violation",
        }
    }

    /// Returns the keys that `data` must contain for this type.
    pub fn data_keys(self) -> &'static [&'static str] {
        match self {
            EventType::ChatMessageCreated => &[
                "thread_id",
                "message_id",
                "role",
                "content",
                "model",
                "voice_id",
            ],
            EventType::DocumentPublished => {
                &["document_id", "published_at", "author", "project_id"]
            }
            EventType::VoiceTrained => {
                &["voice_id", "sample_word_count", "sliders", "banned_phrases"]
            }
            EventType::ChatbotConversationEscalated => &[
                "conversation_id",
                "intent",
                "transcript_url",
                "requested_agent",
            ],
            EventType::ChatbotCsatReceived => &["conversation_id", "score", "comment", "language"],
            EventType::WorkflowRunCompleted => {
                &["workflow_id", "run_id", "status", "duration_ms", "cost_usd"]
            }
            EventType::WorkflowRunApprovalRequired => {
                &["workflow_id", "run_id", "step_id", "approval_url"]
            }
            EventType::WorkspaceMemberAdded => &["user_id", "email", "role", "scim_source"],
            EventType::WorkspaceMemberRemoved => &["user_id", "removed_at", "removed_by"],
            EventType::AuditPolicyViolation => {
                &["rule_id", "project_id", "user_id", "blocked_at", "reason"]
            }
        }
    }

    /// Parses a wire name, returning `None` for an unknown type.
    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Returns all wire names joined with `, `, for error messages.
    pub fn catalogue() -> String {
        EventType::ALL.map(EventType::as_str).join(", ")
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error that rejects an event at publish time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The body exceeds [`MAX_BODY_BYTES`].
    #[error(
        "event body is {size} bytes, more than the {MAX_BODY_BYTES}-byte limit: send less data or a reference to it"
    )]
    TooLarge { size: usize },
    /// The body is not a JSON object.
    #[error("event body is not a JSON object: {reason}")]
    NotJson { reason: String },
    /// A required envelope key is missing or has the wrong JSON type.
    #[error("envelope key `{key}` is missing or not a {expected}")]
    MissingKey {
        key: &'static str,
        expected: &'static str,
    },
    /// The `id` is not `evt_` followed by a 26-character Crockford base32 ULID.
    #[error(
        "invalid event id {id:?}: expected `evt_` followed by a 26-character ULID in Crockford base32, e.g. evt_01HZ8PJYTM6N9X7QWXAYBVS3J5"
    )]
    InvalidId { id: String },
    /// The `type` is not one of the ten event types.
    #[error(
        "unknown event type {name:?}: valid types are {}",
        EventType::catalogue()
    )]
    UnknownType { name: String },
    /// The `created` value is not RFC 3339 UTC with milliseconds and `Z`.
    #[error(
        "invalid created time {value:?}: expected RFC 3339 UTC with milliseconds, e.g. 2026-05-11T08:14:22.184Z"
    )]
    InvalidCreated { value: String },
    /// The `workspace_id` is empty.
    #[error("workspace_id is empty: set it to the workspace the event belongs to, e.g. ws_main")]
    EmptyWorkspace,
    /// `data` lacks keys its type requires.
    #[error("data for {event_type} lacks required keys: {}", missing.join(", "))]
    MissingDataKeys {
        event_type: EventType,
        missing: Vec<&'static str>,
    },
}

/// A validated event with its body bytes fixed.
///
/// It serializes as its body text alone and deserializes by validating that text again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: String,
    pub event_type: EventType,
    pub created: String,
    pub workspace_id: String,
    /// The exact bytes sent as the request body on every attempt and replay.
    pub body: Arc<[u8]>,
}

impl Event {
    /// Validates a raw body and keeps its bytes exactly as given.
    pub fn from_body(body: &[u8]) -> Result<Event, EventError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(EventError::TooLarge { size: body.len() });
        }

        let value: Value = serde_json::from_slice(body).map_err(|e| EventError::NotJson {
            reason: e.to_string(),
        })?;
        let Value::Object(object) = &value else {
            return Err(EventError::NotJson {
                reason: "the top-level value is not an object".to_owned(),
            });
        };

        let string_key = |key: &'static str| {
            object
                .get(key)
                .and_then(Value::as_str)
                .ok_or(EventError::MissingKey {
                    key,
                    expected: "string",
                })
        };
        let id = string_key("id")?;
        let type_name = string_key("type")?;
        let created = string_key("created")?;
        let workspace_id = string_key("workspace_id")?;
        let data = object
            .get("data")
            .and_then(Value::as_object)
            .ok_or(EventError::MissingKey {
                key: "data",
                expected: "object",
            })?;

        if !is_valid_event_id(id) {
            return Err(EventError::InvalidId { id: id.to_owned() });
        }
        let event_type = EventType::parse(type_name).ok_or_else(|| EventError::UnknownType {
            name: type_name.to_owned(),
        })?;
        if !is_valid_created(created) {
            return Err(EventError::InvalidCreated {
                value: created.to_owned(),
            });
        }
        if workspace_id.is_empty() {
            return Err(EventError::EmptyWorkspace);
        }

        let missing: Vec<&'static str> = event_type
            .data_keys()
            .iter()
            .copied()
            .filter(|key| !data.contains_key(*key))
            .collect();
        if !missing.is_empty() {
            return Err(EventError::MissingDataKeys {
                event_type,
                missing,
            });
        }

        Ok(Event {
            id: id.to_owned(),
            event_type,
            created: created.to_owned(),
            workspace_id: workspace_id.to_owned(),
            body: Arc::from(body),
        })
    }

    /// Serializes an envelope with keys in the order `id`, `type`, `created`, `workspace_id`,
    /// `data`, then validates it like [`Event::from_body`].
    pub fn build(
        id: &str,
        event_type: EventType,
        created: &str,
        workspace_id: &str,
        data: Value,
    ) -> Result<Event, EventError> {
        let mut body = Vec::with_capacity(256);
        body.extend_from_slice(b"{\"id\":");
        serde_json::to_writer(&mut body, id).expect("writing to a Vec cannot fail");
        body.extend_from_slice(b",\"type\":");
        serde_json::to_writer(&mut body, event_type.as_str()).expect("writing to a Vec");
        body.extend_from_slice(b",\"created\":");
        serde_json::to_writer(&mut body, created).expect("writing to a Vec");
        body.extend_from_slice(b",\"workspace_id\":");
        serde_json::to_writer(&mut body, workspace_id).expect("writing to a Vec");
        body.extend_from_slice(b",\"data\":");
        serde_json::to_writer(&mut body, &data).expect("writing to a Vec");
        body.push(b'}');
        Event::from_body(&body)
    }
}

impl Event {
    /// Returns the `created` time in Unix milliseconds.
    pub fn created_unix_millis(&self) -> UnixMillis {
        // `created` was checked against `YYYY-MM-DDTHH:MM:SS.mmmZ` at publish time.
        let number =
            |range: std::ops::Range<usize>| -> i64 { self.created[range].parse().unwrap_or(0) };
        let days = days_from_civil(number(0..4), number(5..7), number(8..10));
        let secs = ((days * 24 + number(11..13)) * 60 + number(14..16)) * 60 + number(17..19);
        UnixMillis(secs * 1000 + number(20..23))
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // A validated body is JSON, and JSON text is UTF-8.
        let text = std::str::from_utf8(&self.body).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(text)
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Event, D::Error> {
        let text = String::deserialize(deserializer)?;
        Event::from_body(text.as_bytes()).map_err(serde::de::Error::custom)
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<EventType, D::Error> {
        let name = String::deserialize(deserializer)?;
        EventType::parse(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown event type {name:?}: valid types are {}",
                EventType::catalogue()
            ))
        })
    }
}

/// Checks `evt_` followed by 26 Crockford base32 characters (no I, L, O or U), uppercase, with
/// a first character of 0 to 7 so the ULID fits 128 bits.
pub fn is_valid_event_id(id: &str) -> bool {
    let Some(ulid) = id.strip_prefix("evt_") else {
        return false;
    };
    ulid.len() == 26
        && matches!(ulid.as_bytes()[0], b'0'..=b'7')
        && ulid
            .bytes()
            .all(|b| b.is_ascii_digit() || (b.is_ascii_uppercase() && !b"ILOU".contains(&b)))
}

/// Checks `YYYY-MM-DDTHH:MM:SS.mmmZ` with field ranges (day up to 31 whatever the month).
fn is_valid_created(value: &str) -> bool {
    let bytes = value.as_bytes();
    if bytes.len() != 24 {
        return false;
    }
    let shape = b"dddd-dd-ddTdd:dd:dd.dddZ";
    let shape_ok = bytes.iter().zip(shape).all(|(b, s)| match s {
        b'd' => b.is_ascii_digit(),
        other => b == other,
    });
    if !shape_ok {
        return false;
    }

    let number = |range: std::ops::Range<usize>| value[range].parse::<u32>().unwrap_or(u32::MAX);
    (1..=12).contains(&number(5..7))
        && (1..=31).contains(&number(8..10))
        && number(11..13) <= 23
        && number(14..16) <= 59
        && number(17..19) <= 60
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample_data() -> Value {
        json!({"workflow_id": "wf_publish", "run_id": "run_01HZ8PJYTM6N9X7QWXAYBVS3J5",
               "status": "success", "duration_ms": 4218, "cost_usd": 0.0382})
    }

    #[test]
    fn build_accepts_published_sample() {
        let event = Event::build(
            "evt_01HZ8PJYTM6N9X7QWXAYBVS3J5",
            EventType::WorkflowRunCompleted,
            "2026-05-11T08:14:22.184Z",
            "ws_main",
            sample_data(),
        )
        .unwrap();
        assert_eq!(event.event_type, EventType::WorkflowRunCompleted);
        assert!(
            event
                .body
                .starts_with(b"{\"id\":\"evt_01HZ8PJYTM6N9X7QWXAYBVS3J5\",\"type\"")
        );
    }

    #[test]
    fn from_body_keeps_exact_bytes() {
        let body = b"{ \"data\":{\"workflow_id\":\"wf\",\"run_id\":\"r\",\"status\":\"s\",\"duration_ms\":1,\"cost_usd\":0},\r\n\"workspace_id\":\"ws_a\",\"created\":\"2026-05-11T08:14:22.184Z\",\"type\":\"workflow.run.completed\",\"id\":\"evt_01HZ8PJYTM6N9X7QWXAYBVS3J5\"}\n";
        let event = Event::from_body(body).unwrap();
        assert_eq!(&*event.body, &body[..]);
    }

    #[test]
    fn from_body_rejects_unknown_type_listing_valid_ones() {
        let body = br#"{"id":"evt_01HZ8PJYTM6N9X7QWXAYBVS3J5","type":"chat.deleted","created":"2026-05-11T08:14:22.184Z","workspace_id":"ws","data":{}}"#;
        let error = Event::from_body(body).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("\"chat.deleted\""), "{message}");
        assert!(message.contains("audit.policy.violation"), "{message}");
    }

    #[test]
    fn from_body_names_missing_data_keys() {
        let error = Event::build(
            "evt_01HZ8PJYTM6N9X7QWXAYBVS3J5",
            EventType::WorkflowRunCompleted,
            "2026-05-11T08:14:22.184Z",
            "ws_main",
            json!({"workflow_id": "wf"}),
        )
        .unwrap_err();
        assert_eq!(
            error,
            EventError::MissingDataKeys {
                event_type: EventType::WorkflowRunCompleted,
                missing: vec!["run_id", "status", "duration_ms", "cost_usd"],
            }
        );
    }

    #[test]
    fn from_body_rejects_over_limit() {
        let padding = "x".repeat(MAX_BODY_BYTES);
        let data = json!({"workflow_id": padding, "run_id": "r", "status": "s",
                          "duration_ms": 1, "cost_usd": 0});
        let error = Event::build(
            "evt_01HZ8PJYTM6N9X7QWXAYBVS3J5",
            EventType::WorkflowRunCompleted,
            "2026-05-11T08:14:22.184Z",
            "ws_main",
            data,
        )
        .unwrap_err();
        assert!(matches!(error, EventError::TooLarge { size } if size > MAX_BODY_BYTES));
    }

    #[test]
    fn created_converts_to_unix_millis() {
        let event = Event::build(
            "evt_01HZ8PJYTM6N9X7QWXAYBVS3J5",
            EventType::WorkflowRunCompleted,
            "2026-05-11T08:14:22.184Z",
            "ws_main",
            sample_data(),
        )
        .unwrap();
        // 2026-05-11T08:14:22Z is 1_778_487_262 s after the epoch.
        assert_eq!(event.created_unix_millis(), UnixMillis(1_778_487_262_184));
    }

    #[test]
    fn event_serializes_as_body_text() {
        let event = Event::build(
            "evt_01HZ8PJYTM6N9X7QWXAYBVS3J5",
            EventType::WorkflowRunCompleted,
            "2026-05-11T08:14:22.184Z",
            "ws_main",
            sample_data(),
        )
        .unwrap();
        let text = serde_json::to_string(&event).unwrap();
        let back: Event = serde_json::from_str(&text).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn event_id_validation_cases() {
        assert!(is_valid_event_id("evt_01HZ8PJYTM6N9X7QWXAYBVS3J5"));
        assert!(!is_valid_event_id("evt_01HZ8PJYTM6N9X7QWXAYBVS3J"));
        assert!(!is_valid_event_id("evt_01hz8pjytm6n9x7qwxaybvs3j5"));
        assert!(!is_valid_event_id("evt_01HZ8PJYTM6N9X7QWXAYBVS3JU"));
        assert!(!is_valid_event_id("evt_81HZ8PJYTM6N9X7QWXAYBVS3J5"));
        assert!(!is_valid_event_id("01HZ8PJYTM6N9X7QWXAYBVS3J5"));
    }

    #[test]
    fn created_validation_cases() {
        assert!(is_valid_created("2026-05-11T08:14:22.184Z"));
        assert!(!is_valid_created("2026-05-11T08:14:22Z"));
        assert!(!is_valid_created("2026-13-11T08:14:22.184Z"));
        assert!(!is_valid_created("2026-05-11T08:14:22.184+00:00"));
    }
}
