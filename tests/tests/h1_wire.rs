//! HTTP/1.1 over the wire: keep-alive, pipelining, close, HTTP/1.0, chunked bodies,
//! trailers, `Expect: 100-continue`, `Date`, HEAD.

use roadrunner_core::http::StatusCode;
use roadrunner_core::{Request, RequestExt, Route, Routes, Trailers};
use roadrunner_tests::{
    both, echo, get_req, is_imf_fixdate, opts, path, peer_port, Hyper, Raw, Server,
};

fn routes() -> Routes {
    Routes::list([
        Route::get("/", |_req: Request| async { "hello" }),
        Route::get("/path/*rest", path),
        Route::get("/peer", peer_port),
        Route::post("/echo", echo),
        Route::post("/trailers", |req: Request| async move {
            let body = String::from_utf8_lossy(req.body().as_bytes()).into_owned();
            let t = match req.extensions().get::<Trailers>() {
                Some(Trailers(map)) => {
                    let mut v: Vec<String> = map
                        .iter()
                        .map(|(n, v)| format!("{}={}", n, v.to_str().unwrap_or("?")))
                        .collect();
                    v.sort();
                    v.join(",")
                }
                None => "none".to_owned(),
            };
            format!("body={body} trailers={t}")
        }),
        Route::get("/version", |req: Request| async move {
            format!("{:?}", req.version())
        }),
        Route::get("/id", |req: Request| async move {
            req.request_id().unwrap_or(0).to_string()
        }),
    ])
}

fn server(adapter: roadrunner_tests::Adapter) -> Server {
    Server::start(adapter, opts(routes()))
}

both!(keep_alive_hyper, |adapter| {
    let s = server(adapter);
    let mut c = Hyper::connect(s.port());
    let first = c.get("/peer");
    assert_eq!(first.status, StatusCode::OK);
    assert!(!matches!(first.header("connection"), Some(v) if v.eq_ignore_ascii_case("close")));
    for _ in 0..5 {
        let r = c.get("/peer");
        assert_eq!(r.status, StatusCode::OK);
        // Same server-side peer: the same TCP connection.
        assert_eq!(r.text(), first.text());
    }
    let r = c.post("/echo", "text/plain", "on the same connection");
    assert_eq!(r.text(), "on the same connection");
    assert_eq!(s.info().active_clients, 1);
});

both!(keep_alive_raw, |adapter| {
    let s = server(adapter);
    let mut raw = Raw::connect(s.port());
    for i in 0..4 {
        raw.send(get_req(&format!("/path/{i}")));
        let r = raw.response();
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), format!("/path/{i}"));
        assert!(!r.has_token("connection", "close"), "request {i}: {r:?}");
        assert!(raw.buffer_is_empty());
    }
});

both!(pipelining_ten_in_one_write, |adapter| {
    let s = server(adapter);
    let mut raw = Raw::connect(s.port());
    let batch: String = (0..10).map(|i| get_req(&format!("/path/{i}"))).collect();
    raw.send(batch);
    for i in 0..10 {
        let r = raw.response();
        assert_eq!(r.status, 200, "response {i}");
        assert_eq!(r.text(), format!("/path/{i}"), "responses out of order");
    }
    assert!(raw.buffer_is_empty(), "more than 10 responses");
    // Still open afterwards, and a mixed batch (bodies included) keeps order.
    raw.send(format!(
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc{}POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n{}",
        get_req("/path/x"),
        get_req("/path/y")
    ));
    assert_eq!(raw.response().text(), "abc");
    assert_eq!(raw.response().text(), "/path/x");
    assert_eq!(raw.response().text(), "de");
    assert_eq!(raw.response().text(), "/path/y");
});

both!(connection_close_closes_after_the_response, |adapter| {
    let s = server(adapter);
    let mut raw = Raw::connect(s.port());
    raw.send("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let r = raw.response();
    assert_eq!((r.status, r.text()), (200, "hello"));
    raw.expect_close();
    // A request pipelined after the closing one is not answered.
    let mut raw = Raw::connect(s.port());
    raw.send(format!(
        "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n{}",
        get_req("/path/after")
    ));
    let all = raw.responses_until_close();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].text(), "hello");
});

both!(http10_without_keep_alive_closes, |adapter| {
    let s = server(adapter);
    let mut raw = Raw::connect(s.port());
    raw.send("GET /version HTTP/1.0\r\n\r\n");
    let r = raw.response();
    assert_eq!((r.status, r.text()), (200, "HTTP/1.0"));
    assert!(!r.has_token("connection", "keep-alive"), "{r:?}");
    raw.expect_close();
});

both!(http10_with_keep_alive_stays_open_and_says_so, |adapter| {
    let s = server(adapter);
    let mut raw = Raw::connect(s.port());
    for _ in 0..3 {
        raw.send("GET /version HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        let r = raw.response();
        assert_eq!((r.status, r.text()), (200, "HTTP/1.0"));
        assert!(r.has_token("connection", "keep-alive"), "{r:?}");
    }
    // Then a plain 1.0 request ends it.
    raw.send("GET /version HTTP/1.0\r\n\r\n");
    assert_eq!(raw.response().status, 200);
    raw.expect_close();
});

both!(chunked_request_body_is_echoed, |adapter| {
    let s = server(adapter);
    let mut raw = Raw::connect(s.port());
    raw.send(
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/x-test\r\nTransfer-Encoding: chunked\r\n\r\n\
         7\r\nHello, \r\n8;ext=1;q=\"x\"\r\nchunked \r\nA\r\nworld!!!!!\r\n0\r\n\r\n",
    );
    let r = raw.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "Hello, chunked world!!!!!");
    assert_eq!(r.header("content-type"), Some("text/x-test"));
    assert_eq!(r.header("content-length"), Some("25"));
    // Written in pieces, across many reads.
    let mut raw = Raw::connect(s.port());
    raw.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    for piece in ["3\r", "\nab", "c\r\n", "1", "\r\nd\r\n0\r", "\n\r\n"] {
        raw.send(piece);
    }
    assert_eq!(raw.response().text(), "abcd");
    // And a large chunked body through hyper (hyper chunks a streaming body; here a
    // big body with no length set goes out as Content-Length, so use raw for chunked
    // and hyper for a large Content-Length body).
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let r = Hyper::connect(s.port()).post("/echo", "application/octet-stream", big.clone());
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body.len(), big.len());
    assert!(r.body == big, "large body echoed differently");
});

both!(request_trailers_reach_the_handler, |adapter| {
    let s = server(adapter);
    let mut raw = Raw::connect(s.port());
    raw.send(
        "POST /trailers HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n\
         4\r\ndata\r\n0\r\nX-Checksum: abc123\r\nX-Other: 2\r\n\r\n",
    );
    let r = raw.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "body=data trailers=x-checksum=abc123,x-other=2");
    // Without trailers: no `Trailers` extension (or an empty one is not sent).
    raw.send(
        "POST /trailers HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n4\r\ndata\r\n0\r\n\r\n",
    );
    let r = raw.response();
    assert!(
        r.text() == "body=data trailers=none" || r.text() == "body=data trailers=",
        "{}",
        r.text()
    );
});

both!(expect_100_continue_after_waiting, |adapter| {
    let s = server(adapter);
    let mut raw = Raw::connect(s.port());
    raw.send(
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n",
    );
    // The client waits: the interim response must come before any body byte is sent.
    let interim = raw.response();
    assert_eq!(interim.status, 100, "{interim:?}");
    assert_eq!(interim.version, "HTTP/1.1");
    assert!(
        raw.buffer_is_empty(),
        "bytes after the 100 before the body was sent"
    );
    raw.send("hello world");
    let r = raw.response();
    assert_eq!((r.status, r.text()), (200, "hello world"));
    // Same with a chunked body.
    raw.send(
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
    );
    assert_eq!(raw.response().status, 100);
    raw.send("5\r\nchunk\r\n0\r\n\r\n");
    let r = raw.response();
    assert_eq!((r.status, r.text()), (200, "chunk"));
    // And hyper, which sends the body at once, also gets its echo.
    let mut c = Hyper::connect(s.port());
    let req = c
        .req("POST", "/echo")
        .header("expect", "100-continue")
        .body(http_body_util::Full::new(bytes::Bytes::from_static(
            b"eager",
        )))
        .unwrap();
    let r = c.send(req);
    assert_eq!((r.status, r.text()), (StatusCode::OK, "eager"));
});

both!(expect_100_continue_not_sent_without_body, |adapter| {
    let s = server(adapter);
    let mut raw = Raw::connect(s.port());
    // A GET with Expect and no body: the final response comes directly.
    raw.send("GET / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n\r\n");
    let r = raw.response();
    assert_eq!((r.status, r.text()), (200, "hello"));
    // A body sent along with the head: one 200 (a 100 before it is allowed by RFC 9110
    // but then it must be exactly one interim response).
    raw.send(
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nok",
    );
    let mut r = raw.response();
    if r.status == 100 {
        r = raw.response();
    }
    assert_eq!((r.status, r.text()), (200, "ok"));
});

both!(date_header_is_an_http_date, |adapter| {
    let s = server(adapter);
    let mut raw = Raw::connect(s.port());
    raw.send(get_req("/"));
    let r = raw.response();
    let dates = r.header_all("date");
    assert_eq!(dates.len(), 1, "{r:?}");
    assert!(is_imf_fixdate(dates[0]), "bad Date {:?}", dates[0]);
    // Errors and 404s get one too.
    raw.send(get_req("/missing"));
    let r = raw.response();
    assert_eq!(r.status, 404);
    assert!(r.header("date").is_some_and(is_imf_fixdate), "{r:?}");
    let mut raw = Raw::connect(s.port());
    raw.send("BAD\r\n\r\n");
    let r = raw.response();
    assert_eq!(r.status, 400);
    assert!(r.header("date").is_some_and(is_imf_fixdate), "{r:?}");
});

both!(head_has_no_body, |adapter| {
    let s = server(adapter);
    let mut raw = Raw::connect(s.port());
    raw.send(format!(
        "HEAD / HTTP/1.1\r\nHost: t\r\n\r\n{}",
        get_req("/path/next")
    ));
    let r = raw.head_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("5"));
    let next = raw.response();
    assert_eq!(next.text(), "/path/next");
});

both!(response_framing_is_exact, |adapter| {
    let s = server(adapter);
    let mut raw = Raw::connect(s.port());
    raw.send(get_req("/"));
    let r = raw.response();
    assert_eq!(r.version, "HTTP/1.1");
    assert_eq!(r.reason, "OK");
    assert_eq!(r.header_all("content-length"), ["5"]);
    assert!(r.header("transfer-encoding").is_none());
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    // An empty response body is framed with Content-Length: 0.
    raw.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    let r = raw.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("0"));
    assert!(r.body.is_empty());
});

both!(lenient_but_valid_framing_is_accepted, |adapter| {
    let s = server(adapter);
    let mut raw = Raw::connect(s.port());
    // Coding names are case-insensitive; leading zeros are valid digits; a chunk
    // extension may have no value.
    let cases: [(&str, &str); 4] = [
        (
            "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            "abc",
        ),
        (
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 005\r\n\r\nhello",
            "hello",
        ),
        (
            "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0004;flag\r\nwxyz\r\n000\r\n\r\n",
            "wxyz",
        ),
        (
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nX-Pad:   spaced value   \r\n\r\nxyz",
            "xyz",
        ),
    ];
    for (req, body) in cases {
        raw.send(req);
        let r = raw.response();
        assert_eq!((r.status, r.text()), (200, body), "{req:?}");
    }
});

both!(absolute_form_target_routes_by_path, |adapter| {
    let s = server(adapter);
    let mut raw = Raw::connect(s.port());
    raw.send("GET http://t/path/abs?q=1 HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = raw.response();
    assert_eq!((r.status, r.text()), (200, "/path/abs"));
});

both!(http10_post_with_content_length, |adapter| {
    let s = server(adapter);
    let mut raw = Raw::connect(s.port());
    raw.send("POST /echo HTTP/1.0\r\nContent-Length: 4\r\n\r\nold!");
    let r = raw.response();
    assert_eq!((r.status, r.text()), (200, "old!"));
    raw.expect_close();
});

both!(large_response_body, |adapter| {
    let big: &'static [u8] = Box::leak(
        (0..3_000_000u32)
            .map(|i| (i % 253) as u8)
            .collect::<Vec<u8>>()
            .into_boxed_slice(),
    );
    let s = Server::start(
        adapter,
        opts(Routes::handler(move |_req: Request| async move {
            (StatusCode::OK, big)
        })),
    );
    let mut c = Hyper::connect(s.port());
    for _ in 0..2 {
        let r = c.get("/");
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("content-length"), Some("3000000"));
        assert!(r.body == big, "large body differs");
    }
});

both!(many_pipelined_requests_in_order, |adapter| {
    let s = server(adapter);
    let mut raw = Raw::connect(s.port());
    // Under the default max_keep_alive_requests (1000); ~130 bytes per response.
    const N: usize = 900;
    let batch: String = (0..N).map(|i| get_req(&format!("/path/{i}"))).collect();
    // Written from another thread: the responses (well over the server's 64 KB
    // gathering threshold) are read while the requests are still going out.
    let mut writer = raw.stream.try_clone().unwrap();
    let t = std::thread::spawn(move || {
        use std::io::Write;
        writer.write_all(batch.as_bytes()).unwrap();
    });
    for i in 0..N {
        let r = raw.response();
        assert_eq!(r.text(), format!("/path/{i}"), "response {i}");
    }
    t.join().unwrap();
    assert!(raw.buffer_is_empty());
});
