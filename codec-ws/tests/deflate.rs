//! permessage-deflate (RFC 7692) in a session: inflating what a client compressed,
//! compressing what the server sends, and the rules on RSV1 and the caps.

mod common;

use common::*;
use flate2::{Compress, Compression, FlushCompress};
use roadrunner_ws::{CloseCode, Config, DeflateParams, ErrorKind, Event, Session};

fn deflate_session(params: DeflateParams) -> Session {
    Session::new(Config::default(), Some(params))
}

fn default_deflate() -> Session {
    deflate_session(DeflateParams::default())
}

#[test]
fn compressed_message_is_inflated() {
    let mut s = default_deflate();
    let payload = ClientDeflate::new(false).compress(b"Hello, Hello, Hello!");
    s.recv(&frame(true, true, TEXT, &payload, KEY));
    assert_eq!(
        events(&mut s).0,
        [Event::Text("Hello, Hello, Hello!".into())]
    );
}

#[test]
fn rfc_7692_hello_in_two_fragments() {
    // §7.2.3.1's "Hello", fragmented as in its second example.
    let mut s = default_deflate();
    let mut wire = frame(false, true, TEXT, &[0xf2, 0x48, 0xcd], KEY);
    wire.extend(frame(true, false, CONT, &[0xc9, 0xc9, 0x07, 0x00], KEY));
    s.recv(&wire);
    assert_eq!(events(&mut s).0, [Event::Text("Hello".into())]);
}

#[test]
fn context_is_carried_from_message_to_message() {
    let mut s = default_deflate();
    let mut client = ClientDeflate::new(false);
    let text = "the same words, again and again and again";
    let first = client.compress(text.as_bytes());
    let second = client.compress(text.as_bytes());
    assert!(
        second.len() < first.len() / 2,
        "the second refers to the first"
    );
    let mut wire = frame(true, true, TEXT, &first, KEY);
    wire.extend(frame(true, true, BINARY, &second, KEY));
    s.recv(&wire);
    assert_eq!(
        events(&mut s).0,
        [
            Event::Text(text.into()),
            Event::Binary(text.as_bytes().to_vec().into())
        ]
    );
}

#[test]
fn uncompressed_message_under_deflate_is_taken_as_is() {
    let mut s = default_deflate();
    s.recv(&whole(TEXT, b"plain"));
    assert_eq!(events(&mut s).0, [Event::Text("plain".into())]);
}

#[test]
fn rsv1_on_a_continuation_frame_is_a_protocol_error() {
    let mut s = default_deflate();
    let payload = ClientDeflate::new(false).compress(b"abcdef");
    let mut wire = frame(false, true, TEXT, &payload[..2], KEY);
    wire.extend(frame(true, true, CONT, &payload[2..], KEY));
    s.recv(&wire);
    assert_eq!(events(&mut s).1.unwrap().kind(), ErrorKind::ReservedBits);
    assert_closed_with(&mut s, 1002);
}

#[test]
fn rsv1_on_a_control_frame_is_a_protocol_error() {
    let mut s = default_deflate();
    s.recv(&frame(true, true, PING, b"", KEY));
    assert_eq!(events(&mut s).1.unwrap().kind(), ErrorKind::ReservedBits);
}

#[test]
fn data_that_does_not_inflate_is_1007() {
    let mut s = default_deflate();
    s.recv(&frame(true, true, BINARY, &[0xff; 16], KEY));
    assert_eq!(
        events(&mut s).1.unwrap().kind(),
        ErrorKind::InvalidCompressedData
    );
    assert_closed_with(&mut s, 1007);
}

#[test]
fn compressed_invalid_utf8_fails_on_its_fragment() {
    let mut s = default_deflate();
    let payload = ClientDeflate::new(false).compress(&[b'a', 0xff, b'b']);
    s.recv(&frame(false, true, TEXT, &payload, KEY));
    assert_eq!(events(&mut s).1.unwrap().kind(), ErrorKind::InvalidUtf8);
    assert_closed_with(&mut s, 1007);
}

#[test]
fn message_cap_counts_inflated_bytes() {
    let config = Config::new(1000, 1000).unwrap();
    let mut client = ClientDeflate::new(true);
    let mut at_cap = Session::new(config.clone(), Some(DeflateParams::default()));
    at_cap.recv(&frame(
        true,
        true,
        BINARY,
        &client.compress(&[b'a'; 1000]),
        KEY,
    ));
    assert_eq!(
        events(&mut at_cap).0,
        [Event::Binary(vec![b'a'; 1000].into())]
    );

    let mut over = Session::new(config, Some(DeflateParams::default()));
    let small = client.compress(&[b'a'; 1001]);
    assert!(small.len() < 20);
    over.recv(&frame(true, true, BINARY, &small, KEY));
    assert_eq!(
        events(&mut over).1.unwrap().kind(),
        ErrorKind::MessageTooLarge
    );
    assert_closed_with(&mut over, 1009);
}

#[test]
fn deflate_bomb_stops_at_the_cap() {
    let cap = 1 << 20;
    let mut s = Session::new(
        Config::new(cap, cap).unwrap(),
        Some(DeflateParams::default()),
    );
    let bomb = ClientDeflate::new(false).compress(&vec![0; 64 << 20]);
    assert!(bomb.len() < 100 << 10, "a few KB: {}", bomb.len());
    s.recv(&frame(true, true, BINARY, &bomb, KEY));
    assert_eq!(events(&mut s).1.unwrap().kind(), ErrorKind::MessageTooLarge);
    assert_closed_with(&mut s, 1009);
}

#[test]
fn final_block_messages_are_read() {
    // RFC 7692 §7.2.3.3: a sender may end a message with a BFINAL block and start the
    // next with a fresh context.
    let mut s = default_deflate();
    let mut wire = Vec::new();
    for word in ["first", "second"] {
        let mut c = Compress::new(Compression::default(), false);
        let mut out = Vec::with_capacity(64);
        c.compress_vec(word.as_bytes(), &mut out, FlushCompress::Finish)
            .unwrap();
        wire.extend(frame(true, true, TEXT, &out, KEY));
    }
    s.recv(&wire);
    assert_eq!(
        events(&mut s).0,
        [Event::Text("first".into()), Event::Text("second".into())]
    );
}

#[test]
fn sent_messages_are_compressed_with_context() {
    let mut s = default_deflate();
    let text = "compress me, compress me, compress me";
    s.send_text(text).unwrap();
    s.send_text(text).unwrap();
    let frames = transmitted(&mut s);
    let mut client = ClientInflate::new();
    assert!(frames.iter().all(|f| f.rsv1 && f.fin && f.opcode == TEXT));
    assert!(frames[1].payload.len() < frames[0].payload.len());
    for f in &frames {
        assert_eq!(client.inflate(&f.payload), text.as_bytes());
    }
}

#[test]
fn server_no_context_takeover_makes_each_message_stand_alone() {
    let mut s = deflate_session(DeflateParams {
        server_no_context_takeover: true,
        ..DeflateParams::default()
    });
    for _ in 0..3 {
        s.send_binary(&b"same same same same"[..]).unwrap();
    }
    for f in transmitted(&mut s) {
        assert!(f.rsv1);
        assert_eq!(
            ClientInflate::new().inflate(&f.payload),
            b"same same same same"
        );
    }
}

#[test]
fn small_server_window_compresses_only_messages_that_fit_it() {
    let mut s = deflate_session(DeflateParams {
        server_max_window_bits: 9,
        ..DeflateParams::default()
    });
    s.send_binary(vec![b'x'; 512]).unwrap();
    s.send_binary(vec![b'x'; 513]).unwrap();
    s.send_binary(vec![b'x'; 512]).unwrap();
    let frames = transmitted(&mut s);
    assert!(frames[0].rsv1 && !frames[1].rsv1 && frames[2].rsv1);
    assert_eq!(frames[1].payload, vec![b'x'; 513]);
    // Alone: a fresh inflater reads the third message.
    assert_eq!(
        ClientInflate::new().inflate(&frames[2].payload),
        vec![b'x'; 512]
    );
}

#[test]
fn control_frames_are_never_compressed() {
    let mut s = default_deflate();
    s.recv(&whole(PING, b"ping"));
    let _ = events(&mut s);
    s.send_ping(&b"mine"[..]).unwrap();
    s.send_pong(&b"beat"[..]).unwrap();
    s.close(CloseCode::NORMAL, "bye").unwrap();
    let frames = transmitted(&mut s);
    assert_eq!(frames.len(), 4);
    assert!(frames.iter().all(|f| !f.rsv1));
    assert_eq!(frames[0].payload, b"ping");
}
