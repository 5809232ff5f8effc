//! Request-size limits on the raw socket: the exact status, then the connection closes
//! (a request pipelined after the refused one is never answered); and the largest
//! request that fits is served.
//!
//! Caps (small to keep the tests fast): request line 64, header line 64, header block
//! 256, 5 header fields, body 32. As `roadrunner_h1::Config` documents them: the request
//! line and a header line are counted without their CRLF; the header block is the field
//! lines after the request line, each with its CRLF, without the final empty line.

use roadrunner_core::{Http1Options, Protocol, Request, Routes};
use roadrunner_tests::{both, get_req, opts, Adapter, Raw, RawResp, Server};

const LINE: usize = 64;
const BLOCK: usize = 256;
const COUNT: usize = 5;
const BODY: u64 = 32;

fn server(adapter: Adapter) -> Server {
    let mut o = opts(Routes::handler(|req: Request| async move {
        format!("ok:{}", String::from_utf8_lossy(req.body().as_bytes()))
    }));
    o.max_content_length = BODY;
    o.protocols = vec![Protocol::Http1(Http1Options {
        max_request_line: LINE,
        max_header_line: LINE,
        max_header_block: BLOCK,
        max_header_count: COUNT,
    })];
    Server::start(adapter, o)
}

/// Sends `req` followed by a good request in one write; asserts exactly one response,
/// with `status`, then the close.
fn refused(s: &Server, req: &str, status: u16) -> RawResp {
    let mut raw = Raw::connect(s.port());
    raw.send(format!("{req}{}", get_req("/after")));
    let all = raw.responses_until_close();
    assert_eq!(
        all.len(),
        1,
        "expected exactly one response ({status}) then close; got {all:?}"
    );
    assert_eq!(all[0].status, status, "{all:?}");
    all.into_iter().next().unwrap()
}

/// Sends `req` and expects `200 ok:{body}` on a connection that stays open.
fn served(s: &Server, req: &str, body: &str) {
    let mut raw = Raw::connect(s.port());
    raw.send(req);
    let r = raw.response();
    assert_eq!(r.status, 200, "{req:?} -> {r:?}");
    assert_eq!(r.text(), format!("ok:{body}"));
    raw.send(get_req("/again"));
    assert_eq!(raw.response().status, 200, "connection still usable");
}

fn request_line(len: usize) -> String {
    // "GET " + path + " HTTP/1.1" is 13 bytes plus the path.
    let path = format!("/{}", "a".repeat(len - 14));
    let line = format!("GET {path} HTTP/1.1");
    assert_eq!(line.len(), len);
    format!("{line}\r\nHost: t\r\n\r\n")
}

both!(request_line_over_cap_is_414, |adapter| {
    let s = server(adapter);
    served(&s, &request_line(LINE), "");
    refused(&s, &request_line(LINE + 1), 414);
    // Far over, and never terminated: refused without waiting for the line end.
    let mut raw = Raw::connect(s.port());
    raw.send(format!("GET /{}", "b".repeat(4 * LINE)));
    let all = raw.responses_until_close();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].status, 414);
});

fn header_line(len: usize) -> String {
    let line = format!("X-Long: {}", "v".repeat(len - 8));
    assert_eq!(line.len(), len);
    format!("GET / HTTP/1.1\r\nHost: t\r\n{line}\r\n\r\n")
}

both!(header_line_over_cap_is_431, |adapter| {
    let s = server(adapter);
    served(&s, &header_line(LINE), "");
    refused(&s, &header_line(LINE + 1), 431);
    let mut raw = Raw::connect(s.port());
    raw.send(format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Endless: {}",
        "z".repeat(4 * LINE)
    ));
    let all = raw.responses_until_close();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].status, 431);
});

/// Five fields whose lines (with CRLF) add up to `size`, each line within 64 bytes.
fn header_block(size: usize) -> String {
    let mut fields = vec!["Host: t".to_owned()];
    for name in ["X-A", "X-B", "X-C"] {
        fields.push(format!("{name}: {}", "x".repeat(55))); // 60 + 2
    }
    let used: usize = fields.iter().map(|f| f.len() + 2).sum();
    let last = size - used - 2;
    fields.push(format!("X-D: {}", "y".repeat(last - 5)));
    assert!(fields.iter().all(|f| f.len() <= LINE));
    assert_eq!(fields.len(), COUNT);
    let block: String = fields.iter().map(|f| format!("{f}\r\n")).collect();
    assert_eq!(block.len(), size);
    format!("GET / HTTP/1.1\r\n{block}\r\n")
}

both!(header_block_over_cap_is_431, |adapter| {
    let s = server(adapter);
    served(&s, &header_block(BLOCK), "");
    refused(&s, &header_block(BLOCK + 1), 431);
});

fn header_count(n: usize) -> String {
    let mut req = "GET / HTTP/1.1\r\nHost: t\r\n".to_owned();
    for i in 1..n {
        req.push_str(&format!("X-{i}: {i}\r\n"));
    }
    req + "\r\n"
}

both!(too_many_headers_is_431, |adapter| {
    let s = server(adapter);
    served(&s, &header_count(COUNT), "");
    refused(&s, &header_count(COUNT + 1), 431);
});

fn with_length(n: u64, extra: &str) -> String {
    format!("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: {n}\r\n{extra}\r\n")
}

both!(content_length_over_cap_is_413, |adapter| {
    let s = server(adapter);
    let body = "b".repeat(BODY as usize);
    served(&s, &format!("{}{body}", with_length(BODY, "")), &body);
    // Refused on the announced length: the body is never sent.
    let mut raw = Raw::connect(s.port());
    raw.send(with_length(BODY + 1, ""));
    let all = raw.responses_until_close();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].status, 413);
    // With the body sent anyway, plus a pipelined request: one 413, then the close.
    refused(
        &s,
        &format!("{}{}", with_length(BODY + 1, ""), "c".repeat(33)),
        413,
    );
});

both!(content_length_over_cap_with_expect_gets_no_100, |adapter| {
    let s = server(adapter);
    let mut raw = Raw::connect(s.port());
    raw.send(with_length(BODY + 1, "Expect: 100-continue\r\n"));
    let all = raw.responses_until_close();
    assert_eq!(
        all.iter().map(|r| r.status).collect::<Vec<_>>(),
        [413],
        "no 100 Continue may precede the 413: {all:?}"
    );
    // Just under the cap, the 100 comes and the body is served.
    let mut raw = Raw::connect(s.port());
    raw.send(with_length(BODY, "Expect: 100-continue\r\n"));
    assert_eq!(raw.response().status, 100);
    let body = "e".repeat(BODY as usize);
    raw.send(&body);
    let r = raw.response();
    assert_eq!((r.status, r.text().to_owned()), (200, format!("ok:{body}")));
});

const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz012345";

/// A chunked request whose chunk `i` has `chunks[i]` copies of `ALPHABET[i]`.
fn chunked(chunks: &[usize]) -> String {
    let mut req = "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_owned();
    for (i, n) in chunks.iter().enumerate() {
        let c = char::from(ALPHABET[i % ALPHABET.len()]);
        req.push_str(&format!("{n:x}\r\n{}\r\n", c.to_string().repeat(*n)));
    }
    req + "0\r\n\r\n"
}

both!(chunked_body_growing_over_cap_is_413, |adapter| {
    let s = server(adapter);
    let body = format!("{}{}", "a".repeat(16), "b".repeat(16));
    served(&s, &chunked(&[16, 16]), &body);
    served(
        &s,
        &chunked(&[1; 32]),
        std::str::from_utf8(ALPHABET).unwrap(),
    );
    refused(&s, &chunked(&[16, 16, 1]), 413);
    refused(&s, &chunked(&[33]), 413);
    // The 413 comes as soon as the cap is crossed, before the body ends.
    let mut raw = Raw::connect(s.port());
    raw.send("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n");
    raw.send("x".repeat(32) + "\r\n1\r\ny\r\n");
    let all = raw.responses_until_close();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].status, 413);
});
