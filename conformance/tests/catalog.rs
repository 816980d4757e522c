//! Checks on the catalog data itself.

use conformance::catalog::{BodySpec, Catalog, Send};
use conformance::ids::IdGenerator;
use conformance::request::RequestFactory;
use delivery_core::{Event, EventType};

#[test]
fn catalog_loads_with_every_category() {
    let catalog = Catalog::builtin().expect("catalog loads");
    let names: Vec<&str> = catalog.categories.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "pre", "sig", "ts", "body", "event", "idem", "replay", "resp"
        ]
    );
    assert!(catalog.checks.len() >= 50, "{}", catalog.checks.len());
}

#[test]
fn catalog_covers_every_event_type() {
    let catalog = Catalog::builtin().unwrap();
    for event_type in EventType::ALL {
        let covered = catalog.checks.iter().any(|check| {
            matches!(&check.send, Send::Delivery { body: BodySpec::Fixture(name), .. } if name == event_type.as_str())
        });
        assert!(covered, "{event_type} has no event check");
    }
}

#[test]
fn text_bodies_are_valid_events_except_unknown_type() {
    let catalog = Catalog::builtin().unwrap();
    let mut factory = RequestFactory::new("ags_test", IdGenerator::new(1_778_487_262_184, 3));
    for check in &catalog.checks {
        let Send::Delivery { body, .. } = &check.send else {
            continue;
        };
        let rendered = factory.body(body, 1_778_487_262_184);
        let result = Event::from_body(&rendered.bytes);
        if check.id == "event.011" {
            assert!(result.is_err(), "event.011 must use an unknown type");
        } else {
            assert!(result.is_ok(), "{}: {:?}", check.id, result.err());
        }
    }
}

#[test]
fn loader_rejects_duplicate_ids() {
    let text = r#"
category = "sig"
title = "Signature"
[[check]]
id = "sig.001"
severity = "must"
requirement = "r"
expect = "reject"
send = { kind = "delivery", signature = "omitted" }
[[check]]
id = "sig.001"
severity = "must"
requirement = "r"
expect = "reject"
send = { kind = "delivery", signature = "empty" }
"#;
    let error = Catalog::from_sources([("sig.toml", text)]).unwrap_err();
    assert!(error.to_string().contains("used twice"), "{error}");
}

#[test]
fn loader_rejects_id_outside_its_category() {
    let text = r#"
category = "sig"
title = "Signature"
[[check]]
id = "ts.001"
severity = "must"
requirement = "r"
expect = "reject"
send = { kind = "delivery" }
"#;
    let error = Catalog::from_sources([("sig.toml", text)]).unwrap_err();
    assert!(error.to_string().contains("category"), "{error}");
}

#[test]
fn loader_rejects_unknown_keys() {
    let text = r#"
category = "sig"
title = "Signature"
[[check]]
id = "sig.001"
severity = "must"
requirement = "r"
expect = "reject"
send = { kind = "delivery", signatur = "omitted" }
"#;
    assert!(Catalog::from_sources([("sig.toml", text)]).is_err());
}
