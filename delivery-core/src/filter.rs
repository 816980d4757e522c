//! Endpoint subscription patterns: an exact type, a group wildcard such as `chatbot.*`, or `*`.

use crate::event::EventType;
use std::fmt;

/// One validated subscription pattern.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Pattern {
    /// `*`: every event type.
    All,
    /// `group.*`: every type whose name starts with `group.`.
    Group(String),
    /// One exact type.
    Exact(EventType),
}

/// An error in a subscription pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The pattern matches none of the known event types.
    #[error(
        "filter pattern {pattern:?} matches no event type: use `*`, a group such as `chatbot.*`, or one of {}",
        EventType::catalogue()
    )]
    MatchesNothing { pattern: String },
    /// The endpoint has no patterns at all.
    #[error("an endpoint needs at least one filter pattern, e.g. `*` for every event type")]
    Empty,
}

impl Pattern {
    /// Parses a pattern and rejects one that matches no known type.
    pub fn parse(text: &str) -> Result<Pattern, FilterError> {
        let rejected = || FilterError::MatchesNothing {
            pattern: text.to_owned(),
        };

        if text == "*" {
            return Ok(Pattern::All);
        }
        if let Some(group) = text.strip_suffix(".*") {
            // An empty group or one with a `*` of its own matches no type, so it is rejected
            // below like any other group that matches nothing.
            let pattern = Pattern::Group(format!("{group}."));
            if !EventType::ALL.iter().any(|t| pattern.matches(*t)) {
                return Err(rejected());
            }
            return Ok(pattern);
        }
        EventType::parse(text)
            .map(Pattern::Exact)
            .ok_or_else(rejected)
    }

    /// Returns whether this pattern selects `event_type`.
    pub fn matches(&self, event_type: EventType) -> bool {
        match self {
            Pattern::All => true,
            Pattern::Group(prefix) => event_type.as_str().starts_with(prefix.as_str()),
            Pattern::Exact(exact) => *exact == event_type,
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::All => f.write_str("*"),
            Pattern::Group(prefix) => write!(f, "{prefix}*"),
            Pattern::Exact(exact) => f.write_str(exact.as_str()),
        }
    }
}

/// The set of patterns an endpoint subscribes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    patterns: Vec<Pattern>,
}

impl Filter {
    /// Parses every pattern, failing on the first invalid one or on an empty list.
    pub fn parse<S: AsRef<str>>(patterns: &[S]) -> Result<Filter, FilterError> {
        if patterns.is_empty() {
            return Err(FilterError::Empty);
        }
        let patterns = patterns
            .iter()
            .map(|p| Pattern::parse(p.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Filter { patterns })
    }

    /// Returns whether any pattern selects `event_type`.
    pub fn matches(&self, event_type: EventType) -> bool {
        self.patterns.iter().any(|p| p.matches(event_type))
    }

    /// Returns the patterns in their wire form.
    pub fn to_strings(&self) -> Vec<String> {
        self.patterns.iter().map(Pattern::to_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_matches_only_itself() {
        let filter = Filter::parse(&["chat.message.created"]).unwrap();
        assert!(filter.matches(EventType::ChatMessageCreated));
        assert!(!filter.matches(EventType::ChatbotCsatReceived));
    }

    #[test]
    fn group_wildcard_matches_group() {
        let filter = Filter::parse(&["chatbot.*"]).unwrap();
        let matched: Vec<_> = EventType::ALL
            .into_iter()
            .filter(|t| filter.matches(*t))
            .collect();
        assert_eq!(
            matched,
            vec![
                EventType::ChatbotConversationEscalated,
                EventType::ChatbotCsatReceived
            ]
        );
    }

    #[test]
    fn group_wildcard_needs_whole_segment() {
        // `chat.*` must not select `chatbot.*` types.
        let filter = Filter::parse(&["chat.*"]).unwrap();
        assert!(filter.matches(EventType::ChatMessageCreated));
        assert!(!filter.matches(EventType::ChatbotCsatReceived));
    }

    #[test]
    fn star_matches_everything() {
        let filter = Filter::parse(&["*"]).unwrap();
        assert!(EventType::ALL.iter().all(|t| filter.matches(*t)));
    }

    #[test]
    fn invalid_patterns_list_valid_types() {
        for bad in [
            "chat",
            "chats.*",
            "*.created",
            "",
            ".*",
            "chat*",
            "workflow.run.*.*",
        ] {
            let error = Filter::parse(&[bad]).unwrap_err();
            let message = error.to_string();
            assert!(
                message.contains("workspace.member.added"),
                "{bad:?}: {message}"
            );
        }
    }

    #[test]
    fn patterns_print_in_wire_form() {
        let patterns = ["*", "chatbot.*", "voice.trained"];
        let filter = Filter::parse(&patterns).unwrap();
        assert_eq!(filter.to_strings(), patterns);
    }

    #[test]
    fn empty_filter_rejected() {
        let empty: [&str; 0] = [];
        assert_eq!(Filter::parse(&empty), Err(FilterError::Empty));
    }

    #[test]
    fn multi_level_group_matches() {
        let filter = Filter::parse(&["workflow.run.*"]).unwrap();
        assert!(filter.matches(EventType::WorkflowRunApprovalRequired));
        assert!(!filter.matches(EventType::WorkspaceMemberAdded));
    }
}
