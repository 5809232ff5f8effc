//! Builds a QPACK decoder's dynamic table from arbitrary encoder-stream bytes, then
//! decodes arbitrary field sections against it, interleaved with more encoder-stream
//! bytes, cancellations and polls. Checks that it never panics, that sections stay
//! within the size limit, that held sections stay within the blocked-stream limit and
//! come back only for streams that were held, that the decoder-stream output parses,
//! and that every decoded section survives our encoder and a fresh decoder.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use roadrunner_h3::qpack::{
    DecodeError, Decoder, DecoderConfig, DecoderInstruction, Encoder, FieldSection,
};
use roadrunner_h3::Settings;

#[derive(Arbitrary, Debug)]
enum Op<'a> {
    EncoderStream(&'a [u8]),
    Section { stream: u8, bytes: &'a [u8] },
    Cancel(u8),
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    capacity: u16,
    blocked: u8,
    max_size: u16,
    table: &'a [u8],
    ops: Vec<Op<'a>>,
}

fn check(section: &FieldSection, max_size: usize) {
    let counted: usize = section
        .fields()
        .iter()
        .map(|(n, v)| n.len() + v.len() + 32)
        .sum();
    assert_eq!(section.size(), counted);
    assert!(section.size() <= max_size, "decoded past the limit");
    // Through our encoder, with a table, and a fresh decoder.
    let mut encoder = Encoder::new(4096);
    let settings = Settings {
        qpack_max_table_capacity: Some(4096),
        qpack_blocked_streams: Some(1),
        ..Settings::default()
    };
    encoder.apply_settings(&settings);
    let mut decoder = Decoder::new(DecoderConfig {
        max_table_capacity: 4096,
        max_blocked_streams: 1,
        max_field_section_size: usize::MAX,
    });
    for stream in [0, 4] {
        let mut wire = Vec::new();
        let fields = section.fields().iter().map(|(n, v)| (&n[..], &v[..]));
        encoder.encode(stream, fields, &mut wire);
        let mut inserts = Vec::new();
        encoder.poll_stream(&mut inserts);
        decoder.feed_encoder_stream(&inserts).expect("our encoder stream is valid");
        let again = decoder.decode(stream, wire.into()).expect("valid");
        assert_eq!(again.as_ref(), Some(section), "round trip");
        let mut acks = Vec::new();
        decoder.poll_stream(&mut acks);
        encoder.feed_decoder_stream(&acks).expect("our decoder stream is valid");
    }
}

fuzz_target!(|input: Input<'_>| {
    let max_size = usize::from(input.max_size);
    let blocked = usize::from(input.blocked % 8);
    let capacity = usize::from(input.capacity);
    let mut decoder = Decoder::new(DecoderConfig {
        max_table_capacity: capacity,
        max_blocked_streams: blocked,
        max_field_section_size: max_size,
    });
    if decoder.feed_encoder_stream(input.table).is_err() {
        return;
    }
    let mut held: Vec<u64> = Vec::new();
    for op in input.ops {
        match op {
            Op::EncoderStream(bytes) => {
                if decoder.feed_encoder_stream(bytes).is_err() {
                    return;
                }
            }
            Op::Section { stream, bytes } => {
                let stream = u64::from(stream) * 4;
                match decoder.decode(stream, bytes.to_vec().into()) {
                    Ok(Some(section)) => check(&section, max_size),
                    Ok(None) => held.push(stream),
                    Err(DecodeError::TooLarge) => {}
                    Err(DecodeError::Failed(_)) => return,
                }
            }
            Op::Cancel(stream) => {
                let stream = u64::from(stream) * 4;
                decoder.cancel_stream(stream);
                held.retain(|&s| s != stream);
            }
        }
        assert!(decoder.table_size() <= capacity);
        assert!(decoder.blocked_streams() <= blocked);
        while let Some((stream, result)) = decoder.poll_unblocked() {
            let i = held.iter().position(|&s| s == stream).expect("only held streams come back");
            held.remove(i);
            match result {
                Ok(section) => check(&section, max_size),
                Err(DecodeError::TooLarge) => {}
                Err(DecodeError::Failed(_)) => return,
            }
        }
        let mut out = Vec::new();
        decoder.poll_stream(&mut out);
        let mut rest = &out[..];
        while !rest.is_empty() {
            let (_, len) = DecoderInstruction::parse(rest)
                .expect("valid")
                .expect("whole instructions only");
            rest = &rest[len..];
        }
    }
});
