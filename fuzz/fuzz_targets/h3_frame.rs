//! Feeds arbitrary bytes in arbitrary splits to an HTTP/3 frame decoder, for every
//! kind of stream and either side, and checks that it never panics, never holds more
//! than a frame header and its buffered payload, that the split does not change what
//! is decoded, and that every decoded frame re-encodes to bytes that decode to it.
#![no_main]

use arbitrary::Arbitrary;
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use roadrunner_h3::frame::{self, MAX_SETTINGS_LEN};
use roadrunner_h3::{ErrorCode, Frame, FrameDecoder, Side, StreamKind};

/// The raw bytes come last so they are taken whole.
#[derive(Arbitrary, Debug)]
struct Input<'a> {
    kind: u8,
    server: bool,
    small_limit: bool,
    splits: Vec<u16>,
    data: &'a [u8],
}

/// A decoded frame with its DATA payload reassembled.
#[derive(Clone, Debug, PartialEq)]
enum Whole {
    Data(Vec<u8>),
    Other(Frame),
}

fn run<'a>(
    decoder: &mut FrameDecoder,
    limit: u64,
    pieces: impl IntoIterator<Item = &'a [u8]>,
) -> (Vec<Whole>, Option<ErrorCode>) {
    let mut buf = BytesMut::new();
    let mut seen = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(Frame::Data { .. })) => seen.push(Whole::Data(Vec::new())),
                Ok(Some(Frame::DataChunk(chunk))) => {
                    assert!(!chunk.is_empty());
                    match seen.last_mut() {
                        Some(Whole::Data(d)) => d.extend_from_slice(&chunk),
                        other => panic!("a DATA chunk after {other:?}"),
                    }
                }
                Ok(Some(f)) => seen.push(Whole::Other(f)),
                Ok(None) => break,
                Err(e) => return (seen, Some(e.code)),
            }
        }
        let most = limit.saturating_add(8).max(MAX_SETTINGS_LEN).saturating_add(16);
        assert!(buf.len() as u64 <= most);
    }
    let end = decoder.finish(&buf).err().map(|e| e.code);
    (seen, end)
}

/// Re-encodes one decoded frame; `None` for those reported without their payload.
fn encode(f: &Whole) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    match f {
        Whole::Data(d) => frame::encode_data(d, &mut out),
        Whole::Other(Frame::Headers(h)) => frame::encode_headers(h, &mut out),
        Whole::Other(Frame::Settings(s)) => frame::encode_settings(s, &mut out),
        Whole::Other(Frame::PushPromise { push_id, fields }) => {
            frame::encode_push_promise(*push_id, fields, &mut out)
        }
        Whole::Other(Frame::GoAway { id }) => frame::encode_goaway(*id, &mut out),
        Whole::Other(Frame::MaxPushId { push_id }) => frame::encode_max_push_id(*push_id, &mut out),
        Whole::Other(Frame::CancelPush { push_id }) => frame::encode_cancel_push(*push_id, &mut out),
        _ => return None,
    }
    Some(out)
}

fuzz_target!(|input: Input<'_>| {
    let kind = match input.kind % 3 {
        0 => StreamKind::Request,
        1 => StreamKind::Control,
        _ => StreamKind::Push,
    };
    let side = if input.server { Side::Server } else { Side::Client };
    // A small limit reaches the oversized-HEADERS path with short inputs.
    let limit = if input.small_limit { 16 } else { 16_384 };
    let data = input.data;
    let mut cuts: Vec<usize> = input
        .splits
        .iter()
        .map(|&s| usize::from(s) % (data.len() + 1))
        .collect();
    cuts.extend([0, data.len()]);
    cuts.sort_unstable();
    let pieces: Vec<&[u8]> = cuts.windows(2).map(|w| &data[w[0]..w[1]]).collect();

    let whole = run(&mut FrameDecoder::new(kind, side, limit), limit, [data]);
    let split = run(&mut FrameDecoder::new(kind, side, limit), limit, pieces);
    assert_eq!(split, whole, "the split changed the outcome");

    // Each frame alone, re-encoded, decodes to itself on a stream that allows it: a
    // client's request stream for DATA, HEADERS and PUSH_PROMISE, a server's control
    // stream (after SETTINGS) for the rest.
    for f in &whole.0 {
        let Some(wire) = encode(f) else { continue };
        let (kind, side, prelude) = match f {
            Whole::Data(_) | Whole::Other(Frame::Headers(_) | Frame::PushPromise { .. }) => {
                (StreamKind::Request, Side::Client, Vec::new())
            }
            Whole::Other(Frame::Settings(_)) => (StreamKind::Control, Side::Server, Vec::new()),
            _ => {
                let mut settings = Vec::new();
                frame::encode_settings(&Default::default(), &mut settings);
                (StreamKind::Control, Side::Server, settings)
            }
        };
        let mut decoder = FrameDecoder::new(kind, side, u64::MAX);
        let (mut again, error) = run(&mut decoder, u64::MAX, [&prelude[..], &wire[..]]);
        assert_eq!(error, None);
        if !prelude.is_empty() {
            again.remove(0);
        }
        assert_eq!(again, [f.clone()], "re-encoding changed it");
    }
});
