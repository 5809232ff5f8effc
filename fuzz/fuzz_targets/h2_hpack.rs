//! Feeds arbitrary header blocks, several in a row, to one HPACK `Decoder`, and checks
//! that it never panics, that a list stays within its limit, that what it decoded
//! survives our own encoder and a fresh decoder, and that the field rules only ever
//! answer with stream errors.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use roadrunner_h2::{
    request_head, trailers, DecodeError, DecodedList, Decoder, Encoder, ErrorCode,
};

/// The raw bytes come last so they are taken whole.
#[derive(Arbitrary, Debug)]
struct Input<'a> {
    table_size: Option<u16>,
    max_list_size: u16,
    connect_protocol: bool,
    splits: Vec<u16>,
    data: &'a [u8],
}

fn counted(list: &DecodedList) -> usize {
    list.fields().iter().map(|(n, v)| n.len() + v.len() + 32).sum()
}

fuzz_target!(|input: Input<'_>| {
    let data = input.data;
    let mut cuts: Vec<usize> = input.splits.iter().map(|&s| usize::from(s) % (data.len() + 1)).collect();
    cuts.extend([0, data.len()]);
    cuts.sort_unstable();
    let max = usize::from(input.max_list_size);

    let mut decoder = Decoder::new();
    if let Some(size) = input.table_size {
        decoder.set_max_table_size(usize::from(size));
    }
    // A second pair carries every decoded list through our encoder, across blocks.
    let mut encoder = Encoder::new();
    let mut check = Decoder::new();
    for w in cuts.windows(2) {
        let list = match decoder.decode(&data[w[0]..w[1]], max) {
            Ok(list) => list,
            Err(DecodeError::TooLarge(list)) => {
                assert!(counted(&list) <= max, "stored past the limit");
                assert_eq!(list.size(), counted(&list));
                continue;
            }
            // The connection ends: nothing more is decoded on it.
            Err(DecodeError::Compression(_)) => return,
        };
        assert!(list.size() <= max, "accepted past the limit");
        assert_eq!(list.size(), counted(&list));

        let mut block = Vec::new();
        encoder.encode(list.fields().iter().map(|(n, v)| (&n[..], &v[..])), &mut block);
        assert_eq!(check.decode(&block, usize::MAX).as_ref(), Ok(&list), "round trip");

        for result in [
            request_head(1, list.clone(), input.connect_protocol).map(drop),
            trailers(1, list).map(drop),
        ] {
            if let Err(e) = result {
                assert_eq!((e.stream, e.code), (1, ErrorCode::PROTOCOL_ERROR));
            }
        }
    }
});
