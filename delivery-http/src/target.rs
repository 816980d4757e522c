//! The endpoint URL of a request, split into what the connector and the request line need.

use http::uri::{Scheme, Uri};

/// The destination of one request: the host and port to connect to, and the request target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Whether the URL uses `https`.
    pub tls: bool,
    /// The host name or IP address, without the brackets of an IPv6 literal.
    pub host: String,
    /// The port from the URL, or 80 for `http` and 443 for `https`.
    pub port: u16,
    /// The value of the `Host` header: the URL's host, with its port unless that is the default.
    pub host_header: String,
    /// The origin-form request target: the path and query, at least `/`.
    pub path_and_query: String,
}

/// An error that makes an endpoint URL unusable for a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The URL does not parse as an absolute URI.
    #[error("invalid endpoint URL {url:?}: {reason}")]
    Invalid { url: String, reason: String },
    /// The scheme is neither `http` nor `https`.
    #[error("unsupported scheme in endpoint URL {url:?}: use http or https")]
    UnsupportedScheme { url: String },
    /// The URL has no host.
    #[error("endpoint URL {url:?} has no host")]
    MissingHost { url: String },
    /// The URL carries a user name or password, which is never sent.
    #[error("endpoint URL {url:?} contains credentials: remove the user:password@ part")]
    Credentials { url: String },
}

impl Target {
    /// Parses an absolute `http` or `https` URL.
    pub fn parse(url: &str) -> Result<Target, TargetError> {
        let uri: Uri =
            url.parse()
                .map_err(|error: http::uri::InvalidUri| TargetError::Invalid {
                    url: url.to_owned(),
                    reason: error.to_string(),
                })?;

        let tls = match uri.scheme() {
            Some(scheme) if *scheme == Scheme::HTTP => false,
            Some(scheme) if *scheme == Scheme::HTTPS => true,
            _ => {
                return Err(TargetError::UnsupportedScheme {
                    url: url.to_owned(),
                });
            }
        };

        let Some(authority) = uri.authority() else {
            return Err(TargetError::MissingHost {
                url: url.to_owned(),
            });
        };
        if authority.as_str().contains('@') {
            return Err(TargetError::Credentials {
                url: url.to_owned(),
            });
        }

        let bracketed_host = authority.host();
        if bracketed_host.is_empty() {
            return Err(TargetError::MissingHost {
                url: url.to_owned(),
            });
        }
        let host = bracketed_host
            .strip_prefix('[')
            .and_then(|inner| inner.strip_suffix(']'))
            .unwrap_or(bracketed_host);

        let default_port = if tls { 443 } else { 80 };
        let port = authority.port_u16().unwrap_or(default_port);
        let host_header = if port == default_port {
            bracketed_host.to_owned()
        } else {
            format!("{bracketed_host}:{port}")
        };

        let path_and_query = uri
            .path_and_query()
            .map(|path| path.as_str())
            .filter(|path| !path.is_empty())
            .unwrap_or("/")
            .to_owned();

        Ok(Target {
            tls,
            host: host.to_owned(),
            port,
            host_header,
            path_and_query,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_http_with_port_and_query() {
        let target = Target::parse("http://receiver:8080/hooks/in?source=aresgen").unwrap();
        assert!(!target.tls);
        assert_eq!(target.host, "receiver");
        assert_eq!(target.port, 8080);
        assert_eq!(target.host_header, "receiver:8080");
        assert_eq!(target.path_and_query, "/hooks/in?source=aresgen");
    }

    #[test]
    fn parse_default_ports_omitted_from_host_header() {
        let http = Target::parse("http://example.test/hook").unwrap();
        assert_eq!(http.port, 80);
        assert_eq!(http.host_header, "example.test");

        let https = Target::parse("https://example.test").unwrap();
        assert!(https.tls);
        assert_eq!(https.port, 443);
        assert_eq!(https.host_header, "example.test");
        assert_eq!(https.path_and_query, "/");
    }

    #[test]
    fn parse_ipv6_literal_strips_brackets() {
        let target = Target::parse("http://[::1]:9000/").unwrap();
        assert_eq!(target.host, "::1");
        assert_eq!(target.port, 9000);
        assert_eq!(target.host_header, "[::1]:9000");
    }

    #[test]
    fn parse_rejects_bad_urls() {
        assert!(matches!(
            Target::parse("ftp://example.test/"),
            Err(TargetError::UnsupportedScheme { .. })
        ));
        assert!(matches!(
            Target::parse("/relative/path"),
            Err(TargetError::UnsupportedScheme { .. })
        ));
        assert!(matches!(
            Target::parse("http://user:secret@example.test/"),
            Err(TargetError::Credentials { .. })
        ));
        assert!(matches!(
            Target::parse("http://exa mple.test/"),
            Err(TargetError::Invalid { .. })
        ));
    }
}
