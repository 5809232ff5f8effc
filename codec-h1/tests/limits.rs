//! Each cap in `Config`, at and just over its boundary, also before the head is complete.

mod common;

use common::*;
use roadrunner_h1::{BodyKind, Config, ErrorKind, Event, ServerConn};

fn request_with_line_len(len: usize) -> Vec<u8> {
    // "GET /" + path + " HTTP/1.1" == len
    let path = "a".repeat(len - 14);
    format!("GET /{path} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes()
}

#[test]
fn request_line_boundary() {
    let max = Config::default().max_request_line;
    assert_eq!(error_of(&request_with_line_len(max)), None);
    assert_eq!(requests(&events(&request_with_line_len(max))), 1);
    assert_eq!(
        error_of(&request_with_line_len(max + 1)),
        Some(ErrorKind::RequestLineTooLong)
    );
    assert_eq!(status_of(&request_with_line_len(max + 1)), Some(414));
}

#[test]
fn huge_request_line_fails_before_crlf() {
    let mut conn = ServerConn::new(Config::default());
    conn.recv(b"GET /");
    conn.recv(&vec![b'a'; 1 << 20]);
    let err = conn.poll_event().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RequestLineTooLong);
    assert_eq!(err.status(), 414);
}

#[test]
fn request_line_at_cap_waits_for_crlf() {
    let config = Config::default();
    let mut conn = ServerConn::new(config.clone());
    conn.recv(&vec![b'a'; config.max_request_line]);
    conn.recv(b"\r");
    assert!(matches!(conn.poll_event(), Ok(None)));
}

fn request_with_header_len(len: usize) -> Vec<u8> {
    let value = "v".repeat(len - 3);
    format!("GET / HTTP/1.1\r\nHost: x\r\nX: {value}\r\n\r\n").into_bytes()
}

#[test]
fn header_line_boundary() {
    let config = Config {
        max_header_block: 100_000,
        ..Config::default()
    };
    let max = config.max_header_line;
    assert_eq!(error_with(&config, &request_with_header_len(max)), None);
    let over = request_with_header_len(max + 1);
    assert_eq!(
        error_with(&config, &over),
        Some(ErrorKind::HeaderLineTooLong)
    );
}

#[test]
fn huge_header_line_fails_before_crlf() {
    let mut conn = ServerConn::new(Config::default());
    conn.recv(b"GET / HTTP/1.1\r\nX: ");
    conn.recv(&vec![b'v'; 1 << 20]);
    let err = conn.poll_event().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::HeaderLineTooLong);
    assert_eq!(err.status(), 431);
}

/// A head whose header block (field lines with CRLF) is exactly `block` bytes.
fn request_with_block(block: usize) -> Vec<u8> {
    let mut head = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
    let mut left = block - 9;
    while left > 0 {
        let line = left.min(1000);
        assert!(line >= 5 || line == left);
        let value = "v".repeat(line.saturating_sub(5));
        head.extend_from_slice(format!("X: {value}\r\n").as_bytes());
        left -= line.max(5);
    }
    head.extend_from_slice(b"\r\n");
    head
}

#[test]
fn header_block_boundary() {
    let max = Config::default().max_header_block;
    assert_eq!(error_of(&request_with_block(max)), None);
    assert_eq!(
        error_of(&request_with_block(max + 1)),
        Some(ErrorKind::HeaderBlockTooLarge)
    );
}

#[test]
fn header_block_fails_before_head_ends() {
    let mut conn = ServerConn::new(Config::default());
    conn.recv(b"GET / HTTP/1.1\r\n");
    for _ in 0..20 {
        conn.recv(format!("X: {}\r\n", "v".repeat(1000)).as_bytes());
    }
    assert_eq!(
        conn.poll_event().unwrap_err().kind(),
        ErrorKind::HeaderBlockTooLarge
    );
}

fn request_with_fields(n: usize) -> Vec<u8> {
    let mut head = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 1..n {
        head.extend_from_slice(format!("X{i}: v\r\n").as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    head
}

#[test]
fn header_count_boundary() {
    let max = Config::default().max_header_count;
    assert_eq!(error_of(&request_with_fields(max)), None);
    assert_eq!(
        error_of(&request_with_fields(max + 1)),
        Some(ErrorKind::TooManyHeaders)
    );
    assert_eq!(status_of(&request_with_fields(max + 1)), Some(431));
}

#[test]
fn content_length_boundary_yields_request_first() {
    let config = Config {
        max_content_length: 10,
        ..Config::default()
    };
    let ok = events_with(
        &config,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789",
    );
    assert!(matches!(
        ok.as_slice(),
        [Ev::Req { .. }, Ev::Data(_), Ev::End(None)]
    ));

    let input = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n";
    let evs = events_with(&config, input);
    assert!(matches!(
        evs.as_slice(),
        [
            Ev::Req {
                body: BodyKind::Length(11),
                ..
            },
            Ev::Err(ErrorKind::BodyTooLarge)
        ]
    ));

    // No 100 Continue for a body that will be refused.
    let mut conn = ServerConn::new(config);
    conn.recv(input);
    assert!(matches!(conn.poll_event(), Ok(Some(Event::Request(_)))));
    let mut out = Vec::new();
    conn.send_continue(&mut out);
    assert!(out.is_empty());
    let err = conn.poll_event().unwrap_err();
    assert_eq!(err.status(), 413);
}

#[test]
fn chunked_body_over_cap() {
    let config = Config {
        max_content_length: 10,
        ..Config::default()
    };
    let head = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    let ok = format!("{head}5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n");
    assert_eq!(error_with(&config, ok.as_bytes()), None);
    let over = format!("{head}5\r\n01234\r\n6\r\n567890\r\n0\r\n\r\n");
    let evs = events_with(&config, over.as_bytes());
    assert!(matches!(
        evs.as_slice(),
        [Ev::Req { .. }, Ev::Data(d), Ev::Err(ErrorKind::BodyTooLarge)] if d == b"01234"
    ));
}

#[test]
fn small_config_caps() {
    let config = Config {
        max_request_line: 16,
        max_header_line: 8,
        max_header_block: 20,
        max_header_count: 2,
        max_content_length: 3,
    };
    assert_eq!(
        error_with(&config, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        None
    );
    assert_eq!(
        error_with(&config, b"GET /abc HTTP/1.1\r\nHost: x\r\n\r\n"),
        Some(ErrorKind::RequestLineTooLong)
    );
    assert_eq!(
        error_with(&config, b"GET / HTTP/1.1\r\nHost: xyz\r\n\r\n"),
        Some(ErrorKind::HeaderLineTooLong)
    );
    assert_eq!(
        error_with(
            &config,
            b"GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n"
        ),
        Some(ErrorKind::TooManyHeaders)
    );
}
