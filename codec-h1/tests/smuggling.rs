//! Strict framing: every ambiguous or malformed request is refused with the right status,
//! the same way however the input is split.

mod common;

use common::*;
use roadrunner_h1::ErrorKind;

fn with_headers(fields: &str) -> Vec<u8> {
    format!("POST / HTTP/1.1\r\nHost: x\r\n{fields}\r\n").into_bytes()
}

fn chunked(body: &str) -> Vec<u8> {
    format!("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{body}").into_bytes()
}

#[track_caller]
fn status(input: &[u8], expected: u16) {
    assert_eq!(
        status_of(input),
        Some(expected),
        "{:?}",
        String::from_utf8_lossy(input)
    );
}

#[test]
fn content_length_with_transfer_encoding() {
    status(
        &with_headers("Content-Length: 3\r\nTransfer-Encoding: chunked\r\n"),
        400,
    );
    status(
        &with_headers("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n"),
        400,
    );
}

#[test]
fn transfer_codings() {
    for te in ["gzip", "gzip, chunked", "identity", "deflate,chunked"] {
        status(&with_headers(&format!("Transfer-Encoding: {te}\r\n")), 501);
    }
    status(
        &with_headers("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"),
        501,
    );
    for te in ["chunked, chunked", "chunked, gzip", ""] {
        status(&with_headers(&format!("Transfer-Encoding: {te}\r\n")), 400);
    }
    status(
        &with_headers("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"),
        400,
    );
    status(
        &with_headers("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n"),
        400,
    );
    status(
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    );
}

#[test]
fn content_length_values() {
    for cl in [
        "+5",
        "0x5",
        "",
        "5 5",
        "5,6",
        "-5",
        "99999999999999999999",
        "5;",
        " ",
    ] {
        status(&with_headers(&format!("Content-Length: {cl}\r\n")), 400);
    }
    status(
        &with_headers("Content-Length: 5\r\nContent-Length: 6\r\n"),
        400,
    );
    let same = [with_headers("Content-Length: 5, 5\r\n"), b"abcde".to_vec()].concat();
    assert_eq!(error_of(&same), None);
    let evs = events(&same);
    assert!(matches!(&evs[1], Ev::Data(d) if d == b"abcde"));
}

#[test]
fn chunk_framing() {
    let bad = [
        "x\r\n",
        "+1\r\na\r\n0\r\n\r\n",
        "-1\r\n",
        "\r\n",
        "0x1\r\na\r\n0\r\n\r\n",
        "00000000000000001\r\na\r\n0\r\n\r\n",
        "1ffffffffffffffff\r\n",
        "1\na\r\n0\r\n\r\n",
        "1\r\na\n0\r\n\r\n",
        "1\r\na\r\n0\n\r\n",
        "1\r\na\r\n0\r\n\n",
        "1\r\na\r\n0\r\nT: 1\n\r\n",
        "1;ext\rx\r\na\r\n0\r\n\r\n",
        "1;ext\nx\r\na\r\n0\r\n\r\n",
        "1\r\nab\r\n0\r\n\r\n",
        "1\r\naXY0\r\n\r\n",
        "1\r\na\r\n0\r\nT : 1\r\n\r\n",
        "1\r\na\r\n0\r\n T: 1\r\n\r\n",
    ];
    for body in bad {
        status(&chunked(body), 400);
    }
    let ok = chunked("1;a=b;c=\"d e\"\r\na\r\n0;z\r\nT: 1\r\n\r\n");
    assert_eq!(error_of(&ok), None);
}

/// `chunk-ext` exactly as RFC 9112 §7.1.1 has it: a parser that skips to the CR would
/// read these lines differently from one that follows the grammar.
#[test]
fn chunk_extension_grammar() {
    for body in [
        "2;\r\nab\r\n0\r\n\r\n",
        "5;a=\"abc\r\nabcde\r\n0\r\n\r\n",
        "a \r\n0123456789\r\n0\r\n\r\n",
        "a;n \r\n0123456789\r\n0\r\n\r\n",
        "a;n=\r\n0123456789\r\n0\r\n\r\n",
        "a;n=v w\r\n0123456789\r\n0\r\n\r\n",
        "1\r\na\r\n0 \r\n\r\n",
        "1\r\na\r\n0;\r\n\r\n",
    ] {
        status(&chunked(body), 400);
    }
    for line in [
        "a;name=value",
        "a ;ext",
        "a ; n = \"q\\\"x\"",
        "a;x;y=1;z=\"2;3\"",
        "a\t;\tn\t=\t\"\"",
    ] {
        let input = chunked(&format!("{line}\r\n0123456789\r\n0;last\r\n\r\n"));
        let evs = events(&input);
        assert!(
            matches!(&evs[..], [Ev::Req { .. }, Ev::Data(d), Ev::End(None)] if d == b"0123456789"),
            "{line:?}: {evs:?}"
        );
    }
}

#[test]
fn field_syntax() {
    for fields in [
        "X : y\r\n",
        "X\t: y\r\n",
        "X Y: z\r\n",
        "nocolon\r\n",
        "X: a\0b\r\n",
        "X: a\rb\r\n",
        "X: a\x0bb\r\n",
        "X: a\x1fb\r\n",
        "X: a\x7fb\r\n",
        "X: a\r\n continued\r\n",
        "X: a\r\n\tcontinued\r\n",
        ": empty-name\r\n",
    ] {
        status(&with_headers(fields), 400);
    }
    assert_eq!(error_of(&with_headers("X: a\tb\r\n")), None);
}

#[test]
fn bare_lf_in_head() {
    status(b"GET / HTTP/1.1\nHost: x\r\n\r\n", 400);
    status(b"GET / HTTP/1.1\r\nHost: x\n\r\n", 400);
    status(b"GET / HTTP/1.1\r\nHost: x\r\n\n", 400);
    status(b"GET / HTTP/1.1\nHost: x\n\n", 400);
    status(b"\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 400);
}

#[test]
fn host_rules() {
    status(b"GET / HTTP/1.1\r\n\r\n", 400);
    status(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
    status(b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400);
    assert_eq!(error_of(b"GET / HTTP/1.0\r\n\r\n"), None);
}

#[test]
fn request_line() {
    status(b"GET /\r\n\r\n", 400);
    status(b"GET /\r\n", 400);
    status(b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505);
    status(b"GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505);
    status(b"GET / HTTP/0.9\r\n\r\n", 505);
    for line in [
        "GET / HTTP/1\r\n",
        "GET / HTTP/1.1 \r\n",
        "GET  / HTTP/1.1\r\n",
        "GET / http/1.1\r\n",
        "GET / HTTP/11.1\r\n",
        "G@T / HTTP/1.1\r\n",
        "GET\r\n",
        " GET / HTTP/1.1\r\n",
        "GET /a b HTTP/1.1\r\n",
        "GET /\x01 HTTP/1.1\r\n",
    ] {
        status(format!("{line}Host: x\r\n\r\n").as_bytes(), 400);
    }
    // The target must also be a valid URI.
    status(b"GET http://[::1 HTTP/1.1\r\nHost: x\r\n\r\n", 400);
}

/// Only URI characters (RFC 3986) may make up the request-target (RFC 9112 §3.2). Raw
/// UTF-8 is refused although nginx takes it: the RFC does not allow it, and a proxy in
/// front may encode or reject what this server would have taken as is.
#[test]
fn request_target_bytes() {
    for target in [
        "/\u{3b4}",
        "/a?\u{3b4}",
        "/\x00",
        "/\x1f",
        "/a\tb",
        "/\x7f",
        "/\"",
        "/<",
        "/>",
        "/\\",
        "/^",
        "/`",
        "/{",
        "/|",
        "/}",
        "/?{}",
        "/#",
        "/a#b",
        "/%",
        "/%4",
        "/%4g",
        "/%%41",
        "/?%zz",
        "http://a/\u{3b4}",
        "a:1<",
    ] {
        status(
            format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes(),
            400,
        );
    }
    status(b"GET /\xce HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    status(b"GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    for (method, target) in [
        ("GET", "/"),
        ("GET", "/%C3%B6/%2f?q=%20&r=s;t"),
        ("GET", "/AZaz09-._~:@!$&'()*+,;=/?/?:@[]"),
        ("GET", "http://a:80/b?c"),
        ("GET", "http://[::1]/"),
        ("OPTIONS", "*"),
        ("CONNECT", "a:443"),
    ] {
        let input = format!("{method} {target} HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(error_of(input.as_bytes()), None, "{input:?}");
    }
}

/// Every byte in a path and in a query: taken exactly when RFC 3986 allows it there.
#[test]
fn request_target_byte_table() {
    const URI: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789\
                         -._~:/?[]@!$&'()*+,;=";
    for b in 0..=u8::MAX {
        for (before, after) in [
            (&b"GET /a"[..], &b"b HTTP/1.1\r\n"[..]),
            (b"GET /?a", b"b HTTP/1.1\r\n"),
        ] {
            let input = [before, &[b], after, b"Host: a\r\n\r\n"].concat();
            let expected = if URI.contains(&b) { None } else { Some(400) };
            assert_eq!(
                status_of(&input),
                expected,
                "byte {b:#04x} in {:?}",
                String::from_utf8_lossy(before)
            );
        }
    }
}

#[test]
fn leading_empty_lines() {
    let evs = events(b"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(requests(&evs), 1);
    let many = [
        b"\r\n".repeat(100),
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
    ]
    .concat();
    status(&many, 400);
}

#[test]
fn error_kills_later_pipelined_requests() {
    let input = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n\
                  GET / HTTP/9.9\r\nHost: x\r\n\r\n\
                  GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let evs = events(input);
    assert_eq!(requests(&evs), 1);
    assert_eq!(evs.last(), Some(&Ev::Err(ErrorKind::VersionNotSupported)));

    let input = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\
                  GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let evs = events(input);
    assert_eq!(requests(&evs), 1);
    assert!(matches!(
        evs.last(),
        Some(Ev::Err(ErrorKind::BadRequest(_)))
    ));
}
