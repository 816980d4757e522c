//! Mapping of I/O and HTTP client errors to the core's [`TransportError`] kinds.

use delivery_core::TransportError;
use std::error::Error as StdError;
use std::io;

/// Classifies an I/O error kind from connecting, writing the request or reading the response.
///
/// A refused connection is `Refused`. A reset, aborted or closed connection, a broken pipe and
/// an early end of stream are `Reset`. An operating-system time-out is `Timeout`. Everything
/// else, unreachable networks included, is `Other`.
pub fn classify_io_kind(kind: io::ErrorKind) -> TransportError {
    match kind {
        io::ErrorKind::ConnectionRefused => TransportError::Refused,
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::NotConnected
        | io::ErrorKind::UnexpectedEof => TransportError::Reset,
        io::ErrorKind::TimedOut => TransportError::Timeout,
        _ => TransportError::Other,
    }
}

/// Classifies an error from hyper's HTTP/1.1 client connection.
///
/// An I/O error anywhere in the source chain decides the kind through [`classify_io_kind`].
/// Without one, a connection that closed before a complete response (hyper's incomplete
/// message, closed or canceled errors) is `Reset`, and anything else, such as a response that
/// does not parse as HTTP, is `Other`.
pub fn classify_hyper_error(error: &hyper::Error) -> TransportError {
    if let Some(io_error) = find_io_error(error) {
        return classify_io_kind(io_error.kind());
    }

    if error.is_incomplete_message()
        || error.is_closed()
        || error.is_canceled()
        || error.is_body_write_aborted()
    {
        TransportError::Reset
    } else if error.is_timeout() {
        TransportError::Timeout
    } else {
        TransportError::Other
    }
}

/// Returns the first `io::Error` in the source chain of `error`, the error itself excluded.
fn find_io_error(error: &hyper::Error) -> Option<&io::Error> {
    let mut source = error.source();
    while let Some(current) = source {
        if let Some(io_error) = current.downcast_ref::<io::Error>() {
            return Some(io_error);
        }
        source = current.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body_util::Empty;
    use hyper_util::rt::TokioIo;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    #[test]
    fn io_kinds_map_to_transport_errors() {
        let cases = [
            (io::ErrorKind::ConnectionRefused, TransportError::Refused),
            (io::ErrorKind::ConnectionReset, TransportError::Reset),
            (io::ErrorKind::ConnectionAborted, TransportError::Reset),
            (io::ErrorKind::BrokenPipe, TransportError::Reset),
            (io::ErrorKind::NotConnected, TransportError::Reset),
            (io::ErrorKind::UnexpectedEof, TransportError::Reset),
            (io::ErrorKind::TimedOut, TransportError::Timeout),
            (io::ErrorKind::HostUnreachable, TransportError::Other),
            (io::ErrorKind::PermissionDenied, TransportError::Other),
            (io::ErrorKind::InvalidData, TransportError::Other),
        ];
        for (kind, expected) in cases {
            assert_eq!(classify_io_kind(kind), expected, "{kind:?}");
        }
    }

    /// Sends one request over an in-memory pipe whose far end `server` handles, and returns
    /// hyper's error.
    async fn client_error_with<F, Fut>(server: F) -> hyper::Error
    where
        F: FnOnce(DuplexStream) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (client_io, server_io) = tokio::io::duplex(4096);
        let server_task = tokio::spawn(server(server_io));

        let (mut sender, connection) =
            hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(client_io))
                .await
                .expect("the handshake does no I/O");
        let connection_task = tokio::spawn(connection);

        let request = http::Request::post("/").body(Empty::new()).unwrap();
        let error = sender
            .send_request(request)
            .await
            .expect_err("the server never sends a valid response");

        server_task.await.unwrap();
        connection_task.abort();
        error
    }

    #[tokio::test]
    async fn hyper_close_before_status_is_reset() {
        let error = client_error_with(|mut server| async move {
            let mut buffer = [0u8; 1024];
            let _ = server.read(&mut buffer).await;
            drop(server);
        })
        .await;
        assert_eq!(
            classify_hyper_error(&error),
            TransportError::Reset,
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn hyper_close_mid_status_line_is_reset() {
        let error = client_error_with(|mut server| async move {
            let mut buffer = [0u8; 1024];
            let _ = server.read(&mut buffer).await;
            let _ = server.write_all(b"HTTP/1.1 20").await;
            drop(server);
        })
        .await;
        assert_eq!(
            classify_hyper_error(&error),
            TransportError::Reset,
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn hyper_garbage_response_is_other() {
        let error = client_error_with(|mut server| async move {
            let mut buffer = [0u8; 1024];
            let _ = server.read(&mut buffer).await;
            let _ = server.write_all(b"SSH-2.0-OpenSSH_9.6\r\n\r\n").await;
            let _ = server.shutdown().await;
        })
        .await;
        assert_eq!(
            classify_hyper_error(&error),
            TransportError::Other,
            "{error:?}"
        );
    }
}
