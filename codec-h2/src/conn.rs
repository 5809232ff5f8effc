//! The server side of one HTTP/2 connection: bytes in ([`ServerConn::recv`]), events
//! out ([`ServerConn::poll_event`]), responses in through commands
//! ([`ServerConn::send_response`], [`ServerConn::send_data`], ...), bytes to write out
//! ([`ServerConn::poll_transmit`]).
//!
//! Call order: after `recv`, drain `poll_event` until it says `None`, then
//! `poll_transmit`; after any command, `poll_transmit` again. Nothing here reads a clock
//! or touches a socket.

use std::collections::{BTreeMap, VecDeque};

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
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SendError::UnknownStream => "no such open stream",
            SendError::InvalidState => "the stream cannot send that now",
            SendError::Full => "the stream's send queue is full",
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
    peer: EffectiveSettings,
    conn_recv: RecvWindow,
    conn_send: SendWindow,
    streams: BTreeMap<u32, Stream>,
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
            peer: EffectiveSettings::default(),
            conn_recv,
            conn_send: SendWindow::new(DEFAULT_WINDOW),
            streams: BTreeMap::new(),
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

    /// Answers `stream` with a response head; `end_stream` when there is no body.
    pub fn send_response(
        &mut self,
        stream: u32,
        status: StatusCode,
        headers: &HeaderMap,
        end_stream: bool,
    ) -> Result<(), SendError> {
        let max_frame = self.peer.max_frame_size;
        let s = self.open_stream(stream)?;
        let next = stream::on_send(s.state, SendEvent::Headers { end_stream })
            .map_err(|_| SendError::InvalidState)?;
        if !s.head.is_empty() || !s.data.is_empty() {
            return Err(SendError::InvalidState);
        }
        let mut block = Vec::new();
        self.enc
            .encode(fields::response_fields(&status, headers), &mut block);
        let s = self.open_stream(stream)?;
        frame::encode_headers(stream, &block, end_stream, max_frame, &mut s.head);
        s.state = next;
        self.mark_ready(stream);
        Ok(())
    }

    /// Queues response body bytes; they go out as the peer's windows allow.
    pub fn send_data(
        &mut self,
        stream: u32,
        data: Bytes,
        end_stream: bool,
    ) -> Result<(), SendError> {
        let s = self.open_stream(stream)?;
        if s.end_after_data || matches!(s.state, State::HalfClosedLocal | State::Closed(_)) {
            return Err(SendError::InvalidState);
        }
        if s.queued >= STREAM_QUEUE {
            s.blocked = true;
            return Err(SendError::Full);
        }
        s.queued += data.len();
        if !data.is_empty() {
            s.data.push_back(data);
        }
        s.end_after_data = end_stream;
        self.mark_ready(stream);
        Ok(())
    }

    /// Ends the response with trailer fields (after its data has gone out).
    pub fn send_trailers(&mut self, stream: u32, trailers: &HeaderMap) -> Result<(), SendError> {
        let max_frame = self.peer.max_frame_size;
        let mut block = Vec::new();
        self.enc
            .encode(fields::trailer_fields(trailers), &mut block);
        let s = self.open_stream(stream)?;
        if s.end_after_data || matches!(s.state, State::HalfClosedLocal | State::Closed(_)) {
            return Err(SendError::InvalidState);
        }
        let mut frames = Vec::new();
        frame::encode_headers(stream, &block, true, max_frame, &mut frames);
        s.trailers = Some(frames);
        s.end_after_data = true;
        self.mark_ready(stream);
        Ok(())
    }

    /// Resets `stream` with `code` (an aborted response, a handler that failed).
    pub fn reset(&mut self, stream: u32, code: ErrorCode) -> Result<(), SendError> {
        if !self.streams.contains_key(&stream) {
            return Err(SendError::UnknownStream);
        }
        self.reset_stream(stream, code);
        Ok(())
    }

    /// The application has consumed `len` bytes of `stream`'s body: the peer may send
    /// that much more (a WINDOW_UPDATE goes out once enough has been released).
    pub fn release(&mut self, stream: u32, len: usize) {
        let len = len.min(u32::MAX as usize) as u32;
        self.conn_recv.release(len);
        if let Some(increment) = self.conn_recv.take_update() {
            frame::encode_window_update(0, increment, &mut self.out);
        }
        if let Some(s) = self.streams.get_mut(&stream) {
            s.recv.release(len);
            if matches!(s.state, State::Open | State::HalfClosedLocal) {
                if let Some(increment) = s.recv.take_update() {
                    frame::encode_window_update(stream, increment, &mut self.out);
                }
            }
        }
    }

    /// Starts a graceful shutdown: no new streams after those the peer has already
    /// sent; those in flight finish. The connection closes once they have.
    pub fn shutdown(&mut self) {
        if self.shutdown == Shutdown::Running && self.failed.is_none() {
            frame::encode_goaway(
                stream::MAX_STREAM_ID,
                ErrorCode::NO_ERROR,
                b"",
                &mut self.out,
            );
            frame::encode_ping(false, SHUTDOWN_PING, &mut self.out);
            self.shutdown = Shutdown::Announced;
        }
    }

    /// Ends a graceful shutdown without waiting any longer for the answer to its PING:
    /// the final GOAWAY names the last stream received so far. For a client that does
    /// not answer PINGs; the connection closes once its streams are done.
    pub fn finish_shutdown(&mut self) {
        if self.failed.is_none() && !matches!(self.shutdown, Shutdown::Final { .. }) {
            let last = self.ids.last_opened();
            frame::encode_goaway(last, ErrorCode::NO_ERROR, b"", &mut self.out);
            self.shutdown = Shutdown::Final { last };
        }
    }

    /// Writes what is ready to go out into `out`: control frames, response heads, and
    /// body data as far as the peer's windows allow. Returns whether it wrote anything.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> bool {
        let start = out.len();
        out.append(&mut self.out);
        self.unread_acks.taken();
        let max_frame = self.peer.max_frame_size;
        let mut waiting = VecDeque::new();
        while let Some(id) = self.ready.pop_front() {
            let Some(s) = self.streams.get_mut(&id) else {
                continue;
            };
            s.in_ready = false;
            out.append(&mut s.head);
            while let Some(chunk) = s.data.front_mut() {
                let n = sendable(chunk.len(), &self.conn_send, &s.send, max_frame);
                if n == 0 {
                    break;
                }
                let piece = chunk.split_to(n);
                if chunk.is_empty() {
                    s.data.pop_front();
                }
                s.queued -= n;
                s.send.spend(n as u32);
                self.conn_send.spend(n as u32);
                let last = s.data.is_empty() && s.end_after_data && s.trailers.is_none();
                frame::encode_data(id, &piece, last, out);
                if last {
                    s.state = stream::on_send(s.state, SendEvent::Data { end_stream: true })
                        .unwrap_or(s.state);
                }
            }
            if s.data.is_empty() && s.end_after_data {
                if let Some(trailers) = s.trailers.take() {
                    out.extend_from_slice(&trailers);
                    s.state = stream::on_send(s.state, SendEvent::Headers { end_stream: true })
                        .unwrap_or(s.state);
                } else if s.state != State::HalfClosedLocal
                    && !matches!(s.state, State::Closed(_))
                    && s.queued == 0
                {
                    // An empty final DATA frame: the body ended after its last bytes
                    // had already gone out.
                    frame::encode_data(id, &[], true, out);
                    s.state = stream::on_send(s.state, SendEvent::Data { end_stream: true })
                        .unwrap_or(s.state);
                }
                s.end_after_data = false;
            }
            if s.blocked && s.queued < STREAM_QUEUE {
                s.blocked = false;
                self.events.push_back(Event::Writable { stream: id });
            }
            if !s.data.is_empty() {
                s.in_ready = true;
                waiting.push_back(id);
            }
            self.forget_if_done(id);
        }
        self.ready = waiting;
        out.len() > start
    }

    /// True once nothing more will happen: failed, or shut down with every stream done.
    pub fn is_closed(&self) -> bool {
        self.failed.is_some()
            || (matches!(self.shutdown, Shutdown::Final { .. }) && self.streams.is_empty())
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

    /// Processes one frame; `false` when more input is needed.
    fn step(&mut self) -> Result<bool, ConnError> {
        if self.preface_seen < PREFACE.len() {
            let want = PREFACE.len() - self.preface_seen;
            let n = want.min(self.buf.len());
            if self.buf[..n] != PREFACE[self.preface_seen..self.preface_seen + n] {
                return Err(ConnError::new(
                    ErrorCode::PROTOCOL_ERROR,
                    "bad connection preface",
                ));
            }
            let _ = self.buf.split_to(n);
            self.preface_seen += n;
            if self.preface_seen < PREFACE.len() {
                return Ok(false);
            }
        }
        let frame = match frame::decode(&mut self.buf, DEFAULT_MAX_FRAME_SIZE) {
            Ok(Some(frame)) => frame,
            Ok(None) => return Ok(false),
            Err(FrameError::Conn(e)) => return Err(e),
            Err(FrameError::Stream(e)) => {
                self.stream_error(e)?;
                return Ok(true);
            }
        };
        if let Some(block) = &self.block {
            // Nothing may come between a HEADERS frame and its last CONTINUATION.
            if !matches!(&frame, Frame::Continuation { stream, .. } if *stream == block.stream) {
                return Err(ConnError::new(
                    ErrorCode::PROTOCOL_ERROR,
                    "a header block was interrupted",
                ));
            }
        }
        if abuse::is_empty(&frame) {
            self.budgets.spend(Cost::Empty)?;
        }
        self.on_frame(frame)?;
        Ok(true)
    }

    fn on_frame(&mut self, frame: Frame) -> Result<(), ConnError> {
        match frame {
            Frame::Data {
                stream,
                data,
                end_stream,
                flow_len,
            } => self.on_data(stream, data, end_stream, flow_len),
            Frame::Headers {
                stream,
                fragment,
                end_stream,
                end_headers,
                priority,
            } => {
                let mut fragments = BytesMut::from(&fragment[..]);
                if fragments.len() > self.config.max_header_block {
                    return Err(calm("header block over max_header_block"));
                }
                let block = Block {
                    stream,
                    end_stream,
                    priority,
                    fragments: std::mem::take(&mut fragments),
                    continuations: 0,
                };
                if end_headers {
                    self.on_block(block)
                } else {
                    self.block = Some(block);
                    Ok(())
                }
            }
            Frame::Continuation {
                fragment,
                end_headers,
                ..
            } => {
                let Some(mut block) = self.block.take() else {
                    return Err(ConnError::new(
                        ErrorCode::PROTOCOL_ERROR,
                        "CONTINUATION without a header block",
                    ));
                };
                if block.fragments.len() + fragment.len() > self.config.max_header_block {
                    return Err(calm("header block over max_header_block"));
                }
                abuse::continuation(&mut block.continuations)?;
                block.fragments.extend_from_slice(&fragment);
                if end_headers {
                    self.on_block(block)
                } else {
                    self.block = Some(block);
                    Ok(())
                }
            }
            Frame::Priority { stream, .. } => {
                self.budgets.spend(Cost::Priority)?;
                if let Some(s) = self.streams.get_mut(&stream) {
                    s.state = stream::on_recv(s.state, RecvEvent::Priority)
                        .map_err(|v| v.for_stream(stream).err())
                        .unwrap_or(s.state);
                }
                Ok(())
            }
            Frame::RstStream { stream, code } => self.on_rst(stream, code),
            Frame::Settings(settings) => self.on_settings(&settings),
            Frame::SettingsAck => {
                if self.settings_acked {
                    // We sent one SETTINGS: this acknowledges nothing.
                    return self.budgets.spend(Cost::Empty);
                }
                self.settings_acked = true;
                let new = self.config.stream_window;
                for s in self.streams.values_mut() {
                    s.recv.apply_initial_delta(DEFAULT_WINDOW, new);
                }
                Ok(())
            }
            Frame::Ping { ack: false, data } => {
                self.unread_acks.queue()?;
                frame::encode_ping(true, data, &mut self.out);
                Ok(())
            }
            Frame::Ping { ack: true, data } => {
                if data != SHUTDOWN_PING || self.shutdown != Shutdown::Announced {
                    // The only PING we send is the shutdown's.
                    return self.budgets.spend(Cost::Empty);
                }
                let last = self.ids.last_opened();
                frame::encode_goaway(last, ErrorCode::NO_ERROR, b"", &mut self.out);
                self.shutdown = Shutdown::Final { last };
                Ok(())
            }
            Frame::GoAway { .. } => {
                // The client will open no more streams; those open finish as usual.
                Ok(())
            }
            Frame::WindowUpdate {
                stream: 0,
                increment,
            } => {
                // Every stream with data left is still in `ready` (poll_transmit keeps
                // it there), so the next poll_transmit uses the window: listing them
                // again per update would let a flood of updates grow `ready`.
                self.conn_send
                    .apply_increment(increment)
                    .map_err(|e| flow_conn(e, 0))?;
                Ok(())
            }
            Frame::WindowUpdate { stream, increment } => {
                self.check_known(stream)?;
                if self.after_reset(stream, RecvEvent::WindowUpdate)? {
                    return Ok(());
                }
                if let Some(s) = self.streams.get_mut(&stream) {
                    if let Err(e) = s.send.apply_increment(increment) {
                        let err = e.for_stream(stream)?;
                        return self.stream_error(err);
                    }
                }
                Ok(())
            }
            Frame::Unknown { .. } => Ok(()),
        }
    }

    /// A whole header block: a new request, or trailers.
    fn on_block(&mut self, block: Block) -> Result<(), ConnError> {
        let id = block.stream;
        // Decoded whatever becomes of the stream: the HPACK state is the connection's.
        let decoded = self
            .dec
            .decode(&block.fragments, self.config.max_header_list_size);
        let decoded = match decoded {
            Err(DecodeError::Compression(e)) => return Err(e.into()),
            Ok(list) => Ok(list),
            Err(DecodeError::TooLarge(_)) => Err(()),
        };
        if let Some(s) = self.streams.get_mut(&id) {
            // Trailers: only with END_STREAM, on a stream still receiving.
            let next = match stream::on_recv(
                s.state,
                RecvEvent::Headers {
                    end_stream: block.end_stream,
                },
            ) {
                Ok(next) => next,
                Err(v) => {
                    let err = v.for_stream(id)?;
                    return self.stream_error(err);
                }
            };
            s.state = next;
            let trailers = match decoded {
                Ok(list) => fields::trailers(id, list),
                Err(_) => Err(StreamError {
                    stream: id,
                    code: ErrorCode::PROTOCOL_ERROR,
                    reason: "trailers over max_header_list_size",
                }),
            };
            match trailers.and_then(|t| self.check_length_at_end(id).map(|()| t)) {
                Ok(trailers) => {
                    self.events.push_back(Event::Trailers {
                        stream: id,
                        trailers,
                    });
                    self.forget_if_done(id);
                }
                Err(e) => self.stream_error(e)?,
            }
            return Ok(());
        }
        if self.after_reset(
            id,
            RecvEvent::Headers {
                end_stream: block.end_stream,
            },
        )? {
            return Ok(());
        }
        if !self.ids.is_idle(id) {
            return Err(ConnError::new(
                ErrorCode::STREAM_CLOSED,
                "HEADERS on a closed stream",
            ));
        }
        self.ids.open(id)?;
        if let Some(priority) = block.priority {
            if let Err(e) = priority.check(id) {
                return self.stream_error(e);
            }
        }
        if let Shutdown::Final { last } = self.shutdown {
            if id > last {
                // Past the final GOAWAY: the client knows it was not processed.
                self.send_rst(id, ErrorCode::REFUSED_STREAM);
                return Ok(());
            }
        }
        if self.streams.len() >= self.config.max_concurrent_streams as usize {
            self.budgets.spend(Cost::ProvokedReset)?;
            self.send_rst(id, ErrorCode::REFUSED_STREAM);
            return Ok(());
        }
        let state = stream::on_recv(
            State::Idle,
            RecvEvent::Headers {
                end_stream: block.end_stream,
            },
        )
        .map_err(|_| ConnError::new(ErrorCode::PROTOCOL_ERROR, "bad HEADERS"))?;
        let mut s = self.new_stream(state);
        let list = match decoded {
            Ok(list) => list,
            Err(_) => {
                self.streams.insert(id, s);
                return self.refuse(id, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
            }
        };
        let head = match fields::request_head(id, list, self.config.enable_connect_protocol) {
            Ok(head) => head,
            Err(e) => {
                self.streams.insert(id, s);
                return self.stream_error(e);
            }
        };
        s.content_length = head.content_length;
        let too_large = head
            .content_length
            .is_some_and(|n| n > self.config.max_content_length);
        let empty_mismatch = block.end_stream && head.content_length.is_some_and(|n| n != 0);
        s.surfaced = !too_large && !empty_mismatch;
        self.streams.insert(id, s);
        if too_large {
            return self.refuse(id, StatusCode::PAYLOAD_TOO_LARGE);
        }
        if empty_mismatch {
            return self.stream_error(StreamError {
                stream: id,
                code: ErrorCode::PROTOCOL_ERROR,
                reason: "content-length with no body",
            });
        }
        self.budgets.earn(Work::Request);
        self.events.push_back(Event::Request {
            stream: id,
            head,
            end_stream: block.end_stream,
        });
        Ok(())
    }

    fn on_data(
        &mut self,
        id: u32,
        data: Bytes,
        end_stream: bool,
        flow_len: u32,
    ) -> Result<(), ConnError> {
        // The connection window counts every DATA frame, whatever becomes of it.
        self.conn_recv
            .consume(flow_len)
            .map_err(|e| flow_conn(e, 0))?;
        let padding = flow_len - data.len() as u32;
        let Some(s) = self.streams.get_mut(&id) else {
            self.conn_recv.release(flow_len);
            if self.after_reset(id, RecvEvent::Data { end_stream })? {
                return Ok(());
            }
            return Err(ConnError::new(
                if self.ids.is_idle(id) {
                    ErrorCode::PROTOCOL_ERROR
                } else {
                    ErrorCode::STREAM_CLOSED
                },
                "DATA on a stream that is not open",
            ));
        };
        let next = match stream::on_recv(s.state, RecvEvent::Data { end_stream }) {
            Ok(next) => next,
            Err(v) => {
                self.conn_recv.release(flow_len);
                let err = v.for_stream(id)?;
                return self.stream_error(err);
            }
        };
        s.recv.consume(flow_len).map_err(|e| flow_conn(e, id))?;
        s.state = next;
        s.received += data.len() as u64;
        // Padding is nobody's to consume: hand it back at once.
        if padding > 0 {
            s.recv.release(padding);
            self.conn_recv.release(padding);
        }
        if s.received > self.config.max_content_length {
            let surfaced = s.surfaced;
            self.conn_recv.release(data.len() as u32);
            if surfaced {
                self.events.push_back(Event::Reset {
                    stream: id,
                    code: ErrorCode::CANCEL,
                });
            }
            return self.refuse(id, StatusCode::PAYLOAD_TOO_LARGE);
        }
        if s.content_length.is_some_and(|n| s.received > n) {
            return self.stream_error(StreamError {
                stream: id,
                code: ErrorCode::PROTOCOL_ERROR,
                reason: "more DATA than content-length",
            });
        }
        if end_stream {
            if let Err(e) = self.check_length_at_end(id) {
                return self.stream_error(e);
            }
        }
        if !data.is_empty() || end_stream {
            self.events.push_back(Event::Data {
                stream: id,
                data,
                end_stream,
            });
        }
        if end_stream {
            // A response that ended first left the stream waiting for this.
            self.forget_if_done(id);
        }
        Ok(())
    }

    fn on_rst(&mut self, id: u32, code: ErrorCode) -> Result<(), ConnError> {
        self.check_known(id)?;
        let Some(s) = self.streams.get_mut(&id) else {
            return Ok(());
        };
        // Cut short before its response was complete: work thrown away.
        let cut_short = matches!(s.state, State::Open | State::HalfClosedRemote);
        s.state = State::Closed(ClosedBy::PeerReset);
        let surfaced = s.surfaced;
        if cut_short {
            self.budgets.spend(Cost::PeerReset)?;
        }
        self.drop_stream(id, ClosedBy::PeerReset);
        if surfaced {
            self.events.push_back(Event::Reset { stream: id, code });
        }
        Ok(())
    }

    fn on_settings(&mut self, settings: &Settings) -> Result<(), ConnError> {
        self.budgets.spend(Cost::Settings)?;
        self.unread_acks.queue()?;
        let old = self.peer.initial_window_size;
        self.peer.apply(settings);
        if let Some(new) = settings.initial_window_size {
            for s in self.streams.values_mut() {
                s.send
                    .apply_initial_delta(old, new)
                    .map_err(|e| flow_conn(e, 0))?;
            }
        }
        if let Some(size) = settings.header_table_size {
            self.enc.set_max_table_size(size as usize);
        }
        frame::encode_settings_ack(&mut self.out);
        Ok(())
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
        }
    }

    /// Frames on a stream id the client never opened are a connection error.
    fn check_known(&self, id: u32) -> Result<(), ConnError> {
        if self.ids.is_idle(id) {
            return Err(ConnError::new(
                ErrorCode::PROTOCOL_ERROR,
                "frame on an idle stream",
            ));
        }
        Ok(())
    }

    fn check_length_at_end(&self, id: u32) -> Result<(), StreamError> {
        let Some(s) = self.streams.get(&id) else {
            return Ok(());
        };
        match s.content_length {
            Some(n) if n != s.received => Err(StreamError {
                stream: id,
                code: ErrorCode::PROTOCOL_ERROR,
                reason: "body length differs from content-length",
            }),
            _ => Ok(()),
        }
    }

    /// Answers `id` with `status` and no body, then stops its request with
    /// `RST_STREAM(NO_ERROR)` (RFC 9113 §8.1: the client may stop sending).
    fn refuse(&mut self, id: u32, status: StatusCode) -> Result<(), ConnError> {
        self.budgets.spend(Cost::ProvokedReset)?;
        let mut block = Vec::new();
        self.enc.encode(
            fields::response_fields(&status, &HeaderMap::new()),
            &mut block,
        );
        frame::encode_headers(id, &block, true, self.peer.max_frame_size, &mut self.out);
        self.send_rst(id, ErrorCode::NO_ERROR);
        Ok(())
    }

    /// A stream-level error: reset it, and tell the application if it knew it.
    fn stream_error(&mut self, e: StreamError) -> Result<(), ConnError> {
        self.budgets.spend(Cost::ProvokedReset)?;
        if self.streams.get(&e.stream).is_some_and(|s| s.surfaced) {
            self.events.push_back(Event::Reset {
                stream: e.stream,
                code: e.code,
            });
        }
        self.send_rst(e.stream, e.code);
        Ok(())
    }

    fn reset_stream(&mut self, id: u32, code: ErrorCode) {
        self.send_rst(id, code);
    }

    fn send_rst(&mut self, id: u32, code: ErrorCode) {
        frame::encode_rst_stream(id, code, &mut self.out);
        if let Some(s) = self.streams.get(&id) {
            // What the stream still holds of the connection window is free again.
            let held = s.recv.held();
            self.conn_recv.release(held);
        }
        self.drop_stream(id, ClosedBy::LocalReset);
    }

    fn drop_stream(&mut self, id: u32, by: ClosedBy) {
        if self.streams.remove(&id).is_some() {
            if self.recent_resets.len() == RECENT_RESETS {
                self.recent_resets.pop_front();
            }
            self.recent_resets.push_back((id, by));
        }
    }

    /// A frame on a stream reset recently: handled here, as the stream table says for
    /// how it closed (`true`), or not a recently reset stream (`false`).
    fn after_reset(&mut self, id: u32, event: RecvEvent) -> Result<bool, ConnError> {
        let Some(&(_, by)) = self.recent_resets.iter().find(|(s, _)| *s == id) else {
            return Ok(false);
        };
        if let Err(v) = stream::on_recv(State::Closed(by), event) {
            let e = v.for_stream(id)?;
            // A reset the peer provoked, like any other (MadeYouReset).
            self.budgets.spend(Cost::ProvokedReset)?;
            frame::encode_rst_stream(id, e.code, &mut self.out);
        }
        Ok(true)
    }

    /// A stream that has sent and received everything is forgotten.
    fn forget_if_done(&mut self, id: u32) {
        let done = self.streams.get(&id).is_some_and(|s| {
            s.state == State::Closed(ClosedBy::EndStream) && s.head.is_empty() && s.data.is_empty()
        });
        if done {
            self.streams.remove(&id);
            self.budgets.earn(Work::Response);
        }
    }

    fn open_stream(&mut self, id: u32) -> Result<&mut Stream, SendError> {
        self.streams.get_mut(&id).ok_or(SendError::UnknownStream)
    }

    fn mark_ready(&mut self, id: u32) {
        if let Some(s) = self.streams.get_mut(&id) {
            if !s.in_ready {
                s.in_ready = true;
                self.ready.push_back(id);
            }
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
