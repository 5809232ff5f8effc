//! HTTP/2 end to end against the `h2` client crate (an independent implementation):
//! prior-knowledge h2c, TLS with ALPN, many streams on one connection, streamed bodies
//! with trailers, aborted streams, `max_concurrent_requests`, and drain.

mod kinds;

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use h2::client::SendRequest;
use roadrunner_core::http::{HeaderMap, Method, Request as HttpRequest, StatusCode};
use roadrunner_core::upgrade::{on_upgrade, ConnectProtocol, Upgraded};
use roadrunner_core::{
    Body, DrainOutcome, Frame, Http1Options, Http2Options, Options, Protocol, Request, RequestExt,
    Response, Route, Routes,
};
use roadrunner_tests::{both, echo, hyper_get, opts, Adapter, Server};
use tokio::net::TcpStream;

/// A client runtime of its own, so the test thread can block on it.
fn client_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime")
}

fn routes(started: Arc<AtomicUsize>) -> Routes {
    Routes::list([
        Route::get("/", |_req: Request| async { "ok" }),
        Route::post("/echo", echo),
        Route::get("/slow", move |req: Request| {
            started.fetch_add(1, Ordering::SeqCst);
            let nap = req.sleep(Duration::from_millis(300));
            async move {
                nap.await;
                "slow done"
            }
        }),
        Route::get("/stream", roadrunner_tests::with_trailers),
        Route::get("/fat", roadrunner_tests::fat_head),
        Route::get("/fat-trailers", roadrunner_tests::fat_trailers),
        Route::get("/fails", |_req: Request| async {
            let items: Vec<Result<Frame, std::io::Error>> = vec![
                Ok(Frame::Data(Bytes::from_static(b"part"))),
                Err(std::io::Error::other("the source went away")),
            ];
            Response::new(Body::from_try_stream(smol::stream::iter(items)))
        }),
        Route::get("/big", |_req: Request| async {
            let chunk = Bytes::from(vec![b'x'; 16 * 1024]);
            let frames = (0..64).map(move |_| Frame::Data(chunk.clone()));
            Response::new(Body::from_stream(smol::stream::iter(frames)))
        }),
        // Extended CONNECT: an upper-casing echo session over the stream.
        Route::new("/tunnel", |req: Request| async move {
            if req.method() != Method::CONNECT
                || req.extensions().get::<ConnectProtocol>().is_none()
            {
                return roadrunner_core::status_response(StatusCode::BAD_REQUEST);
            }
            let mut resp = Response::default();
            on_upgrade(&mut resp, |mut up: Upgraded| async move {
                let mut buf = vec![0; 8192];
                while let Ok(n @ 1..) = up.read(&mut buf).await {
                    buf[..n].make_ascii_uppercase();
                    if up.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
            resp
        }),
        // Extended CONNECT: a session that writes 64 KiB at once and ends, so that its
        // stream's send queue is full when the end of the stream is due.
        Route::new("/burst", |_req: Request| async move {
            let mut resp = Response::default();
            on_upgrade(&mut resp, |mut up: Upgraded| async move {
                let _ = up.write_all(&[b'b'; 64 * 1024]).await;
            });
            resp
        }),
        Route::get("/version", |req: Request| async move {
            format!("{:?} {}", req.version(), req.peer_addr().is_some())
        }),
    ])
}

fn h2_opts(started: &Arc<AtomicUsize>) -> Options {
    let mut o = opts(routes(started.clone()));
    o.protocols = vec![Protocol::Http2(Http2Options::default())];
    o
}

/// An h2 client over plain TCP (prior knowledge).
async fn connect(port: u16) -> SendRequest<Bytes> {
    let tcp = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
        .await
        .expect("connect");
    let (client, conn) = h2::client::handshake(tcp).await.expect("h2 handshake");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

fn get(path: &str) -> HttpRequest<()> {
    HttpRequest::builder()
        .method(Method::GET)
        .uri(format!("http://localhost{path}"))
        .body(())
        .expect("request")
}

/// Sends `req` (with `body`) and reads the whole answer: status, body, trailers.
async fn fetch(
    client: &mut SendRequest<Bytes>,
    req: HttpRequest<()>,
    body: Option<Bytes>,
) -> Result<(StatusCode, Bytes, Option<HeaderMap>), h2::Error> {
    let mut client = client.clone().ready().await?;
    let (resp, mut send) = client.send_request(req, body.is_none())?;
    if let Some(body) = body {
        send.send_data(body, true)?;
    }
    let resp = resp.await?;
    let status = resp.status();
    let mut body = resp.into_body();
    let mut all = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        let _ = body.flow_control().release_capacity(chunk.len());
        all.extend_from_slice(&chunk);
    }
    let trailers = body.trailers().await?;
    Ok((status, all.into(), trailers))
}

both!(prior_knowledge_h2c_serves_requests, |adapter| {
    let started = Arc::default();
    let s = Server::start(adapter, h2_opts(&started));
    client_rt().block_on(async {
        let mut c = connect(s.port()).await;
        let (status, body, _) = fetch(&mut c, get("/"), None).await.expect("GET /");
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"ok"[..]));
        let (_, body, _) = fetch(&mut c, get("/version"), None).await.expect("version");
        assert_eq!(&body[..], b"HTTP/2.0 true");
        let upload = Bytes::from(vec![7u8; 200_000]);
        let post = HttpRequest::post("http://localhost/echo")
            .body(())
            .expect("post");
        let (status, body, _) = fetch(&mut c, post, Some(upload.clone()))
            .await
            .expect("POST /echo");
        assert_eq!(status, StatusCode::OK);
        assert!(body == upload, "echo of a body larger than the windows");
        let (status, _, _) = fetch(&mut c, get("/nope"), None).await.expect("404");
        assert_eq!(status, StatusCode::NOT_FOUND);
    });
    assert_eq!(s.info().requests_served, 4);
});

both!(many_streams_share_one_connection, |adapter| {
    let started = Arc::default();
    let s = Server::start(adapter, h2_opts(&started));
    client_rt().block_on(async {
        let c = connect(s.port()).await;
        let all: Vec<_> = (0..50)
            .map(|i| {
                let mut c = c.clone();
                tokio::spawn(async move {
                    let path = if i % 5 == 0 { "/big" } else { "/" };
                    fetch(&mut c, get(path), None).await.expect("stream")
                })
            })
            .collect();
        for task in all {
            let (status, body, _) = task.await.expect("task");
            assert_eq!(status, StatusCode::OK);
            assert!(
                body.len() == 2 || body.len() == 64 * 16 * 1024,
                "{}",
                body.len()
            );
        }
    });
    assert_eq!(s.info().requests_served, 50);
});

both!(
    streamed_bodies_carry_trailers_and_failures_reset,
    |adapter| {
        let started = Arc::default();
        let s = Server::start(adapter, h2_opts(&started));
        client_rt().block_on(async {
            let mut c = connect(s.port()).await;
            let (status, body, trailers) =
                fetch(&mut c, get("/stream"), None).await.expect("stream");
            assert_eq!((status, &body[..]), (StatusCode::OK, &b"abc"[..]));
            let trailers = trailers.expect("trailers");
            assert_eq!(trailers.get("x-sum").map(|v| v.as_bytes()), Some(&b"3"[..]));
            let err = fetch(&mut c, get("/fails"), None)
                .await
                .expect_err("a failed stream is reset, not ended");
            assert_eq!(err.reason(), Some(h2::Reason::INTERNAL_ERROR), "{err}");
            // The connection and its other streams live on.
            let (status, _, _) = fetch(&mut c, get("/"), None)
                .await
                .expect("after the reset");
            assert_eq!(status, StatusCode::OK);
        });
    }
);

both!(
    heads_over_the_clients_max_header_list_size_are_not_sent,
    |adapter| {
        let started = Arc::default();
        let s = Server::start(adapter, h2_opts(&started));
        client_rt().block_on(async {
            let tcp = TcpStream::connect((Ipv4Addr::LOCALHOST, s.port()))
                .await
                .expect("connect");
            let (mut c, conn) = h2::client::Builder::new()
                .max_header_list_size(1024)
                .handshake::<_, Bytes>(tcp)
                .await
                .expect("h2 handshake");
            tokio::spawn(async move {
                let _ = conn.await;
            });
            // The h2 crate would refuse a head over its limit: a bare 500 comes instead.
            let (status, body, _) = fetch(&mut c, get("/fat"), None).await.expect("/fat");
            assert_eq!(
                (status, &body[..]),
                (StatusCode::INTERNAL_SERVER_ERROR, &b""[..])
            );
            // Trailers that cannot be sent leave the body unfinished: a reset.
            let err = fetch(&mut c, get("/fat-trailers"), None)
                .await
                .expect_err("the stream is reset");
            assert_eq!(err.reason(), Some(h2::Reason::INTERNAL_ERROR), "{err}");
            let (status, body, _) = fetch(&mut c, get("/"), None).await.expect("GET /");
            assert_eq!((status, &body[..]), (StatusCode::OK, &b"ok"[..]));
        });
    }
);

both!(
    max_concurrent_requests_refuses_streams_over_the_cap,
    |adapter| {
        let started = Arc::new(AtomicUsize::new(0));
        let mut o = h2_opts(&started);
        o.max_concurrent_requests = Some(1);
        let s = Server::start(adapter, o);
        client_rt().block_on(async {
            let c = connect(s.port()).await;
            let mut slow = c.clone();
            let first = tokio::spawn(async move { fetch(&mut slow, get("/slow"), None).await });
            wait_started(&started).await;
            let mut other = c.clone();
            let err = fetch(&mut other, get("/"), None)
                .await
                .expect_err("over the cap");
            assert_eq!(err.reason(), Some(h2::Reason::REFUSED_STREAM), "{err}");
            let (status, body, _) = first.await.expect("task").expect("the first is served");
            assert_eq!((status, &body[..]), (StatusCode::OK, &b"slow done"[..]));
        });
        assert_eq!(s.info().throttled, 1);
    }
);

both!(tls_with_alpn_h2_is_served, |adapter| {
    let kit = kinds::tls_kit();
    let started = Arc::default();
    let mut o = opts(routes(started));
    o.protocols = vec![
        Protocol::Http2(Http2Options::default()),
        Protocol::Http1(Http1Options::default()),
    ];
    o.tls = Some(kit.server.clone());
    let s = Server::start(adapter, o);
    let mut client_config = (*kit.client).clone();
    client_config.alpn_protocols = vec![b"h2".to_vec()];
    client_rt().block_on(async {
        let tcp = TcpStream::connect((Ipv4Addr::LOCALHOST, s.port()))
            .await
            .expect("connect");
        let tls = tokio_rustls::TlsConnector::from(Arc::new(client_config))
            .connect("localhost".try_into().expect("name"), tcp)
            .await
            .expect("TLS handshake");
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let (mut c, conn) = h2::client::handshake(tls).await.expect("h2 handshake");
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let (status, body, _) = fetch(&mut c, get("/version"), None).await.expect("GET");
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"HTTP/2.0 true"[..]));
    });
});

both!(
    plain_tcp_serving_both_tells_them_apart_by_the_preface,
    |adapter| {
        let started = Arc::default();
        let mut o = opts(routes(started));
        o.protocols = vec![
            Protocol::Http1(Http1Options::default()),
            Protocol::Http2(Http2Options::default()),
        ];
        let s = Server::start(adapter, o);
        assert_eq!(hyper_get(s.port(), "/version").text(), "HTTP/1.1 true");
        client_rt().block_on(async {
            let mut c = connect(s.port()).await;
            let (_, body, _) = fetch(&mut c, get("/version"), None).await.expect("h2c");
            assert_eq!(&body[..], b"HTTP/2.0 true");
        });
    }
);

both!(drain_lets_streams_in_flight_finish_then_closes, |adapter| {
    let started = Arc::new(AtomicUsize::new(0));
    let mut s = Server::start(adapter, h2_opts(&started));
    let port = s.port();
    let drain = client_rt().block_on(async {
        let c = connect(port).await;
        let mut slow = c.clone();
        let first = tokio::spawn(async move { fetch(&mut slow, get("/slow"), None).await });
        wait_started(&started).await;
        let drain = s.drain_in_background(Duration::from_secs(20));
        let (status, body, _) = first.await.expect("task").expect("in flight finishes");
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"slow done"[..]));
        let mut late = c.clone();
        assert!(
            fetch(&mut late, get("/"), None).await.is_err(),
            "a stream after the GOAWAY is not served"
        );
        drain
    });
    let (outcome, _) = drain.join().expect("drain");
    assert_eq!(outcome, DrainOutcome::Drained);
});

/// Waits (bounded) until the `/slow` handler has started.
async fn wait_started(started: &AtomicUsize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while started.load(Ordering::SeqCst) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "/slow never started"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[test]
fn curl_speaks_prior_knowledge_h2c() {
    let started = Arc::default();
    let s = Server::start(Adapter::Tokio, h2_opts(&started));
    let out = std::process::Command::new("curl")
        .args(["-sS", "--http2-prior-knowledge", "-w", " %{http_version}"])
        .arg(s.url("/"))
        .output()
        .expect("curl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok 2");
}

/// Routes for the handler kinds not covered above.
fn kinds_routes(file: std::path::PathBuf) -> Routes {
    Routes::list([
        Route::get("/panic", |_req: Request| async {
            if true {
                panic!("an h2 handler panics on purpose");
            }
            "unreachable"
        }),
        Route::get("/", |_req: Request| async { "ok" }),
        Route::get("/file", move |_req: Request| {
            let file = file.clone();
            async move { Response::new(Body::open(file).expect("open")) }
        }),
        Route::get("/loop", |req: Request| async move {
            Response::new(roadrunner_core::loop_body::<(), _, _>(
                &req,
                |mut lp| async move {
                    for part in ["one ", "two ", "three"] {
                        lp.send(part).await;
                    }
                },
            ))
        }),
        // Reads the body itself and answers with its length (manual buffering).
        Route::post("/count", |mut req: Request| async move {
            let mut total = 0;
            while let Some(frame) = req.body_mut().frame().await {
                if let Ok(Frame::Data(d)) = frame {
                    total += d.len();
                }
            }
            total.to_string()
        }),
        // Answers at once with a stream that echoes the body as it arrives.
        Route::post("/duplex", |req: Request| async move {
            let body = smol::stream::unfold(req.into_body(), |mut body| async move {
                let frame = body.frame().await?;
                Some((frame, body))
            });
            Response::new(Body::from_try_stream(body))
        }),
    ])
}

both!(every_handler_kind_works_on_h2, |adapter| {
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let file = kinds::TempFile::with("h2-file", &data);
    let mut o = opts(kinds_routes(file.path().to_path_buf()));
    o.protocols = vec![Protocol::Http2(Http2Options::default())];
    o.body_buffering = roadrunner_core::BodyBuffering::Manual;
    let s = Server::start(adapter, o);
    client_rt().block_on(async {
        let mut c = connect(s.port()).await;
        // A panic answers 500 on its own stream; the connection lives on.
        let (status, _, _) = fetch(&mut c, get("/panic"), None).await.expect("panic");
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let (status, _, _) = fetch(&mut c, get("/"), None).await.expect("after a panic");
        assert_eq!(status, StatusCode::OK);
        // A file, read in chunks (no sendfile on h2).
        let (status, body, _) = fetch(&mut c, get("/file"), None).await.expect("file");
        assert_eq!(status, StatusCode::OK);
        assert!(body == data, "file body differs");
        // A loop handler's parts.
        let (_, body, _) = fetch(&mut c, get("/loop"), None).await.expect("loop");
        assert_eq!(&body[..], b"one two three");
        // Manual body reading: a body larger than every window arrives whole.
        let upload = Bytes::from(vec![3u8; 500_000]);
        let post = HttpRequest::post("http://localhost/count")
            .body(())
            .expect("post");
        let (_, body, _) = fetch(&mut c, post, Some(upload)).await.expect("count");
        assert_eq!(&body[..], b"500000");
    });
});

both!(
    a_duplex_stream_echoes_while_the_request_still_arrives,
    |adapter| {
        // Each piece is sent only once the echo of the previous one is back: the
        // response must flow while the request body still does.
        const PIECE: usize = 4096;
        let file = kinds::TempFile::with("h2-unused", b"");
        let mut o = opts(kinds_routes(file.path().to_path_buf()));
        o.protocols = vec![Protocol::Http2(Http2Options::default())];
        o.body_buffering = roadrunner_core::BodyBuffering::Manual;
        let s = Server::start(adapter, o);
        client_rt().block_on(async {
            let c = connect(s.port()).await;
            let mut c = c.ready().await.expect("ready");
            let post = HttpRequest::post("http://localhost/duplex")
                .body(())
                .expect("post");
            let (resp, mut send) = c.send_request(post, false).expect("send");
            send.send_data(Bytes::from(vec![0u8; PIECE]), false)
                .expect("first piece");
            let resp = resp.await.expect("response head");
            assert_eq!(resp.status(), StatusCode::OK);
            let mut body = resp.into_body();
            let mut echoed = 0;
            for i in 0..64u8 {
                if i > 0 {
                    send.send_data(Bytes::from(vec![i; PIECE]), false)
                        .expect("piece");
                }
                while echoed < (i as usize + 1) * PIECE {
                    let chunk = body.data().await.expect("more echo").expect("echo");
                    let _ = body.flow_control().release_capacity(chunk.len());
                    echoed += chunk.len();
                }
            }
            send.send_data(Bytes::new(), true).expect("end");
            // The end may come as an empty DATA frame with END_STREAM.
            while let Some(rest) = body.data().await {
                assert!(rest.expect("end").is_empty(), "more echo than was sent");
            }
        });
    }
);

both!(
    upgrade_h2c_answers_the_request_on_stream_1_then_serves_h2,
    |adapter| {
        let started = Arc::default();
        let mut o = opts(routes(started));
        o.protocols = vec![
            Protocol::Http1(Http1Options::default()),
            Protocol::Http2(Http2Options::default()),
        ];
        let s = Server::start(adapter, o);
        // curl asks for the upgrade on its first request, then reuses the connection for
        // the second URL over HTTP/2.
        let out = std::process::Command::new("curl")
            .args(["-sS", "--http2", "-w", " %{http_version}\n"])
            .arg(s.url("/version"))
            .arg(s.url("/"))
            .output()
            .expect("curl runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "HTTP/1.1 true 2\nok 2\n"
        );
        assert_eq!(s.info().requests_served, 2);
    }
);

both!(rapid_reset_is_stopped_with_enhance_your_calm, |adapter| {
    // CVE-2023-44487: open a stream, reset it at once, again and again. Each reset
    // cuts a handler short; the server stops the connection before the attacker gets
    // far, and never runs more handlers than that.
    let started = Arc::new(AtomicUsize::new(0));
    let s = Server::start(adapter, h2_opts(&started));
    let seen = started.clone();
    let reason = client_rt().block_on(async {
        let mut c = connect(s.port()).await;
        for i in 0..10_000 {
            let ready = match c.clone().ready().await {
                Ok(ready) => ready,
                Err(e) => return e.reason(),
            };
            c = ready;
            let resp = match c.send_request(get("/slow"), true) {
                Ok((resp, _)) => resp,
                Err(e) => return e.reason(),
            };
            // Reset only once the server is working on the stream (a stream cancelled
            // before its HEADERS left the client never reaches the server at all).
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            while seen.load(Ordering::SeqCst) <= i {
                if tokio::time::Instant::now() > deadline {
                    // The server stopped taking streams: the next call says why.
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            // Dropping the response future resets the stream (CANCEL).
            drop(resp);
        }
        None
    });
    assert_eq!(reason, Some(h2::Reason::ENHANCE_YOUR_CALM));
    let ran = started.load(Ordering::SeqCst);
    assert!(ran <= 400, "{ran} handlers started for a reset flood");
});

/// An extended CONNECT (RFC 8441) to `path` with `:protocol websocket`.
fn connect_request(path: &str) -> HttpRequest<()> {
    let mut req = HttpRequest::builder()
        .method(Method::CONNECT)
        .uri(format!("http://localhost{path}"))
        .body(())
        .expect("request");
    req.extensions_mut()
        .insert(h2::ext::Protocol::from_static("websocket"));
    req
}

both!(
    extended_connect_carries_a_session_both_ways_with_flow_control,
    |adapter| {
        let s = Server::start(adapter, h2_opts(&Arc::default()));
        client_rt().block_on(async {
            let mut c = connect(s.port()).await;
            // A first exchange, so that the server's SETTINGS have been read.
            fetch(&mut c, get("/"), None).await.expect("a GET");
            let mut c = c.ready().await.expect("ready");
            assert!(
                c.is_extended_connect_protocol_enabled(),
                "SETTINGS_ENABLE_CONNECT_PROTOCOL"
            );
            let (resp, mut send) = c
                .send_request(connect_request("/tunnel"), false)
                .expect("CONNECT");
            let resp = resp.await.expect("answer");
            assert_eq!(resp.status(), StatusCode::OK);
            let mut body = resp.into_body();
            // 1 MiB, more than the stream window: the session's reads give the window
            // back, its writes wait for ours.
            let sent: Vec<u8> = (0..1 << 20).map(|i| b'a' + (i % 26) as u8).collect();
            send.send_data(Bytes::from(sent.clone()), true)
                .expect("data");
            let mut echoed = Vec::new();
            while let Some(chunk) = body.data().await {
                let chunk = chunk.expect("echo");
                let _ = body.flow_control().release_capacity(chunk.len());
                echoed.extend_from_slice(&chunk);
            }
            assert_eq!(echoed, sent.to_ascii_uppercase());
        });
        assert_eq!(s.info().requests_served, 2);
    }
);

both!(
    a_tunnel_ending_with_its_send_queue_full_ends_cleanly,
    |adapter| {
        let s = Server::start(adapter, h2_opts(&Arc::default()));
        client_rt().block_on(async {
            let c = connect(s.port()).await;
            let mut c = c.ready().await.expect("ready");
            let (resp, _send) = c
                .send_request(connect_request("/burst"), false)
                .expect("CONNECT");
            let resp = resp.await.expect("answer");
            assert_eq!(resp.status(), StatusCode::OK);
            let mut body = resp.into_body();
            let mut got = 0;
            while let Some(chunk) = body.data().await {
                // A reset instead of the end of the stream fails here.
                let chunk = chunk.expect("the session's bytes, then the end");
                let _ = body.flow_control().release_capacity(chunk.len());
                got += chunk.len();
            }
            assert_eq!(got, 64 * 1024);
        });
    }
);

both!(
    an_extended_connect_answered_without_a_session_is_an_ordinary_response,
    |adapter| {
        let s = Server::start(adapter, h2_opts(&Arc::default()));
        client_rt().block_on(async {
            let c = connect(s.port()).await;
            let mut c = c.ready().await.expect("ready");
            let (resp, mut send) = c
                .send_request(connect_request("/nowhere"), false)
                .expect("CONNECT");
            send.send_data(Bytes::from_static(b"ignored"), false)
                .expect("data");
            let resp = resp.await.expect("answer");
            assert_eq!(resp.status(), StatusCode::NOT_FOUND);
            // The connection lives on.
            let mut other = c.clone();
            let (status, body, _) = fetch(&mut other, get("/"), None).await.expect("next");
            assert_eq!((status, &body[..]), (StatusCode::OK, &b"ok"[..]));
        });
    }
);
