//! HTTP/2 against independent clients outside the Rust ecosystem: nghttp and h2load
//! (nghttp2, Debian's `nghttp2-client`) and python-hyper's `h2` (PyPI), driven by
//! `tests/py/h2_client.py`. Each is a separate reading of RFC 9113 with its own flow
//! control, stream scheduling and HPACK, so they catch what a client written against
//! the same crates as the server would share with it.
//!
//! The tools are required, not optional: `.ci/run` installs them, and a missing one
//! fails the test with the command that installs it rather than passing silently.
//! Every run is bounded by the tool's own timeout (nghttp `-t`, h2load `-N`, the
//! Python socket timeout), so a server that stalls fails the test instead of hanging.

mod kinds;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use bytes::Bytes;
use roadrunner_core::{
    Body, BodyBuffering, Frame, Http2Options, Options, Protocol, Request, Response, Route, Routes,
};
use roadrunner_tests::{both, echo, opts, start_demo, Adapter, Demo, Server};

const NGHTTP2_INSTALL: &str = "apt-get install nghttp2-client";
const H2_INSTALL: &str = "python3 -m pip install h2";

fn routes() -> Routes {
    Routes::list([
        Route::get("/", |_req: Request| async { "ok" }),
        Route::post("/echo", echo),
        // Keeps its stream open and, with manual body reading, the request body
        // unread, so the bytes stay charged to the connection window until the client
        // resets the stream.
        Route::post("/hold", |_req: Request| async {
            std::future::pending::<()>().await;
            "never"
        }),
        Route::get("/stream", roadrunner_tests::with_trailers),
        // `?bytes=N` of `x` in 16 KiB pieces, like the demo's `/big`.
        Route::get("/big", |req: Request| async move {
            const PIECE: usize = 16 * 1024;
            let total: usize = kinds::query(&req, "bytes").unwrap_or(1 << 20);
            let piece = Bytes::from(vec![b'x'; PIECE]);
            let frames = (0..total.div_ceil(PIECE))
                .map(move |i| Frame::Data(piece.slice(..PIECE.min(total - i * PIECE))));
            Response::new(Body::from_stream(smol::stream::iter(frames)))
        }),
    ])
}

/// Prior-knowledge h2c only, so every client must speak HTTP/2 from its first byte.
fn h2c_opts(buffering: BodyBuffering) -> Options {
    let mut o = opts(routes());
    o.protocols = vec![Protocol::Http2(Http2Options::default())];
    o.body_buffering = buffering;
    o
}

/// Runs `program` to its exit; a program that cannot be started fails the test with
/// how to install it.
fn run(program: &str, args: &[&str], install: &str) -> Output {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {program} ({e}): these tests need it; install it with \
                 `{install}` (.ci/run does)"
            )
        })
}

/// Asserts the run succeeded, showing everything it printed if not.
fn succeeded(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `nghttp ARGS`, which must succeed; its stdout.
fn nghttp(args: &[&str]) -> Vec<u8> {
    let mut all = vec!["-t", "30s"];
    all.extend_from_slice(args);
    let out = run("nghttp", &all, NGHTTP2_INSTALL);
    succeeded(&out, &format!("nghttp {all:?}"));
    // nghttp exits 0 even when the connection died under its requests; this line is
    // how it says so.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("Some requests were not processed"),
        "nghttp {all:?}: the connection ended before the answers did:\n{stderr}"
    );
    out.stdout
}

/// `h2load ARGS`, which must succeed; its stdout.
fn h2load(args: &[&str]) -> String {
    // An inactivity limit rather than a total one: a slow machine only makes the run
    // longer, a stalled connection ends it.
    let mut all = vec!["-N", "30s"];
    all.extend_from_slice(args);
    let out = run("h2load", &all, NGHTTP2_INSTALL);
    succeeded(&out, &format!("h2load {all:?}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The rest of the first line of `text` that starts with `prefix`.
fn line_after<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{text}"))
}

/// `tests/py/h2_client.py ARGS` on the Python `h2` library; its stdout.
fn python_h2(args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("py/h2_client.py");
    let mut all = vec![script.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    let out = run("python3", &all, "apt-get install python3");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named 'h2'"),
        "python3 has no `h2` module: install it with `{H2_INSTALL}` (.ci/run does)"
    );
    succeeded(&out, &format!("h2_client.py {args:?}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Byte `i` is `i % 251`: a body whose corruption, loss or reordering shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// The verbose log of one nghttp run must show neither a reset nor a GOAWAY from the
/// server.
fn assert_no_resets(log: &str) {
    for bad in ["recv RST_STREAM", "recv GOAWAY"] {
        assert!(!log.contains(bad), "the server sent {bad}:\n{log}");
    }
}

both!(nghttp_gets_and_posts_a_megabyte_over_h2c, |adapter| {
    let s = Server::start(adapter, h2c_opts(BodyBuffering::Auto));
    let log = String::from_utf8(nghttp(&["-v", &s.url("/")])).expect("utf-8 log");
    assert!(
        log.lines().any(|l| l.trim_end().ends_with(":status: 200")),
        "{log}"
    );
    assert_no_resets(&log);
    assert_eq!(nghttp(&[&s.url("/")]), b"ok");

    // Larger than every window of the server: the upload goes at the pace of its
    // WINDOW_UPDATEs, the echo at the pace of nghttp's.
    let upload = pattern(1 << 20);
    let file = kinds::TempFile::with("h2-interop-upload", &upload);
    let path = file.path().to_str().expect("utf-8 path");
    let echoed = nghttp(&["-d", path, &s.url("/echo")]);
    assert!(echoed == upload, "echo of {} bytes differs", echoed.len());
    // Without content-length, the body ends only with END_STREAM.
    let echoed = nghttp(&["--no-content-length", "-d", path, &s.url("/echo")]);
    assert!(
        echoed == upload,
        "echo without content-length of {} bytes differs",
        echoed.len()
    );
    s.wait_info("4 served", |i| i.requests_served == 4);
});

both!(nghttp_runs_twenty_streams_at_once, |adapter| {
    let s = Server::start(adapter, h2c_opts(BodyBuffering::Auto));
    let log = nghttp(&["-v", "-n", "-m", "20", &s.url("/big?bytes=100000")]);
    let log = String::from_utf8(log).expect("utf-8 log");
    assert_no_resets(&log);
    let sent = log.matches("send HEADERS frame").count();
    assert_eq!(sent, 20, "{log}");
    // All twenty were open together: every request went out before any answer.
    let last_sent = log.rfind("send HEADERS frame").expect("sent");
    let first_data = log.find("recv DATA frame").expect("no DATA received");
    assert!(
        last_sent < first_data,
        "requests were not concurrent:\n{log}"
    );
    let mut ok: Vec<&str> = log
        .lines()
        .filter(|l| l.trim_end().ends_with(":status: 200"))
        .filter_map(|l| l.split("stream_id=").nth(1)?.split(')').next())
        .collect();
    ok.sort();
    ok.dedup();
    assert_eq!(ok.len(), 20, "streams answered 200: {ok:?}\n{log}");
    let data: usize = log
        .lines()
        .filter_map(|l| l.split("recv DATA frame <length=").nth(1))
        .map(|l| {
            l.split(',')
                .next()
                .unwrap_or("")
                .parse::<usize>()
                .expect("length")
        })
        .sum();
    assert_eq!(data, 20 * 100_000);
    s.wait_info("20 served", |i| i.requests_served == 20);
});

/// The demo's TLS listener (its self-signed certificate) serving http1 and http2 in
/// the order of `--protocols`, or its default order (http1 first) for `None`.
fn tls_demo(adapter: Adapter, order: Option<&str>) -> Demo {
    match order {
        Some(order) => start_demo(adapter, "https", &["--tls", "--protocols", order]),
        None => start_demo(adapter, "https", &["--tls"]),
    }
}

both!(nghttp_negotiates_h2_over_tls_with_alpn, |adapter| {
    // nghttp offers only h2, so it gets h2 whichever order the server prefers.
    for order in [None, Some("http2,http1")] {
        let demo = tls_demo(adapter, order);
        let url = |p: &str| format!("https://127.0.0.1:{}{p}", demo.port);
        // nghttp checks the certificate but only warns when it fails (as the demo's
        // self-signed one does) and goes on; -y drops the warning.
        let log = String::from_utf8(nghttp(&["-v", "-y", &url("/")])).expect("utf-8 log");
        assert!(
            log.contains("The negotiated protocol: h2"),
            "{order:?}:\n{log}"
        );
        assert!(
            log.lines().any(|l| l.trim_end().ends_with(":status: 200")),
            "{log}"
        );
        assert!(log.contains("Hello, world!"), "{log}");
        assert_no_resets(&log);
        // Many TLS records, under nghttp's 64 KiB windows.
        let body = nghttp(&["-y", &url("/big?bytes=2000000")]);
        assert_eq!(body.len(), 2_000_000, "{order:?}");
        assert!(
            body.iter().all(|&b| b == b'x'),
            "{order:?}: /big body differs"
        );
    }
});

// Uploads over TLS: a megabyte brings more ciphertext in one read than rustls holds
// as plaintext at once (this once cut the connection with close_notify).
both!(nghttp_uploads_a_megabyte_over_tls, |adapter| {
    let upload = pattern(1 << 20);
    let file = kinds::TempFile::with("h2-interop-tls-upload", &upload);
    let path = file.path().to_str().expect("utf-8 path");
    let demo = tls_demo(adapter, Some("http2,http1"));
    let url = format!("https://127.0.0.1:{}/echo", demo.port);
    // Where records fall in the stream varies from run to run, and with it whether
    // a buffer-boundary fault shows: a few uploads in a row.
    for round in 0..4 {
        let echoed = nghttp(&["-y", "-d", path, &url]);
        assert!(
            echoed == upload,
            "round {round}: echo over TLS of {} bytes differs",
            echoed.len()
        );
    }
});

both!(h2load_2000_requests_over_4_connections, |adapter| {
    let s = Server::start(adapter, h2c_opts(BodyBuffering::Auto));
    let out = h2load(&["-n", "2000", "-c", "4", "-m", "16", &s.url("/")]);
    assert_eq!(
        line_after(&out, "requests: "),
        "2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored, 0 timeout",
        "{out}"
    );
    assert_eq!(
        line_after(&out, "status codes: "),
        "2000 2xx, 0 3xx, 0 4xx, 0 5xx",
        "{out}"
    );
    assert_eq!(line_after(&out, "Application protocol: "), "h2c", "{out}");
    s.wait_info("2000 served", |i| i.requests_served == 2000);
});

both!(h2load_big_bodies_through_small_windows, |adapter| {
    let s = Server::start(adapter, h2c_opts(BodyBuffering::Auto));
    // h2load's windows are 2^30-1 by default; at 2^16-1 each 64 KiB body outgrows its
    // stream window by one byte and ten at once share one 64 KiB connection window,
    // so the server's sending waits on h2load's WINDOW_UPDATEs throughout.
    let out = h2load(&[
        "-n",
        "200",
        "-m",
        "10",
        "-w",
        "16",
        "-W",
        "16",
        &s.url("/big?bytes=65536"),
    ]);
    assert_eq!(
        line_after(&out, "requests: "),
        "200 total, 200 started, 200 done, 200 succeeded, 0 failed, 0 errored, 0 timeout",
        "{out}"
    );
    assert_eq!(
        line_after(&out, "status codes: "),
        "200 2xx, 0 3xx, 0 4xx, 0 5xx",
        "{out}"
    );
    // `traffic: ... 12.50MB (13107200) data`: every body byte arrived.
    let traffic = line_after(&out, "traffic: ");
    let data = traffic
        .strip_suffix(") data")
        .and_then(|t| t.rsplit('(').next())
        .unwrap_or_else(|| panic!("no data count in {traffic:?}"));
    assert_eq!(data, (200 * 65536).to_string(), "{out}");
});

both!(python_h2_gets_posts_and_reads_trailers, |adapter| {
    let s = Server::start(adapter, h2c_opts(BodyBuffering::Auto));
    let out = python_h2(&["basic", &s.port().to_string()]);
    assert_eq!(
        out,
        "GET / 200 b'ok'\n\
         POST /echo 200 300000 bytes identical=True\n\
         GET /stream 200 b'abc' trailers={'x-sum': '3'}\n\
         goaway=None\n"
    );
});

/// Expected output of `h2_client.py reset`: B whole, C served, no reset or GOAWAY
/// from the server.
const RESET_SUMMARY: &str = "B 200 200000 bytes identical=True reset=None\n\
                             C 200 b'ok'\n\
                             A reset_by_server=None goaway=None\n";

both!(
    python_h2_reset_mid_upload_spares_the_other_stream,
    |adapter| {
        // The server reads A's body as it comes, for a handler that never runs.
        let s = Server::start(adapter, h2c_opts(BodyBuffering::Auto));
        let out = python_h2(&["reset", &s.port().to_string(), "/echo"]);
        assert_eq!(out, RESET_SUMMARY);
    }
);

both!(python_h2_reset_frees_the_window_a_handler_held, |adapter| {
    // A's handler runs and leaves its body unread: only the reset frees the
    // connection window its bytes took.
    let s = Server::start(adapter, h2c_opts(BodyBuffering::Manual));
    let out = python_h2(&["reset", &s.port().to_string(), "/hold"]);
    assert_eq!(out, RESET_SUMMARY);
});
