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
struct Recorder(Arc<Mutex<Vec<(usize, Task)>>>);

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

struct NeverTimer;

impl Future for NeverTimer {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

impl Timer for NeverTimer {
    fn reset(&mut self, _deadline: Instant) {}
}

struct Idle;

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
struct OneConnection(AtomicBool);

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
        *conn_size <= 2560,
        "a connection's future grew to {conn_size} bytes; box the new rare path"
    );
    drop(tasks);
    drop(listener);
}
