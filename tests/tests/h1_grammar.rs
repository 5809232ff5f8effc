//! HTTP/1.1 grammar at the edges, over the wire: what the server refuses and exactly
//! what it sends back, read byte for byte until it closes.

use roadrunner_core::{Request, Routes};
use roadrunner_tests::{both, opts, Raw, Server};

fn server(adapter: roadrunner_tests::Adapter) -> Server {
    Server::start(
        adapter,
        opts(Routes::handler(|req: Request| async move {
            format!("served {} {}", req.method(), req.uri().path())
        })),
    )
}

/// Sends `bytes` on a fresh connection; returns everything the server sent before it
/// closed, split into the head (through its empty line) and what followed it.
fn exchange(s: &Server, bytes: &[u8]) -> (String, Vec<u8>) {
    let mut raw = Raw::connect(s.port());
    raw.send(bytes);
    let (all, _) = raw.read_until_close();
    let end = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete head in {:?}", String::from_utf8_lossy(&all)));
    let head = String::from_utf8_lossy(&all[..end + 4]).into_owned();
    (head, all[end + 4..].to_vec())
}

// No response to HEAD has a body (RFC 9110 §9.3.2), an error response included; the
// head may still state the length the body would have had.
both!(bad_head_request_gets_no_body, |adapter| {
    let s = server(adapter);
    let (head, rest) = exchange(&s, b"HEAD / HTTP/1.1\r\nHost: a\r\nFo@: x\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 400 "), "{head:?}");
    assert!(head.contains("connection: close\r\n"), "{head:?}");
    assert!(
        rest.is_empty(),
        "body bytes after the head: {:?}",
        String::from_utf8_lossy(&rest)
    );
});

both!(bad_get_request_keeps_its_body, |adapter| {
    let s = server(adapter);
    let (head, rest) = exchange(&s, b"GET / HTTP/1.1\r\nHost: a\r\nFo@: x\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 400 "), "{head:?}");
    assert_eq!(rest, b"Bad Request");
});

// Only URI characters may make up the request-target (RFC 9112 §3.2, RFC 3986). Raw
// UTF-8 is refused although nginx takes it: the RFC does not allow it, and a proxy in
// front may encode or reject what this server would otherwise have served as is.
both!(non_uri_bytes_in_target_are_refused, |adapter| {
    let s = server(adapter);
    for target in [
        &b"/\xce\xb4"[..],
        b"/a?\xce\xb4",
        b"/\"",
        b"/<>",
        b"/\\",
        b"/^",
        b"/`",
        b"/{}",
        b"/|",
        b"/\x7f",
        b"/\x01",
        b"/a#b",
        b"/%zz",
    ] {
        // `close`, so that a request taken by mistake is answered and seen, not left open.
        let request = [
            b"GET ",
            target,
            b" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        ]
        .concat();
        let (head, rest) = exchange(&s, &request);
        assert!(
            head.starts_with("HTTP/1.1 400 ") && rest == b"Bad Request",
            "{:?}: {head:?} {:?}",
            String::from_utf8_lossy(target),
            String::from_utf8_lossy(&rest)
        );
    }
    let (head, rest) = exchange(
        &s,
        b"GET /%CE%B4?q=%7B%7D HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert!(head.starts_with("HTTP/1.1 200 "), "{head:?}");
    assert_eq!(rest, "served GET /%CE%B4".as_bytes());
});
