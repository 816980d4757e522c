//! Endpoints: where deliveries go, which events they take, and whether they are enabled.

use crate::filter::{Filter, FilterError};
use serde::{Deserialize, Serialize};
use std::fmt;

/// An endpoint's address: the workspace it belongs to and its id within that workspace.
///
/// Every lookup goes through both parts, so one workspace can never name another's endpoint.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EndpointRef {
    pub workspace_id: String,
    pub endpoint_id: String,
}

impl EndpointRef {
    /// Builds a reference from its two parts.
    pub fn new(workspace_id: impl Into<String>, endpoint_id: impl Into<String>) -> EndpointRef {
        EndpointRef {
            workspace_id: workspace_id.into(),
            endpoint_id: endpoint_id.into(),
        }
    }
}

impl fmt::Display for EndpointRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.workspace_id, self.endpoint_id)
    }
}

/// The settings an operator gives an endpoint.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointConfig {
    pub endpoint: EndpointRef,
    pub url: String,
    /// The signing secret, used whole as the HMAC key. Never printed by `Debug`.
    pub secret: String,
    /// Subscription patterns: exact types, `group.*` wildcards or `*`.
    pub filters: Vec<String>,
}

impl fmt::Debug for EndpointConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EndpointConfig")
            .field("endpoint", &self.endpoint)
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .field("filters", &self.filters)
            .finish()
    }
}

/// An error in an endpoint configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// The workspace or endpoint id is empty.
    #[error("endpoint {endpoint} has an empty workspace or endpoint id: set both")]
    EmptyId { endpoint: EndpointRef },
    /// The secret is empty.
    #[error(
        "endpoint {endpoint} has an empty secret: generate one (ags_ followed by 43 base64url characters)"
    )]
    EmptySecret { endpoint: EndpointRef },
    /// A filter pattern is invalid.
    #[error("endpoint {endpoint}: {source}")]
    Filter {
        endpoint: EndpointRef,
        source: FilterError,
    },
    /// The URL is not an absolute http or https URL.
    #[error(
        "endpoint {endpoint} has an invalid URL {url:?}: expected an absolute http:// or https:// URL"
    )]
    InvalidUrl { endpoint: EndpointRef, url: String },
}

impl EndpointConfig {
    /// Checks ids, secret, URL shape and filters, and returns the parsed filter.
    pub fn validate(&self) -> Result<Filter, EndpointError> {
        let endpoint = &self.endpoint;
        if endpoint.workspace_id.is_empty() || endpoint.endpoint_id.is_empty() {
            return Err(EndpointError::EmptyId {
                endpoint: endpoint.clone(),
            });
        }
        if self.secret.is_empty() {
            return Err(EndpointError::EmptySecret {
                endpoint: endpoint.clone(),
            });
        }

        let has_scheme = self.url.starts_with("http://") || self.url.starts_with("https://");
        let rest = self.url.split_once("://").map_or("", |(_, rest)| rest);
        if !has_scheme
            || rest.is_empty()
            || rest.starts_with('/')
            || rest.contains(char::is_whitespace)
        {
            return Err(EndpointError::InvalidUrl {
                endpoint: endpoint.clone(),
                url: self.url.clone(),
            });
        }

        Filter::parse(&self.filters).map_err(|source| EndpointError::Filter {
            endpoint: endpoint.clone(),
            source,
        })
    }
}

/// The reason an endpoint stopped receiving deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DisabledReason {
    /// An operator disabled it.
    Operator,
    /// It responded with 410 Gone.
    Gone,
    /// Deliveries to it exhausted their whole retry budget; see `Config::disable_after_failures`.
    Failing,
}

impl fmt::Display for DisabledReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DisabledReason::Operator => "disabled by an operator",
            DisabledReason::Gone => "answered 410 Gone",
            DisabledReason::Failing => "exhausted the retry budget",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str, filters: &[&str]) -> EndpointConfig {
        EndpointConfig {
            endpoint: EndpointRef::new("ws_a", "ep_1"),
            url: url.to_owned(),
            secret: "ags_secret".to_owned(),
            filters: filters.iter().map(|f| f.to_string()).collect(),
        }
    }

    #[test]
    fn validate_accepts_good_config() {
        assert!(
            config("https://hooks.example.com/aresgen", &["*"])
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn validate_rejects_bad_url() {
        for url in [
            "",
            "hooks.example.com",
            "ftp://x",
            "https://",
            "http:///path",
            "https://a b",
        ] {
            let error = config(url, &["*"]).validate().unwrap_err();
            assert!(matches!(error, EndpointError::InvalidUrl { .. }), "{url:?}");
        }
    }

    #[test]
    fn validate_rejects_bad_filter() {
        let error = config("https://x.example", &["chat.*", "nope"])
            .validate()
            .unwrap_err();
        assert!(error.to_string().contains("\"nope\""), "{error}");
    }

    #[test]
    fn debug_redacts_secret() {
        let text = format!("{:?}", config("https://x.example", &["*"]));
        assert!(!text.contains("ags_secret"), "{text}");
    }
}
