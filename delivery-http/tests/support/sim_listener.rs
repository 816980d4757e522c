//! An adapter that lets `axum::serve` accept connections from turmoil's listener, shared by the
//! test targets that run axum receivers on simulated hosts.

use std::net::SocketAddr;
use std::time::Duration;
use turmoil::net::{TcpListener, TcpStream};

/// Turmoil's listener, with the pause before accepting again after a failed accept.
pub struct SimListener {
    pub listener: TcpListener,
    pub retry_after: Duration,
}

impl axum::serve::Listener for SimListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            match self.listener.accept().await {
                Ok(accepted) => return accepted,
                Err(error) => {
                    eprintln!("simulated accept failed: {error}");
                    tokio::time::sleep(self.retry_after).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}
