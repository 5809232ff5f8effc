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
mod tests;
