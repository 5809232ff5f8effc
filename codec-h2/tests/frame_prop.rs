//! Property tests for the frame layer: every valid frame survives encode → decode,
//! the way the input is split never changes what is decoded, and no input panics.

use proptest::prelude::*;
use roadrunner_h2::bytes::{Bytes, BytesMut};
use roadrunner_h2::frame::{self, decode, encode, HEADER_LEN};
use roadrunner_h2::{
    ErrorCode, Frame, FrameError, Priority, Settings, MAX_MAX_FRAME_SIZE, MAX_WINDOW_SIZE,
};

const STREAM_MAX: u32 = MAX_WINDOW_SIZE;

fn stream() -> impl Strategy<Value = u32> {
    prop_oneof![1..=9u32, 1..=STREAM_MAX]
}

fn bytes(max: usize) -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

fn priority_for(stream: u32) -> impl Strategy<Value = Priority> {
    (0..=STREAM_MAX, any::<bool>(), any::<u8>()).prop_map(move |(dep, exclusive, weight)| {
        Priority {
            // A stream may not depend on itself; 0 never is one.
            dependency: if dep == stream { 0 } else { dep },
            exclusive,
            weight,
        }
    })
}

fn settings() -> impl Strategy<Value = Settings> {
    (
        (
            prop::option::of(any::<u32>()),
            prop::option::of(any::<bool>()),
            prop::option::of(any::<u32>()),
            prop::option::of(0..=MAX_WINDOW_SIZE),
        ),
        (
            prop::option::of(16_384..=MAX_MAX_FRAME_SIZE),
            prop::option::of(any::<u32>()),
            prop::option::of(any::<bool>()),
        ),
    )
        .prop_map(|((hts, push, mcs, iws), (mfs, mhls, connect))| Settings {
            header_table_size: hts,
            enable_push: push,
            max_concurrent_streams: mcs,
            initial_window_size: iws,
            max_frame_size: mfs,
            max_header_list_size: mhls,
            enable_connect_protocol: connect,
        })
}

fn any_frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        (
            stream(),
            bytes(300),
            any::<bool>(),
            prop::option::of(0..=255u32)
        )
            .prop_map(|(stream, data, end_stream, pad)| Frame::Data {
                stream,
                flow_len: data.len() as u32 + pad.map_or(0, |p| p + 1),
                data,
                end_stream,
            }),
        (stream(), bytes(300), any::<bool>(), any::<bool>()).prop_flat_map(
            |(stream, fragment, end_stream, end_headers)| {
                prop::option::of(priority_for(stream)).prop_map(move |priority| Frame::Headers {
                    stream,
                    fragment: fragment.clone(),
                    end_stream,
                    end_headers,
                    priority,
                })
            }
        ),
        stream().prop_flat_map(|stream| priority_for(stream)
            .prop_map(move |priority| Frame::Priority { stream, priority })),
        (stream(), any::<u32>()).prop_map(|(stream, code)| Frame::RstStream {
            stream,
            code: ErrorCode(code)
        }),
        settings().prop_map(Frame::Settings),
        Just(Frame::SettingsAck),
        (any::<bool>(), any::<[u8; 8]>()).prop_map(|(ack, data)| Frame::Ping { ack, data }),
        (0..=STREAM_MAX, any::<u32>(), bytes(100)).prop_map(|(last_stream, code, debug)| {
            Frame::GoAway {
                last_stream,
                code: ErrorCode(code),
                debug,
            }
        }),
        (0..=STREAM_MAX, 1..=MAX_WINDOW_SIZE)
            .prop_map(|(stream, increment)| Frame::WindowUpdate { stream, increment }),
        (stream(), bytes(300), any::<bool>()).prop_map(|(stream, fragment, end_headers)| {
            Frame::Continuation {
                stream,
                fragment,
                end_headers,
            }
        }),
        (0x0au8..=0xff, 0..=STREAM_MAX).prop_map(|(ty, stream)| Frame::Unknown { ty, stream }),
    ]
}

/// Feeds `pieces` one after another, decoding whatever is complete after each.
fn decode_pieces<'a>(pieces: impl IntoIterator<Item = &'a [u8]>) -> (Vec<Frame>, usize) {
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        while let Some(f) = decode(&mut buf, MAX_MAX_FRAME_SIZE).expect("valid frames") {
            frames.push(f);
        }
    }
    (frames, buf.len())
}

fn split<'a>(input: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.push(0);
    cuts.push(input.len());
    cuts.sort_unstable();
    cuts.windows(2).map(|w| &input[w[0]..w[1]]).collect()
}

/// Frame-shaped input: a header with a known or unknown type, any flags, a small
/// stream and a length that mostly matches the payload, so decoding gets past the
/// header into every type's payload rules.
fn frame_like() -> impl Strategy<Value = Vec<u8>> {
    (
        0u8..=11,
        any::<u8>(),
        prop_oneof![0..=3u32, any::<u32>()],
        prop::collection::vec(any::<u8>(), 0..24),
        prop::option::of(0..30u32),
    )
        .prop_map(|(ty, flags, stream, payload, len)| {
            let len = len.unwrap_or(payload.len() as u32).to_be_bytes();
            let mut out = vec![len[1], len[2], len[3], ty, flags];
            out.extend_from_slice(&stream.to_be_bytes());
            out.extend_from_slice(&payload);
            out
        })
}

fn junk() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        prop::collection::vec(frame_like(), 0..6).prop_map(|v| v.concat()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_frame_round_trips(f in any_frame()) {
        let mut out = Vec::new();
        encode(&f, &mut out);
        let mut buf = BytesMut::from(&out[..]);
        prop_assert_eq!(decode(&mut buf, MAX_MAX_FRAME_SIZE), Ok(Some(f)));
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn the_split_does_not_change_the_frames(
        frames in prop::collection::vec(any_frame(), 1..8),
        cuts in prop::collection::vec(any::<usize>(), 0..40),
    ) {
        let mut input = Vec::new();
        for f in &frames {
            encode(f, &mut input);
        }
        prop_assert_eq!(decode_pieces([&input[..]]), (frames.clone(), 0));
        prop_assert_eq!(decode_pieces(split(&input, &cuts)), (frames.clone(), 0));
        prop_assert_eq!(decode_pieces(input.chunks(1)), (frames, 0));
    }

    #[test]
    fn field_blocks_split_and_join_back(
        block in prop::collection::vec(any::<u8>(), 0..50_000),
        max in 16_384u32..20_000,
        stream in stream(),
        end_stream in any::<bool>(),
    ) {
        let mut out = Vec::new();
        frame::encode_headers(stream, &block, end_stream, max, &mut out);
        let mut buf = BytesMut::from(&out[..]);
        let mut joined = Vec::new();
        let mut ended = false;
        let mut first = true;
        while let Some(f) = decode(&mut buf, max).expect("valid frames") {
            prop_assert!(!ended, "a frame after END_HEADERS");
            match f {
                Frame::Headers { stream: s, fragment, end_stream: es, end_headers, priority: None }
                    if first =>
                {
                    prop_assert_eq!((s, es), (stream, end_stream));
                    joined.extend_from_slice(&fragment);
                    ended = end_headers;
                }
                Frame::Continuation { stream: s, fragment, end_headers } if !first => {
                    prop_assert_eq!(s, stream);
                    prop_assert!(!fragment.is_empty());
                    joined.extend_from_slice(&fragment);
                    ended = end_headers;
                }
                other => prop_assert!(false, "unexpected {:?}", other),
            }
            first = false;
        }
        prop_assert!(ended && buf.is_empty());
        prop_assert_eq!(joined, block);
    }

    #[test]
    fn decode_never_panics_consumes_whole_frames_and_re_encodes_them(
        input in junk(),
        max in prop_oneof![Just(16_384u32), 0..64u32],
    ) {
        let mut buf = BytesMut::from(&input[..]);
        loop {
            let before = buf.len();
            let declared = buf.get(..3).map(|l| {
                HEADER_LEN + u32::from_be_bytes([0, l[0], l[1], l[2]]) as usize
            });
            match decode(&mut buf, max) {
                Ok(None) => {
                    prop_assert_eq!(buf.len(), before);
                    break;
                }
                Ok(Some(f)) => {
                    prop_assert_eq!(Some(before - buf.len()), declared);
                    let mut out = Vec::new();
                    encode(&f, &mut out);
                    let mut again = BytesMut::from(&out[..]);
                    prop_assert_eq!(decode(&mut again, MAX_MAX_FRAME_SIZE), Ok(Some(f)));
                    prop_assert!(again.is_empty());
                }
                Err(FrameError::Stream(_)) => {
                    prop_assert_eq!(Some(before - buf.len()), declared);
                }
                Err(FrameError::Conn(_)) => break,
            }
        }
    }
}
