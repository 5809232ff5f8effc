//! Feeds a whole `ServerConn` what a client might send: a valid connection preface
//! half of the time, then client frames built from the input (requests through a real
//! HPACK encoder, DATA, resets, window updates, SETTINGS, PINGs, PRIORITY, trailers,
//! CONTINUATION), then arbitrary bytes, all in arbitrary splits. It is driven as a
//! driver would drive it: reads only while it wants them, every event drained, every
//! request answered with a small response, the output taken after each read.
//!
//! Checks that it never panics, that `poll_event` fails at most once and says nothing
//! after, that everything written decodes as whole valid frames, that open streams
//! stay within `max_concurrent_streams`, that buffered input stays bounded, and that a
//! connection that has not failed always wants to read once its output is taken.
#![no_main]

use arbitrary::Arbitrary;
use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use roadrunner_h2::conn::PREFACE;
use roadrunner_h2::frame::{self, HEADER_LEN};
use roadrunner_h2::http::{HeaderMap, StatusCode};
use roadrunner_h2::{
    Config, Encoder, ErrorCode, Event, Priority, ServerConn, Settings, DEFAULT_MAX_FRAME_SIZE,
    MAX_MAX_FRAME_SIZE,
};

/// A frame a client sends. Stream numbers are small and mapped to odd ids, so that
/// frames meet the streams that requests opened.
#[derive(Arbitrary, Debug)]
enum ClientFrame {
    Request {
        stream: u8,
        end_stream: bool,
        content_length: Option<u8>,
        /// Leave the block open for CONTINUATIONs.
        open_block: bool,
    },
    Continuation {
        stream: u8,
        fragment: Vec<u8>,
        end_headers: bool,
    },
    Data {
        stream: u8,
        len: u8,
        end_stream: bool,
    },
    Trailers {
        stream: u8,
        end_stream: bool,
    },
    Rst {
        stream: u8,
        code: u8,
    },
    WindowUpdate {
        stream: u8,
        increment: u32,
    },
    Settings {
        initial_window_size: Option<u32>,
        max_frame_size: Option<u32>,
        header_table_size: Option<u16>,
    },
    SettingsAck,
    Ping {
        ack: bool,
    },
    Priority {
        stream: u8,
        dependency: u8,
    },
}

/// The raw bytes come last so they are taken whole.
#[derive(Arbitrary, Debug)]
struct Input<'a> {
    preface: bool,
    /// Small limits are reached with short inputs.
    max_concurrent_streams: u8,
    /// Response body length.
    body: u16,
    /// After which piece to start a graceful shutdown, if any.
    shutdown_after: Option<u8>,
    frames: Vec<ClientFrame>,
    splits: Vec<u16>,
    data: &'a [u8],
}

fn id(stream: u8) -> u32 {
    2 * u32::from(stream) + 1
}

fn encode(f: &ClientFrame, enc: &mut Encoder, out: &mut Vec<u8>) {
    match *f {
        ClientFrame::Request {
            stream,
            end_stream,
            content_length,
            open_block,
        } => {
            let length = content_length.map(|n| n.to_string());
            let mut fields = vec![
                (":method", if end_stream { "GET" } else { "POST" }),
                (":scheme", "https"),
                (":authority", "example.com"),
                (":path", "/"),
            ];
            if let Some(n) = &length {
                fields.push(("content-length", n));
            }
            let mut block = Vec::new();
            enc.encode(
                fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
                &mut block,
            );
            let start = out.len();
            frame::encode_headers(id(stream), &block, end_stream, 16_384, out);
            if open_block {
                // Clear END_HEADERS: the block goes on in CONTINUATION frames.
                out[start + 4] &= !0x4;
            }
        }
        ClientFrame::Continuation {
            stream,
            ref fragment,
            end_headers,
        } => {
            let fragment = &fragment[..fragment.len().min(16_384)];
            out.extend_from_slice(&(fragment.len() as u32).to_be_bytes()[1..]);
            out.push(0x9);
            out.push(if end_headers { 0x4 } else { 0 });
            out.extend_from_slice(&id(stream).to_be_bytes());
            out.extend_from_slice(fragment);
        }
        ClientFrame::Data {
            stream,
            len,
            end_stream,
        } => frame::encode_data(id(stream), &vec![b'd'; usize::from(len)], end_stream, out),
        ClientFrame::Trailers { stream, end_stream } => {
            let mut block = Vec::new();
            enc.encode([(&b"x-trailer"[..], &b"t"[..])].into_iter(), &mut block);
            frame::encode_headers(id(stream), &block, end_stream, 16_384, out);
        }
        ClientFrame::Rst { stream, code } => {
            frame::encode_rst_stream(id(stream), ErrorCode(u32::from(code % 16)), out)
        }
        ClientFrame::WindowUpdate { stream, increment } => {
            let increment = increment & 0x7fff_ffff;
            let stream = if stream == 0 { 0 } else { id(stream) };
            if increment != 0 {
                frame::encode_window_update(stream, increment, out);
            }
        }
        ClientFrame::Settings {
            initial_window_size,
            max_frame_size,
            header_table_size,
        } => {
            let settings = Settings {
                initial_window_size,
                max_frame_size,
                header_table_size: header_table_size.map(u32::from),
                ..Settings::default()
            };
            frame::encode_settings(&settings, out);
        }
        ClientFrame::SettingsAck => frame::encode_settings_ack(out),
        ClientFrame::Ping { ack } => frame::encode_ping(ack, *b"fuzzping", out),
        ClientFrame::Priority { stream, dependency } => {
            let priority = Priority {
                dependency: id(dependency),
                exclusive: false,
                weight: 16,
            };
            if dependency != stream {
                frame::encode_priority(id(stream), &priority, out);
            }
        }
    }
}

fuzz_target!(|input: Input<'_>| {
    let config = Config {
        max_concurrent_streams: u32::from(input.max_concurrent_streams % 8),
        ..Config::default()
    };
    let max_streams = config.max_concurrent_streams as usize;
    let max_block = config.max_header_block;
    let mut bytes = Vec::new();
    if input.preface {
        bytes.extend_from_slice(PREFACE);
    }
    let mut enc = Encoder::new();
    for f in &input.frames {
        encode(f, &mut enc, &mut bytes);
    }
    bytes.extend_from_slice(input.data);
    let mut cuts: Vec<usize> = input
        .splits
        .iter()
        .map(|&s| usize::from(s) % (bytes.len() + 1))
        .collect();
    cuts.extend([0, bytes.len()]);
    cuts.sort_unstable();
    let body = Bytes::from(vec![b'b'; usize::from(input.body)]);

    let mut server = ServerConn::new(config);
    let mut wire = BytesMut::new();
    let mut failed = false;
    for (i, w) in cuts.windows(2).enumerate() {
        let piece = &bytes[w[0]..w[1]];
        if !server.wants_read() {
            assert!(
                failed,
                "stalled: no error, output taken, and no read wanted"
            );
            break;
        }
        server.recv(piece);
        loop {
            match server.poll_event() {
                Ok(Some(event)) => {
                    assert!(!failed, "an event after the error");
                    answer(&mut server, event, &body);
                }
                Ok(None) => break,
                Err(_) => {
                    assert!(!failed, "a second error");
                    failed = true;
                }
            }
        }
        assert!(
            server.open_streams() <= max_streams,
            "over max_concurrent_streams"
        );
        let held = server.buffered().input;
        assert!(
            held <= HEADER_LEN + DEFAULT_MAX_FRAME_SIZE as usize + max_block + piece.len(),
            "buffered {held} after a read of {}",
            piece.len()
        );
        if input.shutdown_after == Some(i as u8) {
            server.shutdown();
        }
        let mut out = Vec::new();
        server.poll_transmit(&mut out);
        wire.extend_from_slice(&out);
        while frame::decode(&mut wire, MAX_MAX_FRAME_SIZE)
            .expect("valid frames")
            .is_some()
        {}
        assert!(wire.is_empty(), "a partial frame written");
    }
});

/// A small response for every request; body bytes handed back at once.
fn answer(server: &mut ServerConn, event: Event, body: &Bytes) {
    match event {
        Event::Request { stream, .. } => {
            server
                .send_response(stream, StatusCode::OK, &HeaderMap::new(), false)
                .expect("a new stream takes a response");
            server
                .send_data(stream, body.clone(), true)
                .expect("and its body");
        }
        Event::Data { stream, data, .. } => server.release(stream, data.len()),
        Event::Trailers { .. } | Event::Reset { .. } | Event::Writable { .. } => {}
    }
}
