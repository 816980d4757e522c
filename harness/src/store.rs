//! The sender's durable store: every record the sender drained and persisted, folded into a
//! snapshot every so often, as a real store would compact its journal.

use delivery_core::{Record, State};

/// Persisted records: an optional snapshot and the records written after it.
#[derive(Debug, Clone, Default)]
pub struct Store {
    snapshot: Option<State>,
    tail: Vec<Record>,
    /// Fold the tail into the snapshot once it holds this many records; zero never folds.
    snapshot_every: u32,
    /// Records persisted over the whole run.
    pub persisted: u64,
}

impl Store {
    /// Creates an empty store.
    pub fn new(snapshot_every: u32) -> Store {
        Store {
            snapshot_every,
            ..Store::default()
        }
    }

    /// Persists one record.
    pub fn persist(&mut self, record: Record) {
        self.tail.push(record);
        self.persisted += 1;
        if self.snapshot_every > 0 && self.tail.len() >= self.snapshot_every as usize {
            let mut state = self.snapshot.take().unwrap_or_default();
            for record in self.tail.drain(..) {
                state.apply(&record);
            }
            self.snapshot = Some(state);
        }
    }

    /// Returns what a restarting sender reads: the snapshot, if any, and the records after it.
    pub fn load(&self) -> (Option<State>, Vec<Record>) {
        (self.snapshot.clone(), self.tail.clone())
    }
}
