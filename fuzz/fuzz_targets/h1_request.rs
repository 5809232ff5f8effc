//! Feeds arbitrary bytes in arbitrary splits to a `ServerConn`, answers every request,
//! and checks the codec's invariants, including that the split does not matter.
#![no_main]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arbitrary::Arbitrary;
use http::{HeaderMap, StatusCode};
use libfuzzer_sys::fuzz_target;
use roadrunner_h1::{BodyKind, Config, ErrorKind, Event, ServerConn};

/// The raw bytes come last so they are taken whole, keeping dictionary tokens intact.
#[derive(Arbitrary, Debug)]
struct Input<'a> {
    small_limits: bool,
    eof: bool,
    splits: Vec<u16>,
    data: &'a [u8],
}

/// What one request looked like from the outside.
#[derive(Debug, PartialEq)]
struct Seen {
    method: http::Method,
    uri: http::Uri,
    body_kind: BodyKind,
    body: Vec<u8>,
    trailers: Option<HeaderMap>,
    ended: bool,
}

#[derive(Debug, PartialEq)]
struct Outcome {
    requests: Vec<Seen>,
    error: Option<ErrorKind>,
    out: Vec<u8>,
    closed: bool,
}

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn config(small: bool) -> Config {
    if small {
        Config {
            max_request_line: 64,
            max_header_line: 48,
            max_header_block: 128,
            max_header_count: 4,
            max_content_length: 100,
        }
    } else {
        Config::default()
    }
}

/// Parses one encoded response and checks its framing.
fn check_response(bytes: &[u8], status: u16, head: bool, body: &[u8]) {
    let mut slots = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut slots);
    let n = match resp.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => n,
        other => panic!("invalid response {other:?}: {:?}", String::from_utf8_lossy(bytes)),
    };
    assert_eq!(resp.code, Some(status));
    let rest = &bytes[n..];
    let field = |name: &str| resp.headers.iter().find(|h| h.name == name).map(|h| h.value);
    if head || status == 204 {
        assert!(rest.is_empty(), "body on a bodiless response");
    } else if let Some(cl) = field("content-length") {
        assert_eq!(cl, body.len().to_string().as_bytes());
        assert_eq!(rest, body);
    } else if field("transfer-encoding") == Some(b"chunked") {
        assert_eq!(dechunk(rest), body);
    } else {
        assert_eq!(rest, body);
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let end = b.windows(2).position(|w| w == b"\r\n").expect("chunk size line");
        let size = usize::from_str_radix(std::str::from_utf8(&b[..end]).unwrap(), 16).unwrap();
        b = &b[end + 2..];
        if size == 0 {
            let mut slots = [httparse::EMPTY_HEADER; 8];
            let r = httparse::parse_headers(b, &mut slots);
            assert!(matches!(r, Ok(httparse::Status::Complete((n, _))) if n == b.len()));
            return body;
        }
        body.extend_from_slice(&b[..size]);
        assert_eq!(&b[size..size + 2], b"\r\n");
        b = &b[size + 2..];
    }
}

struct Driver {
    conn: ServerConn,
    config: Config,
    o: Outcome,
    /// The request being read: its head and whether its response is already sent.
    current: Option<(bool, bool)>,
    dead: bool,
}

impl Driver {
    /// Answers request number `i`; the style depends on `i` so every path is exercised.
    fn respond(&mut self, i: usize, head_method: bool) {
        let mut out = Vec::new();
        let mut headers = HeaderMap::new();
        headers.insert("x-n", http::HeaderValue::from(i));
        let (status, len, body): (u16, Option<u64>, &[u8]) = match i % 3 {
            0 => (200, Some(2), b"ok"),
            1 => (200, None, b"chunky"),
            _ => (204, None, b""),
        };
        let status_code = StatusCode::from_u16(status).unwrap();
        self.conn.send_response(status_code, &headers, len, now(), &mut out).unwrap();
        self.conn.send_data(body, &mut out).unwrap();
        let mut trailers = HeaderMap::new();
        trailers.insert("x-t", http::HeaderValue::from_static("1"));
        self.conn.send_end(Some(&trailers), &mut out).unwrap();
        check_response(&out, status, head_method, body);
        self.o.out.extend_from_slice(&out);
    }

    fn pump(&mut self) {
        while !self.dead {
            match self.conn.poll_event() {
                Ok(Some(Event::Request(head))) => {
                    assert!(self.current.is_none(), "request before the previous one ended");
                    let i = self.o.requests.len();
                    if head.expect_continue && i % 2 == 0 {
                        let mut out = Vec::new();
                        self.conn.send_continue(&mut out);
                        assert!(out.is_empty() || out == b"HTTP/1.1 100 Continue\r\n\r\n");
                        self.o.out.extend_from_slice(&out);
                    }
                    let head_method = head.method == http::Method::HEAD;
                    let target = head.uri.to_string();
                    let uri_byte = |b: u8| b.is_ascii_graphic() && !b"\"#<>\\^`{|}".contains(&b);
                    assert!(target.bytes().all(uri_byte), "target outside RFC 3986: {target:?}");
                    self.o.requests.push(Seen {
                        method: head.method,
                        uri: head.uri,
                        body_kind: head.body,
                        body: Vec::new(),
                        trailers: None,
                        ended: false,
                    });
                    // Every fourth request is answered before its body is read.
                    let early = i % 4 == 3;
                    self.current = Some((head_method, early));
                    if early {
                        self.respond(i, head_method);
                        self.current = None;
                    }
                }
                Ok(Some(Event::Data(data))) => {
                    assert!(self.current.is_some(), "data outside a request");
                    assert!(!data.is_empty());
                    let seen = self.o.requests.last_mut().unwrap();
                    assert!(!seen.ended);
                    seen.body.extend_from_slice(&data);
                    assert!(seen.body.len() as u64 <= self.config.max_content_length);
                    if let BodyKind::Length(n) = seen.body_kind {
                        assert!(seen.body.len() as u64 <= n);
                    }
                    assert_ne!(seen.body_kind, BodyKind::Empty);
                }
                Ok(Some(Event::End(trailers))) => {
                    let Some((head_method, _)) = self.current.take() else {
                        panic!("end outside a request");
                    };
                    let i = self.o.requests.len() - 1;
                    let seen = &mut self.o.requests[i];
                    if let BodyKind::Length(n) = seen.body_kind {
                        assert_eq!(seen.body.len() as u64, n);
                    }
                    if trailers.is_some() {
                        assert_eq!(seen.body_kind, BodyKind::Chunked);
                    }
                    seen.trailers = trailers;
                    seen.ended = true;
                    self.respond(i, head_method);
                }
                Ok(None) => return,
                Err(e) => {
                    self.o.error = Some(e.kind());
                    self.dead = true;
                    let mut out = Vec::new();
                    let sent = self.conn.send_response(e.status(), &HeaderMap::new(), Some(0), now(), &mut out);
                    if sent.is_ok() {
                        self.conn.send_end(None, &mut out).unwrap();
                        check_response(&out, e.status().as_u16(), false, b"");
                        assert!(self.conn.is_closed());
                    }
                    self.o.out.extend_from_slice(&out);
                    assert!(matches!(self.conn.poll_event(), Ok(None)), "event after an error");
                }
            }
        }
    }
}

fn run<'a>(config: &Config, pieces: impl IntoIterator<Item = &'a [u8]>, eof: bool) -> Outcome {
    let mut d = Driver {
        conn: ServerConn::new(config.clone()),
        config: config.clone(),
        o: Outcome { requests: Vec::new(), error: None, out: Vec::new(), closed: false },
        current: None,
        dead: false,
    };
    for piece in pieces {
        if d.dead || d.conn.is_closed() {
            break;
        }
        d.conn.recv(piece);
        d.pump();
    }
    if eof && !d.dead {
        d.conn.recv_eof();
        d.pump();
    }
    d.o.closed = d.conn.is_closed();
    d.o
}

fuzz_target!(|input: Input<'_>| {
    let config = config(input.small_limits);
    let data = input.data;
    let mut cuts: Vec<usize> = input.splits.iter().map(|&s| usize::from(s) % (data.len() + 1)).collect();
    cuts.extend([0, data.len()]);
    cuts.sort_unstable();
    let pieces: Vec<&[u8]> = cuts.windows(2).map(|w| &data[w[0]..w[1]]).collect();

    let split = run(&config, pieces, input.eof);
    let whole = run(&config, [data], input.eof);
    assert_eq!(split, whole, "the split changed the outcome");
});
