//! Response encoding: framing, keep-alive, date, and misuse of the send API.

mod common;

use common::*;
use http::{HeaderMap, HeaderValue, StatusCode};
use roadrunner_h1::{SendError, ServerConn};

const GET11: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
const GET10: &[u8] = b"GET / HTTP/1.0\r\n\r\n";
const GET10_KA: &[u8] = b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
const HEAD11: &[u8] = b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n";

/// Answers the first request of `input` with `status`, a body sent in two pieces.
fn respond(
    input: &[u8],
    status: u16,
    headers: &HeaderMap,
    len: Option<u64>,
) -> (String, ServerConn) {
    let (mut conn, _) = conn_with_request(input);
    let mut out = Vec::new();
    let status = StatusCode::from_u16(status).unwrap();
    conn.send_response(status, headers, len, now(), &mut out)
        .unwrap();
    conn.send_data(b"hel", &mut out).unwrap();
    conn.send_data(b"lo", &mut out).unwrap();
    conn.send_end(None, &mut out).unwrap();
    (String::from_utf8(out).unwrap(), conn)
}

fn plain(input: &[u8], status: u16, len: Option<u64>) -> (String, ServerConn) {
    respond(input, status, &HeaderMap::new(), len)
}

const DATE: &str = "date: Sun, 06 Nov 1994 08:49:37 GMT\r\n";

#[test]
fn content_length_framing() {
    let (text, conn) = plain(GET11, 200, Some(5));
    assert_eq!(
        text,
        format!("HTTP/1.1 200 OK\r\n{DATE}content-length: 5\r\n\r\nhello")
    );
    assert!(!conn.is_closed());
}

#[test]
fn caller_framing_headers_are_replaced() {
    let mut h = HeaderMap::new();
    h.insert("content-length", HeaderValue::from_static("1"));
    h.insert("transfer-encoding", HeaderValue::from_static("chunked"));
    let (text, _) = respond(GET11, 200, &h, Some(5));
    assert_eq!(
        text,
        format!("HTTP/1.1 200 OK\r\n{DATE}content-length: 5\r\n\r\nhello")
    );
}

#[test]
fn chunked_for_unknown_length_on_11() {
    let (text, conn) = plain(GET11, 200, None);
    let expected = format!(
        "HTTP/1.1 200 OK\r\n{DATE}transfer-encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n"
    );
    assert_eq!(text, expected);
    assert!(!conn.is_closed());
}

#[test]
fn chunked_trailers_and_empty_data() {
    let (mut conn, _) = conn_with_request(GET11);
    let mut out = Vec::new();
    conn.send_response(StatusCode::OK, &HeaderMap::new(), None, now(), &mut out)
        .unwrap();
    out.clear();
    conn.send_data(b"", &mut out).unwrap();
    assert!(out.is_empty(), "an empty chunk would end the body");
    let mut t = HeaderMap::new();
    t.insert("x-checksum", HeaderValue::from_static("abc"));
    conn.send_end(Some(&t), &mut out).unwrap();
    assert_eq!(out, b"0\r\nx-checksum: abc\r\n\r\n");
}

#[test]
fn trailers_ignored_without_chunking() {
    let (mut conn, _) = conn_with_request(GET11);
    let mut out = Vec::new();
    conn.send_response(StatusCode::OK, &HeaderMap::new(), Some(0), now(), &mut out)
        .unwrap();
    out.clear();
    let mut t = HeaderMap::new();
    t.insert("x-checksum", HeaderValue::from_static("abc"));
    conn.send_end(Some(&t), &mut out).unwrap();
    assert!(out.is_empty());
}

#[test]
fn close_delimited_on_10() {
    let (text, conn) = plain(GET10, 200, None);
    assert_eq!(
        text,
        format!("HTTP/1.1 200 OK\r\n{DATE}connection: close\r\n\r\nhello")
    );
    assert!(conn.is_closed());
    // Even when 1.0 asked for keep-alive, an unknown length must close.
    let (text, conn) = plain(GET10_KA, 200, None);
    assert!(text.contains("connection: close\r\n") && !text.contains("keep-alive"));
    assert!(conn.is_closed());
}

#[test]
fn keep_alive_rules_10() {
    let (text, conn) = plain(GET10_KA, 200, Some(5));
    assert_eq!(
        text,
        format!(
            "HTTP/1.1 200 OK\r\n{DATE}content-length: 5\r\nconnection: keep-alive\r\n\r\nhello"
        )
    );
    assert!(!conn.is_closed());
    let (text, conn) = plain(GET10, 200, Some(5));
    assert!(text.contains("connection: close\r\n"));
    assert!(conn.is_closed());
}

#[test]
fn keep_alive_rules_11() {
    let (text, conn) = plain(
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        200,
        Some(5),
    );
    assert!(text.contains("connection: close\r\n"));
    assert!(conn.is_closed());

    let mut h = HeaderMap::new();
    h.insert("connection", HeaderValue::from_static("close"));
    let (text, conn) = respond(GET11, 200, &h, Some(5));
    assert_eq!(text.matches("connection").count(), 1);
    assert!(text.contains("connection: close\r\n"));
    assert!(conn.is_closed());
}

#[test]
fn head_keeps_length_but_no_body() {
    let (text, conn) = plain(HEAD11, 200, Some(5));
    assert_eq!(
        text,
        format!("HTTP/1.1 200 OK\r\n{DATE}content-length: 5\r\n\r\n")
    );
    assert!(!conn.is_closed());
    let (text, conn) = plain(HEAD11, 200, None);
    assert_eq!(text, format!("HTTP/1.1 200 OK\r\n{DATE}\r\n"));
    assert!(!conn.is_closed());
}

/// Answers `input` the way the server does (each request with an empty 200, the error
/// with a `Bad Request` body and its length); returns the error response.
fn error_answer(input: &[u8], eof: bool) -> String {
    let mut conn = ServerConn::new(Default::default());
    conn.recv(input);
    if eof {
        conn.recv_eof();
    }
    let mut out = Vec::new();
    let err = loop {
        match conn.poll_event() {
            Ok(Some(roadrunner_h1::Event::End(_))) => {
                conn.send_response(StatusCode::OK, &HeaderMap::new(), Some(0), now(), &mut out)
                    .unwrap();
                conn.send_end(None, &mut out).unwrap();
                out.clear();
            }
            Ok(Some(_)) => {}
            Ok(None) => panic!("no error for {:?}", String::from_utf8_lossy(input)),
            Err(e) => break e,
        }
    };
    conn.send_response(err.status(), &HeaderMap::new(), Some(11), now(), &mut out)
        .unwrap();
    conn.send_data(b"Bad Request", &mut out).unwrap();
    conn.send_end(None, &mut out).unwrap();
    assert!(conn.is_closed());
    String::from_utf8(out).unwrap()
}

#[test]
fn error_response_to_head_has_no_body() {
    let long = format!("HEAD /{}", "a".repeat(9000));
    let cases: [(&[u8], bool, u16); 5] = [
        // The field name fails in httparse, after the scan.
        (b"HEAD / HTTP/1.1\r\nHost: a\r\nFo@: x\r\n\r\n", false, 400),
        // The scan fails: a bare LF, then a request line over the cap with no CRLF yet.
        (b"\r\nHEAD / HTTP/1.1\r\nHost: a\n\r\n", false, 400),
        (long.as_bytes(), false, 414),
        // The peer gave up in the middle of the head.
        (b"HEAD / HTTP/1.1\r\nHost: a\r\n", true, 400),
        // The head was fine; the body framing is not.
        (
            b"HEAD / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            false,
            400,
        ),
    ];
    for (input, eof, status) in cases {
        let text = error_answer(input, eof);
        let reason = StatusCode::from_u16(status)
            .unwrap()
            .canonical_reason()
            .unwrap();
        // RFC 9110 §9.3.2 lets content-length state what a GET would have carried.
        assert_eq!(
            text,
            format!("HTTP/1.1 {status} {reason}\r\n{DATE}content-length: 11\r\nconnection: close\r\n\r\n"),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn error_response_body_follows_the_failing_request_not_the_previous_one() {
    let with_body = "content-length: 11\r\nconnection: close\r\n\r\nBad Request";
    let text = error_answer(
        b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nFo@: x\r\n\r\n",
        false,
    );
    assert!(text.ends_with(with_body), "{text:?}");
    // Only a complete method token counts: these are not HEAD requests.
    for input in [
        &b"HEADER / HTTP/1.1\r\nFo@: x\r\n\r\n"[..],
        b"head / HTTP/1.1\r\nFo@: x\r\n\r\n",
        b"HEAD\r\n",
    ] {
        let text = error_answer(input, false);
        assert!(
            text.ends_with(with_body),
            "{:?}: {text:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn no_body_statuses() {
    for status in [204, 304, 100, 103] {
        for len in [Some(5), None] {
            let (text, conn) = plain(GET11, status, len);
            let reason = StatusCode::from_u16(status)
                .unwrap()
                .canonical_reason()
                .unwrap();
            assert_eq!(
                text,
                format!("HTTP/1.1 {status} {reason}\r\n{DATE}\r\n"),
                "{status} {len:?}"
            );
            assert!(!conn.is_closed());
        }
    }
}

#[test]
fn unknown_reason_is_empty() {
    let (text, _) = plain(GET11, 599, Some(5));
    assert!(text.starts_with("HTTP/1.1 599 \r\n"));
}

#[test]
fn date_header() {
    let mut h = HeaderMap::new();
    h.insert(
        "date",
        HeaderValue::from_static("Mon, 01 Jan 2024 00:00:00 GMT"),
    );
    let (text, _) = respond(GET11, 200, &h, Some(5));
    assert_eq!(text.matches("date:").count(), 1);
    assert!(text.contains("date: Mon, 01 Jan 2024 00:00:00 GMT\r\n"));

    // Formatted per second: a later second shows up on the next response.
    let (mut conn, _) =
        conn_with_request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut out = Vec::new();
    read_body(&mut conn);
    conn.send_response(StatusCode::OK, &HeaderMap::new(), Some(0), now(), &mut out)
        .unwrap();
    conn.send_end(None, &mut out).unwrap();
    assert!(matches!(
        conn.poll_event(),
        Ok(Some(roadrunner_h1::Event::Request(_)))
    ));
    let later = now() + std::time::Duration::from_secs(61);
    conn.send_response(StatusCode::OK, &HeaderMap::new(), Some(0), later, &mut out)
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("08:49:37 GMT") && text.contains("08:50:38 GMT"));
}

#[test]
fn close_after_response() {
    let (mut conn, _) = conn_with_request(GET11);
    conn.close_after_response();
    assert!(!conn.is_closed());
    let mut out = Vec::new();
    conn.send_response(StatusCode::OK, &HeaderMap::new(), Some(0), now(), &mut out)
        .unwrap();
    assert!(String::from_utf8_lossy(&out).contains("connection: close\r\n"));
    conn.send_end(None, &mut out).unwrap();
    assert!(conn.is_closed());

    // Asked after the head went out: no header, but the connection still closes.
    let (mut conn, _) = conn_with_request(GET11);
    let mut out = Vec::new();
    conn.send_response(StatusCode::OK, &HeaderMap::new(), Some(0), now(), &mut out)
        .unwrap();
    conn.close_after_response();
    conn.send_end(None, &mut out).unwrap();
    assert!(!String::from_utf8_lossy(&out).contains("connection"));
    assert!(conn.is_closed());

    // With nothing in progress it closes at once.
    let mut conn = ServerConn::new(Default::default());
    conn.close_after_response();
    assert!(conn.is_closed());
}

#[test]
fn misuse() {
    let mut out = Vec::new();
    let mut idle = ServerConn::new(Default::default());
    let h = HeaderMap::new();
    assert_eq!(
        idle.send_response(StatusCode::OK, &h, None, now(), &mut out),
        Err(SendError::NoRequest)
    );
    assert_eq!(idle.send_data(b"x", &mut out), Err(SendError::NotStarted));
    assert_eq!(idle.send_end(None, &mut out), Err(SendError::NotStarted));

    let (mut conn, _) = conn_with_request(GET11);
    assert_eq!(
        conn.send_response(StatusCode::SWITCHING_PROTOCOLS, &h, None, now(), &mut out),
        Err(SendError::UnexpectedUpgrade)
    );
    conn.send_response(StatusCode::OK, &h, Some(3), now(), &mut out)
        .unwrap();
    assert_eq!(
        conn.send_response(StatusCode::OK, &h, Some(3), now(), &mut out),
        Err(SendError::AlreadyStarted)
    );
    let before = out.len();
    assert_eq!(
        conn.send_data(b"abcd", &mut out),
        Err(SendError::BodyTooLong)
    );
    assert_eq!(out.len(), before, "nothing written on misuse");
    conn.send_data(b"abc", &mut out).unwrap();
    conn.send_end(None, &mut out).unwrap();
    assert_eq!(conn.send_data(b"x", &mut out), Err(SendError::NotStarted));
    assert_eq!(conn.send_end(None, &mut out), Err(SendError::NotStarted));
    assert_eq!(
        conn.send_response(StatusCode::OK, &h, None, now(), &mut out),
        Err(SendError::NoRequest)
    );

    let (mut conn, _) = conn_with_request(GET11);
    conn.send_response(StatusCode::OK, &h, Some(3), now(), &mut out)
        .unwrap();
    conn.send_data(b"ab", &mut out).unwrap();
    assert_eq!(conn.send_end(None, &mut out), Err(SendError::BodyTooShort));
    assert!(
        conn.is_closed(),
        "a truncated response leaves the connection unusable"
    );
    for e in [SendError::NoRequest, SendError::BodyTooShort] {
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn send_full_is_the_three_steps_in_one() {
    let (three, _) = plain(GET11, 200, Some(5));
    let (mut conn, _) = conn_with_request(GET11);
    let mut out = Vec::new();
    conn.send_full(StatusCode::OK, &HeaderMap::new(), b"hello", now(), &mut out)
        .unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), three);
    assert!(!conn.is_closed(), "kept alive");
    assert_eq!(
        conn.send_full(
            StatusCode::OK,
            &HeaderMap::new(),
            b"",
            now(),
            &mut Vec::new()
        ),
        Err(SendError::NoRequest)
    );
}

#[test]
fn send_error_answers_with_the_error_s_status_and_closes() {
    let answer = |input: &[u8]| {
        let mut conn = ServerConn::new(Default::default());
        conn.recv(input);
        let err = loop {
            match conn.poll_event() {
                Ok(Some(_)) => {}
                Ok(None) => panic!("no error"),
                Err(e) => break e,
            }
        };
        let mut out = Vec::new();
        conn.send_error(err, now(), &mut out).unwrap();
        assert!(conn.is_closed());
        String::from_utf8(out).unwrap()
    };
    let ct = "content-type: text/plain; charset=utf-8\r\n";
    assert_eq!(
        answer(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
        format!(
            "HTTP/1.1 400 Bad Request\r\n{DATE}{ct}content-length: 11\r\nconnection: close\r\n\r\nBad Request"
        )
    );
    assert_eq!(
        answer(b"GET / HTTP/2.0\r\nHost: x\r\n\r\n"),
        format!(
            "HTTP/1.1 505 HTTP Version Not Supported\r\n{DATE}{ct}content-length: 26\r\nconnection: close\r\n\r\nHTTP Version Not Supported"
        )
    );
}
