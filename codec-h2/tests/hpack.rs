//! Property tests for the HPACK layer: our encoder and decoder agree across blocks and
//! table sizes, and no byte string makes the decoder panic or overrun its limit.

use proptest::prelude::*;
use roadrunner_h2::{DecodeError, DecodedList, Decoder, Encoder};

type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// Names that repeat, so the dynamic table gets hits, plus arbitrary ones.
fn name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::sample::select(vec![
            ":status",
            "content-type",
            "x-trace",
            "x-a",
            "set-cookie"
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 0..40),
    ]
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::sample::select(vec!["200", "text/html", "1", ""]).prop_map(|s| s.as_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 0..300),
    ]
}

/// One block: the table-size settings received before it, then its fields.
fn block() -> impl Strategy<Value = (Vec<usize>, Fields)> {
    (
        prop::collection::vec(0usize..6000, 0..3),
        prop::collection::vec((name(), value()), 0..12),
    )
}

fn pairs(list: &DecodedList) -> Fields {
    list.fields()
        .iter()
        .map(|(n, v)| (n.to_vec(), v.to_vec()))
        .collect()
}

fn list_size(list: &DecodedList) -> usize {
    list.fields()
        .iter()
        .map(|(n, v)| n.len() + v.len() + 32)
        .sum()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn encoder_to_decoder_round_trips_across_blocks(blocks in prop::collection::vec(block(), 1..8)) {
        let mut enc = Encoder::new();
        let mut dec = Decoder::new();
        for (settings, fields) in blocks {
            for &size in &settings {
                enc.set_max_table_size(size);
            }
            // Our limit is the last setting, in force by the time the block arrives.
            if let Some(&last) = settings.last() {
                dec.set_max_table_size(last);
            }
            let mut out = Vec::new();
            enc.encode(fields.iter().map(|(n, v)| (&n[..], &v[..])), &mut out);
            let list = dec.decode(&out, usize::MAX).expect("our own block decodes");
            prop_assert_eq!(pairs(&list), fields);
            prop_assert_eq!(list.size(), list_size(&list));
        }
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics_and_respects_the_limit(
        blocks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 1..6),
        max in 0usize..400,
        table in prop::option::of(0usize..5000),
    ) {
        let mut dec = Decoder::new();
        if let Some(size) = table {
            dec.set_max_table_size(size);
        }
        for block in blocks {
            match dec.decode(&block, max) {
                Ok(list) | Err(DecodeError::TooLarge(list)) => {
                    prop_assert!(list.size() <= max);
                    prop_assert_eq!(list.size(), list_size(&list));
                }
                // The connection would end here.
                Err(DecodeError::Compression(_)) => break,
            }
        }
    }
}
