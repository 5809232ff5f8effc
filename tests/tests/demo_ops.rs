//! The `roadrunner-demo` binary's operator flags, on both runtimes: `--tls` (curl
//! against its self-signed certificate: `/`, `/stream`, `/sleep`, `/panic`, `/info`),
//! and on plain HTTP `--max-clients`, `--request-timeout`, `--max-content-length`.
//!
//! The binary is built and started by the shared helpers in `roadrunner_tests::demo`.

use std::time::{Duration, Instant};

use roadrunner_tests::{
    both, curl, get_req, json_num, json_value, parse_all, start_demo, wait_until, Raw, RawResp,
    SAFETY_NET,
};

/// `curl -k` on `https://127.0.0.1:PORT{path}`, with `extra` options; stdout as text.
fn curl_k(port: u16, path: &str, extra: &[&str]) -> String {
    let url = format!("https://127.0.0.1:{port}{path}");
    let mut args = vec!["-k"];
    args.extend_from_slice(extra);
    args.push(&url);
    let out = curl(&args, None);
    String::from_utf8(out.stdout).expect("utf-8 output")
}

both!(tls_demo_serves_its_routes, |adapter| {
    let demo = start_demo(adapter, "https", &["--tls"]);
    let port = demo.port;

    let out = curl_k(port, "/", &["-w", "\n%{http_code} %{http_version}"]);
    assert_eq!(out, "Hello, world!\n200 1.1");

    // Headers and body to stdout: chunked, exact, and spread over the delays.
    let t0 = Instant::now();
    let out = curl_k(port, "/stream?chunks=3&delay_ms=50", &["-D", "-"]);
    let took = t0.elapsed();
    let (head, body) = out
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {out:?}"));
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.lines().any(|l| {
            let l = l.to_ascii_lowercase();
            l.starts_with("transfer-encoding:") && l.contains("chunked")
        }),
        "not chunked: {head}"
    );
    assert_eq!(body, "chunk 0\nchunk 1\nchunk 2\n");
    assert!(
        took >= Duration::from_millis(100),
        "stream took only {took:?}"
    );

    let t0 = Instant::now();
    let out = curl_k(
        port,
        "/sleep?ms=100",
        &["-w", "\n%{time_appconnect} %{time_starttransfer}"],
    );
    let took = t0.elapsed();
    let (body, times) = out.split_once('\n').expect("body and timings");
    assert_eq!(body, "slept 100 ms");
    assert!(
        took >= Duration::from_millis(100),
        "answered after {took:?}"
    );
    let t: Vec<f64> = times
        .split(' ')
        .map(|v| v.trim().parse().expect("curl timing"))
        .collect();
    // From the end of the TLS handshake to the first response byte.
    assert!(
        t[1] - t[0] >= 0.099,
        "response came {:.3} s after the handshake",
        t[1] - t[0]
    );

    let out = curl_k(port, "/panic", &["-o", "/dev/null", "-w", "%{http_code}"]);
    assert_eq!(out, "500");
    // The panic affected nothing else.
    let out = curl_k(port, "/hello/tls", &[]);
    assert_eq!(out, "Hello, tls!");

    let json = curl_k(port, "/info", &[]);
    let json = json.trim();
    assert!(json.starts_with('{') && json.ends_with('}'), "{json}");
    assert!(json_num(json, "active_clients") >= 1, "{json}");
    assert_eq!(json_num(json, "max_clients"), 150, "{json}");
    assert!(json_num(json, "requests_served") >= 5, "{json}");
    assert_eq!(json_num(json, "rejected"), 0, "{json}");
    assert_eq!(json_num(json, "throttled"), 0, "{json}");
    assert_eq!(
        json_value(json, "max_concurrent_requests"),
        Some("\"infinity\""),
        "{json}"
    );
});

/// `GET path` with `Connection: close` on a fresh connection: the response, or
/// `None` if the server closed without answering.
fn try_get(port: u16, path: &str) -> Option<RawResp> {
    let mut raw = Raw::connect(port);
    raw.send(format!(
        "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    ));
    let (bytes, _) = raw.read_until_close();
    let mut all = parse_all(&bytes);
    assert!(all.len() <= 1, "{all:?}");
    all.pop()
}

both!(max_clients_closes_the_extra_connection, |adapter| {
    let demo = start_demo(adapter, "http", &["--max-clients", "1"]);
    let mut first = Raw::connect(demo.port);
    first.send(get_req("/"));
    assert_eq!(first.response().status, 200);
    // The slot is taken: a second connection is closed without a response.
    let mut second = Raw::connect(demo.port);
    second.send(get_req("/"));
    let (rest, _) = second.read_until_close();
    assert!(
        rest.is_empty(),
        "the connection over max_clients got {:?}",
        String::from_utf8_lossy(&rest)
    );
    first.send(get_req("/info"));
    let r = first.response();
    assert_eq!(r.status, 200);
    let json = r.text().trim();
    assert!(json_num(json, "rejected") >= 1, "{json}");
    assert_eq!(json_num(json, "active_clients"), 1, "{json}");
    assert_eq!(json_num(json, "max_clients"), 1, "{json}");
    // Once the first leaves, its slot is free again.
    drop(first);
    let mut last = None;
    let served = wait_until(Duration::from_secs(5), || {
        last = try_get(demo.port, "/");
        last.is_some()
    });
    assert!(served, "no connection served after the first one left");
    assert_eq!(last.map(|r| r.status), Some(200));
});

both!(request_timeout_closes_a_stalled_request, |adapter| {
    let timeout = Duration::from_millis(300);
    let demo = start_demo(adapter, "http", &["--request-timeout", "300"]);
    let t0 = Instant::now();
    let mut raw = Raw::connect(demo.port);
    raw.send("GET / HTTP/1.1\r\nHo");
    let (bytes, _) = raw.read_until_close();
    let took = t0.elapsed();
    assert!(took >= timeout, "closed after {took:?}, before {timeout:?}");
    // Exact timing is checked on the sim (`sim_timeouts.rs`); here, that it happens.
    assert!(took < timeout + SAFETY_NET, "closed only after {took:?}");
    if !bytes.is_empty() {
        let all = parse_all(&bytes);
        assert!(all.len() == 1 && all[0].status == 408, "{all:?}");
    }
    // A prompt request is served.
    assert_eq!(try_get(demo.port, "/").map(|r| r.status), Some(200));
});

both!(max_content_length_refuses_a_larger_body, |adapter| {
    let demo = start_demo(adapter, "http", &["--max-content-length", "10"]);
    let mut raw = Raw::connect(demo.port);
    raw.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n0123456789");
    let r = raw.response();
    assert_eq!((r.status, r.text()), (200, "0123456789"));
    raw.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\n0123456789A");
    let r = raw.response();
    assert_eq!(r.status, 413, "{r:?}");
    raw.expect_close();
    // Chunked, crossing the cap on its second chunk.
    let mut raw = Raw::connect(demo.port);
    raw.send(
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n5\r\n6789A\r\n0\r\n\r\n",
    );
    let r = raw.response();
    assert_eq!(r.status, 413, "{r:?}");
    raw.expect_close();
});

both!(file_route_sends_regions_of_its_pattern_file, |adapter| {
    let demo = start_demo(adapter, "http", &[]);
    let pattern = |offset: usize, len: usize| -> Vec<u8> {
        (offset..offset + len).map(|i| (i % 251) as u8).collect()
    };
    for (offset, len) in [(0, 1 << 20), (1000, 12345), ((1 << 20) - 1, 1)] {
        let r = try_get(demo.port, &format!("/file?offset={offset}&len={len}")).expect("an answer");
        assert_eq!(r.status, 200);
        assert!(
            r.body == pattern(offset, len),
            "region {offset}+{len} differs"
        );
    }
    let r = try_get(demo.port, "/file?offset=1048576&len=1").expect("an answer");
    assert_eq!(r.status, 416);
});

both!(the_demo_serves_http2_as_its_protocols_say, |adapter| {
    // Plain TCP serving both: prior-knowledge h2c is recognised by its preface.
    let demo = start_demo(adapter, "http", &["--protocols", "http1,http2"]);
    let url = format!("http://127.0.0.1:{}/big?bytes=1000000", demo.port);
    let out = curl(
        &[
            "--http2-prior-knowledge",
            "-o",
            "/dev/null",
            "-w",
            "%{size_download} %{http_version}",
            &url,
        ],
        None,
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1000000 2");
    let url = format!("http://127.0.0.1:{}/", demo.port);
    let out = curl(&["-w", " %{http_version}", &url], None);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Hello, world! 1.1");
    drop(demo);

    // TLS: ALPN in the listed order.
    let demo = start_demo(adapter, "https", &["--tls", "--protocols", "http2,http1"]);
    let out = curl_k(demo.port, "/", &["--http2", "-w", " %{http_version}"]);
    assert_eq!(out, "Hello, world! 2");
});
