//! HTTP/2 frames (RFC 9113 §4.1, §6): [`decode`] takes one frame off a receive buffer,
//! splitting its payload off as [`Bytes`] instead of copying it, and checks every
//! length, stream-identifier and value rule that needs no connection state; the
//! `encode_*` functions append frames to a send buffer.
//!
//! Rules that depend on stream or connection state (a frame on an idle stream, a
//! CONTINUATION that does not follow its HEADERS, flow-control windows) are the
//! connection's to check.

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};

use crate::error::{ConnError, ErrorCode, StreamError};
use crate::settings::{Settings, DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE};

/// Length of the header that precedes every frame payload.
pub const HEADER_LEN: usize = 9;

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const PRIORITY: u8 = 0x2;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PUSH_PROMISE: u8 = 0x5;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const WINDOW_UPDATE: u8 = 0x8;
const CONTINUATION: u8 = 0x9;

const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY_FLAG: u8 = 0x20;

/// Clears the reserved bit, which receivers must ignore (§4.1).
const STREAM_MASK: u32 = 0x7fff_ffff;

/// The stream-dependency fields of HEADERS and PRIORITY (§5.3.2, §6.3). RFC 9113
/// deprecates the scheme, but the fields must still be parsed and checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Priority {
    /// The stream this one depends on.
    pub dependency: u32,
    /// Whether the dependency is exclusive.
    pub exclusive: bool,
    /// The weight as sent: one less than the weight it stands for (1..=256).
    pub weight: u8,
}

impl Priority {
    /// Checks that the stream does not depend on itself, a stream error (§5.3.1).
    ///
    /// [`decode`] applies this to PRIORITY frames but not to HEADERS, whose field
    /// block must still reach the HPACK decoder to keep its state in step with the
    /// peer's; the connection calls this once it has decoded the block.
    pub fn check(&self, stream: u32) -> Result<(), StreamError> {
        if self.dependency == stream {
            return Err(StreamError {
                stream,
                code: ErrorCode::PROTOCOL_ERROR,
                reason: "stream depends on itself",
            });
        }
        Ok(())
    }

    fn parse(b: &[u8]) -> Priority {
        let dep = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        Priority {
            dependency: dep & STREAM_MASK,
            exclusive: dep & !STREAM_MASK != 0,
            weight: b[4],
        }
    }

    fn put(&self, out: &mut Vec<u8>) {
        let dep = self.dependency & STREAM_MASK | u32::from(self.exclusive) << 31;
        out.extend_from_slice(&dep.to_be_bytes());
        out.push(self.weight);
    }
}

/// One decoded frame. Stream identifiers have the reserved bit cleared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// DATA (§6.1), without its padding.
    Data {
        /// The stream it belongs to, never 0.
        stream: u32,
        /// The data.
        data: Bytes,
        /// Whether this is the stream's last frame.
        end_stream: bool,
        /// The whole payload length including padding, all of which counts against
        /// flow control (§6.9).
        flow_len: u32,
    },
    /// HEADERS (§6.2), without its padding. The priority is not checked against the
    /// stream (see [`Priority::check`]).
    Headers {
        /// The stream it opens or belongs to, never 0.
        stream: u32,
        /// The start of the field block, or all of it if `end_headers`.
        fragment: Bytes,
        /// Whether this is the stream's last frame.
        end_stream: bool,
        /// Whether the field block ends here rather than in CONTINUATION frames.
        end_headers: bool,
        /// The priority fields, if the PRIORITY flag was set.
        priority: Option<Priority>,
    },
    /// PRIORITY (§6.3).
    Priority {
        /// The stream it describes, never 0.
        stream: u32,
        /// Its fields, which never make the stream depend on itself.
        priority: Priority,
    },
    /// RST_STREAM (§6.4).
    RstStream {
        /// The stream it ends, never 0.
        stream: u32,
        /// Why.
        code: ErrorCode,
    },
    /// SETTINGS (§6.5) with its values checked.
    Settings(Settings),
    /// SETTINGS with the ACK flag.
    SettingsAck,
    /// PING (§6.7).
    Ping {
        /// Whether this answers a PING.
        ack: bool,
        /// The opaque data, echoed in the answer.
        data: [u8; 8],
    },
    /// GOAWAY (§6.8).
    GoAway {
        /// The highest stream the sender may have processed.
        last_stream: u32,
        /// Why the connection is closing.
        code: ErrorCode,
        /// Opaque diagnostic data.
        debug: Bytes,
    },
    /// WINDOW_UPDATE (§6.9).
    WindowUpdate {
        /// The stream whose window grows, or 0 for the connection's.
        stream: u32,
        /// How much it grows, never 0.
        increment: u32,
    },
    /// CONTINUATION (§6.10).
    Continuation {
        /// The stream of the HEADERS it continues, never 0.
        stream: u32,
        /// The next part of the field block.
        fragment: Bytes,
        /// Whether the field block ends here.
        end_headers: bool,
    },
    /// A frame of a type this crate does not know, to be ignored (§5.5) unless it
    /// interrupts a field block (§6.10); its payload is discarded.
    Unknown {
        /// The frame type.
        ty: u8,
        /// The stream identifier.
        stream: u32,
    },
}

/// A frame that broke a rule, with the scope the RFC gives the error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The connection must end with GOAWAY. The receive buffer's contents are then
    /// meaningless.
    Conn(ConnError),
    /// The stream must end with RST_STREAM; the frame has been consumed and decoding
    /// goes on.
    Stream(StreamError),
}

impl From<ConnError> for FrameError {
    fn from(e: ConnError) -> Self {
        FrameError::Conn(e)
    }
}

impl From<StreamError> for FrameError {
    fn from(e: StreamError) -> Self {
        FrameError::Stream(e)
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Conn(e) => e.fmt(f),
            FrameError::Stream(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for FrameError {}

fn conn(code: ErrorCode, reason: &'static str) -> FrameError {
    FrameError::Conn(ConnError::new(code, reason))
}

/// Takes one frame off the front of `buf`.
///
/// Returns `Ok(None)` while the frame is incomplete, leaving `buf` as it is. A frame
/// longer than `max_frame_size` (the SETTINGS_MAX_FRAME_SIZE this endpoint advertised)
/// is refused as soon as its header is in, so it is never buffered. Otherwise the whole
/// frame is consumed, whether it decodes to a frame or to an error.
pub fn decode(buf: &mut BytesMut, max_frame_size: u32) -> Result<Option<Frame>, FrameError> {
    let Some(head) = buf.get(..HEADER_LEN) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes([0, head[0], head[1], head[2]]);
    let ty = head[3];
    let flags = head[4];
    let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & STREAM_MASK;
    if len > max_frame_size {
        return Err(conn(
            ErrorCode::FRAME_SIZE_ERROR,
            "frame larger than SETTINGS_MAX_FRAME_SIZE",
        ));
    }
    let total = HEADER_LEN + len as usize;
    if buf.len() < total {
        return Ok(None);
    }
    let mut payload = buf.split_to(total).freeze();
    payload.advance(HEADER_LEN);
    parse(ty, flags, stream, payload).map(Some)
}

fn parse(ty: u8, flags: u8, stream: u32, payload: Bytes) -> Result<Frame, FrameError> {
    let len = payload.len();
    Ok(match ty {
        DATA => {
            on_stream(stream, "DATA on stream 0")?;
            Frame::Data {
                stream,
                data: unpad(payload, flags, 0)?,
                end_stream: flags & END_STREAM != 0,
                // The length field is 24 bits wide, so this never truncates.
                flow_len: len as u32,
            }
        }
        HEADERS => {
            on_stream(stream, "HEADERS on stream 0")?;
            let fixed = if flags & PRIORITY_FLAG != 0 { 5 } else { 0 };
            let mut fragment = unpad(payload, flags, fixed)?;
            let priority = (fixed != 0).then(|| Priority::parse(&fragment[..5]));
            fragment.advance(fixed);
            Frame::Headers {
                stream,
                fragment,
                end_stream: flags & END_STREAM != 0,
                end_headers: flags & END_HEADERS != 0,
                priority,
            }
        }
        PRIORITY => {
            on_stream(stream, "PRIORITY on stream 0")?;
            if len != 5 {
                return Err(FrameError::Stream(StreamError {
                    stream,
                    code: ErrorCode::FRAME_SIZE_ERROR,
                    reason: "PRIORITY length not 5",
                }));
            }
            let priority = Priority::parse(&payload);
            priority.check(stream)?;
            Frame::Priority { stream, priority }
        }
        RST_STREAM => {
            on_stream(stream, "RST_STREAM on stream 0")?;
            exact_len(len, 4, "RST_STREAM length not 4")?;
            Frame::RstStream {
                stream,
                code: ErrorCode(u32_at(&payload, 0)),
            }
        }
        SETTINGS => {
            on_connection(stream, "SETTINGS on a stream")?;
            if flags & ACK != 0 {
                exact_len(len, 0, "SETTINGS ACK with a payload")?;
                Frame::SettingsAck
            } else {
                Frame::Settings(Settings::decode(&payload)?)
            }
        }
        // A server has push disabled for its clients by definition (§8.4).
        PUSH_PROMISE => {
            return Err(conn(
                ErrorCode::PROTOCOL_ERROR,
                "PUSH_PROMISE sent to a server",
            ))
        }
        PING => {
            on_connection(stream, "PING on a stream")?;
            exact_len(len, 8, "PING length not 8")?;
            let mut data = [0; 8];
            data.copy_from_slice(&payload);
            Frame::Ping {
                ack: flags & ACK != 0,
                data,
            }
        }
        GOAWAY => {
            on_connection(stream, "GOAWAY on a stream")?;
            if len < 8 {
                return Err(conn(ErrorCode::FRAME_SIZE_ERROR, "GOAWAY shorter than 8"));
            }
            Frame::GoAway {
                last_stream: u32_at(&payload, 0) & STREAM_MASK,
                code: ErrorCode(u32_at(&payload, 4)),
                debug: payload.slice(8..),
            }
        }
        WINDOW_UPDATE => {
            exact_len(len, 4, "WINDOW_UPDATE length not 4")?;
            let increment = u32_at(&payload, 0) & STREAM_MASK;
            if increment == 0 {
                let reason = "WINDOW_UPDATE increment 0";
                return Err(if stream == 0 {
                    conn(ErrorCode::PROTOCOL_ERROR, reason)
                } else {
                    FrameError::Stream(StreamError {
                        stream,
                        code: ErrorCode::PROTOCOL_ERROR,
                        reason,
                    })
                });
            }
            Frame::WindowUpdate { stream, increment }
        }
        CONTINUATION => {
            on_stream(stream, "CONTINUATION on stream 0")?;
            Frame::Continuation {
                stream,
                fragment: payload,
                end_headers: flags & END_HEADERS != 0,
            }
        }
        _ => Frame::Unknown { ty, stream },
    })
}

fn on_stream(stream: u32, reason: &'static str) -> Result<(), FrameError> {
    if stream == 0 {
        return Err(conn(ErrorCode::PROTOCOL_ERROR, reason));
    }
    Ok(())
}

fn on_connection(stream: u32, reason: &'static str) -> Result<(), FrameError> {
    if stream != 0 {
        return Err(conn(ErrorCode::PROTOCOL_ERROR, reason));
    }
    Ok(())
}

fn exact_len(len: usize, want: usize, reason: &'static str) -> Result<(), FrameError> {
    if len != want {
        return Err(conn(ErrorCode::FRAME_SIZE_ERROR, reason));
    }
    Ok(())
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Strips the Pad Length octet and the padding, keeping the `fixed` octets of
/// mandatory fields that follow Pad Length in front of the content.
fn unpad(mut payload: Bytes, flags: u8, fixed: usize) -> Result<Bytes, FrameError> {
    let pad_field = usize::from(flags & PADDED != 0);
    if payload.len() < pad_field + fixed {
        return Err(conn(
            ErrorCode::FRAME_SIZE_ERROR,
            "payload too short for its fields",
        ));
    }
    if pad_field == 0 {
        return Ok(payload);
    }
    let pad = usize::from(payload[0]);
    if pad > payload.len() - 1 - fixed {
        return Err(conn(
            ErrorCode::PROTOCOL_ERROR,
            "padding as long as the payload",
        ));
    }
    payload.truncate(payload.len() - pad);
    payload.advance(1);
    Ok(payload)
}

fn put_head(out: &mut Vec<u8>, len: usize, ty: u8, flags: u8, stream: u32) {
    debug_assert!(len <= MAX_MAX_FRAME_SIZE as usize, "frame payload too long");
    let len = (len as u32).to_be_bytes();
    out.extend_from_slice(&[len[1], len[2], len[3], ty, flags]);
    out.extend_from_slice(&(stream & STREAM_MASK).to_be_bytes());
}

fn flag(set: bool, flag: u8) -> u8 {
    if set {
        flag
    } else {
        0
    }
}

/// Appends a field block as one HEADERS frame followed by as many CONTINUATION frames
/// as `max_frame_size` (the peer's SETTINGS_MAX_FRAME_SIZE) makes it need. A value
/// below 16384 counts as 16384, which every peer accepts.
pub fn encode_headers(
    stream: u32,
    block: &[u8],
    end_stream: bool,
    max_frame_size: u32,
    out: &mut Vec<u8>,
) {
    let max = max_frame_size.clamp(DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE) as usize;
    let (first, mut rest) = block.split_at(block.len().min(max));
    let flags = flag(end_stream, END_STREAM) | flag(rest.is_empty(), END_HEADERS);
    put_head(out, first.len(), HEADERS, flags, stream);
    out.extend_from_slice(first);
    while !rest.is_empty() {
        let (part, tail) = rest.split_at(rest.len().min(max));
        rest = tail;
        put_head(
            out,
            part.len(),
            CONTINUATION,
            flag(rest.is_empty(), END_HEADERS),
            stream,
        );
        out.extend_from_slice(part);
    }
}

/// Appends only the header of a DATA frame carrying `len` octets, for a driver that
/// writes the payload from its own buffer. `len` must not exceed the peer's
/// SETTINGS_MAX_FRAME_SIZE.
pub fn encode_data_head(stream: u32, len: u32, end_stream: bool, out: &mut Vec<u8>) {
    put_head(
        out,
        len as usize,
        DATA,
        flag(end_stream, END_STREAM),
        stream,
    );
}

/// Appends a DATA frame. `data` must not exceed the peer's SETTINGS_MAX_FRAME_SIZE.
pub fn encode_data(stream: u32, data: &[u8], end_stream: bool, out: &mut Vec<u8>) {
    put_head(out, data.len(), DATA, flag(end_stream, END_STREAM), stream);
    out.extend_from_slice(data);
}

/// Appends a SETTINGS frame carrying each value `settings` sets.
pub fn encode_settings(settings: &Settings, out: &mut Vec<u8>) {
    let start = out.len();
    put_head(out, 0, SETTINGS, 0, 0);
    settings.encode(out);
    let len = ((out.len() - start - HEADER_LEN) as u32).to_be_bytes();
    out[start..start + 3].copy_from_slice(&len[1..]);
}

/// Appends a SETTINGS frame acknowledging the peer's.
pub fn encode_settings_ack(out: &mut Vec<u8>) {
    put_head(out, 0, SETTINGS, ACK, 0);
}

/// Appends a PING frame, or with `ack` the answer to one.
pub fn encode_ping(ack: bool, data: [u8; 8], out: &mut Vec<u8>) {
    put_head(out, 8, PING, flag(ack, ACK), 0);
    out.extend_from_slice(&data);
}

/// Appends a GOAWAY frame. Debug data beyond what fits in the smallest frame every
/// peer accepts is left out.
pub fn encode_goaway(last_stream: u32, code: ErrorCode, debug: &[u8], out: &mut Vec<u8>) {
    let debug = &debug[..debug.len().min(DEFAULT_MAX_FRAME_SIZE as usize - 8)];
    put_head(out, 8 + debug.len(), GOAWAY, 0, 0);
    out.extend_from_slice(&(last_stream & STREAM_MASK).to_be_bytes());
    out.extend_from_slice(&code.0.to_be_bytes());
    out.extend_from_slice(debug);
}

/// Appends a RST_STREAM frame.
pub fn encode_rst_stream(stream: u32, code: ErrorCode, out: &mut Vec<u8>) {
    put_head(out, 4, RST_STREAM, 0, stream);
    out.extend_from_slice(&code.0.to_be_bytes());
}

/// Appends a WINDOW_UPDATE frame for `stream`, or for the connection with stream 0.
/// `increment` must be in 1..=2^31−1.
pub fn encode_window_update(stream: u32, increment: u32, out: &mut Vec<u8>) {
    put_head(out, 4, WINDOW_UPDATE, 0, stream);
    out.extend_from_slice(&(increment & STREAM_MASK).to_be_bytes());
}

/// Appends a PRIORITY frame.
pub fn encode_priority(stream: u32, priority: &Priority, out: &mut Vec<u8>) {
    put_head(out, 5, PRIORITY, 0, stream);
    priority.put(out);
}

/// Appends any frame as one frame, so that [`decode`] gives it back: DATA is padded
/// to `flow_len` (by up to 256 octets), HEADERS is not split, and an unknown type
/// gets an empty payload.
pub fn encode(frame: &Frame, out: &mut Vec<u8>) {
    match frame {
        Frame::Data {
            stream,
            data,
            end_stream,
            flow_len,
        } => {
            let pad = (*flow_len as usize).saturating_sub(data.len()).min(256);
            if pad == 0 {
                encode_data(*stream, data, *end_stream, out);
            } else {
                let flags = flag(*end_stream, END_STREAM) | PADDED;
                put_head(out, data.len() + pad, DATA, flags, *stream);
                out.push((pad - 1) as u8);
                out.extend_from_slice(data);
                out.resize(out.len() + pad - 1, 0);
            }
        }
        Frame::Headers {
            stream,
            fragment,
            end_stream,
            end_headers,
            priority,
        } => {
            let flags = flag(*end_stream, END_STREAM)
                | flag(*end_headers, END_HEADERS)
                | flag(priority.is_some(), PRIORITY_FLAG);
            let prio_len = if priority.is_some() { 5 } else { 0 };
            put_head(out, prio_len + fragment.len(), HEADERS, flags, *stream);
            if let Some(p) = priority {
                p.put(out);
            }
            out.extend_from_slice(fragment);
        }
        Frame::Priority { stream, priority } => encode_priority(*stream, priority, out),
        Frame::RstStream { stream, code } => encode_rst_stream(*stream, *code, out),
        Frame::Settings(s) => encode_settings(s, out),
        Frame::SettingsAck => encode_settings_ack(out),
        Frame::Ping { ack, data } => encode_ping(*ack, *data, out),
        Frame::GoAway {
            last_stream,
            code,
            debug,
        } => encode_goaway(*last_stream, *code, debug, out),
        Frame::WindowUpdate { stream, increment } => encode_window_update(*stream, *increment, out),
        Frame::Continuation {
            stream,
            fragment,
            end_headers,
        } => {
            put_head(
                out,
                fragment.len(),
                CONTINUATION,
                flag(*end_headers, END_HEADERS),
                *stream,
            );
            out.extend_from_slice(fragment);
        }
        Frame::Unknown { ty, stream } => put_head(out, 0, *ty, 0, *stream),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: u32 = DEFAULT_MAX_FRAME_SIZE;

    fn raw(ty: u8, flags: u8, stream: u32, payload: &[u8]) -> BytesMut {
        let mut out = Vec::new();
        put_head(&mut out, payload.len(), ty, flags, stream);
        out.extend_from_slice(payload);
        BytesMut::from(&out[..])
    }

    /// Decodes one whole frame that must be valid, checking it was all consumed.
    fn ok(ty: u8, flags: u8, stream: u32, payload: &[u8]) -> Frame {
        let mut buf = raw(ty, flags, stream, payload);
        let frame = decode(&mut buf, MAX).unwrap().unwrap();
        assert!(buf.is_empty());
        frame
    }

    fn conn_err(ty: u8, flags: u8, stream: u32, payload: &[u8], code: ErrorCode) {
        let mut buf = raw(ty, flags, stream, payload);
        match decode(&mut buf, MAX) {
            Err(FrameError::Conn(e)) => assert_eq!(e.code, code, "{}", e.reason),
            other => panic!("want a connection {code}, got {other:?}"),
        }
    }

    /// A stream error must consume its frame so the next one can be read.
    fn stream_err(ty: u8, flags: u8, stream: u32, payload: &[u8], code: ErrorCode) {
        let mut buf = raw(ty, flags, stream, payload);
        buf.extend_from_slice(&raw(PING, 0, 0, &[7; 8]));
        match decode(&mut buf, MAX) {
            Err(FrameError::Stream(e)) => {
                assert_eq!((e.stream, e.code), (stream, code), "{}", e.reason)
            }
            other => panic!("want a stream {code}, got {other:?}"),
        }
        let next = decode(&mut buf, MAX).unwrap().unwrap();
        assert_eq!(
            next,
            Frame::Ping {
                ack: false,
                data: [7; 8]
            }
        );
    }

    #[test]
    fn incomplete_frames_wait_and_consume_nothing() {
        let whole = raw(DATA, 0, 1, b"hello");
        for cut in 0..whole.len() {
            let mut buf = BytesMut::from(&whole[..cut]);
            assert_eq!(decode(&mut buf, MAX), Ok(None));
            assert_eq!(buf.len(), cut);
        }
    }

    #[test]
    fn exactly_one_frame_is_consumed() {
        let mut buf = raw(PING, ACK, 0, &[1; 8]);
        buf.extend_from_slice(&raw(DATA, 0, 3, b"x"));
        buf.extend_from_slice(&[0, 0]);
        assert!(matches!(
            decode(&mut buf, MAX),
            Ok(Some(Frame::Ping { ack: true, .. }))
        ));
        assert_eq!(buf.len(), HEADER_LEN + 1 + 2);
        assert!(matches!(
            decode(&mut buf, MAX),
            Ok(Some(Frame::Data { stream: 3, .. }))
        ));
        assert_eq!(&buf[..], &[0, 0]);
    }

    #[test]
    fn payloads_share_the_receive_buffer() {
        let mut buf = raw(DATA, 0, 1, b"payload");
        let at = buf.as_ptr() as usize + HEADER_LEN;
        let Some(Frame::Data { data, .. }) = decode(&mut buf, MAX).unwrap() else {
            panic!("not DATA");
        };
        assert_eq!(data.as_ptr() as usize, at);
    }

    #[test]
    fn a_frame_over_max_frame_size_is_refused_from_its_header() {
        let mut buf = raw(DATA, 0, 1, &vec![0; MAX as usize + 1]);
        buf.truncate(HEADER_LEN);
        match decode(&mut buf, MAX) {
            Err(FrameError::Conn(e)) => assert_eq!(e.code, ErrorCode::FRAME_SIZE_ERROR),
            other => panic!("{other:?}"),
        }
        let mut buf = raw(DATA, 0, 1, &vec![0; MAX as usize + 1]);
        assert!(decode(&mut buf, MAX + 1).unwrap().is_some());
        conn_err(
            0xfa,
            0,
            0,
            &vec![0; MAX as usize + 1],
            ErrorCode::FRAME_SIZE_ERROR,
        );
    }

    #[test]
    fn data_frames_strip_padding_but_count_it() {
        assert_eq!(
            ok(DATA, END_STREAM, 5, b"abc"),
            Frame::Data {
                stream: 5,
                data: Bytes::from_static(b"abc"),
                end_stream: true,
                flow_len: 3
            }
        );
        assert_eq!(
            ok(DATA, PADDED, 5, b"\x02abc\0\0"),
            Frame::Data {
                stream: 5,
                data: Bytes::from_static(b"abc"),
                end_stream: false,
                flow_len: 6
            }
        );
        // Padding may take everything after the Pad Length octet.
        assert_eq!(
            ok(DATA, PADDED, 5, b"\x02\0\0"),
            Frame::Data {
                stream: 5,
                data: Bytes::new(),
                end_stream: false,
                flow_len: 3
            }
        );
    }

    #[test]
    fn padding_as_long_as_the_payload_is_a_protocol_error() {
        conn_err(DATA, PADDED, 1, b"\x03ab", ErrorCode::PROTOCOL_ERROR);
        conn_err(DATA, PADDED, 1, b"\x01", ErrorCode::PROTOCOL_ERROR);
        conn_err(DATA, PADDED, 1, b"\xff", ErrorCode::PROTOCOL_ERROR);
        conn_err(HEADERS, PADDED, 1, b"\x03ab", ErrorCode::PROTOCOL_ERROR);
        // With priority fields the padding may not eat into them either.
        let payload = b"\x01\0\0\0\0\x10";
        conn_err(
            HEADERS,
            PADDED | PRIORITY_FLAG,
            1,
            payload,
            ErrorCode::PROTOCOL_ERROR,
        );
    }

    #[test]
    fn a_padded_frame_without_room_for_pad_length_is_a_frame_size_error() {
        conn_err(DATA, PADDED, 1, b"", ErrorCode::FRAME_SIZE_ERROR);
        conn_err(HEADERS, PADDED, 1, b"", ErrorCode::FRAME_SIZE_ERROR);
        conn_err(
            HEADERS,
            PRIORITY_FLAG,
            1,
            b"\0\0\0\0",
            ErrorCode::FRAME_SIZE_ERROR,
        );
        let payload = b"\0\0\0\0\0";
        conn_err(
            HEADERS,
            PADDED | PRIORITY_FLAG,
            1,
            payload,
            ErrorCode::FRAME_SIZE_ERROR,
        );
    }

    #[test]
    fn headers_frames_with_padding_and_priority() {
        assert_eq!(
            ok(HEADERS, END_HEADERS, 1, b"block"),
            Frame::Headers {
                stream: 1,
                fragment: Bytes::from_static(b"block"),
                end_stream: false,
                end_headers: true,
                priority: None
            }
        );
        let payload = b"\x01\x80\0\0\x03\x0fblock\0";
        let flags = PADDED | PRIORITY_FLAG | END_STREAM;
        assert_eq!(
            ok(HEADERS, flags, 7, payload),
            Frame::Headers {
                stream: 7,
                fragment: Bytes::from_static(b"block"),
                end_stream: true,
                end_headers: false,
                priority: Some(Priority {
                    dependency: 3,
                    exclusive: true,
                    weight: 15
                })
            }
        );
    }

    #[test]
    fn headers_depending_on_their_own_stream_are_left_to_the_connection() {
        let Frame::Headers { priority, .. } = ok(HEADERS, PRIORITY_FLAG, 3, b"\0\0\0\x03\0") else {
            panic!("not HEADERS");
        };
        let err = priority.unwrap().check(3).unwrap_err();
        assert_eq!((err.stream, err.code), (3, ErrorCode::PROTOCOL_ERROR));
    }

    #[test]
    fn frames_that_need_a_stream_refuse_stream_zero() {
        let cases: [(u8, &[u8]); 5] = [
            (DATA, b"x"),
            (HEADERS, b"x"),
            (PRIORITY, b"\0\0\0\x01\0"),
            (RST_STREAM, b"\0\0\0\0"),
            (CONTINUATION, b"x"),
        ];
        for (ty, payload) in cases {
            conn_err(ty, 0, 0, payload, ErrorCode::PROTOCOL_ERROR);
        }
    }

    #[test]
    fn connection_frames_refuse_a_stream() {
        conn_err(SETTINGS, 0, 1, b"", ErrorCode::PROTOCOL_ERROR);
        conn_err(SETTINGS, ACK, 1, b"", ErrorCode::PROTOCOL_ERROR);
        conn_err(PING, 0, 1, &[0; 8], ErrorCode::PROTOCOL_ERROR);
        conn_err(GOAWAY, 0, 1, &[0; 8], ErrorCode::PROTOCOL_ERROR);
    }

    #[test]
    fn the_reserved_bit_is_ignored() {
        let mut buf = raw(RST_STREAM, 0, 0, &[0, 0, 0, 8]);
        buf[5] |= 0x80;
        buf[8] = 3;
        assert_eq!(
            decode(&mut buf, MAX),
            Ok(Some(Frame::RstStream {
                stream: 3,
                code: ErrorCode::CANCEL
            }))
        );
        // A stream-0 frame with only the reserved bit set is still on stream 0.
        let mut buf = raw(PING, 0, 0, &[0; 8]);
        buf[5] = 0x80;
        assert!(matches!(
            decode(&mut buf, MAX),
            Ok(Some(Frame::Ping { .. }))
        ));
        assert_eq!(
            ok(GOAWAY, 0, 0, b"\x80\0\0\x05\0\0\0\x01"),
            Frame::GoAway {
                last_stream: 5,
                code: ErrorCode::PROTOCOL_ERROR,
                debug: Bytes::new()
            }
        );
        assert_eq!(
            ok(WINDOW_UPDATE, 0, 0, b"\x80\0\0\x01"),
            Frame::WindowUpdate {
                stream: 0,
                increment: 1
            }
        );
    }

    #[test]
    fn priority_frames() {
        assert_eq!(
            ok(PRIORITY, 0, 5, b"\0\0\0\x03\xff"),
            Frame::Priority {
                stream: 5,
                priority: Priority {
                    dependency: 3,
                    exclusive: false,
                    weight: 255
                }
            }
        );
        stream_err(PRIORITY, 0, 5, b"\0\0\0\x03", ErrorCode::FRAME_SIZE_ERROR);
        stream_err(
            PRIORITY,
            0,
            5,
            b"\0\0\0\x03\0\0",
            ErrorCode::FRAME_SIZE_ERROR,
        );
        stream_err(PRIORITY, 0, 5, b"\x80\0\0\x05\0", ErrorCode::PROTOCOL_ERROR);
    }

    #[test]
    fn rst_stream_frames() {
        assert_eq!(
            ok(RST_STREAM, 0xff, 1, b"\0\0\x12\x34"),
            Frame::RstStream {
                stream: 1,
                code: ErrorCode(0x1234)
            }
        );
        conn_err(RST_STREAM, 0, 1, b"\0\0\0", ErrorCode::FRAME_SIZE_ERROR);
        conn_err(RST_STREAM, 0, 1, b"\0\0\0\0\0", ErrorCode::FRAME_SIZE_ERROR);
    }

    #[test]
    fn settings_frames() {
        assert_eq!(
            ok(SETTINGS, 0, 0, b"\0\x03\0\0\0\x64\0\x99\0\0\0\x01"),
            Frame::Settings(Settings {
                max_concurrent_streams: Some(100),
                ..Settings::default()
            })
        );
        assert_eq!(
            ok(SETTINGS, 0, 0, b""),
            Frame::Settings(Settings::default())
        );
        assert_eq!(ok(SETTINGS, ACK, 0, b""), Frame::SettingsAck);
        conn_err(SETTINGS, 0, 0, b"\0\x03\0\0\0", ErrorCode::FRAME_SIZE_ERROR);
        conn_err(
            SETTINGS,
            ACK,
            0,
            b"\0\x03\0\0\0\x01",
            ErrorCode::FRAME_SIZE_ERROR,
        );
        conn_err(
            SETTINGS,
            0,
            0,
            b"\0\x02\0\0\0\x02",
            ErrorCode::PROTOCOL_ERROR,
        );
        conn_err(
            SETTINGS,
            0,
            0,
            b"\0\x04\x80\0\0\0",
            ErrorCode::FLOW_CONTROL_ERROR,
        );
        conn_err(
            SETTINGS,
            0,
            0,
            b"\0\x05\0\0\x3f\xff",
            ErrorCode::PROTOCOL_ERROR,
        );
        conn_err(
            SETTINGS,
            0,
            0,
            b"\0\x05\x01\0\0\0",
            ErrorCode::PROTOCOL_ERROR,
        );
        conn_err(
            SETTINGS,
            0,
            0,
            b"\0\x08\0\0\0\x02",
            ErrorCode::PROTOCOL_ERROR,
        );
    }

    #[test]
    fn push_promise_is_refused_by_a_server() {
        conn_err(
            PUSH_PROMISE,
            END_HEADERS,
            1,
            b"\0\0\0\x02",
            ErrorCode::PROTOCOL_ERROR,
        );
    }

    #[test]
    fn ping_frames() {
        assert_eq!(
            ok(PING, ACK | 0xf0, 0, b"12345678"),
            Frame::Ping {
                ack: true,
                data: *b"12345678"
            }
        );
        conn_err(PING, 0, 0, b"1234567", ErrorCode::FRAME_SIZE_ERROR);
        conn_err(PING, 0, 0, b"123456789", ErrorCode::FRAME_SIZE_ERROR);
    }

    #[test]
    fn goaway_frames() {
        assert_eq!(
            ok(GOAWAY, 0, 0, b"\0\0\0\x07\0\0\0\x0bcalm down"),
            Frame::GoAway {
                last_stream: 7,
                code: ErrorCode::ENHANCE_YOUR_CALM,
                debug: Bytes::from_static(b"calm down")
            }
        );
        conn_err(
            GOAWAY,
            0,
            0,
            b"\0\0\0\x07\0\0\0",
            ErrorCode::FRAME_SIZE_ERROR,
        );
    }

    #[test]
    fn window_update_frames() {
        assert_eq!(
            ok(WINDOW_UPDATE, 0, 9, b"\x7f\xff\xff\xff"),
            Frame::WindowUpdate {
                stream: 9,
                increment: 0x7fff_ffff
            }
        );
        conn_err(
            WINDOW_UPDATE,
            0,
            9,
            b"\0\0\x01",
            ErrorCode::FRAME_SIZE_ERROR,
        );
        conn_err(
            WINDOW_UPDATE,
            0,
            0,
            b"\0\0\0\0\x01",
            ErrorCode::FRAME_SIZE_ERROR,
        );
        conn_err(WINDOW_UPDATE, 0, 0, b"\0\0\0\0", ErrorCode::PROTOCOL_ERROR);
        stream_err(WINDOW_UPDATE, 0, 9, b"\0\0\0\0", ErrorCode::PROTOCOL_ERROR);
        // Only the reserved bit set is still an increment of 0.
        stream_err(
            WINDOW_UPDATE,
            0,
            9,
            b"\x80\0\0\0",
            ErrorCode::PROTOCOL_ERROR,
        );
    }

    #[test]
    fn continuation_frames() {
        assert_eq!(
            ok(CONTINUATION, END_HEADERS | PADDED, 3, b"\x01rest"),
            Frame::Continuation {
                stream: 3,
                fragment: Bytes::from_static(b"\x01rest"),
                end_headers: true
            }
        );
    }

    #[test]
    fn unknown_types_and_flags_are_ignored() {
        assert_eq!(
            ok(0x0a, 0xff, 0, b"whatever"),
            Frame::Unknown {
                ty: 0x0a,
                stream: 0
            }
        );
        assert_eq!(
            ok(0xff, 0, 11, b""),
            Frame::Unknown {
                ty: 0xff,
                stream: 11
            }
        );
        assert_eq!(
            ok(DATA, 0xf6, 1, b"x"),
            Frame::Data {
                stream: 1,
                data: Bytes::from_static(b"x"),
                end_stream: false,
                flow_len: 1
            }
        );
    }

    fn decode_all(bytes: &[u8]) -> Vec<Frame> {
        let mut buf = BytesMut::from(bytes);
        let mut frames = Vec::new();
        while let Some(f) = decode(&mut buf, MAX_MAX_FRAME_SIZE).unwrap() {
            frames.push(f);
        }
        assert!(buf.is_empty());
        frames
    }

    #[test]
    fn a_field_block_is_split_at_the_peers_max_frame_size() {
        let block: Vec<u8> = (0..40_000u32).map(|i| i as u8).collect();
        let mut out = Vec::new();
        encode_headers(1, &block, true, MAX, &mut out);
        let frames = decode_all(&out);
        assert_eq!(frames.len(), 3);
        let mut joined = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            let last = i == frames.len() - 1;
            match f {
                Frame::Headers {
                    stream: 1,
                    fragment,
                    end_stream: true,
                    end_headers,
                    priority: None,
                } if i == 0 => {
                    assert_eq!(*end_headers, last);
                    joined.extend_from_slice(fragment);
                }
                Frame::Continuation {
                    stream: 1,
                    fragment,
                    end_headers,
                } if i > 0 => {
                    assert_eq!(*end_headers, last);
                    joined.extend_from_slice(fragment);
                }
                other => panic!("frame {i}: {other:?}"),
            }
        }
        assert_eq!(joined, block);
        out.clear();
        encode_headers(1, &block, true, 100, &mut out);
        assert_eq!(
            decode_all(&out),
            frames,
            "a limit below 16384 counts as 16384"
        );
        out.clear();
        encode_headers(1, b"", false, MAX, &mut out);
        assert_eq!(out, raw(HEADERS, END_HEADERS, 1, b""));
    }

    #[test]
    fn data_can_be_written_as_a_head_and_a_separate_payload() {
        let mut out = Vec::new();
        encode_data_head(3, 5, true, &mut out);
        assert_eq!(out.len(), HEADER_LEN);
        out.extend_from_slice(b"hello");
        let mut whole = Vec::new();
        encode_data(3, b"hello", true, &mut whole);
        assert_eq!(out, whole);
        assert_eq!(out, raw(DATA, END_STREAM, 3, b"hello"));
    }

    #[test]
    fn control_frames_encode_to_their_wire_form() {
        let mut out = Vec::new();
        encode_settings_ack(&mut out);
        assert_eq!(out, raw(SETTINGS, ACK, 0, b""));
        out.clear();
        encode_ping(true, *b"abcdefgh", &mut out);
        assert_eq!(out, raw(PING, ACK, 0, b"abcdefgh"));
        out.clear();
        encode_rst_stream(5, ErrorCode::CANCEL, &mut out);
        assert_eq!(out, raw(RST_STREAM, 0, 5, b"\0\0\0\x08"));
        out.clear();
        encode_window_update(0, 1000, &mut out);
        assert_eq!(out, raw(WINDOW_UPDATE, 0, 0, b"\0\0\x03\xe8"));
        out.clear();
        encode_goaway(9, ErrorCode::NO_ERROR, b"bye", &mut out);
        assert_eq!(out, raw(GOAWAY, 0, 0, b"\0\0\0\x09\0\0\0\0bye"));
        out.clear();
        let settings = Settings {
            max_concurrent_streams: Some(100),
            enable_push: Some(false),
            ..Settings::default()
        };
        encode_settings(&settings, &mut out);
        assert_eq!(out, raw(SETTINGS, 0, 0, b"\0\x02\0\0\0\0\0\x03\0\0\0\x64"));
    }

    #[test]
    fn goaway_debug_data_is_cut_to_fit_any_peer() {
        let mut out = Vec::new();
        encode_goaway(1, ErrorCode::NO_ERROR, &[b'x'; 20_000], &mut out);
        assert_eq!(out.len(), HEADER_LEN + MAX as usize);
        assert!(matches!(
            decode(&mut BytesMut::from(&out[..]), MAX),
            Ok(Some(Frame::GoAway { .. }))
        ));
    }
}
