//! `body_buffering: Manual`: the handler reads the request body itself, frame by
//! frame as the client sends it, with `size_hint()` from `Content-Length`;
//! `Expect: 100-continue` is answered only once the handler asks for the body;
//! `max_content_length` still holds (413 before the handler for a declared length, a
//! read error and 413 for a chunked body that grows past it); request trailers end
//! the body as a `Frame::Trailers`.

mod kinds;

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use kinds::{chunked, gate, Gate, GateRx, TcpWire};
use roadrunner_core::http::StatusCode;
use roadrunner_core::{
    BodyBuffering, BodyError, Frame, Request, RequestExt, Response, Route, Routes,
};
use roadrunner_tests::{both, opts, Adapter, Hyper, Server, IO_TIMEOUT};

struct Shared {
    /// `/count` reports the size of each data frame as it reads it.
    frames: mpsc::Sender<usize>,
    /// `/ignore` and `/capped` record that they ran.
    ignore_called: AtomicBool,
    capped_called: AtomicBool,
    /// How `/capped`'s read ended: bytes read, or the error.
    capped: mpsc::Sender<Result<usize, BodyError>>,
    /// `/gated` says it started, then waits for the gate before reading.
    started: mpsc::Sender<()>,
    gate: GateRx,
}

fn st(req: &Request) -> Arc<Shared> {
    req.state::<Arc<Shared>>().expect("state").clone()
}

/// Reads frame by frame: `frames=N total=T hint=H trailers=a=1,b=2|none`.
async fn count(mut req: Request) -> String {
    let st = st(&req);
    let hint = req.body().size_hint();
    let (mut frames, mut total, mut trailers) = (0, 0, None::<String>);
    while let Some(frame) = req.body_mut().frame().await {
        match frame {
            Ok(Frame::Data(d)) => {
                assert!(trailers.is_none(), "a data frame after the trailers");
                frames += 1;
                total += d.len();
                let _ = st.frames.send(d.len());
            }
            Ok(Frame::Trailers(t)) => {
                assert!(trailers.is_none(), "two trailer frames");
                let mut v: Vec<String> = t
                    .iter()
                    .map(|(n, v)| format!("{n}={}", v.to_str().unwrap_or("?")))
                    .collect();
                v.sort();
                trailers = Some(v.join(","));
            }
            Err(e) => return format!("error {e}"),
        }
    }
    format!(
        "frames={frames} total={total} hint={hint:?} trailers={}",
        trailers.as_deref().unwrap_or("none")
    )
}

/// Echoes the body, read with `to_bytes`.
async fn echo(req: Request) -> Response {
    match req.into_body().to_bytes().await {
        Ok(b) => Response::new(b.into()),
        Err(e) => roadrunner_core::text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Answers at once with a stream that reads the request body as it arrives: the
/// response flows while the request still does (a duplex exchange).
async fn duplex(req: Request) -> Response {
    let body = smol::stream::unfold(req.into_body(), |mut body| async move {
        let frame = body.frame().await?;
        Some((frame, body))
    });
    Response::new(roadrunner_core::Body::from_try_stream(body))
}

/// Answers without reading the body.
async fn ignore(req: Request) -> &'static str {
    st(&req).ignore_called.store(true, Ordering::SeqCst);
    "ignored"
}

/// Waits for the gate, then echoes the body.
async fn gated(req: Request) -> Response {
    let st = st(&req);
    let _ = st.started.send(());
    st.gate.pass().await;
    echo(req).await
}

/// Reads everything it is given and reports how that ended.
async fn capped(mut req: Request) -> &'static str {
    let st = st(&req);
    st.capped_called.store(true, Ordering::SeqCst);
    let mut total = 0;
    let result = loop {
        match req.body_mut().frame().await {
            None => break Ok(total),
            Some(Ok(Frame::Data(d))) => total += d.len(),
            Some(Ok(Frame::Trailers(_))) => {}
            Some(Err(e)) => break Err(e),
        }
    };
    let failed = result.is_err();
    let _ = st.capped.send(result);
    if failed {
        "read failed"
    } else {
        "read all"
    }
}

struct Fixture {
    server: Server,
    shared: Arc<Shared>,
    frames: mpsc::Receiver<usize>,
    capped: mpsc::Receiver<Result<usize, BodyError>>,
    started: mpsc::Receiver<()>,
    gate: Gate,
}

fn start(adapter: Adapter, max_content_length: u64) -> Fixture {
    let (frames_tx, frames) = mpsc::channel();
    let (capped_tx, capped_rx) = mpsc::channel();
    let (started_tx, started) = mpsc::channel();
    let (gate_tx, gate_rx) = gate();
    let shared = Arc::new(Shared {
        frames: frames_tx,
        ignore_called: AtomicBool::new(false),
        capped_called: AtomicBool::new(false),
        capped: capped_tx,
        started: started_tx,
        gate: gate_rx,
    });
    let routes = Routes::list([
        Route::post("/count", count).state(shared.clone()),
        Route::post("/echo", echo),
        Route::post("/duplex", duplex),
        Route::post("/ignore", ignore).state(shared.clone()),
        Route::post("/gated", gated).state(shared.clone()),
        Route::post("/capped", capped).state(shared.clone()),
    ]);
    let mut o = opts(routes);
    o.body_buffering = BodyBuffering::Manual;
    o.max_content_length = max_content_length;
    Fixture {
        server: Server::start(adapter, o),
        shared,
        frames,
        capped: capped_rx,
        started,
        gate: gate_tx,
    }
}

const CHUNKED_HEAD: &str = "Host: t\r\nTransfer-Encoding: chunked\r\n\r\n";

fn chunk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

both!(frames_arrive_as_the_client_sends_them, |adapter| {
    let f = start(adapter, 10_000_000);
    let mut w = TcpWire::connect(f.server.port());
    w.send(format!("POST /count HTTP/1.1\r\n{CHUNKED_HEAD}"));
    // Each chunk goes out only after the handler has read the previous one.
    let mut reads = 0;
    let mut sent = 0;
    for part in [&b"aaa"[..], b"bbbb", b"cc"] {
        w.send(chunk(part));
        sent += part.len();
        let mut got = 0;
        while got < part.len() {
            got += f
                .frames
                .recv_timeout(IO_TIMEOUT)
                .unwrap_or_else(|_| panic!("the handler did not read {part:?}"));
            reads += 1;
        }
        assert_eq!(got, part.len(), "frames straddle the client's chunks");
    }
    assert!(reads >= 3);
    w.send("0\r\nx-sum: 9\r\nx-note: last\r\n\r\n");
    let r = w.response();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.text(),
        format!("frames={reads} total={sent} hint=None trailers=x-note=last,x-sum=9")
    );
    // Kept alive: a Content-Length body next.
    w.send("POST /count HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world");
    let r = w.response();
    assert!(
        r.text().ends_with("total=11 hint=Some(11) trailers=none"),
        "{:?}",
        r.text()
    );
});

both!(size_hint_follows_content_length, |adapter| {
    let f = start(adapter, 10_000_000);
    let mut c = Hyper::connect(f.server.port());
    let r = c.call("POST", "/count", b"0123456789abcdef");
    assert_eq!(r.text(), "frames=1 total=16 hint=Some(16) trailers=none");
    // An empty declared body: no frames at all.
    let mut w = TcpWire::connect(f.server.port());
    w.send("POST /count HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    let r = w.response();
    assert_eq!(r.text(), "frames=0 total=0 hint=Some(0) trailers=none");
    w.send(format!("POST /count HTTP/1.1\r\n{CHUNKED_HEAD}0\r\n\r\n"));
    let r = w.response();
    assert_eq!(r.text(), "frames=0 total=0 hint=None trailers=none");
});

fn big() -> Vec<u8> {
    (0..4 * 1024 * 1024u32)
        .map(|i| (i % 253) as u8 ^ (i >> 12) as u8)
        .collect()
}

both!(large_upload_is_echoed_intact, |adapter| {
    let f = start(adapter, 10_000_000);
    let data = big();
    let mut c = Hyper::connect(f.server.port());
    let r = c.post("/echo", "application/octet-stream", data.clone());
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body.len(), data.len());
    assert!(r.body == data, "Content-Length upload came back altered");
    // Chunked, 64 KiB chunks, written from another thread while the server reads.
    let mut w = TcpWire::connect(f.server.port());
    let mut out = format!("POST /echo HTTP/1.1\r\n{CHUNKED_HEAD}").into_bytes();
    let parts: Vec<&[u8]> = data.chunks(64 * 1024).collect();
    out.extend_from_slice(&chunked(&parts, ""));
    let mut writer = w.io.try_clone().expect("clone socket");
    let t = std::thread::spawn(move || std::io::Write::write_all(&mut writer, &out));
    let r = w.response();
    t.join().expect("writer").expect("write");
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), data.len());
    assert!(r.body == data, "chunked upload came back altered");
});

both!(continue_is_sent_once_the_handler_reads, |adapter| {
    let f = start(adapter, 10_000_000);
    let mut w = TcpWire::connect(f.server.port());
    w.send("POST /gated HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    f.started
        .recv_timeout(IO_TIMEOUT)
        .expect("handler not started");
    // The handler runs but has not asked for the body: no 100 yet. (This wait is
    // the behaviour under test: nothing may arrive while the handler holds off.)
    w.io.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut b = [0u8; 64];
    match w.io.read(&mut b) {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) => {}
        other => panic!(
            "bytes before the handler read the body: {other:?} {:?}",
            String::from_utf8_lossy(&b)
        ),
    }
    w.io.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    f.gate.open();
    let interim = w.head();
    assert_eq!(interim.status, 100, "{interim:?}");
    w.send("hello");
    let r = w.response();
    assert_eq!((r.status, r.text()), (200, "hello"));
    assert!(!r.has_token("connection", "close"), "{r:?}");
    // Still usable.
    w.send("POST /count HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi");
    assert!(w.response().text().contains("total=2"));
});

both!(continue_unread_body_answers_and_closes, |adapter| {
    let f = start(adapter, 10_000_000);
    let mut w = TcpWire::connect(f.server.port());
    w.send("POST /ignore HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    let r = w.response();
    assert_eq!(
        (r.status, r.text()),
        (200, "ignored"),
        "expected the final response and no 100 Continue: {r:?}"
    );
    assert!(f.shared.ignore_called.load(Ordering::SeqCst));
    // No 100 was sent and the body was never read: the server cannot tell where the
    // next request would start, so it must close.
    assert!(r.has_token("connection", "close"), "{r:?}");
    let (rest, _) = w.read_until_close();
    assert!(
        rest.is_empty(),
        "after the response: {:?}",
        String::from_utf8_lossy(&rest)
    );
});

both!(unread_body_without_expect_is_skipped_or_closed, |adapter| {
    let f = start(adapter, 10_000_000);
    let mut w = TcpWire::connect(f.server.port());
    // The body comes with the head; the handler does not read it. A pipelined request
    // follows.
    w.send(
        "POST /ignore HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhelloPOST /count HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nok",
    );
    let r = w.response();
    assert_eq!(r.text(), "ignored");
    if r.has_token("connection", "close") {
        let (rest, _) = w.read_until_close();
        assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    } else {
        // Kept alive: the unread body must be skipped, not parsed as a request.
        let r = w.response();
        assert_eq!(r.status, 200, "{r:?}");
        assert!(r.text().contains("total=2"), "{:?}", r.text());
    }
});

both!(
    declared_length_over_cap_is_refused_before_the_handler,
    |adapter| {
        let f = start(adapter, 1000);
        let mut w = TcpWire::connect(f.server.port());
        w.send("POST /capped HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n");
        let r = w.response();
        assert_eq!(r.status, 413, "{r:?}");
        let (rest, _) = w.read_until_close();
        assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
        assert!(
            !f.shared.capped_called.load(Ordering::SeqCst),
            "the handler ran for a body over max_content_length"
        );
        // At the cap exactly: served.
        let mut w = TcpWire::connect(f.server.port());
        w.send("POST /capped HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n");
        w.send(vec![b'x'; 1000]);
        let r = w.response();
        assert_eq!((r.status, r.text()), (200, "read all"));
        assert_eq!(f.capped.recv_timeout(IO_TIMEOUT), Ok(Ok(1000)));
    }
);

both!(chunked_body_growing_past_cap_fails_the_read, |adapter| {
    let f = start(adapter, 1000);
    let mut w = TcpWire::connect(f.server.port());
    let part = [b'y'; 400];
    let mut out = format!("POST /capped HTTP/1.1\r\n{CHUNKED_HEAD}").into_bytes();
    out.extend_from_slice(&chunked(&[&part, &part, &part], ""));
    w.send(out);
    let r = w.response();
    assert_eq!(r.status, 413, "{r:?}");
    let result = f
        .capped
        .recv_timeout(IO_TIMEOUT)
        .expect("the handler reported nothing");
    match result {
        Err(BodyError::Protocol { status, .. }) => {
            assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE)
        }
        other => panic!("expected a 413 protocol error from the read, got {other:?}"),
    }
    assert!(f.shared.capped_called.load(Ordering::SeqCst));
    let (rest, _) = w.read_until_close();
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
});

both!(request_trailers_end_the_body_as_a_frame, |adapter| {
    let f = start(adapter, 10_000_000);
    let mut w = TcpWire::connect(f.server.port());
    let mut out = format!("POST /count HTTP/1.1\r\n{CHUNKED_HEAD}").into_bytes();
    out.extend_from_slice(&chunked(
        &[b"abc", b"de"],
        "X-Checksum: 5\r\nX-Origin: test\r\n",
    ));
    w.send(out);
    let r = w.response();
    assert_eq!(r.status, 200);
    assert!(
        r.text()
            .ends_with("total=5 hint=None trailers=x-checksum=5,x-origin=test"),
        "{:?}",
        r.text()
    );
});

both!(
    a_streamed_answer_echoes_the_upload_as_it_arrives,
    |adapter| {
        // Each 4 KiB piece goes out only once the echo of the previous one is back, so the
        // exchange must be duplex: the handler has returned long before the upload ends.
        const PIECE: usize = 4096;
        let f = start(adapter, 10_000_000);
        let data: Vec<u8> = (0..1024 * 1024u32).map(|i| (i % 251) as u8).collect();
        let mut w = TcpWire::connect(f.server.port());
        w.send(format!("POST /duplex HTTP/1.1\r\n{CHUNKED_HEAD}"));
        w.send(chunk(&data[..PIECE]));
        let head = w.head();
        assert_eq!(head.status, 200, "{head:?}");
        let mut echoed = Vec::new();
        for (i, piece) in data.chunks(PIECE).enumerate() {
            if i > 0 {
                w.send(chunk(piece));
            }
            while echoed.len() < (i + 1) * PIECE {
                match w.chunk() {
                    kinds::Chunk::Data(d) => echoed.extend_from_slice(&d),
                    last => panic!("the echo ended after {} bytes: {last:?}", echoed.len()),
                }
            }
        }
        w.send("0\r\n\r\n");
        assert_eq!(w.chunk(), kinds::Chunk::Last(vec![]));
        assert!(echoed == data, "the echo differs");
    }
);
