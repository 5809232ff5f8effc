//! Protocol upgrades on HTTP/1.1: a `101 Switching Protocols` hands the connection to
//! the handler's session (an `Upgraded` duplex stream with bounded buffers), or closes
//! it; the bytes after a switch are never parsed or buffered as HTTP.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use roadrunner_core::http::{HeaderValue, StatusCode};
use roadrunner_core::upgrade::{switching_protocols, Upgraded};
use roadrunner_core::{DrainOutcome, Request, Response, Route, Routes};
use roadrunner_tests::{both, opts, parse_response, Parsed, Server};

/// Echoes every byte back until the peer closes.
async fn echo(_req: Request) -> Response {
    switching_protocols(
        HeaderValue::from_static("echo"),
        |mut up: Upgraded| async move {
            let mut buf = [0; 8192];
            while let Ok(n @ 1..) = up.read(&mut buf).await {
                if up.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        },
    )
}

/// Echoes like [`echo`], from a thread of its own: the pipes' wake-ups between the
/// connection's task and another one.
async fn elsewhere(_req: Request) -> Response {
    switching_protocols(
        HeaderValue::from_static("elsewhere"),
        |mut up: Upgraded| async move {
            std::thread::spawn(move || {
                smol::future::block_on(async {
                    let mut buf = [0; 8192];
                    while let Ok(n @ 1..) = up.read(&mut buf).await {
                        if up.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                })
            });
            // The connection goes on while the thread holds the stream.
            std::future::pending::<()>().await;
        },
    )
}

/// Never reads: what the peer sends must back up into the peer.
async fn deaf(_req: Request) -> Response {
    switching_protocols(
        HeaderValue::from_static("deaf"),
        |up: Upgraded| async move {
            std::future::pending::<()>().await;
            drop(up);
        },
    )
}

/// Waits for the drain notice, says so, and ends.
async fn polite(_req: Request) -> Response {
    switching_protocols(
        HeaderValue::from_static("polite"),
        |mut up: Upgraded| async move {
            up.write_all(b"hello\n").await.ok();
            let deadline = up.drain_notice().await;
            let line = format!("bye, deadline {}\n", deadline.is_some());
            up.write_all(line.as_bytes()).await.ok();
        },
    )
}

/// A bare 101 with no session.
async fn bare(_req: Request) -> Response {
    let mut resp = Response::default();
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    resp.headers_mut()
        .insert("upgrade", HeaderValue::from_static("bare"));
    resp.headers_mut()
        .insert("connection", HeaderValue::from_static("upgrade"));
    resp
}

fn start(adapter: roadrunner_tests::Adapter) -> Server {
    Server::start(
        adapter,
        opts(Routes::list([
            Route::get("/echo", echo),
            Route::get("/elsewhere", elsewhere),
            Route::get("/deaf", deaf),
            Route::get("/polite", polite),
            Route::get("/bare", bare),
        ])),
    )
}

fn upgrade_req(path: &str, proto: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: upgrade\r\nUpgrade: {proto}\r\n\r\n")
}

/// Connects, sends the upgrade request (and `early` right behind it), and reads the
/// `101` head; returns the stream and the bytes that followed the head.
fn switch(port: u16, path: &str, proto: &str, early: &[u8]) -> (TcpStream, Vec<u8>) {
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut req = upgrade_req(path, proto).into_bytes();
    req.extend_from_slice(early);
    c.write_all(&req).expect("request");
    let mut got = Vec::new();
    let mut buf = [0; 4096];
    loop {
        match parse_response(&got, true, false) {
            Parsed::Done(resp, used) => {
                assert_eq!(resp.status, 101, "{resp:?}");
                assert_eq!(resp.header("upgrade"), Some(proto));
                return (c, got[used..].to_vec());
            }
            Parsed::Partial => {}
        }
        let n = c.read(&mut buf).expect("read the 101");
        assert!(n > 0, "closed before the 101");
        got.extend_from_slice(&buf[..n]);
    }
}

both!(an_upgraded_session_echoes_a_megabyte, |adapter| {
    echoes_a_megabyte(adapter, "/echo", "echo");
});

both!(
    a_session_that_reads_and_writes_from_another_thread_echoes,
    |adapter| {
        echoes_a_megabyte(adapter, "/elsewhere", "elsewhere");
    }
);

fn echoes_a_megabyte(adapter: roadrunner_tests::Adapter, path: &str, proto: &str) {
    let s = start(adapter);
    // Bytes sent right behind the request belong to the new protocol.
    let (mut c, mut back) = switch(s.port(), path, proto, b"early bytes;");
    let data: Vec<u8> = (0..1024 * 1024).map(|i| (i % 253) as u8).collect();
    let mut writer = c.try_clone().expect("clone");
    let sent = data.clone();
    let upload = std::thread::spawn(move || {
        for piece in sent.chunks(4096) {
            writer.write_all(piece).expect("write");
        }
        writer
            .shutdown(std::net::Shutdown::Write)
            .expect("shutdown");
    });
    c.read_to_end(&mut back)
        .expect("echo, then the server's close");
    upload.join().expect("upload");
    let mut want = b"early bytes;".to_vec();
    want.extend_from_slice(&data);
    assert_eq!(back.len(), want.len());
    assert!(back == want, "the echo differs");
}

both!(a_101_without_a_session_closes_after_the_head, |adapter| {
    let s = start(adapter);
    let (mut c, rest) = switch(
        s.port(),
        "/bare",
        "bare",
        b"GET / HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let mut more = Vec::new();
    c.read_to_end(&mut more)
        .expect("the server closes after a bare 101");
    assert!(
        rest.is_empty() && more.is_empty(),
        "bytes after a switch were served as HTTP: {:?}",
        String::from_utf8_lossy(&[rest, more].concat())
    );
});

both!(
    a_session_that_does_not_read_holds_the_peer_back,
    |adapter| {
        // Before upgrades had bounded buffers, the server read everything sent after a
        // 101 into memory: a client could push hundreds of MiB.
        const CAP: usize = 64 * 1024 * 1024;
        let s = start(adapter);
        let (c, _) = switch(s.port(), "/deaf", "deaf", b"");
        c.set_nonblocking(true).expect("nonblocking");
        let chunk = vec![0u8; 256 * 1024];
        let mut sent = 0;
        let mut stalled_since: Option<Instant> = None;
        while sent < CAP {
            match (&c).write(&chunk) {
                Ok(n) => {
                    sent += n;
                    stalled_since = None;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    // Stalled for a while: the server has stopped taking bytes.
                    let since = *stalled_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > Duration::from_millis(500) {
                        break;
                    }
                    std::thread::yield_now();
                }
                Err(e) => panic!("write after {sent} bytes: {e}"),
            }
        }
        assert!(sent < CAP, "the server took {sent} bytes nobody reads");
    }
);

both!(the_drain_notice_reaches_an_upgraded_session, |adapter| {
    let mut s = start(adapter);
    let (mut c, mut got) = switch(s.port(), "/polite", "polite", b"");
    let mut buf = [0; 256];
    while !got.ends_with(b"hello\n") {
        let n = c.read(&mut buf).expect("hello");
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    let drain = s.drain_in_background(Duration::from_secs(30));
    c.read_to_end(&mut got).expect("bye, then the close");
    assert_eq!(got, b"hello\nbye, deadline true\n");
    let (outcome, _) = drain.join().expect("drain");
    assert_eq!(outcome, DrainOutcome::Drained);
});
