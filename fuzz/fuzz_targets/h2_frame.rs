//! Feeds arbitrary bytes in arbitrary splits to the HTTP/2 frame decoder and checks
//! that it never panics, consumes exactly the frames it reports, that every decoded
//! frame re-encodes to itself, and that the split does not matter.
#![no_main]

use arbitrary::Arbitrary;
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use roadrunner_h2::frame::{decode, encode, HEADER_LEN};
use roadrunner_h2::{Frame, FrameError, DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE};

/// The raw bytes come last so they are taken whole.
#[derive(Arbitrary, Debug)]
struct Input<'a> {
    large_frames: bool,
    splits: Vec<u16>,
    data: &'a [u8],
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Frame(Frame),
    StreamError(FrameError),
}

/// Decodes what the pieces hold; returns the frames and stream errors in order, the
/// connection error that ended decoding if any, and how many bytes were consumed.
fn run<'a>(
    max: u32,
    pieces: impl IntoIterator<Item = &'a [u8]>,
) -> (Vec<Outcome>, Option<FrameError>, usize) {
    let mut buf = BytesMut::new();
    let mut seen = Vec::new();
    let mut consumed = 0;
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            let before = buf.len();
            let declared = buf
                .get(..3)
                .map(|l| HEADER_LEN + u32::from_be_bytes([0, l[0], l[1], l[2]]) as usize);
            match decode(&mut buf, max) {
                Ok(None) => {
                    assert_eq!(buf.len(), before, "consumed while waiting");
                    break;
                }
                Ok(Some(frame)) => {
                    assert_eq!(Some(before - buf.len()), declared);
                    consumed += before - buf.len();
                    let mut out = Vec::new();
                    encode(&frame, &mut out);
                    let mut again = BytesMut::from(&out[..]);
                    let decoded = decode(&mut again, MAX_MAX_FRAME_SIZE);
                    assert_eq!(decoded, Ok(Some(frame.clone())), "re-encoding changed it");
                    assert!(again.is_empty());
                    seen.push(Outcome::Frame(frame));
                }
                Err(e @ FrameError::Stream(_)) => {
                    assert_eq!(Some(before - buf.len()), declared);
                    consumed += before - buf.len();
                    seen.push(Outcome::StreamError(e));
                }
                Err(e @ FrameError::Conn(_)) => return (seen, Some(e), consumed),
            }
        }
    }
    (seen, None, consumed)
}

fuzz_target!(|input: Input<'_>| {
    // Small limits reach the frame-size checks with short inputs.
    let max = if input.large_frames {
        DEFAULT_MAX_FRAME_SIZE
    } else {
        32
    };
    let data = input.data;
    let mut cuts: Vec<usize> = input
        .splits
        .iter()
        .map(|&s| usize::from(s) % (data.len() + 1))
        .collect();
    cuts.extend([0, data.len()]);
    cuts.sort_unstable();
    let pieces: Vec<&[u8]> = cuts.windows(2).map(|w| &data[w[0]..w[1]]).collect();

    let whole = run(max, [data]);
    assert!(whole.2 <= data.len());
    let split = run(max, pieces);
    assert_eq!(split, whole, "the split changed the outcome");
});
