//! Connection churn and the limits around it: `active_clients` stays exact through
//! thousands of short connections (aborted ones and panicking handlers included),
//! `max_clients` rejections, the write deadline (`send_timeout`) on a peer that stops
//! reading, and dropping a server with requests in flight.

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use bytes::Bytes;
use roadrunner_core::{Options, Request, RequestExt, Route, Routes};
use roadrunner_tests::{
    both, connect_refused, get_req, opts, parse_response, wait_until, Adapter, Parsed, Raw, Server,
    SAFETY_NET,
};

/// How long `/slow` takes.
const SLOW: Duration = Duration::from_millis(300);
/// The size of `/big`: more than loopback socket buffers hold (a few MB) when the
/// client does not read.
const BIG: usize = 16 << 20;

fn routes(started: &Arc<AtomicUsize>) -> Routes {
    let started = started.clone();
    let big = Bytes::from(vec![b'x'; BIG]);
    Routes::list([
        Route::get("/", |_req: Request| async { "ok" }),
        Route::get("/panic", |_req: Request| async {
            if true {
                panic!("handler panic (expected by the test)");
            }
            "unreachable"
        }),
        Route::get("/slow", move |req: Request| {
            started.fetch_add(1, Ordering::SeqCst);
            async move {
                req.sleep(SLOW).await;
                "slow done"
            }
        }),
        Route::get("/big", move |_req: Request| {
            let big = big.clone();
            async move { (http::StatusCode::OK, big) }
        }),
    ])
}

fn start(adapter: Adapter, f: impl FnOnce(&mut Options)) -> (Server, Arc<AtomicUsize>) {
    let started = Arc::new(AtomicUsize::new(0));
    let mut o = opts(routes(&started));
    f(&mut o);
    (Server::start(adapter, o), started)
}

both!(active_clients_stays_exact_under_churn, |adapter| {
    const THREADS: usize = 8;
    const CYCLES: usize = 250;
    let (s, _) = start(adapter, |_| {});
    let port = s.port();
    let t0 = Instant::now();
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                let mut complete = 0u64;
                for i in 0..CYCLES {
                    let mut raw = Raw::connect(port);
                    match i % 10 {
                        // Connected, then closed without a byte.
                        0 => {}
                        // Half a request head, then closed.
                        1 => raw.send("GET / HTTP/1.1\r\nHo"),
                        // A panicking handler: 500, and the server closes.
                        2 => {
                            raw.send(get_req("/panic"));
                            let r = raw.response();
                            assert_eq!(r.status, 500, "thread {t}, cycle {i}");
                            complete += 1;
                        }
                        _ => {
                            raw.send(get_req("/"));
                            let r = raw.response();
                            assert_eq!(r.status, 200, "thread {t}, cycle {i}");
                            assert_eq!(r.text(), "ok");
                            complete += 1;
                        }
                    }
                }
                complete
            })
        })
        .collect();
    let complete: u64 = threads
        .into_iter()
        .map(|t| t.join().expect("churn thread"))
        .sum();
    assert_eq!(complete, (THREADS * CYCLES * 8 / 10) as u64);
    let info = s.wait_info("active_clients back to 0 after churn", |i| {
        i.active_clients == 0
    });
    assert_eq!(
        info.requests_served, complete,
        "requests_served after {complete} complete requests"
    );
    assert_eq!(info.rejected, 0);
    eprintln!("churn on {adapter:?}: {:?}", t0.elapsed());
});

both!(max_clients_rejects_then_admits_again, |adapter| {
    const MAX: usize = 4;
    const EXTRA: usize = 10;
    let (s, _) = start(adapter, |o| o.max_clients = MAX);
    let port = s.port();
    let mut admitted: Vec<Raw> = (0..MAX).map(|_| Raw::connect(port)).collect();
    s.wait_info("the first connections admitted", |i| {
        i.active_clients == MAX
    });
    for k in 0..EXTRA {
        let mut raw = Raw::connect(port);
        // The request may or may not reach the server before it closes: either way
        // no response byte may come back.
        let _ = raw.try_send(get_req("/"));
        let (rest, _how) = raw.read_until_close();
        assert!(
            rest.is_empty(),
            "connection {k} over max_clients got {:?}",
            String::from_utf8_lossy(&rest)
        );
    }
    let info = s.wait_info("rejected = 10", |i| i.rejected == EXTRA as u64);
    assert_eq!(info.active_clients, MAX);
    assert_eq!(info.requests_served, 0, "a rejected connection was served");
    for (k, raw) in admitted.iter_mut().enumerate() {
        raw.send(get_req("/"));
        assert_eq!(raw.response().status, 200, "admitted connection {k}");
    }
    drop(admitted);
    s.wait_info("slots given back", |i| i.active_clients == 0);
    let mut again: Vec<Raw> = (0..MAX).map(|_| Raw::connect(port)).collect();
    for (k, raw) in again.iter_mut().enumerate() {
        raw.send(get_req("/"));
        assert_eq!(raw.response().status, 200, "new connection {k}");
    }
    let info = s.info();
    assert_eq!(
        info.rejected, EXTRA as u64,
        "rejected after the slots came back"
    );
    assert_eq!(info.requests_served, (2 * MAX) as u64);
});

both!(send_timeout_cuts_off_a_peer_that_does_not_read, |adapter| {
    let send_timeout = Duration::from_millis(300);
    let (s, _) = start(adapter, |o| o.send_timeout = send_timeout);
    let mut raw = Raw::connect(s.port());
    s.wait_info("the connection admitted", |i| i.active_clients == 1);
    let t0 = Instant::now();
    raw.send(get_req("/big"));
    // The client holds its socket and reads nothing.
    // Exact timing is checked on the sim (`sim_timeouts.rs`); here, that it happens.
    let limit = send_timeout + SAFETY_NET;
    let cut = wait_until(limit + Duration::from_secs(2), || {
        s.info().active_clients == 0
    });
    let took = t0.elapsed();
    assert!(
        cut,
        "the connection was not cut within {:?} (send_timeout {send_timeout:?}); info: {:?}",
        took,
        s.info()
    );
    assert!(
        took >= send_timeout,
        "cut after {took:?}, before send_timeout {send_timeout:?}"
    );
    assert!(
        took <= limit,
        "cut only after {took:?} (send_timeout {send_timeout:?})"
    );
    assert_eq!(s.info().requests_served, 1);
    // What the server had handed to the kernel before giving up is less than the
    // response: it was cut, not completed.
    let (bytes, _how) = raw.read_until_close();
    assert!(
        bytes.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&bytes[..bytes.len().min(64)])
    );
    assert!(
        bytes.len() < BIG,
        "the whole {BIG}-byte response arrived ({} bytes): nothing was cut",
        bytes.len()
    );
});

/// Panics seen on the servers' threads (tokio workers, smol executor threads) that
/// no test provoked on purpose.
static SERVER_PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn record_server_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current();
            let name = thread.name().unwrap_or("");
            let msg = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let server_thread =
                name.starts_with("tokio-runtime-worker") || name.starts_with("roadrunner-smol");
            if server_thread && !msg.contains("expected by the test") {
                SERVER_PANICS
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(format!("{name}: {msg} ({:?})", info.location()));
            }
            previous(info);
        }));
    });
}

/// Reads until one complete response or the close, whichever comes first.
/// `None`: closed with nothing sent. Panics on a partial response.
fn response_or_close(raw: &mut Raw) -> Option<roadrunner_tests::RawResp> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    loop {
        if let Parsed::Done(r, _) = parse_response(&buf, false, false) {
            return Some(r);
        }
        match raw.stream.read(&mut tmp) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!(
                "neither a response nor a close ({e}); got {:?}",
                String::from_utf8_lossy(&buf)
            ),
        }
    }
    assert!(
        buf.is_empty(),
        "closed in the middle of a response: {:?}",
        String::from_utf8_lossy(&buf)
    );
    None
}

both!(dropping_the_server_with_requests_in_flight, |adapter| {
    const IN_FLIGHT: usize = 6;
    record_server_panics();
    let (s, started) = start(adapter, |_| {});
    let port = s.port();
    let h = s.handle();
    let mut clients: Vec<Raw> = (0..IN_FLIGHT)
        .map(|_| {
            let mut raw = Raw::connect(port);
            raw.send(get_req("/slow"));
            raw
        })
        .collect();
    assert!(
        wait_until(Duration::from_secs(5), || started.load(Ordering::SeqCst)
            == IN_FLIGHT),
        "handlers did not start"
    );
    let t0 = Instant::now();
    drop(s);
    let took = t0.elapsed();
    // A hang check: dropping does not wait for the handlers.
    assert!(took < SAFETY_NET, "dropping the server took {took:?}");
    // Each in-flight request either completes (smol: connections outlive the
    // listener) or is cut cleanly (tokio: the runtime's tasks are dropped); never a
    // hang or half a response.
    for (k, raw) in clients.iter_mut().enumerate() {
        if let Some(r) = response_or_close(raw) {
            assert_eq!(r.status, 200, "client {k}: {r:?}");
            assert_eq!(r.text(), "slow done", "client {k}");
        }
    }
    drop(clients);
    assert!(
        wait_until(Duration::from_secs(5), || connect_refused(port)),
        "still accepting on {port} after the server was dropped"
    );
    assert!(
        wait_until(Duration::from_secs(5), || h.info().active_clients == 0),
        "active_clients stuck at {} after the server was dropped",
        h.info().active_clients
    );
    let panics = SERVER_PANICS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    assert!(panics.is_empty(), "server threads panicked: {panics:#?}");
});
