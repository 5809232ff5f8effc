//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test crate uses a different subset

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, StatusCode};
use roadrunner_h1::{BodyKind, Config, ErrorKind, Event, ServerConn};

/// A fixed clock: Sun, 06 Nov 1994 08:49:37 GMT.
pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(784_111_777)
}

/// An event with the body data of one request merged, easy to compare.
#[derive(Debug, PartialEq, Eq, Clone)]
pub enum Ev {
    Req {
        method: String,
        uri: String,
        version: http::Version,
        headers: Vec<(String, Vec<u8>)>,
        body: BodyKind,
        keep_alive: bool,
        expect_continue: bool,
        upgrade: bool,
    },
    Data(Vec<u8>),
    End(Option<Vec<(String, Vec<u8>)>>),
    Err(ErrorKind),
}

pub fn fields(map: &HeaderMap) -> Vec<(String, Vec<u8>)> {
    map.iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect()
}

fn push(evs: &mut Vec<Ev>, ev: Event) {
    match ev {
        Event::Request(h) => evs.push(Ev::Req {
            method: h.method.to_string(),
            uri: h.uri.to_string(),
            version: h.version,
            headers: fields(&h.headers),
            body: h.body,
            keep_alive: h.keep_alive,
            expect_continue: h.expect_continue,
            upgrade: h.upgrade,
        }),
        Event::Data(d) => {
            assert!(!d.is_empty(), "empty Data event");
            if let Some(Ev::Data(prev)) = evs.last_mut() {
                prev.extend_from_slice(&d);
            } else {
                evs.push(Ev::Data(d.to_vec()));
            }
        }
        Event::End(t) => evs.push(Ev::End(t.as_ref().map(fields))),
    }
}

/// Polls until the codec needs input; each finished request gets an empty 200, each
/// error its error response. Returns true once nothing more can happen.
pub fn pump(conn: &mut ServerConn, evs: &mut Vec<Ev>, out: &mut Vec<u8>) -> bool {
    loop {
        match conn.poll_event() {
            Ok(Some(ev)) => {
                let end = matches!(ev, Event::End(_));
                push(evs, ev);
                if end {
                    conn.send_response(StatusCode::OK, &HeaderMap::new(), Some(0), now(), out)
                        .unwrap();
                    conn.send_end(None, out).unwrap();
                }
            }
            Ok(None) => return conn.is_closed(),
            Err(e) => {
                evs.push(Ev::Err(e.kind()));
                // The error response is refused only if this request's response began.
                if conn
                    .send_response(e.status(), &HeaderMap::new(), Some(0), now(), out)
                    .is_ok()
                {
                    conn.send_end(None, out).unwrap();
                }
                assert!(conn.is_closed());
                assert!(
                    matches!(conn.poll_event(), Ok(None)),
                    "events after an error"
                );
                return true;
            }
        }
    }
}

/// Feeds `pieces` one `recv` at a time, then EOF if asked; returns events and output.
pub fn run_pieces<'a>(
    config: &Config,
    pieces: impl IntoIterator<Item = &'a [u8]>,
    eof: bool,
) -> (Vec<Ev>, Vec<u8>) {
    let mut conn = ServerConn::new(config.clone());
    let (mut evs, mut out) = (Vec::new(), Vec::new());
    for piece in pieces {
        conn.recv(piece);
        if pump(&mut conn, &mut evs, &mut out) {
            return (evs, out);
        }
    }
    if eof {
        conn.recv_eof();
        pump(&mut conn, &mut evs, &mut out);
    }
    (evs, out)
}

/// Events for `input` in one piece, after checking that byte-by-byte gives the same.
pub fn events(input: &[u8]) -> Vec<Ev> {
    events_with(&Config::default(), input)
}

pub fn events_with(config: &Config, input: &[u8]) -> Vec<Ev> {
    let whole = run_pieces(config, [input], false);
    let bytewise = run_pieces(config, input.chunks(1), false);
    assert_eq!(whole, bytewise, "split changed the outcome");
    whole.0
}

/// The error the input ends in, if any.
pub fn error_of(input: &[u8]) -> Option<ErrorKind> {
    error_with(&Config::default(), input)
}

pub fn error_with(config: &Config, input: &[u8]) -> Option<ErrorKind> {
    match events_with(config, input).last() {
        Some(Ev::Err(kind)) => Some(*kind),
        _ => None,
    }
}

/// Status code of the error the input ends in.
pub fn status_of(input: &[u8]) -> Option<u16> {
    error_of(input).map(|k| match k {
        ErrorKind::RequestLineTooLong => 414,
        ErrorKind::HeaderLineTooLong
        | ErrorKind::HeaderBlockTooLarge
        | ErrorKind::TooManyHeaders => 431,
        ErrorKind::BodyTooLarge => 413,
        ErrorKind::UnsupportedTransferCoding => 501,
        ErrorKind::VersionNotSupported => 505,
        _ => 400,
    })
}

/// A connection with `input` received and its first request polled out.
pub fn conn_with_request(input: &[u8]) -> (ServerConn, roadrunner_h1::RequestHead) {
    let mut conn = ServerConn::new(Config::default());
    conn.recv(input);
    match conn.poll_event() {
        Ok(Some(Event::Request(head))) => (conn, head),
        other => panic!("expected a request, got {other:?}"),
    }
}

/// Polls the rest of the current request body; returns it and the trailers.
pub fn read_body(conn: &mut ServerConn) -> (Vec<u8>, Option<HeaderMap>) {
    let mut body = Vec::new();
    loop {
        match conn.poll_event() {
            Ok(Some(Event::Data(d))) => body.extend_from_slice(&d),
            Ok(Some(Event::End(t))) => return (body, t),
            other => panic!("expected body events, got {other:?}"),
        }
    }
}

/// Number of Request events.
pub fn requests(evs: &[Ev]) -> usize {
    evs.iter().filter(|e| matches!(e, Ev::Req { .. })).count()
}
