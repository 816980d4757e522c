//! Checks the core's signing and event parsing against the shared fixtures: the OpenSSL-computed
//! signature vectors and the ten sample events.

use delivery_core::{Event, EventType, SigningKey, VerifyError};
use std::collections::BTreeSet;

fn verify_at_own_time(
    secret: &str,
    timestamp: u64,
    signature: &str,
    body: &[u8],
) -> Result<u64, VerifyError> {
    let header = timestamp.to_string();
    SigningKey::new(secret).verify(Some(&header), Some(signature), body, timestamp)
}

#[test]
fn every_vector_verifies() {
    for vector in fixtures::signature_vectors() {
        let result = verify_at_own_time(
            &vector.secret,
            vector.timestamp,
            &vector.signature,
            &vector.body,
        );
        assert_eq!(result, Ok(vector.timestamp), "vector {}", vector.name);
    }
}

#[test]
fn every_vector_signs_to_its_signature() {
    for vector in fixtures::signature_vectors() {
        let signature = SigningKey::new(&vector.secret).sign(vector.timestamp, &vector.body);
        assert_eq!(
            signature.as_str(),
            vector.signature,
            "vector {}",
            vector.name
        );
    }
}

#[test]
fn vector_rejects_any_flipped_body_byte() {
    for vector in fixtures::signature_vectors() {
        let key = SigningKey::new(&vector.secret);
        let header = vector.timestamp.to_string();
        let mut body = vector.body.clone();

        for index in 0..body.len() {
            body[index] ^= 0x01;
            let result = key.verify(
                Some(&header),
                Some(&vector.signature),
                &body,
                vector.timestamp,
            );
            assert_eq!(
                result,
                Err(VerifyError::Mismatch),
                "vector {} with byte {index} flipped",
                vector.name
            );
            body[index] ^= 0x01;
        }
    }
}

#[test]
fn vector_rejects_appended_or_truncated_body() {
    for vector in fixtures::signature_vectors() {
        let mut longer = vector.body.clone();
        longer.push(b'\n');
        let result =
            verify_at_own_time(&vector.secret, vector.timestamp, &vector.signature, &longer);
        assert_eq!(result, Err(VerifyError::Mismatch), "vector {}", vector.name);

        if let Some((_, shorter)) = vector.body.split_last() {
            let result =
                verify_at_own_time(&vector.secret, vector.timestamp, &vector.signature, shorter);
            assert_eq!(result, Err(VerifyError::Mismatch), "vector {}", vector.name);
        }
    }
}

#[test]
fn vector_rejects_timestamp_off_by_one() {
    for vector in fixtures::signature_vectors() {
        for changed in [vector.timestamp - 1, vector.timestamp + 1] {
            // The clock follows the changed timestamp, so only the signature can fail.
            let result =
                verify_at_own_time(&vector.secret, changed, &vector.signature, &vector.body);
            assert_eq!(
                result,
                Err(VerifyError::Mismatch),
                "vector {} at timestamp {changed}",
                vector.name
            );
        }
    }
}

#[test]
fn vector_rejects_changed_secret() {
    for vector in fixtures::signature_vectors() {
        let mut last_char_changed = vector.secret.clone();
        let last = last_char_changed
            .pop()
            .expect("vector secrets are not empty");
        last_char_changed.push(if last == 'A' { 'B' } else { 'A' });

        let changed_secrets = [
            format!("{}x", vector.secret),
            last_char_changed,
            vector.secret.chars().skip(1).collect(),
            vector.secret.to_uppercase(),
        ];
        for secret in changed_secrets {
            if secret == vector.secret {
                continue;
            }
            let result =
                verify_at_own_time(&secret, vector.timestamp, &vector.signature, &vector.body);
            assert_eq!(
                result,
                Err(VerifyError::Mismatch),
                "vector {} with a changed secret",
                vector.name
            );
        }
    }
}

#[test]
fn whsec_secret_is_not_decoded() {
    let vectors = fixtures::signature_vectors();
    let vector = vectors
        .iter()
        .find(|vector| vector.name == "whsec-prefixed-secret")
        .expect("the whsec-prefixed-secret vector exists");

    // Keying with the part after the prefix, as some libraries do before decoding it, fails.
    let without_prefix = vector.secret.strip_prefix("whsec_").unwrap();
    let result = verify_at_own_time(
        without_prefix,
        vector.timestamp,
        &vector.signature,
        &vector.body,
    );
    assert_eq!(result, Err(VerifyError::Mismatch));
}

#[test]
fn fixture_events_follow_catalogue_order() {
    let fixture_types: Vec<&str> = fixtures::events()
        .iter()
        .map(|event| event.event_type)
        .collect();
    let catalogue: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(fixture_types, catalogue);
}

#[test]
fn fixture_events_parse_with_their_type() {
    for fixture in fixtures::events() {
        let event = Event::from_body(fixture.body)
            .unwrap_or_else(|error| panic!("{}: {error}", fixture.event_type));
        assert_eq!(event.event_type.as_str(), fixture.event_type);
        assert_eq!(&*event.body, fixture.body, "{}", fixture.event_type);
    }
}

#[test]
fn fixture_events_have_exact_data_keys() {
    for fixture in fixtures::events() {
        let value: serde_json::Value = serde_json::from_slice(fixture.body).unwrap();
        let data_keys: BTreeSet<&str> = value["data"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let event_type = EventType::parse(fixture.event_type).unwrap();
        let expected: BTreeSet<&str> = event_type.data_keys().iter().copied().collect();
        assert_eq!(data_keys, expected, "{}", fixture.event_type);
    }
}

#[test]
fn fixture_events_have_unique_ids() {
    let ids: BTreeSet<String> = fixtures::events()
        .iter()
        .map(|fixture| Event::from_body(fixture.body).unwrap().id)
        .collect();
    assert_eq!(ids.len(), fixtures::events().len());
}

#[test]
fn published_sample_parses() {
    let event = Event::from_body(fixtures::published_sample()).unwrap();
    assert_eq!(event.id, "evt_01HZ8PJYTM6N9X7QWXAYBVS3J5");
    assert_eq!(event.event_type, EventType::WorkflowRunCompleted);
    assert_eq!(event.created, "2026-05-11T08:14:22.184Z");
    assert_eq!(event.workspace_id, "ws_main");
}
