//! `Listener::drain_on_signal` on both adapters, with a real SIGINT raised in this
//! process. A test binary of its own: the handlers and the first signal are
//! process-wide, so one signal drains every listener waiting on it.
#![cfg(unix)]

use std::time::Duration;

use roadrunner_core::{DrainOutcome, Request, Routes, Signal, Status};
use roadrunner_tests::{connect_refused, get_req, opts, wait_until, Adapter, Raw, Server};

const BOUND: Duration = Duration::from_secs(20);

#[test]
fn one_sigint_drains_listeners_on_either_adapter() {
    // The handlers answer only once released, so the requests are in flight for as
    // long as the test needs, however slow the machine.
    let (release, released) = smol::channel::bounded::<()>(1);
    let mut servers: Vec<(Server, Raw)> = [Adapter::Tokio, Adapter::Smol]
        .into_iter()
        .map(|adapter| {
            let released = released.clone();
            let routes = Routes::handler(move |_req: Request| {
                let released = released.clone();
                async move {
                    let _ = released.recv().await;
                    "done"
                }
            });
            let server = Server::start(adapter, opts(routes));
            let mut raw = Raw::connect(server.port());
            raw.send(get_req("/"));
            server.wait_info("request in flight", |i| i.requests_served == 1);
            (server, raw)
        })
        .collect();

    let drains: Vec<_> = servers
        .iter_mut()
        .map(|(server, _)| {
            let handle = server.handle();
            let drain = server
                .take_listener()
                .drain_on_signal(BOUND)
                .expect("installing the handlers");
            (handle, std::thread::spawn(move || smol::block_on(drain)))
        })
        .collect();
    for (handle, _) in &drains {
        assert_eq!(
            handle.status(),
            Status::Accepting,
            "drained before a signal"
        );
    }

    // SAFETY: raise(3) only sends a signal to this process, whose handler is installed.
    assert_eq!(unsafe { libc::raise(libc::SIGINT) }, 0, "raise(SIGINT)");
    for (handle, _) in &drains {
        assert!(
            wait_until(BOUND, || handle.status() == Status::Draining),
            "{handle:?} is not draining after SIGINT"
        );
        assert!(
            wait_until(BOUND, || connect_refused(handle.port())),
            "{handle:?} still accepts while draining"
        );
    }
    drop(release);

    for ((_server, mut raw), (handle, drain)) in servers.into_iter().zip(drains) {
        let resp = raw.response();
        assert_eq!((resp.status, resp.text()), (200, "done"), "{handle:?}");
        assert!(
            resp.has_token("connection", "close"),
            "{handle:?}: {resp:?}"
        );
        let (signal, outcome) = drain.join().expect("drain thread");
        assert_eq!(signal, Signal::Interrupt, "{handle:?}");
        assert_eq!(outcome, DrainOutcome::Drained, "{handle:?}");
    }
}
