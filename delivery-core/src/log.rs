//! The delivery log: every attempt and every final outcome, kept for the retention period.

use crate::endpoint::EndpointRef;
use crate::outcome::TransportError;
use crate::time::{Millis, UnixMillis};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Sequence number of a delivery, unique within one core and its restored successors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeliveryId(pub u64);

impl std::fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "dlv_{}", self.0)
    }
}

/// The logged end of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttemptOutcome {
    /// The receiver responded with this status code.
    Status(u16),
    /// No status arrived.
    Error(TransportError),
}

/// One logged attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptEntry {
    pub delivery_id: DeliveryId,
    pub endpoint: EndpointRef,
    pub event_id: String,
    /// Attempt number within the delivery's current budget, from 1.
    pub attempt: u32,
    /// When the attempt was sent, on the core's monotonic timeline.
    pub sent_at: Millis,
    /// When the attempt was sent, by the sender's wall clock (the signed timestamp's source).
    pub sent_wall: UnixMillis,
    pub duration: Millis,
    pub outcome: AttemptOutcome,
    /// The start of the response body, at most 512 bytes.
    pub excerpt: String,
}

/// The final outcome of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FinalOutcome {
    /// A 2xx arrived.
    Delivered,
    /// The retry budget ran out without a 2xx.
    Failed,
}

/// One logged final outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalEntry {
    pub delivery_id: DeliveryId,
    pub endpoint: EndpointRef,
    pub event_id: String,
    pub outcome: FinalOutcome,
    /// Attempts made in the final budget.
    pub attempts: u32,
    pub at: Millis,
    pub wall: UnixMillis,
}

/// Attempts and final outcomes in the order they happened.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryLog {
    attempts: VecDeque<AttemptEntry>,
    finals: VecDeque<FinalEntry>,
}

impl DeliveryLog {
    pub(crate) fn push_attempt(&mut self, entry: AttemptEntry) {
        self.attempts.push_back(entry);
    }

    pub(crate) fn push_final(&mut self, entry: FinalEntry) {
        self.finals.push_back(entry);
    }

    /// Drops every entry recorded before `before` and returns how many were dropped.
    pub(crate) fn prune(&mut self, before: Millis) -> usize {
        let mut dropped = 0;
        while self.attempts.front().is_some_and(|e| e.sent_at < before) {
            self.attempts.pop_front();
            dropped += 1;
        }
        while self.finals.front().is_some_and(|e| e.at < before) {
            self.finals.pop_front();
            dropped += 1;
        }
        dropped
    }

    /// Returns every retained attempt, oldest first.
    pub fn attempts(&self) -> impl Iterator<Item = &AttemptEntry> {
        self.attempts.iter()
    }

    /// Returns every retained final outcome, oldest first.
    pub fn finals(&self) -> impl Iterator<Item = &FinalEntry> {
        self.finals.iter()
    }

    /// Returns the retained attempts of one workspace's endpoint, oldest first.
    pub fn attempts_for<'a>(
        &'a self,
        endpoint: &'a EndpointRef,
    ) -> impl Iterator<Item = &'a AttemptEntry> + 'a {
        self.attempts
            .iter()
            .filter(move |e| &e.endpoint == endpoint)
    }

    /// Returns the retained attempts of one delivery, oldest first.
    pub fn attempts_of(&self, delivery_id: DeliveryId) -> impl Iterator<Item = &AttemptEntry> {
        self.attempts
            .iter()
            .filter(move |e| e.delivery_id == delivery_id)
    }
}

impl DeliveryLog {
    /// Returns whether the log contains no entry.
    pub fn is_empty(&self) -> bool {
        self.attempts.is_empty() && self.finals.is_empty()
    }
}
