//! The server side of one HTTP/2 connection: bytes in ([`ServerConn::recv`]), events
//! out ([`ServerConn::poll_event`]), responses in through commands
//! ([`ServerConn::send_response`], [`ServerConn::send_data`], ...), bytes to write out
//! ([`ServerConn::poll_transmit`]).
//!
//! Call order: after `recv`, drain `poll_event` until it says `None`, then
//! `poll_transmit`; after any command, `poll_transmit` again. Nothing here reads a clock
//! or touches a socket.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, StatusCode};

use crate::abuse::{self, Budgets, Cost, UnreadAcks, Work};
use crate::error::{ConnError, ErrorCode, StreamError};
use crate::fields::{self, RequestHead};
use crate::flow::{sendable, FlowError, RecvWindow, SendWindow, DEFAULT_WINDOW};
use crate::frame::{self, Frame, FrameError};
use crate::hpack::{self, DecodeError};
use crate::settings::{EffectiveSettings, Settings, DEFAULT_MAX_FRAME_SIZE};
use crate::stream::{self, ClosedBy, RecvEvent, SendEvent, State, StreamIds};
use crate::stream_map::StreamMap;
use crate::transmit::{Sink, Transmit};

mod recv;
mod send;

/// The connection preface a client opens with (RFC 9113 §3.4).
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Bytes of response data a stream may have queued before `send_data` says it is full.
const STREAM_QUEUE: usize = 64 * 1024;
/// Control frames (acks, resets, updates) waiting to be written, past which the peer is
/// provoking more than it reads: `ENHANCE_YOUR_CALM`.
const MAX_CONTROL_BACKLOG: usize = 64 * 1024;
/// Streams the connection remembers after resetting them, so frames the peer sent
/// before it saw the reset are ignored rather than treated as errors.
const RECENT_RESETS: usize = 128;

/// The limits of a connection (the listener's `http2` options).
#[derive(Clone, Debug)]
pub struct Config {
    /// Streams the client may have open at once (`SETTINGS_MAX_CONCURRENT_STREAMS`);
    /// over it a stream is refused with `REFUSED_STREAM`.
    pub max_concurrent_streams: u32,
    /// The connection receive window's peak.
    pub conn_window: u32,
    /// Each stream's receive window peak (`SETTINGS_INITIAL_WINDOW_SIZE`).
    pub stream_window: u32,
    /// A window is refilled to its peak once it falls below this.
    pub window_refill_threshold: u32,
    /// Cap on an assembled HEADERS + CONTINUATION block; over it `ENHANCE_YOUR_CALM`.
    pub max_header_block: usize,
    /// Cap on the decoded header list (`SETTINGS_MAX_HEADER_LIST_SIZE`); over it the
    /// stream is answered `431` and reset with `NO_ERROR`.
    pub max_header_list_size: usize,
    /// Cap on a request body; over it the stream is answered `413` and reset.
    pub max_content_length: u64,
    /// Whether extended CONNECT (RFC 8441, WebSocket over HTTP/2) is offered.
    pub enable_connect_protocol: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_concurrent_streams: 100,
            conn_window: DEFAULT_WINDOW,
            stream_window: DEFAULT_WINDOW,
            window_refill_threshold: 32_768,
            max_header_block: 16_384,
            max_header_list_size: 32_768,
            max_content_length: 8_000_000,
            enable_connect_protocol: false,
        }
    }
}

/// What the connection tells the application.
#[derive(Debug)]
pub enum Event {
    /// A request head: the stream is open.
    Request {
        /// The stream it came on.
        stream: u32,
        /// Method, URI, headers.
        head: RequestHead,
        /// No body follows.
        end_stream: bool,
    },
    /// Request body bytes. Give them back with [`ServerConn::release`] once consumed, so
    /// the peer may send more.
    Data {
        /// The stream.
        stream: u32,
        /// The bytes.
        data: Bytes,
        /// The body ends here.
        end_stream: bool,
    },
    /// Request trailers; the body ends with them.
    Trailers {
        /// The stream.
        stream: u32,
        /// The trailer fields.
        trailers: HeaderMap,
    },
    /// The stream is gone (the peer reset it, or it broke the protocol and was reset):
    /// drop what the application holds for it. Its slot under
    /// `max_concurrent_streams` is free at once, so stop its work before polling the
    /// next event, or the peer can keep more work going than the limit (see
    /// [`abuse`]).
    Reset {
        /// The stream.
        stream: u32,
        /// The reset's code.
        code: ErrorCode,
    },
    /// A stream whose `send_data` said it was full can take more.
    Writable {
        /// The stream.
        stream: u32,
    },
}

/// What a connection holds in memory ([`ServerConn::buffered`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Buffered {
    /// Received and not yet processed, with the header block being assembled. Under
    /// one frame plus `max_header_block` plus the last `recv`, when reading only while
    /// [`ServerConn::wants_read`].
    pub input: usize,
    /// Control frames (and refused streams' answers) waiting for `poll_transmit`.
    pub control: usize,
    /// Response heads, data and trailers queued by commands.
    pub responses: usize,
}

/// Why a command was refused (the application's mistake, or a stream already gone).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// No such open stream (never opened, reset, or finished).
    UnknownStream,
    /// The stream cannot send that now (a response already started, or ended).
    InvalidState,
    /// The stream's queue is full: wait for [`Event::Writable`].
    Full,
    /// The header section is larger than the peer's SETTINGS_MAX_HEADER_LIST_SIZE;
    /// nothing was sent, so a smaller head (or a reset) may follow.
    TooLarge,
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SendError::UnknownStream => "no such open stream",
            SendError::InvalidState => "the stream cannot send that now",
            SendError::Full => "the stream's send queue is full",
            SendError::TooLarge => "the header section is over the peer's limit",
        })
    }
}

impl std::error::Error for SendError {}

/// One stream the connection holds.
struct Stream {
    state: State,
    recv: RecvWindow,
    send: SendWindow,
    /// `content-length` of the request, checked against the DATA received.
    content_length: Option<u64>,
    received: u64,
    /// Encoded frames not yet written: the response head (and trailers).
    head: Vec<u8>,
    /// Response body bytes waiting for flow-control window.
    data: VecDeque<Bytes>,
    queued: usize,
    /// Data ends the stream once drained (trailers, if any, are in `trailers`).
    end_after_data: bool,
    trailers: Option<Vec<u8>>,
    /// `send_data` was refused as full: say [`Event::Writable`] when it drains.
    blocked: bool,
    /// The application saw this stream (a `Request` event).
    surfaced: bool,
    /// The stream is in `ServerConn::ready`, so it is listed there once.
    in_ready: bool,
    /// An extended CONNECT (RFC 8441): its DATA is a session's byte stream, not a
    /// request body, so `max_content_length` does not bound it.
    tunnel: bool,
}

/// A header block being assembled from HEADERS and CONTINUATION frames.
struct Block {
    stream: u32,
    end_stream: bool,
    priority: Option<frame::Priority>,
    fragments: BytesMut,
    continuations: u32,
}

/// Graceful shutdown (RFC 9113 §6.8): a first GOAWAY with the highest id and a PING,
/// then, once the PING is answered, the final GOAWAY with the last stream processed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shutdown {
    Running,
    /// The first GOAWAY is out; waiting for the PING's answer.
    Announced,
    /// The final GOAWAY is out: no stream above `last` is served.
    Final {
        last: u32,
    },
}

/// About how much body data one [`ServerConn::poll_transmit`] writes: enough for a
/// large socket write, small enough that the caller's buffer stays in cache and is
/// never regrown (with a peer's windows of a gigabyte, a hundred streams of 64 KiB
/// were one 6 MB buffer, copied and mapped afresh for every batch).
pub const TRANSMIT_BUDGET: usize = 128 * 1024;

/// The payload of the shutdown PING, to recognise its answer.
const SHUTDOWN_PING: [u8; 8] = *b"rr-drain";

/// The server side of an HTTP/2 connection.
pub struct ServerConn {
    config: Config,
    buf: BytesMut,
    preface_seen: usize,
    /// Control frames and finished heads waiting to be written.
    out: Vec<u8>,
    dec: hpack::Decoder,
    enc: hpack::Encoder,
    /// Reused for each response's header block before it is framed.
    block_scratch: Vec<u8>,
    peer: EffectiveSettings,
    conn_recv: RecvWindow,
    conn_send: SendWindow,
    streams: StreamMap<Stream>,
    /// Streams reset recently, and by whom: frames on one the server reset are
    /// ignored (the peer may have sent them before it saw the reset); frames on one
    /// the peer reset answer as the stream table says (`STREAM_CLOSED`).
    recent_resets: VecDeque<(u32, ClosedBy)>,
    ids: StreamIds,
    block: Option<Block>,
    events: VecDeque<Event>,
    shutdown: Shutdown,
    /// The connection window's first WINDOW_UPDATE, sent right after our SETTINGS.
    first_update: Option<u32>,
    /// The peer has acknowledged our SETTINGS: until then it counts stream windows
    /// from the default 65,535, not from our `stream_window`.
    settings_acked: bool,
    /// Set once the connection has failed; its GOAWAY is queued.
    failed: Option<ConnError>,
    /// Streams with data or heads to write, in the order they became ready.
    ready: VecDeque<u32>,
    budgets: Budgets,
    unread_acks: UnreadAcks,
}

impl ServerConn {
    /// A connection that has accepted a client; our SETTINGS (and the connection
    /// window's first update) are queued at once, as the server preface.
    pub fn new(config: Config) -> Self {
        let (conn_recv, first_update) =
            RecvWindow::connection(config.conn_window, config.window_refill_threshold);
        let mut out = Vec::new();
        frame::encode_settings(&local_settings(&config), &mut out);
        if let Some(increment) = first_update {
            frame::encode_window_update(0, increment, &mut out);
        }
        ServerConn {
            first_update,
            config,
            buf: BytesMut::new(),
            preface_seen: 0,
            out,
            dec: hpack::Decoder::new(),
            enc: hpack::Encoder::new(),
            block_scratch: Vec::new(),
            peer: EffectiveSettings::default(),
            conn_recv,
            conn_send: SendWindow::new(DEFAULT_WINDOW),
            streams: StreamMap::default(),
            recent_resets: VecDeque::new(),
            ids: StreamIds::new(),
            block: None,
            events: VecDeque::new(),
            shutdown: Shutdown::Running,
            settings_acked: false,
            failed: None,
            ready: VecDeque::new(),
            budgets: Budgets::new(),
            unread_acks: UnreadAcks::default(),
        }
    }

    /// A connection upgraded from HTTP/1.1 (`Upgrade: h2c`, RFC 7540 §3.2): `settings`
    /// is the client's `HTTP2-Settings` payload (already base64url-decoded), and the
    /// request that carried the upgrade is stream 1, half-closed (remote), answered
    /// with the usual commands. The client's preface comes next, as on any
    /// connection.
    pub fn upgrade(config: Config, settings: &[u8]) -> Result<Self, ConnError> {
        let mut conn = ServerConn::new(config);
        let settings = Settings::decode(settings)?;
        conn.on_settings(&settings)?;
        // HTTP2-Settings is acknowledged implicitly by the 101 (§3.2.1): drop the ACK
        // that on_settings queued, keeping our own SETTINGS.
        conn.out.clear();
        frame::encode_settings(&local_settings(&conn.config), &mut conn.out);
        if let Some(increment) = conn.first_update {
            frame::encode_window_update(0, increment, &mut conn.out);
        }
        conn.ids.open(1)?;
        let stream = Stream {
            surfaced: true,
            ..conn.new_stream(State::HalfClosedRemote)
        };
        conn.streams.insert(1, stream);
        Ok(conn)
    }

    /// Buffers bytes received from the peer. Read only while [`wants_read`] says so,
    /// which keeps this buffer bounded.
    ///
    /// [`wants_read`]: Self::wants_read
    pub fn recv(&mut self, data: &[u8]) {
        if self.failed.is_none() {
            self.buf.extend_from_slice(data);
        }
    }

    /// Whether the connection wants more input now: not when a whole frame is already
    /// buffered, nor while the peer has provoked a backlog of answers it does not read.
    pub fn wants_read(&self) -> bool {
        self.failed.is_none()
            && self.buf.len() < frame::HEADER_LEN + DEFAULT_MAX_FRAME_SIZE as usize
            && self.out.len() < MAX_CONTROL_BACKLOG
    }

    /// The next event, after processing what has been received. `Err` once, when the
    /// connection fails: its GOAWAY is queued for [`poll_transmit`](Self::poll_transmit),
    /// then the connection is closed, every stream with it (no `Reset` follows).
    #[must_use = "events and the connection's failure must be handled"]
    pub fn poll_event(&mut self) -> Result<Option<Event>, ConnError> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Ok(Some(event));
            }
            if self.failed.is_some() {
                return Ok(None);
            }
            match self.step() {
                Ok(true) => {}
                Ok(false) => return Ok(None),
                Err(e) => return Err(self.fail(e)),
            }
        }
    }

    /// True once nothing more will happen: failed, or shut down with every stream done.
    pub fn is_closed(&self) -> bool {
        self.failed.is_some()
            || (matches!(self.shutdown, Shutdown::Final { .. }) && self.streams.is_empty())
    }

    /// A header block has begun (HEADERS without END_HEADERS) and its CONTINUATION
    /// frames have not all arrived: the driver may bound how long that takes.
    pub fn is_reading_headers(&self) -> bool {
        self.block.is_some()
    }

    /// Gives back the memory of buffers that are empty (an idle connection's), to be
    /// allocated again when needed. The HPACK tables, which the peer keeps in step,
    /// stay.
    pub fn release_buffers(&mut self) {
        if self.buf.is_empty() {
            self.buf = BytesMut::new();
        }
        if self.out.is_empty() {
            self.out = Vec::new();
        }
        self.block_scratch = Vec::new();
        self.events.shrink_to_fit();
        self.ready.shrink_to_fit();
        self.recent_resets.shrink_to_fit();
        self.streams.shrink_to_fit();
    }

    /// Streams the connection holds open.
    pub fn open_streams(&self) -> usize {
        self.streams.len()
    }

    /// What the connection holds in memory now, for limits and metrics.
    pub fn buffered(&self) -> Buffered {
        Buffered {
            input: self.buf.len() + self.block.as_ref().map_or(0, |b| b.fragments.len()),
            control: self.out.len(),
            responses: self
                .streams
                .values()
                .map(|s| s.head.len() + s.queued + s.trailers.as_ref().map_or(0, Vec::len))
                .sum(),
        }
    }

    /// A stream in `state` with the windows now in force.
    fn new_stream(&self, state: State) -> Stream {
        Stream {
            state,
            recv: RecvWindow::new(
                if self.settings_acked {
                    self.config.stream_window
                } else {
                    DEFAULT_WINDOW
                },
                self.config.window_refill_threshold,
            ),
            send: SendWindow::new(self.peer.initial_window_size),
            content_length: None,
            received: 0,
            head: Vec::new(),
            data: VecDeque::new(),
            queued: 0,
            end_after_data: false,
            trailers: None,
            blocked: false,
            surfaced: false,
            in_ready: false,
            tunnel: false,
        }
    }

    /// Ends the connection: GOAWAY with the error's code and the last stream processed.
    fn fail(&mut self, e: ConnError) -> ConnError {
        frame::encode_goaway(
            self.ids.last_opened(),
            e.code,
            e.reason.as_bytes(),
            &mut self.out,
        );
        self.failed = Some(e.clone());
        // Nothing follows the error, not even events queued before it.
        self.events.clear();
        self.streams.clear();
        self.ready.clear();
        self.buf = BytesMut::new();
        e
    }
}

/// The SETTINGS we announce for `config`.
fn local_settings(config: &Config) -> Settings {
    Settings {
        enable_push: Some(false),
        max_concurrent_streams: Some(config.max_concurrent_streams),
        initial_window_size: Some(config.stream_window),
        max_header_list_size: Some(config.max_header_list_size.min(u32::MAX as usize) as u32),
        enable_connect_protocol: config.enable_connect_protocol.then_some(true),
        ..Settings::default()
    }
}

fn calm(reason: &'static str) -> ConnError {
    ConnError::new(ErrorCode::ENHANCE_YOUR_CALM, reason)
}

fn flow_conn(e: FlowError, stream: u32) -> ConnError {
    match e.for_stream(stream) {
        Err(conn) => conn,
        Ok(_) => ConnError::new(e.code(), e.reason()),
    }
}
