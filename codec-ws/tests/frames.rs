//! RFC 6455 §5 framing rules, one test per rule, each through a session.

mod common;

use common::*;
use roadrunner_ws::bytes::{Bytes, BytesMut};
use roadrunner_ws::{ErrorKind, Event, SendError};

/// Feeds `bytes`, expects the session to fail with `kind`, and its one close frame to
/// carry `code`.
fn refused(mut session: roadrunner_ws::Session, bytes: &[u8], kind: ErrorKind, code: u16) {
    session.recv(bytes);
    let (_, err) = events(&mut session);
    let err = err.unwrap_or_else(|| panic!("accepted {bytes:02x?}"));
    assert_eq!(err.kind(), kind);
    assert_eq!(err.close_code().as_u16(), code);
    assert_closed_with(&mut session, code);
}

#[test]
fn a_binary_message_taken_without_a_copy_frees_the_drivers_buffer_once_dropped() {
    // A driver reads into one buffer and lends the session what it read.
    let mut driver = BytesMut::with_capacity(4096);
    let payload = vec![9u8; 1000];
    driver.extend_from_slice(&whole(BINARY, &payload));
    let start = driver.as_ptr();
    let mut s = session();
    s.recv_bytes(driver.split());
    let Event::Binary(message) = events(&mut s).0.remove(0) else {
        panic!("no message");
    };
    assert_eq!(message, payload);
    assert!(
        message.as_ptr() > start && message.as_ptr() < start.wrapping_add(4096),
        "a slice of the driver's buffer"
    );
    assert!(!driver.try_reclaim(4096), "the message still holds it");
    drop(message);
    assert!(
        driver.try_reclaim(4096),
        "nothing else holds it: the driver reads into it again"
    );
}

#[test]
fn masked_frame_is_read() {
    let mut s = session();
    s.recv(&whole(BINARY, b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09"));
    assert_eq!(
        events(&mut s).0,
        [Event::Binary(Bytes::from_static(
            b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09"
        ))]
    );
}

#[test]
fn unmasked_client_frame_is_a_protocol_error() {
    refused(
        session(),
        &[0x81, 0x02, b'h', b'i'],
        ErrorKind::UnmaskedFrame,
        1002,
    );
}

#[test]
fn server_frames_are_never_masked() {
    let mut s = session();
    s.send_text("x".repeat(300)).unwrap();
    s.send_binary(vec![1; 70_000]).unwrap();
    s.send_ping(&b"p"[..]).unwrap();
    s.close(roadrunner_ws::CloseCode::NORMAL, "bye").unwrap();
    // server_frames panics on a mask bit.
    let frames = transmitted(&mut s);
    assert_eq!(frames.len(), 4);
    assert_eq!(frames[1].payload.len(), 70_000);
}

#[test]
fn fragments_make_one_message_with_control_frames_between() {
    let mut s = session();
    let mut wire = frame(false, false, TEXT, b"Hel", KEY);
    wire.extend(whole(PING, b"?"));
    wire.extend(frame(false, false, CONT, b"", [9, 9, 9, 9]));
    wire.extend(frame(true, false, CONT, b"lo", [1, 2, 3, 4]));
    s.recv(&wire);
    assert_eq!(
        events(&mut s).0,
        [
            Event::Ping(Bytes::from_static(b"?")),
            Event::Text("Hello".into())
        ]
    );
}

#[test]
fn control_frame_over_125_bytes_fails_on_its_header() {
    refused(
        session(),
        &[0x89, 0xfe],
        ErrorKind::ControlFrameTooLong,
        1002,
    );
}

#[test]
fn fragmented_control_frame_is_a_protocol_error() {
    refused(
        session(),
        &frame(false, false, PING, b"", KEY),
        ErrorKind::FragmentedControlFrame,
        1002,
    );
}

#[test]
fn rsv1_without_permessage_deflate_is_a_protocol_error() {
    refused(
        session(),
        &frame(true, true, TEXT, b"x", KEY),
        ErrorKind::ReservedBits,
        1002,
    );
}

#[test]
fn rsv2_and_rsv3_are_always_protocol_errors() {
    for bit in [0x20, 0x10] {
        let mut f = whole(BINARY, b"x");
        f[0] |= bit;
        refused(session(), &f, ErrorKind::ReservedBits, 1002);
    }
}

#[test]
fn reserved_opcodes_are_protocol_errors() {
    for op in [3u8, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf] {
        refused(
            session(),
            &whole(op, b""),
            ErrorKind::ReservedOpcode(op),
            1002,
        );
    }
}

#[test]
fn length_with_top_bit_set_is_a_protocol_error() {
    let header = [0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1];
    refused(session(), &header, ErrorKind::InvalidLength, 1002);
}

#[test]
fn frame_declaring_2_pow_40_bytes_is_refused_on_its_header() {
    let mut s = session();
    let len = 1u64 << 40;
    let mut header = vec![0x82, 0xff];
    header.extend_from_slice(&len.to_be_bytes());
    header.extend_from_slice(&KEY);
    // Only the header: the payload never needs to arrive.
    s.recv(&header);
    let (_, err) = events(&mut s);
    assert_eq!(err.unwrap().kind(), ErrorKind::FrameTooLarge);
    assert!(s.buffered_input() <= header.len());
    assert_closed_with(&mut s, 1009);
}

#[test]
fn frame_over_max_frame_size_is_1009_and_at_the_cap_is_fine() {
    let mut ok = small(100, 1000);
    ok.recv(&whole(BINARY, &[7; 100]));
    assert_eq!(events(&mut ok).0, [Event::Binary(vec![7; 100].into())]);
    refused(
        small(100, 1000),
        &whole(BINARY, &[7; 101])[..8],
        ErrorKind::FrameTooLarge,
        1009,
    );
}

#[test]
fn fragments_over_max_message_size_are_1009_on_the_crossing_header() {
    let mut wire = frame(false, false, BINARY, &[1; 60], KEY);
    wire.extend(frame(false, false, CONT, &[2; 40], KEY));
    let mut s = small(100, 130);
    s.recv(&wire);
    assert!(events(&mut s).1.is_none());
    // Its header alone is enough.
    refused(
        s,
        &frame(true, false, CONT, &[3; 31], KEY)[..6],
        ErrorKind::MessageTooLarge,
        1009,
    );
}

#[test]
fn continuation_without_a_message_is_a_protocol_error() {
    refused(
        session(),
        &frame(true, false, CONT, b"x", KEY),
        ErrorKind::UnexpectedContinuation,
        1002,
    );
}

#[test]
fn new_message_inside_a_fragmented_one_is_a_protocol_error() {
    let mut wire = frame(false, false, TEXT, b"a", KEY);
    wire.extend(whole(BINARY, b"b"));
    refused(session(), &wire, ErrorKind::ExpectedContinuation, 1002);
}

#[test]
fn invalid_utf8_in_the_first_of_three_fragments_fails_before_the_second() {
    let mut s = session();
    s.recv(&frame(false, false, TEXT, &[b'o', b'k', 0xc0, 0xaf], KEY));
    let (evs, err) = events(&mut s);
    assert!(evs.is_empty());
    assert_eq!(err.unwrap().kind(), ErrorKind::InvalidUtf8);
    assert_closed_with(&mut s, 1007);
    // The rest of the message is not read.
    s.recv(&frame(false, false, CONT, b"b", KEY));
    assert_eq!(s.poll_event(), Ok(None));
}

#[test]
fn invalid_utf8_fails_on_the_part_of_a_frame_that_carries_it() {
    let mut s = session();
    let f = whole(TEXT, &[b'a', b'b', 0xff, b'c', b'd', b'e']);
    // Header and the first three payload bytes.
    s.recv(&f[..9]);
    assert_eq!(events(&mut s).1.unwrap().kind(), ErrorKind::InvalidUtf8);
}

#[test]
fn code_point_split_across_fragments_is_fine() {
    let euro = "€".as_bytes();
    let mut wire = frame(false, false, TEXT, &euro[..1], KEY);
    wire.extend(frame(false, false, CONT, &euro[1..2], KEY));
    wire.extend(frame(true, false, CONT, &euro[2..], KEY));
    let mut s = session();
    s.recv(&wire);
    assert_eq!(events(&mut s).0, [Event::Text("€".into())]);
}

#[test]
fn text_ending_inside_a_code_point_is_1007() {
    let euro = "€".as_bytes();
    refused(
        session(),
        &whole(TEXT, &euro[..2]),
        ErrorKind::InvalidUtf8,
        1007,
    );
}

#[test]
fn every_split_of_the_input_gives_the_same_events() {
    let mut wire = frame(false, false, TEXT, "héllo wörld".as_bytes(), KEY);
    wire.extend(whole(PING, b"ping"));
    wire.extend(frame(true, false, CONT, "!€".as_bytes(), [5, 6, 7, 8]));
    wire.extend(whole(BINARY, &[0xaa; 300]));
    let mut one = session();
    one.recv(&wire);
    let expected = events(&mut one).0;
    assert_eq!(expected.len(), 3);
    for cut in 0..wire.len() {
        let mut s = session();
        s.recv(&wire[..cut]);
        let (mut got, e1) = events(&mut s);
        s.recv(&wire[cut..]);
        let (more, e2) = events(&mut s);
        got.extend(more);
        assert!(e1.is_none() && e2.is_none());
        assert_eq!(got, expected, "cut at {cut}");
    }
}

#[test]
fn pings_are_answered_with_their_payload() {
    let mut s = session();
    s.recv(&whole(PING, b"are you there"));
    assert_eq!(
        events(&mut s).0,
        [Event::Ping(Bytes::from_static(b"are you there"))]
    );
    let frames = transmitted(&mut s);
    assert_eq!(frames.len(), 1);
    assert_eq!(
        (frames[0].opcode, &frames[0].payload[..]),
        (PONG, &b"are you there"[..])
    );
}

#[test]
fn a_burst_of_pings_is_answered_in_full_and_a_flood_keeps_the_latest() {
    let mut s = session();
    let mut wire = Vec::new();
    for i in 0..10 {
        wire.extend(whole(PING, format!("p{i}").as_bytes()));
    }
    s.recv(&wire);
    let _ = events(&mut s);
    let pongs: Vec<_> = transmitted(&mut s).into_iter().map(|f| f.payload).collect();
    assert_eq!(pongs.len(), 10);

    wire.clear();
    for i in 0..1000 {
        wire.extend(whole(PING, format!("p{i}").as_bytes()));
    }
    s.recv(&wire);
    let _ = events(&mut s);
    assert!(s.buffered() < 16 * 10);
    let pongs: Vec<_> = transmitted(&mut s).into_iter().map(|f| f.payload).collect();
    assert_eq!(pongs.len(), 16);
    assert_eq!(pongs.last().unwrap(), b"p999");
}

#[test]
fn pongs_jump_the_queue_of_messages() {
    let mut s = session();
    s.send_binary(vec![0; 1000]).unwrap();
    s.recv(&whole(PING, b"!"));
    let _ = events(&mut s);
    let first = s.poll_frame().unwrap();
    assert_eq!(first.header(), [0x8a, 1]);
    assert_eq!(first.payload(), &b"!"[..]);
    assert_eq!(s.poll_frame().unwrap().payload().len(), 1000);
}

#[test]
fn after_an_error_only_a_close_goes_out_and_nothing_more_is_read_or_sent() {
    let mut s = session();
    s.recv(&[0x81, 0x02, b'h', b'i']);
    assert!(s.poll_event().is_err());
    assert_eq!(s.poll_event(), Ok(None));
    assert!(!s.wants_read());
    s.recv(&whole(PING, b"late"));
    assert_eq!(s.poll_event(), Ok(None));
    assert_eq!(s.send_text("x"), Err(SendError::Closed));
    assert_closed_with(&mut s, 1002);
    assert!(transmitted(&mut s).is_empty());
}

#[test]
fn sent_messages_are_one_frame_each_and_counted_in_buffered() {
    let mut s = session();
    assert_eq!(s.buffered(), 0);
    s.send_text("hello").unwrap();
    s.send_binary(vec![9; 200]).unwrap();
    assert_eq!(s.buffered(), (2 + 5) + (4 + 200));
    let frames = transmitted(&mut s);
    assert_eq!(s.buffered(), 0);
    assert_eq!(
        frames,
        [
            ServerFrame {
                fin: true,
                rsv1: false,
                opcode: TEXT,
                payload: b"hello".to_vec()
            },
            ServerFrame {
                fin: true,
                rsv1: false,
                opcode: BINARY,
                payload: vec![9; 200]
            },
        ]
    );
}

#[test]
fn binary_payload_is_handed_out_without_a_copy() {
    let mut s = session();
    let data = Bytes::from(vec![3; 5000]);
    s.send_binary(data.clone()).unwrap();
    let f = s.poll_frame().unwrap();
    assert_eq!(f.header(), [0x82, 126, 0x13, 0x88]);
    assert_eq!(f.payload().as_ptr(), data.as_ptr());
    assert_eq!(f.len(), 5004);
}

#[test]
fn control_payloads_over_125_bytes_are_refused() {
    let mut s = session();
    assert_eq!(s.send_ping(vec![0; 126]), Err(SendError::ControlTooLong));
    assert_eq!(s.send_pong(vec![0; 126]), Err(SendError::ControlTooLong));
    assert!(s.send_ping(vec![0; 125]).is_ok());
    assert!(s.send_pong(vec![0; 125]).is_ok());
    assert_eq!(s.buffered(), 2 * 127);
}

#[test]
fn input_holds_at_most_one_frame_after_draining() {
    let mut s = small(1000, 1000);
    let mut wire = Vec::new();
    for _ in 0..50 {
        wire.extend(whole(BINARY, &[1; 999]));
    }
    for chunk in wire.chunks(777) {
        s.recv(chunk);
        let (_, err) = events(&mut s);
        assert!(err.is_none());
        assert!(s.buffered_input() <= 1000 + 14, "{}", s.buffered_input());
    }
}
