//! A virtual-time driver for the core: time jumps to the next wake-up, responses come from a
//! closure, and every output is kept for assertions.

#![allow(dead_code)]

use delivery_core::{
    AttemptResult, Config, Core, DeliveryId, EndpointConfig, EndpointRef, Event, EventType, Millis,
    Notification, Now, Record, Transmit, UnixMillis,
};
use serde_json::json;

/// Wall-clock time at the start of every test: 2026-05-11T08:00:00Z.
pub const START_WALL: i64 = 1_778_486_400_000;
pub const SECRET: &str = "ags_dGVzdC1zZWNyZXQtZm9yLWNvcmUtdGVzdHMtb25seS0xMjM0NTY";

/// One transmit together with the time it was sent.
#[derive(Debug, Clone)]
pub struct Sent {
    pub at: Millis,
    pub transmit: Transmit,
}

pub struct Driver {
    pub core: Core,
    pub config: Config,
    /// Monotonic time of the simulated sender process.
    pub mono: Millis,
    /// Wall clock minus monotonic clock; a step changes it.
    pub wall_offset: i64,
    /// Monotonic time already used up by earlier processes, so time stays global across
    /// restarts.
    pub process_start: Millis,
    pub records: Vec<Record>,
    pub sent: Vec<Sent>,
    pub notifications: Vec<Notification>,
    /// Transmits drained but without a result yet.
    pub pending: Vec<Sent>,
}

impl Driver {
    pub fn new(config: Config) -> Driver {
        let now = Now::new(Millis::ZERO, UnixMillis(START_WALL));
        Driver {
            core: Core::new(config.clone(), now),
            config,
            mono: Millis::ZERO,
            wall_offset: START_WALL,
            process_start: Millis::ZERO,
            records: Vec::new(),
            sent: Vec::new(),
            notifications: Vec::new(),
            pending: Vec::new(),
        }
    }

    /// Global simulated time: the same across restarts.
    pub fn time(&self) -> Millis {
        self.process_start + self.mono
    }

    pub fn now(&self) -> Now {
        Now::new(
            self.mono,
            UnixMillis(self.time().0 as i64 + self.wall_offset),
        )
    }

    /// Drains every output, keeping records, transmits and notifications.
    pub fn drain(&mut self) {
        while let Some(record) = self.core.poll_record() {
            self.records.push(record);
        }
        while let Some(transmit) = self.core.poll_transmit() {
            let sent = Sent {
                at: self.time(),
                transmit,
            };
            self.sent.push(sent.clone());
            self.pending.push(sent);
        }
        while let Some(notification) = self.core.poll_notification() {
            self.notifications.push(notification);
        }
    }

    pub fn endpoint(&mut self, workspace: &str, id: &str, filters: &[&str]) -> EndpointRef {
        let endpoint = EndpointRef::new(workspace, id);
        let config = EndpointConfig {
            endpoint: endpoint.clone(),
            url: format!("https://{id}.{workspace}.hooks.test/aresgen"),
            secret: SECRET.to_owned(),
            filters: filters.iter().map(|f| f.to_string()).collect(),
        };
        self.core.save_endpoint(self.now(), config).unwrap();
        self.drain();
        endpoint
    }

    pub fn publish(&mut self, workspace: &str, n: u32, event_type: EventType) -> Event {
        let event = sample_event(workspace, n, event_type);
        self.core.publish(self.now(), &event.body).unwrap();
        self.drain();
        event
    }

    /// Reports a result from `respond` for every pending transmit, including those the results cause.
    pub fn answer_all(&mut self, mut respond: impl FnMut(&Transmit) -> AttemptResult) {
        while !self.pending.is_empty() {
            self.answer_pending(&mut respond);
        }
    }

    fn answer_pending(&mut self, respond: &mut impl FnMut(&Transmit) -> AttemptResult) {
        let pending = std::mem::take(&mut self.pending);
        for sent in pending {
            let result = respond(&sent.transmit);
            let _ = self.core.handle_result(
                self.now(),
                sent.transmit.delivery_id,
                sent.transmit.attempt,
                result,
            );
            self.drain();
        }
    }

    /// Jumps to the next wake-up and handles it. Returns false when nothing is scheduled or
    /// the wake-up lies past `limit`.
    pub fn step(&mut self, limit: Millis) -> bool {
        let Some(at) = self.core.poll_timeout() else {
            return false;
        };
        let at = at.max(self.mono);
        if self.process_start + at > limit {
            return false;
        }
        self.mono = at;
        self.core.handle_timeout(self.now());
        self.drain();
        true
    }

    /// Reports results and steps until nothing is scheduled before `limit`.
    pub fn run(&mut self, limit: Millis, mut respond: impl FnMut(&Transmit) -> AttemptResult) {
        loop {
            self.answer_all(&mut respond);
            if !self.step(limit) {
                break;
            }
        }
        self.answer_all(&mut respond);
    }

    pub fn advance(&mut self, by: Millis) {
        self.mono = self.mono + by;
    }

    /// Drops the core and its undrained outputs and restores it from the records.
    pub fn restart(&mut self, downtime: Millis) {
        self.process_start = self.time() + downtime;
        self.mono = Millis::ZERO;
        self.pending.clear();
        self.core =
            Core::restore(self.config.clone(), None, self.records.clone(), self.now()).unwrap();
        self.drain();
    }

    pub fn sent_for(&self, delivery: DeliveryId) -> Vec<&Sent> {
        self.sent
            .iter()
            .filter(|s| s.transmit.delivery_id == delivery)
            .collect()
    }
}

/// Builds a valid event of `event_type` with a deterministic id derived from `n`.
pub fn sample_event(workspace: &str, n: u32, event_type: EventType) -> Event {
    let data = sample_data(event_type, n);
    Event::build(
        &event_id(n),
        event_type,
        "2026-05-11T08:14:22.184Z",
        workspace,
        data,
    )
    .unwrap()
}

pub fn event_id(n: u32) -> String {
    format!("evt_01HZ8PJYTM{n:016}")
}

pub fn sample_data(event_type: EventType, n: u32) -> serde_json::Value {
    let mut data = serde_json::Map::new();
    for key in event_type.data_keys() {
        data.insert((*key).to_owned(), json!(format!("{key}_{n}")));
    }
    serde_json::Value::Object(data)
}

pub fn status(code: u16) -> AttemptResult {
    AttemptResult::Response {
        status: code,
        retry_after: None,
        excerpt: String::new(),
    }
}

pub fn hours(h: u64) -> Millis {
    Millis::from_secs(h * 3600)
}
