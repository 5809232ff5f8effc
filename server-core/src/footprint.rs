//! The memory an idle connection holds is mostly its task's future; this test keeps
//! that future small (it is allocated once per connection, for its whole life).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use crate::runtime::{Acceptor, ByteStream, Runtime, Timer};
use crate::{Listener, Options, Routes};

type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Records what is spawned instead of running it.
#[derive(Clone, Default)]
pub(crate) struct Recorder(Arc<Mutex<Vec<(usize, Task)>>>);

impl Runtime for Recorder {
    type Timer = NeverTimer;

    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, fut: F) {
        let size = std::mem::size_of_val(&fut);
        if let Ok(mut tasks) = self.0.lock() {
            tasks.push((size, Box::pin(fut)));
        }
    }

    fn timer(&self, _deadline: Instant) -> NeverTimer {
        NeverTimer
    }
}

pub(crate) struct NeverTimer;

impl Future for NeverTimer {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

impl Timer for NeverTimer {
    fn reset(&mut self, _deadline: Instant) {}
}

pub(crate) struct Idle;

impl ByteStream for Idle {
    fn poll_read(&mut self, _cx: &mut Context<'_>, _buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Poll::Pending
    }
    fn poll_write(&mut self, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_shutdown(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Hands out one connection, then nothing.
pub(crate) struct OneConnection(pub(crate) AtomicBool);

impl Acceptor for OneConnection {
    type Stream = Idle;

    async fn accept(&self) -> io::Result<(Idle, SocketAddr)> {
        if self.0.swap(true, Ordering::AcqRel) {
            std::future::pending::<()>().await;
        }
        Ok((Idle, SocketAddr::from(([127, 0, 0, 1], 1))))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::from(([127, 0, 0, 1], 0)))
    }
}

#[test]
fn a_connection_task_is_small() {
    let rt = Recorder::default();
    let mut opts = Options::new(0, Routes::handler(|_req| async { "ok" }));
    opts.num_acceptors = 1;
    let listener = Listener::start("footprint", opts, rt.clone(), |_| {
        Ok(OneConnection(AtomicBool::new(false)))
    })
    .expect("starts");
    let mut cx = Context::from_waker(Waker::noop());
    let (_, mut acceptor) = rt.0.lock().expect("not poisoned").remove(0);
    assert!(acceptor.as_mut().poll(&mut cx).is_pending());
    let tasks = rt.0.lock().expect("not poisoned");
    let (conn_size, _) = tasks.first().expect("the connection was spawned");
    // Rare paths (streamed and file bodies, manual body reading, TLS) are boxed so
    // that they do not widen every connection; the budget keeps it that way.
    assert!(
        *conn_size <= 2304,
        "a connection's future grew to {conn_size} bytes; box the new rare path"
    );
    drop(tasks);
    drop(listener);
}

mod allocations {
    //! Heap allocations per request on a kept-alive connection, counted by a
    //! test-only global allocator while one connection answers scripted requests.

    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    use super::*;

    /// Counts allocations made on the current thread while `COUNTING` is set.
    struct Counting;

    thread_local! {
        static COUNTING: Cell<bool> = const { Cell::new(false) };
        static COUNT: Cell<usize> = const { Cell::new(0) };
    }

    // SAFETY: every call is forwarded unchanged to the system allocator; the counter
    // is a thread-local `Cell`, which does not allocate.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            if COUNTING.with(Cell::get) {
                COUNT.with(|c| c.set(c.get() + 1));
            }
            // SAFETY: the caller upholds `alloc`'s contract, passed on as is.
            unsafe { System.alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: `ptr` came from `System.alloc` with this `layout`.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[global_allocator]
    static ALLOCATOR: Counting = Counting;

    /// A client that sends one request per read and never blocks the server: every
    /// other read is `Pending`, so each poll of the connection answers one request.
    struct OneRequestPerPoll {
        ready: bool,
        responses: usize,
    }

    const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

    impl ByteStream for OneRequestPerPoll {
        fn poll_read(&mut self, _cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
            self.ready = !self.ready;
            if !self.ready {
                return Poll::Pending;
            }
            buf[..REQUEST.len()].copy_from_slice(REQUEST);
            Poll::Ready(Ok(REQUEST.len()))
        }
        fn poll_write(&mut self, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            self.responses += buf.windows(9).filter(|w| w == b"HTTP/1.1 ").count();
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_shutdown(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    struct Scripted(AtomicBool);

    impl Acceptor for Scripted {
        type Stream = OneRequestPerPoll;

        async fn accept(&self) -> io::Result<(OneRequestPerPoll, SocketAddr)> {
            if self.0.swap(true, Ordering::AcqRel) {
                std::future::pending::<()>().await;
            }
            let stream = OneRequestPerPoll {
                ready: false,
                responses: 0,
            };
            Ok((stream, SocketAddr::from(([127, 0, 0, 1], 1))))
        }

        fn local_addr(&self) -> io::Result<SocketAddr> {
            Ok(SocketAddr::from(([127, 0, 0, 1], 0)))
        }
    }

    #[test]
    fn allocations_per_kept_alive_request() {
        let rt = Recorder::default();
        let routes =
            crate::Routes::list([crate::Route::get("/", |_req| async { "Hello, world!" })]);
        let mut opts = Options::new(0, routes);
        opts.num_acceptors = 1;
        let listener = Listener::start("allocations", opts, rt.clone(), |_| {
            Ok(Scripted(AtomicBool::new(false)))
        })
        .expect("starts");
        let mut cx = Context::from_waker(Waker::noop());
        let (_, mut acceptor) = rt.0.lock().expect("not poisoned").remove(0);
        assert!(acceptor.as_mut().poll(&mut cx).is_pending());
        let (_, mut conn) = rt.0.lock().expect("not poisoned").remove(0);
        // Warm up: buffers grow to their working size, the date cache fills.
        for _ in 0..50 {
            assert!(conn.as_mut().poll(&mut cx).is_pending());
        }
        const REQUESTS: usize = 200;
        COUNT.with(|c| c.set(0));
        COUNTING.with(|c| c.set(true));
        for _ in 0..REQUESTS {
            let _ = conn.as_mut().poll(&mut cx);
        }
        COUNTING.with(|c| c.set(false));
        let per_request = COUNT.with(Cell::get) as f64 / REQUESTS as f64;
        assert_eq!(listener.info().requests_served, 50 + REQUESTS as u64);
        // The response's header map (2: entries and indices; the request's reuses
        // the last response's), the boxed handler future, and the request context in
        // the extensions (map, table, value).
        assert!(
            per_request <= 6.0,
            "{per_request} allocations per kept-alive request (budget 6)"
        );
        drop(conn);
        drop(listener);
    }
}
