//! Listening sockets.

use axum::serve::{Listener, ListenerExt as _};
use std::net::SocketAddr;
use tokio::net::{TcpListener, TcpStream};

/// Accepted connections with Nagle's algorithm off. A response goes out as several small
/// writes (HTTP/2 headers, data, trailers); with Nagle on, the last can wait for the
/// peer's delayed ACK, ~40 ms on Linux, on every call (BENCHMARKS.md, "Ingest").
/// `axum::serve` and tonic's `serve_with_incoming` leave the accepted socket as it is.
pub fn without_nagle(listener: TcpListener) -> impl Listener<Io = TcpStream, Addr = SocketAddr> {
    listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "could not set TCP_NODELAY on an accepted connection");
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepted_connections_have_nagle_off() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut listener = without_nagle(listener);
        let _client = TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = listener.accept().await;
        assert!(accepted.nodelay().unwrap());
    }
}
