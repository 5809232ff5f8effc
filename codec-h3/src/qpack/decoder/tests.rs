use super::*;
use crate::qpack::primitive::encode_int;

fn decoder(capacity: usize, blocked: usize, max_size: usize) -> Decoder {
    Decoder::new(DecoderConfig {
        max_table_capacity: capacity,
        max_blocked_streams: blocked,
        max_field_section_size: max_size,
    })
}

/// A decoder whose table holds `(b"name-N", b"value-N")` for N in 0..count, capacity
/// 4096 (MaxEntries 128).
fn with_entries(count: u64) -> Decoder {
    let mut d = decoder(4096, 2, 1 << 20);
    let mut stream = Vec::new();
    EncoderInstruction::SetCapacity { capacity: 4096 }.encode(&mut stream);
    for n in 0..count {
        EncoderInstruction::InsertWithLiteralName {
            name: format!("name-{n}").into(),
            value: format!("value-{n}").into(),
        }
        .encode(&mut stream);
    }
    d.feed_encoder_stream(&stream).expect("valid inserts");
    d
}

fn section(prefix: &[u8], lines: &[u8]) -> Bytes {
    [prefix, lines].concat().into()
}

fn pairs(s: &FieldSection) -> Vec<(&[u8], &[u8])> {
    s.fields().iter().map(|(n, v)| (&n[..], &v[..])).collect()
}

fn failure(r: Result<Option<FieldSection>, DecodeError>) -> &'static str {
    match r {
        Err(DecodeError::Failed(e)) => {
            assert_eq!(e.code, ErrorCode::QPACK_DECOMPRESSION_FAILED);
            e.reason
        }
        other => panic!("want a decompression failure, got {other:?}"),
    }
}

fn stream_error(d: &mut Decoder, wire: &[u8]) -> &'static str {
    let e = d.feed_encoder_stream(wire).expect_err("must fail");
    assert_eq!(e.code, ErrorCode::QPACK_ENCODER_STREAM_ERROR);
    e.reason
}

#[test]
fn every_representation_decodes() {
    let mut d = with_entries(3);
    // Required Insert Count 3 (encoded 4), Base 2 (sign 1, delta 0).
    let lines = [
        &[0xd1][..],                                       // static 17, :method GET
        &[0x80],                                           // relative 0: abs 1
        &[0x10],                                           // post-Base 0: abs 2
        &[0x5f, 0x4d, 0x02, b'h', b'i'],                   // static name 92 (server): hi
        &[0x41, 0x01, b'x'],                               // relative name 1 (abs 0): x
        &[0x00, 0x01, b'y'],                               // post-Base name 0 (abs 2): y
        &[0x23, b'a', b'b', b'c', 0x00],                   // literal name abc, empty value
        &[0x2b, 0xf1, 0xe3, 0xc7, 0x83, 0xf1, 0xe3, 0xc7], // Huffman "www": "www"
    ]
    .concat();
    let s = d
        .decode(4, section(&[0x04, 0x80], &lines))
        .expect("valid")
        .expect("not blocked");
    let want: [(&[u8], &[u8]); 8] = [
        (b":method", b"GET"),
        (b"name-1", b"value-1"),
        (b"name-2", b"value-2"),
        (b"server", b"hi"),
        (b"name-0", b"x"),
        (b"name-2", b"y"),
        (b"abc", b""),
        (b"www", b"www"),
    ];
    assert_eq!(pairs(&s), want);
    let size: usize = want.iter().map(|(n, v)| n.len() + v.len() + 32).sum();
    assert_eq!(s.size(), size);
    let mut out = Vec::new();
    d.poll_stream(&mut out);
    assert_eq!(out, [0x84], "the acknowledgment covers all three inserts");
}

#[test]
fn a_section_without_dynamic_references_is_not_acknowledged() {
    let mut d = with_entries(1);
    let s = d.decode(0, section(&[0, 0], &[0xd1])).expect("valid");
    assert_eq!(
        pairs(&s.expect("not blocked")),
        [(&b":method"[..], &b"GET"[..])]
    );
    let mut out = Vec::new();
    d.poll_stream(&mut out);
    assert_eq!(out, [0x01], "only the Insert Count Increment");
    d.poll_stream(&mut out);
    assert_eq!(out, [0x01], "nothing new");
}

#[test]
fn invalid_sections_fail_decompression() {
    let cases: [(&str, &[u8], &[u8], &str); 13] = [
        ("empty", &[], &[], "truncated"),
        ("RIC out of range", &[0xff, 0x00, 0x00], &[], "out of range"),
        ("negative Base", &[0x02, 0x81], &[0x10], "negative Base"),
        ("static index 99", &[0, 0], &[0xff, 0x24], "static index"),
        (
            "static name index 99",
            &[0, 0],
            &[0x5f, 0x54, 0x00],
            "static index",
        ),
        (
            "relative index at the Base",
            &[0x02, 0x00],
            &[0x81],
            "before the Base",
        ),
        (
            "reference past the RIC",
            &[0x02, 0x00],
            &[0x10],
            "past the Required",
        ),
        (
            "post-Base name past the RIC",
            &[0x02, 0x80],
            &[0x01, 0x00],
            "past the Required",
        ),
        (
            "RIC larger than needed",
            &[0x03, 0x00],
            &[0x81],
            "larger than needed",
        ),
        (
            "string cut short",
            &[0, 0],
            &[0x51, 0x05, b'a'],
            "truncated",
        ),
        ("value missing", &[0, 0], &[0x21, b'a'], "truncated"),
        ("bad Huffman", &[0, 0], &[0x51, 0x81, 0x00], "Huffman"),
        (
            "index too large",
            &[0, 0],
            &[
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
            ],
            "too large",
        ),
    ];
    for (what, prefix, lines, want) in cases {
        let mut d = with_entries(2);
        let got = failure(d.decode(0, section(prefix, lines)));
        assert!(got.contains(want), "{what}: {got}");
    }
    // An entry referenced after the encoder evicted it.
    let mut d = with_entries(2);
    d.feed_encoder_stream(&[0x20])
        .expect("capacity 0 evicts everything");
    d.feed_encoder_stream(&[0x3f, 0xe1, 0x1f])
        .expect("capacity 4096 again");
    let got = failure(d.decode(0, section(&[0x03, 0x00], &[0x80])));
    assert!(got.contains("evicted"), "{got}");
}

#[test]
fn the_size_limit_counts_while_decoding_and_is_not_a_failure() {
    // ":method: GET" is 7 + 3 + 32 = 42 bytes.
    let get = section(&[0, 0], &[0xd1, 0xd1]);
    assert!(decoder(0, 0, 84).decode(0, get.clone()).is_ok());
    assert_eq!(decoder(0, 0, 83).decode(0, get), Err(DecodeError::TooLarge));
    // A megabyte value is too large from its length; cut short, it is truncated.
    let mut long = vec![0x5f, 0x4d];
    encode_int(1 << 20, 7, 0, &mut long);
    long.extend(vec![b'v'; 1 << 20]);
    let mut d = decoder(0, 0, 1000);
    assert_eq!(
        d.decode(0, section(&[0, 0], &long)),
        Err(DecodeError::TooLarge)
    );
    long.pop();
    assert!(failure(d.decode(0, section(&[0, 0], &long))).contains("truncated"));
    // A Huffman string that cannot decode within the limit is refused undecoded:
    // 200 bytes of invalid code, at least 53 decoded, past a 60-byte limit.
    let mut huffman = vec![0x21, b'n', 0xff, 0x49];
    huffman.extend([0u8; 200]);
    assert_eq!(
        decoder(0, 0, 60).decode(0, section(&[0, 0], &huffman)),
        Err(DecodeError::TooLarge)
    );
    // A name alone past the limit.
    let mut name = vec![0x27, 0x0b];
    name.extend([b'n'; 18]);
    name.push(0);
    assert_eq!(
        decoder(0, 0, 40).decode(0, section(&[0, 0], &name)),
        Err(DecodeError::TooLarge)
    );
}

#[test]
fn a_too_large_section_is_still_acknowledged() {
    let mut d = with_entries(1);
    d.config.max_field_section_size = 40;
    let got = d.decode(8, section(&[0x02, 0x00], &[0x80]));
    assert_eq!(got, Err(DecodeError::TooLarge));
    let mut out = Vec::new();
    d.poll_stream(&mut out);
    assert_eq!(out, [0x88]);
}

#[test]
fn blocked_sections_wait_for_their_inserts_in_order() {
    let mut d = decoder(4096, 2, 1 << 20);
    d.feed_encoder_stream(&[0x3f, 0xe1, 0x1f])
        .expect("capacity");
    // Stream 0 needs 2 inserts, stream 4 needs 1, stream 8 none.
    let needs_two = section(&[0x03, 0x00], &[0x80, 0x81]);
    let needs_one = section(&[0x02, 0x00], &[0x80]);
    assert_eq!(d.decode(0, needs_two), Ok(None));
    assert_eq!(d.decode(4, needs_one.clone()), Ok(None));
    assert_eq!(d.blocked_streams(), 2);
    // A third blocked stream is one too many...
    let got = failure(d.decode(12, needs_one.clone()));
    assert!(got.contains("blocked streams"), "{got}");
    // ...but a later section of a blocked stream waits behind it without counting,
    // even though it could be decoded now.
    assert_eq!(d.decode(0, section(&[0, 0], &[0xd1])), Ok(None));
    assert_eq!(d.blocked_streams(), 2);
    assert!(d.poll_unblocked().is_none());
    let mut out = Vec::new();
    d.poll_stream(&mut out);
    assert!(out.is_empty());

    d.feed_encoder_stream(b"\x41a\x01A").expect("insert a: A");
    let (stream, s) = d.poll_unblocked().expect("stream 4 unblocked");
    assert_eq!(stream, 4);
    assert_eq!(pairs(&s.expect("valid")), [(&b"a"[..], &b"A"[..])]);
    assert!(d.poll_unblocked().is_none(), "stream 0 needs one more");
    d.feed_encoder_stream(b"\x41b").expect("half an insert");
    assert!(d.poll_unblocked().is_none());
    d.feed_encoder_stream(b"\x01B").expect("the rest");
    let (stream, s) = d.poll_unblocked().expect("stream 0 unblocked");
    assert_eq!(stream, 0);
    let want: [(&[u8], &[u8]); 2] = [(b"b", b"B"), (b"a", b"A")];
    assert_eq!(pairs(&s.expect("valid")), want);
    let (stream, s) = d.poll_unblocked().expect("its second section");
    assert_eq!(stream, 0);
    assert_eq!(pairs(&s.expect("valid")), [(&b":method"[..], &b"GET"[..])]);
    assert!(d.poll_unblocked().is_none());
    assert_eq!(d.blocked_streams(), 0);
    d.poll_stream(&mut out);
    // Acks for streams 4 and 0, which tell the encoder of both inserts.
    assert_eq!(out, [0x84, 0x80]);
}

#[test]
fn cancelling_a_stream_drops_its_held_sections_and_tells_the_encoder() {
    let mut d = decoder(4096, 1, 1 << 20);
    assert_eq!(d.decode(8, section(&[0x02, 0x00], &[0x80])), Ok(None));
    d.cancel_stream(8);
    assert_eq!(d.blocked_streams(), 0);
    d.feed_encoder_stream(&[0x3f, 0xe1, 0x1f, 0x41, b'a', 0x00])
        .expect("insert");
    assert!(d.poll_unblocked().is_none());
    let mut out = Vec::new();
    d.poll_stream(&mut out);
    assert_eq!(out, [0x48, 0x01], "Stream Cancellation, then the increment");
    // With no table there is nothing to cancel.
    let mut none = decoder(0, 0, 100);
    none.cancel_stream(8);
    let mut out = Vec::new();
    none.poll_stream(&mut out);
    assert!(out.is_empty());
}

#[test]
fn a_blocked_section_that_turns_out_invalid_fails_when_polled() {
    let mut d = decoder(4096, 1, 1 << 20);
    assert_eq!(d.decode(0, section(&[0x02, 0x00], &[0x81])), Ok(None));
    d.feed_encoder_stream(&[0x3f, 0xe1, 0x1f, 0x41, b'a', 0x00])
        .expect("insert");
    let (stream, result) = d.poll_unblocked().expect("unblocked");
    assert_eq!(stream, 0);
    assert!(matches!(result, Err(DecodeError::Failed(_))));
}

#[test]
fn encoder_stream_errors() {
    let mut d = decoder(100, 0, 1000);
    assert!(stream_error(&mut d, &[0x3f, 0x46]).contains("SETTINGS_QPACK_MAX_TABLE_CAPACITY"));
    let mut d = decoder(100, 0, 1000);
    assert!(stream_error(&mut d, b"\x41a\x01b").contains("larger than the table"));
    let mut d = decoder(100, 0, 1000);
    d.feed_encoder_stream(&[0x3f, 0x45]).expect("capacity 100");
    assert!(stream_error(&mut d, b"\xff\x24\x00").contains("static index"));
    for wire in [&b"\x80\x00"[..], &[0x00]] {
        let mut d = decoder(100, 0, 1000);
        d.feed_encoder_stream(&[0x3f, 0x45]).expect("capacity 100");
        assert!(stream_error(&mut d, wire).contains("not in the table"));
    }
    let mut d = decoder(100, 0, 1000);
    d.feed_encoder_stream(&[0x3f, 0x45]).expect("capacity 100");
    // 100 - 32 = 68 bytes for name and value together.
    let mut big = vec![0x40 | 0x1f, 0x16];
    big.extend([b'n'; 53]);
    big.push(0x10);
    big.extend([b'v'; 16]);
    assert!(stream_error(&mut d, &big).contains("larger than the table"));
    let mut d = decoder(100, 0, 1000);
    d.feed_encoder_stream(&[0x3f, 0x45]).expect("capacity 100");
    d.feed_encoder_stream(b"\x41a\x01A").expect("insert");
    d.feed_encoder_stream(b"\x41b\x01B")
        .expect("insert, evicting none");
    d.feed_encoder_stream(b"\x41c\x01C")
        .expect("insert, evicting a");
    // Relative 2 would be a: evicted.
    assert!(stream_error(&mut d, &[0x02]).contains("not in the table"));
    let mut d = decoder(100, 0, 1000);
    assert!(stream_error(
        &mut d,
        &[0x3f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]
    )
    .contains("too large"));
}

#[test]
fn encoder_stream_memory_is_bounded_by_the_capacity() {
    let mut d = decoder(4096, 0, 1000);
    d.feed_encoder_stream(&[0x3f, 0xe1, 0x1f])
        .expect("capacity");
    // A name declared a gigabyte long is refused from its length alone.
    let mut head = Vec::new();
    encode_int(1 << 30, 5, 0x40, &mut head);
    assert!(stream_error(&mut d, &head).contains("larger than the table"));
    // A partial instruction within the limit is kept, byte by byte.
    let mut d = decoder(4096, 0, 1000);
    let mut wire = vec![0x3f, 0xe1, 0x1f];
    EncoderInstruction::InsertWithLiteralName {
        name: Bytes::from(vec![b'n'; 2000]),
        value: Bytes::from(vec![b'v'; 2000]),
    }
    .encode(&mut wire);
    for byte in &wire {
        d.feed_encoder_stream(std::slice::from_ref(byte))
            .expect("valid so far");
        assert!(d.partial.len() <= 4010);
    }
    assert_eq!((d.insert_count(), d.table_size()), (1, 4032));
    assert!(d.partial.is_empty());
}

#[test]
fn duplicates_and_name_references_copy_before_evicting() {
    let mut d = decoder(100, 0, 1000);
    d.feed_encoder_stream(&[0x3f, 0x45]).expect("capacity 100");
    // "abc: defgh" is 40 bytes; two fit.
    d.feed_encoder_stream(b"\x43abc\x05defgh").expect("insert");
    d.feed_encoder_stream(&[0x00]).expect("duplicate it");
    // A third, named after the oldest, evicts that oldest.
    d.feed_encoder_stream(b"\x81\x05ijklm")
        .expect("insert by dynamic name");
    assert_eq!(d.insert_count(), 3);
    let s = d
        .decode(0, section(&[0x04, 0x00], &[0x80, 0x81]))
        .expect("valid")
        .expect("not blocked");
    let want: [(&[u8], &[u8]); 2] = [(b"abc", b"ijklm"), (b"abc", b"defgh")];
    assert_eq!(pairs(&s), want);
}

#[test]
fn settings_advertise_the_limits() {
    let d = decoder(4096, 16, 32_768);
    let s = d.settings();
    assert_eq!(s.qpack_max_table_capacity, Some(4096));
    assert_eq!(s.qpack_blocked_streams, Some(16));
    assert_eq!(s.max_field_section_size, Some(32_768));
    assert_eq!(DecoderConfig::default().max_table_capacity, 4096);
}
