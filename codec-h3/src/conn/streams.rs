//! What the connection keeps per stream: a request stream's two halves, our control and
//! QPACK streams, and the peer's.

use std::collections::{HashMap, VecDeque};

use bytes::{Bytes, BytesMut};
use quinn_proto::{Connection, Dir, StreamId, WriteError};

use crate::error::{ConnError, ErrorCode};
use crate::frame::{self, FrameDecoder};
use crate::settings::Settings;
use crate::stream::{Side, StreamKind, StreamType};

/// Bytes our control or QPACK streams may hold that QUIC has not taken, past which the
/// peer is not reading them (it grants them no flow-control credit) while making us
/// write more: H3_EXCESSIVE_LOAD. A client owes each a few bytes per request.
const MAX_LOCAL_BACKLOG: usize = 64 * 1024;

/// Where the request half of a stream is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// Waiting for the request's HEADERS.
    Head,
    /// Its HEADERS wait for QPACK inserts.
    HeadBlocked,
    /// The body: DATA frames, then maybe trailers.
    Body,
    /// The trailers wait for QPACK inserts.
    TrailersBlocked,
    /// Trailers read: only the end of the stream may follow.
    Trailers,
    /// Nothing more is read: the request ended, or was given up.
    Done,
}

/// Where the response half of a stream is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Respond {
    /// No final response head yet.
    Idle,
    /// The head is queued; data and trailers may follow.
    Open,
    /// The response is complete in the queue: the stream ends once it drains.
    Ending,
    /// The end of the stream is with QUIC, not yet acknowledged.
    Finished,
    /// Acknowledged, or reset: nothing more to do.
    Done,
}

/// One request stream.
#[derive(Debug)]
pub(super) struct Request {
    pub(super) id: StreamId,
    pub(super) frames: FrameDecoder,
    /// Read from QUIC, not yet decoded: at most the start of one frame.
    pub(super) buf: BytesMut,
    pub(super) phase: Phase,
    /// QUIC said the stream ended: all of it is in `buf`.
    pub(super) fin: bool,
    pub(super) content_length: Option<u64>,
    /// Body bytes received.
    pub(super) received: u64,
    /// An extended CONNECT (RFC 9220): its DATA is a session's byte stream, which
    /// `max_content_length` does not bound.
    pub(super) tunnel: bool,
    /// Body bytes handed out and not released.
    pub(super) unreleased: usize,
    /// The application has the stream (its `Request` came, no `Reset` since).
    pub(super) app: bool,
    pub(super) respond: Respond,
    /// Frames and body pieces QUIC has not taken yet.
    pub(super) queue: VecDeque<Bytes>,
    pub(super) queued: usize,
    /// `send_data` said it was full: say [`super::Event::Writable`] when it drains.
    pub(super) full: bool,
}

impl Request {
    pub(super) fn new(id: StreamId, max_header_block: usize) -> Self {
        Request {
            id,
            frames: FrameDecoder::new(StreamKind::Request, Side::Server, max_header_block as u64),
            buf: BytesMut::new(),
            phase: Phase::Head,
            fin: false,
            content_length: None,
            received: 0,
            tunnel: false,
            unreleased: 0,
            app: false,
            respond: Respond::Idle,
            queue: VecDeque::new(),
            queued: 0,
            full: false,
        }
    }

    /// Whether to read more from QUIC now: not while a section waits for inserts, nor
    /// while the application holds [`super::READ_AHEAD`] bytes it has not released.
    pub(super) fn wants_read(&self) -> bool {
        matches!(self.phase, Phase::Head | Phase::Body | Phase::Trailers)
            && !self.fin
            && self.unreleased < super::READ_AHEAD
    }

    pub(super) fn release_buffers(&mut self) {
        if self.buf.is_empty() {
            self.buf = BytesMut::new();
        }
        self.queue.shrink_to_fit();
    }

    pub(super) fn buffer_capacity(&self) -> usize {
        self.buf.capacity() + self.queue.capacity() * std::mem::size_of::<Bytes>()
    }

    /// Whether both halves are done, so the stream can be forgotten.
    pub(super) fn is_done(&self) -> bool {
        self.phase == Phase::Done && self.respond == Respond::Done
    }

    /// Whether the response is complete as far as we are concerned.
    pub(super) fn response_complete(&self) -> bool {
        matches!(self.respond, Respond::Finished | Respond::Done)
    }

    pub(super) fn push(&mut self, bytes: Bytes) {
        self.queued += bytes.len();
        self.queue.push_back(bytes);
    }
}

/// One of our unidirectional streams: what it must carry, until QUIC takes it.
#[derive(Debug)]
struct Outgoing {
    id: Option<StreamId>,
    pending: Vec<u8>,
}

impl Outgoing {
    fn new(ty: StreamType) -> Self {
        let mut pending = Vec::new();
        ty.encode(&mut pending);
        Outgoing { id: None, pending }
    }
}

/// Our control stream and QPACK encoder and decoder streams (RFC 9114 §6.2.1, RFC 9204
/// §4.2), each opened as soon as QUIC lets us.
#[derive(Debug)]
pub(super) struct LocalStreams {
    control: Outgoing,
    encoder: Outgoing,
    decoder: Outgoing,
}

impl LocalStreams {
    /// The three streams, the control stream starting with our SETTINGS.
    pub(super) fn new(settings: &Settings) -> Self {
        let mut control = Outgoing::new(StreamType::CONTROL);
        frame::encode_settings(settings, &mut control.pending);
        LocalStreams {
            control,
            encoder: Outgoing::new(StreamType::QPACK_ENCODER),
            decoder: Outgoing::new(StreamType::QPACK_DECODER),
        }
    }

    pub(super) fn release_buffers(&mut self) {
        for out in [&mut self.control, &mut self.encoder, &mut self.decoder] {
            if out.pending.is_empty() {
                out.pending = Vec::new();
            }
        }
    }

    pub(super) fn buffer_capacity(&self) -> usize {
        [&self.control, &self.encoder, &self.decoder]
            .iter()
            .map(|out| out.pending.capacity())
            .sum()
    }

    /// Opens those not yet open, if the peer allows more unidirectional streams.
    pub(super) fn open(&mut self, conn: &mut Connection) {
        for out in [&mut self.control, &mut self.encoder, &mut self.decoder] {
            if out.id.is_none() {
                out.id = conn.streams().open(Dir::Uni);
            }
        }
    }

    pub(super) fn control_out(&mut self) -> &mut Vec<u8> {
        &mut self.control.pending
    }

    pub(super) fn encoder_out(&mut self) -> &mut Vec<u8> {
        &mut self.encoder.pending
    }

    pub(super) fn decoder_out(&mut self) -> &mut Vec<u8> {
        &mut self.decoder.pending
    }

    /// Whether `id` is one of ours.
    pub(super) fn contains(&self, id: StreamId) -> bool {
        [&self.control, &self.encoder, &self.decoder]
            .iter()
            .any(|out| out.id == Some(id))
    }

    /// Gives QUIC what it takes of each stream's pending bytes.
    pub(super) fn flush(&mut self, conn: &mut Connection) -> Result<(), ConnError> {
        for out in [&mut self.control, &mut self.encoder, &mut self.decoder] {
            let Some(id) = out.id else {
                continue;
            };
            while !out.pending.is_empty() {
                match conn.send_stream(id).write(&out.pending) {
                    Ok(n) => {
                        out.pending.drain(..n);
                    }
                    Err(WriteError::Blocked) => break,
                    Err(WriteError::Stopped(_) | WriteError::ClosedStream) => {
                        return Err(closed_critical(
                            "the peer stopped one of our critical streams",
                        ));
                    }
                }
            }
            if out.pending.len() > MAX_LOCAL_BACKLOG {
                return Err(ConnError::new(
                    ErrorCode::H3_EXCESSIVE_LOAD,
                    "the peer does not read our control or QPACK streams",
                ));
            }
        }
        Ok(())
    }
}

/// What a unidirectional stream of the peer's turned out to be.
#[derive(Debug)]
pub(super) enum Uni {
    /// Its type has not all arrived.
    Unknown,
    /// The control stream: frames.
    Control(FrameDecoder),
    /// The QPACK encoder stream, for our decoder.
    Encoder,
    /// The QPACK decoder stream, for our encoder.
    Decoder,
}

/// The peer's unidirectional streams, and what its control stream said.
#[derive(Debug, Default)]
pub(super) struct PeerStreams {
    /// Streams being read, with what has not been processed yet.
    pub(super) streams: HashMap<StreamId, (Uni, BytesMut)>,
    pub(super) control: bool,
    pub(super) encoder: bool,
    pub(super) decoder: bool,
    pub(super) settings: Option<Settings>,
    /// The last push ID of the peer's GOAWAY, which may only go down.
    pub(super) goaway: Option<u64>,
    /// The peer's MAX_PUSH_ID, which may only go up.
    pub(super) max_push_id: Option<u64>,
}

impl PeerStreams {
    /// Forgets the streams: the connection is over.
    pub(super) fn clear(&mut self) {
        self.streams.clear();
    }

    pub(super) fn release_buffers(&mut self) {
        for (_, buf) in self.streams.values_mut() {
            if buf.is_empty() {
                *buf = BytesMut::new();
            }
        }
    }

    pub(super) fn buffer_capacity(&self) -> usize {
        self.streams.values().map(|(_, buf)| buf.capacity()).sum()
    }
}

pub(super) fn closed_critical(reason: &'static str) -> ConnError {
    ConnError::new(ErrorCode::H3_CLOSED_CRITICAL_STREAM, reason)
}
