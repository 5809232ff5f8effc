//! The HTTP/1 codec against its floor: one request parsed into `http` types
//! and answered, beside raw `httparse` building the same `HeaderMap` and
//! writing the same response bytes by hand.
//!
//! Shared by the criterion bench `codec` and the harness's
//! `roadrunner-bench-inproc` (which includes this file by path: a bench target
//! of this crate cannot be linked into another crate's binary).

use std::hint::black_box;
use std::time::SystemTime;

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use roadrunner_h1::{Config, Event, ServerConn};

/// The inputs, by name: wrk's `GET /`, and a 9-field browser request.
pub const INPUTS: [(&str, &[u8]); 2] = [("small", SMALL), ("browser", BROWSER)];

const SMALL: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";
const BROWSER: &[u8] = b"GET /static/app.js?v=42 HTTP/1.1\r\n\
Host: example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br\r\n\
Cookie: session=0123456789abcdef0123456789abcdef; theme=dark\r\n\
Connection: keep-alive\r\n\r\n";

/// What both sides answer with, written into `out`.
pub struct Answer {
    headers: HeaderMap,
    out: Vec<u8>,
}

impl Answer {
    pub fn new() -> Self {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("text/plain"));
        Answer {
            headers,
            out: Vec::with_capacity(64 * 1024),
        }
    }

    /// `n` copies of `request` in one read of a fresh connection, answered one
    /// by one through the codec.
    pub fn roadrunner(&mut self, request: &[u8], n: usize) {
        let mut conn = ServerConn::new(Config::default());
        for _ in 0..n {
            conn.recv(request);
        }
        let now = SystemTime::now();
        for _ in 0..n {
            loop {
                match conn.poll_event() {
                    Ok(Some(Event::End(_))) => break,
                    Ok(Some(_)) => {}
                    other => panic!("benchmark input must parse: {:?}", other.map(|_| ())),
                }
            }
            let out = &mut self.out;
            conn.send_response(StatusCode::OK, &self.headers, Some(13), now, out)
                .and_then(|()| conn.send_data(b"Hello, world!", out))
                .and_then(|()| conn.send_end(None, out))
                .expect("a valid response");
        }
        black_box(self.out.len());
        self.out.clear();
    }

    /// The floor: httparse, the same `HeaderMap`, the response bytes by hand.
    pub fn floor(&mut self, request: &[u8], n: usize) {
        let buf: Vec<u8> = request.repeat(n);
        let mut at = 0;
        for _ in 0..n {
            let mut slots = [httparse::EMPTY_HEADER; 32];
            let mut req = httparse::Request::new(&mut slots);
            let len = match req.parse(&buf[at..]) {
                Ok(httparse::Status::Complete(len)) => len,
                other => panic!("benchmark input must parse: {other:?}"),
            };
            let mut map = HeaderMap::with_capacity(req.headers.len());
            for h in req.headers.iter() {
                let name = HeaderName::from_bytes(h.name.as_bytes()).expect("valid name");
                let value = HeaderValue::from_bytes(h.value).expect("valid value");
                map.append(name, value);
            }
            black_box((&req.method, &req.path, &map));
            at += len;
            self.out.extend_from_slice(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 13\r\n\
                  date: Tue, 24 Nov 2026 05:00:00 GMT\r\n\r\nHello, world!",
            );
        }
        black_box(self.out.len());
        self.out.clear();
    }
}
