//! One connection of the real server (codec, HTTP/1 driver, routing, the
//! demo's `GET /` handler, response) driven through the public runtime traits
//! over an in-memory stream: no kernel, no runtime.
//!
//! Shared by the criterion bench `driver` and the harness's
//! `roadrunner-bench-inproc` (which includes this file by path: a bench target
//! of this crate cannot be linked into another crate's binary).

use std::future::Future;
use std::hint::black_box;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use roadrunner_core::runtime::{Acceptor, ByteStream, Runtime, Timer};
use roadrunner_core::{Listener, Options, Request, Route, Routes};

type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The request wrk sends.
const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

/// Keeps what is spawned, to be polled by hand.
#[derive(Clone, Default)]
struct Manual(Arc<Mutex<Vec<Task>>>);

impl Manual {
    fn take_first(&self) -> Task {
        self.0.lock().expect("not poisoned").remove(0)
    }
}

impl Runtime for Manual {
    type Timer = Never;

    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, fut: F) {
        if let Ok(mut tasks) = self.0.lock() {
            tasks.push(Box::pin(fut));
        }
    }

    fn timer(&self, _deadline: Instant) -> Never {
        Never
    }
}

/// A timer that never fires: the loop must not depend on timeouts.
struct Never;

impl Future for Never {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

impl Timer for Never {
    fn reset(&mut self, _deadline: Instant) {}
}

/// Sends one batch per read, every other read being `Pending`, so each poll of
/// the connection answers exactly one batch.
struct Client {
    batch: Vec<u8>,
    ready: bool,
}

impl ByteStream for Client {
    fn poll_read(&mut self, _cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.ready = !self.ready;
        if !self.ready {
            return Poll::Pending;
        }
        buf[..self.batch.len()].copy_from_slice(&self.batch);
        Poll::Ready(Ok(self.batch.len()))
    }
    fn poll_write(&mut self, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        black_box(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_shutdown(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Hands out one [`Client`], then waits forever.
struct OneClient(AtomicBool, Vec<u8>);

impl Acceptor for OneClient {
    type Stream = Client;

    async fn accept(&self) -> io::Result<(Client, SocketAddr)> {
        if self.0.swap(true, Ordering::AcqRel) {
            std::future::pending::<()>().await;
        }
        let client = Client {
            batch: self.1.clone(),
            ready: false,
        };
        Ok((client, SocketAddr::from(([127, 0, 0, 1], 1))))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::from(([127, 0, 0, 1], 0)))
    }
}

/// A served connection whose client sends `pipelined` requests per read.
pub struct Conn {
    listener: Listener,
    task: Task,
    pub pipelined: u64,
}

impl Conn {
    /// `name` names its listener; no two may share one.
    pub fn new(name: &str, pipelined: usize) -> Self {
        let rt = Manual::default();
        let routes = Routes::list([Route::get("/", |_req: Request| async { "Hello, world!" })]);
        let mut opts = Options::new(0, routes);
        opts.num_acceptors = 1;
        opts.max_keep_alive_requests = u32::MAX;
        let batch = REQUEST.repeat(pipelined);
        let listener = Listener::start(name, opts, rt.clone(), |_| {
            Ok(OneClient(AtomicBool::new(false), batch))
        })
        .expect("an in-memory listener starts");
        let mut acceptor = rt.take_first();
        let mut cx = Context::from_waker(Waker::noop());
        assert!(acceptor.as_mut().poll(&mut cx).is_pending());
        // The acceptor task is dropped: its port is not a real one anyway.
        Conn {
            listener,
            task: rt.take_first(),
            pipelined: pipelined as u64,
        }
    }

    /// Answers `batches` batches, one poll each.
    pub fn run(&mut self, batches: u64) {
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..batches {
            let pending = self.task.as_mut().poll(&mut cx).is_pending();
            black_box(pending);
        }
    }

    /// Requests the server has answered so far.
    pub fn served(&self) -> u64 {
        self.listener.info().requests_served
    }
}
