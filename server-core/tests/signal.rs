//! `shutdown_signal` against a real SIGTERM raised in this process. Its own test binary:
//! the handlers and the first signal are process-wide, and until the handlers are
//! installed a SIGTERM would end every test sharing the process.
#![cfg(unix)]

use std::sync::mpsc;
use std::time::Duration;

use futures_lite::future::{block_on, poll_once};
use roadrunner_core::{shutdown_signal, Signal};

/// Only a safety net against a hang; the waits below end on the signal itself.
const BOUND: Duration = Duration::from_secs(20);

#[test]
fn sigterm_resolves_every_waiter_and_does_not_end_the_process() {
    let early = shutdown_signal().expect("installing the handlers");
    let (done, waited) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let _ = done.send(block_on(early));
    });

    // SAFETY: raise(3) only sends a signal to this process, whose handler is installed.
    assert_eq!(unsafe { libc::raise(libc::SIGTERM) }, 0, "raise(SIGTERM)");

    let got = waited
        .recv_timeout(BOUND)
        .expect("the waiter made before the signal saw it");
    assert_eq!(got, Signal::Terminate);
    assert_eq!(got.name(), "SIGTERM");
    assert_eq!(got.number(), libc::SIGTERM);
    waiter.join().expect("waiter thread");

    // The first signal is kept: a waiter that starts after it resolves at once.
    let late = shutdown_signal().expect("installed already");
    assert_eq!(block_on(poll_once(late)), Some(Signal::Terminate));
}
