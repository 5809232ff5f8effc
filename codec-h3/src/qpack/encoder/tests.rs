use super::*;
use crate::qpack::{Decoder, DecoderConfig, FieldSection};

const CONTENT_TYPE: (&[u8], &[u8]) = (b"content-type", b"text/x-roadrunner");
const SERVER: (&[u8], &[u8]) = (b"server", b"roadrunner");

fn settings(capacity: u64, blocked: u64) -> Settings {
    Settings {
        qpack_max_table_capacity: Some(capacity),
        qpack_blocked_streams: Some(blocked),
        ..Settings::default()
    }
}

/// Our encoder facing our decoder, with the streams between them carried by hand.
struct Pair {
    encoder: Encoder,
    decoder: Decoder,
    /// Encoder-stream bytes written but not yet delivered.
    in_flight: Vec<u8>,
}

impl Pair {
    fn new(capacity: u64, blocked: u64) -> Pair {
        let config = DecoderConfig {
            max_table_capacity: capacity as usize,
            max_blocked_streams: blocked as usize,
            max_field_section_size: 1 << 20,
        };
        let mut encoder = Encoder::new(4096);
        encoder.apply_settings(&settings(capacity, blocked));
        Pair {
            encoder,
            decoder: Decoder::new(config),
            in_flight: Vec::new(),
        }
    }

    /// Encodes a section; its inserts stay in flight.
    fn encode(&mut self, stream: u64, fields: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut section = Vec::new();
        self.encoder
            .encode(stream, fields.iter().copied(), &mut section);
        self.encoder.poll_stream(&mut self.in_flight);
        section
    }

    fn deliver_inserts(&mut self) {
        self.decoder
            .feed_encoder_stream(&self.in_flight)
            .expect("our encoder stream is valid");
        self.in_flight.clear();
    }

    fn deliver_acks(&mut self) {
        let mut acks = Vec::new();
        self.decoder.poll_stream(&mut acks);
        self.encoder
            .feed_decoder_stream(&acks)
            .expect("our decoder stream is valid");
    }

    /// Encodes, delivers everything, decodes and checks the round trip.
    fn round_trip(&mut self, stream: u64, fields: &[(&[u8], &[u8])]) -> usize {
        let section = self.encode(stream, fields);
        self.deliver_inserts();
        let decoded = self
            .decoder
            .decode(stream, section.clone().into())
            .expect("valid")
            .expect("not blocked once inserts are in");
        assert_eq!(decoded, same(fields));
        self.deliver_acks();
        section.len()
    }
}

fn same(fields: &[(&[u8], &[u8])]) -> FieldSection {
    fields
        .iter()
        .map(|&(n, v)| (Bytes::copy_from_slice(n), Bytes::copy_from_slice(v)))
        .collect()
}

#[test]
fn without_a_table_fields_are_static_references_and_literals() {
    let mut e = Encoder::new(4096);
    let mut out = Vec::new();
    let fields: [(&[u8], &[u8]); 5] = [
        (b":status", b"200"),
        (b":status", b"201"),
        (b"x-custom", b"1"),
        (b"set-cookie", b"a=b"),
        (b"x-token", b"t"),
    ];
    e.encode(0, fields.iter().copied(), &mut out);
    let want = [
        &[0x00, 0x00][..],
        &[0xd9],                               // static 25
        &[0x5f, 0x09, 0x03, b'2', b'0', b'1'], // static name 24
        &[
            0x27, 0x01, b'x', b'-', b'c', b'u', b's', b't', b'o', b'm', 0x01, b'1',
        ],
        &[0x7e, 0x03, b'a', b'=', b'b'], // never-indexed, static name 14
        &[
            0x27, 0x00, b'x', b'-', b't', b'o', b'k', b'e', b'n', 0x01, b't',
        ],
    ]
    .concat();
    assert_eq!(out, want);
    let mut stream = Vec::new();
    e.poll_stream(&mut stream);
    assert!(stream.is_empty(), "nothing may go on the encoder stream");
    e.apply_settings(&settings(0, 100));
    e.poll_stream(&mut stream);
    assert!(stream.is_empty(), "a capacity of 0 sends nothing either");
    // A literal name that is sensitive has the N bit of its own layout.
    let mut out = Vec::new();
    e.encode(0, [(&b"proxy-authorization"[..], &b"x"[..])], &mut out);
    assert_eq!(out[2], 0x37);
}

#[test]
fn the_capacity_is_the_smaller_of_ours_and_the_peers() {
    let mut e = Encoder::new(1000);
    e.apply_settings(&settings(1 << 20, 0));
    let mut stream = Vec::new();
    e.poll_stream(&mut stream);
    let mut want = Vec::new();
    EncoderInstruction::SetCapacity { capacity: 1000 }.encode(&mut want);
    assert_eq!(stream, want);
    e.apply_settings(&settings(100, 0));
    e.poll_stream(&mut stream);
    assert_eq!(stream, want, "settings come once");
}

#[test]
fn without_blocking_repeated_fields_are_inserted_then_used_once_acknowledged() {
    let mut p = Pair::new(4096, 0);
    let fields = [(&b":status"[..], &b"200"[..]), CONTENT_TYPE, SERVER];
    let first = p.round_trip(0, &fields);
    assert_eq!(p.encoder.insert_count(), 0, "seen once: not inserted");
    // Seen twice: inserted, but referenced only once the decoder has it.
    let second = p.round_trip(4, &fields);
    assert_eq!(second, first);
    assert_eq!(p.encoder.insert_count(), 2);
    assert_eq!(p.encoder.known_received_count(), 2);
    let third = p.round_trip(8, &fields);
    assert_eq!(third, 5, "prefix, :status and two dynamic references");
    // Prefix 2, :status 1, content-type 3 + 17, server 3 + 10.
    assert_eq!(first, 36);
}

#[test]
fn with_blocking_allowed_a_new_entry_is_referenced_at_once() {
    let mut p = Pair::new(4096, 1);
    p.round_trip(0, &[SERVER]);
    // Encoded before its insert arrives: the section must wait for it.
    let section = p.encode(4, &[SERVER]);
    assert_eq!(section, [0x02, 0x80, 0x10], "RIC 1, Base 0, post-Base 0");
    assert_eq!(p.decoder.decode(4, section.into()), Ok(None));
    // The only blocked stream the peer allows is taken: stream 8 may not block.
    let other = p.encode(8, &[CONTENT_TYPE]);
    let other = p.encode(12, &[CONTENT_TYPE]).len().max(other.len());
    assert_eq!(p.encoder.insert_count(), 2, "inserted, but not referenced");
    assert!(other > 10);
    p.deliver_inserts();
    let (stream, decoded) = p.decoder.poll_unblocked().expect("unblocked");
    assert_eq!((stream, decoded), (4, Ok(same(&[SERVER]))));
    p.deliver_acks();
    assert_eq!(p.encoder.known_received_count(), 2);
    assert_eq!(p.round_trip(16, &[SERVER, CONTENT_TYPE]), 4);
}

#[test]
fn a_blocking_stream_may_block_again_while_others_may_not() {
    let mut p = Pair::new(4096, 1);
    p.round_trip(0, &[SERVER, CONTENT_TYPE]);
    let a = p.encode(4, &[SERVER]);
    assert_eq!(a.len(), 3, "references the unacknowledged insert");
    let b = p.encode(4, &[CONTENT_TYPE]);
    assert_eq!(b.len(), 3, "the same stream is already counted");
    let c = p.encode(8, &[SERVER]);
    assert!(c.len() > 3, "a second stream may not block");
    p.deliver_inserts();
    for section in [a, b] {
        let got = p.decoder.decode(4, section.into()).expect("valid");
        assert!(got.is_some());
    }
    p.decoder
        .decode(8, c.into())
        .expect("valid")
        .expect("a literal");
}

#[test]
fn pinned_entries_are_not_evicted_and_draining_ones_are_duplicated() {
    // Room for four 40-byte entries, the largest the encoder inserts in 160 bytes.
    let mut p = Pair::new(160, 0);
    let fields: Vec<(Vec<u8>, Vec<u8>)> = (b'a'..=b'f')
        .map(|n| (vec![b'x', n], vec![b'v'; 6]))
        .collect();
    let line = |i: usize| [(&fields[i].0[..], &fields[i].1[..])];
    for i in 0..4 {
        p.round_trip(0, &line(i));
        p.round_trip(4, &line(i));
    }
    assert_eq!((p.encoder.insert_count(), p.encoder.table_size()), (4, 160));
    // Stream 8 references the second entry and is not acknowledged.
    let pinned = p.encode(8, &line(1));
    assert_eq!(pinned.len(), 3);
    // The fifth entry evicts the first; the sixth would evict the pinned one.
    p.round_trip(12, &line(4));
    p.round_trip(16, &line(4));
    assert_eq!(p.encoder.insert_count(), 5);
    p.round_trip(20, &line(5));
    p.round_trip(24, &line(5));
    assert_eq!(p.encoder.insert_count(), 5, "the second entry is pinned");
    p.decoder
        .decode(8, pinned.into())
        .expect("valid")
        .expect("ready");
    p.deliver_acks();
    p.round_trip(28, &line(5));
    assert_eq!(p.encoder.insert_count(), 6, "evicted once released");
    // The third entry is now the oldest, in the draining quarter: using it
    // duplicates it to the front, and the copy is referenced from then on.
    p.round_trip(32, &line(2));
    assert_eq!(p.encoder.insert_count(), 7);
    assert_eq!(p.round_trip(36, &line(2)), 3);
}

#[test]
fn decoder_stream_errors() {
    let error = |e: &mut Encoder, wire: &[u8]| {
        let err = e.feed_decoder_stream(wire).expect_err("must fail");
        assert_eq!(err.code, ErrorCode::QPACK_DECODER_STREAM_ERROR);
        err.reason
    };
    let mut p = Pair::new(4096, 0);
    assert!(error(&mut p.encoder, &[0x84]).contains("no section"));
    let mut p = Pair::new(4096, 0);
    assert!(error(&mut p.encoder, &[0x00]).contains("Increment"));
    let mut p = Pair::new(4096, 0);
    p.round_trip(0, &[SERVER]);
    p.round_trip(4, &[SERVER]);
    assert_eq!(p.encoder.known_received_count(), 1);
    assert!(error(&mut p.encoder, &[0x01]).contains("past the inserts"));
    let mut e = Encoder::new(4096);
    let huge = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
    ];
    assert!(error(&mut e, &huge).contains("too large"));
}

#[test]
fn acknowledgments_and_cancellations_release_sections() {
    let mut p = Pair::new(4096, 2);
    p.round_trip(0, &[SERVER]);
    p.round_trip(4, &[SERVER]);
    // Two sections on stream 8, acknowledged one at a time.
    p.encode(8, &[SERVER]);
    p.encode(8, &[SERVER]);
    p.encoder.feed_decoder_stream(&[0x88]).expect("first");
    p.encoder.feed_decoder_stream(&[0x88]).expect("second");
    let err = p
        .encoder
        .feed_decoder_stream(&[0x88])
        .expect_err("none left");
    assert_eq!(err.code, ErrorCode::QPACK_DECODER_STREAM_ERROR);
    let mut p = Pair::new(4096, 2);
    p.round_trip(0, &[SERVER]);
    p.round_trip(4, &[SERVER]);
    p.encode(1000, &[SERVER]);
    assert_eq!(p.encoder.sent.len(), 1);
    // Stream 1000 as a 6-bit prefix integer, split across two calls.
    p.encoder.feed_decoder_stream(&[0x7f]).expect("partial");
    p.encoder.feed_decoder_stream(&[0xa9, 0x07]).expect("rest");
    assert!(p.encoder.sent.is_empty());
    p.encoder
        .feed_decoder_stream(&[0x48])
        .expect("cancelling an unknown stream is no error");
}

#[test]
fn a_peer_that_never_acknowledges_gets_static_sections() {
    let mut p = Pair::new(4096, 0);
    p.round_trip(0, &[SERVER]);
    p.round_trip(4, &[SERVER]);
    for stream in 0..MAX_SECTIONS as u64 {
        let section = p.encode(8 + 4 * stream, &[SERVER]);
        assert_eq!(section.len(), 3);
    }
    let section = p.encode(1 << 20, &[SERVER]);
    assert!(section.len() > 3, "past the bookkeeping limit: a literal");
    assert_eq!(p.encoder.sent.len(), MAX_SECTIONS);
}
