//! Property tests for QPACK: whatever our encoder writes, our decoder reads back as the
//! same fields, with any table size and blocked-stream limit, whatever order and
//! pieces the encoder stream, the sections and the decoder stream arrive in; and no
//! input makes the decoder panic or pass its limits.

use proptest::prelude::*;
use roadrunner_h3::bytes::Bytes;
use roadrunner_h3::qpack::{DecodeError, Decoder, DecoderConfig, Encoder, FieldSection};
use roadrunner_h3::Settings;

type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// Names and values mostly from small pools, so fields repeat and get inserted.
fn fields() -> impl Strategy<Value = Fields> {
    let name = prop_oneof![
        4 => prop::sample::select(vec![
            ":status", "content-type", "server", "cache-control", "x-custom",
            "set-cookie", "date", "vary", "x-a-much-longer-custom-header-name",
        ])
        .prop_map(|n| n.as_bytes().to_vec()),
        1 => "[a-z-]{1,20}".prop_map(String::into_bytes),
    ];
    let value = prop_oneof![
        4 => prop::sample::select(vec!["200", "404", "text/html", "roadrunner", "", "a=b", "no-cache"])
            .prop_map(|v| v.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..80),
    ];
    prop::collection::vec((name, value), 0..12)
}

/// One step of the exchange.
#[derive(Clone, Debug)]
enum Step {
    /// Encode the next section (on a new stream, or the previous one's) and hand it
    /// to the decoder at once.
    Send { same_stream: bool },
    /// Deliver this fraction (of 255) of the encoder-stream bytes in flight.
    Inserts(u8),
    /// Deliver this fraction of the decoder-stream bytes in flight.
    Acks(u8),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => any::<bool>().prop_map(|b| Step::Send { same_stream: b }),
        2 => any::<u8>().prop_map(Step::Inserts),
        1 => any::<u8>().prop_map(Step::Acks),
    ]
}

fn take(flight: &mut Vec<u8>, fraction: u8) -> Vec<u8> {
    let n = flight.len() * usize::from(fraction) / 255;
    flight.drain(..n).collect()
}

fn section(fields: &Fields) -> FieldSection {
    fields
        .iter()
        .map(|(n, v)| (Bytes::copy_from_slice(n), Bytes::copy_from_slice(v)))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn our_encoder_to_our_decoder(
        capacity in prop_oneof![Just(0usize), Just(100), Just(300), Just(4096)],
        blocked in 0..4usize,
        lists in prop::collection::vec(fields(), 1..25),
        steps in prop::collection::vec(step(), 1..80),
    ) {
        let mut encoder = Encoder::new(4096);
        encoder.apply_settings(&Settings {
            qpack_max_table_capacity: Some(capacity as u64),
            qpack_blocked_streams: Some(blocked as u64),
            ..Settings::default()
        });
        let mut decoder = Decoder::new(DecoderConfig {
            max_table_capacity: capacity,
            max_blocked_streams: blocked,
            max_field_section_size: usize::MAX,
        });
        let (mut inserts, mut acks) = (Vec::new(), Vec::new());
        let mut stream = 0;
        let mut lists = lists.iter();
        // Sections sent and not yet decoded, by stream, oldest first.
        let mut waiting: Vec<(u64, &Fields)> = Vec::new();
        let mut decoded = 0;
        let mut sent = 0;
        let steps = steps.into_iter().chain(std::iter::repeat_n(Step::Inserts(255), 1));
        for step in steps {
            match step {
                Step::Send { same_stream } => {
                    let Some(fields) = lists.next() else { continue };
                    if !same_stream {
                        stream += 4;
                    }
                    let mut wire = Vec::new();
                    encoder.encode(stream, fields.iter().map(|(n, v)| (&n[..], &v[..])), &mut wire);
                    encoder.poll_stream(&mut inserts);
                    sent += 1;
                    match decoder.decode(stream, wire.into()) {
                        Ok(Some(got)) => {
                            prop_assert_eq!(got, section(fields));
                            decoded += 1;
                        }
                        Ok(None) => waiting.push((stream, fields)),
                        Err(e) => prop_assert!(false, "decode failed: {}", e),
                    }
                }
                Step::Inserts(fraction) => {
                    let piece = take(&mut inserts, fraction);
                    decoder.feed_encoder_stream(&piece).expect("our encoder stream is valid");
                }
                Step::Acks(fraction) => {
                    let piece = take(&mut acks, fraction);
                    encoder.feed_decoder_stream(&piece).expect("our decoder stream is valid");
                }
            }
            while let Some((s, got)) = decoder.poll_unblocked() {
                let i = waiting.iter().position(|w| w.0 == s).expect("was waiting");
                let (_, fields) = waiting.remove(i);
                prop_assert_eq!(got.expect("valid"), section(fields));
                decoded += 1;
            }
            prop_assert!(decoder.blocked_streams() <= blocked);
            decoder.poll_stream(&mut acks);
        }
        // Everything delivered: nothing may still wait.
        prop_assert!(waiting.is_empty());
        prop_assert_eq!(decoded, sent);
        encoder.feed_decoder_stream(&acks).expect("our decoder stream is valid");
        prop_assert_eq!(encoder.known_received_count(), encoder.insert_count());
        prop_assert!(encoder.table_size() <= capacity && decoder.table_size() <= capacity);
    }

    #[test]
    fn arbitrary_input_never_panics_or_passes_the_limits(
        capacity in prop_oneof![Just(0usize), Just(64), Just(4096)],
        max_size in 0..2000usize,
        encoder_stream in prop::collection::vec(any::<u8>(), 0..300),
        sections in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..100), 0..6),
    ) {
        let mut decoder = Decoder::new(DecoderConfig {
            max_table_capacity: capacity,
            max_blocked_streams: 2,
            max_field_section_size: max_size,
        });
        let _ = decoder.feed_encoder_stream(&encoder_stream);
        prop_assert!(decoder.table_size() <= capacity);
        for (i, s) in sections.into_iter().enumerate() {
            match decoder.decode(4 * i as u64, s.into()) {
                Ok(Some(got)) => {
                    prop_assert!(got.size() <= max_size);
                    let counted: usize = got.fields().iter().map(|(n, v)| n.len() + v.len() + 32).sum();
                    prop_assert_eq!(got.size(), counted);
                }
                Ok(None) | Err(DecodeError::TooLarge) => {}
                Err(DecodeError::Failed(_)) => break,
            }
        }
        prop_assert!(decoder.blocked_streams() <= 2);
    }
}
