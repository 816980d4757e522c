//! Deliberately broken behaviours, compiled only with the `planted-bugs` feature, that prove
//! the simulation's checkers catch real mistakes.

use super::Core;
use crate::endpoint::EndpointRef;
use crate::event::Event;
use crate::log::DeliveryId;
use crate::record::{NextStep, Stamp};
use crate::schedule::RetryPolicy;
use crate::time::{Millis, UnixMillis};

/// Deliberately broken behaviours that the simulation's checkers must catch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PlantedBug {
    /// Signs every attempt with the event's `created` time instead of the send time.
    SignWithCreatedTime,
    /// Moves a head that failed to the back of its queue, so the next delivery overtakes it.
    OvertakeRetryingHead,
    /// Starts the 72-hour budget when the event was published, not at the first attempt.
    BudgetFromPublish,
    /// Records a delivery as failed after the first 4xx, without using its budget.
    DropOn4xx,
    /// Makes a 25th attempt.
    ExtraAttempt,
}

impl Core {
    pub(super) fn signature_time(&self, stamp: Stamp, event: &Event) -> UnixMillis {
        if self.config.planted_bug == Some(PlantedBug::SignWithCreatedTime) {
            return event.created_unix_millis();
        }
        stamp.wall
    }

    pub(super) fn next_retry(
        &self,
        first_attempt_at: Millis,
        attempt: u32,
        failed_at: Millis,
        retry_after: Option<Millis>,
        status: Option<u16>,
    ) -> Option<Millis> {
        let bug = self.config.planted_bug;
        if bug == Some(PlantedBug::DropOn4xx) && status.is_some_and(|s| (400..500).contains(&s)) {
            return None;
        }
        self.retry_policy()
            .next_attempt_at(first_attempt_at, attempt, failed_at, retry_after)
    }

    /// Returns the configured policy, stretched by one attempt and 6 h for `ExtraAttempt`.
    pub(super) fn retry_policy(&self) -> RetryPolicy {
        let mut policy = self.config.retry;
        if self.config.planted_bug == Some(PlantedBug::ExtraAttempt) {
            policy.max_attempts += 1;
            policy.budget = policy.budget.saturating_add(policy.max_backoff);
        }
        policy
    }

    pub(super) fn plant_overtake(
        &mut self,
        endpoint: &EndpointRef,
        delivery_id: DeliveryId,
        next: NextStep,
    ) {
        if self.config.planted_bug != Some(PlantedBug::OvertakeRetryingHead) {
            return;
        }
        let NextStep::RetryAt(_) = next else {
            return;
        };
        let queue = self.state.queues.get_mut(endpoint).expect("queue exists");
        if queue.len() > 1 && queue.front() == Some(&delivery_id) {
            queue.rotate_left(1);
            let head = *queue.front().expect("queue is not empty");
            let at = self.state.last_stamp.at;
            let delivery = self.state.delivery_mut(head);
            if delivery.next_attempt_at.is_none() {
                delivery.next_attempt_at = Some(at);
            }
        }
    }
}
