//! Connection flow: pipelining, 100-continue, discarding unread bodies, trailers,
//! upgrades, EOF and the error response.

mod common;

use common::*;
use http::{HeaderMap, StatusCode};
use roadrunner_h1::{BodyKind, Config, ErrorKind, Event, ServerConn};

fn ok(conn: &mut ServerConn, out: &mut Vec<u8>) {
    conn.send_response(StatusCode::OK, &HeaderMap::new(), Some(0), now(), out)
        .unwrap();
    conn.send_end(None, out).unwrap();
}

fn next_request(conn: &mut ServerConn) -> roadrunner_h1::RequestHead {
    match conn.poll_event() {
        Ok(Some(Event::Request(h))) => h,
        other => panic!("expected a request, got {other:?}"),
    }
}

#[test]
fn pipelined_requests_wait_for_each_response() {
    let mut conn = ServerConn::new(Config::default());
    conn.recv(
        b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n\
          POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab\
          POST /3 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nc\r\n0\r\n\r\n",
    );
    let mut out = Vec::new();
    for (path, body) in [("/1", &b""[..]), ("/2", b"ab"), ("/3", b"c")] {
        assert_eq!(next_request(&mut conn).uri, path);
        assert_eq!(read_body(&mut conn).0, body);
        // Nothing more until the response ends, however often we ask.
        assert!(matches!(conn.poll_event(), Ok(None)));
        assert!(matches!(conn.poll_event(), Ok(None)));
        conn.send_response(StatusCode::OK, &HeaderMap::new(), Some(0), now(), &mut out)
            .unwrap();
        assert!(matches!(conn.poll_event(), Ok(None)));
        conn.send_end(None, &mut out).unwrap();
    }
    assert!(matches!(conn.poll_event(), Ok(None)));
    assert!(!conn.is_closed());
}

#[test]
fn request_without_body_ends_at_once() {
    let evs = events(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(matches!(
        evs.as_slice(),
        [
            Ev::Req {
                body: BodyKind::Empty,
                ..
            },
            Ev::End(None)
        ]
    ));
    let evs = events(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    assert!(matches!(
        evs.as_slice(),
        [
            Ev::Req {
                body: BodyKind::Empty,
                ..
            },
            Ev::End(None)
        ]
    ));
}

#[test]
fn trailers_in() {
    let evs = events(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
          3;ext=1\r\nabc\r\n0\r\nX-Sum: 7\r\nX-Other: a\r\n\r\n",
    );
    let trailers = vec![
        ("x-sum".to_owned(), b"7".to_vec()),
        ("x-other".to_owned(), b"a".to_vec()),
    ];
    assert!(matches!(&evs[1], Ev::Data(d) if d == b"abc"));
    assert_eq!(evs[2], Ev::End(Some(trailers)));
}

const EXPECT: &[u8] =
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n";

#[test]
fn continue_only_when_expected_and_once() {
    let (mut conn, head) = conn_with_request(EXPECT);
    assert!(head.expect_continue);
    let mut out = Vec::new();
    conn.send_continue(&mut out);
    assert_eq!(out, b"HTTP/1.1 100 Continue\r\n\r\n");
    conn.send_continue(&mut out);
    assert_eq!(out.len(), 25, "sent once");

    let (mut conn, head) =
        conn_with_request(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n");
    assert!(!head.expect_continue);
    let mut out = Vec::new();
    conn.send_continue(&mut out);
    assert!(out.is_empty());

    // Not after the final response started.
    let (mut conn, _) = conn_with_request(EXPECT);
    let mut out = Vec::new();
    conn.send_response(StatusCode::OK, &HeaderMap::new(), Some(0), now(), &mut out)
        .unwrap();
    let len = out.len();
    conn.send_continue(&mut out);
    assert_eq!(out.len(), len);
}

#[test]
fn response_without_continue_closes() {
    let (mut conn, _) = conn_with_request(EXPECT);
    let mut out = Vec::new();
    conn.send_response(
        StatusCode::EXPECTATION_FAILED,
        &HeaderMap::new(),
        Some(0),
        now(),
        &mut out,
    )
    .unwrap();
    assert!(String::from_utf8_lossy(&out).contains("connection: close\r\n"));
    conn.send_end(None, &mut out).unwrap();
    assert!(conn.is_closed());
}

#[test]
fn unread_body_is_discarded_after_continue() {
    let mut conn = ServerConn::new(Config::default());
    conn.recv(EXPECT);
    next_request(&mut conn);
    let mut out = Vec::new();
    conn.send_continue(&mut out);
    conn.recv(b"a");
    assert!(matches!(conn.poll_event(), Ok(Some(Event::Data(_)))));
    conn.send_response(StatusCode::OK, &HeaderMap::new(), Some(0), now(), &mut out)
        .unwrap();
    assert!(!String::from_utf8_lossy(&out).contains("connection"));
    conn.send_end(None, &mut out).unwrap();
    assert!(!conn.is_closed());
    conn.recv(b"bc");
    conn.recv(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(next_request(&mut conn).uri, "/next");
}

#[test]
fn unread_body_is_discarded_before_next_request() {
    let input = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
                  3\r\nabc\r\n3\r\ndef\r\n0\r\nT: 1\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n";
    for step in [1, input.len()] {
        let mut conn = ServerConn::new(Config::default());
        let mut chunks = input.chunks(step);
        while !matches!(conn.poll_event(), Ok(Some(Event::Request(_)))) {
            conn.recv(chunks.next().unwrap());
        }
        let mut out = Vec::new();
        ok(&mut conn, &mut out);
        let head = loop {
            match conn.poll_event() {
                Ok(Some(Event::Request(h))) => break h,
                Ok(None) => conn.recv(chunks.next().unwrap()),
                other => panic!("discarded body leaked: {other:?}"),
            }
        };
        assert_eq!(head.uri, "/next");
    }
}

#[test]
fn discarded_body_still_capped() {
    let config = Config {
        max_content_length: 4,
        ..Config::default()
    };
    let mut conn = ServerConn::new(config);
    conn.recv(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    next_request(&mut conn);
    let mut out = Vec::new();
    ok(&mut conn, &mut out);
    conn.recv(b"3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(matches!(conn.poll_event(), Ok(None)));
    assert!(conn.is_closed());
}

#[test]
fn upgrade_hands_over_buffered_bytes() {
    let input = b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x05hello";
    for end in [true, false] {
        let (mut conn, head) = conn_with_request(input);
        assert!(head.upgrade);
        assert!(matches!(conn.poll_event(), Ok(Some(Event::End(None)))));
        let mut h = HeaderMap::new();
        h.insert("connection", "upgrade".parse().unwrap());
        h.insert("upgrade", "websocket".parse().unwrap());
        let mut out = Vec::new();
        conn.send_response(StatusCode::SWITCHING_PROTOCOLS, &h, None, now(), &mut out)
            .unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
        assert!(text.contains("connection: upgrade\r\n") && !text.contains("transfer-encoding"));
        if end {
            conn.send_end(None, &mut out).unwrap();
        }
        assert!(matches!(conn.poll_event(), Ok(None)));
        assert!(!conn.is_closed());
        assert_eq!(conn.take_upgraded().unwrap(), &b"\x81\x05hello"[..]);
        assert!(conn.take_upgraded().is_none());
    }
}

#[test]
fn refused_upgrade_continues_http() {
    let input = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n\
                  GET /2 HTTP/1.1\r\nHost: x\r\n\r\n";
    let (mut conn, _) = conn_with_request(input);
    read_body(&mut conn);
    let mut out = Vec::new();
    ok(&mut conn, &mut out);
    assert!(conn.take_upgraded().is_none());
    assert_eq!(next_request(&mut conn).uri, "/2");
}

#[test]
fn eof_handling() {
    // Nothing of a new request: a clean close.
    let (evs, _) = run_pieces(
        &Config::default(),
        [&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..]],
        true,
    );
    assert_eq!(requests(&evs), 1);
    assert!(!evs.iter().any(|e| matches!(e, Ev::Err(_))));
    let mut conn = ServerConn::new(Config::default());
    conn.recv(b"\r\n");
    conn.recv_eof();
    assert!(matches!(conn.poll_event(), Ok(None)));
    assert!(conn.is_closed());

    // Cut short in the head or in the body: an error.
    for partial in [
        &b"GET / HTTP/1.1\r\nHo"[..],
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab",
    ] {
        let (evs, _) = run_pieces(&Config::default(), [partial], true);
        assert_eq!(evs.last(), Some(&Ev::Err(ErrorKind::UnexpectedEof)));
    }

    // EOF right after a complete request: it is still answered, then the connection closes.
    let mut conn = ServerConn::new(Config::default());
    conn.recv(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    conn.recv_eof();
    next_request(&mut conn);
    read_body(&mut conn);
    let mut out = Vec::new();
    ok(&mut conn, &mut out);
    assert!(conn.is_closed());
}

#[test]
fn error_response_allowed_once_and_closes() {
    let mut conn = ServerConn::new(Config::default());
    conn.recv(b"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let err = conn.poll_event().unwrap_err();
    assert_eq!(err.status(), StatusCode::BAD_REQUEST);
    assert!(matches!(conn.poll_event(), Ok(None)));
    let mut out = Vec::new();
    let h = HeaderMap::new();
    conn.send_response(err.status(), &h, Some(0), now(), &mut out)
        .unwrap();
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"));
    assert!(text.contains("connection: close\r\n"));
    assert!(!conn.is_closed());
    conn.send_end(None, &mut out).unwrap();
    assert!(conn.is_closed());
    assert!(conn
        .send_response(err.status(), &h, Some(0), now(), &mut out)
        .is_err());
    conn.recv(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(matches!(conn.poll_event(), Ok(None)));
}

#[test]
fn error_mid_body_after_response_started() {
    let mut conn = ServerConn::new(Config::default());
    conn.recv(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    next_request(&mut conn);
    let mut out = Vec::new();
    conn.send_response(StatusCode::OK, &HeaderMap::new(), None, now(), &mut out)
        .unwrap();
    assert!(conn.poll_event().is_err());
    assert!(conn
        .send_response(
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            None,
            now(),
            &mut out
        )
        .is_err());
    conn.send_end(None, &mut out).unwrap();
    assert!(conn.is_closed());
}

#[test]
fn a_recycled_map_holds_the_next_requests_fields_and_only_them() {
    let mut conn = ServerConn::new(Config::default());
    let mut out = Vec::new();
    // Whole and in pieces: both ways a head is parsed.
    conn.recv(b"GET /1 HTTP/1.1\r\nHost: x\r\nX-One: 1\r\n\r\nGET /2 HTTP/1.1\r\nHo");
    next_request(&mut conn);
    read_body(&mut conn);
    let mut old = HeaderMap::with_capacity(8);
    old.insert("x-stale", "gone".parse().unwrap());
    old.insert("content-type", "text/plain".parse().unwrap());
    let room = old.capacity();
    conn.recycle_headers(old);
    ok(&mut conn, &mut out);
    conn.recv(b"st: y\r\nX-Two: 2\r\n\r\n");
    let head = next_request(&mut conn);
    assert_eq!(head.uri, "/2");
    let names: Vec<&str> = head.headers.keys().map(|n| n.as_str()).collect();
    assert_eq!(names, ["host", "x-two"]);
    assert_eq!(head.headers["host"], "y");
    assert_eq!(
        head.headers.capacity(),
        room,
        "the recycled map, not a new one"
    );
}
