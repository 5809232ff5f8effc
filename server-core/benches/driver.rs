//! The whole user-space path of a request — codec, HTTP/1 driver, routing, handler,
//! response — with the kernel taken out: a connection driven through the public
//! runtime traits over an in-memory stream. Run with `cargo bench -p roadrunner-core`.

use std::future::Future;
use std::hint::black_box;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use roadrunner_core::runtime::{Acceptor, ByteStream, Runtime, Timer};
use roadrunner_core::{Listener, Options, Request, Route, Routes};

type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Keeps what is spawned, for the benchmark to poll by hand.
#[derive(Clone, Default)]
struct Manual(Arc<Mutex<Vec<Task>>>);

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

/// A client that sends `batch` requests per read, every other read being `Pending`,
/// so each poll of the connection answers one batch.
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

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

/// A listener with the demo's `GET /` and its connection, ready to be polled.
fn connection(name: &str, pipelined: usize) -> (Listener, Task) {
    let rt = Manual::default();
    let routes = Routes::list([Route::get("/", |_req: Request| async { "Hello, world!" })]);
    let mut opts = Options::new(0, routes);
    opts.num_acceptors = 1;
    opts.max_keep_alive_requests = u32::MAX;
    let batch = REQUEST.repeat(pipelined);
    let listener = Listener::start(name, opts, rt.clone(), |_| {
        Ok(OneClient(AtomicBool::new(false), batch))
    })
    .expect("starts");
    let mut cx = Context::from_waker(Waker::noop());
    let mut acceptor = rt.0.lock().expect("not poisoned").remove(0);
    assert!(acceptor.as_mut().poll(&mut cx).is_pending());
    let conn = rt.0.lock().expect("not poisoned").remove(0);
    // The acceptor task is dropped: the listener's port is not real anyway.
    (listener, conn)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("driver");
    for (name, pipelined) in [("keep-alive", 1), ("pipelined-16", 16)] {
        let (_listener, mut conn) = connection(name, pipelined);
        let mut cx = Context::from_waker(Waker::noop());
        group.throughput(Throughput::Elements(pipelined as u64));
        group.bench_function(name, |b| {
            // Each poll reads one batch, answers it, and stops at the next read.
            b.iter(|| conn.as_mut().poll(&mut cx).is_pending())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
