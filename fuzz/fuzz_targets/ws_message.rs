//! Message assembly under permessage-deflate: a `Session` that agreed to it is fed
//! client frames built from the input (masked, fragmented, with RSV1 anywhere, payloads
//! really compressed, or raw bytes posing as compressed, or inflation bombs), in
//! arbitrary splits, and echoes every message (compressing it back).
//!
//! Checks that it never panics, that no message and no message in assembly is ever
//! larger than `max_message_size` (so inflation stops at the cap), that `poll_event`
//! fails at most once and says nothing after, and that what the session sends inflates
//! back to the messages it echoed.
#![no_main]

use arbitrary::Arbitrary;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use libfuzzer_sys::fuzz_target;
use roadrunner_ws::{Config, DeflateParams, Event, Session};

#[derive(Arbitrary, Debug)]
enum Payload {
    /// Bytes deflated by a real compressor that keeps its context.
    Compressed(Vec<u8>),
    /// `len` copies of one byte, deflated: a bomb when `len` is large.
    Bomb { byte: u8, len: u32 },
    /// Arbitrary bytes, sent as they are.
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct ClientFrame {
    fin: bool,
    rsv1: bool,
    /// Taken modulo 16, so reserved opcodes come too.
    opcode: u8,
    mask: [u8; 4],
    payload: Payload,
}

#[derive(Arbitrary, Debug)]
struct Input {
    server_no_context_takeover: bool,
    server_window: u8,
    cap: u16,
    frames: Vec<ClientFrame>,
    splits: Vec<u16>,
}

fuzz_target!(|input: Input| {
    let max_message = usize::from(input.cap) * 4;
    let max_frame = max_message / 2;
    let params = DeflateParams {
        server_no_context_takeover: input.server_no_context_takeover,
        server_max_window_bits: 8 + input.server_window % 8,
        ..DeflateParams::default()
    };
    let config = Config::new(max_frame, max_message).expect("message cap over frame cap");

    let mut compressor = Compress::new(Compression::fast(), false);
    let mut wire = Vec::new();
    for f in &input.frames {
        let payload = match &f.payload {
            Payload::Compressed(data) => deflate(&mut compressor, data),
            Payload::Bomb { byte, len } => {
                let data = vec![*byte; (*len as usize) % (1 << 20)];
                deflate(&mut compressor, &data)
            }
            Payload::Raw(data) => data.clone(),
        };
        encode(f, &payload, &mut wire);
    }
    let mut cuts: Vec<usize> = input
        .splits
        .iter()
        .map(|&s| usize::from(s) % (wire.len() + 1))
        .collect();
    cuts.extend([0, wire.len()]);
    cuts.sort_unstable();

    let mut session = Session::new(config, Some(params));
    let mut echoed = Vec::new();
    let mut out = Vec::new();
    let mut failed = false;
    for w in cuts.windows(2) {
        if !session.wants_read() {
            break;
        }
        session.recv(&wire[w[0]..w[1]]);
        loop {
            match session.poll_event() {
                Ok(Some(event)) => {
                    assert!(!failed, "an event after the error");
                    let data = match event {
                        Event::Text(t) => t.into_bytes(),
                        Event::Binary(b) => b.to_vec(),
                        _ => continue,
                    };
                    assert!(data.len() <= max_message, "message over the cap");
                    if session.send_binary(data.clone()).is_ok() {
                        echoed.push(data);
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    assert!(!failed, "a second error");
                    failed = true;
                }
            }
        }
        assert!(session.buffered_input() <= 14 + max_frame + max_message);
        session.poll_transmit(&mut out);
    }
    check_echoes(&out, &echoed);
});

/// Compresses one message as a client does: sync flush, tail stripped.
fn deflate(c: &mut Compress, mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity() + 64);
        }
        let before = c.total_in();
        c.compress_vec(data, &mut out, FlushCompress::Sync)
            .expect("deflate");
        data = &data[(c.total_in() - before) as usize..];
        if data.is_empty() && out.len() < out.capacity() {
            break;
        }
    }
    out.truncate(out.len().saturating_sub(4));
    out
}

fn encode(f: &ClientFrame, payload: &[u8], out: &mut Vec<u8>) {
    out.push((u8::from(f.fin) << 7) | (u8::from(f.rsv1) << 6) | (f.opcode % 16));
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
    out.extend_from_slice(&f.mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ f.mask[i % 4]));
}

/// Every data frame the session sent inflates (with one client context) to the
/// message it echoed, in order.
fn check_echoes(mut buf: &[u8], echoed: &[Vec<u8>]) {
    let mut inflater = Decompress::new(false);
    let mut messages = echoed.iter();
    while !buf.is_empty() {
        let (b0, b1) = (buf[0], buf[1]);
        assert_eq!(b1 & 0x80, 0, "masked server frame");
        let (len, at) = match b1 & 0x7f {
            126 => (usize::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
            127 => (
                u64::from_be_bytes(buf[2..10].try_into().unwrap()) as usize,
                10,
            ),
            n => (usize::from(n), 2),
        };
        let payload = &buf[at..at + len];
        buf = &buf[at + len..];
        if b0 & 0x0f != 0x2 {
            assert_eq!(b0 & 0x40, 0, "a compressed control frame");
            continue;
        }
        let expected = messages.next().expect("a message nobody echoed");
        if b0 & 0x40 == 0 {
            assert_eq!(payload, &expected[..]);
            continue;
        }
        let mut input = payload.to_vec();
        input.extend_from_slice(&[0, 0, 0xff, 0xff]);
        let mut got = Vec::with_capacity(expected.len() + 64);
        let mut rest = &input[..];
        loop {
            if got.capacity() - got.len() < 1024 {
                got.reserve(got.capacity() + 1024);
            }
            let before = inflater.total_in();
            inflater
                .decompress_vec(rest, &mut got, FlushDecompress::Sync)
                .expect("inflate");
            rest = &rest[(inflater.total_in() - before) as usize..];
            if rest.is_empty() && got.len() < got.capacity() {
                break;
            }
        }
        assert_eq!(
            &got, expected,
            "an echo that does not inflate to its message"
        );
    }
}
