//! Request smuggling and malformed input: each bad request is sent together with a good
//! one in a single write. The server must answer the bad one (400, or 501/505 where
//! stated), close the connection, and never answer the good one: exactly one response,
//! then EOF.

use roadrunner_core::{Request, Routes};
use roadrunner_tests::{both, opts, Raw, Server};

const GOOD: &str = "GET /good HTTP/1.1\r\nHost: t\r\n\r\n";

fn check(adapter: roadrunner_tests::Adapter, bad: &[u8], statuses: &[u16]) {
    let s = Server::start(
        adapter,
        opts(Routes::handler(|req: Request| async move {
            format!("served {} {}", req.method(), req.uri().path())
        })),
    );
    let mut raw = Raw::connect(s.port());
    let mut bytes = bad.to_vec();
    bytes.extend_from_slice(GOOD.as_bytes());
    raw.send(&bytes);
    let all = raw.responses_until_close();
    let got: Vec<(u16, &str)> = all.iter().map(|r| (r.status, r.text())).collect();
    assert!(
        all.len() == 1 && statuses.contains(&all[0].status),
        "input {:?}: expected one response with status in {statuses:?} then close; got {got:?}",
        String::from_utf8_lossy(bad)
    );
}

macro_rules! bad {
    ($name:ident, $bytes:expr, $statuses:expr) => {
        both!($name, |adapter| {
            check(adapter, $bytes, &$statuses);
        });
    };
}

// Framing headers.
bad!(
    content_length_and_transfer_encoding,
    b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    [400]
);
bad!(
    transfer_encoding_and_content_length,
    b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
    [400]
);
bad!(
    te_chunked_not_last,
    b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
    [400, 501]
);
bad!(
    te_unknown_coding,
    b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: foo\r\n\r\n0\r\n\r\n",
    [400, 501]
);
bad!(
    te_gzip_only,
    b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n",
    [400, 501]
);
bad!(
    te_chunked_twice,
    b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    [400, 501]
);
bad!(
    te_on_http10,
    b"POST / HTTP/1.0\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    [400]
);
bad!(
    differing_content_lengths,
    b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    [400]
);
bad!(
    differing_content_lengths_in_one_field,
    b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 6\r\n\r\nhello!",
    [400]
);
bad!(
    content_length_plus_sign,
    b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: +5\r\n\r\nhello",
    [400]
);
bad!(
    content_length_hex,
    b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0x5\r\n\r\nhello",
    [400]
);
bad!(
    content_length_empty,
    b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: \r\n\r\nhello",
    [400]
);
bad!(
    content_length_two_numbers,
    b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5 5\r\n\r\nhello",
    [400]
);
bad!(
    content_length_negative,
    b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n",
    [400]
);

// Chunked framing.
bad!(
    chunk_size_not_hex,
    b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    [400]
);
bad!(
    chunk_size_negative,
    b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nhello\r\n0\r\n\r\n",
    [400]
);
bad!(
    chunk_size_empty,
    b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n",
    [400]
);
bad!(
    chunk_size_17_hex_digits,
    b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000005\r\nhello\r\n0\r\n\r\n",
    [400]
);
bad!(
    chunk_size_bare_lf,
    b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
    [400]
);
bad!(
    chunk_data_end_bare_lf,
    b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n",
    [400]
);
bad!(
    chunk_data_longer_than_size,
    b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n",
    [400]
);
bad!(
    chunk_extension_with_cr,
    b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=a\rb\r\nhello\r\n0\r\n\r\n",
    [400]
);

// Header fields.
bad!(
    space_before_colon,
    b"GET / HTTP/1.1\r\nHost: t\r\nX-Foo : bar\r\n\r\n",
    [400]
);
bad!(
    space_before_colon_in_content_length,
    b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length : 5\r\n\r\nhello",
    [400]
);
bad!(
    obs_fold,
    b"GET / HTTP/1.1\r\nHost: t\r\nX-Foo: bar\r\n baz\r\n\r\n",
    [400]
);
bad!(
    header_name_with_space,
    b"GET / HTTP/1.1\r\nHost: t\r\nX Foo: bar\r\n\r\n",
    [400]
);
bad!(
    header_without_colon,
    b"GET / HTTP/1.1\r\nHost: t\r\nXFoo bar\r\n\r\n",
    [400]
);
bad!(
    nul_in_header_value,
    b"GET / HTTP/1.1\r\nHost: t\r\nX-Foo: a\0b\r\n\r\n",
    [400]
);
bad!(missing_host_on_http11, b"GET / HTTP/1.1\r\n\r\n", [400]);
bad!(
    two_host_headers,
    b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    [400]
);
// RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any
// HTTP/1.1 request message that lacks a Host header field and to any request message
// that contains more than one Host header field line or a Host header field with an
// invalid field value." (Host = uri-host [ ":" port ], port = *DIGIT, no userinfo.)
bad!(
    host_with_space,
    b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
    [400]
);
bad!(
    host_with_non_numeric_port,
    b"GET / HTTP/1.1\r\nHost: t:abc\r\n\r\n",
    [400]
);
bad!(
    host_with_path,
    b"GET / HTTP/1.1\r\nHost: t/path\r\n\r\n",
    [400]
);
bad!(
    host_with_userinfo,
    b"GET / HTTP/1.1\r\nHost: user@t\r\n\r\n",
    [400]
);

// Request line.
bad!(http09_request, b"GET /\r\n", [400]);
bad!(http2_version, b"GET / HTTP/2.0\r\nHost: t\r\n\r\n", [505]);
bad!(
    garbage_request_line,
    b"this is not http\r\nHost: t\r\n\r\n",
    [400]
);
bad!(
    binary_garbage,
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    [400]
);
