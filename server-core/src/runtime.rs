//! The only doors from the core to an async runtime. An adapter implements these four
//! traits (a few dozen lines each) and everything else is shared.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

/// Spawning and timers. The timer is part of this trait so that a runtime without one is
/// a compile error rather than a silently disabled timeout.
pub trait Runtime: Clone + Send + Sync + 'static {
    /// A resettable one-shot timer.
    type Timer: Timer;

    /// Runs `fut` to completion in the background.
    fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static;

    /// A timer that fires at `deadline`.
    fn timer(&self, deadline: Instant) -> Self::Timer;
}

/// A timer created by [`Runtime::timer`]; completes once its deadline has passed.
pub trait Timer: Future<Output = ()> + Send + Unpin + 'static {
    /// Moves the deadline; a fired timer can be re-armed this way.
    fn reset(&mut self, deadline: Instant);
}

/// A connected, bidirectional byte stream (TCP socket).
pub trait ByteStream: Send + Unpin + 'static {
    /// Reads into `buf`; `Ok(0)` means the peer closed its side.
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;

    /// Writes some of `buf`.
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;

    /// Flushes and closes the write side.
    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
}

/// A bound, listening socket shared by the acceptor pool.
pub trait Acceptor: Send + Sync + 'static {
    /// The stream type of accepted connections.
    type Stream: ByteStream;

    /// Accepts one connection. Every acceptor task awaits this concurrently on the same
    /// socket, so each call must wait on its own (not share one waker slot).
    fn accept(&self) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send + '_;

    /// The address actually bound (port 0 resolved).
    fn local_addr(&self) -> io::Result<SocketAddr>;
}

/// Reads once from `io`.
pub(crate) fn read<'a, S: ByteStream>(
    io: &'a mut S,
    buf: &'a mut [u8],
) -> impl Future<Output = io::Result<usize>> + 'a {
    std::future::poll_fn(move |cx| io.poll_read(cx, buf))
}

/// Closes the write side of `io`.
pub(crate) fn shutdown<S: ByteStream>(io: &mut S) -> impl Future<Output = io::Result<()>> + '_ {
    std::future::poll_fn(move |cx| io.poll_shutdown(cx))
}

/// Resolves with `fut`'s output, or `None` if `timer` fires first.
pub(crate) async fn before<T, F, Tm>(timer: &mut Tm, fut: F) -> Option<T>
where
    F: Future<Output = T>,
    Tm: Timer,
{
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        if Pin::new(&mut *timer).poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}
