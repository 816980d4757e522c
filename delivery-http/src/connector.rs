//! Opening the byte stream that carries one attempt.

use crate::classify::classify_io_kind;
use crate::target::Target;
use delivery_core::TransportError;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};

/// Opens a connection to a request's target.
///
/// Implementations exist for tokio's TCP ([`TcpConnector`]) and, with the `turmoil` feature,
/// for turmoil's simulated TCP. A connector is shared by concurrent attempts, so it takes
/// `&self`.
pub trait Connector: Send + Sync {
    /// The byte stream of one connection.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send;

    /// Resolves the target's host and connects to its port.
    ///
    /// The caller bounds the call with the attempt timeout, so an implementation need not.
    fn connect(
        &self,
        target: &Target,
    ) -> impl Future<Output = Result<Self::Stream, ConnectError>> + Send;
}

/// An error that kept a connection from opening.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The host name did not resolve to any address.
    #[error("failed to resolve {host:?}: {source}")]
    Dns { host: String, source: io::Error },
    /// The host resolved, but the address filter rejected every address.
    #[error("every address of {host:?} is blocked by the address filter: {addresses:?}")]
    Blocked {
        host: String,
        addresses: Vec<IpAddr>,
    },
    /// The scheme needs a transport the connector does not provide.
    #[error("the connector does not support {scheme} URLs")]
    UnsupportedScheme { scheme: &'static str },
    /// Connecting to a resolved address failed.
    #[error("failed to connect to {host:?}: {source}")]
    Io { host: String, source: io::Error },
}

impl ConnectError {
    /// Returns the kind the core records for this failure.
    ///
    /// A blocked address and an unsupported scheme are `Other`, because the core has no kind
    /// for a request the sender chose not to make.
    pub fn transport_error(&self) -> TransportError {
        match self {
            ConnectError::Dns { .. } => TransportError::Dns,
            ConnectError::Blocked { .. } | ConnectError::UnsupportedScheme { .. } => {
                TransportError::Other
            }
            ConnectError::Io { source, .. } => classify_io_kind(source.kind()),
        }
    }
}

/// The hook that decides which resolved addresses a connector may connect to.
type AddressFilter = Arc<dyn Fn(IpAddr) -> bool + Send + Sync>;

/// Connects over tokio's TCP after resolving the host with the system resolver.
///
/// Every resolved address passes through an address filter before any connection is made.
/// The production sender must install one that rejects loopback, private and link-local
/// ranges, because endpoint URLs come from users and a webhook sender is otherwise an SSRF
/// vector. [`TcpConnector::allow_all`] exists for tests and local development.
#[derive(Clone)]
pub struct TcpConnector {
    address_filter: AddressFilter,
}

impl fmt::Debug for TcpConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpConnector").finish_non_exhaustive()
    }
}

impl TcpConnector {
    /// Builds the production connector: it refuses every resolved address that
    /// `delivery_core::address::is_forbidden_address` rejects (loopback, private, link-local and
    /// reserved ranges), so a public name that resolves inward is blocked too.
    pub fn public_only() -> TcpConnector {
        TcpConnector::with_address_filter(|address| {
            !delivery_core::address::is_forbidden_address(address)
        })
    }

    /// Builds a connector that connects to any resolved address, loopback and private ranges
    /// included. Meant for tests and local development only.
    pub fn allow_all() -> TcpConnector {
        TcpConnector::with_address_filter(|_| true)
    }

    /// Builds a connector that connects only to addresses for which `filter` returns `true`.
    pub fn with_address_filter(
        filter: impl Fn(IpAddr) -> bool + Send + Sync + 'static,
    ) -> TcpConnector {
        TcpConnector {
            address_filter: Arc::new(filter),
        }
    }

    /// Resolves `target` and keeps the addresses the filter allows, in resolver order.
    async fn allowed_addresses(&self, target: &Target) -> Result<Vec<SocketAddr>, ConnectError> {
        let resolved: Vec<SocketAddr> =
            tokio::net::lookup_host((target.host.as_str(), target.port))
                .await
                .map_err(|source| ConnectError::Dns {
                    host: target.host.clone(),
                    source,
                })?
                .collect();
        if resolved.is_empty() {
            return Err(ConnectError::Dns {
                host: target.host.clone(),
                source: io::Error::new(io::ErrorKind::NotFound, "the resolver returned no address"),
            });
        }

        let allowed: Vec<SocketAddr> = resolved
            .iter()
            .copied()
            .filter(|address| (self.address_filter)(address.ip()))
            .collect();
        if allowed.is_empty() {
            return Err(ConnectError::Blocked {
                host: target.host.clone(),
                addresses: resolved.iter().map(SocketAddr::ip).collect(),
            });
        }
        Ok(allowed)
    }
}

impl Connector for TcpConnector {
    type Stream = tokio::net::TcpStream;

    /// Tries each allowed address in turn and returns the first connection, or the last error.
    async fn connect(&self, target: &Target) -> Result<tokio::net::TcpStream, ConnectError> {
        // TODO: TLS for https endpoints; until then only plain http is sent.
        if target.tls {
            return Err(ConnectError::UnsupportedScheme { scheme: "https" });
        }

        let addresses = self.allowed_addresses(target).await?;

        let mut last_error = None;
        for address in addresses {
            match tokio::net::TcpStream::connect(address).await {
                Ok(stream) => {
                    // Requests are written in one go, so Nagle's algorithm only adds delay.
                    let _ = stream.set_nodelay(true);
                    return Ok(stream);
                }
                Err(source) => last_error = Some(source),
            }
        }
        Err(ConnectError::Io {
            host: target.host.clone(),
            source: last_error.expect("allowed_addresses returns at least one address"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_errors_map_to_transport_errors() {
        let dns = ConnectError::Dns {
            host: "missing.test".to_owned(),
            source: io::Error::new(io::ErrorKind::NotFound, "no such host"),
        };
        assert_eq!(dns.transport_error(), TransportError::Dns);

        let blocked = ConnectError::Blocked {
            host: "localhost".to_owned(),
            addresses: vec![IpAddr::from([127, 0, 0, 1])],
        };
        assert_eq!(blocked.transport_error(), TransportError::Other);

        let refused = ConnectError::Io {
            host: "receiver".to_owned(),
            source: io::ErrorKind::ConnectionRefused.into(),
        };
        assert_eq!(refused.transport_error(), TransportError::Refused);
    }

    #[tokio::test]
    async fn address_filter_blocks_loopback() {
        let connector = TcpConnector::with_address_filter(|address| !address.is_loopback());
        let target = Target::parse("http://127.0.0.1:9/").unwrap();

        let error = connector.connect(&target).await.unwrap_err();
        assert!(
            matches!(&error, ConnectError::Blocked { addresses, .. } if addresses == &[IpAddr::from([127, 0, 0, 1])]),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn https_is_unsupported() {
        let target = Target::parse("https://127.0.0.1:9/").unwrap();
        let error = TcpConnector::allow_all()
            .connect(&target)
            .await
            .unwrap_err();
        assert!(
            matches!(error, ConnectError::UnsupportedScheme { .. }),
            "{error:?}"
        );
    }
}
