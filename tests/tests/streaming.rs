//! Streaming handlers: `Body::from_stream` sends frames as they are produced
//! (chunked on HTTP/1.1, close-delimited on HTTP/1.0), a last `Frame::Trailers`
//! becomes chunked trailer fields, and a stream that panics mid-body cuts only its own
//! connection.

mod kinds;

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use kinds::{gate, Chunk, Gate, GateRx, TcpWire};
use roadrunner_core::http::{HeaderMap, HeaderValue, StatusCode};
use roadrunner_core::{Body, Frame, ListenerRef, Request, RequestExt, Response, Route, Routes};
use roadrunner_tests::{both, get_req, opts, Adapter, Hyper, Raw, Server};

/// What the streaming routes share with the test.
struct Shared {
    /// Opened by the test once it has read the first chunk.
    gate: GateRx,
    /// Frames the gated stream has produced so far.
    produced: AtomicUsize,
}

const DELAY: Duration = Duration::from_millis(10);

/// The serving listener, whose timer a stream keeps after its handler has returned.
fn listener(req: &Request) -> ListenerRef {
    req.listener().expect("a served request").clone()
}

/// `?n=N`: N chunks `chunk i\n`; chunk 0 at once, the rest only after the gate opens,
/// each after a delay.
fn gated(req: Request) -> impl std::future::Future<Output = Response> {
    let st: Arc<Shared> = req.state::<Arc<Shared>>().expect("state").clone();
    let n: usize = kinds::query(&req, "n").unwrap_or(4);
    let timer = listener(&req);
    async move {
        let body = smol::stream::unfold(0usize, move |i| {
            let st = st.clone();
            // Cloned rather than slept on up front: the delay starts after the gate.
            let timer = timer.clone();
            async move {
                if i == n {
                    return None;
                }
                if i == 1 {
                    st.gate.pass().await;
                }
                if i > 0 {
                    timer.sleep(DELAY).await;
                }
                st.produced.fetch_add(1, Ordering::SeqCst);
                Some((Frame::Data(format!("chunk {i}\n").into()), i + 1))
            }
        });
        Response::new(Body::from_stream(body))
    }
}

/// Three data frames, produced with delays, and nothing else.
fn three(req: Request) -> impl std::future::Future<Output = Response> {
    let timer = listener(&req);
    async move {
        let body = smol::stream::unfold(0usize, move |i| {
            let nap = timer.sleep(DELAY);
            async move {
                let part: &'static str = ["one\n", "two\n", "three\n"].get(i)?;
                nap.await;
                Some((Frame::Data(Bytes::from_static(part.as_bytes())), i + 1))
            }
        });
        Response::new(Body::from_stream(body))
    }
}

fn trailer_map() -> HeaderMap {
    let mut t = HeaderMap::new();
    t.insert("x-checksum", HeaderValue::from_static("abc-3"));
    t.insert("x-parts", HeaderValue::from_static("2"));
    t
}

/// Two data frames then trailers.
fn with_trailers(req: Request) -> impl std::future::Future<Output = Response> {
    let timer = listener(&req);
    async move {
        let body = smol::stream::unfold(0usize, move |i| {
            let nap = timer.sleep(DELAY);
            async move {
                nap.await;
                match i {
                    0 => Some((Frame::Data(Bytes::from_static(b"ab")), 1)),
                    1 => Some((Frame::Data(Bytes::from_static(b"c")), 2)),
                    2 => Some((Frame::Trailers(trailer_map()), 3)),
                    _ => None,
                }
            }
        });
        let mut resp = Response::new(Body::from_stream(body));
        resp.headers_mut()
            .insert("trailer", HeaderValue::from_static("x-checksum, x-parts"));
        resp
    }
}

/// One chunk, then (once the gate opens) a panic inside the stream.
fn panics_midway(req: Request) -> impl std::future::Future<Output = Response> {
    let st: Arc<Shared> = req.state::<Arc<Shared>>().expect("state").clone();
    async move {
        let body = smol::stream::unfold(0usize, move |i| {
            let st = st.clone();
            async move {
                if i == 0 {
                    return Some((Frame::Data(Bytes::from_static(b"first\n")), 1));
                }
                st.gate.pass().await;
                panic!("the stream panics after its first chunk, on purpose");
            }
        });
        Response::new(Body::from_stream(body))
    }
}

/// One chunk, then (once the gate opens) an error from the stream's source.
fn fails_midway(req: Request) -> impl std::future::Future<Output = Response> {
    let st: Arc<Shared> = req.state::<Arc<Shared>>().expect("state").clone();
    async move {
        let body = smol::stream::unfold(0usize, move |i| {
            let st = st.clone();
            async move {
                match i {
                    0 => Some((Ok(Frame::Data(Bytes::from_static(b"first\n"))), 1)),
                    1 => {
                        st.gate.pass().await;
                        Some((Err(std::io::Error::other("the source went away")), 2))
                    }
                    _ => None,
                }
            }
        });
        Response::new(Body::from_try_stream(body))
    }
}

fn start(adapter: Adapter) -> (Server, Gate, Arc<Shared>) {
    let (gate_tx, gate_rx) = gate();
    let st = Arc::new(Shared {
        gate: gate_rx,
        produced: AtomicUsize::new(0),
    });
    let routes = Routes::list([
        Route::get("/", |_req: Request| async { "ok" }),
        Route::get("/gated", gated).state(st.clone()),
        Route::get("/three", three),
        Route::get("/trailers", with_trailers),
        Route::get("/panic", panics_midway).state(st.clone()),
        Route::get("/fails", fails_midway).state(st.clone()),
    ]);
    (Server::start(adapter, opts(routes)), gate_tx, st)
}

both!(frames_go_out_as_they_are_produced, |adapter| {
    let (s, gate, st) = start(adapter);
    let mut w = TcpWire::connect(s.port());
    w.send(get_req("/gated?n=4"));
    let head = w.head();
    assert_eq!(head.status, 200, "{head:?}");
    assert!(head.has_token("transfer-encoding", "chunked"), "{head:?}");
    assert_eq!(head.header("content-length"), None, "{head:?}");
    // The first chunk arrives while the handler is still waiting on the gate: the
    // later ones do not exist yet.
    assert_eq!(w.chunk(), Chunk::Data(b"chunk 0\n".to_vec()));
    assert_eq!(st.produced.load(Ordering::SeqCst), 1);
    gate.open();
    let (rest, trailers) = w.rest_of_chunked();
    assert_eq!(rest, b"chunk 1\nchunk 2\nchunk 3\n");
    assert!(trailers.is_empty(), "{trailers:?}");
    assert_eq!(st.produced.load(Ordering::SeqCst), 4);
    assert!(w.buffer_is_empty(), "bytes after the last chunk");
    // The connection is kept alive after a streamed response.
    w.send(get_req("/"));
    let r = w.response();
    assert_eq!((r.status, r.text()), (200, "ok"));
});

both!(each_chunk_is_one_frame, |adapter| {
    let (s, _gate, _st) = start(adapter);
    let mut w = TcpWire::connect(s.port());
    w.send(get_req("/three"));
    assert!(w.head().has_token("transfer-encoding", "chunked"));
    for part in ["one\n", "two\n", "three\n"] {
        assert_eq!(w.chunk(), Chunk::Data(part.as_bytes().to_vec()));
    }
    assert_eq!(w.chunk(), Chunk::Last(vec![]));
});

both!(trailers_frame_becomes_chunked_trailers, |adapter| {
    let (s, _gate, _st) = start(adapter);
    let mut w = TcpWire::connect(s.port());
    w.send(get_req("/trailers"));
    let head = w.head();
    assert!(head.has_token("transfer-encoding", "chunked"), "{head:?}");
    let (body, mut trailers) = w.rest_of_chunked();
    assert_eq!(body, b"abc");
    trailers.sort();
    let trailers: Vec<(String, String)> = trailers
        .into_iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v))
        .collect();
    assert_eq!(
        trailers,
        vec![
            ("x-checksum".to_owned(), "abc-3".to_owned()),
            ("x-parts".to_owned(), "2".to_owned())
        ]
    );
    // Still usable afterwards.
    w.send(get_req("/"));
    assert_eq!(w.response().text(), "ok");
});

both!(http10_gets_a_close_delimited_body, |adapter| {
    let (s, _gate, _st) = start(adapter);
    let mut raw = Raw::connect(s.port());
    raw.send("GET /three HTTP/1.0\r\n\r\n");
    // Framed by the close alone: the parser takes the body up to EOF.
    let r = raw.response();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("transfer-encoding"), None, "{r:?}");
    assert_eq!(r.header("content-length"), None, "{r:?}");
    assert!(!r.has_token("connection", "keep-alive"), "{r:?}");
    assert_eq!(r.text(), "one\ntwo\nthree\n");
    raw.expect_close();
    // Asking for keep-alive does not change that: without a length the close is the
    // framing.
    let mut raw = Raw::connect(s.port());
    raw.send("GET /three HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let r = raw.response();
    assert_eq!(r.header("transfer-encoding"), None, "{r:?}");
    assert_eq!(r.text(), "one\ntwo\nthree\n");
    raw.expect_close();
});

both!(
    a_stream_panicking_midway_cuts_only_its_connection,
    |adapter| {
        let (s, gate, _st) = start(adapter);
        // A bystander connected before the panic.
        let mut other = Raw::connect(s.port());
        other.send(get_req("/"));
        assert_eq!(other.response().status, 200);

        let mut w = TcpWire::connect(s.port());
        w.send(get_req("/panic"));
        let head = w.head();
        assert_eq!(head.status, 200, "{head:?}");
        assert!(head.has_token("transfer-encoding", "chunked"), "{head:?}");
        assert_eq!(w.chunk(), Chunk::Data(b"first\n".to_vec()));
        gate.open();
        let (rest, _how) = w.read_until_close();
        // No terminating 0-chunk (nor anything else): the client can tell the body was
        // cut short.
        assert!(
            rest.is_empty(),
            "expected EOF right after the first chunk, got {:?}",
            String::from_utf8_lossy(&rest)
        );

        // Everything else goes on.
        other.send(get_req("/"));
        let r = other.response();
        assert_eq!((r.status, r.text()), (200, "ok"));
        let mut fresh = Raw::connect(s.port());
        fresh.send(get_req("/"));
        assert_eq!(fresh.response().status, 200);
        drop((other, fresh));
        s.wait_info("every connection released", |i| i.active_clients == 0);
    }
);

both!(hyper_collects_streamed_bodies, |adapter| {
    let (s, gate, _st) = start(adapter);
    gate.open();
    let mut c = Hyper::connect(s.port());
    let r = c.get("/gated?n=6");
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    let want: String = (0..6).map(|i| format!("chunk {i}\n")).collect();
    assert_eq!(r.text(), want);
    // Same connection, next streamed response.
    let r = c.get("/three");
    assert_eq!(r.text(), "one\ntwo\nthree\n");

    let (body, trailers) = hyper_with_trailers(s.port(), "/trailers");
    assert_eq!(&body[..], b"abc");
    let trailers = trailers.expect("hyper saw no trailers");
    assert_eq!(
        trailers.get("x-checksum").map(|v| v.as_bytes()),
        Some(&b"abc-3"[..])
    );
    assert_eq!(
        trailers.get("x-parts").map(|v| v.as_bytes()),
        Some(&b"2"[..])
    );
});

/// `GET path` with `TE: trailers` on a fresh hyper connection: the body and trailers.
fn hyper_with_trailers(port: u16, path: &str) -> (Bytes, Option<HeaderMap>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    rt.block_on(async {
        let work = async {
            let tcp = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port))
                .await
                .expect("connect");
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                    .await
                    .expect("handshake");
            tokio::spawn(conn);
            let req = http::Request::get(path)
                .header("host", format!("127.0.0.1:{port}"))
                .header("te", "trailers")
                .body(Full::<Bytes>::default())
                .expect("request");
            let resp = sender.send_request(req).await.expect("response");
            let collected = resp.into_body().collect().await.expect("body");
            let trailers = collected.trailers().cloned();
            (collected.to_bytes(), trailers)
        };
        tokio::time::timeout(roadrunner_tests::IO_TIMEOUT, work)
            .await
            .expect("hyper: no response within 5 s")
    })
}

both!(a_failed_stream_is_cut_short_not_ended, |adapter| {
    let (s, gate, _st) = start(adapter);
    let mut w = TcpWire::connect(s.port());
    w.send(get_req("/fails"));
    assert!(w.head().has_token("transfer-encoding", "chunked"));
    assert_eq!(w.chunk(), Chunk::Data(b"first\n".to_vec()));
    gate.open();
    // No terminating `0` chunk: the peer must see a truncated body, not a whole one.
    let (rest, how) = w.read_until_close();
    assert!(
        rest.is_empty(),
        "sent after the failure: {:?}",
        String::from_utf8_lossy(&rest)
    );
    assert_eq!(how, roadrunner_tests::Closed::Eof);

    // An independent client sees the body fail rather than end.
    let (s, gate, _st) = start(adapter);
    gate.open();
    let mut c = Hyper::connect(s.port());
    let req = http::Request::get("/fails")
        .header("host", "localhost")
        .body(Full::new(Bytes::new()))
        .expect("request");
    let err = c
        .try_send(req)
        .expect_err("a truncated body must be an error");
    assert!(err.starts_with("body"), "{err}");
});
