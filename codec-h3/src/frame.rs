//! HTTP/3 frames (RFC 9114 §7): a [`FrameDecoder`] per stream takes frames off that
//! stream's receive buffer as they complete, and the `encode_*` functions append frames
//! to a send buffer.
//!
//! DATA payloads are never buffered: the decoder reports a DATA frame's length as soon
//! as its header is in, then hands the payload out in pieces split off the receive
//! buffer ([`Frame::DataChunk`]), so a large frame costs no more memory than what the
//! stream has delivered. Unknown frames are skipped the same way. Every other frame is
//! buffered whole, under a limit checked as soon as its header is in: a HEADERS frame
//! over `max_field_section` is skipped unread and reported as
//! [`Frame::HeadersTooLarge`] (the server answers 431); the others end the connection.
//!
//! The decoder also enforces which frames a stream may carry (§7.2, §6.2.1): SETTINGS
//! first and once on a control stream, no control frames on request streams, no
//! HTTP/2-only frame types anywhere, and on a server's request streams the order of
//! §4.1 (HEADERS, DATA*, optional trailing HEADERS).

use bytes::{Buf, Bytes, BytesMut};

use crate::error::{ConnError, ErrorCode};
use crate::settings::Settings;
use crate::stream::{Side, StreamKind};
use crate::varint;

const DATA: u64 = 0x0;
const HEADERS: u64 = 0x1;
const CANCEL_PUSH: u64 = 0x3;
const SETTINGS: u64 = 0x4;
const PUSH_PROMISE: u64 = 0x5;
const GOAWAY: u64 = 0x7;
const MAX_PUSH_ID: u64 = 0xd;

/// PRIORITY, PING, WINDOW_UPDATE and CONTINUATION: HTTP/2 frames with no HTTP/3
/// counterpart, whose receipt is H3_FRAME_UNEXPECTED (§7.2.8).
const HTTP2_ONLY: [u64; 4] = [0x2, 0x6, 0x8, 0x9];

/// The largest SETTINGS payload accepted. Five known settings take at most 45 bytes;
/// the rest is room for reserved and extension settings.
pub const MAX_SETTINGS_LEN: u64 = 16 * 1024;

/// The most bytes one variable-length integer takes, and so the payload of
/// CANCEL_PUSH, GOAWAY and MAX_PUSH_ID.
const MAX_VARINT_LEN: u64 = 8;

/// One step of a stream's frames.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A DATA frame begins; its `len` payload bytes follow as [`Frame::DataChunk`]s.
    Data {
        /// The payload length the frame declares.
        len: u64,
    },
    /// The next piece of the current DATA frame's payload, never empty.
    DataChunk(Bytes),
    /// A HEADERS frame: one encoded field section, for the QPACK decoder.
    Headers(Bytes),
    /// A HEADERS frame longer than `max_field_section`: its payload is skipped without
    /// being buffered. The field section is lost, so the stream's QPACK state must be
    /// cancelled ([`crate::qpack::Decoder::cancel_stream`]) and the request refused
    /// (431).
    HeadersTooLarge {
        /// The payload length the frame declares.
        len: u64,
    },
    /// CANCEL_PUSH (§7.2.3).
    CancelPush {
        /// The push being cancelled.
        push_id: u64,
    },
    /// SETTINGS (§7.2.4), checked.
    Settings(Settings),
    /// PUSH_PROMISE (§7.2.5), which only a client receives.
    PushPromise {
        /// The push it promises.
        push_id: u64,
        /// The promised request's encoded field section.
        fields: Bytes,
    },
    /// GOAWAY (§7.2.6).
    GoAway {
        /// From a server, the first request stream it will not process; from a
        /// client, the first push ID it will not accept.
        id: u64,
    },
    /// MAX_PUSH_ID (§7.2.7), which only a server receives.
    MaxPushId {
        /// The largest push ID the server may use.
        push_id: u64,
    },
    /// A frame of a type this crate does not know, reserved types among them (§9): its
    /// payload is skipped. Reported because a control stream must not start with one.
    Unknown {
        /// The frame type.
        ty: u64,
        /// The payload length it declares.
        len: u64,
    },
}

/// Where the decoder is within the stream's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// At the start of a frame.
    Head,
    /// Inside a DATA payload with this much left.
    Data(u64),
    /// Inside a payload being discarded, with this much left.
    Skip(u64),
}

/// Where the stream is in its frame sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sequence {
    /// Nothing yet: a control stream waits for SETTINGS, a request for its HEADERS.
    Start,
    /// SETTINGS seen, or the request's HEADERS.
    Open,
    /// A request's trailing HEADERS seen: no more HEADERS or DATA.
    Trailers,
}

/// Decodes the frames of one stream, incrementally.
///
/// Feed it the stream's receive buffer after each read: [`FrameDecoder::decode`] takes
/// the next frame (or DATA piece) off its front and returns `Ok(None)` when it needs
/// more bytes. When the stream ends cleanly, [`FrameDecoder::finish`] checks that it did
/// not end inside a frame. Any error ends the connection (§7.1, §7.2).
#[derive(Clone, Debug)]
pub struct FrameDecoder {
    kind: StreamKind,
    side: Side,
    max_field_section: u64,
    state: State,
    sequence: Sequence,
}

impl FrameDecoder {
    /// A decoder for a stream of `kind`, read by `side`, that buffers HEADERS and
    /// PUSH_PROMISE field sections of at most `max_field_section` bytes (encoded).
    pub fn new(kind: StreamKind, side: Side, max_field_section: u64) -> Self {
        FrameDecoder {
            kind,
            side,
            max_field_section,
            state: State::Head,
            sequence: Sequence::Start,
        }
    }

    /// Takes the next frame, or the next piece of a DATA payload, off the front of
    /// `buf`. `Ok(None)` means more bytes are needed; what `buf` then holds is the start
    /// of a frame (skipped payloads are consumed as they come).
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, ConnError> {
        loop {
            match self.state {
                State::Head => return self.frame(buf),
                State::Data(left) => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let n = take(left, buf);
                    self.state = after(left, n, State::Data);
                    return Ok(Some(Frame::DataChunk(buf.split_to(n).freeze())));
                }
                State::Skip(left) => {
                    let n = take(left, buf);
                    buf.advance(n);
                    self.state = after(left, n, State::Skip);
                    if self.state != State::Head {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// Checks that a stream which ended cleanly ended between frames, with `buf` (its
    /// receive buffer) empty: a truncated frame is H3_FRAME_ERROR (§7.1).
    pub fn finish(&self, buf: &BytesMut) -> Result<(), ConnError> {
        if self.state != State::Head || !buf.is_empty() {
            return Err(ConnError::new(
                ErrorCode::H3_FRAME_ERROR,
                "stream ended inside a frame",
            ));
        }
        Ok(())
    }

    fn frame(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, ConnError> {
        let Some((ty, a)) = varint::decode(buf) else {
            return Ok(None);
        };
        let Some((len, b)) = varint::decode(&buf[a..]) else {
            return Ok(None);
        };
        let head = a + b;
        self.check(ty)?;
        match ty {
            DATA => {
                buf.advance(head);
                self.state = after(len, 0, State::Data);
                return Ok(Some(Frame::Data { len }));
            }
            HEADERS if len > self.max_field_section => {
                buf.advance(head);
                self.state = after(len, 0, State::Skip);
                self.advance_sequence(ty);
                return Ok(Some(Frame::HeadersTooLarge { len }));
            }
            SETTINGS if len > MAX_SETTINGS_LEN => return Err(excessive("SETTINGS too large")),
            PUSH_PROMISE if len > self.max_field_section.saturating_add(MAX_VARINT_LEN) => {
                return Err(excessive("PUSH_PROMISE too large"));
            }
            CANCEL_PUSH | GOAWAY | MAX_PUSH_ID if len > MAX_VARINT_LEN => {
                return Err(frame_error("frame longer than its one integer"));
            }
            HEADERS | SETTINGS | PUSH_PROMISE | CANCEL_PUSH | GOAWAY | MAX_PUSH_ID => {}
            _ => {
                buf.advance(head);
                self.state = after(len, 0, State::Skip);
                return Ok(Some(Frame::Unknown { ty, len }));
            }
        }
        // Within the limits just checked, which the caller chose to buffer.
        let total = usize::try_from(len)
            .ok()
            .and_then(|len| len.checked_add(head))
            .ok_or(excessive("frame too large to buffer"))?;
        if buf.len() < total {
            buf.reserve(total - buf.len());
            return Ok(None);
        }
        let mut payload = buf.split_to(total).freeze();
        payload.advance(head);
        self.advance_sequence(ty);
        parse(ty, payload).map(Some)
    }

    /// The placement rules of §7.2 and §6.2.1, and the request sequence of §4.1.
    fn check(&self, ty: u64) -> Result<(), ConnError> {
        if HTTP2_ONLY.contains(&ty) {
            return Err(unexpected("HTTP/2 frame type"));
        }
        let server = self.side == Side::Server;
        match self.kind {
            StreamKind::Control => match (self.sequence, ty) {
                (Sequence::Start, SETTINGS) => Ok(()),
                (Sequence::Start, _) => Err(ConnError::new(
                    ErrorCode::H3_MISSING_SETTINGS,
                    "control stream did not start with SETTINGS",
                )),
                (_, SETTINGS) => Err(unexpected("second SETTINGS")),
                (_, DATA | HEADERS | PUSH_PROMISE) => Err(unexpected(
                    "DATA, HEADERS or PUSH_PROMISE on the control stream",
                )),
                (_, MAX_PUSH_ID) if !server => Err(unexpected("MAX_PUSH_ID sent to a client")),
                _ => Ok(()),
            },
            StreamKind::Request | StreamKind::Push => match ty {
                CANCEL_PUSH | SETTINGS | GOAWAY | MAX_PUSH_ID => {
                    Err(unexpected("control frame on a request or push stream"))
                }
                PUSH_PROMISE if server || self.kind == StreamKind::Push => {
                    Err(unexpected("PUSH_PROMISE where none may be"))
                }
                DATA if self.request_sequence() == Some(Sequence::Start) => {
                    Err(unexpected("DATA before HEADERS"))
                }
                DATA | HEADERS if self.request_sequence() == Some(Sequence::Trailers) => {
                    Err(unexpected("DATA or HEADERS after the trailers"))
                }
                _ => Ok(()),
            },
        }
    }

    /// The sequence of a request a server reads; a client's responses may have any
    /// number of interim HEADERS, which only the decoded status tells apart.
    fn request_sequence(&self) -> Option<Sequence> {
        (self.kind == StreamKind::Request && self.side == Side::Server).then_some(self.sequence)
    }

    fn advance_sequence(&mut self, ty: u64) {
        self.sequence = match (self.sequence, ty) {
            (Sequence::Start, SETTINGS | HEADERS) => Sequence::Open,
            (Sequence::Open, HEADERS) => Sequence::Trailers,
            (s, _) => s,
        };
    }
}

/// How much of a payload with `left` bytes to go is in `buf`.
fn take(left: u64, buf: &BytesMut) -> usize {
    // Below `buf.len()`, so it fits a usize.
    left.min(buf.len() as u64) as usize
}

/// The state once `n` of `left` payload bytes are consumed.
fn after(left: u64, n: usize, inside: fn(u64) -> State) -> State {
    match left - n as u64 {
        0 => State::Head,
        rest => inside(rest),
    }
}

fn parse(ty: u64, payload: Bytes) -> Result<Frame, ConnError> {
    Ok(match ty {
        HEADERS => Frame::Headers(payload),
        SETTINGS => Frame::Settings(Settings::decode(&payload)?),
        PUSH_PROMISE => {
            let (push_id, len) =
                varint::decode(&payload).ok_or(frame_error("PUSH_PROMISE without a push ID"))?;
            Frame::PushPromise {
                push_id,
                fields: payload.slice(len..),
            }
        }
        CANCEL_PUSH => Frame::CancelPush {
            push_id: one_integer(&payload)?,
        },
        GOAWAY => Frame::GoAway {
            id: one_integer(&payload)?,
        },
        MAX_PUSH_ID => Frame::MaxPushId {
            push_id: one_integer(&payload)?,
        },
        _ => unreachable!("frame() buffers only the types parse() knows"),
    })
}

/// A payload that must be exactly one integer (§10.8: lengths must agree).
fn one_integer(payload: &[u8]) -> Result<u64, ConnError> {
    match varint::decode(payload) {
        Some((value, len)) if len == payload.len() => Ok(value),
        _ => Err(frame_error("payload is not exactly one integer")),
    }
}

fn unexpected(reason: &'static str) -> ConnError {
    ConnError::new(ErrorCode::H3_FRAME_UNEXPECTED, reason)
}

fn frame_error(reason: &'static str) -> ConnError {
    ConnError::new(ErrorCode::H3_FRAME_ERROR, reason)
}

fn excessive(reason: &'static str) -> ConnError {
    ConnError::new(ErrorCode::H3_EXCESSIVE_LOAD, reason)
}

fn head(ty: u64, len: usize, out: &mut Vec<u8>) {
    varint::encode(ty, out);
    varint::encode(len as u64, out);
}

/// Appends a DATA frame header for a payload of `len` bytes, which the caller writes
/// after it (so a body `Bytes` can go out without being copied).
pub fn encode_data_header(len: u64, out: &mut Vec<u8>) {
    varint::encode(DATA, out);
    varint::encode(len, out);
}

/// Appends a DATA frame carrying `data`.
pub fn encode_data(data: &[u8], out: &mut Vec<u8>) {
    head(DATA, data.len(), out);
    out.extend_from_slice(data);
}

/// Appends a HEADERS frame carrying an encoded field section.
pub fn encode_headers(field_section: &[u8], out: &mut Vec<u8>) {
    head(HEADERS, field_section.len(), out);
    out.extend_from_slice(field_section);
}

/// Appends a SETTINGS frame, with one reserved setting besides `settings`.
pub fn encode_settings(settings: &Settings, out: &mut Vec<u8>) {
    let mut payload = Vec::new();
    settings.encode(&mut payload);
    head(SETTINGS, payload.len(), out);
    out.extend_from_slice(&payload);
}

/// Appends a CANCEL_PUSH frame.
pub fn encode_cancel_push(push_id: u64, out: &mut Vec<u8>) {
    one_integer_frame(CANCEL_PUSH, push_id, out);
}

/// Appends a GOAWAY frame.
pub fn encode_goaway(id: u64, out: &mut Vec<u8>) {
    one_integer_frame(GOAWAY, id, out);
}

/// Appends a MAX_PUSH_ID frame.
pub fn encode_max_push_id(push_id: u64, out: &mut Vec<u8>) {
    one_integer_frame(MAX_PUSH_ID, push_id, out);
}

/// Appends a PUSH_PROMISE frame.
pub fn encode_push_promise(push_id: u64, field_section: &[u8], out: &mut Vec<u8>) {
    head(
        PUSH_PROMISE,
        varint::encoded_len(push_id) + field_section.len(),
        out,
    );
    varint::encode(push_id, out);
    out.extend_from_slice(field_section);
}

/// Appends a frame of type `ty` with an opaque payload: for reserved frame types
/// (`0x1f * N + 0x21`), sent to exercise the peer or as padding (§7.2.8).
pub fn encode_unknown(ty: u64, payload: &[u8], out: &mut Vec<u8>) {
    head(ty, payload.len(), out);
    out.extend_from_slice(payload);
}

fn one_integer_frame(ty: u64, value: u64, out: &mut Vec<u8>) {
    head(ty, varint::encoded_len(value), out);
    varint::encode(value, out);
}

#[cfg(test)]
mod tests;
