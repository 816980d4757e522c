//! Simulated receivers: endpoints that verify signatures with their own wall clock, deduplicate
//! on the event id, answer according to a behaviour timeline, and log every arrival.

use crate::clock::ReceiverClock;
use crate::rng::Rng;
use delivery_core::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER};
use delivery_core::{EndpointRef, SignedRequest, SigningKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Attempt timeout of the default retry policy, in milliseconds.
const ATTEMPT_TIMEOUT_MS: u64 = 15_000;

/// How a receiver answers during a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Behaviour {
    /// Verifies and answers 2xx within milliseconds.
    Healthy,
    /// Answers 500, 502 or 504 without applying the event.
    ServerError,
    /// Answers 400 without applying the event.
    ClientError,
    /// Answers a 301, 302 or 307 redirect.
    Redirect,
    /// Answers 410 Gone.
    Gone,
    /// Answers 429 with `Retry-After`.
    RateLimited { retry_after_secs: u64 },
    /// Answers 503 with `Retry-After`.
    Unavailable { retry_after_secs: u64 },
    /// Applies the event and answers 2xx after a delay within the attempt timeout.
    Slow { delay_ms: u64 },
    /// Applies the event but answers only after the attempt timeout.
    TooSlow,
    /// Refuses connections.
    Refused,
}

impl Behaviour {
    /// Returns the name used in summaries and coverage counts.
    pub fn name(self) -> &'static str {
        match self {
            Behaviour::Healthy => "healthy",
            Behaviour::ServerError => "server_error",
            Behaviour::ClientError => "client_error",
            Behaviour::Redirect => "redirect",
            Behaviour::Gone => "gone",
            Behaviour::RateLimited { .. } => "rate_limited",
            Behaviour::Unavailable { .. } => "unavailable",
            Behaviour::Slow { .. } => "slow",
            Behaviour::TooSlow => "too_slow",
            Behaviour::Refused => "refused",
        }
    }

    /// Draws a faulty behaviour, each kind equally likely.
    pub fn draw(rng: &mut Rng) -> Behaviour {
        match rng.below(9) {
            0 => Behaviour::ServerError,
            1 => Behaviour::ClientError,
            2 => Behaviour::Redirect,
            3 => Behaviour::Gone,
            4 => Behaviour::RateLimited {
                retry_after_secs: rng.between(1, 8 * 3600),
            },
            5 => Behaviour::Unavailable {
                retry_after_secs: rng.between(1, 3600),
            },
            6 => Behaviour::Slow {
                delay_ms: rng.between(1_000, 14_000),
            },
            7 => Behaviour::TooSlow,
            _ => Behaviour::Refused,
        }
    }
}

/// A behaviour in force during `from..to` (simulated milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: u64,
    pub to: u64,
    pub behaviour: Behaviour,
    /// Whether the window is a long outage rather than a short fault; counted apart.
    pub outage: bool,
}

/// What a receiver sends back for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub retry_after_secs: Option<u64>,
    /// Time from the request's arrival to the response leaving the receiver.
    pub delay_ms: u64,
    /// Name of the response kind, for coverage counts.
    pub kind: &'static str,
    /// Whether a healthy receiver failed this one request at random.
    pub flaky: bool,
}

/// One request as the receiver saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    /// Simulated time of arrival, in milliseconds.
    pub at: u64,
    /// The receiver's own wall clock at arrival, in Unix milliseconds.
    pub wall_ms: i64,
    pub headers: Vec<(&'static str, String)>,
    pub body: Arc<[u8]>,
    pub status: u16,
    pub retry_after_secs: Option<u64>,
    /// The verifier's rejection kind (`stale`, `future`, `mismatch`, ...) or `None` if valid.
    pub rejected: Option<&'static str>,
    /// Whether this arrival applied the event for the first time.
    pub applied: bool,
    /// Whether the event id had already been applied before this arrival.
    pub duplicate: bool,
}

impl Arrival {
    /// Returns the value of a header, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// One simulated endpoint.
#[derive(Debug, Clone)]
pub struct Receiver {
    pub endpoint: EndpointRef,
    key: SigningKey,
    pub clock: ReceiverClock,
    /// Faulty windows, sorted by start; outside them the receiver is healthy.
    pub windows: Vec<Window>,
    pub flaky_permille: u32,
    /// From this simulated time on, the receiver is healthy whatever its windows say.
    pub healed_at: u64,
    applied: BTreeSet<String>,
    pub arrivals: Vec<Arrival>,
}

impl Receiver {
    /// Builds a receiver that verifies with `secret`.
    pub fn new(endpoint: EndpointRef, secret: &str, clock: ReceiverClock) -> Receiver {
        Receiver {
            endpoint,
            key: SigningKey::new(secret),
            clock,
            windows: Vec::new(),
            flaky_permille: 0,
            healed_at: u64::MAX,
            applied: BTreeSet::new(),
            arrivals: Vec::new(),
        }
    }

    /// Returns the window in force at `at`, if any.
    pub fn window_at(&self, at: u64) -> Option<&Window> {
        if at >= self.healed_at {
            return None;
        }
        self.windows.iter().find(|w| w.from <= at && at < w.to)
    }

    /// Returns whether the receiver accepts a connection at `at`.
    pub fn accepts_connection(&self, at: u64) -> bool {
        self.window_at(at)
            .is_none_or(|w| w.behaviour != Behaviour::Refused)
    }

    /// Handles one request that arrived at `at`, logs it and returns the reply.
    pub fn handle(&mut self, at: u64, request: &SignedRequest, rng: &mut Rng) -> Reply {
        let mut flaky = false;
        let behaviour = match self.window_at(at) {
            Some(window) => window.behaviour,
            None if at < self.healed_at && rng.chance(self.flaky_permille) => {
                flaky = true;
                *rng.pick(&[
                    Behaviour::ServerError,
                    Behaviour::RateLimited {
                        retry_after_secs: 30,
                    },
                    Behaviour::Unavailable {
                        retry_after_secs: 120,
                    },
                ])
            }
            None => Behaviour::Healthy,
        };

        let wall_ms = self.clock.wall_ms(at);
        let now_secs = u64::try_from(wall_ms.div_euclid(1000)).unwrap_or(0);
        let verdict = self.key.verify(
            request.header(TIMESTAMP_HEADER),
            request.header(SIGNATURE_HEADER),
            &request.body,
            now_secs,
        );
        let rejected = verdict.err().map(|error| error.kind());
        let event_id = request
            .header(delivery_core::request::EVENT_ID_HEADER)
            .unwrap_or_default()
            .to_owned();
        let duplicate = self.applied.contains(&event_id);

        let reply = Reply {
            flaky,
            ..self.reply(behaviour, rejected.is_some(), rng)
        };
        let applies = (200..300).contains(&reply.status) || behaviour == Behaviour::TooSlow;
        let applied = applies && rejected.is_none() && !duplicate;
        if applied {
            self.applied.insert(event_id);
        }

        self.arrivals.push(Arrival {
            at,
            wall_ms,
            headers: request.headers.clone(),
            body: Arc::clone(&request.body),
            status: reply.status,
            retry_after_secs: reply.retry_after_secs,
            rejected,
            applied,
            duplicate,
        });
        reply
    }

    fn reply(&self, behaviour: Behaviour, rejected: bool, rng: &mut Rng) -> Reply {
        let quick = rng.between(1, 50);
        let reply = |status, kind| Reply {
            status,
            retry_after_secs: None,
            delay_ms: quick,
            kind,
            flaky: false,
        };
        match behaviour {
            Behaviour::Redirect => reply(*rng.pick(&[301, 302, 307]), "3xx"),
            Behaviour::Gone => reply(410, "410"),
            Behaviour::ServerError => reply(*rng.pick(&[500, 502, 504]), "5xx"),
            Behaviour::ClientError => reply(400, "4xx"),
            Behaviour::RateLimited { retry_after_secs } => Reply {
                retry_after_secs: Some(retry_after_secs),
                ..reply(429, "429")
            },
            Behaviour::Unavailable { retry_after_secs } => Reply {
                retry_after_secs: Some(retry_after_secs),
                ..reply(503, "503")
            },
            _ if rejected => reply(401, "signature_rejected"),
            Behaviour::Slow { delay_ms } => Reply {
                delay_ms,
                ..reply(200, "slow")
            },
            Behaviour::TooSlow => Reply {
                delay_ms: ATTEMPT_TIMEOUT_MS + rng.between(1_000, 30_000),
                ..reply(200, "too_slow")
            },
            Behaviour::Healthy | Behaviour::Refused => {
                reply(*rng.pick(&[200, 200, 202, 204]), "2xx")
            }
        }
    }

    /// Returns whether the receiver has applied the event.
    pub fn has_applied(&self, event_id: &str) -> bool {
        self.applied.contains(event_id)
    }
}
