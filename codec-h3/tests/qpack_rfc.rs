//! RFC 9204 Appendix B, exchange by exchange: the encoder-stream bytes parse to the
//! instructions shown and encode back to the same bytes, our decoder decodes each
//! field section to the fields shown, and writes the decoder-stream bytes shown.

use roadrunner_h3::bytes::Bytes;
use roadrunner_h3::qpack::{
    DecodeError, Decoder, DecoderConfig, DecoderInstruction, EncoderInstruction, FieldSection,
};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn decoder() -> Decoder {
    Decoder::new(DecoderConfig {
        max_table_capacity: 220,
        max_blocked_streams: 1,
        max_field_section_size: 1 << 16,
    })
}

fn fields(list: &[(&str, &str)]) -> FieldSection {
    list.iter()
        .map(|(n, v)| {
            (
                Bytes::copy_from_slice(n.as_bytes()),
                Bytes::copy_from_slice(v.as_bytes()),
            )
        })
        .collect()
}

fn decoder_stream(d: &mut Decoder) -> Vec<u8> {
    let mut out = Vec::new();
    d.poll_stream(&mut out);
    out
}

/// Parses every instruction of `wire` and checks they encode back to it.
fn encoder_instructions(wire: &[u8]) -> Vec<EncoderInstruction> {
    let mut pos = 0;
    let mut out = Vec::new();
    let mut again = Vec::new();
    while pos < wire.len() {
        let (instruction, len) = EncoderInstruction::parse(&wire[pos..], 1000)
            .expect("valid")
            .expect("whole");
        instruction.encode(&mut again);
        out.push(instruction);
        pos += len;
    }
    assert_eq!(again, wire);
    out
}

const B2_ENCODER: &str = "3fbd01 c00f7777772e6578616d706c652e636f6d c10c2f73616d706c652f70617468";
const B2_STREAM_4: &str = "0381 10 11";
const B3_ENCODER: &str = "4a637573746f6d2d6b65790c637573746f6d2d76616c7565";
const B4_ENCODER: &str = "02";
const B4_STREAM_8: &str = "0500 80 c1 81";
const B5_ENCODER: &str = "810d637573746f6d2d76616c756532";

/// Runs B.1 to B.3, the exchanges before the delayed duplicate.
fn through_b3(d: &mut Decoder) {
    // B.1: a literal with a static name reference; nothing to acknowledge.
    let b1 = hex("0000 510b 2f69 6e64 6578 2e68 746d 6c");
    let got = d
        .decode(0, b1.into())
        .expect("valid")
        .expect("no inserts needed");
    assert_eq!(got, fields(&[(":path", "/index.html")]));
    assert_eq!(decoder_stream(d), []);

    // B.2: capacity 220, two inserts by static name, a section referencing both
    // post-Base, acknowledged.
    d.feed_encoder_stream(&hex(B2_ENCODER)).expect("valid");
    assert_eq!((d.insert_count(), d.table_size()), (2, 106));
    let got = d.decode(4, hex(B2_STREAM_4).into()).expect("valid");
    let want = fields(&[(":authority", "www.example.com"), (":path", "/sample/path")]);
    assert_eq!(got, Some(want));
    assert_eq!(decoder_stream(d), hex("84"));

    // B.3: a speculative insert, acknowledged by an Insert Count Increment.
    d.feed_encoder_stream(&hex(B3_ENCODER)).expect("valid");
    assert_eq!((d.insert_count(), d.table_size()), (3, 160));
    assert_eq!(decoder_stream(d), hex("01"));
}

#[test]
fn appendix_b_encoder_stream_bytes_are_the_instructions_shown() {
    assert_eq!(
        encoder_instructions(&hex(B2_ENCODER)),
        [
            EncoderInstruction::SetCapacity { capacity: 220 },
            EncoderInstruction::InsertWithNameRef {
                static_table: true,
                index: 0,
                value: Bytes::from_static(b"www.example.com"),
            },
            EncoderInstruction::InsertWithNameRef {
                static_table: true,
                index: 1,
                value: Bytes::from_static(b"/sample/path"),
            },
        ]
    );
    assert_eq!(
        encoder_instructions(&hex(B3_ENCODER)),
        [EncoderInstruction::InsertWithLiteralName {
            name: Bytes::from_static(b"custom-key"),
            value: Bytes::from_static(b"custom-value"),
        }]
    );
    assert_eq!(
        encoder_instructions(&hex(B4_ENCODER)),
        [EncoderInstruction::Duplicate { index: 2 }]
    );
    assert_eq!(
        encoder_instructions(&hex(B5_ENCODER)),
        [EncoderInstruction::InsertWithNameRef {
            static_table: false,
            index: 1,
            value: Bytes::from_static(b"custom-value2"),
        }]
    );
    for (wire, instruction) in [
        ("84", DecoderInstruction::SectionAck { stream: 4 }),
        (
            "01",
            DecoderInstruction::InsertCountIncrement { increment: 1 },
        ),
        ("48", DecoderInstruction::StreamCancel { stream: 8 }),
    ] {
        let wire = hex(wire);
        assert_eq!(DecoderInstruction::parse(&wire), Ok(Some((instruction, 1))));
    }
}

#[test]
fn appendix_b_as_the_rfc_runs_it_with_the_cancelled_stream() {
    let mut d = decoder();
    through_b3(&mut d);

    // B.4: the duplicate is delayed; the section on stream 8 needs it, so it blocks,
    // and the stream is cancelled before it arrives.
    assert_eq!(d.decode(8, hex(B4_STREAM_8).into()), Ok(None));
    assert_eq!(d.blocked_streams(), 1);
    d.cancel_stream(8);
    assert_eq!(decoder_stream(&mut d), hex("48"));
    d.feed_encoder_stream(&hex(B4_ENCODER)).expect("valid");
    assert!(d.poll_unblocked().is_none(), "the section was dropped");
    assert_eq!((d.insert_count(), d.table_size()), (4, 217));

    // B.5: an insert by dynamic name that evicts the oldest entry.
    d.feed_encoder_stream(&hex(B5_ENCODER)).expect("valid");
    assert_eq!((d.insert_count(), d.table_size()), (5, 215));
    // Entry 0 is gone; entry 4 is custom-key: custom-value2 (RIC 5, Base 5).
    let evicted = d.decode(12, hex("0600 84").into());
    assert!(
        matches!(evicted, Err(DecodeError::Failed(_))),
        "{evicted:?}"
    );
    let newest = d.decode(12, hex("0600 80").into()).expect("valid");
    assert_eq!(newest, Some(fields(&[("custom-key", "custom-value2")])));
}

#[test]
fn appendix_b4_decodes_once_the_delayed_duplicate_arrives() {
    let mut d = decoder();
    through_b3(&mut d);
    assert_eq!(d.decode(8, hex(B4_STREAM_8).into()), Ok(None));
    d.feed_encoder_stream(&hex(B4_ENCODER)).expect("valid");
    let (stream, got) = d.poll_unblocked().expect("unblocked");
    assert_eq!(stream, 8);
    let want = fields(&[
        (":authority", "www.example.com"),
        (":path", "/"),
        ("custom-key", "custom-value"),
    ]);
    assert_eq!(got, Ok(want));
    assert_eq!(
        decoder_stream(&mut d),
        hex("88"),
        "its acknowledgment covers the duplicate"
    );
}

#[test]
fn appendix_b2_blocks_when_the_section_comes_first() {
    let mut d = decoder();
    assert_eq!(d.decode(4, hex(B2_STREAM_4).into()), Ok(None));
    // Capacity and the first insert: still one short.
    let encoder = hex(B2_ENCODER);
    d.feed_encoder_stream(&encoder[..20]).expect("valid");
    assert_eq!(d.insert_count(), 1);
    assert!(d.poll_unblocked().is_none());
    d.feed_encoder_stream(&encoder[20..]).expect("valid");
    let (stream, got) = d.poll_unblocked().expect("unblocked");
    assert_eq!(stream, 4);
    let want = fields(&[(":authority", "www.example.com"), (":path", "/sample/path")]);
    assert_eq!(got, Ok(want));
    assert_eq!(decoder_stream(&mut d), hex("84"));
}
