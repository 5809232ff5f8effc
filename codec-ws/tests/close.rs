//! The closing handshake (RFC 6455 §5.5.1, §7) and close frame payloads.

mod common;

use common::*;
use roadrunner_ws::{CloseCode, CloseError, ErrorKind, Event, SendError};

#[test]
fn peer_close_is_reported_and_echoed_with_its_code() {
    let mut s = session();
    s.recv(&whole(CLOSE, &close_payload(4001, "done")));
    assert_eq!(
        events(&mut s).0,
        [Event::Close {
            code: CloseCode::new(4001),
            reason: "done".into()
        }]
    );
    assert!(!s.wants_read());
    assert!(!s.can_send());
    assert!(!s.is_closed(), "closed before the answer was handed out");
    let frames = transmitted(&mut s);
    assert_eq!(frames.len(), 1);
    assert_eq!(
        (frames[0].opcode, &frames[0].payload[..]),
        (CLOSE, &4001u16.to_be_bytes()[..])
    );
    assert!(s.is_closed());
    assert!(!s.is_closing());
}

#[test]
fn empty_peer_close_is_no_status_and_answered_1000() {
    let mut s = session();
    s.recv(&whole(CLOSE, b""));
    assert_eq!(
        events(&mut s).0,
        [Event::Close {
            code: CloseCode::NO_STATUS,
            reason: String::new()
        }]
    );
    assert_closed_with(&mut s, 1000);
}

#[test]
fn nothing_after_the_peer_close_is_read() {
    let mut s = session();
    let mut wire = whole(CLOSE, &close_payload(1000, ""));
    wire.extend(whole(TEXT, b"late"));
    s.recv(&wire);
    assert_eq!(events(&mut s).0.len(), 1);
    s.recv(&whole(TEXT, b"later"));
    assert_eq!(s.poll_event(), Ok(None));
    assert_eq!(s.send_text("x"), Err(SendError::Closed));
}

#[test]
fn server_close_waits_for_the_peer_and_drops_messages_meanwhile() {
    let mut s = session();
    s.send_text("last words").unwrap();
    s.close(CloseCode::GOING_AWAY, "restart").unwrap();
    assert!(!s.can_send());
    assert!(s.wants_read());
    let frames = transmitted(&mut s);
    assert_eq!(frames[0].payload, b"last words");
    assert_eq!(frames[1].opcode, CLOSE);
    assert_eq!(frames[1].payload, close_payload(1001, "restart"));
    assert!(s.is_closing());
    assert!(!s.is_closed());

    let mut wire = whole(TEXT, b"dropped");
    wire.extend(whole(PING, b"dropped too"));
    wire.extend(frame(false, false, BINARY, &[1; 10], KEY));
    wire.extend(frame(true, false, CONT, &[2; 10], KEY));
    s.recv(&wire);
    assert_eq!(events(&mut s), (vec![], None));
    assert!(transmitted(&mut s).is_empty(), "no pong after our close");

    s.recv(&whole(CLOSE, &close_payload(1000, "")));
    assert_eq!(
        events(&mut s).0,
        [Event::Close {
            code: CloseCode::NORMAL,
            reason: String::new()
        }]
    );
    assert!(transmitted(&mut s).is_empty(), "no second close");
    assert!(s.is_closed());
}

#[test]
fn peer_close_crossing_ours_completes_the_handshake() {
    let mut s = session();
    s.close(CloseCode::NORMAL, "").unwrap();
    s.recv(&whole(CLOSE, &close_payload(1000, "")));
    assert_eq!(events(&mut s).0.len(), 1);
    assert!(!s.is_closed(), "ours is not out yet");
    assert_closed_with(&mut s, 1000);
}

#[test]
fn one_byte_close_payload_is_1002() {
    let mut s = session();
    s.recv(&whole(CLOSE, &[0x03]));
    assert_eq!(
        events(&mut s).1.unwrap().kind(),
        ErrorKind::InvalidClosePayload
    );
    assert_closed_with(&mut s, 1002);
}

#[test]
fn invalid_close_codes_are_1002() {
    for code in [
        0u16, 999, 1004, 1005, 1006, 1012, 1014, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        let mut s = session();
        s.recv(&whole(CLOSE, &code.to_be_bytes()));
        let err = events(&mut s).1.unwrap();
        assert_eq!(
            err.kind(),
            ErrorKind::InvalidCloseCode(CloseCode::new(code)),
            "{code}"
        );
        assert_closed_with(&mut s, 1002);
    }
}

#[test]
fn valid_close_codes_are_echoed() {
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
    ] {
        let mut s = session();
        s.recv(&whole(CLOSE, &code.to_be_bytes()));
        assert!(events(&mut s).1.is_none(), "{code}");
        assert_closed_with(&mut s, code);
    }
}

#[test]
fn close_reason_must_be_utf8() {
    let mut s = session();
    let mut payload = close_payload(1000, "");
    payload.extend_from_slice(&[0xce, 0xba, 0xe1, 0xbd]);
    s.recv(&whole(CLOSE, &payload));
    assert_eq!(events(&mut s).1.unwrap().kind(), ErrorKind::InvalidUtf8);
    assert_closed_with(&mut s, 1007);
}

#[test]
fn close_command_checks_its_arguments() {
    let mut s = session();
    assert_eq!(
        s.close(CloseCode::NO_STATUS, ""),
        Err(CloseError::InvalidCode)
    );
    assert_eq!(
        s.close(CloseCode::new(1015), ""),
        Err(CloseError::InvalidCode)
    );
    assert_eq!(
        s.close(CloseCode::NORMAL, &"x".repeat(124)),
        Err(CloseError::ReasonTooLong)
    );
    assert!(s.can_send());
    assert_eq!(s.close(CloseCode::NORMAL, &"x".repeat(123)), Ok(()));
    assert_eq!(
        s.close(CloseCode::NORMAL, ""),
        Err(CloseError::AlreadyClosing)
    );
    assert_eq!(s.send_ping(&b""[..]), Err(SendError::Closed));
    assert_eq!(transmitted(&mut s)[0].payload.len(), 125);
}

#[test]
fn error_after_our_close_ends_the_session_without_a_second_close() {
    let mut s = session();
    s.close(CloseCode::NORMAL, "").unwrap();
    let _ = transmitted(&mut s);
    s.recv(&[0x81, 0x01, b'x']);
    assert_eq!(events(&mut s).1.unwrap().kind(), ErrorKind::UnmaskedFrame);
    assert!(transmitted(&mut s).is_empty());
    assert!(s.is_closed());
}
