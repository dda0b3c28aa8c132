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
