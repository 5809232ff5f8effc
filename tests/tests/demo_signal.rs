//! The `roadrunner-demo` binary on SIGTERM and SIGINT, on both runtimes: a request in
//! flight when the signal comes gets its whole answer, new connections are refused,
//! and the process exits with status 0 once drained.
//!
//! Every wait ends on an event (a line on the demo's stderr, the response, the demo's
//! stderr closing as it exits); the bounds are safety nets for a loaded machine.
#![cfg(unix)]

use std::time::Duration;

use roadrunner_tests::{both, connect_refused, get_req, start_demo, wait_until, Adapter, Raw};

const BOUND: Duration = Duration::from_secs(20);

/// Longer than a signal takes to arrive, so the drain has something to wait for.
const SLEEP_MS: u32 = 1500;

fn drains_on(adapter: Adapter, signal: libc::c_int, name: &str) {
    let mut demo = start_demo(adapter, "http", &[]);
    let mut in_flight = Raw::connect(demo.port);
    in_flight.send(get_req(&format!("/sleep?ms={SLEEP_MS}")));
    demo.wait_stderr(&format!("/sleep?ms={SLEEP_MS} started"), BOUND);

    let pid = libc::pid_t::try_from(demo.pid()).expect("pid fits pid_t");
    // SAFETY: kill(2) only sends a signal; the demo is our child and not yet reaped,
    // so the pid is still its own.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill({pid}, {name})");
    let line = demo.wait_stderr(": draining", BOUND);
    assert!(line.contains(name), "the demo names the signal: {line:?}");

    // Drain closes the listen socket while the request is still running.
    assert!(
        wait_until(BOUND, || connect_refused(demo.port)),
        "a new connection to {} is not refused after {name}",
        demo.port
    );

    let resp = in_flight.response();
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.text(), format!("slept {SLEEP_MS} ms"));
    assert!(
        resp.has_token("connection", "close"),
        "a response finished during a drain closes its connection: {resp:?}"
    );
    in_flight.expect_close();

    let line = demo.wait_stderr("roadrunner-demo: drain", BOUND);
    assert!(line.contains("drained"), "the drain timed out: {line:?}");
    let status = demo.wait_exit(BOUND);
    assert_eq!(status.code(), Some(0), "exit status after {name}: {status}");
}

both!(sigterm_drains_then_exits_0, |adapter| {
    drains_on(adapter, libc::SIGTERM, "SIGTERM");
});

both!(sigint_drains_then_exits_0, |adapter| {
    drains_on(adapter, libc::SIGINT, "SIGINT");
});
