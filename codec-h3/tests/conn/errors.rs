//! What a client gets for breaking the rules: connection errors with their codes,
//! stream errors that leave the connection up, and the answers (431, 413) the server
//! gives itself.

use roadrunner_h3::http::{HeaderMap, StatusCode};
use roadrunner_h3::{frame, CloseReason, Config, ErrorCode, Event, StreamType};

use crate::pair::{app_code, get, request, Network, Pair, Setup};

/// The server closed the connection with `code`, and the client heard it.
#[track_caller]
fn assert_closed(p: &mut Pair, code: ErrorCode) {
    p.run_until(|p| p.client.lost.is_some());
    let closed = p.events.iter().find_map(|e| match e {
        Event::Closed(CloseReason::Local(e)) => Some(e.code),
        _ => None,
    });
    assert_eq!(closed, Some(code), "server events: {:?}", p.events);
    assert_eq!(
        p.client.lost.as_ref().and_then(app_code),
        Some(code.0),
        "{:?}",
        p.client.lost
    );
    assert!(p.server().is_closed());
    p.run_until(|p| p.server().is_drained());
    assert_eq!(p.endpoint.open_connections(), 0, "the endpoint forgot it");
}

/// A GET still goes through: the connection is up.
#[track_caller]
fn assert_alive(p: &mut Pair) {
    let s = p.client.send_request(&get("/alive"), b"", true);
    p.run();
    let Some(Event::Request { stream, .. }) = p.event() else {
        panic!("the connection serves requests")
    };
    assert_eq!(stream, s);
    p.server()
        .send_response(s, StatusCode::OK, &HeaderMap::new(), true)
        .expect("answer");
    p.run();
    assert!(p.client.responses[&s].complete());
}

/// The server reset stream `s` with `code`, and stopped reading it with `code` if
/// the client had not finished sending (QUIC sends no STOP_SENDING for a stream
/// received whole).
#[track_caller]
fn assert_stream_reset(p: &mut Pair, s: u64, code: ErrorCode, client_done: bool) {
    p.run();
    let r = &p.client.responses[&s];
    assert_eq!(r.reset, Some(code.0), "reset: {r:?}");
    let stopped = (!client_done).then_some(code.0);
    assert_eq!(r.stopped, stopped, "stopped: {r:?}");
}

/// The server answered stream `s` (whose request the client had not finished) with
/// `status`, and asked for no more of the request with H3_NO_ERROR.
#[track_caller]
fn assert_refused(p: &mut Pair, s: u64, status: u16) {
    p.run();
    let r = &p.client.responses[&s];
    assert!(r.complete(), "{r:?}");
    assert_eq!(r.status(), Some(status));
    assert!(r.body.is_empty());
    assert_eq!(r.stopped, Some(ErrorCode::H3_NO_ERROR.0), "{r:?}");
}

fn control_stream(first_frame: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut bytes = Vec::new();
    StreamType::CONTROL.encode(&mut bytes);
    first_frame(&mut bytes);
    bytes
}

#[test]
fn a_control_stream_must_start_with_settings() {
    let mut p = Pair::with(Config::default(), Network::default(), Setup::Bare);
    p.client
        .open_uni(control_stream(|b| frame::encode_goaway(0, b)), false);
    assert_closed(&mut p, ErrorCode::H3_MISSING_SETTINGS);
}

#[test]
fn a_second_control_stream_is_a_creation_error() {
    let mut p = Pair::new();
    let settings = p.client.settings_bytes();
    p.client.open_uni(settings, false);
    assert_closed(&mut p, ErrorCode::H3_STREAM_CREATION_ERROR);
}

#[test]
fn a_push_stream_from_a_client_is_a_creation_error() {
    let mut p = Pair::new();
    let mut bytes = Vec::new();
    StreamType::PUSH.encode(&mut bytes);
    bytes.push(0);
    p.client.open_uni(bytes, false);
    assert_closed(&mut p, ErrorCode::H3_STREAM_CREATION_ERROR);
}

#[test]
fn a_stream_of_reserved_type_is_stopped_and_the_connection_goes_on() {
    let mut p = Pair::new();
    let mut bytes = Vec::new();
    StreamType(0x21 + 0x1f * 3).encode(&mut bytes);
    bytes.extend_from_slice(b"padding");
    let id = p.client.open_uni(bytes, false);
    p.run();
    assert_eq!(
        p.client.stopped_uni,
        [(id, ErrorCode::H3_STREAM_CREATION_ERROR.0)]
    );
    assert_alive(&mut p);
}

#[test]
fn a_critical_stream_that_ends_closes_the_connection() {
    let mut p = Pair::with(Config::default(), Network::default(), Setup::Bare);
    let settings = p.client.settings_bytes();
    let control = p.client.open_uni(settings, false);
    p.run();
    assert!(p.server().peer_settings().is_some());
    p.client.write(control, Vec::new(), true);
    assert_closed(&mut p, ErrorCode::H3_CLOSED_CRITICAL_STREAM);
}

#[test]
fn cancel_push_for_a_push_never_promised_is_an_id_error() {
    let mut p = Pair::with(Config::default(), Network::default(), Setup::Bare);
    let mut bytes = p.client.settings_bytes();
    frame::encode_cancel_push(3, &mut bytes);
    p.client.open_uni(bytes, false);
    assert_closed(&mut p, ErrorCode::H3_ID_ERROR);
}

#[test]
fn data_before_headers_is_an_unexpected_frame() {
    let mut p = Pair::new();
    let id = p.client.open_request();
    let mut bytes = Vec::new();
    frame::encode_data(b"body first", &mut bytes);
    p.client.write(id, bytes, true);
    assert_closed(&mut p, ErrorCode::H3_FRAME_UNEXPECTED);
}

#[test]
fn malformed_requests_are_reset_with_message_error_and_the_connection_goes_on() {
    let mut p = Pair::new();
    let no_path = vec![
        (":method".to_owned(), "GET".to_owned()),
        (":scheme".to_owned(), "https".to_owned()),
        (":authority".to_owned(), "localhost".to_owned()),
    ];
    let cases = [
        no_path,
        request("GET", "/", &[("Upper-Case", "1")]),
        request("GET", "/", &[("connection", "close")]),
        request("GET", "/", &[(":status", "200")]),
        request("GET", "relative", &[]),
    ];
    for (i, fields) in cases.into_iter().enumerate() {
        let client_done = i % 2 == 0;
        let s = p.client.send_request(&fields, b"", client_done);
        assert_stream_reset(&mut p, s, ErrorCode::H3_MESSAGE_ERROR, client_done);
        assert!(p.event().is_none(), "no request for {fields:?}");
    }
    assert_alive(&mut p);
}

#[test]
fn a_stream_that_ends_without_a_request_is_incomplete() {
    let mut p = Pair::new();
    let id = p.client.open_request();
    let mut bytes = Vec::new();
    frame::encode_unknown(0x21, b"grease", &mut bytes);
    p.client.write(id, bytes, true);
    assert_stream_reset(&mut p, id.into(), ErrorCode::H3_REQUEST_INCOMPLETE, true);
    assert!(p.event().is_none());
    assert_alive(&mut p);
}

#[test]
fn oversized_field_sections_are_answered_431() {
    let config = Config {
        max_header_block: 4096,
        max_field_section_size: 1024,
        ..Config::default()
    };
    let mut p = Pair::with(config, Network::default(), Setup::Full);
    let long = "v".repeat(1500);
    // Over the decoded size, within the encoded one: decoded, then refused.
    let s = p
        .client
        .send_request(&request("GET", "/", &[("x-long", &long)]), b"", false);
    assert_refused(&mut p, s, 431);
    // Over the encoded size: skipped unread.
    let longer = "v".repeat(5000);
    let s = p
        .client
        .send_request(&request("GET", "/", &[("x-long", &longer)]), b"", false);
    assert_refused(&mut p, s, 431);
    assert!(p.event().is_none(), "no request reached the application");
    assert_alive(&mut p);
}

#[test]
fn a_body_that_does_not_match_its_content_length_is_malformed() {
    let mut p = Pair::new();
    for (length, body) in [("10", &b"short"[..]), ("3", &b"too long"[..])] {
        let s = p.client.send_request(
            &request("POST", "/", &[("content-length", length)]),
            body,
            true,
        );
        assert_stream_reset(&mut p, s, ErrorCode::H3_MESSAGE_ERROR, true);
        assert!(matches!(p.expect_event(), Event::Request { stream, .. } if stream == s));
        while let Some(event) = p.event() {
            match event {
                Event::Data { .. } => {}
                Event::Reset { stream, code } => {
                    assert_eq!((stream, code), (s, ErrorCode::H3_MESSAGE_ERROR));
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(p.event().is_none());
    }
    let s = p
        .client
        .send_request(&request("POST", "/", &[("content-length", "4")]), b"", true);
    assert_stream_reset(&mut p, s, ErrorCode::H3_MESSAGE_ERROR, true);
    assert!(
        p.event().is_none(),
        "a content-length and no body: no request"
    );
}

#[test]
fn a_body_over_max_content_length_is_answered_413() {
    let config = Config {
        max_content_length: 1000,
        ..Config::default()
    };
    let mut p = Pair::with(config, Network::default(), Setup::Full);
    // Declared: refused before the application hears of it.
    let s = p.client.send_request(
        &request("POST", "/", &[("content-length", "5000")]),
        &[0; 10],
        false,
    );
    assert_refused(&mut p, s, 413);
    assert!(p.event().is_none());
    // Streamed: the application had it, and hears it is gone.
    let s = p
        .client
        .send_request(&request("POST", "/", &[]), &[1; 600], false);
    p.run();
    assert!(matches!(p.expect_event(), Event::Request { .. }));
    assert!(matches!(p.expect_event(), Event::Data { .. }));
    let mut more = Vec::new();
    frame::encode_data(&[2; 600], &mut more);
    p.client.write_request(s, more, false);
    assert_refused(&mut p, s, 413);
    assert!(matches!(
        p.expect_event(),
        Event::Reset { stream, code } if stream == s && code == ErrorCode::H3_REQUEST_CANCELLED
    ));
    assert!(p.event().is_none());
    assert_alive(&mut p);
}

#[test]
fn a_request_the_client_resets_is_reset_for_the_application() {
    let mut p = Pair::new();
    let s = p
        .client
        .send_request(&request("POST", "/", &[]), b"part", false);
    p.run();
    assert!(matches!(p.expect_event(), Event::Request { .. }));
    assert!(matches!(p.expect_event(), Event::Data { .. }));
    p.client.reset(s, ErrorCode::H3_REQUEST_CANCELLED.0, true);
    p.run();
    assert!(matches!(
        p.expect_event(),
        Event::Reset { stream, code } if stream == s && code == ErrorCode::H3_REQUEST_CANCELLED
    ));
    assert_eq!(
        p.server()
            .send_response(s, StatusCode::OK, &HeaderMap::new(), true),
        Err(roadrunner_h3::SendError::UnknownStream)
    );
    p.run_until(|p| p.server().open_streams() == 0);
    assert_alive(&mut p);
}
