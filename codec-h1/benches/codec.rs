//! The codec against its floor: one request parsed into `http` types and answered,
//! beside raw `httparse` building the same `HeaderMap` and writing the same response
//! bytes by hand. Run with `cargo bench -p roadrunner-h1`.

use std::hint::black_box;
use std::time::SystemTime;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use roadrunner_h1::{Config, Event, ServerConn};

const SMALL: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";
const BROWSER: &[u8] = b"GET /static/app.js?v=42 HTTP/1.1\r\n\
Host: example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br\r\n\
Cookie: session=0123456789abcdef0123456789abcdef; theme=dark\r\n\
Connection: keep-alive\r\n\r\n";

fn response_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("text/plain"));
    h
}

/// `n` pipelined copies of `request`, answered one by one through the codec.
fn roadrunner(request: &[u8], n: usize, headers: &HeaderMap, out: &mut Vec<u8>) {
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
        conn.send_response(StatusCode::OK, headers, Some(13), now, out)
            .and_then(|()| conn.send_data(b"Hello, world!", out))
            .and_then(|()| conn.send_end(None, out))
            .expect("a valid response");
    }
    black_box(out.len());
    out.clear();
}

/// The floor: httparse, the same `HeaderMap`, and the response bytes written by hand.
fn floor(request: &[u8], n: usize, out: &mut Vec<u8>) {
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
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 13\r\ndate: Tue, 24 Nov 2026 05:00:00 GMT\r\n\r\nHello, world!");
    }
    black_box(out.len());
    out.clear();
}

fn bench(c: &mut Criterion) {
    let headers = response_headers();
    let mut out = Vec::with_capacity(64 * 1024);
    let mut group = c.benchmark_group("request-response");
    for (name, request) in [("small", SMALL), ("browser", BROWSER)] {
        for n in [1, 16] {
            group.throughput(Throughput::Elements(n as u64));
            let id = format!("{name}/x{n}");
            group.bench_with_input(BenchmarkId::new("roadrunner-h1", &id), &n, |b, &n| {
                b.iter(|| roadrunner(request, n, &headers, &mut out))
            });
            group.bench_with_input(BenchmarkId::new("httparse-floor", &id), &n, |b, &n| {
                b.iter(|| floor(request, n, &mut out))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
