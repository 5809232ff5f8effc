//! The server side of one HTTP/3 connection over a [`quinn_proto::Connection`] it owns.
//!
//! Inputs: [`ServerConn::handle_event`] (what the [`Endpoint`](crate::Endpoint) routed
//! to this connection, or answered to one of its endpoint events),
//! [`ServerConn::handle_timeout`]. Outputs: [`ServerConn::poll_event`] (requests,
//! bodies, resets, the end), [`ServerConn::poll_transmit`] (datagrams),
//! [`ServerConn::poll_timeout`] (the next deadline), [`ServerConn::poll_endpoint_events`]
//! (for the endpoint). Commands answer requests: [`ServerConn::send_response`],
//! [`ServerConn::send_data`], [`ServerConn::send_trailers`], [`ServerConn::reset`],
//! [`ServerConn::release`], and end the connection: [`ServerConn::shutdown`],
//! [`ServerConn::close`].
//!
//! What a driver does, after the connection comes out of the endpoint and after every
//! input or command, in this order:
//! 1. drain `poll_event` until `None`, acting on each event (and stopping a stream's
//!    work at its `Reset` before taking the next event);
//! 2. drain `poll_transmit` until `None`, sending each datagram (or GSO batch of
//!    `segment_size` datagrams) from any of the endpoint's sockets, from `src_ip` if
//!    given;
//! 3. pass each `poll_endpoint_events` to the endpoint's
//!    [`handle_endpoint_event`](crate::Endpoint::handle_endpoint_event), and an answer
//!    back to `handle_event` (then start again at 1);
//! 4. arm one timer for `poll_timeout` (none if `None`), and call `handle_timeout` when
//!    it fires.
//!
//! Keep the connection until [`ServerConn::is_drained`]: after its last event
//! ([`Event::Closed`]) QUIC still answers the peer for a few round trips, and its last
//! endpoint event tells the endpoint to forget it.
//!
//! Every input is processed as it comes; polls only hand out what it produced. Nothing
//! here reads a clock or touches a socket: time comes in with the inputs (commands
//! that close the connection use the time of the latest one).

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::HeaderMap;
use quinn_proto::{
    Connection, ConnectionError, ConnectionEvent, EndpointEvent, StreamId, Transmit, VarInt,
};
use roadrunner_h2::{IdHasher, RequestHead};

use crate::abuse::Budgets;
use crate::config::Config;
use crate::error::{ConnError, ErrorCode};
use crate::qpack::{Decoder, Encoder};
use crate::settings::Settings;
use streams::{LocalStreams, PeerStreams, Request};

mod recv;
mod send;
mod streams;
mod uni;

/// Bytes of one response (frames and body) waiting for QUIC to take them, past which
/// [`ServerConn::send_data`] says [`SendError::Full`]. QUIC itself takes only what the
/// peer's flow control and the connection's send window allow.
pub const STREAM_QUEUE: usize = 64 * 1024;

/// Body bytes of one request handed out ([`Event::Data`]) and not yet given back with
/// [`ServerConn::release`], past which the stream is not read: the rest waits in QUIC,
/// whose flow control then holds the client back.
pub const READ_AHEAD: usize = 64 * 1024;

/// What the connection tells the application.
#[derive(Debug)]
pub enum Event {
    /// A request head: the stream is the application's to answer.
    Request {
        /// The request stream's QUIC stream ID.
        stream: u64,
        /// Method, URI, headers, `:protocol`, content length.
        head: RequestHead,
        /// No body follows.
        end_stream: bool,
    },
    /// Request body bytes. Give them back with [`ServerConn::release`] once consumed,
    /// so the stream is read further.
    Data {
        /// The stream.
        stream: u64,
        /// The bytes (empty only when they just say the body ended).
        data: Bytes,
        /// The body ends here.
        end_stream: bool,
    },
    /// Request trailers; the body ends with them.
    Trailers {
        /// The stream.
        stream: u64,
        /// The trailer fields.
        trailers: HeaderMap,
    },
    /// The stream is gone: the peer reset it or asked us to stop sending its response,
    /// or it broke the rules (and was reset with `code`), or its body went over
    /// `max_content_length` (and the codec answered `413`). Drop what the application
    /// holds for it, before polling the next event (see [`crate::abuse`]).
    Reset {
        /// The stream.
        stream: u64,
        /// The peer's code, or the one the stream was reset with.
        code: ErrorCode,
    },
    /// A stream whose `send_data` said it was full can take more.
    Writable {
        /// The stream.
        stream: u64,
    },
    /// The connection is over, and every stream with it; nothing follows.
    Closed(CloseReason),
}

/// Why a connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// This side closed it: a graceful [`ServerConn::shutdown`] completed (H3_NO_ERROR),
    /// the application called [`ServerConn::close`], or the peer broke the protocol
    /// (the code says how; it went to the peer in CONNECTION_CLOSE).
    Local(ConnError),
    /// QUIC lost it: the peer closed it, the handshake failed, it timed out.
    Lost(ConnectionError),
}

/// Why a command was refused (the application's mistake, or a stream already gone).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// No such stream is the application's: never opened, reset, or done.
    UnknownStream,
    /// The stream cannot send that now (no response head yet, one already sent, or the
    /// response ended).
    InvalidState,
    /// The stream's queue is full: wait for [`Event::Writable`].
    Full,
    /// The field section is larger than the peer's SETTINGS_MAX_FIELD_SECTION_SIZE;
    /// nothing was sent, so a smaller head (or a reset) may follow.
    TooLarge,
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SendError::UnknownStream => "no such stream is the application's",
            SendError::InvalidState => "the stream cannot send that now",
            SendError::Full => "the stream's send queue is full",
            SendError::TooLarge => "the field section is over the peer's limit",
        })
    }
}

impl std::error::Error for SendError {}

/// The server side of an HTTP/3 connection.
pub struct ServerConn {
    conn: Connection,
    config: Arc<Config>,
    /// The time of the latest input, for closes that commands cause.
    now: Instant,
    decoder: Decoder,
    encoder: Encoder,
    /// Our control and QPACK streams.
    local: LocalStreams,
    /// The peer's unidirectional streams and what they said.
    peer: PeerStreams,
    /// Request streams by stream ID (sequential, and QUIC bounds how many are open:
    /// no need for a hash that resists chosen keys).
    requests: HashMap<u64, Request, BuildHasherDefault<IdHasher>>,
    /// Reused for each field section before it is framed.
    section_scratch: Vec<u8>,
    /// The index of the next request stream the client may open.
    next_request: u64,
    events: VecDeque<Event>,
    budgets: Budgets,
    /// The GOAWAY we sent: request streams from this ID on are refused.
    goaway: Option<u64>,
    /// The last event ([`Event::Closed`]) is queued.
    closed: bool,
}

impl std::fmt::Debug for ServerConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConn")
            .field("remote", &self.conn.remote_address())
            .field("requests", &self.requests.len())
            .field("goaway", &self.goaway)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl ServerConn {
    /// A connection the endpoint has just accepted: our SETTINGS are queued on our
    /// control stream, which opens as soon as QUIC allows.
    pub(crate) fn new(conn: Connection, config: Arc<Config>, now: Instant) -> Self {
        let decoder = Decoder::new(config.decoder());
        let settings = Settings {
            enable_connect_protocol: config.enable_connect_protocol.then_some(true),
            ..decoder.settings()
        };
        let mut this = ServerConn {
            conn,
            now,
            encoder: Encoder::new(config.qpack_table_capacity),
            decoder,
            local: LocalStreams::new(&settings),
            peer: PeerStreams::default(),
            requests: HashMap::default(),
            section_scratch: Vec::new(),
            next_request: 0,
            events: VecDeque::new(),
            budgets: Budgets::new(),
            goaway: None,
            closed: false,
            config,
        };
        this.after_input();
        this
    }

    /// Processes what the endpoint routed to this connection, received at `now`.
    pub fn handle_event(&mut self, now: Instant, event: ConnectionEvent) {
        self.now = now;
        self.conn.handle_event(event);
        self.after_input();
    }

    /// Processes the deadline of [`poll_timeout`](Self::poll_timeout) having passed
    /// (calling it early does nothing).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        self.conn.handle_timeout(now);
        self.after_input();
    }

    /// The next event; `None` when there is none until the next input or command.
    #[must_use = "events must be handled"]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Writes the next datagram to send (or, with `max_datagrams` above 1 and segment
    /// offload, a batch of them of `segment_size` each) into `buf`, which is cleared
    /// first, and says where it goes.
    ///
    /// The kernel refuses a batch larger than one IP packet's payload (65,507 bytes
    /// over IPv4), so `max_datagrams` should be at most 65,507 divided by
    /// `self.quic().current_mtu()`.
    #[must_use = "the datagram must be sent"]
    pub fn poll_transmit(
        &mut self,
        now: Instant,
        max_datagrams: usize,
        buf: &mut Vec<u8>,
    ) -> Option<Transmit> {
        self.now = now;
        buf.clear();
        self.conn.poll_transmit(now, max_datagrams.max(1), buf)
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next; `None` when no timer
    /// runs. It may change after any input, command or transmit.
    #[must_use = "the connection needs its timer"]
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        self.conn.poll_timeout()
    }

    /// The next event for the endpoint, to pass to
    /// [`Endpoint::handle_endpoint_event`](crate::Endpoint::handle_endpoint_event).
    #[must_use = "the endpoint must hear of it"]
    pub fn poll_endpoint_events(&mut self) -> Option<EndpointEvent> {
        self.conn.poll_endpoint_events()
    }

    /// True once [`Event::Closed`] has been queued: no more requests or commands.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// True once QUIC is done with the connection too: after its last endpoint event,
    /// the connection can be dropped.
    pub fn is_drained(&self) -> bool {
        self.conn.is_drained()
    }

    /// Request streams the connection holds: being read, answered, or waiting for the
    /// peer to acknowledge their response.
    pub fn open_streams(&self) -> usize {
        self.requests.len()
    }

    /// Whether some request's head is on its way: a request stream is open and its
    /// HEADERS have not all come (or wait for QPACK inserts). QUIC bounds no such
    /// wait: a driver applies its own deadline (a slow-headers attack is otherwise
    /// free).
    pub fn is_reading_headers(&self) -> bool {
        self.requests
            .values()
            .any(|r| matches!(r.phase, streams::Phase::Head | streams::Phase::HeadBlocked))
    }

    /// Gives back the memory of buffers that are empty (an idle connection's), to be
    /// allocated again when needed. The QPACK tables, which the peer keeps in step,
    /// stay, and so does QUIC's own state.
    pub fn release_buffers(&mut self) {
        self.section_scratch = Vec::new();
        self.events.shrink_to_fit();
        self.requests.shrink_to_fit();
        for request in self.requests.values_mut() {
            request.release_buffers();
        }
        self.encoder.release_buffers();
        self.decoder.release_buffers();
        self.local.release_buffers();
        self.peer.release_buffers();
    }

    /// Bytes of buffer room the codec holds outside QUIC and the QPACK tables, full or
    /// not: what [`release_buffers`](Self::release_buffers) can give back when they
    /// are empty.
    pub fn buffer_capacity(&self) -> usize {
        self.section_scratch.capacity()
            + self.events.capacity() * std::mem::size_of::<Event>()
            + self
                .requests
                .values()
                .map(streams::Request::buffer_capacity)
                .sum::<usize>()
            + self.encoder.buffer_capacity()
            + self.decoder.buffer_capacity()
            + self.local.buffer_capacity()
            + self.peer.buffer_capacity()
    }

    /// The SETTINGS the peer sent, once they have come.
    pub fn peer_settings(&self) -> Option<&Settings> {
        self.peer.settings.as_ref()
    }

    /// The QUIC connection, for its statistics, addresses and TLS details.
    pub fn quic(&self) -> &Connection {
        &self.conn
    }

    /// Runs after every input: QUIC's events in, then what the QPACK decoder unblocked,
    /// then everything we owe the peer on our own streams out.
    fn after_input(&mut self) {
        if let Err(e) = self.process() {
            self.end(e);
        }
        if self.closed {
            // QUIC's events after the end concern streams that are gone.
            while self.conn.poll().is_some() {}
        }
    }

    fn process(&mut self) -> Result<(), ConnError> {
        self.local.open(&mut self.conn);
        self.drive()?;
        self.after_command()
    }

    /// What every command and input ends with: our QPACK streams' instructions and the
    /// control stream flushed, and a finished shutdown closing the connection.
    fn after_command(&mut self) -> Result<(), ConnError> {
        if self.closed {
            return Ok(());
        }
        self.decoder.poll_stream(self.local.decoder_out());
        self.encoder.poll_stream(self.local.encoder_out());
        self.local.flush(&mut self.conn)?;
        if self.goaway.is_some() && self.requests.is_empty() {
            self.end(ConnError::new(ErrorCode::H3_NO_ERROR, "shutdown complete"));
        }
        Ok(())
    }

    /// A command's end: errors close the connection, as they would from an input.
    fn finish_command(&mut self) {
        if let Err(e) = self.after_command() {
            self.end(e);
        }
    }

    /// Closes the QUIC connection with `e`'s code and reason (the peer's fault, the
    /// application's `close`, or a finished shutdown), and says so as the last event;
    /// nothing queued before it is delivered.
    fn end(&mut self, e: ConnError) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.conn.close(
            self.now,
            varint(e.code),
            Bytes::from_static(e.reason.as_bytes()),
        );
        self.requests.clear();
        self.peer.clear();
        self.events.clear();
        self.events.push_back(Event::Closed(CloseReason::Local(e)));
    }

    /// QUIC lost the connection.
    fn lost(&mut self, reason: ConnectionError) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.requests.clear();
        self.peer.clear();
        self.events.clear();
        self.events
            .push_back(Event::Closed(CloseReason::Lost(reason)));
    }
}

/// A wire code as QUIC carries it; one past QUIC's range (only an application could
/// choose it) becomes H3_INTERNAL_ERROR.
fn varint(code: ErrorCode) -> VarInt {
    VarInt::from_u64(code.0).unwrap_or(VarInt::from_u32(0x102))
}

/// The request stream's ID as the application knows it.
fn key(id: StreamId) -> u64 {
    u64::from(id)
}
