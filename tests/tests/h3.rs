//! HTTP/3 end to end against independent clients: the `h3` crate over `quinn`, and
//! Python's aioquic. Every handler kind, `max_concurrent_requests`, `max_clients`
//! counting QUIC connections, drain, stop, alt-svc, and a lossy, reordering path.

mod h3_client;
mod kinds;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes};
use h3_client::*;
use roadrunner_core::http::{Method, StatusCode};
use roadrunner_core::websocket::{websocket, Message, WebSocket, WsConfig, WsEvent};
use roadrunner_core::{
    Body, DrainOutcome, Frame, Http3Options, Protocol, Request, Response, Route, Routes,
};
use roadrunner_tests::{both, echo, with_trailers, Server};

/// Routes for every handler kind.
fn kinds_routes(file: std::path::PathBuf, gate: kinds::GateRx) -> Routes {
    Routes::list([
        Route::get("/", |_req: Request| async { "ok" }),
        Route::get("/version", |req: Request| async move {
            format!("{:?}", req.version())
        }),
        Route::get("/panic", |_req: Request| async {
            if true {
                panic!("an h3 handler panics on purpose");
            }
            "unreachable"
        }),
        Route::get("/file", move |_req: Request| {
            let file = file.clone();
            async move { Response::new(Body::open(file).expect("open")) }
        }),
        Route::get("/trailers", with_trailers),
        Route::get("/fat", roadrunner_tests::fat_head),
        Route::get("/fat-trailers", roadrunner_tests::fat_trailers),
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
        Route::get("/abort", move |_req: Request| {
            let gate = gate.clone();
            async move { kinds::held_stream(gate, true) }
        }),
        Route::post("/echo", echo),
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
        Route::get("/big", |_req: Request| async {
            let piece = Bytes::from(vec![b'x'; 16 * 1024]);
            let frames = (0..20).map(move |_| Frame::Data(piece.clone()));
            Response::new(Body::from_stream(smol::stream::iter(frames)))
        }),
    ])
}

both!(every_handler_kind_works_on_h3, |adapter| {
    let kit = kinds::tls_kit();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let file = kinds::TempFile::with("h3-file", &data);
    let (gate, gate_rx) = kinds::gate();
    let mut o = h3_opts(kinds_routes(file.path().to_path_buf(), gate_rx), &kit);
    o.body_buffering = roadrunner_core::BodyBuffering::Manual;
    let s = Server::start(adapter, o);
    client_rt().block_on(async {
        let mut c = connect(&kit, s.port()).await;
        let got = fetch(&mut c.send, get("/version"), None).await.expect("/");
        assert_eq!(got.status, StatusCode::OK);
        assert_eq!(got.body, b"HTTP/3.0");
        assert!(
            got.headers.get("alt-svc").is_none(),
            "HTTP/3 does not advertise itself"
        );
        // A panic answers 500 on its own stream; the connection lives on.
        let got = fetch(&mut c.send, get("/panic"), None)
            .await
            .expect("panic");
        assert_eq!(got.status, StatusCode::INTERNAL_SERVER_ERROR);
        let got = fetch(&mut c.send, get("/"), None)
            .await
            .expect("after a panic");
        assert_eq!(got.body, b"ok");
        // A file, read in chunks.
        let got = fetch(&mut c.send, get("/file"), None).await.expect("file");
        assert!(got.body == data, "file body differs");
        // A streamed body with trailers.
        let got = fetch(&mut c.send, get("/trailers"), None)
            .await
            .expect("trailers");
        assert_eq!(got.body, b"abc");
        let trailers = got.trailers.expect("trailers came");
        assert_eq!(trailers.get("x-sum").map(|v| v.as_bytes()), Some(&b"3"[..]));
        // A loop handler's parts.
        let got = fetch(&mut c.send, get("/loop"), None).await.expect("loop");
        assert_eq!(got.body, b"one two three");
        // Manual body reading: a body larger than every window arrives whole.
        let upload = Bytes::from(vec![3u8; 500_000]);
        let got = fetch(&mut c.send, post("/count"), Some(upload))
            .await
            .expect("count");
        assert_eq!(got.body, b"500000");
        // A response that fails half-way is reset, not ended as if whole.
        gate.open();
        let e = fetch(&mut c.send, get("/abort"), None)
            .await
            .err()
            .expect("an aborted response is not complete");
        assert_eq!(reset_code(&e), Some(0x102), "H3_INTERNAL_ERROR: {e:?}");
        let got = fetch(
            &mut c.send,
            post("/echo"),
            Some(Bytes::from_static(b"still here")),
        )
        .await
        .expect("the connection lives on");
        assert_eq!(got.body, b"still here");
    });
    // Nine requests, each counted once.
    assert_eq!(s.info().requests_served, 9);
});

both!(
    a_duplex_stream_echoes_while_the_request_still_arrives,
    |adapter| {
        // Each piece is sent only once the echo of the previous one is back: the
        // response must flow while the request body still does.
        const PIECE: usize = 4096;
        let kit = kinds::tls_kit();
        let file = kinds::TempFile::with("h3-unused", b"");
        let (_gate, gate_rx) = kinds::gate();
        let mut o = h3_opts(kinds_routes(file.path().to_path_buf(), gate_rx), &kit);
        o.body_buffering = roadrunner_core::BodyBuffering::Manual;
        let s = Server::start(adapter, o);
        client_rt().block_on(async {
            let mut c = connect(&kit, s.port()).await;
            let mut stream = c.send.send_request(post("/duplex")).await.expect("send");
            stream
                .send_data(Bytes::from(vec![0u8; PIECE]))
                .await
                .expect("first piece");
            let resp = stream.recv_response().await.expect("response head");
            assert_eq!(resp.status(), StatusCode::OK);
            let mut echoed = 0;
            for i in 0..32u8 {
                if i > 0 {
                    stream
                        .send_data(Bytes::from(vec![i; PIECE]))
                        .await
                        .expect("piece");
                }
                while echoed < (i as usize + 1) * PIECE {
                    let chunk = stream.recv_data().await.expect("echo").expect("more echo");
                    echoed += chunk.remaining();
                }
            }
            stream.finish().await.expect("end");
            assert!(
                stream.recv_data().await.expect("end").is_none(),
                "more echo than sent"
            );
        });
    }
);

both!(aioquic_gets_answers_on_one_connection, |adapter| {
    let kit = kinds::tls_kit();
    let (_gate, gate_rx) = kinds::gate();
    let file = kinds::TempFile::with("h3-aioquic", b"");
    let s = Server::start(
        adapter,
        h3_opts(kinds_routes(file.path().to_path_buf(), gate_rx), &kit),
    );
    let requests = r#"[
        {"path": "/"},
        {"path": "/big"},
        {"path": "/trailers"},
        {"method": "POST", "path": "/echo", "body": "hello over aioquic",
         "headers": [["content-type", "text/plain"]]}
    ]"#;
    let out = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/py/h3_client.py"))
        .arg(s.port().to_string())
        .arg(requests)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "aioquic client failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The answers in request order, each whole.
    let fields: Vec<&str> = stdout.split("\"status\": ").skip(1).collect();
    assert_eq!(fields.len(), 4, "{stdout}");
    assert!(fields.iter().all(|f| f.starts_with("200")), "{stdout}");
    assert!(fields[0].contains("\"body\": \"ok\""), "{stdout}");
    assert!(fields[1].contains("\"body_len\": 327680"), "{stdout}");
    assert!(fields[2].contains("\"body\": \"abc\""), "{stdout}");
    assert!(
        fields[3].contains("\"body\": \"hello over aioquic\""),
        "{stdout}"
    );
    assert!(fields[3].contains("text/plain"), "{stdout}");
    assert_eq!(s.info().requests_served, 4);
});

both!(h1_responses_advertise_h3_with_alt_svc, |adapter| {
    let kit = kinds::tls_kit();
    let routes = Routes::handler(|_req: Request| async { "ok" });
    let s = Server::start(adapter, h3_opts(routes, &kit));
    let mut wire = kit.connect(s.port());
    wire.send("GET / HTTP/1.1\r\nhost: localhost\r\n\r\n");
    let resp = wire.response();
    assert_eq!(
        resp.header("alt-svc"),
        Some(format!("h3=\":{}\"; ma=86400", s.port()).as_str())
    );
    // And not when turned off.
    let mut o = h3_opts(Routes::handler(|_req: Request| async { "ok" }), &kit);
    o.protocols[1] = Protocol::Http3(Http3Options {
        alt_svc: false,
        ..Http3Options::default()
    });
    let s = Server::start(adapter, o);
    let mut wire = kit.connect(s.port());
    wire.send("GET / HTTP/1.1\r\nhost: localhost\r\n\r\n");
    assert_eq!(wire.response().header("alt-svc"), None);
});

/// A handler that holds its answer until the gate opens, counting starts.
fn held_routes(gate: kinds::GateRx, started: Arc<AtomicUsize>) -> Routes {
    Routes::list([
        Route::get("/held", move |_req: Request| {
            let gate = gate.clone();
            let started = started.clone();
            async move {
                started.fetch_add(1, Ordering::SeqCst);
                gate.pass().await;
                "released"
            }
        }),
        Route::get("/", |_req: Request| async { "ok" }),
    ])
}

async fn wait_for(count: &AtomicUsize, n: usize) {
    while count.load(Ordering::SeqCst) < n {
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

both!(
    over_max_concurrent_requests_streams_are_rejected,
    |adapter| {
        let kit = kinds::tls_kit();
        let (gate, gate_rx) = kinds::gate();
        let started = Arc::new(AtomicUsize::new(0));
        let mut o = h3_opts(held_routes(gate_rx, started.clone()), &kit);
        o.max_concurrent_requests = Some(1);
        let s = Server::start(adapter, o);
        client_rt().block_on(async {
            let c = connect(&kit, s.port()).await;
            let mut first = c.send.clone();
            let held = tokio::spawn(async move { fetch(&mut first, get("/held"), None).await });
            wait_for(&started, 1).await;
            let mut second = c.send.clone();
            let e = fetch(&mut second, get("/"), None)
                .await
                .err()
                .expect("refused");
            assert_eq!(reset_code(&e), Some(0x10b), "H3_REQUEST_REJECTED: {e:?}");
            gate.open();
            let got = held.await.expect("task").expect("the first is answered");
            assert_eq!(got.body, b"released");
            let mut third = c.send.clone();
            let got = fetch(&mut third, get("/"), None)
                .await
                .expect("a slot again");
            assert_eq!(got.body, b"ok");
        });
        let info = s.info();
        assert_eq!(info.throttled, 1);
        assert_eq!(info.requests_served, 3);
    }
);

both!(
    heads_over_the_clients_max_field_section_size_are_not_sent,
    |adapter| {
        let kit = kinds::tls_kit();
        let (_gate, gate_rx) = kinds::gate();
        let file = kinds::TempFile::with("h3-fat", b"unused");
        let s = Server::start(
            adapter,
            h3_opts(kinds_routes(file.path().to_path_buf(), gate_rx), &kit),
        );
        client_rt().block_on(async {
            let mut h3 = h3::client::builder();
            h3.max_field_section_size(1024);
            let to = (Ipv4Addr::LOCALHOST, s.port()).into();
            let mut c = try_connect_with(&kit, to, &mut h3)
                .await
                .expect("QUIC handshake");
            // The h3 crate would refuse a head over its limit: a bare 500 comes instead.
            let got = fetch(&mut c.send, get("/fat"), None).await.expect("/fat");
            assert_eq!(got.status, StatusCode::INTERNAL_SERVER_ERROR);
            assert!(got.body.is_empty() && got.headers.get("x-fat").is_none());
            // Trailers that cannot be sent leave the body unfinished: a reset.
            let e = fetch(&mut c.send, get("/fat-trailers"), None)
                .await
                .err()
                .expect("the stream is reset");
            assert_eq!(reset_code(&e), Some(0x102), "H3_INTERNAL_ERROR: {e:?}");
            let got = fetch(&mut c.send, get("/"), None).await.expect("GET /");
            assert_eq!(got.body, b"ok");
        });
    }
);

both!(max_clients_counts_quic_connections, |adapter| {
    let kit = kinds::tls_kit();
    let mut o = h3_opts(Routes::handler(|_req: Request| async { "ok" }), &kit);
    o.max_clients = 1;
    let s = Server::start(adapter, o);
    client_rt().block_on(async {
        let mut c = connect(&kit, s.port()).await;
        let got = fetch(&mut c.send, get("/"), None).await.expect("first");
        assert_eq!(got.body, b"ok");
        assert_eq!(s.info().active_clients, 1);
        // A second QUIC connection is refused at its handshake...
        let e = try_connect(&kit, (Ipv4Addr::LOCALHOST, s.port()).into())
            .await
            .err()
            .expect("over max_clients");
        match e {
            quinn::ConnectionError::ConnectionClosed(close) => {
                assert_eq!(
                    close.error_code,
                    quinn::TransportErrorCode::CONNECTION_REFUSED
                )
            }
            other => panic!("refused with CONNECTION_REFUSED, not {other:?}"),
        }
        // ...and so is a TCP one: one count for both.
        let mut wire = kit.connect(s.port());
        use std::io::Write;
        let _ = wire.io.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n");
        s.wait_info("the TCP connection rejected too", |i| i.rejected == 2);
        // Once the QUIC connection is gone, its slot is free.
        c.quic.close(0u32.into(), b"done");
        // The close goes out as this runtime runs.
        c.endpoint.wait_idle().await;
        s.wait_info("the QUIC slot back", |i| i.active_clients == 0);
        let mut c = connect(&kit, s.port()).await;
        let got = fetch(&mut c.send, get("/"), None).await.expect("again");
        assert_eq!(got.body, b"ok");
    });
});

both!(drain_sends_goaway_and_lets_streams_finish, |adapter| {
    let kit = kinds::tls_kit();
    let (gate, gate_rx) = kinds::gate();
    let started = Arc::new(AtomicUsize::new(0));
    let mut s = Server::start(
        adapter,
        h3_opts(held_routes(gate_rx, started.clone()), &kit),
    );
    let listener = s.take_listener();
    let handle = listener.handle();
    let answered = client_rt().block_on(async {
        let c = connect(&kit, s.port()).await;
        let mut first = c.send.clone();
        let held = tokio::spawn(async move { fetch(&mut first, get("/held"), None).await });
        wait_for(&started, 1).await;
        let drain =
            std::thread::spawn(move || smol::block_on(listener.drain(Duration::from_secs(30))));
        // GOAWAY: the client may open no more requests on this connection.
        let mut next = c.send.clone();
        let mut answered = 0;
        loop {
            match fetch(&mut next, get("/"), None).await {
                // Sent before the GOAWAY arrived: answered.
                Ok(got) => {
                    assert_eq!(got.body, b"ok");
                    answered += 1;
                }
                Err(_) => break,
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        gate.open();
        let got = held
            .await
            .expect("task")
            .expect("the stream in flight finishes");
        assert_eq!(got.body, b"released");
        let why = c.closed.await.expect("driver");
        assert!(why.is_h3_no_error(), "closed with H3_NO_ERROR: {why:?}");
        assert_eq!(drain.join().expect("drain"), DrainOutcome::Drained);
        answered
    });
    assert_eq!(handle.info().active_clients, 0);
    // The held request and those answered before the GOAWAY; none refused by it.
    assert_eq!(handle.info().requests_served, 1 + answered);
});

both!(
    stop_closes_quic_connections_and_frees_the_udp_port,
    |adapter| {
        let kit = kinds::tls_kit();
        let mut s = Server::start(
            adapter,
            h3_opts(Routes::handler(|_req: Request| async { "ok" }), &kit),
        );
        let port = s.port();
        client_rt().block_on(async {
            let mut c = connect(&kit, port).await;
            fetch(&mut c.send, get("/"), None).await.expect("served");
            s.stop();
            let why = c.closed.await.expect("driver");
            assert!(why.is_h3_no_error(), "closed with H3_NO_ERROR: {why:?}");
        });
        UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).expect("the UDP port is free after stop");
    }
);

/// Relays datagrams between one client and `server`, losing every `drop_every`-th in
/// each direction and sending every other one late (after the next).
fn lossy_relay(server: SocketAddr, drop_every: usize) -> SocketAddr {
    let relay = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("relay socket");
    let addr = relay.local_addr().expect("addr");
    std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        let mut client = None;
        let mut held: [Option<Vec<u8>>; 2] = [None, None];
        let mut counts = [0usize; 2];
        loop {
            let Ok((n, from)) = relay.recv_from(&mut buf) else {
                return;
            };
            let (dir, to) = if from == server {
                let Some(client) = client else { continue };
                (1, client)
            } else {
                client = Some(from);
                (0, server)
            };
            counts[dir] += 1;
            if counts[dir] % drop_every == 0 {
                continue;
            }
            // Every other datagram waits for the next one: a reordering.
            match held[dir].take() {
                None if counts[dir] % 2 == 1 => held[dir] = Some(buf[..n].to_vec()),
                None => {
                    let _ = relay.send_to(&buf[..n], to);
                }
                Some(late) => {
                    let _ = relay.send_to(&buf[..n], to);
                    let _ = relay.send_to(&late, to);
                }
            }
        }
    });
    addr
}

both!(requests_complete_over_a_lossy_reordering_path, |adapter| {
    let kit = kinds::tls_kit();
    let (_gate, gate_rx) = kinds::gate();
    let file = kinds::TempFile::with("h3-lossy", b"");
    let s = Server::start(
        adapter,
        h3_opts(kinds_routes(file.path().to_path_buf(), gate_rx), &kit),
    );
    let relay = lossy_relay(s.addr(), 7);
    client_rt().block_on(async {
        let mut c = try_connect(&kit, relay)
            .await
            .expect("handshake through losses");
        for _ in 0..5 {
            let got = fetch(&mut c.send, get("/big"), None).await.expect("big");
            assert_eq!(got.body.len(), 20 * 16 * 1024);
            let upload = Bytes::from(vec![7u8; 100_000]);
            let got = fetch(&mut c.send, post("/echo"), Some(upload.clone()))
                .await
                .expect("echo");
            assert!(got.body == upload, "echo differs");
        }
        let stats = c.quic.stats();
        assert!(
            stats.path.lost_packets > 0,
            "the path lost nothing: {stats:?}"
        );
    });
});

/// Echoes text and binary messages: the same handler code as on h1 and h2.
async fn ws_echo(_req: Request, mut ws: WebSocket) {
    while let Some(event) = ws.next().await {
        let reply = match event {
            WsEvent::Text(text) => Message::Text(text),
            WsEvent::Binary(data) => Message::Binary(data),
            _ => continue,
        };
        if ws.send(reply).await.is_err() {
            break;
        }
    }
}

both!(websocket_over_h3_by_extended_connect, |adapter| {
    let kit = kinds::tls_kit();
    let routes = Routes::list([Route::new("/ws", websocket(WsConfig::default(), ws_echo))
        .methods([Method::GET, Method::CONNECT])]);
    let s = Server::start(adapter, h3_opts(routes, &kit));
    let out = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/py/h3_ws_client.py"))
        .args([&s.port().to_string(), "/ws", "hello", "über h3"])
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "aioquic WebSocket client failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.trim(),
        r#"{"status": 200, "settings_connect": true, "echoes": ["hello", "\u00fcber h3"], "close_code": 1000}"#
    );
});

both!(
    a_client_that_moves_is_served_by_every_socket_of_the_pool,
    |adapter| {
        // With eight SO_REUSEPORT sockets the kernel picks one per client address; each
        // move to a new address most likely lands on another socket, which must find
        // the connection in the shared registry (a socket of its own would answer with
        // a stateless reset, and the request would fail).
        let kit = kinds::tls_kit();
        let mut o = h3_opts(Routes::handler(|_req: Request| async { "ok" }), &kit);
        o.protocols[1] = Protocol::Http3(Http3Options::default());
        let s = Server::start(adapter, o);
        client_rt().block_on(async {
            let mut c = connect(&kit, s.port()).await;
            // Bound all at once, so eight distinct addresses: a socket bound after the
            // last one was dropped may get its port again.
            let sockets: Vec<UdpSocket> = (0..8)
                .map(|_| UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("new address"))
                .collect();
            for socket in sockets {
                c.endpoint.rebind(socket).expect("rebind");
                let got = fetch(&mut c.send, get("/"), None)
                    .await
                    .expect("served after a move");
                assert_eq!(got.body, b"ok");
            }
        });
        assert_eq!(s.info().active_clients, 1, "still the one connection");
    }
);

both!(ngtcp2_client_downloads, |adapter| {
    // ngtcp2's example client on GnuTLS (Debian's `ngtcp2-client`): another QUIC
    // stack and TLS library altogether.
    let kit = kinds::tls_kit();
    let (_gate, gate_rx) = kinds::gate();
    let file = kinds::TempFile::with("h3-ngtcp2", b"");
    let s = Server::start(
        adapter,
        h3_opts(kinds_routes(file.path().to_path_buf(), gate_rx), &kit),
    );
    let dir = std::env::temp_dir().join(roadrunner_tests::unique_name(&format!(
        "h3-ngtcp2-{}",
        std::process::id()
    )));
    std::fs::create_dir_all(&dir).expect("download dir");
    let base = format!("https://127.0.0.1:{}", s.port());
    let out = Command::new("gtlsclient")
        .args(["-q", "--exit-on-all-streams-close", "--download"])
        .arg(&dir)
        .args(["127.0.0.1", &s.port().to_string()])
        .args([format!("{base}/"), format!("{base}/big")])
        .output()
        .expect("gtlsclient (Debian package ngtcp2-client) runs");
    assert!(
        out.status.success(),
        "gtlsclient failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let index = std::fs::read(dir.join("index.html")).expect("GET / saved");
    let big = std::fs::read(dir.join("big")).expect("GET /big saved");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(index, b"ok");
    assert_eq!(big.len(), 20 * 16 * 1024);
    assert!(big.iter().all(|&b| b == b'x'));
    assert_eq!(s.info().requests_served, 2);
});

both!(
    keep_alive_timeout_closes_an_idle_connection_that_quic_keeps_alive,
    |adapter| {
        // The client sends QUIC PINGs every 100 ms, so QUIC's own idle timeout never
        // fires: only the server's keep-alive deadline ends the connection.
        let kit = kinds::tls_kit();
        let mut o = h3_opts(Routes::handler(|_req: Request| async { "ok" }), &kit);
        o.keep_alive_timeout = Duration::from_millis(300);
        let s = Server::start(adapter, o);
        client_rt().block_on(async {
            let mut endpoint = endpoint(&kit);
            let mut tls = (*kit.client).clone();
            tls.alpn_protocols = vec![b"h3".to_vec()];
            let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls).expect("TLS 1.3");
            let mut transport = quinn::TransportConfig::default();
            transport.keep_alive_interval(Some(Duration::from_millis(100)));
            let mut config = quinn::ClientConfig::new(Arc::new(crypto));
            config.transport_config(Arc::new(transport));
            endpoint.set_default_client_config(config);
            let quic = endpoint
                .connect(s.addr(), "localhost")
                .expect("connect")
                .await
                .expect("handshake");
            let (mut driver, mut send) = h3::client::new(h3_quinn::Connection::new(quic))
                .await
                .expect("h3 client");
            let closed = tokio::spawn(async move { driver.wait_idle().await });
            // The server's idle stretch starts after the request reaches it: no
            // earlier than now.
            let sent_at = std::time::Instant::now();
            let got = fetch(&mut send, get("/"), None).await.expect("served");
            assert_eq!(got.body, b"ok");
            let why = tokio::time::timeout(roadrunner_tests::SAFETY_NET, closed)
                .await
                .expect("closed within the safety net")
                .expect("driver");
            assert!(why.is_h3_no_error(), "closed with H3_NO_ERROR: {why:?}");
            assert!(sent_at.elapsed() >= Duration::from_millis(300));
        });
        s.wait_info("the connection gone", |i| i.active_clients == 0);
    }
);
