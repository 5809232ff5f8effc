//! A test-only WebSocket client: frames masked byte by byte (independently of the
//! codec's word-at-a-time unmasking), permessage-deflate done with `flate2` directly,
//! and a reader for what the server writes.
#![allow(dead_code)]

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use roadrunner_ws::{Config, Event, ProtocolError, Session};

pub const CONT: u8 = 0x0;
pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xa;

pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A client frame: FIN, RSV1, opcode, masked payload.
pub fn frame(fin: bool, rsv1: bool, opcode: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | (u8::from(rsv1) << 6) | opcode];
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= 0xffff {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

/// A whole, unfragmented, uncompressed client frame with the usual key.
pub fn whole(opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame(true, false, opcode, payload, KEY)
}

/// A close frame's payload.
pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason.as_bytes());
    p
}

/// A frame as the server wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerFrame {
    pub fin: bool,
    pub rsv1: bool,
    pub opcode: u8,
    pub payload: Vec<u8>,
}

/// Reads every frame the server wrote; panics on a masked one or trailing bytes.
pub fn server_frames(mut buf: &[u8]) -> Vec<ServerFrame> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let (b0, b1) = (buf[0], buf[1]);
        assert_eq!(b1 & 0x80, 0, "a server frame was masked");
        assert_eq!(b0 & 0x30, 0, "RSV2/RSV3 set by the server");
        let (len, mut at) = match b1 & 0x7f {
            126 => (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(buf[2..10].try_into().unwrap()) as usize,
                10,
            ),
            n => (n as usize, 2),
        };
        out.push(ServerFrame {
            fin: b0 & 0x80 != 0,
            rsv1: b0 & 0x40 != 0,
            opcode: b0 & 0x0f,
            payload: buf[at..at + len].to_vec(),
        });
        at += len;
        buf = &buf[at..];
    }
    out
}

/// Everything the server has queued, as frames.
pub fn transmitted(session: &mut Session) -> Vec<ServerFrame> {
    let mut out = Vec::new();
    session.poll_transmit(&mut out);
    server_frames(&out)
}

/// Drains the events; stops at the first error.
pub fn events(session: &mut Session) -> (Vec<Event>, Option<ProtocolError>) {
    let mut events = Vec::new();
    loop {
        match session.poll_event() {
            Ok(Some(e)) => events.push(e),
            Ok(None) => return (events, None),
            Err(e) => return (events, Some(e)),
        }
    }
}

pub fn session() -> Session {
    Session::new(Config::default(), None)
}

pub fn small(max_frame: usize, max_message: usize) -> Session {
    Session::new(Config::new(max_frame, max_message).unwrap(), None)
}

/// Asserts that the session queued exactly one close frame with `code`.
pub fn assert_closed_with(session: &mut Session, code: u16) {
    let frames = transmitted(session);
    let closes: Vec<_> = frames.iter().filter(|f| f.opcode == CLOSE).collect();
    assert_eq!(closes.len(), 1, "{frames:?}");
    assert_eq!(closes[0].payload[..2], code.to_be_bytes(), "{frames:?}");
    assert!(session.is_closed());
}

/// A client's permessage-deflate compressor.
pub struct ClientDeflate {
    c: Compress,
    no_context: bool,
}

impl ClientDeflate {
    pub fn new(no_context: bool) -> Self {
        ClientDeflate {
            c: Compress::new(Compression::new(6), false),
            no_context,
        }
    }

    /// A message's compressed payload, tail stripped (RFC 7692 §7.2.1).
    pub fn compress(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() + 64);
        let mut input = data;
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity() + 64);
            }
            let before = self.c.total_in();
            self.c
                .compress_vec(input, &mut out, FlushCompress::Sync)
                .unwrap();
            input = &input[(self.c.total_in() - before) as usize..];
            if input.is_empty() && out.len() < out.capacity() {
                break;
            }
        }
        assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
        out.truncate(out.len() - 4);
        if self.no_context {
            self.c.reset();
        }
        out
    }
}

/// A client's permessage-deflate decompressor, for what the server sends.
pub struct ClientInflate(Decompress);

impl ClientInflate {
    pub fn new() -> Self {
        ClientInflate(Decompress::new(false))
    }

    pub fn inflate(&mut self, payload: &[u8]) -> Vec<u8> {
        let mut input = payload.to_vec();
        input.extend_from_slice(&[0, 0, 0xff, 0xff]);
        let mut out = Vec::with_capacity(payload.len() * 4 + 64);
        let mut rest = &input[..];
        loop {
            if out.capacity() - out.len() < 1024 {
                out.reserve(out.capacity() + 1024);
            }
            let before = self.0.total_in();
            self.0
                .decompress_vec(rest, &mut out, FlushDecompress::Sync)
                .unwrap();
            rest = &rest[(self.0.total_in() - before) as usize..];
            if rest.is_empty() && out.len() < out.capacity() {
                return out;
            }
        }
    }
}
