//! HTTPS: a self-signed certificate made with `tls_config::self_signed`, served
//! through `opts.tls`; curl (ALPN `http/1.1`), the hyper client over tokio-rustls, and
//! a rustls client (keep-alive, a chunked upload); a handshake that never completes is
//! cut off by `request_timeout`, and bytes that are not TLS close the connection
//! without disturbing the listener.

mod kinds;

use std::time::{Duration, Instant};

use kinds::{chunked, TempFile, TlsKit};
use roadrunner_core::{Options, Request, Route, Routes};
use roadrunner_tests::{
    both, curl, echo, get_req, opts, peer_port, Adapter, Raw, Server, SAFETY_NET,
};

fn routes() -> Routes {
    Routes::list([
        Route::get("/", |_req: Request| async { "hello over tls" }),
        Route::get("/peer", peer_port),
        Route::post("/echo", echo),
    ])
}

fn start(adapter: Adapter, kit: &TlsKit, f: impl FnOnce(&mut Options)) -> Server {
    let mut o = opts(routes());
    o.tls = Some(kit.server.clone());
    f(&mut o);
    Server::start(adapter, o)
}

both!(curl_gets_http11_over_tls_with_alpn, |adapter| {
    let kit = kinds::tls_kit();
    let s = start(adapter, &kit, |_| {});
    let pem = TempFile::with("cert.pem", kit.cert_pem.as_bytes());
    let port = s.port();
    let resolve = format!("localhost:{port}:127.0.0.1");
    let cacert = pem.path().to_str().expect("utf-8 temp path").to_owned();
    let url = format!("https://localhost:{port}/");
    let out = curl(
        &[
            "-v",
            "--cacert",
            &cacert,
            "--resolve",
            &resolve,
            "-w",
            "\n%{http_version} %{http_code}",
            &url,
        ],
        None,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stdout, "hello over tls\n1.1 200", "stderr: {stderr}");
    assert!(
        stderr.contains("ALPN: server accepted http/1.1"),
        "curl -v did not report ALPN http/1.1:\n{stderr}"
    );
    // A body both ways.
    let url = format!("https://localhost:{port}/echo");
    let out = curl(
        &[
            "--cacert",
            &cacert,
            "--resolve",
            &resolve,
            "-H",
            "content-type: text/plain",
            "--data-binary",
            "@-",
            &url,
        ],
        Some(b"posted over tls"),
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "posted over tls");
});

both!(rustls_client_keep_alive_and_chunked_upload, |adapter| {
    let kit = kinds::tls_kit();
    let s = start(adapter, &kit, |_| {});
    let mut w = kit.connect(s.port());
    w.send(get_req("/"));
    let r = w.response();
    assert_eq!((r.status, r.text()), (200, "hello over tls"));
    assert_eq!(w.io.conn.alpn_protocol(), Some(&b"http/1.1"[..]));
    w.send(get_req("/peer"));
    let peer = w.response().text().to_owned();
    assert_eq!(
        peer,
        w.io.sock.local_addr().expect("addr").port().to_string()
    );
    for i in 0..3 {
        w.send(get_req("/peer"));
        let r = w.response();
        assert_eq!(r.text(), peer, "request {i} not on the same connection");
        assert!(!r.has_token("connection", "close"));
    }
    let big = vec![b'z'; 100_000];
    let mut req = b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    req.extend_from_slice(&chunked(&[b"chunked ", b"over ", b"tls ", &big], ""));
    w.send(req);
    let r = w.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), 17 + big.len());
    assert!(r.body.starts_with(b"chunked over tls ") && r.body[17..] == big[..]);
    assert_eq!(s.info().active_clients, 1);
});

const REQUEST_TIMEOUT: Duration = Duration::from_millis(300);

/// Connects, sends `first`, and measures how long until the server closes; what it
/// sent may only be TLS records (an alert), never a plaintext HTTP answer.
fn closed_after(port: u16, first: &[u8]) -> Duration {
    let t0 = Instant::now();
    let mut raw = Raw::connect(port);
    if !first.is_empty() {
        raw.send(first);
    }
    let (rest, how) = raw.read_until_close();
    let took = t0.elapsed();
    assert!(
        rest.is_empty() || rest[0] == 0x15,
        "expected nothing or a TLS alert, got {:?} ({how:?})",
        String::from_utf8_lossy(&rest)
    );
    took
}

both!(stalled_handshake_is_cut_by_request_timeout, |adapter| {
    let kit = kinds::tls_kit();
    let s = start(adapter, &kit, |o| {
        o.request_timeout = REQUEST_TIMEOUT;
        o.min_bytes_per_second = 0;
    });
    let hello = kinds::client_hello(&kit);
    assert!(
        hello.len() > 20 && hello[0] == 0x16,
        "not a handshake record"
    );
    let half = hello[..hello.len() / 2].to_vec();
    let port = s.port();
    // Silent, and half a ClientHello, side by side.
    let silent = std::thread::spawn(move || closed_after(port, b""));
    let partial = closed_after(port, &half);
    let silent = silent.join().expect("silent client");
    for (what, took) in [("silent", silent), ("half ClientHello", partial)] {
        assert!(
            took >= REQUEST_TIMEOUT,
            "{what}: closed after {took:?}, before request_timeout {REQUEST_TIMEOUT:?}"
        );
        // A safety net: the handshake is read under the same deadline as a plain
        // request head, whose exact timing `sim_timeouts.rs` checks.
        assert!(
            took < REQUEST_TIMEOUT + SAFETY_NET,
            "{what}: closed only after {took:?} (request_timeout {REQUEST_TIMEOUT:?})"
        );
    }
    s.wait_info("slots released", |i| i.active_clients == 0);
    // The listener still serves TLS.
    let mut w = kit.connect(port);
    w.send(get_req("/"));
    assert_eq!(w.response().status, 200);
});

both!(garbage_instead_of_client_hello_is_closed, |adapter| {
    let kit = kinds::tls_kit();
    // A long request_timeout: closing must come from the bad bytes, not the timer.
    let s = start(adapter, &kit, |o| {
        o.request_timeout = Duration::from_secs(20)
    });
    let port = s.port();
    let inputs: [&[u8]; 3] = [
        b"GET / HTTP/1.1\r\nHost: t\r\n\r\n",
        &[
            0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02, 0x03, 0xff, 0xfe, 0x0d, 0x0a,
        ],
        // A handshake record header announcing an absurd length, then junk.
        &[
            0x16, 0x03, 0x01, 0xff, 0xff, 0x01, 0x00, 0x00, 0x05, 1, 2, 3, 4, 5,
        ],
    ];
    for input in inputs {
        let took = closed_after(port, input);
        assert!(
            took < SAFETY_NET,
            "{input:?}: closed only after {took:?} (request_timeout is 20 s)"
        );
    }
    s.wait_info("slots released", |i| i.active_clients == 0);
    let mut w = kit.connect(port);
    w.send(get_req("/"));
    let r = w.response();
    assert_eq!((r.status, r.text()), (200, "hello over tls"));
});

both!(hyper_client_over_rustls_keeps_alive_and_echoes, |adapter| {
    use http_body_util::{BodyExt, Full};
    use hyper_util::rt::TokioIo;

    let kit = kinds::tls_kit();
    let s = start(adapter, &kit, |_| {});
    let port = s.port();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let name =
            roadrunner_core::rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let tls = tokio_rustls::TlsConnector::from(kit.client.clone())
            .connect(name, tcp)
            .await
            .expect("TLS handshake");
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .expect("HTTP handshake");
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut peers = Vec::new();
        for _ in 0..3 {
            let req = http::Request::get("/peer")
                .header("host", "localhost")
                .body(Full::new(bytes::Bytes::new()))
                .expect("request");
            let resp = sender.send_request(req).await.expect("response");
            assert_eq!(resp.status(), 200);
            let body = resp.into_body().collect().await.expect("body").to_bytes();
            peers.push(String::from_utf8_lossy(&body).into_owned());
        }
        assert!(
            peers.windows(2).all(|w| w[0] == w[1]),
            "one connection: {peers:?}"
        );
        let payload = vec![b'z'; 200_000];
        let req = http::Request::post("/echo")
            .header("host", "localhost")
            .body(Full::new(bytes::Bytes::from(payload.clone())))
            .expect("request");
        let resp = sender.send_request(req).await.expect("response");
        assert_eq!(resp.status(), 200);
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        assert!(body == payload, "echo of {} bytes differs", payload.len());
    });
});
