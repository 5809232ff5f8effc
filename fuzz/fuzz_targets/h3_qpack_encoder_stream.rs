//! Feeds arbitrary bytes to the QPACK encoder-stream instruction parser and to a
//! decoder's encoder stream, in arbitrary splits. Checks that it never panics, that a
//! parsed instruction re-encodes to one that parses the same, that no shorter prefix of
//! it parses or fails, that the table stays within its capacity, and that the split
//! does not change the outcome.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use roadrunner_h3::qpack::{Decoder, DecoderConfig, EncoderInstruction};
use roadrunner_h3::ErrorCode;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    capacity: u16,
    max_string: u16,
    splits: Vec<u16>,
    data: &'a [u8],
}

/// Feeds `pieces` to a fresh decoder: the error, if any, and the table's state.
fn feed<'a>(
    capacity: usize,
    pieces: impl IntoIterator<Item = &'a [u8]>,
) -> (Option<ErrorCode>, u64, usize) {
    let mut decoder = Decoder::new(DecoderConfig {
        max_table_capacity: capacity,
        ..DecoderConfig::default()
    });
    let mut error = None;
    for piece in pieces {
        if let Err(e) = decoder.feed_encoder_stream(piece) {
            assert_eq!(e.code, ErrorCode::QPACK_ENCODER_STREAM_ERROR);
            error = Some(e.code);
            break;
        }
        assert!(decoder.table_size() <= capacity);
    }
    (error, decoder.insert_count(), decoder.table_size())
}

fuzz_target!(|input: Input<'_>| {
    let data = input.data;
    let max = u64::from(input.max_string);
    let mut rest = data;
    while let Ok(Some((instruction, len))) = EncoderInstruction::parse(rest, max) {
        assert!(len > 0 && len <= rest.len());
        for cut in 0..len {
            assert_eq!(EncoderInstruction::parse(&rest[..cut], max), Ok(None));
        }
        let mut again = Vec::new();
        instruction.encode(&mut again);
        let (reparsed, n) = EncoderInstruction::parse(&again, max)
            .expect("re-encoded is valid")
            .expect("whole");
        assert_eq!(n, again.len());
        assert_eq!(reparsed, instruction);
        rest = &rest[len..];
    }

    let capacity = usize::from(input.capacity);
    let mut cuts: Vec<usize> = input
        .splits
        .iter()
        .map(|&s| usize::from(s) % (data.len() + 1))
        .collect();
    cuts.extend([0, data.len()]);
    cuts.sort_unstable();
    let pieces: Vec<&[u8]> = cuts.windows(2).map(|w| &data[w[0]..w[1]]).collect();
    assert_eq!(feed(capacity, pieces), feed(capacity, [data]), "the split changed it");
});
