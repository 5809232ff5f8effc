//! The only doors from the core to an async runtime. An adapter implements these
//! traits (a few dozen lines each) and everything else is shared; [`poll_io`] is the
//! retry loop for what an adapter does outside its runtime's own I/O types.

use std::fs::File;
use std::future::Future;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use bytes::BytesMut;

mod datagram;
mod readiness;
mod syscall;

pub use datagram::*;
pub use readiness::poll_io;
pub use syscall::{recv_into, sendfile};

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

    /// The runtime's monotonic clock: every deadline the core computes is based on it,
    /// so a runtime with a virtual clock (a simulation, a paused test clock) controls
    /// all of the core's time.
    fn now(&self) -> Instant {
        Instant::now()
    }

    /// The wall clock, for `date` headers.
    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }
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

    /// Reads at most `max` bytes onto the end of `buf`, into the room it has (at least
    /// `max` when the core calls it); `Ok(0)` means the peer closed its side. How an
    /// upgraded connection (WebSocket) reads: the session then takes the bytes without
    /// a copy. The default reads through a per-thread scratch buffer (at most 64 KiB)
    /// and copies; an adapter whose socket can fill uninitialised memory reads straight
    /// in (with its runtime's own read, or [`recv_into`]).
    fn poll_read_into(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
        max: usize,
    ) -> Poll<io::Result<usize>> {
        crate::scratch::poll_read_with(crate::scratch::Layer::Upgraded, self, cx, max, |data| {
            buf.extend_from_slice(data)
        })
    }

    /// Writes some of `buf`.
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;

    /// Writes some of `bufs`, in order, as one write where the stream can (`writev`):
    /// how HTTP/2 sends body data without copying it. The default writes the first
    /// non-empty one.
    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match bufs.iter().find(|b| !b.is_empty()) {
            Some(buf) => self.poll_write(cx, buf),
            None => Poll::Ready(Ok(0)),
        }
    }

    /// Flushes and closes the write side.
    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// A hint before a read: the peer has been answered and has sent nothing more, so
    /// it will most likely send nothing until it has read the answer (HTTP/1.1's
    /// request and response). A stream whose read finds that out only by trying (a
    /// `recv` that says `EAGAIN`) may wait for readiness first. The default ignores it.
    fn peer_turn(&mut self) {}

    /// Sends up to `len` bytes of `file` from `offset` without copying them through
    /// user space, where the stream can (plain TCP on Linux, with [`sendfile`]). The
    /// default says `Unsupported`, and the server then reads and writes instead.
    fn poll_sendfile(
        &mut self,
        cx: &mut Context<'_>,
        file: &File,
        offset: u64,
        len: u64,
    ) -> Poll<io::Result<usize>> {
        let _ = (cx, file, offset, len);
        Poll::Ready(Err(io::ErrorKind::Unsupported.into()))
    }
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
