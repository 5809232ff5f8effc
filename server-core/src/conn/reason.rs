//! Why a connection ended: the `reason` field of `listener.conn_close`, so an operator
//! can count timeouts, resets and protocol errors apart.

use std::io;

use super::clock::Expired;

/// How a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reason {
    /// HTTP ended it: the peer closed between requests, or a response closed it
    /// (`connection: close`, `max_keep_alive_requests`).
    Done,
    /// The peer reset the connection or closed it under an unfinished exchange.
    PeerReset,
    /// Any other socket error.
    SocketError,
    /// A request head or body did not arrive within `request_timeout` (a TLS
    /// handshake included).
    RequestTimeout,
    /// No next request within `keep_alive_timeout`.
    KeepAliveTimeout,
    /// The client sent slower than `min_bytes_per_second`.
    SlowClient,
    /// The peer did not take the response within `send_timeout`.
    SendTimeout,
    /// The TLS handshake or a record failed.
    TlsError,
    /// The request broke the protocol; it was answered with a 4xx and closed.
    ProtocolError,
    /// The response stream failed after the response had started.
    ResponseAborted,
    /// A drain notice found it idle, or drain ended it at its deadline.
    Drain,
    /// It switched protocols (`101`): the upgraded session ended, or there was none.
    Upgraded,
}

impl From<Expired> for Reason {
    fn from(e: Expired) -> Self {
        match e {
            Expired::Request => Reason::RequestTimeout,
            Expired::KeepAlive => Reason::KeepAliveTimeout,
            Expired::TooSlow => Reason::SlowClient,
        }
    }
}

impl Reason {
    /// The value of the `reason` field.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Reason::Done => "done",
            Reason::PeerReset => "peer_reset",
            Reason::SocketError => "socket_error",
            Reason::RequestTimeout => "request_timeout",
            Reason::KeepAliveTimeout => "keep_alive_timeout",
            Reason::SlowClient => "slow_client",
            Reason::SendTimeout => "send_timeout",
            Reason::TlsError => "tls_error",
            Reason::ProtocolError => "protocol_error",
            Reason::ResponseAborted => "response_aborted",
            Reason::Drain => "drain",
            Reason::Upgraded => "upgraded",
        }
    }

    /// The reason a failed socket operation ends a connection with.
    pub(crate) fn of_io(e: &io::Error) -> Reason {
        if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) {
            return Reason::TlsError;
        }
        match e.kind() {
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof => Reason::PeerReset,
            _ => Reason::SocketError,
        }
    }
}
