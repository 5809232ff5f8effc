//! The server's QUIC endpoint: a thin sans-IO layer over [`quinn_proto::Endpoint`] that
//! turns datagrams into new [`ServerConn`]s, events for the connections it knows, or
//! answers of its own.
//!
//! One endpoint serves one UDP port, whatever number of sockets share it: connection
//! IDs, not sockets, tell the connections apart. Each connection is separate state (a
//! [`ServerConn`] owns its [`quinn_proto::Connection`]), so a driver can keep the
//! endpoint behind a lock shared by its sockets and move each connection to a task of
//! its own, routing by [`ConnectionHandle`]:
//!
//! - a datagram from any socket goes to [`Endpoint::handle_datagram`]; what comes back
//!   is a new connection to start, a [`ConnectionEvent`] for the connection with that
//!   handle ([`ServerConn::handle_event`]), or a datagram to send at once;
//! - what each connection's [`ServerConn::poll_endpoint_events`] gives comes back to
//!   [`Endpoint::handle_endpoint_event`], whose answer, if any, goes to that connection;
//!   a connection is forgotten here when it says it is drained, so every one of its
//!   endpoint events must come back, the last included.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use quinn_proto::crypto::rustls::QuicServerConfig;
use quinn_proto::{
    ConnectionEvent, ConnectionHandle, EcnCodepoint, EndpointConfig, EndpointEvent, Transmit,
};

use crate::config::{Config, ConfigError};
use crate::conn::ServerConn;

/// The ALPN protocol ID of HTTP/3 (RFC 9114 §3.1).
pub const ALPN: &[u8] = b"h3";

/// What a datagram given to [`Endpoint::handle_datagram`] brought.
#[derive(Debug)]
pub enum DatagramEvent {
    /// A client opened a connection: drive it from now on. Its handshake is under
    /// way: poll it for transmits at once.
    NewConnection(ConnectionHandle, Box<ServerConn>),
    /// The datagram belongs to the connection with this handle.
    ConnectionEvent(ConnectionHandle, ConnectionEvent),
    /// A datagram to send back, written into the caller's buffer: version
    /// negotiation, a stateless reset, a Retry, or the refusal of a connection.
    Response(Transmit),
}

/// The server side of a QUIC endpoint that speaks HTTP/3.
pub struct Endpoint {
    inner: quinn_proto::Endpoint,
    config: Arc<Config>,
    accepting: bool,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("connections", &self.inner.open_connections())
            .field("accepting", &self.accepting)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// An endpoint serving HTTP/3 with `tls` and the limits of `config`.
    ///
    /// `tls` is used as a copy whose ALPN list is `h3` alone (so the listener's TLS
    /// configuration for TCP, with `h2` and `http/1.1`, can be given as it is) and
    /// without 0-RTT (`max_early_data_size` 0: early requests could be replayed). It must
    /// enable TLS 1.3, which QUIC requires, and a crypto provider with
    /// TLS13_AES_128_GCM_SHA256 (for Initial packets): otherwise this is
    /// [`ConfigError::Tls`], here rather than at the first connection. TLS 1.2, if it is
    /// enabled too, is never negotiated over QUIC.
    pub fn new(tls: Arc<rustls::ServerConfig>, config: Config) -> Result<Self, ConfigError> {
        let transport = config.transport()?;
        let mut tls = (*tls).clone();
        tls.alpn_protocols = vec![ALPN.to_vec()];
        tls.max_early_data_size = 0;
        let tls = Arc::new(tls);
        // What quinn would otherwise find out (and panic on) at the first connection.
        rustls::quic::ServerConnection::new(tls.clone(), rustls::quic::Version::V1, Vec::new())
            .map_err(|e| ConfigError::Tls(e.to_string()))?;
        let crypto =
            QuicServerConfig::try_from(tls).map_err(|e| ConfigError::Tls(e.to_string()))?;
        let mut server = quinn_proto::ServerConfig::with_crypto(Arc::new(crypto));
        server.transport_config(transport);
        let inner = quinn_proto::Endpoint::new(
            Arc::new(EndpointConfig::default()),
            Some(Arc::new(server)),
            config.mtu_discovery,
            None,
        );
        Ok(Endpoint {
            inner,
            config: Arc::new(config),
            accepting: true,
        })
    }

    /// Processes a datagram received at `now` from `remote` (on `local_ip`, if the
    /// socket knows it, with the ECN bits it came with). `buf` is cleared, then holds
    /// the datagram of a [`DatagramEvent::Response`]. `None`: nothing to do (the
    /// datagram was dropped, or buffered for a connection still being accepted).
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local_ip: Option<IpAddr>,
        ecn: Option<EcnCodepoint>,
        data: BytesMut,
        buf: &mut Vec<u8>,
    ) -> Option<DatagramEvent> {
        self.handle_datagram_admitting(now, remote, local_ip, ecn, data, buf, || true)
    }

    /// [`handle_datagram`](Self::handle_datagram), asking `admit` before a new client
    /// is accepted: `false` refuses it (CONNECTION_REFUSED), as while not
    /// [accepting](Self::set_accepting). How a server applies a connection cap that
    /// counts other connections too (TCP), at the moment a connection would open.
    #[expect(clippy::too_many_arguments, reason = "handle_datagram's, and the hook")]
    pub fn handle_datagram_admitting(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local_ip: Option<IpAddr>,
        ecn: Option<EcnCodepoint>,
        data: BytesMut,
        buf: &mut Vec<u8>,
        admit: impl FnOnce() -> bool,
    ) -> Option<DatagramEvent> {
        buf.clear();
        match self.inner.handle(now, remote, local_ip, ecn, data, buf)? {
            quinn_proto::DatagramEvent::ConnectionEvent(ch, event) => {
                Some(DatagramEvent::ConnectionEvent(ch, event))
            }
            quinn_proto::DatagramEvent::Response(transmit) => {
                Some(DatagramEvent::Response(transmit))
            }
            quinn_proto::DatagramEvent::NewConnection(incoming) => {
                if !self.accepting || !admit() {
                    return Some(DatagramEvent::Response(self.inner.refuse(incoming, buf)));
                }
                if self.config.validate_addresses && !incoming.remote_address_validated() {
                    // An unvalidated address may always be sent a Retry.
                    return match self.inner.retry(incoming, buf) {
                        Ok(transmit) => Some(DatagramEvent::Response(transmit)),
                        Err(e) => {
                            self.inner.ignore(e.into_incoming());
                            None
                        }
                    };
                }
                match self.inner.accept(incoming, now, buf, None) {
                    Ok((ch, conn)) => Some(DatagramEvent::NewConnection(
                        ch,
                        Box::new(ServerConn::new(conn, self.config.clone(), now)),
                    )),
                    Err(e) => e.response.map(DatagramEvent::Response),
                }
            }
        }
    }

    /// Processes an event from the connection with handle `ch`
    /// ([`ServerConn::poll_endpoint_events`]); an answer goes back to that connection
    /// ([`ServerConn::handle_event`]).
    #[must_use = "an answer must go back to its connection"]
    pub fn handle_endpoint_event(
        &mut self,
        ch: ConnectionHandle,
        event: EndpointEvent,
    ) -> Option<ConnectionEvent> {
        self.inner.handle_event(ch, event)
    }

    /// Whether new connections are accepted. While not, each new client is refused at
    /// once (CONNECTION_REFUSED) and the connections already open go on: for a drain,
    /// or a listener at its connection cap.
    pub fn set_accepting(&mut self, accepting: bool) {
        self.accepting = accepting;
    }

    /// Connections this endpoint knows, until each is drained.
    pub fn open_connections(&self) -> usize {
        self.inner.open_connections()
    }

    /// The limits each connection gets.
    pub fn config(&self) -> &Config {
        &self.config
    }
}
