//! Replay commands: one event to one or all subscribed endpoints, or a time range of one
//! endpoint's deliveries.

use super::{Core, CoreError, ReplayTarget};
use crate::endpoint::EndpointRef;
use crate::log::DeliveryId;
use crate::record::Record;
use crate::state::DeliveryStatus;
use crate::time::{Now, UnixMillis};

impl Core {
    /// Queues an event again with the same body bytes, at the tail of each target's queue and
    /// with a fresh budget.
    pub fn replay_event(
        &mut self,
        now: Now,
        workspace_id: &str,
        event_id: &str,
        target: ReplayTarget,
    ) -> Result<Vec<DeliveryId>, CoreError> {
        let stamp = self.stamp(now);
        let key = (workspace_id.to_owned(), event_id.to_owned());
        let stored = self
            .state
            .events
            .get(&key)
            .ok_or_else(|| CoreError::UnknownEvent {
                workspace_id: workspace_id.to_owned(),
                event_id: event_id.to_owned(),
            })?;
        self.check_retention(stamp, event_id, stored.accepted.at)?;
        let event = &stored.event;

        let targets: Vec<EndpointRef> = match target {
            ReplayTarget::Endpoint(endpoint_id) => {
                let endpoint = EndpointRef::new(workspace_id, endpoint_id);
                self.known_endpoint(&endpoint)?;
                if !self.subscribes(&endpoint, event) {
                    return Err(CoreError::NotSubscribed {
                        endpoint,
                        event_type: event.event_type.to_string(),
                    });
                }
                vec![endpoint]
            }
            ReplayTarget::AllSubscribed => self
                .state
                .endpoints
                .keys()
                .filter(|endpoint| endpoint.workspace_id == workspace_id)
                .filter(|endpoint| self.subscribes(endpoint, event))
                .cloned()
                .collect(),
        };
        if targets.is_empty() {
            return Err(CoreError::NothingToReplay {
                reason: format!(
                    "no endpoint in workspace {workspace_id} subscribes to {}",
                    event.event_type
                ),
            });
        }

        let deliveries = self.allocate(targets);
        let ids = deliveries.iter().map(|(id, _)| *id).collect();
        self.record(Record::ReplayQueued {
            stamp,
            workspace_id: workspace_id.to_owned(),
            event_id: event_id.to_owned(),
            deliveries,
        });
        self.handle_timeout(now);
        Ok(ids)
    }

    /// Replays, to one endpoint, every event whose delivery to it was queued within
    /// `[from, to)` by the wall clock, in publish order, each once. With `failed_only`, only
    /// deliveries that ended failed count. Events past retention are skipped.
    pub fn replay_range(
        &mut self,
        now: Now,
        endpoint: &EndpointRef,
        from: UnixMillis,
        to: UnixMillis,
        failed_only: bool,
    ) -> Result<Vec<DeliveryId>, CoreError> {
        if to < from {
            return Err(CoreError::InvalidRange {
                from: from.0,
                to: to.0,
            });
        }
        self.known_endpoint(endpoint)?;
        let stamp = self.stamp(now);

        let mut event_ids: Vec<String> = Vec::new();
        for delivery in self.state.deliveries.values() {
            let in_range = delivery.queued.wall >= from && delivery.queued.wall < to;
            let selected = !failed_only || delivery.status == DeliveryStatus::Failed;
            if &delivery.endpoint != endpoint || delivery.replay || !in_range || !selected {
                continue;
            }
            let key = (endpoint.workspace_id.clone(), delivery.event_id.clone());
            // An event whose type the endpoint no longer subscribes to is skipped, as is one
            // past retention.
            let replayable = self.state.events.get(&key).is_some_and(|stored| {
                self.subscribes(endpoint, &stored.event)
                    && self
                        .check_retention(stamp, &delivery.event_id, stored.accepted.at)
                        .is_ok()
            });
            if replayable && !event_ids.contains(&delivery.event_id) {
                event_ids.push(delivery.event_id.clone());
            }
        }
        if event_ids.is_empty() {
            return Err(CoreError::NothingToReplay {
                reason: format!(
                    "no {}delivery to {endpoint} was queued in the range",
                    if failed_only { "failed " } else { "" }
                ),
            });
        }

        let mut ids = Vec::new();
        for event_id in event_ids {
            let deliveries = self.allocate(vec![endpoint.clone()]);
            ids.extend(deliveries.iter().map(|(id, _)| *id));
            self.record(Record::ReplayQueued {
                stamp,
                workspace_id: endpoint.workspace_id.clone(),
                event_id,
                deliveries,
            });
        }
        self.handle_timeout(now);
        Ok(ids)
    }
}
