//! The workload: workspaces and their endpoints, the events to publish and their bodies.

use crate::clock::EPOCH_UNIX_MS;
use crate::rng::Rng;
use crate::settings::WorkloadSettings;
use delivery_core::{EndpointConfig, EndpointRef, Event, EventType, Filter};
use serde_json::Value;

/// Subscription sets the endpoints draw from: every form of pattern, and sets that leave some
/// types unmatched so that the filter checker has something to check.
const FILTER_SETS: [&[&str]; 6] = [
    &["*"],
    &["chat.*"],
    &["workflow.*", "audit.policy.violation"],
    &["chatbot.*", "voice.trained"],
    &["document.published", "workspace.*"],
    &["workspace.member.added"],
];

/// Crockford base32 alphabet, as ULIDs use it.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Alphabet of base64url without padding.
const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// One endpoint as the operator configured it.
#[derive(Debug, Clone)]
pub struct EndpointSpec {
    pub config: EndpointConfig,
    pub filter: Filter,
}

impl EndpointSpec {
    /// Returns whether the endpoint subscribes to `event_type`.
    pub fn subscribes(&self, event_type: EventType) -> bool {
        self.filter.matches(event_type)
    }

    /// Returns the endpoint's workspace and id.
    pub fn endpoint(&self) -> &EndpointRef {
        &self.config.endpoint
    }
}

/// An event to publish at a simulated time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedEvent {
    pub at: u64,
    pub workspace: usize,
    pub event_type: EventType,
}

/// Returns the id of workspace number `index`.
pub fn workspace_id(index: usize) -> String {
    format!("ws_{index:03}")
}

/// Builds every endpoint: one to `max_endpoints_per_workspace` per workspace, in workspace
/// order, each with a generated secret and a drawn filter.
pub fn build_endpoints(
    settings: &WorkloadSettings,
    rng: &mut Rng,
    secrets: &mut Rng,
) -> Vec<EndpointSpec> {
    let mut endpoints = Vec::new();
    for workspace in 0..settings.workspaces as usize {
        let count = rng.between(1, u64::from(settings.max_endpoints_per_workspace.max(1)));
        for number in 0..count {
            let filters: Vec<String> = if number == 0 {
                // The first endpoint of a workspace takes everything, so each workspace has
                // deliveries whatever types it publishes.
                vec!["*".to_owned()]
            } else {
                rng.pick(&FILTER_SETS)
                    .iter()
                    .map(|p| p.to_string())
                    .collect()
            };
            let config = EndpointConfig {
                endpoint: EndpointRef::new(workspace_id(workspace), format!("ep_{number}")),
                url: format!("https://ws{workspace:03}-ep{number}.hooks.example/aresgen"),
                secret: generate_secret(secrets),
                filters,
            };
            let filter = config
                .validate()
                .expect("the built-in filter sets are valid");
            endpoints.push(EndpointSpec { config, filter });
        }
    }
    endpoints
}

/// Generates a secret in the documented form: `ags_` followed by 43 base64url characters.
fn generate_secret(rng: &mut Rng) -> String {
    let mut secret = String::from("ags_");
    for _ in 0..43 {
        secret.push(*rng.pick(BASE64URL) as char);
    }
    secret
}

/// Draws the publish schedule: `events` spread over the publish window plus every burst, sorted
/// by time. Bursts publish their events within one second.
pub fn plan_events(settings: &WorkloadSettings, rng: &mut Rng) -> Vec<PlannedEvent> {
    let window_ms = settings.publish_hours.max(1) * 3_600_000;
    let workspaces = u64::from(settings.workspaces.max(1));
    let draw_type = |rng: &mut Rng| *rng.pick(&EventType::ALL);

    let mut planned = Vec::new();
    for _ in 0..settings.events {
        planned.push(PlannedEvent {
            at: rng.below(window_ms),
            workspace: rng.below(workspaces) as usize,
            event_type: draw_type(rng),
        });
    }
    for burst in 0..settings.bursts {
        let drawn = rng.below(window_ms);
        let start = match settings.first_burst_minute {
            Some(minute) if burst == 0 => minute * 60_000,
            _ => drawn,
        };
        for _ in 0..settings.burst_size {
            planned.push(PlannedEvent {
                at: start + rng.below(1000),
                workspace: rng.below(workspaces) as usize,
                event_type: draw_type(rng),
            });
        }
    }
    planned.sort_by_key(|event| event.at);
    planned
}

/// Builds event bodies from the fixture samples, with ULID-shaped ids from a seeded counter.
#[derive(Debug, Clone)]
pub struct EventFactory {
    /// The `data` object of each type's sample body, in catalogue order.
    samples: Vec<(EventType, Value)>,
    /// 48 bits drawn from the seed, so that runs of different seeds use different ids.
    run_tag: u64,
    counter: u32,
}

impl EventFactory {
    /// Loads the fixture samples.
    pub fn new(rng: &mut Rng) -> EventFactory {
        let samples = fixtures::events()
            .iter()
            .map(|fixture| {
                let event_type =
                    EventType::parse(fixture.event_type).expect("fixture types are known");
                let body: Value =
                    serde_json::from_slice(fixture.body).expect("fixture bodies are JSON");
                (event_type, body["data"].clone())
            })
            .collect();
        EventFactory {
            samples,
            run_tag: rng.next_u64() >> 16,
            counter: 0,
        }
    }

    /// Builds the next event of `event_type` for `workspace`, created at `wall_ms` (the
    /// sender's wall clock, in Unix milliseconds).
    pub fn build(&mut self, event_type: EventType, workspace: &str, wall_ms: i64) -> Event {
        self.counter += 1;
        let id = ulid_id(wall_ms, self.run_tag, self.counter);
        let created = crate::clock::format_rfc3339(wall_ms);
        let data = self
            .samples
            .iter()
            .find(|(sample_type, _)| *sample_type == event_type)
            .map(|(_, data)| data.clone())
            .unwrap_or_default();
        Event::build(&id, event_type, &created, workspace, data)
            .expect("fixture data has every key its type requires")
    }
}

/// Formats `evt_` and a 26-character ULID: 48 bits of milliseconds, then 80 bits made of the
/// run tag and a counter.
fn ulid_id(wall_ms: i64, run_tag: u64, counter: u32) -> String {
    let millis =
        u128::from(u64::try_from(wall_ms.max(EPOCH_UNIX_MS)).unwrap_or(0)) & ((1 << 48) - 1);
    let random = (u128::from(run_tag & ((1 << 48) - 1)) << 32) | u128::from(counter);
    let value = (millis << 80) | random;

    let mut id = String::with_capacity(30);
    id.push_str("evt_");
    for index in (0..26).rev() {
        let digit = ((value >> (5 * index)) & 31) as usize;
        id.push(CROCKFORD[digit] as char);
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_valid_and_unique() {
        let mut factory = EventFactory::new(&mut Rng::new(1));
        let first = factory.build(EventType::ALL[0], "ws_000", EPOCH_UNIX_MS);
        let second = factory.build(EventType::ALL[0], "ws_000", EPOCH_UNIX_MS);
        assert!(
            delivery_core::event::is_valid_event_id(&first.id),
            "{}",
            first.id
        );
        assert_ne!(first.id, second.id);
    }

    #[test]
    fn every_type_builds() {
        let mut factory = EventFactory::new(&mut Rng::new(2));
        for event_type in EventType::ALL {
            let event = factory.build(event_type, "ws_001", EPOCH_UNIX_MS + 5);
            assert_eq!(event.event_type, event_type);
            assert_eq!(event.created, "2026-05-11T00:00:00.005Z");
        }
    }
}
